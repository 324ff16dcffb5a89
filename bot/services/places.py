"""Where a pin is: the city's own boundaries, offline, at once. Handed to the core as facts on the event
(:class:`handlers.events.PlaceInfo`).

The geocoder never adds latency to the answer to a pin (issue 14): the summary says what the city's
boundaries say (kelurahan, kecamatan) and the street follows in the background
(:mod:`bot.services.streets`), by an edit of the summary on Telegram, on the draft, and on the complaint
and its card. The one wait left is a *typed* address: the citizen asked for it to be found, so it is
searched while they wait, but bounded: no request slot free within :data:`SEARCH_MAX_WAIT`, or the
geocoder resting after failures, and the address is kept as typed at once (the summary offers
*✏️ Ubah → Lokasi* for a pin); a request is cut at the geocoder's ``timeout``. Done before the citizen's
transaction opens, so a slow geocoder never holds a database lock.
"""

from __future__ import annotations

import dataclasses
import logging
import math

from bot.services.runtime import Runtime
from handlers.events import AddressMatch, Incoming, Location, PlaceInfo, Text
from handlers.flow.filing import ADDRESS_SEARCH_UNAVAILABLE
from handlers.state import Step
from handlers.text import visible_length
from storage.models import ConversationRow
from storage.repositories import CitizenRepo

log = logging.getLogger("sikesal.places")

#: the longest a typed address waits for a geocoder request slot (pacing: one request a second); more,
#: and it is kept as typed without asking (a burst of typed addresses never builds a queue)
SEARCH_MAX_WAIT = 1.0


def place_line(street: str | None, kelurahan: str | None, kecamatan: str | None) -> str | None:
    """"Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi" from whatever is known."""
    parts = [street or "", f"Kel. {kelurahan}" if kelurahan else "", f"Kec. {kecamatan}" if kecamatan else ""]
    return ", ".join(p for p in parts if p) or None


def describe_pin(rt: Runtime, latitude: float, longitude: float) -> PlaceInfo:
    """The district from the city's own boundaries, offline and at once (no geocoder: the street comes
    later, see :mod:`bot.services.streets`). The kecamatan is what routing rules name."""
    found = rt.area.place_at(latitude, longitude)
    kelurahan = clip_name(found.kelurahan)
    return PlaceInfo(
        inside=found.inside,
        kecamatan=found.kecamatan,
        kelurahan=kelurahan,
        display=place_line(None, kelurahan, found.kecamatan) if found.inside else None,
    )


#: steps where a typed text is an address (the only text ever sent to the geocoder: privacy)
ADDRESS_STEPS = frozenset({Step.LOCATION, Step.ADDRESS_PICK})


async def find_address(rt: Runtime, text: str) -> tuple[AddressMatch, ...]:
    """Where the geocoder places a typed address, inside the area served, best first (at most three)."""
    if rt.geocoder is None or rt.geocoder.resting():
        return ()
    matches: list[AddressMatch] = []
    for candidate in await rt.geocoder.search(text, limit=3, max_wait=SEARCH_MAX_WAIT):
        lat, lon = float(candidate.lat), float(candidate.lon)
        found = rt.area.place_at(lat, lon)
        if not found.inside:
            continue
        address = candidate.address
        kelurahan = clip_name(found.kelurahan or address.kelurahan)
        street = address.street
        display = place_line(street, kelurahan, found.kecamatan)
        matches.append(AddressMatch(lat, lon, PlaceInfo(True, found.kecamatan, kelurahan, display)))
    return tuple(matches)


async def current_step(rt: Runtime, channel: str, channel_user_id: str) -> Step | None:
    """A quick read of where the citizen is, before their transaction opens (None: new citizen)."""
    async with rt.sessionmaker() as session:
        citizen = await CitizenRepo(session).by_channel(channel, channel_user_id)
        if citizen is None:
            return None
        row = await session.get(ConversationRow, citizen.id)
    try:
        return Step(row.step) if row is not None else None
    except ValueError:
        return None


async def enrich(rt: Runtime, incoming: Incoming, *, channel: str, channel_user_id: str) -> Incoming:
    """Add what the core cannot look up itself; other events pass through unchanged. A failure here only
    costs the extra facts, never the citizen's message."""
    try:
        return await _enrich(rt, incoming, channel=channel, channel_user_id=channel_user_id)
    except Exception:  # a bug in a lookup must not lose the event; the core copes without place facts
        log.exception("place lookup failed; handling the event without it")
        return incoming


def _may_be_an_address(rt: Runtime, incoming: Incoming, text: str) -> bool:
    """Only what is plausibly a typed address leaves for the geocoder: not a reply to one of our
    messages, not a command word, not a menu answer (privacy: Nominatim is a third party)."""
    if incoming.reply_to_message_id is not None:
        return False
    limits = rt.ctx.limits
    words = text.split()
    # a menu number or a single word is not an address; minimums count visible characters
    return limits.address_min <= visible_length(text) and len(text) <= limits.address_max and len(words) >= 2


async def _enrich(rt: Runtime, incoming: Incoming, *, channel: str, channel_user_id: str) -> Incoming:
    event = incoming.event
    if isinstance(event, Location) and _finite(event.latitude) and _finite(event.longitude):
        place = describe_pin(rt, event.latitude, event.longitude)
        return dataclasses.replace(incoming, event=dataclasses.replace(event, place=place))
    if (
        isinstance(event, Text)
        and rt.geocoder is not None
        and _may_be_an_address(rt, incoming, event.text.strip())
        and await current_step(rt, channel, channel_user_id) in ADDRESS_STEPS
    ):
        geocoder = rt.geocoder
        skipped, failures = geocoder.skipped, geocoder.failures_in_row
        matches = await find_address(rt, event.text.strip())
        if matches:
            return dataclasses.replace(incoming, matches=matches)
        if geocoder.resting() or geocoder.skipped > skipped or geocoder.failures_in_row > failures:
            # not searched (busy, failing): kept as typed, and the citizen is told a pin would help
            return dataclasses.replace(incoming, extra={**incoming.extra, ADDRESS_SEARCH_UNAVAILABLE: "1"})
        return incoming
    return incoming


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def clip_name(name: str | None, limit: int = 64) -> str | None:
    """Names from OpenStreetMap can be long; the complaint's column holds 64 characters."""
    return name[:limit] if name else name
