"""What the playground's simulated world contains: people (on Telegram and WhatsApp), agency groups,
sample places and photos.

Kept apart from the web layer so tests and the page agree on the same names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localapi.nominatim.data import STREETS
from localapi.telegram import SimUser

from .whatsapp import WhatsAppCitizen

STATIC_DIR = Path(__file__).resolve().parent / "static"
SAMPLES_DIR = STATIC_DIR / "samples"

#: the citizen every fresh playground starts with
DEFAULT_CITIZEN = "Siti"

#: first names of the two staff members of each agency group (cycled when there are more agencies)
STAFF_NAMES: tuple[tuple[str, str], ...] = (
    ("Budi", "Rina"),
    ("Andi", "Dewi"),
    ("Joko", "Sari"),
    ("Agus", "Lina"),
    ("Rudi", "Maya"),
    ("Hendra", "Wati"),
)


@dataclass(frozen=True, slots=True)
class Place:
    """A named sample place for the location chooser.

    ``outside``: the place lies outside Kota Jambi (the page marks it; the bot refuses it kindly).
    """

    key: str
    name: str
    lat: float
    lon: float
    outside: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "lat": self.lat, "lon": self.lon, "outside": self.outside}


def street_place(name: str) -> Place:
    """A place on one of the local Nominatim's sample streets (``localapi/nominatim/data.py``): its centre,
    so the bot's summary names the street ("Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi")."""
    street = next(s for s in STREETS if s.name == name)
    short = "Jl. " + name.removeprefix("Jalan ")
    lat, lon = street.center
    return Place("jl-" + "-".join(short.removeprefix("Jl. ").casefold().replace(".", "").split()), short, lat, lon)


#: the spot outside Kota Jambi (Palembang, South Sumatra): the bot answers that it only serves Kota Jambi
OUTSIDE_PLACE = Place("palembang", "Palembang", -2.9909, 104.7566, outside=True)

PLACES: tuple[Place, ...] = (
    Place("masjid-agung", "Masjid Agung Al-Falah", -1.6164, 103.6149),
    Place("gentala-arasy", "Jembatan Gentala Arasy", -1.5875, 103.6157),
    Place("pasar-angso-duo", "Pasar Angso Duo", -1.6034, 103.6213),
    Place("simpang-rimbo", "Simpang Rimbo", -1.6531, 103.5636),
    Place("kantor-walikota", "Kantor Walikota Jambi", -1.6101, 103.6131),
    street_place("Jalan Sultan Thaha"),
    street_place("Jalan Jenderal Sudirman"),
    street_place("Jalan Kapten Pattimura"),
    OUTSIDE_PLACE,
)


@dataclass(frozen=True, slots=True)
class SamplePhoto:
    """A photo shipped with the project (``static/samples/<key>.jpg``)."""

    key: str
    label_id: str
    label_en: str

    @property
    def path(self) -> Path:
        return SAMPLES_DIR / f"{self.key}.jpg"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": {"id": self.label_id, "en": self.label_en},
                "url": f"/static/samples/{self.key}.jpg"}


SAMPLE_PHOTOS: tuple[SamplePhoto, ...] = (
    SamplePhoto("jalan-berlubang", "Jalan berlubang", "Pothole"),
    SamplePhoto("sampah-menumpuk", "Sampah menumpuk", "Garbage pile"),
    SamplePhoto("lampu-mati", "Lampu jalan mati", "Street light out"),
    SamplePhoto("drainase-banjir", "Drainase tersumbat", "Blocked drain"),
)


@dataclass(slots=True)
class Citizen:
    user: SimUser

    def to_dict(self) -> dict[str, Any]:
        return {"channel": "telegram", "user_id": self.user.id, "chat_id": self.user.id,
                "name": self.user.first_name, "language_code": self.user.record.language_code}


@dataclass(slots=True)
class AgencyGroup:
    agency: str
    chat_id: int
    title: str
    short: str
    names: dict[str, str]
    staff: list[SimUser]
    linked: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"agency": self.agency, "chat_id": self.chat_id, "title": self.title, "short": self.short,
                "name": self.names, "linked": self.linked,
                "staff": [{"user_id": u.id, "name": u.first_name} for u in self.staff]}


@dataclass(slots=True)
class World:
    citizens: list[Citizen] = field(default_factory=list)
    #: citizens writing on WhatsApp (through the local Twilio server), in the order they were added
    whatsapp: list[WhatsAppCitizen] = field(default_factory=list)
    groups: list[AgencyGroup] = field(default_factory=list)
    ready: bool = False

    def whatsapp_citizen(self, number: str) -> WhatsAppCitizen:
        wanted = number.strip().removeprefix("wa:").removeprefix("whatsapp:")
        for citizen in self.whatsapp:
            if citizen.number == wanted:
                return citizen
        raise KeyError(number)

    def group_for(self, agency: str) -> AgencyGroup:
        for group in self.groups:
            if group.agency == agency:
                return group
        raise KeyError(agency)
