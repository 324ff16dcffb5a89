"""The command centre blocks a citizen, rendered purely (the service is :mod:`bot.services.blocking`).

*🚫 Blokir pelapor* sits on the escalation card in the command centre's own group (payload prefix
``blk``, registered in :mod:`bot.services.staff_extensions`):

* ``blk:ask:<complaint id>``: a reply prompt under the card asks for the reason, with a cancel button;
* ``blk:nx:<complaint id>``: the cancel.

The reply is the reason: it goes into the complaint's audit trail (``citizen_blocked``) and the
citizen's row, never to the citizen. Staff never learn who the citizen is: the complaint names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.context import FlowContext
from handlers.messages import Button, EditTarget, MessageRef, OutMessage
from handlers.text import parse_id
from handlers.views import esc, truncate

PREFIX = "blk"
ASK = "ask"
CANCEL = "nx"
#: audit actions
BLOCKED = "citizen_blocked"
UNBLOCKED = "citizen_unblocked"
#: the longest reason kept (a note, not an essay)
REASON_MAX = 500


@dataclass(frozen=True, slots=True)
class BlockPayload:
    verb: str
    complaint_id: int


def payload(verb: str, complaint_id: int) -> str:
    """``blk:ask:42``."""
    return f"{PREFIX}:{verb}:{int(complaint_id)}"


def parse(data: str) -> BlockPayload | None:
    """Read a ``blk:`` payload; None for anything else (never raises: payloads come from outside)."""
    parts = data.split(":") if isinstance(data, str) and len(data) <= 64 else []
    if len(parts) != 3 or parts[0] != PREFIX or parts[1] not in (ASK, CANCEL):
        return None
    complaint_id = parse_id(parts[2])
    return BlockPayload(parts[1], complaint_id) if complaint_id is not None else None


def block_button(complaint_id: int, ctx: FlowContext, language: str = "id") -> Button:
    """*🚫 Blokir pelapor* (on the command centre's cards)."""
    return Button(ctx.t(language, "cc.button_block"), payload(ASK, complaint_id))


def render_prompt(
    number: str, ctx: FlowContext, *, staff_name: str, reply_to: int | None, language: str = "id"
) -> OutMessage:
    """Ask for the reason, as a reply (force_reply) under the card, with a cancel button."""
    text = ctx.t(language, "cc.block_prompt", staff=esc(truncate(staff_name or "", 40)), number=esc(number))
    ref = MessageRef(kind="message", message_id=reply_to) if reply_to is not None else None
    return OutMessage(text=text, force_reply=True, reply_to=ref)


def render_prompt_cancel(complaint_id: int, ctx: FlowContext, language: str = "id") -> OutMessage:
    """A separate small message with the cancel button (a force_reply message cannot carry inline
    buttons on Telegram)."""
    button = Button(ctx.t(language, "cc.button_block_cancel"), payload(CANCEL, complaint_id))
    return OutMessage(text=ctx.t(language, "cc.block_cancel_hint"), buttons=((button,),))


def render_closed(key: str, number: str, ctx: FlowContext, *, edit: str, language: str = "id") -> OutMessage:
    """The cancel message once the block is done or cancelled: its button comes off."""
    return OutMessage(text=ctx.t(language, key, number=esc(number)), edit=EditTarget(edit))


def render_done(number: str, ctx: FlowContext, *, reply_to: int | None, language: str = "id") -> OutMessage:
    ref = MessageRef(kind="message", message_id=reply_to) if reply_to is not None else None
    return OutMessage(text=ctx.t(language, "cc.blocked_done", number=esc(number)), reply_to=ref)


__all__ = ["ASK", "BLOCKED", "CANCEL", "PREFIX", "REASON_MAX", "UNBLOCKED", "BlockPayload", "block_button",
           "parse", "payload", "render_closed", "render_done", "render_prompt", "render_prompt_cancel"]
