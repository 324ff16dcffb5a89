"""Generate ``kota_jambi.geojson``: an APPROXIMATE sample of Kota Jambi and its 11 kecamatan.

Official boundaries (BIG / BPS) are not available offline, so SiKesal ships a stand-in that is good
enough to develop and test "which kecamatan is this pin in?" but must not be used to decide anything
real. A city replaces the output with its official file (see ``docs/geography.md``).

How the sample is built (deterministic: the same input always gives byte-identical output):

1. a hand-drawn city boundary inside lat -1.70..-1.53, lon 103.52..103.70;
2. a hand-drawn Batanghari river line (west-east, around lat -1.585) splits it into a north and a
   south bank;
3. each bank is divided among its own kecamatan centres by Voronoi cells (Danau Teluk and
   Pelayangan north of the river, the other nine south), so no kecamatan crosses the river;
4. all borders (outline, river, Voronoi edges) are noded together on the 5-decimal grid (about 1 m)
   and rebuilt with ``polygonize``, so neighbours share exactly the same vertices and the kecamatan
   tile the city without gaps or overlaps, also after rounding;
5. the city feature is the union of the kecamatan, so it matches them exactly.

Run from the repository root::

    .venv/bin/python routing/data/make_sample_geojson.py          # rewrites routing/data/kota_jambi.geojson
    .venv/bin/python routing/data/make_sample_geojson.py --check  # exit 1 if the committed file is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, MultiPoint, Point, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient
from shapely.ops import split

OUTPUT = Path(__file__).with_name("kota_jambi.geojson")
DECIMALS = 5  # ~1.1 m at the equator: far finer than an approximate boundary deserves

SOURCE = "SiKesal sample: approximate, replace with the city's official boundaries (BIG/BPS)"

#: (lon, lat), clockwise from the west: a rough outline of Kota Jambi
CITY_OUTLINE: tuple[tuple[float, float], ...] = (
    (103.522, -1.602),
    (103.534, -1.572),
    (103.552, -1.552),
    (103.580, -1.541),
    (103.612, -1.533),
    (103.645, -1.536),
    (103.672, -1.546),
    (103.692, -1.568),
    (103.698, -1.604),
    (103.690, -1.642),
    (103.668, -1.676),
    (103.632, -1.694),
    (103.592, -1.697),
    (103.556, -1.684),
    (103.531, -1.656),
)

#: (lon, lat), west to east, running past the outline on both sides so it always splits it in two.
#: Between lon 103.63 and 103.65 it stays south of -1.585 (the tests rely on that).
BATANGHARI: tuple[tuple[float, float], ...] = (
    (103.500, -1.592),
    (103.555, -1.589),
    (103.590, -1.583),
    (103.615, -1.5855),
    (103.630, -1.587),
    (103.650, -1.587),
    (103.670, -1.583),
    (103.710, -1.588),
)

#: name -> (lat, lon) approximate centre, and whether it lies north of the Batanghari
KECAMATAN: dict[str, tuple[float, float, bool]] = {
    "Alam Barajo": (-1.640, 103.560, False),
    "Danau Sipin": (-1.600, 103.598, False),
    "Danau Teluk": (-1.570, 103.605, True),
    "Jambi Selatan": (-1.645, 103.625, False),
    "Jambi Timur": (-1.605, 103.640, False),
    "Jelutung": (-1.617, 103.620, False),
    "Kota Baru": (-1.638, 103.598, False),
    "Paal Merah": (-1.650, 103.655, False),
    "Pasar Jambi": (-1.592, 103.615, False),
    "Pelayangan": (-1.568, 103.640, True),
    "Telanaipura": (-1.595, 103.575, False),
}


def _banks(city: Polygon) -> tuple[BaseGeometry, BaseGeometry]:
    """(north, south) halves of the city on either side of the river."""
    parts = sorted(split(city, LineString(BATANGHARI)).geoms, key=lambda g: g.centroid.y)
    if len(parts) != 2:
        raise RuntimeError(f"the river should split the city in two, got {len(parts)} parts")
    return parts[1], parts[0]


def _voronoi_edges(bank: BaseGeometry, centres: list[Point]) -> list[BaseGeometry]:
    """The borders between the centres' Voronoi cells, clipped to their bank."""
    if len(centres) < 2:
        return []
    regions = shapely.voronoi_polygons(MultiPoint(centres), extend_to=bank.envelope.buffer(0.1))
    return [region.boundary.intersection(bank) for region in regions.geoms]


def _faces(city: Polygon) -> list[Polygon]:
    """Every border (outline, river, Voronoi edges) snap-rounded to the output grid and polygonized.

    Clipping each cell on its own would leave T-junctions (a vertex on one side of a border, none on
    the other) and rounding would then open slivers. Noding all the linework at once on the
    ``10**-DECIMALS`` grid gives faces whose shared borders have identical vertices, so they tile the
    city exactly even after rounding.
    """
    river = LineString(BATANGHARI)
    north, south = _banks(city)
    lines: list[BaseGeometry] = [city.boundary, river.intersection(city)]
    for bank, on_north in ((north, True), (south, False)):
        centres = [Point(lon, lat) for lat, lon, is_north in KECAMATAN.values() if is_north == on_north]
        lines += _voronoi_edges(bank, centres)
    linework = shapely.union_all(lines, grid_size=10.0**-DECIMALS)
    faces = shapely.polygonize(list(shapely.get_parts(linework))).geoms
    return [shapely.transform(face, lambda xy: np.round(xy, DECIMALS)) for face in faces]


def _cells(city: Polygon) -> dict[str, Polygon]:
    """kecamatan name -> its polygon: the face holding its centre.

    Every face must hold exactly one centre: a face with none would be a hole in the tiling.
    """
    owned: dict[str, list[BaseGeometry]] = {name: [] for name in KECAMATAN}
    for face in _faces(city):
        owners = [name for name, (lat, lon, _) in KECAMATAN.items() if face.contains(Point(lon, lat))]
        if len(owners) != 1:
            raise RuntimeError(f"a face at {face.representative_point()} holds {len(owners)} centres")
        owned[owners[0]].append(face)
    cells: dict[str, Polygon] = {}
    for name, faces in sorted(owned.items()):
        cell = shapely.union_all(faces)
        if not isinstance(cell, Polygon) or not cell.is_valid:
            raise RuntimeError(f"{name}: not one valid polygon ({shapely.is_valid_reason(cell)})")
        cells[name] = cell
    return cells


def _ring(coords: Any) -> list[list[float]]:
    """A ring as GeoJSON [lon, lat] pairs without consecutive duplicates left by rounding."""
    out: list[list[float]] = []
    for x, y in coords:
        pair = [round(float(x), DECIMALS), round(float(y), DECIMALS)]
        if not out or out[-1] != pair:
            out.append(pair)
    return out


def _geojson_polygon(polygon: BaseGeometry) -> dict[str, Any]:
    if not isinstance(polygon, Polygon):
        raise RuntimeError(f"expected a single polygon, got {polygon.geom_type}")
    # GeoJSON (RFC 7946) wants the exterior counter-clockwise
    polygon = orient(polygon, sign=1.0)
    rings = [_ring(polygon.exterior.coords), *(_ring(r.coords) for r in polygon.interiors)]
    return {"type": "Polygon", "coordinates": rings}


def build() -> dict[str, Any]:
    """The FeatureCollection as a JSON-ready dict."""
    cells = _cells(Polygon(CITY_OUTLINE))
    city = shapely.union_all(list(cells.values()))
    features = [
        {
            "type": "Feature",
            "properties": {"level": "city", "name": "Kota Jambi", "approximate": True, "source": SOURCE},
            "geometry": _geojson_polygon(city),
        }
    ]
    features += [
        {
            "type": "Feature",
            "properties": {"level": "kecamatan", "name": name, "approximate": True, "source": SOURCE},
            "geometry": _geojson_polygon(polygon),
        }
        for name, polygon in cells.items()
    ]
    return {
        "type": "FeatureCollection",
        "name": "Kota Jambi (APPROXIMATE SAMPLE)",
        "description": (
            "APPROXIMATE boundaries of Kota Jambi and its 11 kecamatan, generated by "
            "routing/data/make_sample_geojson.py from rough centres and a hand-drawn outline. "
            "NOT official: replace with the city's official boundaries (BIG/BPS) before relying on it."
        ),
        "features": features,
    }


def render() -> str:
    """The file's exact text (one feature per line keeps diffs readable)."""
    collection = build()
    features = collection.pop("features")
    head = json.dumps(collection, ensure_ascii=False)[:-1]
    body = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features)
    return f'{head}, "features": [\n{body}\n]}}\n'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="do not write; fail if the file is out of date")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run {Path(__file__).name}", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
