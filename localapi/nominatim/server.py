"""aiohttp front end of the local Nominatim server: ``/reverse`` and ``/search`` in Nominatim's JSON shapes.

The bot's geocoder (geopy's real ``Nominatim`` class) talks to it as to nominatim.openstreetmap.org, so
the whole client path (URL building, JSON parsing, error mapping, timeouts) runs in tests and in the
playground without the internet. The answers come from a handful of APPROXIMATE sample streets
(:mod:`localapi.nominatim.data`):

- ``/reverse``: the nearest sample street within ``reverse_radius_m`` (1.5 km) of the point, reduced to
  its kelurahan / kecamatan / city at lower ``zoom``; nothing near, or a point outside the city, gets
  ``{"error": "Unable to geocode"}`` with HTTP 200, exactly as Nominatim answers it;
- ``/search``: streets whose name, kelurahan or kecamatan contain every word of ``q`` (case-insensitive),
  honouring ``limit``, ``viewbox`` + ``bounded`` and ``countrycodes``.

Both accept ``format=json`` (``class``) and ``format=jsonv2`` (``category``), ``addressdetails`` and
``accept-language`` (recorded; the sample has one language).

Because Nominatim's usage policy (at most one request per second, an identifying User-Agent) is the
part a client gets wrong most easily, every API request is recorded (:attr:`NominatimServer.requests`:
arrival time, path, parameters, User-Agent, status) and ``enforce_rate_limit`` answers 429 to a request
arriving less than ``min_interval`` seconds after the previous one. Faults for tests, in Python and via
the JSON control API under ``/_control`` (see :meth:`NominatimServer.make_app`): a delay (timeouts),
HTTP errors, empty answers, malformed JSON.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

from aiohttp import web

from .data import (
    CITY,
    CITY_BOUNDS,
    COUNTRY,
    COUNTRY_CODE,
    ISO3166_LVL4,
    LICENCE,
    STATE,
    STREETS,
    Street,
)

log = logging.getLogger(__name__)

UNABLE = {"error": "Unable to geocode"}
FORMATS = ("json", "jsonv2")
DEFAULT_LIMIT = 10
MAX_LIMIT = 40  # Nominatim's own cap
_M_PER_DEGREE = 6_371_008.8 * math.pi / 180
#: words citizens abbreviate; everything else matches by substring ("jend" finds "Jenderal")
_ABBREVIATIONS = {"jl": "jalan", "jln": "jalan"}
_WORD = re.compile(r"[0-9a-z]+")


class NominatimError(Exception):
    """An error answered as Nominatim's JSON error body ``{"error": {"code": ..., "message": ...}}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def response(self) -> web.Response:
        return _json({"error": {"code": self.status, "message": self.message}}, status=self.status)


@dataclass
class RequestRecord:
    """One API request as the server saw it (control requests are not recorded).

    ``at`` is ``time.monotonic()`` on arrival, before any injected delay: differences between records are
    the client's pace.
    """

    at: float
    path: str
    params: dict[str, str]
    user_agent: str
    status: int = 0  # the HTTP status answered (0 while still being answered)


@dataclass
class Faults:
    """Pending injected faults; counts are consumed one per API request, in the order listed."""

    delay: float = 0.0  # seconds to wait before answering every request (not consumed)
    fail_next: int = 0
    fail_status: int = 500
    empty_next: int = 0  # search -> [], reverse -> Unable to geocode
    bad_json_next: int = 0  # HTTP 200 with a body that is not JSON


@dataclass
class _Level:
    """What a reverse answer describes at the requested zoom: a street or an area containing it."""

    kind: str  # road | kelurahan | kecamatan | city
    name: str
    lat: float
    lon: float
    bbox: tuple[float, float, float, float]
    address: dict[str, str] = field(default_factory=dict)


def _json(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON answer with UTF-8 text as Nominatim sends it (a raw ``©`` in the licence, not ``\\u00a9``)."""
    return web.json_response(data, status=status, headers=headers, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


def _words(text: str) -> list[str]:
    return [_ABBREVIATIONS.get(w, w) for w in _WORD.findall(text.casefold())]


def _metres(lat: float, lon: float, lat0: float) -> tuple[float, float]:
    """Equirectangular projection around ``lat0``: exact enough over a city a few km wide."""
    return lon * _M_PER_DEGREE * math.cos(math.radians(lat0)), lat * _M_PER_DEGREE


def distance_to_street_m(street: Street, lat: float, lon: float) -> float:
    """Metres from the point to the nearest point of the street's polyline."""
    px, py = _metres(lat, lon, lat)
    best = math.inf
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(street.path):
        ax, ay = _metres(lat1, lon1, lat)
        bx, by = _metres(lat2, lon2, lat)
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
        best = min(best, math.hypot(px - (ax + t * dx), py - (ay + t * dy)))
    return best


def _union_bbox(streets: Iterable[Street]) -> tuple[float, float, float, float]:
    boxes = [s.bbox for s in streets]
    return (min(b[0] for b in boxes), max(b[1] for b in boxes), min(b[2] for b in boxes), max(b[3] for b in boxes))


class NominatimServer:
    """A local Nominatim (``/reverse``, ``/search``, ``/status``) plus a Python/JSON API to inject faults.

    ``reverse_radius_m``: how far from a sample street a point may be and still get it (1.5 km: the
    sample has a street per kelurahan, not every alley). ``enforce_rate_limit``: answer 429 to a request
    arriving less than ``min_interval`` seconds after the previous API request (Nominatim's policy is at
    most one per second; 0.5 s leaves room for network jitter).
    """

    def __init__(self, streets: Sequence[Street] = STREETS, *, reverse_radius_m: float = 1500.0,
                 enforce_rate_limit: bool = False, min_interval: float = 0.5, delay: float = 0.0) -> None:
        self.streets = tuple(streets)
        self.reverse_radius_m = reverse_radius_m
        self.enforce_rate_limit = enforce_rate_limit
        self.min_interval = min_interval
        self.faults = Faults(delay=delay)
        self.requests: list[RequestRecord] = []
        self.rate_limited = 0  # how many 429s were answered
        self.base_url = ""
        self._runner: web.AppRunner | None = None
        self._closing = asyncio.Event()

    # -- faults and records ---------------------------------------------------------------------------------

    def set_delay(self, seconds: float) -> None:
        """Answer every following request ``seconds`` late (0 = on time): a slow or hanging Nominatim."""
        self.faults.delay = max(0.0, float(seconds))

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """The next ``count`` API requests get HTTP ``status`` with Nominatim's JSON error body."""
        self.faults.fail_next += count
        self.faults.fail_status = status

    def empty_next(self, count: int = 1) -> None:
        """The next ``count`` API requests find nothing: search -> ``[]``, reverse -> Unable to geocode."""
        self.faults.empty_next += count

    def bad_json_next(self, count: int = 1) -> None:
        """The next ``count`` API requests get HTTP 200 with a body that is not JSON (a broken proxy)."""
        self.faults.bad_json_next += count

    def reset(self) -> None:
        """Forget recorded requests and pending faults (a new test scenario); settings stay."""
        self.requests.clear()
        self.faults = Faults()
        self.rate_limited = 0

    def request_times(self, path: str | None = None) -> list[float]:
        """Arrival times (monotonic) of the recorded requests, optionally only those to ``path``."""
        return [r.at for r in self.requests if path is None or r.path == path]

    @property
    def user_agents(self) -> list[str]:
        """The User-Agent of every recorded request, in order."""
        return [r.user_agent for r in self.requests]

    # -- answers (pure Python; the HTTP handlers wrap these) ----------------------------------------------------

    def in_city(self, lat: float, lon: float) -> bool:
        south, west, north, east = CITY_BOUNDS
        return south <= lat <= north and west <= lon <= east

    def nearest_street(self, lat: float, lon: float) -> Street | None:
        """The sample street nearest to the point within ``reverse_radius_m``, or None."""
        if not self.in_city(lat, lon) or not self.streets:
            return None
        distance, street = min(((distance_to_street_m(s, lat, lon), s) for s in self.streets),
                               key=lambda pair: pair[0])
        return street if distance <= self.reverse_radius_m else None

    def reverse(self, lat: float, lon: float, *, zoom: int = 18, fmt: str = "jsonv2",
                addressdetails: bool = True) -> dict[str, Any]:
        """Nominatim's reverse answer for the point (``{"error": "Unable to geocode"}`` when nothing is near)."""
        street = self.nearest_street(lat, lon)
        if street is None:
            return dict(UNABLE)
        level = self._level(street, zoom)
        return self._place(level, street, fmt=fmt, addressdetails=addressdetails, with_importance=True)

    def search(self, q: str, *, limit: int = DEFAULT_LIMIT, fmt: str = "jsonv2", addressdetails: bool = False,
               viewbox: tuple[float, float, float, float] | None = None, bounded: bool = False,
               countrycodes: Sequence[str] = ()) -> list[dict[str, Any]]:
        """Nominatim's search answer: streets matching every word of ``q``, best first, at most ``limit``.

        ``viewbox`` is (west, south, east, north) in any corner order, as Nominatim takes it; without
        ``bounded`` it only ranks the streets inside it first.
        """
        if countrycodes and COUNTRY_CODE not in {c.strip().lower() for c in countrycodes}:
            return []
        words = _words(q)
        if not words:
            return []
        box = None
        if viewbox is not None:
            x1, y1, x2, y2 = viewbox
            box = (min(y1, y2), max(y1, y2), min(x1, x2), max(x1, x2))  # south, north, west, east

        def inside(street: Street) -> bool:
            if box is None:
                return True
            lat, lon = street.center
            return box[0] <= lat <= box[1] and box[2] <= lon <= box[3]

        found = []
        for street in self.streets:
            haystack = " ".join(_words(" ".join((street.name, street.kelurahan, street.kecamatan, CITY))))
            if not all(word in haystack for word in words):
                continue
            if bounded and not inside(street):
                continue
            found.append(street)
        found.sort(key=lambda s: (not inside(s), -self._importance(s), s.name))
        return [self._place(self._level(s, 18), s, fmt=fmt, addressdetails=addressdetails, with_importance=True)
                for s in found[:limit]]

    # -- shapes -----------------------------------------------------------------------------------------------

    @staticmethod
    def _importance(street: Street) -> float:
        return {"primary": 0.2, "secondary": 0.16, "tertiary": 0.12}.get(street.highway, 0.1)

    def _address(self, street: Street, down_to: str) -> dict[str, str]:
        """Nominatim's ``address`` object for the street, down to the level answered."""
        parts: list[tuple[str, str]] = []
        if down_to == "road":
            parts.append(("road", street.name))
        if down_to in ("road", "kelurahan"):
            parts.append(("village", street.kelurahan))
        if down_to in ("road", "kelurahan", "kecamatan"):
            parts.append(("city_district", street.kecamatan))
        parts += [("city", CITY), ("state", STATE), ("ISO3166-2-lvl4", ISO3166_LVL4)]
        if down_to != "city":
            parts.append(("postcode", street.postcode))
        parts += [("country", COUNTRY), ("country_code", COUNTRY_CODE)]
        return dict(parts)

    def _level(self, street: Street, zoom: int) -> _Level:
        """The street itself at street zoom (16+), else the kelurahan (14-15), kecamatan (12-13) or city."""
        if zoom >= 16:
            lat, lon = street.center
            return _Level("road", street.name, lat, lon, street.bbox, self._address(street, "road"))
        if zoom >= 14:
            kind, name, members = "kelurahan", street.kelurahan, [s for s in self.streets
                                                                   if s.kelurahan == street.kelurahan]
        elif zoom >= 12:
            kind, name, members = "kecamatan", street.kecamatan, [s for s in self.streets
                                                                   if s.kecamatan == street.kecamatan]
        else:
            kind, name, members = "city", CITY, list(self.streets)
        lat = sum(s.center[0] for s in members) / len(members)
        lon = sum(s.center[1] for s in members) / len(members)
        return _Level(kind, name, round(lat, 7), round(lon, 7), _union_bbox(members), self._address(street, kind))

    def _place(self, level: _Level, street: Street, *, fmt: str, addressdetails: bool,
               with_importance: bool) -> dict[str, Any]:
        if level.kind == "road":
            osm_type, osm_id, cls, typ = "way", street.osm_id, "highway", street.highway
            rank, addresstype = 26 if street.highway in ("primary", "secondary") else 27, "road"
        else:
            osm_type, cls, typ = "relation", "boundary", "administrative"
            # stable invented relation ids per area
            osm_id = 920000000 + sum(ord(c) * (i + 1) for i, c in enumerate(level.kind + level.name)) % 10**6
            rank, addresstype = {"kelurahan": (20, "village"), "kecamatan": (18, "city_district"),
                                 "city": (16, "city")}[level.kind]
        place: dict[str, Any] = {
            "place_id": osm_id % 10**8 + 100_000_000,
            "licence": LICENCE,
            "osm_type": osm_type,
            "osm_id": osm_id,
            "lat": f"{level.lat:.7f}",
            "lon": f"{level.lon:.7f}",
            ("category" if fmt == "jsonv2" else "class"): cls,
            "type": typ,
            "place_rank": rank,
        }
        if with_importance:
            place["importance"] = self._importance(street) if level.kind == "road" else 0.3
        place["addresstype"] = addresstype
        place["name"] = level.name
        place["display_name"] = ", ".join(v for k, v in level.address.items()
                                          if k not in ("ISO3166-2-lvl4", "country_code"))
        if addressdetails:
            place["address"] = dict(level.address)
        south, north, west, east = level.bbox
        place["boundingbox"] = [f"{south:.7f}", f"{north:.7f}", f"{west:.7f}", f"{east:.7f}"]
        return place

    # -- HTTP ----------------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """The aiohttp application: the API plus the JSON control API.

        Control API (plain JSON; errors are ``{"error": "..."}`` with HTTP 400):

        - ``GET  /_control/info`` -> base URL, settings, pending faults, number of recorded requests
        - ``GET  /_control/requests`` -> ``[{at, path, params, user_agent, status}]`` oldest first
          (``at``: the server's monotonic clock in seconds; only differences mean something)
        - ``POST /_control/faults`` ``{delay?, fail_next?, status?, empty_next?, bad_json_next?,
          enforce_rate_limit?, min_interval?}`` -> the pending faults and rate-limit settings
        - ``POST /_control/reset`` -> ``{reset: true}``: forget requests and faults
        - ``GET  /_control/streets`` -> the sample streets ``[{name, kelurahan, kecamatan, lat, lon}]``
        """
        app = web.Application()
        app.router.add_get("/reverse", self._handle_reverse)
        app.router.add_get("/reverse.php", self._handle_reverse)
        app.router.add_get("/search", self._handle_search)
        app.router.add_get("/search.php", self._handle_search)
        app.router.add_get("/status", self._handle_status)
        app.router.add_get("/_control/info", self._control_info)
        app.router.add_get("/_control/requests", self._control_requests)
        app.router.add_post("/_control/faults", self._control_faults)
        app.router.add_post("/_control/reset", self._control_reset)
        app.router.add_get("/_control/streets", self._control_streets)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> NominatimServer:
        """Serve on ``host:port`` (0 = a free port); sets ``base_url``."""
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self.make_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_port = self._runner.addresses[0][1] if self._runner.addresses else port
        self.base_url = f"http://{host}:{bound_port}"
        return self

    async def stop(self) -> None:
        self._closing.set()  # wakes handlers sleeping on an injected delay
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> NominatimServer:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    async def _admit(self, request: web.Request) -> tuple[RequestRecord, web.Response | None]:
        """Record the request, apply the rate limit, the delay and the faults.

        Returns the record and, when a fault (or the rate limit) decides the answer, that answer.
        """
        now = time.monotonic()
        previous = self.requests[-1].at if self.requests else None
        record = RequestRecord(now, request.path, dict(request.query), request.headers.get("User-Agent", ""))
        self.requests.append(record)
        if self.enforce_rate_limit and previous is not None and now - previous < self.min_interval:
            self.rate_limited += 1
            return record, _json({"error": {"code": 429, "message": "Too Many Requests"}},
                                             status=429, headers={"Retry-After": "1"})
        if self.faults.delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.faults.delay)
        if self.faults.fail_next > 0:
            self.faults.fail_next -= 1
            status = self.faults.fail_status
            return record, NominatimError(status, "Injected failure" if status >= 500 else "Bad request").response()
        if self.faults.bad_json_next > 0:
            self.faults.bad_json_next -= 1
            return record, web.Response(text="<html><body>Bad Gateway</body></html>",
                                        content_type="application/json")
        return record, None

    def _empty(self) -> bool:
        if self.faults.empty_next > 0:
            self.faults.empty_next -= 1
            return True
        return False

    @staticmethod
    def _format(request: web.Request) -> str:
        fmt = request.query.get("format", "jsonv2")
        if fmt not in FORMATS:
            raise NominatimError(400, f"Parameter 'format' must be one of: {', '.join(FORMATS)} "
                                      "(the local server speaks no other format)")
        return fmt

    @staticmethod
    def _flag(request: web.Request, name: str, default: bool) -> bool:
        value = request.query.get(name)
        if value is None:
            return default
        if value.lower() in ("1", "true"):
            return True
        if value.lower() in ("0", "false"):
            return False
        raise NominatimError(400, f"Parameter '{name}' must be 0 or 1")

    @staticmethod
    def _float(request: web.Request, name: str) -> float:
        try:
            value = float(request.query[name])
        except (KeyError, ValueError):
            raise NominatimError(400, f"Parameter '{name}' must be a number") from None
        if not math.isfinite(value):
            raise NominatimError(400, f"Parameter '{name}' must be a number")
        return value

    async def _answer(self, request: web.Request, build: Callable[[], web.Response]) -> web.StreamResponse:
        record, early = await self._admit(request)
        if early is not None:
            record.status = early.status
            return early
        try:
            response = build()
        except NominatimError as exc:
            response = exc.response()
        record.status = response.status
        return response

    async def _handle_reverse(self, request: web.Request) -> web.StreamResponse:
        def build() -> web.Response:
            fmt = self._format(request)
            if "lat" not in request.query or "lon" not in request.query:
                raise NominatimError(400, "Need coordinates or OSM object to lookup.")
            lat, lon = self._float(request, "lat"), self._float(request, "lon")
            if not (-90 <= lat <= 90 and -180 <= lon <= 180):
                raise NominatimError(400, "Invalid coordinates.")
            zoom_text = request.query.get("zoom", "18")
            try:
                zoom = max(0, min(18, int(zoom_text)))
            except ValueError:
                raise NominatimError(400, "Parameter 'zoom' must be a number") from None
            details = self._flag(request, "addressdetails", True)
            if self._empty():
                return _json(UNABLE)
            return _json(self.reverse(lat, lon, zoom=zoom, fmt=fmt, addressdetails=details))

        return await self._answer(request, build)

    async def _handle_search(self, request: web.Request) -> web.StreamResponse:
        def build() -> web.Response:
            fmt = self._format(request)
            q = request.query.get("q", "").strip()
            if not q:
                raise NominatimError(400, "Nothing to search for.")
            try:
                limit = max(1, min(MAX_LIMIT, int(request.query.get("limit", DEFAULT_LIMIT))))
            except ValueError:
                raise NominatimError(400, "Parameter 'limit' must be a number") from None
            viewbox = None
            if request.query.get("viewbox"):
                try:
                    x1, y1, x2, y2 = (float(v) for v in request.query["viewbox"].split(","))
                except ValueError:
                    raise NominatimError(400, "Bad parameter 'viewbox'. Expected 4 coordinates.") from None
                viewbox = (x1, y1, x2, y2)
            bounded = self._flag(request, "bounded", False) and viewbox is not None
            codes = [c for c in request.query.get("countrycodes", "").split(",") if c.strip()]
            details = self._flag(request, "addressdetails", False)
            if self._empty():
                return _json([])
            return _json(self.search(q, limit=limit, fmt=fmt, addressdetails=details,
                                                 viewbox=viewbox, bounded=bounded, countrycodes=codes))

        return await self._answer(request, build)

    async def _handle_status(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("format") == "json":
            return _json({"status": 0, "message": "OK", "software_version": "local-sample"})
        return web.Response(text="OK")

    # -- control API ---------------------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "streets": len(self.streets), "reverse_radius_m": self.reverse_radius_m,
                "enforce_rate_limit": self.enforce_rate_limit, "min_interval": self.min_interval,
                "rate_limited": self.rate_limited, "faults": asdict(self.faults), "requests": len(self.requests)}

    async def _control_info(self, request: web.Request) -> web.StreamResponse:
        return _json(self.info())

    async def _control_requests(self, request: web.Request) -> web.StreamResponse:
        return _json([asdict(r) for r in self.requests])

    async def _control_faults(self, request: web.Request) -> web.StreamResponse:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            data = None
        if not isinstance(data, dict):
            return _json({"error": "request body must be a JSON object"}, status=400)
        try:
            if "delay" in data:
                self.set_delay(float(data["delay"]))
            if "fail_next" in data:
                self.fail_next(int(data["fail_next"]), int(data.get("status", 500)))
            if "empty_next" in data:
                self.empty_next(int(data["empty_next"]))
            if "bad_json_next" in data:
                self.bad_json_next(int(data["bad_json_next"]))
            if "enforce_rate_limit" in data:
                self.enforce_rate_limit = bool(data["enforce_rate_limit"])
            if "min_interval" in data:
                self.min_interval = float(data["min_interval"])
        except (TypeError, ValueError):
            return _json({"error": "delay/min_interval are numbers, the counts and status integers"},
                                     status=400)
        return _json({"faults": asdict(self.faults), "enforce_rate_limit": self.enforce_rate_limit,
                                  "min_interval": self.min_interval})

    async def _control_reset(self, request: web.Request) -> web.StreamResponse:
        self.reset()
        return _json({"reset": True})

    async def _control_streets(self, request: web.Request) -> web.StreamResponse:
        return _json([{"name": s.name, "kelurahan": s.kelurahan, "kecamatan": s.kecamatan,
                                   "lat": s.center[0], "lon": s.center[1]} for s in self.streets])
