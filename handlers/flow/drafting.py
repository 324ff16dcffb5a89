"""Small helpers on the draft: what is missing next, storing photos and pins, reading typed text."""

from __future__ import annotations

import math
import re

from handlers.context import CategoryInfo, FlowContext
from handlers.events import (
    Location,
    Photo,
)
from handlers.flow.payloads import (
    _NUMBER_RE,
)
from handlers.state import FILING_STEPS, Conversation, Draft, Step
from handlers.text import clean_text, visible_length
from handlers.views import (
    format_decimal,
    truncate,
)

# --- small draft helpers --------------------------------------------------------------------------


def _category(draft: Draft, ctx: FlowContext) -> CategoryInfo | None:
    return ctx.category(draft.category)


def _photo_required(draft: Draft, ctx: FlowContext) -> bool:
    info = _category(draft, ctx)
    return bool(info and info.photo_required)


def next_step(draft: Draft, ctx: FlowContext) -> Step:
    """The first thing still missing from the draft, so input given early is never asked again."""
    if _category(draft, ctx) is None:
        return Step.CATEGORY
    if not draft.description:
        return Step.DESCRIPTION
    if not draft.photos and (not draft.photos_skipped or _photo_required(draft, ctx)):
        return Step.PHOTOS
    if not draft.has_location:
        return Step.LOCATION
    return Step.SUMMARY


def _has_draft(conv: Conversation) -> bool:
    """A draft is in progress (directly, or behind a "check status" detour)."""
    return conv.step in FILING_STEPS or (conv.step == Step.STATUS_NUMBER and conv.return_step in FILING_STEPS)


def _reset(conv: Conversation) -> None:
    """Back to the main menu with nothing in progress."""
    conv.step = Step.IDLE
    conv.draft = Draft()
    conv.return_step = None
    conv.detour_since = None


def _leave_detour(conv: Conversation) -> None:
    """Leave the "which number?" question: back to the draft step it interrupted, or the menu."""
    back = conv.return_step if conv.return_step in FILING_STEPS else None
    conv.return_step = None
    conv.detour_since = None
    if back is None:
        _reset(conv)
    else:
        conv.step = back


def _plain(text: str | None) -> str:
    """Typed text as the flow keeps it: cleaned (the channel adapters already did; cleaning is
    idempotent, so a NUL or a bidi override never reaches a draft whatever the adapter) and stripped."""
    return clean_text(text or "").strip()


def _too_short(text: str, minimum: int) -> bool:
    """Minimum lengths count what a person sees (:func:`handlers.text.visible_length`): a text of
    zero-width or bidi characters, or an emoji family, is not mistaken for ten characters."""
    return visible_length(text) < minimum


def _too_long(text: str, maximum: int) -> bool:
    """Maximum lengths count code points (``len``): a few visible characters loaded with combining
    marks must not make a summary or card longer than Telegram accepts."""
    return len(text) > maximum


def _description_fits(text: str, ctx: FlowContext) -> bool:
    limits = ctx.limits
    return not _too_short(text, limits.description_min) and not _too_long(text, limits.description_max)


def _store_photo(draft: Draft, photo: Photo, ctx: FlowContext) -> bool:
    """Add a photo; a fitting caption is kept to be *offered* as the description while there is none
    (a caption is often a label, "depan pasar", not what the citizen wants the agency to read).
    Returns True when the caption is now on offer."""
    draft.photos.append(photo.media)
    draft.photos_skipped = False
    caption = _plain(photo.caption)
    if not draft.description and caption and _description_fits(caption, ctx):
        draft.caption = caption
        return True
    return False


def _valid_pin(loc: Location) -> bool:
    lat, lon = loc.latitude, loc.longitude
    return (
        isinstance(lat, int | float)
        and isinstance(lon, int | float)
        and math.isfinite(lat)
        and math.isfinite(lon)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
    )


def _outside(loc: Location) -> bool:
    """The city's boundaries say the pin is not in the area served (unknown counts as inside)."""
    return loc.place is not None and loc.place.inside is False


def _store_pin(draft: Draft, loc: Location, ctx: FlowContext) -> None:
    """A pin replaces any earlier location; the place name that came with it (if any) is kept, and
    what the service found out about it (district, street) replaces the earlier pin's."""
    draft.latitude = float(loc.latitude)
    draft.longitude = float(loc.longitude)
    address = _plain(loc.address)
    draft.address = truncate(address, ctx.limits.address_max) if address else None
    place = loc.place
    draft.kecamatan = place.kecamatan if place else None
    draft.kelurahan = place.kelurahan if place else None
    draft.place = place.display if place and place.display else _district_line(draft, ctx)


def _district_line(draft: Draft, ctx: FlowContext) -> str | None:
    """"Kel. X, Kec. Y" from the boundaries alone, for when the geocoder did not answer."""
    parts = []
    if draft.kelurahan:
        parts.append(f"Kel. {draft.kelurahan}")
    if draft.kecamatan:
        parts.append(f"Kec. {draft.kecamatan}")
    return ", ".join(parts) or None



#: prefix-year-sequence as typed; the sequence is stored six digits wide (JMB-2026-000007)
_SHORT_SEQUENCE = re.compile(r"^([A-Z]+)-([0-9]{4})-([0-9]{1,6})$")


def normalise_number(text: str) -> str:
    """``" jmb-2026- 000042 "``, ``"jmb 2026 000042"`` or ``"jmb-2026-42"`` -> ``"JMB-2026-000042"``:
    people type numbers loosely (spaces around dashes, spaces instead of dashes, and without the
    leading zeros of the sequence, which nobody reads aloud)."""
    cleaned = re.sub(r"\s*-\s*", "-", clean_text(text or "").strip().lstrip("#").strip())
    number = re.sub(r"\s+", "-", cleaned).upper()
    parts = _SHORT_SEQUENCE.fullmatch(number)
    if parts is not None:
        prefix, year, sequence = parts.groups()
        number = f"{prefix}-{year}-{int(sequence):06d}"
    return number


def _valid_number(number: str) -> bool:
    return bool(_NUMBER_RE.fullmatch(number))


def _fmt_mb(size: int, language: str, ctx: FlowContext) -> str:
    mb = max(size, 0) / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else format_decimal(mb, language, ctx)
