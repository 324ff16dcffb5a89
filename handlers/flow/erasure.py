"""/hapusdata (WhatsApp: "hapus data saya"): the citizen asks to erase their personal data.

Why a question first: erasure cannot be undone, and a citizen must read what goes (name, account,
messages, complaints still new) and what stays (photos and numbers of complaints being handled) before
choosing. The question does not change the step: "Tidak jadi" leaves a draft in progress as it was. The
confirmation is a button valid at every step and also from an older message (a double tap, or a tap after
the erasure, reaches a conversation that no longer knows the menu): the service decides what was done.
"""

from __future__ import annotations

from handlers.effects import EraseMyData
from handlers.flow.prompts import _reprompt
from handlers.flow.turn import Reply, Turn
from handlers.messages import Button, OutMessage

ERASE_YES = "erase:yes"
ERASE_NO = "erase:no"


def on_erase_ask(turn: Turn) -> Reply:
    """What erasure does and keeps, with *Ya, hapus* / *Tidak jadi* (numbers on WhatsApp)."""
    buttons = ((Button(turn.t("erasure.yes"), ERASE_YES),), (Button(turn.t("erasure.no"), ERASE_NO),))
    return Reply(messages=[OutMessage(turn.t("erasure.confirm"), buttons=buttons)])


def on_erase_confirm(turn: Turn) -> Reply:
    """Confirmed: the service erases (its answer is the only message; nothing else is said here)."""
    return Reply(effects=[EraseMyData()])


def on_erase_keep(turn: Turn) -> Reply:
    """Not confirmed: nothing changes; the current question again."""
    return _reprompt(turn, turn.t("erasure.kept"))
