"""routing.geocode: geopy's real Nominatim client against the local Nominatim server.

What matters to citizens: an address when one is available, and never an error or a long wait when it
is not (slow server, HTTP errors, rate limits, a burst of pins). What matters to Nominatim's operators:
at most one request per second and an identifying User-Agent, which the server's request record shows.
Waits are kept short (min_delay 0.2 s) except in the one test of the real 1 s pace.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from localapi.nominatim import STREETS, NominatimServer
from routing.geocode import (
    KOTA_JAMBI_VIEWBOX,
    Address,
    Geocoder,
    GeocoderSettings,
    normalise_query,
    parse_address,
    short_road,
)

UA = "SiKesal-test/1.0 (tests@sikesal.invalid)"
GATOT = next(s for s in STREETS if s.name == "Jalan Gatot Subroto")
HAYAM = next(s for s in STREETS if s.name == "Jalan Hayam Wuruk")
SUDIRMAN = next(s for s in STREETS if s.name == "Jalan Jenderal Sudirman")

MakeGeocoder = Callable[..., Geocoder]


@pytest.fixture
async def nominatim() -> AsyncIterator[NominatimServer]:
    async with NominatimServer() as server:
        yield server


@pytest.fixture
async def make_geocoder(nominatim: NominatimServer) -> AsyncIterator[MakeGeocoder]:
    """Geocoders on the local server (fast pace, short timeout unless overridden), closed after the test."""
    made: list[Geocoder] = []

    def make(**overrides: object) -> Geocoder:
        options: dict[str, object] = {"user_agent": UA, "min_delay_seconds": 0.2, "timeout": 0.5,
                                      "viewbox": KOTA_JAMBI_VIEWBOX, **overrides}
        geocoder = Geocoder(GeocoderSettings.from_url(nominatim.base_url, **options))
        made.append(geocoder)
        return geocoder

    yield make
    for geocoder in made:
        await geocoder.close()


# -- settings ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("agent", ["", "   ", "geopy/2.5.0", "my-application", "My-Application"])
def test_settings_refuse_unidentifying_user_agents(agent: str) -> None:
    with pytest.raises(ValueError, match="user_agent"):
        GeocoderSettings(user_agent=agent)


def test_settings_from_url() -> None:
    local = GeocoderSettings.from_url("http://127.0.0.1:8088", user_agent=UA)
    assert (local.scheme, local.domain, local.timeout, local.min_delay_seconds) == ("http", "127.0.0.1:8088", 3.0,
                                                                                    1.0)
    assert (local.language, local.country_codes, local.cache_precision) == ("id", "id", 4)
    hosted = GeocoderSettings.from_url("https://geo.example.go.id/nominatim/", user_agent=UA, timeout=2)
    assert (hosted.scheme, hosted.domain, hosted.timeout) == ("https", "geo.example.go.id/nominatim", 2)
    public = GeocoderSettings(user_agent=UA)
    assert (public.scheme, public.domain, public.viewbox) == ("https", "nominatim.openstreetmap.org", None)
    for bad in ("127.0.0.1:8088", "ftp://host", "http://"):
        with pytest.raises(ValueError, match="NOMINATIM_URL"):
            GeocoderSettings.from_url(bad, user_agent=UA)
    for field, value in (("timeout", 0), ("min_delay_seconds", -1), ("cache_precision", 9), ("zoom", 19),
                         ("viewbox", ((-1.7, 203.5), (-1.5, 103.7)))):
        with pytest.raises(ValueError):
            GeocoderSettings.from_url("http://127.0.0.1:8088", user_agent=UA, **{field: value})


# -- parsing -----------------------------------------------------------------------------------------------------


def test_parse_address_shortens_and_cleans_indonesian_names() -> None:
    raw = {"lat": "-1.6", "lon": "103.6", "display_name": "Jalan Kenanga, Kelurahan Sungai Asam, Kota Jambi",
           "address": {"road": "Jalan Kenanga", "suburb": "Kelurahan Sungai Asam", "county": "Kecamatan Pasar Jambi",
                       "city": "Jambi"}}
    address = parse_address(raw)
    assert address is not None
    assert (address.road, address.kelurahan, address.kecamatan, address.city) == (
        "Jalan Kenanga", "Sungai Asam", "Pasar Jambi", "Jambi")
    assert address.display == "Jl. Kenanga, Kel. Sungai Asam, Kec. Pasar Jambi"
    assert address.street == "Jl. Kenanga"
    # a county that is just the city is not a kecamatan; nothing below the city -> the city is the display
    city_only = parse_address({"lat": "-1.6", "lon": "103.6", "display_name": "Jambi, Indonesia",
                               "address": {"county": "Jambi", "city": "Jambi"}})
    assert city_only is not None and city_only.kecamatan is None and city_only.display == "Jambi"
    assert parse_address({"lat": "x", "lon": "103"}) is None
    assert short_road("Jalan Jenderal Sudirman") == "Jl. Jenderal Sudirman" and short_road("Gang Mawar") == "Gang Mawar"
    assert normalise_query("  Jl.   SUDIRMAN ") == "jl. sudirman"


# -- reverse / search through geopy ---------------------------------------------------------------------------------


async def test_reverse_gives_each_streets_kelurahan_and_kecamatan(make_geocoder: MakeGeocoder,
                                                                  nominatim: NominatimServer) -> None:
    geocoder = make_geocoder(min_delay_seconds=0.0)
    for street in STREETS:
        address = await geocoder.reverse(*street.center)
        assert isinstance(address, Address), street.name
        assert (address.road, address.kelurahan, address.kecamatan, address.city) == (
            street.name, street.kelurahan, street.kecamatan, "Jambi")
        assert address.display == f"Jl. {street.name.removeprefix('Jalan ')}, Kel. {street.kelurahan}, " \
                                  f"Kec. {street.kecamatan}"
        assert address.display_name.startswith(street.name + ", ")
    params = nominatim.requests[0].params
    assert params["format"] == "json" and params["accept-language"] == "id"
    assert params["addressdetails"] == "1" and params["zoom"] == "17"


async def test_search_sudirman_returns_at_most_three_candidates_inside_the_viewbox(
        make_geocoder: MakeGeocoder, nominatim: NominatimServer) -> None:
    geocoder = make_geocoder()
    candidates = await geocoder.search("sudirman")
    assert 1 <= len(candidates) <= 3
    assert candidates[0].address.road == "Jalan Jenderal Sudirman"
    assert candidates[0].display == "Jl. Jenderal Sudirman, Kel. Tambak Sari, Kec. Jambi Selatan"
    assert candidates[0].importance is not None
    (south, west), (north, east) = KOTA_JAMBI_VIEWBOX
    assert all(south <= c.lat <= north and west <= c.lon <= east for c in candidates)
    params = nominatim.requests[-1].params
    assert params["bounded"] == "1" and params["countrycodes"] == "id" and params["limit"] == "3"
    assert params["viewbox"] == "103.52,-1.7,103.7,-1.53"
    many = await geocoder.search("jalan")
    assert len(many) == 3


async def test_search_is_bounded_to_a_smaller_viewbox(make_geocoder: MakeGeocoder) -> None:
    south_east = ((-1.70, 103.60), (-1.63, 103.70))
    geocoder = make_geocoder(viewbox=south_east)
    candidates = await geocoder.search("jalan", limit=10)
    assert candidates and len(candidates) < len(STREETS)
    assert all(-1.70 <= c.lat <= -1.63 and 103.60 <= c.lon <= 103.70 for c in candidates)
    assert await geocoder.search("hayam wuruk") == []  # Jelutung lies outside that box
    assert await geocoder.search("   ") == []


async def test_reverse_outside_the_country_codes_is_dropped(make_geocoder: MakeGeocoder) -> None:
    assert await make_geocoder(country_codes="my").reverse(*GATOT.center) is None


# -- failures: None / [] fast, never an exception -------------------------------------------------------------------


async def test_timeout_gives_none_fast(make_geocoder: MakeGeocoder, nominatim: NominatimServer,
                                       caplog: pytest.LogCaptureFixture) -> None:
    nominatim.set_delay(3)
    geocoder = make_geocoder(timeout=0.3)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="routing.geocode"):
        assert await geocoder.reverse(*GATOT.center) is None
        assert await geocoder.search("gatot") == []
    assert time.monotonic() - started < 1.5  # two timeouts of 0.3 s and one 0.2 s pace gap, not 2 x 3 s
    assert "GeocoderTimedOut" in caplog.text


@pytest.mark.parametrize("status", [500, 502, 403, 400])
async def test_http_errors_give_none_and_are_not_cached(make_geocoder: MakeGeocoder, nominatim: NominatimServer,
                                                        status: int) -> None:
    geocoder = make_geocoder()
    nominatim.fail_next(2, status=status)
    assert await geocoder.reverse(*GATOT.center) is None
    assert await geocoder.search("gatot") == []
    address = await geocoder.reverse(*GATOT.center)  # the failure was not cached: asks again
    assert address is not None and address.kecamatan == "Pasar Jambi"
    assert len(nominatim.requests) == 3


async def test_empty_answers(make_geocoder: MakeGeocoder, nominatim: NominatimServer) -> None:
    geocoder = make_geocoder()
    nominatim.empty_next(2)
    assert await geocoder.reverse(*GATOT.center) is None
    assert await geocoder.search("gatot") == []
    assert await geocoder.reverse(-1.0, 103.6) is None  # north of the city: Unable to geocode


async def test_bad_json_gives_none(make_geocoder: MakeGeocoder, nominatim: NominatimServer,
                                   caplog: pytest.LogCaptureFixture) -> None:
    geocoder = make_geocoder()
    nominatim.bad_json_next(2)
    with caplog.at_level(logging.WARNING, logger="routing.geocode"):
        assert await geocoder.reverse(*GATOT.center) is None
        assert await geocoder.search("gatot") == []
    assert "GeocoderParseError" in caplog.text


async def test_rate_limited_by_the_server_gives_none_and_backs_off(make_geocoder: MakeGeocoder,
                                                                   nominatim: NominatimServer) -> None:
    geocoder = make_geocoder(min_delay_seconds=0.0, timeout=0.5)
    nominatim.enforce_rate_limit = True
    nominatim.min_interval = 0.3
    assert await geocoder.reverse(*GATOT.center) is not None
    assert await geocoder.reverse(*HAYAM.center) is None  # 429: Retry-After 1 s pushes the next slot back
    started = time.monotonic()
    assert await geocoder.reverse(*SUDIRMAN.center) is None  # the slot is > timeout away: no request at all
    assert time.monotonic() - started < 0.1
    assert [r.status for r in nominatim.requests] == [200, 429]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_unreachable_server_gives_none() -> None:
    settings = GeocoderSettings.from_url(f"http://127.0.0.1:{_closed_port()}", user_agent=UA, timeout=0.5)
    async with Geocoder(settings) as geocoder:
        assert await geocoder.reverse(*GATOT.center) is None
        assert await geocoder.search("gatot") == []


async def test_invalid_coordinates_and_closed_geocoder_make_no_request(make_geocoder: MakeGeocoder,
                                                                       nominatim: NominatimServer) -> None:
    geocoder = make_geocoder()
    assert await geocoder.reverse(float("nan"), 103.6) is None
    assert await geocoder.reverse(-91.0, 103.6) is None
    await geocoder.close()
    await geocoder.close()  # idempotent
    assert await geocoder.reverse(*GATOT.center) is None
    assert await geocoder.search("gatot") == []
    assert nominatim.requests == []


# -- cache and pace ---------------------------------------------------------------------------------------------


async def test_cache_nearly_the_same_point_and_the_same_text_make_no_request(make_geocoder: MakeGeocoder,
                                                                            nominatim: NominatimServer) -> None:
    geocoder = make_geocoder()
    first = await geocoder.reverse(-1.59601, 103.61202)
    again = await geocoder.reverse(-1.59604, 103.61204)  # ~4 m away: the same 4-decimal cell
    assert first is not None and again == first
    assert len(nominatim.requests) == 1
    assert await geocoder.reverse(-1.0, 103.6) is None
    assert await geocoder.reverse(-1.00001, 103.6) is None  # "nothing here" is an answer, cached too
    assert len(nominatim.requests) == 2
    found = await geocoder.search("Sudirman")
    assert await geocoder.search("  sudirman ") == found
    assert len(nominatim.requests) == 3
    assert geocoder.requests_made == 3


async def test_cache_is_bounded(make_geocoder: MakeGeocoder, nominatim: NominatimServer) -> None:
    geocoder = make_geocoder(cache_size=1, min_delay_seconds=0.0)
    await geocoder.reverse(*GATOT.center)
    await geocoder.reverse(*HAYAM.center)  # evicts Gatot Subroto
    await geocoder.reverse(*GATOT.center)
    assert len(nominatim.requests) == 3


async def test_pace_one_request_per_second_with_our_user_agent(make_geocoder: MakeGeocoder,
                                                               nominatim: NominatimServer) -> None:
    geocoder = make_geocoder(min_delay_seconds=1.0, timeout=3.0)
    for street in (GATOT, HAYAM, SUDIRMAN):
        assert await geocoder.reverse(*street.center) is not None
    times = nominatim.request_times("/reverse")
    assert len(times) == 3
    assert all(later - earlier >= 0.95 for earlier, later in itertools.pairwise(times))
    assert nominatim.user_agents == [UA] * 3


async def test_a_burst_gets_slots_up_to_timeout_and_no_queue_beyond(make_geocoder: MakeGeocoder,
                                                                    nominatim: NominatimServer) -> None:
    geocoder = make_geocoder(min_delay_seconds=0.2, timeout=0.5)
    points = [s.center for s in STREETS[:4]]
    started = time.monotonic()
    results = await asyncio.gather(*(geocoder.reverse(*p) for p in points))
    # slots at 0, 0.2 and 0.4 s fit in the 0.5 s timeout; the fourth (0.6 s) answers None without waiting
    assert [r is not None for r in results] == [True, True, True, False]
    assert time.monotonic() - started < 1.0
    times = nominatim.request_times()
    assert len(times) == 3 and all(b - a >= 0.18 for a, b in itertools.pairwise(times))


async def test_a_reverse_while_the_next_slot_is_far_returns_none_at_once(make_geocoder: MakeGeocoder,
                                                                         nominatim: NominatimServer) -> None:
    geocoder = make_geocoder(min_delay_seconds=5.0, timeout=0.5)
    assert await geocoder.reverse(*GATOT.center) is not None
    started = time.monotonic()
    assert await geocoder.reverse(*HAYAM.center) is None
    assert time.monotonic() - started < 0.1
    assert len(nominatim.requests) == 1
    assert await geocoder.reverse(*GATOT.center) is not None  # cached answers need no slot


def test_routing_geocode_imports_no_bot_libraries() -> None:
    code = ("import sys, routing.geocode; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('aiogram', 'twilio')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[2])
