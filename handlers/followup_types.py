"""The follow-up conversation's vocabulary: its buttons' payloads, the steps, what the service tells the core
about a complaint (:class:`Subject`), the effects the core asks for, and the open question as the
conversation keeps it (:class:`Pending`). The handlers and their table are in :mod:`handlers.followup`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from handlers.events import ButtonPress, Incoming, MediaRef
from handlers.flow import versions
from handlers.flow.intents import EXACT_KINDS
from handlers.state import Conversation

PREFIX = "fu"


class Verb(StrEnum):
    """What a follow-up button does; the value travels in its payload."""

    YES = "yes"  # ✅ Sudah
    NO = "no"  # ❌ Belum
    RATE = "rate"  # ⭐ n (fu:rate:<id>:<n>)
    SKIP = "skip"  # no comment
    SEND = "send"  # send the reason (reopen) or the appeal
    BACK = "back"  # leave the reason or the appeal unsent
    APPEAL = "appeal"  # ⚖️ Ajukan keberatan


class FuStep(StrEnum):
    """What the open follow-up question waits for."""

    ANSWER = "answer"  # Sudah / Belum
    RATING = "rating"  # 1–5 stars
    COMMENT = "comment"  # an optional comment (or skip)
    REASON = "reason"  # Belum: what is still wrong (text and/or photos), then send
    APPEAL = "appeal"  # a rejected complaint: why the citizen disagrees, then send


#: a rating or reason left unanswered this long is forgotten (the next text is ordinary input again);
#: the Sudah/Belum question itself stays open until the complaint is closed unanswered
TEXT_WINDOW = timedelta(hours=24)
#: at most this many texts are kept towards one reason or appeal
MAX_TEXTS = 20
#: typed wishes never taken for an answer (a category name alone may well be a comment)
INTENT_KINDS = frozenset({*EXACT_KINDS, "new"})
#: whole-text answers to "is it fixed?" typed instead of chosen (compared by label key)
YES_WORDS = frozenset({"sudah", "udah", "sdh", "sudah beres", "beres", "ya", "iya", "yes", "fixed", "done"})
NO_WORDS = frozenset({"belum", "blm", "belum beres", "tidak", "nggak", "gak", "no", "not yet", "not fixed"})
STARS_TYPED = re.compile(r"^\s*([1-5])\s*(?:⭐|bintang|stars?)?\s*$", re.IGNORECASE)


# --- payloads -------------------------------------------------------------------------------------


def payload(verb: Verb, complaint_id: int, arg: int | None = None) -> str:
    """``fu:yes:42``, ``fu:rate:42:4``."""
    tail = f":{int(arg)}" if arg is not None else ""
    return f"{PREFIX}:{verb.value}:{int(complaint_id)}{tail}"


@dataclass(frozen=True, slots=True)
class Press:
    """A parsed follow-up button. ``ref`` is the complaint id (digits) or a tracking number: a WhatsApp
    template's quick reply carries the number it was filled with (``fu:yes:{{1}}``)."""

    verb: Verb
    ref: str
    arg: int | None = None


def parse(raw: str) -> Press | None:
    """Read ``fu:<verb>:<ref>[:<n>]`` (the menu version already taken off); None for anything else."""
    parts = versions.bare(raw or "").split(":")
    if len(parts) not in (3, 4) or parts[0] != PREFIX or len(raw) > 64:
        return None
    try:
        verb = Verb(parts[1])
    except ValueError:
        return None
    ref = parts[2].strip()
    arg = int(parts[3]) if len(parts) == 4 and parts[3].isdigit() and len(parts[3]) < 3 else None
    if not ref or (len(parts) == 4 and arg is None):
        return None
    return Press(verb, ref, arg)


def is_followup_press(incoming: Incoming) -> bool:
    return isinstance(incoming.event, ButtonPress) and parse(incoming.event.payload or "") is not None


# --- what the service tells the core, and what the core asks of it -----------------------------------


@dataclass(frozen=True, slots=True)
class Subject:
    """What the database says about the complaint an event is about (filled by the service)."""

    complaint_id: int
    number: str
    status: str
    agency: str
    confirmation: str | None = None  # asked | yes | no | auto (see storage.models.Complaint)
    rated: bool = False
    #: *Belum* still reopens it: it is resolved, and within ``followup.reopen_within_days``
    reopen_open: bool = False
    reopen_days: float = 14
    #: it is rejected, appeals are on, and the citizen has not appealed yet
    appeal_open: bool = False
    #: the agency key of the command centre (named in the appeal texts)
    command_centre: str = ""


@dataclass(frozen=True, slots=True)
class ConfirmFixed:
    """*Sudah*: the citizen confirms the fix (confirmation ``yes``)."""

    complaint_id: int


@dataclass(frozen=True, slots=True)
class Rate:
    complaint_id: int
    rating: int
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class Comment:
    complaint_id: int
    comment: str


@dataclass(frozen=True, slots=True)
class Reopen:
    """*Belum* with what is still wrong: reopen at the same agency (the service decides whether it may)."""

    complaint_id: int
    text: str
    photos: tuple[MediaRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Appeal:
    """The citizen appeals the rejection with ``text``: it goes to the command centre."""

    complaint_id: int
    text: str


FollowupEffect = ConfirmFixed | Rate | Comment | Reopen | Appeal


@dataclass(slots=True)
class Pending:
    """The open question, as kept in :attr:`Conversation.followup`."""

    complaint_id: int
    number: str
    step: FuStep
    texts: list[str] = field(default_factory=list)
    photos: list[MediaRef] = field(default_factory=list)
    at: str | None = None  # when it was last asked (ISO)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.complaint_id, "number": self.number, "step": self.step.value, "texts": list(self.texts),
                "photos": [p.to_dict() for p in self.photos], "at": self.at}

    @classmethod
    def from_conversation(cls, conv: Conversation) -> Pending | None:
        data = conv.followup
        try:
            return cls(int(data["id"]), str(data["number"]), FuStep(str(data["step"])),
                       [str(t) for t in data.get("texts") or []],
                       [MediaRef.from_dict(p) for p in data.get("photos") or [] if isinstance(p, dict)],
                       str(data["at"]) if data.get("at") else None)
        except (KeyError, TypeError, ValueError):
            return None


def pending(conv: Conversation) -> Pending | None:
    """The open follow-up question of this conversation, if any (a damaged one reads as none)."""
    return Pending.from_conversation(conv) if conv.followup else None
