"""The command centre blocks a citizen: the ``blk`` button on its cards, the reason as a reply, the CLI.

Registered in :mod:`bot.services.staff_extensions` (payload prefix ``blk`` and the prompt's link roles).
Who may press: the Telegram adapter lets only members of the group through (asking Telegram afresh: an
extension button always does, see :func:`bot.services.membership.press_must_refresh`); here the group
must be the command centre's own. Every block, unblock and refusal is in the complaint's audit trail
(staff only: no citizen reads it). The blocked citizen's messages get one short notice, then are
ignored (:func:`bot.services.floods.held`); their open complaints stay with the agencies.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.services.command_centre import ESCALATION_ROLE, STAFF_LANGUAGE, centre_group
from bot.services.complaints import GROUP_CHANNEL
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor, refuse, tell_group
from handlers import blocking
from handlers.escalation import cc_alert
from handlers.messages import Alert
from storage import command_centre as queries
from storage.models import Citizen, Complaint, MessageLink
from storage.retry import retry_transient
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.services.staff import StaffResult

log = logging.getLogger("sikesal.blocking")

#: link roles: the reason prompt (open, then done), and the message carrying its cancel button
PROMPT = "blk_prompt"
PROMPT_DONE = "blk_prompt_done"
PROMPT_TOLD = "blk_prompt_told"
PROMPT_ROLES = (PROMPT, PROMPT_DONE, PROMPT_TOLD)
CANCEL_ROLE = "blk_cancel"
#: the cards in the command centre's group a prompt answers under (newest first)
_CARD_ROLES = (ESCALATION_ROLE, "appeal_card")


async def block(
    uow: UnitOfWork, citizen: Citizen, complaint: Complaint, *, reason: str, actor_kind: str, actor_id: str,
    actor_name: str | None, now: datetime,
) -> None:
    """Block the citizen behind ``complaint`` (a block already in place gets the new reason) and audit it."""
    citizen.blocked_at = citizen.blocked_at or now
    citizen.blocked_reason = reason[: blocking.REASON_MAX] or None
    citizen.block_noticed_at = None  # their next message is told once
    await uow.audit.add(complaint.id, actor_kind=actor_kind, actor_id=actor_id, actor_name=actor_name,
                        action=blocking.BLOCKED, from_status=complaint.status, note=reason or None, at=now)
    log.info("the citizen behind %s was blocked by %s", complaint.number, actor_id)


async def unblock(
    uow: UnitOfWork, citizen: Citizen, complaint: Complaint, *, actor_kind: str, actor_id: str,
    actor_name: str | None, now: datetime,
) -> None:
    """Lift the block (their next message is handled as usual again) and audit it."""
    citizen.blocked_at = citizen.blocked_reason = citizen.block_noticed_at = None
    citizen.rate_count, citizen.rate_previous, citizen.rate_warned = 0, 0, False
    await uow.audit.add(complaint.id, actor_kind=actor_kind, actor_id=actor_id, actor_name=actor_name,
                        action=blocking.UNBLOCKED, from_status=complaint.status, note=None, at=now)
    log.info("the citizen behind %s was unblocked by %s", complaint.number, actor_id)


@retry_transient()
async def handle_button(
    rt: Runtime, *, chat_id: int, actor: StaffActor, payload: str, update_key: str | None
) -> StaffResult:
    """A press of a ``blk:`` button (membership of the group was checked by the adapter)."""
    from bot.services.staff import StaffResult

    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return StaffResult(duplicate=True)
        alert = await _press(rt, uow, chat_id, actor, payload)
        await uow.commit()
    rt.on_enqueued()
    return StaffResult(alert=alert)


async def _press(rt: Runtime, uow: UnitOfWork, chat_id: int, actor: StaffActor, payload: str) -> Alert:
    ctx = rt.ctx
    parsed = blocking.parse(payload)
    if parsed is None:
        alert = cc_alert(ctx, "cc.alert_unknown", show_alert=True)
        await refuse(rt, uow, None, actor, "unknown", f"{alert.text} [payload {payload[:64]!r}]", chat_id)
        return alert
    complaint = await uow.complaints.get_for_update(parsed.complaint_id)
    group = await centre_group(rt, uow)
    if group is None or group.chat_id != chat_id:
        alert = cc_alert(ctx, "cc.alert_wrong_group", show_alert=True)
        await refuse(rt, uow, complaint, actor, blocking.BLOCKED, alert.text, chat_id)
        return alert
    if complaint is None:
        alert = cc_alert(ctx, "staff.complaint_not_found", show_alert=True)
        await refuse(rt, uow, None, actor, blocking.BLOCKED, alert.text, chat_id)
        return alert
    if parsed.verb == blocking.CANCEL:
        closed = await uow.links.close_prompts(complaint.id, (PROMPT,), PROMPT_DONE)
        await _close_cancel(rt, uow, complaint, chat_id, "cc.block_cancelled")
        return cc_alert(ctx, "cc.alert_block_cancelled" if closed else "cc.alert_block_nothing")
    citizen = await uow.citizens.get(complaint.citizen_id)
    if citizen is not None and citizen.blocked_at is not None:
        return cc_alert(ctx, "cc.alert_already_blocked")
    now = rt.clock()
    prompt = blocking.render_prompt(complaint.number, ctx, staff_name=actor.name,
                                    reply_to=await _card_message(uow, complaint, chat_id))
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, prompt, complaint_id=complaint.id, link_role=PROMPT,
                             link_staff_user_id=actor.user_id, now=now)
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, blocking.render_prompt_cancel(complaint.id, ctx),
                             complaint_id=complaint.id, link_role=CANCEL_ROLE, now=now)
    return cc_alert(ctx, "cc.alert_block_prompted")


async def _card_message(uow: UnitOfWork, complaint: Complaint, chat_id: int) -> int | None:
    """The message the prompt answers under: the newest escalation or appeal card in this group, else the
    complaint's own card when it stands here (rerouted: its agency's group cannot be reached)."""
    link = await queries.latest_link(uow.session, complaint.id, chat_id, _CARD_ROLES)
    if link is not None:
        return int(link.message_id)
    card = await uow.cards.active_for(complaint.id)
    if card is not None and card.chat_id == chat_id and card.message_id is not None:
        return int(card.message_id)
    return None


async def _close_cancel(rt: Runtime, uow: UnitOfWork, complaint: Complaint, chat_id: int, key: str) -> None:
    """The cancel message says how it ended, without its button."""
    link = await queries.latest_link(uow.session, complaint.id, chat_id, (CANCEL_ROLE,))
    if link is not None:
        message = blocking.render_closed(key, complaint.number, rt.ctx, edit=link.message_id)
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, message, now=rt.clock())


async def answer_prompt(
    rt: Runtime,
    uow: UnitOfWork,
    link: MessageLink,
    complaint: Complaint,
    actor: StaffActor,
    text: str,
    *,
    chat_id: int,
    reply_to_message_id: int,
    **_: object,
) -> None:
    """A reply under the reason prompt: the citizen is blocked, with that reason, audited. An empty
    reply asks again; a reply to a finished prompt is told once that it changes nothing."""
    ctx = rt.ctx
    group = await centre_group(rt, uow)
    if group is None or group.chat_id != chat_id:
        reason = ctx.t(STAFF_LANGUAGE, "cc.alert_wrong_group")
        await refuse(rt, uow, complaint, actor, blocking.BLOCKED, reason, chat_id)
        return
    if link.role != PROMPT:
        said = ctx.t(STAFF_LANGUAGE, "cc.block_over")
        if link.role != PROMPT_TOLD:
            link.role = PROMPT_TOLD
            await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        await refuse(rt, uow, complaint, actor, blocking.BLOCKED, said, chat_id)
        return
    reason = text.strip()
    if not reason:
        said = ctx.t(STAFF_LANGUAGE, "cc.block_reason_empty")
        await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        await refuse(rt, uow, complaint, actor, blocking.BLOCKED, said, chat_id)
        return
    await uow.links.close_prompts(complaint.id, (PROMPT,), PROMPT_DONE)
    citizen = await uow.citizens.get(complaint.citizen_id)
    if citizen is None:
        return
    now = rt.clock()
    await block(uow, citizen, complaint, reason=reason, actor_kind="staff", actor_id=actor.user_id,
                actor_name=actor.name, now=now)
    await _close_cancel(rt, uow, complaint, chat_id, "cc.block_closed")
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id,
                             blocking.render_done(complaint.number, ctx, reply_to=reply_to_message_id), now=now)


__all__ = ["CANCEL_ROLE", "PROMPT_ROLES", "answer_prompt", "block", "handle_button", "unblock"]
