"""The citizen's side of the flood rules (:mod:`handlers.floods`) inside the conversation core.

* :func:`gate`: the daily cap. Whatever would start a new complaint (the menu's button, ``/baru``, a
  photo or a pin at the menu, free text that begins a filing) is answered, once the citizen filed
  ``abuse.complaints_per_day`` complaints today, with a kind explanation and the main menu instead: one
  check on the outcome rather than one in every handler that can start a draft.
* :func:`offer_refiled`: the same text as the citizen's own complaint filed within a day, offered at the
  summary before sending: *🔎 Lihat status* (the complaint's status; the draft stays) or *📨 Tetap kirim*
  (``refile:send``, :func:`handlers.flow.filing.on_send_anyway`: the usual send, nearby offers included).
"""

from __future__ import annotations

from handlers.context import FlowContext
from handlers.events import Incoming
from handlers.flow.drafting import _has_draft, _reset
from handlers.flow.prompts import prompt
from handlers.flow.turn import Reply, Turn
from handlers.messages import Button, OutMessage
from handlers.state import Conversation
from handlers.views import SHOW_PREFIX, esc

#: "send it anyway as a new complaint" (at the summary, after the "sudah dilaporkan" offer)
REFILE_SEND = "refile:send"


def gate(before: Conversation, after: Conversation, incoming: Incoming, reply: Reply, ctx: FlowContext) -> Reply:
    """The reply, unless it starts a new complaint while the daily cap is reached: then the
    explanation (they may file again tomorrow) and the main menu, nothing started."""
    if not incoming.filing_paused or _has_draft(before) or not _has_draft(after):
        return reply
    _reset(after)
    notice = ctx.t(after.language, "abuse.daily_cap", count=incoming.filing_paused)
    return Reply(notices=[notice], messages=prompt(after, ctx))


def offer_refiled(turn: Turn, number: str) -> Reply:
    """"Sudah dilaporkan: JMB-…": the status, or send it anyway (the draft stays at the summary; asked once
    per draft, so after looking at the status, *📨 Kirim* on the summary sends)."""
    turn.draft.refiled_offered = number
    rows = (
        (Button(turn.t("abuse.refiled_status"), f"{SHOW_PREFIX}{number}"),),
        (Button(turn.t("abuse.refiled_send"), REFILE_SEND),),
    )
    return Reply(messages=[OutMessage(turn.t("abuse.refiled", number=esc(number)), buttons=rows)])


__all__ = ["REFILE_SEND", "gate", "offer_refiled"]
