"""Floods and abuse, decided purely: the per-citizen message rate, the daily complaint cap, the same
text filed again. The service (:mod:`bot.services.floods`) keeps the counters on the citizen's row.

**The message rate** is a sliding minute per citizen: the *units* counted in the current window plus
the previous window's, weighted by how much of it still lies within the last minute, must stay within
``per_minute``. A unit is one message, except that the photos of one album (Telegram's
``media_group_id``; WhatsApp's media of one MessageSid, or photos sent seconds apart) and the parts of
one long paste that a client split (:func:`handlers.flow.longtext.follows`) are one unit together: they
share the verdict of their first part. Within the limit the message is handled as usual; beyond it, the
first message held gets ONE "pelan-pelan" and the rest are held silently (stored in the inbox, never
processed: a flood never fills a draft) until the rate drops (held units count too, so a steady flood
stays held; at most twice the limit, so a minute of quiet after any flood is enough).

**The daily cap** counts complaints filed on the city's local date; the next filing attempt gets a
kind explanation (they may file again tomorrow) instead of starting.

**The same text again**: a description equal, once normalised (:func:`normalise`: case, punctuation,
spacing and emoji do not count), to one the same citizen filed within a day is offered at the summary
as "sudah dilaporkan" before sending. Equality, not similarity: cheap, predictable, and a citizen who
changes a word is probably reporting something new.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import Enum
from zoneinfo import ZoneInfo

from handlers.context import FlowContext
from handlers.events import ButtonPress, Command, Event, Text
from handlers.flow import intents
from handlers.state import Conversation

#: the same text within this long of the earlier filing is offered as already filed
SAME_TEXT_WINDOW = timedelta(days=1)


class Verdict(Enum):
    """What to do with one message."""

    PASS = "pass"  # handled as usual
    WARN = "warn"  # held, and this is the first held: say "pelan-pelan" once
    HOLD = "hold"  # held silently


@dataclass(frozen=True, slots=True)
class Rate:
    """The counter as stored on the citizen's row: units counted in the window starting at
    ``window_at`` and in the minute before it, the group last counted and when, and whether
    "pelan-pelan" was said during this flood."""

    window_at: datetime | None = None
    count: int = 0
    previous: int = 0
    group: str | None = None
    group_at: datetime | None = None
    warned: bool = False


#: a message of the group last counted arriving within this long of it is part of it (an album's
#: photos arrive within a second; WhatsApp's photos of one selection within a few)
GROUP_WINDOW = timedelta(seconds=10)
_MINUTE = timedelta(minutes=1)


def _slide(rate: Rate, now: datetime) -> Rate:
    """The window moved on to ``now``: the current count becomes the previous one after a minute,
    both are forgotten after two."""
    if rate.window_at is None or now - rate.window_at >= 2 * _MINUTE or now < rate.window_at - _MINUTE:
        return replace(rate, window_at=now, count=0, previous=0)
    if now - rate.window_at >= _MINUTE:
        return replace(rate, window_at=rate.window_at + _MINUTE, count=0, previous=rate.count)
    return rate


def admit(rate: Rate, *, now: datetime, per_minute: int, group: str | None = None,
          continues: bool = False) -> tuple[Rate, Verdict]:
    """The verdict on one message and the counter after it.

    A sliding minute: the units of the current window plus the previous window's, weighted by how
    much of it still lies within the last minute, must stay within ``per_minute``. Held units count
    too (a steady flood stays held), up to twice the limit (so a minute of quiet after any flood is
    enough to be answered again).

    ``group`` names the album (or multi-media message) the message belongs to: a message of the group
    last counted, within :data:`GROUP_WINDOW` of it, is not counted again. ``continues`` says it is a
    later part of a split paste (the core's rule). Either way it shares the verdict of the unit it
    continues. ``per_minute`` 0 or less switches the limit off."""
    if per_minute <= 0:
        return rate, Verdict.PASS
    in_group = (group is not None and group == rate.group and rate.group_at is not None
                and timedelta(0) <= now - rate.group_at <= GROUP_WINDOW)
    if continues or in_group:
        return rate, Verdict.HOLD if rate.warned else Verdict.PASS
    rate = _slide(rate, now)
    assert rate.window_at is not None
    into = min(max((now - rate.window_at) / _MINUTE, 0.0), 1.0)
    estimate = rate.previous * (1.0 - into) + rate.count + 1
    counted = replace(rate, count=min(rate.count + 1, 2 * per_minute), group=group, group_at=now)
    if estimate <= per_minute:
        return replace(counted, warned=False), Verdict.PASS
    return replace(counted, warned=True), Verdict.HOLD if rate.warned else Verdict.WARN


# --- a blocked citizen's data rights ----------------------------------------------------------------

#: the commands of a citizen's data rights (UU 27/2022 PDP), answered even to a blocked citizen
RIGHTS_COMMANDS = frozenset({"dataku", "mydata", "hapusdata", "erasedata", "privasi", "privacy"})
#: the same as typed words (WhatsApp: "data saya", "hapus data saya", "privasi")
RIGHTS_INTENTS = frozenset({"mydata", "privacy", "erase"})
#: the erasure's confirmation buttons (handlers.flow.erasure)
RIGHTS_PAYLOADS = ("erase:",)


def rights_request(conv: Conversation, event: Event, ctx: FlowContext) -> bool:
    """Whether a blocked citizen's message asks for their data, the privacy notice or erasure (or
    answers the erasure's question): those are answered whatever the block, the rest is not."""
    if isinstance(event, Command):
        return (event.name or "").strip().lstrip("/").split("@")[0].lower() in RIGHTS_COMMANDS
    if isinstance(event, ButtonPress):
        return (event.payload or "").startswith(RIGHTS_PAYLOADS)
    if isinstance(event, Text):
        if intents.recognise(event.text, ctx, kinds=RIGHTS_INTENTS) is not None:
            return True
        # a typed answer ("1", "ya") to the erasure's question, where menus are numbered lists
        return any(payload.startswith(RIGHTS_PAYLOADS) for _label, payload in conv.choices)
    return False


# --- the daily cap ----------------------------------------------------------------------------------


def local_day(now: datetime, timezone: str) -> date:
    """The city's calendar date at ``now`` (the cap resets at local midnight)."""
    return now.astimezone(ZoneInfo(timezone)).date()


def filed_today(filed_day: str | None, filed_count: int, now: datetime, timezone: str) -> int:
    """Complaints filed on today's local date, from the counter on the citizen's row."""
    return filed_count if filed_day == local_day(now, timezone).isoformat() else 0


def after_filing(filed_day: str | None, filed_count: int, now: datetime, timezone: str) -> tuple[str, int]:
    """The counter after one more filing today."""
    today = local_day(now, timezone).isoformat()
    return today, (filed_count + 1 if filed_day == today else 1)


# --- the same text again ----------------------------------------------------------------------------

_NOT_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalise(text: str) -> str:
    """Compatibility form, case folded, everything but letters and digits taken as one space."""
    folded = unicodedata.normalize("NFKC", text or "").casefold()
    return _NOT_WORD.sub(" ", folded).replace("_", " ").strip()


def same_text(a: str, b: str) -> bool:
    """Two descriptions say the same (see :func:`normalise`); empty texts never match."""
    left, right = normalise(a), normalise(b)
    return bool(left) and left == right


__all__ = ["GROUP_WINDOW", "RIGHTS_COMMANDS", "SAME_TEXT_WINDOW", "Rate", "Verdict", "admit", "after_filing", "filed_today", "local_day",
           "normalise", "rights_request", "same_text"]
