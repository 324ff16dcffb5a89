"""Canned replies (*💬 Balasan cepat*): the card of an open complaint offers the agency's ready answers
(``canned_replies`` in config.yaml, :meth:`bot.config.AppConfig.canned_for`); the chosen one reaches the
citizen exactly like a typed staff reply (:func:`bot.services.relay.relay_to_citizen`: Telegram or
WhatsApp, in the complaint's history, audited as the staff member's reply), and the card is itself again.

The buttons carry the reply's index and a short check of its text, never the text (Telegram allows 64
bytes): a list changed in config between opening and choosing is noticed and shown again.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.services import relay
from bot.services.complaints import build_view, refresh_card
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor, refuse
from handlers import cards, staff_tools
from handlers.lifecycle import is_terminal
from handlers.messages import Alert
from storage.retry import retry_transient
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.services.staff import StaffResult

log = logging.getLogger("sikesal.canned")

#: the audited action of a refused press (a reply that did not go out)
REFUSED_ACTION = "reply"


def _alert(rt: Runtime, key: str, *, show_alert: bool = False) -> Alert:
    return Alert(text=rt.ctx.t("id", key), show_alert=show_alert)


@retry_transient()
async def handle_canned_button(
    rt: Runtime, *, chat_id: int, actor: StaffActor, payload: str, update_key: str | None
) -> StaffResult:
    """A ``cr:`` press: open the list, send one reply, or cancel (see :mod:`handlers.staff_tools`)."""
    from bot.services.staff import StaffResult, check_owner  # bot.services.staff registers this module

    parsed = staff_tools.parse_canned_payload(payload)
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return StaffResult(duplicate=True)
        if parsed is None:
            unknown = cards.alert_unknown_action(rt.ctx)
            await refuse(rt, uow, None, actor, REFUSED_ACTION, f"{unknown.text} [payload {payload[:64]!r}]", chat_id)
            await uow.commit()
            return StaffResult(alert=unknown)
        complaint = await uow.complaints.get_for_update(parsed.complaint_id)
        refusal = await check_owner(rt, uow, complaint, chat_id)
        if complaint is None or refusal is not None:
            refusal = refusal or cards.alert_not_found(rt.ctx)
            await refuse(rt, uow, complaint, actor, REFUSED_ACTION, refusal.text, chat_id)
            await uow.commit()
            return StaffResult(alert=refusal)
        view = await build_view(uow, complaint)
        replies = rt.config.canned_for(complaint.agency)
        if parsed.cancelled:
            await refresh_card(rt, uow, complaint, view)
            alert = _alert(rt, "tools.canned_cancelled")
        elif is_terminal(complaint.status) or not replies:
            await refresh_card(rt, uow, complaint, view)
            alert = _alert(rt, "tools.canned_closed", show_alert=True)
            await refuse(rt, uow, complaint, actor, REFUSED_ACTION, alert.text, chat_id)
        elif parsed.index is None:
            card = await uow.cards.active_for(complaint.id)
            assert card is not None  # check_owner found it
            await uow.outbox.enqueue_card_edit(card, staff_tools.render_canned_picker(view, replies, rt.ctx), now=rt.clock())
            alert = _alert(rt, "tools.canned_choose")
        elif parsed.index >= len(replies) or staff_tools.canned_check(replies[parsed.index]) != parsed.check:
            card = await uow.cards.active_for(complaint.id)
            assert card is not None
            await uow.outbox.enqueue_card_edit(card, staff_tools.render_canned_picker(view, replies, rt.ctx), now=rt.clock())
            alert = _alert(rt, "tools.canned_changed", show_alert=True)
        else:
            await relay.relay_to_citizen(rt, uow, complaint, actor, replies[parsed.index])
            await refresh_card(rt, uow, complaint, await build_view(uow, complaint))
            log.info("canned reply %s sent on %s by %s", parsed.index, complaint.number, actor.user_id)
            alert = _alert(rt, "tools.canned_sent")
        await uow.commit()
    rt.on_enqueued()
    return StaffResult(alert=alert)


__all__ = ["handle_canned_button"]
