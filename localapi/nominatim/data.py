"""Sample streets of Kota Jambi for the local Nominatim server: APPROXIMATE, not survey data.

The names are real Kota Jambi streets with the kelurahan and kecamatan they (mostly) run through, but
the coordinates are hand-placed rough polylines of two or three points, chosen so that each street lies
inside its kecamatan of the bundled approximate boundary sample (``routing/data/kota_jambi.geojson``):
the bot then gets the same kecamatan from the reverse geocoder as from its own boundary lookup. Long
streets cross several kelurahan in reality; the sample keeps one. OSM ids are invented (9-digit, never
looked up), postcodes are the area's usual ones. Do not use this for anything but tests and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the ``licence`` string Nominatim puts in every answer
LICENCE = "Data © OpenStreetMap contributors, ODbL 1.0. http://osm.org/copyright"

CITY = "Jambi"
STATE = "Jambi"
COUNTRY = "Indonesia"
COUNTRY_CODE = "id"
ISO3166_LVL4 = "ID-JA"

#: rough extent of Kota Jambi, (south, west, north, east), as the bundled boundary sample
CITY_BOUNDS = (-1.70, 103.52, -1.53, 103.70)


@dataclass(frozen=True, slots=True)
class Street:
    """One sample street: an OSM-like highway way with the address Nominatim would build for it."""

    osm_id: int
    name: str  # as OSM spells it: "Jalan ..." in full (citizens abbreviate to "Jl.")
    highway: str  # OSM highway=* value: primary, secondary, tertiary, residential
    kelurahan: str
    kecamatan: str
    postcode: str
    path: tuple[tuple[float, float], ...]  # (lat, lon) vertices, APPROXIMATE

    @property
    def center(self) -> tuple[float, float]:
        """A representative (lat, lon) on the street: the middle of its middle segment.

        Nominatim answers a way's centroid snapped onto the way; for these short polylines the
        middle of the middle segment is the same idea and always lies on the line.
        """
        mid = (len(self.path) - 1) // 2
        (lat1, lon1), (lat2, lon2) = self.path[mid], self.path[mid + 1]
        return round((lat1 + lat2) / 2, 7), round((lon1 + lon2) / 2, 7)

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        """(min lat, max lat, min lon, max lon): the order of Nominatim's ``boundingbox``."""
        lats = [p[0] for p in self.path]
        lons = [p[1] for p in self.path]
        return min(lats), max(lats), min(lons), max(lons)


def _s(osm_id: int, name: str, highway: str, kelurahan: str, kecamatan: str, postcode: str,
       *path: tuple[float, float]) -> Street:
    return Street(osm_id, name, highway, kelurahan, kecamatan, postcode, tuple(path))


#: APPROXIMATE sample streets (see the module docstring)
STREETS: tuple[Street, ...] = (
    _s(910000101, "Jalan Gatot Subroto", "primary", "Sungai Asam", "Pasar Jambi", "36113",
       (-1.5985, 103.6085), (-1.5960, 103.6120), (-1.5935, 103.6150)),
    _s(910000102, "Jalan Sultan Thaha", "secondary", "Beringin", "Pasar Jambi", "36111",
       (-1.5900, 103.6120), (-1.5895, 103.6150), (-1.5890, 103.6180)),
    _s(910000103, "Jalan Orang Kayo Hitam", "secondary", "Orang Kayo Hitam", "Pasar Jambi", "36112",
       (-1.5935, 103.6160), (-1.5920, 103.6195)),
    _s(910000104, "Jalan Raden Mattaher", "tertiary", "Sulanjana", "Jambi Timur", "36141",
       (-1.6000, 103.6300), (-1.6020, 103.6350)),
    _s(910000105, "Jalan Pangeran Diponegoro", "tertiary", "Rajawali", "Jambi Timur", "36142",
       (-1.6060, 103.6380), (-1.6090, 103.6430)),
    _s(910000106, "Jalan Jenderal Sudirman", "primary", "Tambak Sari", "Jambi Selatan", "36138",
       (-1.6330, 103.6190), (-1.6400, 103.6230), (-1.6470, 103.6270)),
    _s(910000107, "Jalan Adityawarman", "tertiary", "Thehok", "Jambi Selatan", "36138",
       (-1.6520, 103.6200), (-1.6560, 103.6260)),
    _s(910000108, "Jalan Hayam Wuruk", "secondary", "Talang Jauh", "Jelutung", "36124",
       (-1.6120, 103.6130), (-1.6150, 103.6190), (-1.6180, 103.6240)),
    _s(910000109, "Jalan Sisingamangaraja", "tertiary", "Lebak Bandung", "Jelutung", "36135",
       (-1.6200, 103.6140), (-1.6230, 103.6180)),
    _s(910000110, "Jalan Kapten Pattimura", "primary", "Simpang IV Sipin", "Telanaipura", "36124",
       (-1.5980, 103.5800), (-1.6040, 103.5810), (-1.6100, 103.5830)),
    _s(910000111, "Jalan Jenderal Ahmad Yani", "secondary", "Telanaipura", "Telanaipura", "36122",
       (-1.5880, 103.5720), (-1.5900, 103.5770)),
    _s(910000112, "Jalan Kolonel Abunjani", "tertiary", "Sipin", "Telanaipura", "36122",
       (-1.5915, 103.5820), (-1.5935, 103.5855)),
    _s(910000113, "Jalan Prof. Dr. Sri Soedewi Maschun Sofwan", "secondary", "Sungai Putri", "Danau Sipin",
       "36124", (-1.5940, 103.5950), (-1.5960, 103.6000)),
    _s(910000114, "Jalan Sumantri Brojonegoro", "secondary", "Solok Sipin", "Danau Sipin", "36124",
       (-1.6010, 103.5960), (-1.6040, 103.6010)),
    _s(910000115, "Jalan Slamet Riyadi", "tertiary", "Murni", "Danau Sipin", "36125",
       (-1.5970, 103.6040), (-1.6000, 103.6060)),
    _s(910000116, "Jalan H. Agus Salim", "secondary", "Paal Lima", "Kota Baru", "36129",
       (-1.6330, 103.5940), (-1.6380, 103.5980), (-1.6420, 103.6020)),
    _s(910000117, "Jalan Marsda Surya Dharma", "secondary", "Kenali Asam Bawah", "Kota Baru", "36128",
       (-1.6440, 103.5880), (-1.6480, 103.5940)),
    _s(910000118, "Jalan Lingkar Barat", "primary", "Bagan Pete", "Alam Barajo", "36129",
       (-1.6250, 103.5550), (-1.6380, 103.5600), (-1.6500, 103.5660)),
    _s(910000119, "Jalan Soekarno-Hatta", "primary", "Paal Merah", "Paal Merah", "36139",
       (-1.6440, 103.6500), (-1.6480, 103.6560)),
    _s(910000120, "Jalan Lingkar Selatan", "primary", "Lingkar Selatan", "Paal Merah", "36139",
       (-1.6600, 103.6400), (-1.6640, 103.6500), (-1.6660, 103.6600)),
    _s(910000121, "Jalan K.H. Abdul Qodir Jailani", "tertiary", "Tahtul Yaman", "Pelayangan", "36261",
       (-1.5760, 103.6350), (-1.5740, 103.6420)),
    _s(910000122, "Jalan Olak Kemang", "residential", "Olak Kemang", "Danau Teluk", "36264",
       (-1.5780, 103.6020), (-1.5760, 103.6080)),
)
