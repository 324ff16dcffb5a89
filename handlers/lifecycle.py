"""The complaint status lifecycle (staff side), written down as data.

Staff press buttons on the agency card; the service asks :func:`decide` whether the press is allowed
and what the new status is. Keeping the rules in one table (:data:`TRANSITIONS`) means the buttons
on a card (:func:`allowed_actions`), the checks on a press and the documentation can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from handlers.context import FlowContext


class Status(StrEnum):
    """A complaint's status; the values are what the database stores."""

    BARU = "baru"
    DITERIMA = "diterima"
    DIPROSES = "diproses"
    SELESAI = "selesai"
    DITOLAK = "ditolak"
    DUPLIKAT = "duplikat"  # the same problem as another complaint; its reporters follow that one
    #: the citizen said a resolved complaint is not fixed (or the command centre upheld an appeal against a
    #: rejection): it is back with its agency, with a new resolve clock
    DIBUKA_KEMBALI = "dibuka_kembali"
    #: the citizen erased their data (/hapusdata) while the complaint was still new: its text and photos are
    #: gone, its number and audit stay (see bot.services.erasure)
    DITARIK = "ditarik"


class Action(StrEnum):
    """What staff can do to a complaint; the values travel in button payloads (``st:<action>:<id>``)."""

    ACCEPT = "accept"
    PROCESS = "process"
    RESOLVE = "resolve"
    REJECT = "reject"
    REASSIGN = "reassign"
    DUPLICATE = "duplicate"
    #: not a staff button: the citizen answers *Belum* to "is it fixed?", or the command centre reopens a
    #: rejected complaint on appeal (see :data:`OTHER_TRANSITIONS`)
    REOPEN = "reopen"
    #: not a staff button: the citizen's /hapusdata withdraws a complaint nobody has taken up yet
    WITHDRAW = "withdraw"


#: the longest rejection reason (characters) staff may give, in the group or on the web: the citizen reads it
#: inside their status notice, which must fit one Telegram message (4096) with the rest of the notice
REASON_MAX = 1000

#: (current status, action) -> new status. Anything not listed is refused.
#: Reassigning hands the complaint to another agency, where it starts again as ``baru``.
TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.BARU, Action.ACCEPT): Status.DITERIMA,
    (Status.DITERIMA, Action.PROCESS): Status.DIPROSES,
    (Status.DIPROSES, Action.RESOLVE): Status.SELESAI,
    (Status.BARU, Action.REJECT): Status.DITOLAK,
    (Status.DITERIMA, Action.REJECT): Status.DITOLAK,
    (Status.BARU, Action.REASSIGN): Status.BARU,
    (Status.DITERIMA, Action.REASSIGN): Status.BARU,
    (Status.DIPROSES, Action.REASSIGN): Status.BARU,
    (Status.BARU, Action.DUPLICATE): Status.DUPLIKAT,
    (Status.DITERIMA, Action.DUPLICATE): Status.DUPLIKAT,
    (Status.DIPROSES, Action.DUPLICATE): Status.DUPLIKAT,
    # a reopened complaint goes straight back to work (it was accepted before), or elsewhere
    (Status.DIBUKA_KEMBALI, Action.PROCESS): Status.DIPROSES,
    (Status.DIBUKA_KEMBALI, Action.REJECT): Status.DITOLAK,
    (Status.DIBUKA_KEMBALI, Action.REASSIGN): Status.BARU,
    (Status.DIBUKA_KEMBALI, Action.DUPLICATE): Status.DUPLIKAT,
}

#: transitions that are not buttons on the agency card: who may make them is in the key
#: ("citizen" answers the resolution question; "command" is the command centre deciding an appeal)
OTHER_TRANSITIONS: dict[tuple[str, Status, Action], Status] = {
    ("citizen", Status.SELESAI, Action.REOPEN): Status.DIBUKA_KEMBALI,
    ("command", Status.DITOLAK, Action.REOPEN): Status.DIBUKA_KEMBALI,
    ("command", Status.DITOLAK, Action.REASSIGN): Status.BARU,
    ("citizen", Status.BARU, Action.WITHDRAW): Status.DITARIK,
}

#: actions that need a written note (the citizen must be told why a complaint is rejected)
NEEDS_NOTE: frozenset[Action] = frozenset({Action.REJECT, Action.DUPLICATE})

#: statuses with no way out: their cards carry no buttons
TERMINAL: frozenset[Status] = frozenset({Status.SELESAI, Status.DITOLAK, Status.DUPLIKAT, Status.DITARIK})

#: emoji shown next to each status label (the label itself is the catalog entry ``status.<value>``)
STATUS_EMOJI: dict[Status, str] = {
    Status.BARU: "🆕",
    Status.DITERIMA: "📥",
    Status.DIPROSES: "🔧",
    Status.SELESAI: "✅",
    Status.DITOLAK: "❌",
    Status.DUPLIKAT: "🔁",
    Status.DIBUKA_KEMBALI: "🔄",
    Status.DITARIK: "🗑️",
}

#: why a specific refused pair is refused (catalog keys); other refusals use the generic keys below
REFUSALS: dict[tuple[Status, Action], str] = {
    (Status.BARU, Action.PROCESS): "staff.refuse.accept_first",
    (Status.BARU, Action.RESOLVE): "staff.refuse.process_first",
    (Status.DITERIMA, Action.RESOLVE): "staff.refuse.process_first",
    (Status.DITERIMA, Action.ACCEPT): "staff.refuse.already_accepted",
    (Status.DIPROSES, Action.ACCEPT): "staff.refuse.already_accepted",
    (Status.DIPROSES, Action.PROCESS): "staff.refuse.already_processing",
    (Status.DIPROSES, Action.REJECT): "staff.refuse.reject_in_process",
    (Status.DIBUKA_KEMBALI, Action.ACCEPT): "staff.refuse.already_accepted",
    (Status.DIBUKA_KEMBALI, Action.RESOLVE): "staff.refuse.process_first",
}
TERMINAL_REFUSALS: dict[Status, str] = {
    Status.SELESAI: "staff.refuse.already_resolved",
    Status.DITOLAK: "staff.refuse.already_rejected",
    Status.DUPLIKAT: "staff.refuse.already_duplicate",
    Status.DITARIK: "staff.refuse.withdrawn",
}
REFUSE_UNKNOWN_STATUS = "staff.refuse.unknown_status"
REFUSE_UNKNOWN_ACTION = "staff.unknown_action"
REFUSE_NOT_ALLOWED = "staff.refuse.not_allowed"


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to "may staff do ``action`` now?": the new status, or a catalog key saying why not."""

    allowed: bool
    to_status: Status | None = None
    needs_note: bool = False
    refusal_key: str | None = None


def _status(value: str) -> Status | None:
    """Parse a stored status leniently (case, whitespace): the database is not ours to trust blindly."""
    try:
        return Status(str(value).strip().lower())
    except ValueError:
        return None


def _action(value: str) -> Action | None:
    try:
        return Action(str(value).strip().lower())
    except ValueError:
        return None


def decide(status: str, action: str, *, actor: str = "staff") -> Decision:
    """Look the pair up in :data:`TRANSITIONS` (``actor="staff"``, the card's buttons) or in
    :data:`OTHER_TRANSITIONS` for ``citizen`` and ``command``; never raises, whatever strings come in."""
    current, act = _status(status), _action(action)
    if act is None:
        return Decision(False, refusal_key=REFUSE_UNKNOWN_ACTION)
    if current is None:
        return Decision(False, refusal_key=REFUSE_UNKNOWN_STATUS)
    if actor != "staff":
        other = OTHER_TRANSITIONS.get((actor, current, act))
        if other is not None:
            return Decision(True, to_status=other)
        return Decision(False, refusal_key=TERMINAL_REFUSALS.get(current) or REFUSE_NOT_ALLOWED)
    target = TRANSITIONS.get((current, act))
    if target is not None:
        return Decision(True, to_status=target, needs_note=act in NEEDS_NOTE)
    key = TERMINAL_REFUSALS.get(current) or REFUSALS.get((current, act)) or REFUSE_NOT_ALLOWED
    return Decision(False, refusal_key=key)


def allowed_actions(status: str) -> tuple[Action, ...]:
    """The buttons a card in ``status`` shows, in a stable order (the order of :class:`Action`)."""
    current = _status(status)
    if current is None:
        return ()
    return tuple(a for a in Action if (current, a) in TRANSITIONS)


def is_terminal(status: str) -> bool:
    """True when nothing more can happen (the citizen's case is closed)."""
    current = _status(status)
    return current in TERMINAL


def status_label(status: str, language: str, ctx: FlowContext) -> str:
    """``"📥 Diterima"``: emoji plus the catalog label; an unknown status is shown as it is stored."""
    current = _status(status)
    if current is None:
        return str(status)
    return f"{STATUS_EMOJI[current]} {ctx.t(language, f'status.{current.value}')}"


def status_description(status: str, language: str, ctx: FlowContext) -> str:
    """One sentence a citizen understands ("an officer is working on it")."""
    current = _status(status)
    return ctx.t(language, f"status.{current.value}.desc") if current else ""


def action_label(action: Action, language: str, ctx: FlowContext) -> str:
    """The staff button label, e.g. ``"✅ Terima"``."""
    return ctx.t(language, f"action.{action.value}")
