"""Where a pin is: the city's own boundaries (offline, always) and the geocoder's street name (when it
answers in time). Done before the citizen's transaction opens, so a slow geocoder never holds a
database lock, and handed to the core as facts on the event (:class:`handlers.events.PlaceInfo`).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any

from bot.services.runtime import Runtime
from handlers.events import Incoming, Location, PlaceInfo

log = logging.getLogger("sikesal.places")


def place_line(street: str | None, kelurahan: str | None, kecamatan: str | None) -> str | None:
    """"Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi" from whatever is known."""
    parts = [street or "", f"Kel. {kelurahan}" if kelurahan else "", f"Kec. {kecamatan}" if kecamatan else ""]
    return ", ".join(p for p in parts if p) or None


async def describe_pin(rt: Runtime, latitude: float, longitude: float) -> PlaceInfo:
    """The district from the boundaries; the street (and a kelurahan the boundaries lack) from the
    geocoder. The kecamatan always comes from the city's own file: it is what routing rules name."""
    found = rt.area.place_at(latitude, longitude)
    street = kelurahan = None
    if found.inside and rt.geocoder is not None:
        address: Any = await rt.geocoder.reverse(latitude, longitude)
        if address is not None:
            street = getattr(address, "street", None) or getattr(address, "road", None)
            kelurahan = getattr(address, "kelurahan", None)
    kelurahan = found.kelurahan or kelurahan
    return PlaceInfo(
        inside=found.inside,
        kecamatan=found.kecamatan,
        kelurahan=kelurahan,
        display=place_line(street, kelurahan, found.kecamatan) if found.inside else None,
    )


async def enrich(rt: Runtime, incoming: Incoming) -> Incoming:
    """Add what the core cannot look up itself; other events pass through unchanged."""
    event = incoming.event
    if isinstance(event, Location) and _finite(event.latitude) and _finite(event.longitude):
        place = await describe_pin(rt, event.latitude, event.longitude)
        return dataclasses.replace(incoming, event=dataclasses.replace(event, place=place))
    return incoming


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
