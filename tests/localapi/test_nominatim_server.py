"""The local Nominatim server: Nominatim's JSON shapes, the sample data, faults and the control API.

The geocoder's tests trust this server to answer like nominatim.openstreetmap.org, so its shapes are
checked here with plain HTTP requests (no geopy), and its sample streets are checked against the
bundled boundary sample so the reverse geocoder and the boundary lookup agree on the kecamatan.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from localapi.nominatim import STREETS, NominatimServer
from localapi.nominatim.data import CITY_BOUNDS
from routing.geo import SAMPLE_GEOJSON, ServiceArea

ROOT = Path(__file__).resolve().parents[2]
UA = {"User-Agent": "SiKesal-test/1.0 (tests)"}
GATOT = next(s for s in STREETS if s.name == "Jalan Gatot Subroto")
SUDIRMAN = next(s for s in STREETS if s.name == "Jalan Jenderal Sudirman")
KOTA_JAMBI_KECAMATAN = {"Alam Barajo", "Danau Sipin", "Danau Teluk", "Jambi Selatan", "Jambi Timur", "Jelutung",
                        "Kota Baru", "Paal Merah", "Pasar Jambi", "Pelayangan", "Telanaipura"}
PLACE_KEYS = {"place_id", "licence", "osm_type", "osm_id", "lat", "lon", "type", "place_rank", "importance",
              "addresstype", "name", "display_name", "boundingbox"}


@pytest.fixture
async def nominatim() -> AsyncIterator[NominatimServer]:
    async with NominatimServer() as server:
        yield server


@pytest.fixture
async def http(nominatim: NominatimServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(base_url=nominatim.base_url, headers=UA) as session:
        yield session


async def get(http: aiohttp.ClientSession, path: str, **params: Any) -> tuple[int, Any]:
    async with http.get(path, params={k: str(v) for k, v in params.items()}) as response:
        return response.status, await response.json()


# -- sample data ------------------------------------------------------------------------------------------------


def test_sample_streets_lie_in_their_kecamatan_of_the_boundary_sample() -> None:
    area = ServiceArea.load(SAMPLE_GEOJSON)
    assert 15 <= len(STREETS) <= 25
    assert len({s.osm_id for s in STREETS}) == len({s.name for s in STREETS}) == len(STREETS)
    assert {s.kecamatan for s in STREETS} == KOTA_JAMBI_KECAMATAN  # every kecamatan has a street
    for street in STREETS:
        for lat, lon in (*street.path, street.center):
            district = area.district_at(lat, lon)
            assert district is not None and district.name == street.kecamatan, (street.name, lat, lon)


def test_every_street_centre_reverses_to_that_street() -> None:
    server = NominatimServer()
    for street in STREETS:
        assert server.nearest_street(*street.center) == street


# -- /reverse ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "jsonv2"])
async def test_reverse_answers_nominatims_shape(http: aiohttp.ClientSession, fmt: str) -> None:
    lat, lon = GATOT.center
    status, body = await get(http, "/reverse", format=fmt, lat=lat + 0.0004, lon=lon, zoom=17, addressdetails=1,
                             **{"accept-language": "id"})
    assert status == 200
    assert PLACE_KEYS <= body.keys()
    assert ("category" if fmt == "jsonv2" else "class") in body
    assert body["licence"].startswith("Data © OpenStreetMap contributors")
    assert (body["osm_type"], body["osm_id"], body["name"]) == ("way", GATOT.osm_id, "Jalan Gatot Subroto")
    assert isinstance(body["lat"], str) and isinstance(body["lon"], str)
    assert (float(body["lat"]), float(body["lon"])) == pytest.approx(GATOT.center)
    assert len(body["boundingbox"]) == 4 and all(isinstance(v, str) for v in body["boundingbox"])
    assert body["address"] == {
        "road": "Jalan Gatot Subroto", "village": "Sungai Asam", "city_district": "Pasar Jambi", "city": "Jambi",
        "state": "Jambi", "ISO3166-2-lvl4": "ID-JA", "postcode": "36113", "country": "Indonesia",
        "country_code": "id",
    }
    assert body["display_name"] == "Jalan Gatot Subroto, Sungai Asam, Pasar Jambi, Jambi, Jambi, 36113, Indonesia"


async def test_reverse_zoom_and_addressdetails(http: aiohttp.ClientSession) -> None:
    lat, lon = GATOT.center
    _, kelurahan = await get(http, "/reverse", format="jsonv2", lat=lat, lon=lon, zoom=14)
    assert (kelurahan["addresstype"], kelurahan["name"], kelurahan["osm_type"]) == ("village", "Sungai Asam",
                                                                                    "relation")
    assert "road" not in kelurahan["address"]
    _, kecamatan = await get(http, "/reverse", format="jsonv2", lat=lat, lon=lon, zoom=12)
    assert (kecamatan["addresstype"], kecamatan["name"]) == ("city_district", "Pasar Jambi")
    _, bare = await get(http, "/reverse", format="jsonv2", lat=lat, lon=lon, addressdetails=0)
    assert "address" not in bare and bare["name"] == "Jalan Gatot Subroto"


@pytest.mark.parametrize("point", [(-1.0, 103.6), (-6.2, 106.8), (-1.699, 103.521)],
                         ids=["outside-north", "jakarta", "city-corner-far-from-streets"])
async def test_reverse_with_nothing_near_is_unable_to_geocode_with_200(http: aiohttp.ClientSession,
                                                                       point: tuple[float, float]) -> None:
    assert await get(http, "/reverse", format="json", lat=point[0], lon=point[1]) == (
        200, {"error": "Unable to geocode"})


async def test_reverse_bad_parameters_are_400_with_nominatims_error(http: aiohttp.ClientSession) -> None:
    status, body = await get(http, "/reverse", format="json", lat=-1.6)
    assert status == 400 and body["error"]["code"] == 400 and "coordinates" in body["error"]["message"]
    status, body = await get(http, "/reverse", format="json", lat="abc", lon=103.6)
    assert status == 400
    status, body = await get(http, "/reverse", format="xml", lat=-1.6, lon=103.6)
    assert status == 400 and "format" in body["error"]["message"]


# -- /search ----------------------------------------------------------------------------------------------------


async def test_search_shape_and_token_match(http: aiohttp.ClientSession) -> None:
    status, body = await get(http, "/search", format="jsonv2", q="Jl. SUDIRMAN", addressdetails=1)
    assert status == 200 and isinstance(body, list) and len(body) == 1
    [place] = body
    assert PLACE_KEYS <= place.keys() and place["category"] == "highway"
    assert place["address"]["village"] == "Tambak Sari" and place["address"]["city_district"] == "Jambi Selatan"
    # search leaves out address details unless asked, as Nominatim does
    _, plain = await get(http, "/search", format="json", q="sudirman")
    assert "address" not in plain[0] and plain[0]["class"] == "highway"
    # every word must match, in the name, the kelurahan or the kecamatan
    _, by_kecamatan = await get(http, "/search", format="json", q="telanaipura", limit=10)
    assert {p["name"] for p in by_kecamatan} == {s.name for s in STREETS if s.kecamatan == "Telanaipura"}
    _, two_words = await get(http, "/search", format="json", q="jend sudirman")
    assert [p["name"] for p in two_words] == ["Jalan Jenderal Sudirman"]
    assert (await get(http, "/search", format="json", q="sudirman medan"))[1] == []


async def test_search_limit_viewbox_bounded_and_countrycodes(http: aiohttp.ClientSession) -> None:
    _, many = await get(http, "/search", format="json", q="jalan", limit=5)
    assert len(many) == 5
    _, capped = await get(http, "/search", format="json", q="jalan", limit=100)
    assert len(capped) == len(STREETS)
    # a box around the south of the city (lon1,lat1,lon2,lat2 as Nominatim takes it)
    box = "103.60,-1.70,103.70,-1.63"
    _, bounded = await get(http, "/search", format="json", q="jalan", limit=40, viewbox=box, bounded=1)
    assert bounded and all(-1.70 <= float(p["lat"]) <= -1.63 and 103.60 <= float(p["lon"]) <= 103.70
                           for p in bounded)
    assert len(bounded) < len(STREETS)
    # without bounded the viewbox only ranks: the inside ones first, the others still there
    _, preferred = await get(http, "/search", format="json", q="jalan", limit=40, viewbox=box)
    assert len(preferred) == len(STREETS)
    assert [p["name"] for p in preferred[:len(bounded)]] == [p["name"] for p in bounded]
    assert (await get(http, "/search", format="json", q="sudirman", countrycodes="my,sg"))[1] == []
    assert len((await get(http, "/search", format="json", q="sudirman", countrycodes="my,id"))[1]) == 1


async def test_search_bad_parameters(http: aiohttp.ClientSession) -> None:
    status, body = await get(http, "/search", format="json", q="  ")
    assert status == 400 and body == {"error": {"code": 400, "message": "Nothing to search for."}}
    status, _ = await get(http, "/search", format="json", q="x", viewbox="1,2,3")
    assert status == 400


# -- faults, records, rate limit --------------------------------------------------------------------------------


async def test_fail_empty_and_bad_json_are_consumed_in_order(nominatim: NominatimServer,
                                                             http: aiohttp.ClientSession) -> None:
    lat, lon = GATOT.center
    nominatim.fail_next(2, status=503)
    for _ in range(2):
        status, body = await get(http, "/reverse", format="json", lat=lat, lon=lon)
        assert status == 503 and body["error"]["code"] == 503
    nominatim.empty_next(2)
    assert await get(http, "/reverse", format="json", lat=lat, lon=lon) == (200, {"error": "Unable to geocode"})
    assert await get(http, "/search", format="json", q="gatot") == (200, [])
    nominatim.bad_json_next(1)
    async with http.get("/search", params={"format": "json", "q": "gatot"}) as response:
        assert response.status == 200
        with pytest.raises(ValueError):
            await response.json()
    status, body = await get(http, "/reverse", format="json", lat=lat, lon=lon)
    assert status == 200 and body["name"] == GATOT.name
    assert [r.status for r in nominatim.requests] == [503, 503, 200, 200, 200, 200]


async def test_delay_makes_clients_time_out(nominatim: NominatimServer, http: aiohttp.ClientSession) -> None:
    nominatim.set_delay(5)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        async with http.get("/search", params={"format": "json", "q": "gatot"},
                            timeout=aiohttp.ClientTimeout(total=0.2)):
            pass
    assert time.monotonic() - started < 1.0
    nominatim.set_delay(0)
    assert (await get(http, "/search", format="json", q="gatot"))[0] == 200


async def test_requests_are_recorded_with_user_agent_and_rate_limit_answers_429(
        nominatim: NominatimServer, http: aiohttp.ClientSession) -> None:
    nominatim.enforce_rate_limit = True
    first = await get(http, "/search", format="json", q="gatot")
    second_status, second = await get(http, "/search", format="json", q="gatot")
    assert first[0] == 200
    assert second_status == 429 and second["error"]["code"] == 429 and nominatim.rate_limited == 1
    await asyncio.sleep(nominatim.min_interval + 0.05)
    assert (await get(http, "/search", format="json", q="gatot"))[0] == 200
    assert nominatim.user_agents == [UA["User-Agent"]] * 3
    assert [r.status for r in nominatim.requests] == [200, 429, 200]
    times = nominatim.request_times("/search")
    assert times == sorted(times) and times[2] - times[1] >= nominatim.min_interval
    assert nominatim.requests[0].params == {"format": "json", "q": "gatot"}


# -- control API ------------------------------------------------------------------------------------------------


async def test_control_api(nominatim: NominatimServer, http: aiohttp.ClientSession) -> None:
    async with http.post("/_control/faults", json={"fail_next": 1, "status": 502, "empty_next": 1, "delay": 0.05,
                                                   "enforce_rate_limit": False}) as r:
        faults = await r.json()
        assert faults["faults"] == {"delay": 0.05, "fail_next": 1, "fail_status": 502, "empty_next": 1,
                                    "bad_json_next": 0}
    assert (await get(http, "/search", format="json", q="gatot"))[0] == 502
    assert await get(http, "/search", format="json", q="gatot") == (200, [])
    status, records = await get(http, "/_control/requests")
    assert [(r["path"], r["status"], r["user_agent"]) for r in records] == [
        ("/search", 502, UA["User-Agent"]), ("/search", 200, UA["User-Agent"])]
    assert records[1]["at"] >= records[0]["at"]
    _, info = await get(http, "/_control/info")
    assert info["requests"] == 2 and info["streets"] == len(STREETS) and info["base_url"] == nominatim.base_url
    _, streets = await get(http, "/_control/streets")
    assert {s["kecamatan"] for s in streets} == KOTA_JAMBI_KECAMATAN
    async with http.post("/_control/faults", data="not json") as r:
        assert r.status == 400 and "error" in await r.json()
    async with http.post("/_control/faults", json={"delay": "soon"}) as r:
        assert r.status == 400
    async with http.post("/_control/reset") as r:
        assert await r.json() == {"reset": True}
    assert nominatim.requests == [] and nominatim.faults.delay == 0


def test_inside_city_bounds_helper() -> None:
    server = NominatimServer()
    south, west, north, east = CITY_BOUNDS
    assert server.in_city((south + north) / 2, (west + east) / 2)
    assert not server.in_city(north + 0.01, west)


# -- standalone ---------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_runs_standalone_with_python_dash_m() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "localapi.nominatim", "--port", str(port), cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), 15)
        assert f"http://127.0.0.1:{port}" in line.decode()
        async with aiohttp.ClientSession(headers=UA) as session:
            async with session.get(f"http://127.0.0.1:{port}/search",
                                   params={"format": "jsonv2", "q": "hayam wuruk"}) as response:
                [place] = await response.json()
                assert place["name"] == "Jalan Hayam Wuruk"
    finally:
        process.terminate()
        await process.wait()
