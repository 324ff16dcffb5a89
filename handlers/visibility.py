"""Which entries of a complaint's history a citizen may read, written down as one table.

Staff see the whole history on the agency card. A citizen who opens a complaint (``/status``, a
complaint from "my complaints", a status notice) sees its public history, and of the messages
exchanged with the agency only their own: the reporter and every follower ("the same problem") see
the status changes, reassignments, the resolution and a rejection's reason; the reporter's messages
to staff and staff's answers to the reporter stay between them; a follower's messages and the answers
addressed to that follower stay with that follower.

:data:`CITIZEN_AUDIENCE` maps an audit action to who may read it; an action that is not listed is
shown to no citizen, so a new kind of entry stays private until someone decides otherwise here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from handlers.lifecycle import Action
from handlers.views import HistoryEntry


class Audience(StrEnum):
    """Who among the citizens of a complaint may read an entry of its history."""

    EVERYONE = "everyone"  # the reporter and every follower: the public history
    AUTHOR = "author"  # only the citizen who wrote it (``actor_id``)
    ADDRESSEE = "addressee"  # only the citizen it was addressed to: the reporter, unless one is named
    STAFF = "staff"  # no citizen


#: audit action -> who may read it (refused attempts are never shown to anyone but staff)
CITIZEN_AUDIENCE: dict[str, Audience] = {
    "submit": Audience.EVERYONE,
    **{action.value: Audience.EVERYONE for action in Action},  # status changes, reassignment, duplicate
    "also_reported": Audience.EVERYONE,  # "reported by other citizens too" (never who)
    "duplicate_joined": Audience.EVERYONE,  # another complaint was merged into this one
    "citizen_reply": Audience.AUTHOR,  # a citizen's message to the agency
    "staff_reply": Audience.ADDRESSEE,  # the agency's answer to one citizen
    "reply": Audience.ADDRESSEE,  # the older name of staff_reply
    # the follow-up (handlers.followup): the reporter's own answers, and why their appeal was turned down
    "confirm_fixed": Audience.AUTHOR,
    "rated": Audience.AUTHOR,
    "appeal": Audience.AUTHOR,
    "appeal_upheld": Audience.ADDRESSEE,
}

#: how an audit row names the citizen a staff answer was addressed to (in its ``to_agency`` column,
#: which a staff answer does not otherwise use); no name means the reporter
ADDRESSEE_PREFIX = "citizen:"


def addressee_ref(citizen_id: int) -> str:
    """The stored form of "addressed to citizen ``citizen_id``" (see :data:`ADDRESSEE_PREFIX`)."""
    return f"{ADDRESSEE_PREFIX}{int(citizen_id)}"


def addressee_of(stored: str | None) -> int | None:
    """The citizen id in a stored addressee, or None when ``stored`` is not one (e.g. an agency key)."""
    if not stored or not stored.startswith(ADDRESSEE_PREFIX):
        return None
    digits = stored.removeprefix(ADDRESSEE_PREFIX)
    return int(digits) if digits.isdigit() else None


def audience(action: str) -> Audience:
    return CITIZEN_AUDIENCE.get(action, Audience.STAFF)


def citizen_sees(entry: HistoryEntry, *, viewer: int, reporter: int) -> bool:
    """May citizen ``viewer`` read ``entry`` of a complaint reported by citizen ``reporter``?"""
    who = audience(entry.action)
    if who == Audience.EVERYONE:
        return True
    if who == Audience.AUTHOR:
        return entry.actor_kind == "citizen" and entry.actor_id == str(viewer)
    if who == Audience.ADDRESSEE:
        return (entry.addressee if entry.addressee is not None else reporter) == viewer
    return False


def citizen_history(entries: Iterable[HistoryEntry], *, viewer: int, reporter: int) -> tuple[HistoryEntry, ...]:
    """The entries citizen ``viewer`` may read, in their order."""
    return tuple(e for e in entries if citizen_sees(e, viewer=viewer, reporter=reporter))
