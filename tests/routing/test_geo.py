"""The service area (which kecamatan a pin is in) and the distance helpers.

The bundled Kota Jambi file is approximate, but the coming area routing trusts two of its
properties blindly: every pin in the city lands in exactly one kecamatan (the polygons tile the city),
and a broken replacement file stops the start with a message naming the problem instead of quietly
answering "outside the city" for every complaint.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import shapely
from geopy.distance import great_circle
from shapely.geometry import shape

from routing.data import make_sample_geojson
from routing.geo import (
    EARTH_RADIUS_M,
    SAMPLE_GEOJSON,
    District,
    GeoDataError,
    Place,
    ServiceArea,
    bounding_box,
    haversine_m,
)

CENTRES: dict[str, tuple[float, float]] = {
    "Telanaipura": (-1.595, 103.575),
    "Danau Sipin": (-1.600, 103.598),
    "Pasar Jambi": (-1.592, 103.615),
    "Jelutung": (-1.617, 103.620),
    "Jambi Timur": (-1.605, 103.640),
    "Kota Baru": (-1.638, 103.598),
    "Alam Barajo": (-1.640, 103.560),
    "Jambi Selatan": (-1.645, 103.625),
    "Paal Merah": (-1.650, 103.655),
    "Danau Teluk": (-1.570, 103.605),
    "Pelayangan": (-1.568, 103.640),
}

OUTSIDE = {
    "Muaro Jambi": (-1.75, 103.60),
    "Palembang": (-2.99, 104.76),
    "Jakarta": (-6.2, 106.8),
}


@pytest.fixture(scope="module")
def area() -> ServiceArea:
    return ServiceArea.load(SAMPLE_GEOJSON)


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    data = json.loads(SAMPLE_GEOJSON.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def write(tmp_path: Path, data: Any, name: str = "area.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def square(lon: float, lat: float, size: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + size, lat], [lon + size, lat + size], [lon, lat + size], [lon, lat]]
    return {"type": "Polygon", "coordinates": [ring]}


def feature(level: str, name: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": {"level": level, "name": name, **props}, "geometry": geometry}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


# --- the bundled sample ---------------------------------------------------------------------------


def test_the_sample_names_the_city_and_its_eleven_kecamatan(area: ServiceArea) -> None:
    assert area.city_name == "Kota Jambi"
    assert sorted(area.district_names()) == sorted(CENTRES)


@pytest.mark.parametrize("name", sorted(CENTRES))
def test_each_kecamatan_centre_is_inside_its_own_kecamatan(area: ServiceArea, name: str) -> None:
    lat, lon = CENTRES[name]
    assert area.contains(lat, lon)
    assert area.district_at(lat, lon) == District(name=name, level="kecamatan")
    assert area.place_at(lat, lon) == Place(kecamatan=name, kelurahan=None, inside=True)


@pytest.mark.parametrize("lat", [-1.584, -1.580, -1.575])
def test_the_river_north_of_minus_1_585_near_103_64_is_pelayangan(area: ServiceArea, lat: float) -> None:
    for lon in (103.635, 103.640, 103.645):
        district = area.district_at(lat, lon)
        assert district is not None and district.name == "Pelayangan", (lat, lon)


def test_danau_teluk_is_west_of_pelayangan_and_both_north_of_the_river(area: ServiceArea) -> None:
    assert area.district_at(-1.560, 103.590) == District("Danau Teluk", "kecamatan")
    assert area.district_at(-1.560, 103.660) == District("Pelayangan", "kecamatan")
    # just south of the river line, the same longitudes are south-bank kecamatan
    assert area.district_at(-1.600, 103.660) == District("Jambi Timur", "kecamatan")


@pytest.mark.parametrize("place", sorted(OUTSIDE))
def test_points_outside_the_city_are_outside(area: ServiceArea, place: str) -> None:
    lat, lon = OUTSIDE[place]
    assert not area.contains(lat, lon)
    assert area.district_at(lat, lon) is None
    assert area.place_at(lat, lon) == Place(kecamatan=None, kelurahan=None, inside=False)
    assert area.nearest_district(lat, lon, max_km=1) is None


@pytest.mark.parametrize("lat, lon", [(math.nan, 103.6), (-1.6, math.inf), (91.0, 103.6), (-1.6, 181.0)])
def test_impossible_coordinates_are_nowhere(area: ServiceArea, lat: float, lon: float) -> None:
    assert not area.contains(lat, lon)
    assert area.district_at(lat, lon) is None
    assert area.place_at(lat, lon).inside is False


def test_the_kecamatan_tile_the_city_without_gaps_or_overlaps(sample: dict[str, Any]) -> None:
    city = [shape(f["geometry"]) for f in sample["features"] if f["properties"]["level"] == "city"]
    kecamatan = [shape(f["geometry"]) for f in sample["features"] if f["properties"]["level"] == "kecamatan"]
    assert len(city) == 1 and len(kecamatan) == 11
    union = shapely.union_all(kecamatan)
    assert union.area == pytest.approx(city[0].area, rel=1e-3)
    assert city[0].symmetric_difference(union).area < city[0].area * 1e-3
    for a, b in itertools.combinations(kecamatan, 2):
        assert a.intersection(b).area < 1e-12


def test_every_point_of_a_grid_over_the_city_has_exactly_one_kecamatan(
    area: ServiceArea, sample: dict[str, Any]
) -> None:
    polygons = [shape(f["geometry"]) for f in sample["features"] if f["properties"]["level"] == "kecamatan"]
    min_lat, min_lon, max_lat, max_lon = area.bounds
    inside = 0
    for i, j in itertools.product(range(1, 40), range(1, 40)):
        lat = min_lat + (max_lat - min_lat) * i / 40
        lon = min_lon + (max_lon - min_lon) * j / 40
        if not area.contains(lat, lon):
            assert area.district_at(lat, lon) is None
            continue
        inside += 1
        assert area.district_at(lat, lon) is not None, (lat, lon)
        assert sum(p.contains(shapely.Point(lon, lat)) for p in polygons) <= 1
    assert inside > 1000


def test_the_sample_says_loudly_that_it_is_approximate(sample: dict[str, Any]) -> None:
    assert "APPROXIMATE" in sample["name"] and "official" in sample["description"]
    for f in sample["features"]:
        assert f["properties"]["approximate"] is True
        assert "approximate" in f["properties"]["source"]


def test_the_sample_is_what_the_generator_produces() -> None:
    """The committed file is reproducible: editing the script without regenerating is caught here."""
    assert make_sample_geojson.render() == SAMPLE_GEOJSON.read_text(encoding="utf-8")


def test_coordinates_are_lon_lat_with_at_most_five_decimals(sample: dict[str, Any]) -> None:
    for f in sample["features"]:
        for ring in f["geometry"]["coordinates"]:
            for lon, lat in ring:
                assert 103.5 < lon < 103.71 and -1.71 < lat < -1.52
                assert round(lon, 5) == lon and round(lat, 5) == lat


def test_bounds_are_lat_lon_and_inside_the_expected_box(area: ServiceArea) -> None:
    min_lat, min_lon, max_lat, max_lon = area.bounds
    assert -1.70 <= min_lat < max_lat <= -1.53
    assert 103.52 <= min_lon < max_lon <= 103.70


def test_a_point_on_a_shared_border_always_resolves_to_the_same_kecamatan(sample: dict[str, Any]) -> None:
    """Both neighbours cover a border point; the first in the file wins, whatever the tree's order."""
    features = [f for f in sample["features"] if f["properties"]["level"] == "kecamatan"]
    first, second = (f for f in features if f["properties"]["name"] in ("Danau Sipin", "Pasar Jambi"))
    border = shape(first["geometry"]).intersection(shape(second["geometry"]))
    assert border.length > 0
    vertex_lon, vertex_lat = border.coords[0] if hasattr(border, "coords") else border.geoms[0].coords[0]
    city = next(f for f in sample["features"] if f["properties"]["level"] == "city")
    forward = ServiceArea.from_geojson(collection(city, first, second))
    backward = ServiceArea.from_geojson(collection(city, second, first))
    for _ in range(3):
        assert forward.district_at(vertex_lat, vertex_lon) == District(first["properties"]["name"], "kecamatan")
        assert backward.district_at(vertex_lat, vertex_lon) == District(second["properties"]["name"], "kecamatan")


def test_a_pin_just_outside_goes_to_the_nearest_kecamatan_within_the_limit(area: ServiceArea) -> None:
    # ~110 m north of the city's northern edge at 103.612 (the edge is at about -1.533)
    lat, lon = -1.532, 103.612
    assert not area.contains(lat, lon)
    assert area.nearest_district(lat, lon, max_km=0.5) == District("Danau Teluk", "kecamatan")
    assert area.nearest_district(lat, lon, max_km=0.05) is None
    inside = CENTRES["Jelutung"]
    assert area.nearest_district(*inside, max_km=0) == District("Jelutung", "kecamatan")


# --- kelurahan ------------------------------------------------------------------------------------


def test_kelurahan_are_found_within_their_kecamatan(tmp_path: Path) -> None:
    data = collection(
        feature("city", "Kota Uji", square(100.0, 0.0, 2.0)),
        feature("kecamatan", "Barat", square(100.0, 0.0, 1.0)),
        feature("kecamatan", "Timur", square(101.0, 0.0, 1.0)),
        feature("kelurahan", "Satu", square(100.0, 0.0, 0.5), parent="Barat"),
        feature("kelurahan", "Satu", square(101.0, 0.0, 0.5), parent="Timur"),  # same name, other kecamatan
    )
    area = ServiceArea.load(write(tmp_path, data))
    assert area.district_names() == ("Barat", "Timur")
    assert area.place_at(0.25, 100.25) == Place(kecamatan="Barat", kelurahan="Satu", inside=True)
    assert area.place_at(0.25, 101.25) == Place(kecamatan="Timur", kelurahan="Satu", inside=True)
    assert area.place_at(0.75, 100.75) == Place(kecamatan="Barat", kelurahan=None, inside=True)
    # inside the city but in no kecamatan
    assert area.place_at(1.5, 100.5) == Place(kecamatan=None, kelurahan=None, inside=True)
    # on the Barat/Timur border: the kecamatan first in the file, and only its own kelurahan
    assert area.place_at(0.25, 101.0) == Place(kecamatan="Barat", kelurahan=None, inside=True)
    assert area.district_at(0.25, 100.25) == District("Barat", "kecamatan")


# --- bad files ------------------------------------------------------------------------------------


def _city_and_one() -> dict[str, Any]:
    return collection(
        feature("city", "Kota Uji", square(100.0, 0.0, 1.0)),
        feature("kecamatan", "Tengah", square(100.0, 0.0, 1.0)),
    )


def _bowtie() -> dict[str, Any]:
    ring = [[100.0, 0.0], [101.0, 1.0], [101.0, 0.0], [100.0, 1.0], [100.0, 0.0]]
    return {"type": "Polygon", "coordinates": [ring]}


BAD_FILES: dict[str, tuple[Any, str]] = {
    "not a collection": ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
    "features not a list": ({"type": "FeatureCollection", "features": {}}, "features: expected a list"),
    "no city": (collection(feature("kecamatan", "Tengah", square(100.0, 0.0, 1.0))), "no city feature"),
    "two cities": (
        collection(
            feature("city", "A", square(100.0, 0.0, 1.0)),
            feature("city", "B", square(100.0, 0.0, 1.0)),
        ),
        "a second city feature",
    ),
    "no kecamatan": (collection(feature("city", "A", square(100.0, 0.0, 1.0))), "no kecamatan features"),
    "unknown level": (
        collection(feature("city", "A", square(100.0, 0.0, 1.0)), feature("desa", "X", square(100.0, 0.0, 1.0))),
        "features[1]: properties.level: unknown level 'desa'",
    ),
    "no name": (collection(feature("city", "", square(100.0, 0.0, 1.0))), "properties.name"),
    "a point": (
        collection(feature("city", "A", {"type": "Point", "coordinates": [100.0, 0.0]})),
        "expected a Polygon or MultiPolygon, got 'Point'",
    ),
    "malformed": (
        collection(feature("city", "A", {"type": "Polygon", "coordinates": [[[100.0]]]})),
        "malformed coordinates",
    ),
    "invalid polygon": (
        collection(feature("city", "A", square(100.0, 0.0, 1.0)), feature("kecamatan", "Dasi", _bowtie())),
        "features[1] (kecamatan 'Dasi'): geometry: invalid polygon: Self-intersection",
    ),
    "swapped coordinates": (
        collection(feature("city", "A", square(-1.7, 103.5, 0.2))),
        "coordinates out of range (GeoJSON order is [longitude, latitude])",
    ),
    "kecamatan outside": (
        collection(feature("city", "A", square(100.0, 0.0, 1.0)), feature("kecamatan", "Jauh", square(105.0, 0.0, 1.0))),
        "kecamatan 'Jauh': 100.0% of it lies outside the city",
    ),
    "kecamatan half outside": (
        collection(feature("city", "A", square(100.0, 0.0, 1.0)), feature("kecamatan", "Luber", square(100.5, 0.0, 1.0))),
        "kecamatan 'Luber': 50.0% of it lies outside the city",
    ),
    "duplicate kecamatan": (
        collection(
            feature("city", "A", square(100.0, 0.0, 1.0)),
            feature("kecamatan", "Tengah", square(100.0, 0.0, 0.5)),
            feature("kecamatan", "Tengah", square(100.5, 0.5, 0.5)),
        ),
        "duplicate kecamatan name",
    ),
    "kelurahan without parent": (
        {**_city_and_one(), "features": [*_city_and_one()["features"], feature("kelurahan", "K", square(100.0, 0.0, 0.5))]},
        "a kelurahan must name its kecamatan",
    ),
    "kelurahan with unknown parent": (
        {
            **_city_and_one(),
            "features": [
                *_city_and_one()["features"],
                feature("kelurahan", "K", square(100.0, 0.0, 0.5), parent="Entah"),
            ],
        },
        "kelurahan 'K': parent 'Entah' is not a kecamatan in this file",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_is_rejected_with_the_file_and_the_problem(tmp_path: Path, case: str) -> None:
    data, problem = BAD_FILES[case]
    path = write(tmp_path, data)
    with pytest.raises(GeoDataError) as caught:
        ServiceArea.load(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert problem in str(caught.value)


def test_a_file_that_is_not_json_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "area.geojson"
    path.write_text("<kml>not json</kml>", encoding="utf-8")
    with pytest.raises(GeoDataError, match=r"area\.geojson: not valid JSON"):
        ServiceArea.load(path)


def test_a_missing_file_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(GeoDataError, match=r"nowhere\.geojson: file not found"):
        ServiceArea.load(tmp_path / "nowhere.geojson")


def test_a_sliver_outside_the_city_is_tolerated(sample: dict[str, Any]) -> None:
    """Official kecamatan and city files rarely match to the metre: a few metres out is not an error."""
    data = copy.deepcopy(sample)
    ring = data["features"][1]["geometry"]["coordinates"][0]
    ring[1] = [ring[1][0] + 0.00001, ring[1][1] + 0.00001]  # ~1.5 m
    ServiceArea.from_geojson(data)


# --- distance helpers -----------------------------------------------------------------------------


def test_haversine_one_degree_of_latitude() -> None:
    assert haversine_m(0.0, 103.6, 1.0, 103.6) == pytest.approx(math.pi / 180 * EARTH_RADIUS_M)
    assert haversine_m(-1.6, 103.6, -1.6, 103.6) == 0.0


def test_haversine_against_known_distances() -> None:
    # the classic worked example (Rosetta Code): Nashville BNA to Los Angeles LAX is 2887.2599506 km on a
    # sphere of radius 6372.8 km; the distance scales with the radius
    assert haversine_m(36.12, -86.67, 33.94, -118.40) == pytest.approx(
        2_887_259.9506 * EARTH_RADIUS_M / 6_372_800, rel=1e-9
    )
    # Jambi (Tugu Keris Siginjai) to Palembang (Ampera bridge): about 200 km as the crow flies
    assert haversine_m(-1.6101, 103.6131, -2.9917, 104.7631) == pytest.approx(200_000, rel=0.01)
    # and against geopy's great circle on the same sphere, a few pairs around Jambi
    rng = random.Random(7)
    for _ in range(20):
        a = (rng.uniform(-1.8, -1.4), rng.uniform(103.4, 103.8))
        b = (rng.uniform(-1.8, -1.4), rng.uniform(103.4, 103.8))
        expected = great_circle(a, b, radius=EARTH_RADIUS_M / 1000).meters
        assert haversine_m(*a, *b) == pytest.approx(expected, rel=1e-9, abs=1e-6)


def _destination(lat: float, lon: float, bearing: float, metres: float) -> tuple[float, float]:
    """The point ``metres`` away along ``bearing`` (radians) on the same sphere."""
    d = metres / EARTH_RADIUS_M
    phi, lam = math.radians(lat), math.radians(lon)
    phi2 = math.asin(math.sin(phi) * math.cos(d) + math.cos(phi) * math.sin(d) * math.cos(bearing))
    lam2 = lam + math.atan2(math.sin(bearing) * math.sin(d) * math.cos(phi), math.cos(d) - math.sin(phi) * math.sin(phi2))
    return math.degrees(phi2), math.degrees(lam2)


@pytest.mark.parametrize("centre", [(-1.6, 103.6), (0.0, 103.6), (-6.2, 106.8), (60.0, 10.0)])
@pytest.mark.parametrize("radius_m", [25.0, 150.0, 2_000.0])
def test_the_bounding_box_holds_every_point_within_the_radius(centre: tuple[float, float], radius_m: float) -> None:
    lat, lon = centre
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius_m)
    assert min_lat < lat < max_lat and min_lon < lon < max_lon
    rng = random.Random(f"{centre}{radius_m}")
    # random points inside the circle, the points exactly on it at the extreme bearings, and random
    # points on the circle (where a too-narrow box fails first)
    points = [_destination(lat, lon, rng.uniform(0, 2 * math.pi), radius_m * math.sqrt(rng.random())) for _ in range(300)]
    points += [_destination(lat, lon, b, radius_m) for b in (0, math.pi / 2, math.pi, 3 * math.pi / 2)]
    points += [_destination(lat, lon, rng.uniform(0, 2 * math.pi), radius_m) for _ in range(300)]
    for plat, plon in points:
        assert haversine_m(lat, lon, plat, plon) <= radius_m * (1 + 1e-9)
        assert min_lat <= plat <= max_lat and min_lon <= plon <= max_lon, (plat, plon)


def test_the_bounding_box_is_tight() -> None:
    """Not just correct but useful as an index pre-filter: barely larger than the circle."""
    min_lat, min_lon, max_lat, max_lon = bounding_box(-1.6, 103.6, 1_000)
    height = haversine_m(min_lat, 103.6, max_lat, 103.6)
    width = haversine_m(-1.6, min_lon, -1.6, max_lon)
    assert height == pytest.approx(2_000, rel=1e-6)
    assert width == pytest.approx(2_000, rel=1e-3)


def test_the_bounding_box_near_a_pole_spans_all_longitudes() -> None:
    assert bounding_box(89.999, 0.0, 1_000)[1:4:2] == (-180.0, 180.0)
    with pytest.raises(ValueError):
        bounding_box(-1.6, 103.6, -1)
