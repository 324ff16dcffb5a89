"""Street addresses for citizens' pins (and pins for typed addresses) from a Nominatim server.

A complaint's location arrives as a bare pin; the agency wants "Jl. Gatot Subroto, Kel. Sungai Asam,
Kec. Pasar Jambi". This module asks Nominatim (OpenStreetMap's geocoder, or the local stand-in in
:mod:`localapi.nominatim`) through geopy's real ``Nominatim`` class on its aiohttp adapter.

An address is a courtesy, never a requirement, so the rules are about not hurting the conversation:

* **never raise**: timeouts, HTTP errors, malformed answers and geopy errors become ``None`` / ``[]``
  and a log line; the caller carries on with the bare pin;
* **never make a citizen wait long**: a short request timeout, and requests paced to Nominatim's usage
  policy (at most one per second per :class:`Geocoder`) without an unbounded queue: when the next free
  slot is more than ``max_wait`` away (``timeout`` unless the caller says less; a burst of pins), the
  call answers ``None`` at once;
* **rest when it is down**: after ``rest_after`` failed requests in a row the geocoder is *resting* for
  ``rest_seconds`` (:meth:`Geocoder.resting`): callers skip it instead of each waiting for a timeout;
  the first request after the rest probes it again;
* **be a polite client**: an identifying User-Agent is required (empty or geopy's stock/sample agents
  are refused at construction, as Nominatim blocks them), answers are cached (LRU) by coordinates
  rounded to ``cache_precision`` decimals (4 = about 11 m: a citizen re-sending the same pin asks
  once) and by normalised search text, and a 429's ``Retry-After`` pushes the next slot back.

Pure of the bot (no aiogram / twilio imports): the handlers decide what to show.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import aiohttp
from geopy.adapters import AioHTTPAdapter
from geopy.exc import GeocoderRateLimited, GeopyError
from geopy.geocoders import Nominatim, options

log = logging.getLogger(__name__)

LatLon = tuple[float, float]

#: the public OSM Nominatim (policy: https://operations.osmfoundation.org/policies/nominatim/)
DEFAULT_DOMAIN: Final = "nominatim.openstreetmap.org"

#: the approximate extent of Kota Jambi (south-west, north-east corners), as the bundled boundary sample
KOTA_JAMBI_VIEWBOX: Final[tuple[LatLon, LatLon]] = ((-1.70, 103.52), (-1.53, 103.70))

#: User-Agents Nominatim's operators block or geopy refuses: library defaults and documentation samples
_REJECTED_USER_AGENTS: Final = frozenset({
    str(options.default_user_agent).casefold(), "my-application", "my_app/1", "my_user_agent/1.0",
    "specify_your_app_name_here",
})

#: Nominatim address keys, most specific first, for what Indonesians call jalan, kelurahan and kecamatan.
#: OSM tags Indonesian boundaries differently from city to city, so several keys are accepted.
_ROAD_KEYS: Final = ("road", "pedestrian", "footway", "path", "cycleway", "square")
_KELURAHAN_KEYS: Final = ("village", "suburb", "quarter", "neighbourhood", "hamlet")
_KECAMATAN_KEYS: Final = ("city_district", "district", "subdistrict", "municipality", "county")
_CITY_KEYS: Final = ("city", "town", "regency", "county")
#: prefixes OSM names sometimes carry ("Kelurahan Sungai Asam"); stripped so "Kel. Kelurahan ..." never shows
_AREA_PREFIXES: Final = ("kelurahan ", "kel. ", "desa ", "kecamatan ", "kec. ")

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class GeocoderSettings:
    """How to reach Nominatim and how politely to use it.

    ``viewbox``: two (lat, lon) corners; searches are bounded to it (the city), so "Jl. Sudirman" finds
    Kota Jambi's and not Jakarta's. ``country_codes``: comma-separated ISO codes for search, and reverse
    answers outside them are dropped (Nominatim's reverse has no such filter). ``zoom``: reverse detail,
    17 = major and minor streets (18 would answer house numbers and buildings, rarely mapped in Jambi).
    ``cache_size`` 0 disables the cache.
    """

    domain: str = DEFAULT_DOMAIN
    scheme: str = "https"
    user_agent: str
    timeout: float = 3.0
    min_delay_seconds: float = 1.0
    language: str = "id"
    country_codes: str = "id"
    viewbox: tuple[LatLon, LatLon] | None = None
    cache_size: int = 1024
    cache_precision: int = 4
    zoom: int = 17
    #: failed requests in a row after which the geocoder rests, and for how long (seconds)
    rest_after: int = 3
    rest_seconds: float = 30.0

    def __post_init__(self) -> None:
        agent = self.user_agent.strip()
        if not agent or agent.casefold() in _REJECTED_USER_AGENTS or agent.casefold().startswith("geopy/"):
            raise ValueError(
                f"geocoder user_agent {self.user_agent!r} does not identify the application: Nominatim's "
                "usage policy requires one like 'SiKesal-KotaJambi/1.0 (admin@example.go.id)'")
        if self.scheme not in ("http", "https"):
            raise ValueError(f"geocoder scheme must be http or https, not {self.scheme!r}")
        if not self.domain.strip("/"):
            raise ValueError("geocoder domain is empty")
        if not self.timeout > 0:
            raise ValueError("geocoder timeout must be positive")
        if self.min_delay_seconds < 0 or self.cache_size < 0:
            raise ValueError("geocoder min_delay_seconds and cache_size must not be negative")
        if not 0 <= self.cache_precision <= 7:
            raise ValueError("geocoder cache_precision must be 0..7 decimals")
        if not 0 <= self.zoom <= 18:
            raise ValueError("geocoder zoom must be 0..18")
        if self.rest_after < 1 or self.rest_seconds < 0:
            raise ValueError("geocoder rest_after must be at least 1 and rest_seconds not negative")
        if self.viewbox is not None:
            for lat, lon in self.viewbox:
                if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                    raise ValueError(f"geocoder viewbox corner ({lat}, {lon}) is not a (lat, lon) pair")

    @classmethod
    def from_url(cls, url: str, **overrides: Any) -> GeocoderSettings:
        """Settings for the Nominatim at ``url`` (``NOMINATIM_URL``, e.g. ``http://127.0.0.1:8088``).

        geopy wants scheme and domain apart; a path (``https://example.org/nominatim``) stays part of
        the domain, as geopy appends ``/search`` and ``/reverse`` to it. ``user_agent`` and any other
        field come as keyword arguments.
        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"NOMINATIM_URL must look like http(s)://host[:port][/path], not {url!r}")
        domain = parts.netloc + parts.path.rstrip("/")
        return cls(domain=domain, scheme=parts.scheme, **overrides)


@dataclass(frozen=True, slots=True)
class Address:
    """What Nominatim says is at a place, reduced to what a complaint card needs.

    ``display`` is the short line shown to citizens and staff ("Jl. Gatot Subroto, Kel. Sungai Asam,
    Kec. Pasar Jambi"); ``display_name`` is Nominatim's full line, kept for the record.
    """

    road: str | None
    kelurahan: str | None
    kecamatan: str | None
    city: str | None
    display: str
    display_name: str
    lat: float
    lon: float
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def street(self) -> str | None:
        """The road as Indonesians write it ("Jl. Gatot Subroto"); ``road`` keeps OSM's "Jalan ..."."""
        return short_road(self.road) if self.road else None


@dataclass(frozen=True, slots=True)
class Candidate:
    """One search result: where it is and its address (best first in :meth:`Geocoder.search`)."""

    lat: float
    lon: float
    address: Address
    importance: float | None = None

    @property
    def display(self) -> str:
        return self.address.display


class _LRU:
    """A tiny LRU map (``functools.lru_cache`` cannot cache coroutines' results, nor skip failures)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()

    def get(self, key: Any) -> tuple[bool, Any]:
        if key not in self._items:
            return False, None
        self._items.move_to_end(key)
        return True, self._items[key]

    def put(self, key: Any, value: Any) -> None:
        if self.size <= 0:
            return
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class _Failed(Exception):
    """Internal: a request did not produce an answer (already logged); never leaves this module."""


def _clean_area(name: str | None) -> str | None:
    if not name:
        return None
    name = name.strip()
    lowered = name.casefold()
    for prefix in _AREA_PREFIXES:
        if lowered.startswith(prefix):
            return name[len(prefix):].strip() or None
    return name


def short_road(road: str) -> str:
    """``Jalan Gatot Subroto`` -> ``Jl. Gatot Subroto``: how addresses are written in Indonesia."""
    for long in ("Jalan ", "jalan ", "JALAN "):
        if road.startswith(long):
            return "Jl. " + road[len(long):]
    return road


def _first(address: Mapping[str, Any], keys: tuple[str, ...], *, not_: str | None = None) -> str | None:
    for key in keys:
        value = address.get(key)
        if isinstance(value, str) and value.strip() and value.strip() != not_:
            return value.strip()
    return None


def parse_address(raw: Mapping[str, Any]) -> Address | None:
    """An :class:`Address` from one Nominatim result (``format=json``/``jsonv2``), None if unusable."""
    try:
        lat, lon = float(raw["lat"]), float(raw["lon"])
    except (KeyError, TypeError, ValueError):
        return None
    details = raw.get("address")
    details = details if isinstance(details, Mapping) else {}
    display_name = str(raw.get("display_name") or "")
    road = _first(details, _ROAD_KEYS)
    city = _first(details, _CITY_KEYS)
    kelurahan = _clean_area(_first(details, _KELURAHAN_KEYS))
    kecamatan = _clean_area(_first(details, _KECAMATAN_KEYS, not_=city))
    parts = [short_road(road)] if road else []
    if kelurahan:
        parts.append(f"Kel. {kelurahan}")
    if kecamatan:
        parts.append(f"Kec. {kecamatan}")
    if not parts:
        parts = [city] if city else display_name.split(", ")[:2]
    display = ", ".join(p for p in parts if p) or f"{lat:.5f}, {lon:.5f}"
    return Address(road=road, kelurahan=kelurahan, kecamatan=kecamatan, city=city, display=display,
                   display_name=display_name, lat=lat, lon=lon, raw=dict(raw))


def normalise_query(text: str) -> str:
    """The cache key of a search: case and spacing do not change what Nominatim finds."""
    return " ".join(text.split()).casefold()


class Geocoder:
    """Reverse geocoding and search against one Nominatim, paced, cached, and never raising.

    Usage::

        async with Geocoder(GeocoderSettings.from_url(url, user_agent="SiKesal-KotaJambi/1.0")) as geo:
            address = await geo.reverse(-1.596, 103.612)      # Address | None
            candidates = await geo.search("jl sudirman")      # list[Candidate]

    ``clock`` (monotonic seconds) is injectable for tests of the pacing.
    """

    def __init__(self, settings: GeocoderSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._nominatim = Nominatim(domain=settings.domain, scheme=settings.scheme, user_agent=settings.user_agent,
                                    timeout=settings.timeout, adapter_factory=AioHTTPAdapter)
        self._next_slot = -math.inf  # clock time from which the next request may start
        self._cache = _LRU(settings.cache_size)
        self._closed = False
        self.requests_made = 0  # HTTP requests attempted (the cache and the pacing avoid the others)
        #: requests that failed in a row (timeouts, errors; reset by an answer), and when the last one did
        self.failures_in_row = 0
        self._last_failure_at = -math.inf
        #: calls answered None/[] without a request because no slot was free soon enough, or it rested
        self.skipped = 0

    async def __aenter__(self) -> Geocoder:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the adapter's HTTP session (idempotent); later calls answer None / [] without a request."""
        if self._closed:
            return
        self._closed = True
        session = self._nominatim.adapter.__dict__.get("session")  # created lazily by geopy on first use
        if session is not None:
            await session.close()

    # -- public API -----------------------------------------------------------------------------------------

    def resting(self) -> bool:
        """True while the geocoder is taken to be down (``rest_after`` failures in a row, the last less than
        ``rest_seconds`` ago): callers skip it rather than each wait for a timeout."""
        return (self.failures_in_row >= self.settings.rest_after
                and self._clock() - self._last_failure_at < self.settings.rest_seconds)

    def seconds_until_free(self) -> float:
        """How long until a request could start without waiting (0: now)."""
        return max(0.0, self._next_slot - self._clock())

    def cached_reverse(self, lat: float, lon: float) -> tuple[bool, Address | None]:
        """(True, answer) when the pin's answer is cached (no request, no slot), else (False, None)."""
        p = self.settings.cache_precision
        hit, cached = self._cache.get(("reverse", round(lat, p), round(lon, p)))
        return (True, cached) if hit else (False, None)

    async def reverse(self, lat: float, lon: float, *, max_wait: float | None = None) -> Address | None:
        """The address at the pin, or None (nothing there, outside ``country_codes``, or any failure).
        ``max_wait``: the longest wait for a request slot (default ``timeout``); beyond it, None at once."""
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
            log.info("geocoder: not reverse-geocoding invalid coordinates (%r, %r)", lat, lon)
            return None
        p = self.settings.cache_precision
        key = ("reverse", round(lat, p), round(lon, p))
        hit, cached = self._cache.get(key)
        if hit:
            return cached
        try:
            location = await self._request("reverse", lambda: self._nominatim.reverse(
                (lat, lon), exactly_one=True, language=self.settings.language, addressdetails=True,
                zoom=self.settings.zoom), max_wait=max_wait)
        except _Failed:
            return None
        address = parse_address(location.raw) if location is not None else None
        if address is not None and not self._in_countries(address):
            log.info("geocoder: reverse (%.5f, %.5f) is outside %s: %s", lat, lon, self.settings.country_codes,
                     address.display_name)
            address = None
        self._cache.put(key, address)
        return address

    async def search(self, text: str, limit: int = 3, *, max_wait: float | None = None) -> list[Candidate]:
        """Places matching ``text`` inside the viewbox (the city), best first, at most ``limit``; [] on failure
        (and when no request slot is free within ``max_wait``, default ``timeout``)."""
        query = normalise_query(text)
        if not query:
            return []
        limit = max(1, min(int(limit), 40))
        key = ("search", query, limit)
        hit, cached = self._cache.get(key)
        if hit:
            return list(cached)
        viewbox = self.settings.viewbox
        try:
            locations = await self._request("search", lambda: self._nominatim.geocode(
                query, exactly_one=False, limit=limit, addressdetails=True, language=self.settings.language,
                country_codes=self.settings.country_codes or None, viewbox=list(viewbox) if viewbox else None,
                bounded=viewbox is not None), max_wait=max_wait)
        except _Failed:
            return []
        candidates: list[Candidate] = []
        for location in locations or []:
            raw = location.raw if isinstance(location.raw, Mapping) else {}
            address = parse_address(raw)
            if address is None:
                continue
            importance = raw.get("importance")
            candidates.append(Candidate(address.lat, address.lon, address,
                                        float(importance) if isinstance(importance, int | float) else None))
        candidates = candidates[:limit]
        self._cache.put(key, tuple(candidates))
        return candidates

    # -- internals ------------------------------------------------------------------------------------------

    def _in_countries(self, address: Address) -> bool:
        wanted = {c.strip().casefold() for c in self.settings.country_codes.split(",") if c.strip()}
        details = address.raw.get("address")
        code = details.get("country_code") if isinstance(details, Mapping) else None
        return not wanted or not isinstance(code, str) or code.casefold() in wanted

    def _reserve_slot(self, max_wait: float | None = None) -> float | None:
        """Seconds to wait for this request's slot (reserved now), or None when it is too far away.

        Reserving (moving ``_next_slot`` forward) happens without an ``await``, so concurrent callers
        get distinct slots one ``min_delay_seconds`` apart without a lock; a caller that would wait more
        than ``max_wait`` (default ``timeout``) gets no slot at all, so a burst never builds a queue
        citizens wait in.
        """
        now = self._clock()
        start = max(now, self._next_slot)
        wait = start - now
        if wait > (self.settings.timeout if max_wait is None else max_wait):
            return None
        self._next_slot = start + self.settings.min_delay_seconds
        return wait

    async def _request(self, what: str, call: Callable[[], Any], *, max_wait: float | None = None) -> Any:
        """Run one geopy call paced, time-limited, with every failure logged and turned into _Failed."""
        if self._closed:
            log.warning("geocoder: %s after close(), skipped", what)
            raise _Failed
        if self.resting():
            self.skipped += 1
            log.info("geocoder: %s skipped, resting after %d failures in a row", what, self.failures_in_row)
            raise _Failed
        wait = self._reserve_slot(max_wait)
        if wait is None:
            self.skipped += 1
            log.warning("geocoder: %s skipped, the next request slot is too far away (rate limit)", what)
            raise _Failed
        if wait > 0:
            await asyncio.sleep(wait)
        self.requests_made += 1
        try:
            # geopy gives aiohttp the timeout; the outer one also bounds DNS/connect hiccups geopy cannot see
            async with asyncio.timeout(self.settings.timeout + 0.5):
                answer = await call()
            self.failures_in_row = 0
            return answer
        except GeocoderRateLimited as exc:
            backoff = max(self.settings.min_delay_seconds, float(exc.retry_after or 0))
            self._next_slot = max(self._next_slot, self._clock() + backoff)
            log.warning("geocoder: %s rate-limited by Nominatim (429), pausing %.1f s", what, backoff)
        except GeopyError as exc:  # timeouts, HTTP errors, unparsable JSON: geopy's own classes
            log.warning("geocoder: %s failed: %s: %s", what, type(exc).__name__, exc)
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("geocoder: %s failed: %s: %s", what, type(exc).__name__, exc)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:  # a JSON answer of the wrong shape
            log.warning("geocoder: %s got a malformed answer: %s: %s", what, type(exc).__name__, exc)
        self.failures_in_row += 1
        self._last_failure_at = self._clock()
        raise _Failed
