"""Geography: which kecamatan (and kelurahan) a citizen's pin falls in, and distance helpers.

A city's service area is one GeoJSON FeatureCollection (see ``docs/geography.md``): one feature with
``level: city`` (the boundary), features with ``level: kecamatan`` and, optionally, ``level:
kelurahan`` with ``parent`` naming their kecamatan. It is validated once at start, like config.yaml:
a bad file stops the start with a :class:`GeoDataError` naming the file and the problem, because a
boundary file that silently answers "outside the city" for every pin would misroute complaints for
days before anyone noticed.

After :meth:`ServiceArea.load` everything is pure, synchronous and in memory (prepared shapely
geometries behind an ``STRtree``): a lookup costs microseconds, so handlers may call it inline.

Coordinates: the API speaks ``(lat, lon)`` like Telegram and WhatsApp locations; GeoJSON and shapely
speak ``(lon, lat)``. The swap happens only in this module.

The bundled :data:`SAMPLE_GEOJSON` is an APPROXIMATE sample of Kota Jambi, not official boundaries.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely import STRtree
from shapely.geometry import MultiPolygon, Point, Polygon, shape
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

#: the approximate Kota Jambi sample shipped with the package (replace it with official boundaries)
SAMPLE_GEOJSON: Path = Path(__file__).with_name("data") / "kota_jambi.geojson"

#: mean Earth radius (IUGG), metres: the sphere both :func:`haversine_m` and :func:`bounding_box` use
EARTH_RADIUS_M = 6_371_008.8

LEVELS = ("city", "kecamatan", "kelurahan")

#: how much of a district may stick out of its parent (city or kecamatan) before the file is rejected:
#: official boundaries digitised separately rarely match to the metre, but a district mostly outside
#: its parent is a wrong file (or swapped coordinates), not rounding
_OUTSIDE_TOLERANCE = 0.001


class GeoDataError(Exception):
    """A boundary file cannot be used; the message names the file and the problem (for the operator)."""


_Fail = Callable[[str], GeoDataError]


@dataclass(frozen=True, slots=True)
class District:
    """An administrative area: a kecamatan (``parent`` None) or a kelurahan (``parent`` = its kecamatan)."""

    name: str
    level: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """Where a pin is: its kecamatan and kelurahan (None when unknown) and whether it is in the city.

    ``inside`` can be True with ``kecamatan`` None only when the file's kecamatan do not cover the
    whole city (official files sometimes leave slivers, e.g. along the river).
    """

    kecamatan: str | None
    kelurahan: str | None
    inside: bool


@dataclass(frozen=True, slots=True)
class _Area:
    district: District
    geometry: BaseGeometry  # prepared


class _Index:
    """An STRtree over one level's prepared polygons, answering in file order on shared borders."""

    def __init__(self, areas: Sequence[_Area]) -> None:
        self.areas = tuple(areas)
        self._tree = STRtree([a.geometry for a in self.areas])

    def at(self, point: Point, parent: str | None = None) -> _Area | None:
        """The area covering ``point`` (only those whose parent is ``parent``, when given)."""
        # the tree narrows by bounding box; the prepared ``covers`` decides (a point on a border is
        # covered by both neighbours: the lowest index, i.e. the first in the file, wins, so the
        # answer never depends on the tree's internal order)
        for i in sorted(int(i) for i in self._tree.query(point)):
            area = self.areas[i]
            if (parent is None or area.district.parent == parent) and area.geometry.covers(point):
                return area
        return None

    def near(self, box: tuple[float, float, float, float]) -> list[_Area]:
        min_lat, min_lon, max_lat, max_lon = box
        hits = self._tree.query(shapely.box(min_lon, min_lat, max_lon, max_lat))
        return [self.areas[i] for i in sorted(int(i) for i in hits)]


class ServiceArea:
    """A city and its districts, loaded from GeoJSON. Immutable; safe to share between tasks."""

    def __init__(self, city_name: str, city: BaseGeometry, districts: Iterable[_Area]) -> None:
        """Use :meth:`load`; this constructor trusts that the geometries are valid and prepared."""
        self._city_name = city_name
        self._city = city
        areas = list(districts)
        self._kecamatan = _Index([a for a in areas if a.district.level == "kecamatan"])
        kelurahan = [a for a in areas if a.district.level == "kelurahan"]
        self._kelurahan = _Index(kelurahan) if kelurahan else None
        min_lon, min_lat, max_lon, max_lat = city.bounds
        self._bounds = (min_lat, min_lon, max_lat, max_lon)

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path | str) -> ServiceArea:
        """Read and validate a GeoJSON boundary file; raise :class:`GeoDataError` naming the problem."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise GeoDataError(f"{path}: file not found") from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise GeoDataError(f"{path}: cannot read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise GeoDataError(f"{path}: not valid JSON: {exc}") from exc
        return cls.from_geojson(raw, source=str(path))

    @classmethod
    def from_geojson(cls, data: Any, *, source: str = "<geojson>") -> ServiceArea:
        """Validate an already parsed FeatureCollection (``source`` names it in errors)."""

        def fail(problem: str) -> GeoDataError:
            return GeoDataError(f"{source}: {problem}")

        if not isinstance(data, Mapping) or data.get("type") != "FeatureCollection":
            raise fail('expected a GeoJSON FeatureCollection ({"type": "FeatureCollection", ...})')
        features = data.get("features")
        if not isinstance(features, list):
            raise fail("features: expected a list")

        city: tuple[str, BaseGeometry] | None = None
        areas: list[_Area] = []
        seen: set[tuple[str, str, str | None]] = set()
        for i, feature in enumerate(features):
            where = f"features[{i}]"
            if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
                raise fail(f"{where}: expected a Feature")
            props = feature.get("properties")
            if not isinstance(props, Mapping):
                raise fail(f"{where}: properties: expected an object with level and name")
            level, name = props.get("level"), props.get("name")
            if level not in LEVELS:
                raise fail(f"{where}: properties.level: unknown level {level!r} (expected one of {', '.join(LEVELS)})")
            if not isinstance(name, str) or not name.strip():
                raise fail(f"{where}: properties.name: expected a non-empty string")
            where = f"{where} ({level} {name!r})"
            geometry = _polygon(feature.get("geometry"), fail, where)
            if level == "city":
                if city is not None:
                    raise fail(f"{where}: a second city feature (the first is {city[0]!r})")
                city = (name, geometry)
                continue
            parent = props.get("parent")
            if level == "kelurahan":
                if not isinstance(parent, str) or not parent:
                    raise fail(f"{where}: properties.parent: a kelurahan must name its kecamatan")
            else:
                parent = None
            # kelurahan names may repeat in different kecamatan; within one parent they may not
            if (level, name, parent) in seen:
                raise fail(f"{where}: duplicate {level} name" + (f" in kecamatan {parent!r}" if parent else ""))
            seen.add((level, name, parent))
            areas.append(_Area(District(name=name, level=level, parent=parent), geometry))

        if city is None:
            raise fail('no city feature (one feature must have properties {"level": "city", "name": ...})')
        if not any(a.district.level == "kecamatan" for a in areas):
            raise fail('no kecamatan features (properties {"level": "kecamatan", "name": ...})')
        city_name, city_geometry = city
        kecamatan = {a.district.name: a.geometry for a in areas if a.district.level == "kecamatan"}
        for area in areas:
            district = area.district
            if district.level == "kecamatan":
                _require_within(area.geometry, city_geometry, fail, f"kecamatan {district.name!r}", "the city")
            else:
                parent_geometry = kecamatan.get(str(district.parent))
                if parent_geometry is None:
                    raise fail(f"kelurahan {district.name!r}: parent {district.parent!r} is not a kecamatan in this file")
                _require_within(
                    area.geometry, parent_geometry, fail, f"kelurahan {district.name!r}", f"kecamatan {district.parent!r}"
                )

        for geometry in (city_geometry, *(a.geometry for a in areas)):
            shapely.prepare(geometry)
        return cls(city_name, city_geometry, areas)

    # --- queries ------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return f"ServiceArea({self._city_name!r}, {len(self._kecamatan.areas)} kecamatan)"

    @property
    def city_name(self) -> str:
        return self._city_name

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(min_lat, min_lon, max_lat, max_lon)`` of the city: the geocoder's viewbox."""
        return self._bounds

    def district_names(self) -> tuple[str, ...]:
        """The kecamatan names in file order (for menus and validation of typed names)."""
        return tuple(a.district.name for a in self._kecamatan.areas)

    def kecamatan_shapes(self) -> tuple[tuple[str, BaseGeometry], ...]:
        """Each kecamatan's name and polygon (lon/lat), in file order: for drawing them (the dashboard's map)."""
        return tuple((a.district.name, a.geometry) for a in self._kecamatan.areas)

    @property
    def city_shape(self) -> BaseGeometry:
        """The city boundary (lon/lat), for drawing it."""
        return self._city

    def contains(self, lat: float, lon: float) -> bool:
        """Whether the pin is inside the city (its boundary counts as inside)."""
        point = _point(lat, lon)
        return point is not None and self._city.covers(point)

    def district_at(self, lat: float, lon: float) -> District | None:
        """The kecamatan holding the pin, or None outside every kecamatan.

        A pin exactly on a shared border belongs to the kecamatan that comes first in the file.
        """
        point = _point(lat, lon)
        if point is None:
            return None
        found = self._kecamatan.at(point)
        return found.district if found else None

    def place_at(self, lat: float, lon: float) -> Place:
        """Kecamatan, kelurahan (when the file has them) and whether the pin is in the city."""
        point = _point(lat, lon)
        if point is None:
            return Place(kecamatan=None, kelurahan=None, inside=False)
        kecamatan = self._kecamatan.at(point)
        kecamatan_name = kecamatan.district.name if kecamatan else None
        kelurahan: _Area | None = None
        if self._kelurahan is not None:
            # only a kelurahan of the kecamatan found, so a pin on a kecamatan border never gets a
            # kelurahan from the other side; kelurahan that stick out of their kecamatan a little
            # (separately digitised files) still answer, with their own parent
            kelurahan = self._kelurahan.at(point, parent=kecamatan_name)
            if kelurahan is None and kecamatan is None:
                kelurahan = self._kelurahan.at(point)
                kecamatan_name = kelurahan.district.parent if kelurahan else None
        return Place(
            kecamatan=kecamatan_name,
            kelurahan=kelurahan.district.name if kelurahan else None,
            inside=self._city.covers(point),
        )

    def nearest_district(self, lat: float, lon: float, max_km: float = 0.5) -> District | None:
        """The kecamatan holding the pin or, failing that, the closest one within ``max_km``.

        For pins just outside every polygon: on the river bank, in a sliver an official file leaves,
        or a GPS fix a few metres past the city line. Ties go to the first in the file.
        """
        inside = self.district_at(lat, lon)
        if inside is not None or max_km <= 0:
            return inside
        point = _point(lat, lon)
        if point is None:
            return None
        best: tuple[float, District] | None = None
        for area in self._kecamatan.near(bounding_box(lat, lon, max_km * 1000)):
            _, nearest = nearest_points(point, area.geometry)
            metres = haversine_m(lat, lon, nearest.y, nearest.x)
            if metres <= max_km * 1000 and (best is None or metres < best[0]):
                best = (metres, area.district)
        return best[1] if best else None


# --- distance helpers -----------------------------------------------------------------------------


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres on the mean-radius sphere (error < 0.5% against the ellipsoid,
    far below a phone's GPS error, and needs no geodesic library in the hot path)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """``(min_lat, min_lon, max_lat, max_lon)`` holding every point within ``radius_m`` of the centre.

    For an indexed ``BETWEEN`` pre-filter before :func:`haversine_m` (nearby duplicates). The
    longitude half-width is the exact spherical one, ``asin(sin(d) / cos(lat))``, not ``d / cos(lat)``,
    which is slightly too narrow and would miss points at the edge. Near a pole the box spans all
    longitudes; a box crossing the antimeridian also spans all longitudes (never an issue in
    Indonesia, but never wrong either).
    """
    if radius_m < 0 or not math.isfinite(radius_m):
        raise ValueError(f"radius_m must be a finite number >= 0, got {radius_m!r}")
    angular = radius_m / EARTH_RADIUS_M
    dlat = math.degrees(angular)
    min_lat, max_lat = lat - dlat, lat + dlat
    if min_lat <= -90 or max_lat >= 90 or angular >= math.pi / 2:
        return (max(min_lat, -90.0), -180.0, min(max_lat, 90.0), 180.0)
    dlon = math.degrees(math.asin(min(1.0, math.sin(angular) / math.cos(math.radians(lat)))))
    # a hair of slack so a point exactly on the radius is not lost to floating-point rounding
    dlat_pad, dlon_pad = dlat * 1e-9 + 1e-12, dlon * 1e-9 + 1e-12
    min_lat, max_lat = lat - dlat - dlat_pad, lat + dlat + dlat_pad
    min_lon, max_lon = lon - dlon - dlon_pad, lon + dlon + dlon_pad
    if min_lon < -180 or max_lon > 180:
        return (min_lat, -180.0, max_lat, 180.0)
    return (min_lat, min_lon, max_lat, max_lon)


# --- internals ------------------------------------------------------------------------------------


def _point(lat: float, lon: float) -> Point | None:
    """A shapely point (lon, lat), or None for coordinates no phone can send (NaN, out of range)."""
    if not (math.isfinite(lat) and math.isfinite(lon)) or abs(lat) > 90 or abs(lon) > 180:
        return None
    return Point(lon, lat)


def _polygon(raw: Any, fail: _Fail, where: str) -> BaseGeometry:
    """A valid (Multi)Polygon in lon/lat from a GeoJSON geometry object, or a GeoDataError."""
    if not isinstance(raw, Mapping) or raw.get("type") not in ("Polygon", "MultiPolygon"):
        kind = raw.get("type") if isinstance(raw, Mapping) else type(raw).__name__
        raise fail(f"{where}: geometry: expected a Polygon or MultiPolygon, got {kind!r}")
    try:
        geometry = shape(raw)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise fail(f"{where}: geometry: malformed coordinates: {exc}") from exc
    if not isinstance(geometry, Polygon | MultiPolygon) or geometry.is_empty:
        raise fail(f"{where}: geometry: empty polygon")
    min_x, min_y, max_x, max_y = geometry.bounds
    if not all(math.isfinite(v) for v in geometry.bounds) or min_y < -90 or max_y > 90 or min_x < -180 or max_x > 180:
        raise fail(f"{where}: geometry: coordinates out of range (GeoJSON order is [longitude, latitude])")
    if not geometry.is_valid:
        raise fail(f"{where}: geometry: invalid polygon: {shapely.is_valid_reason(geometry)}")
    if geometry.area == 0:
        raise fail(f"{where}: geometry: polygon has no area")
    return geometry


def _require_within(inner: BaseGeometry, outer: BaseGeometry, fail: _Fail, what: str, container: str) -> None:
    """Reject ``inner`` when more than a sliver of it lies outside ``outer``."""
    outside = inner.difference(outer).area
    if outside > inner.area * _OUTSIDE_TOLERANCE:
        share = 100 * outside / inner.area
        hint = " (GeoJSON order is [longitude, latitude])" if share >= 99.9 else ""
        raise fail(f"{what}: {share:.1f}% of it lies outside {container}{hint}")
