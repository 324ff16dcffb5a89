"""The steps every staff action shares: who acts, how a refusal is logged and audited, and the one
guarded status change (:func:`transition`) that buttons and prompt answers go through.

Kept apart from :mod:`bot.services.staff` (the handlers) so the prompt answers in
:mod:`bot.services.staff_prompts` use the same steps without an import cycle.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from bot.services import clocks
from bot.services.command_centre import refresh_escalation
from bot.services.complaints import GROUP_CHANNEL, build_view, notify_status, refresh_card
from bot.services.runtime import Runtime
from handlers import cards, lifecycle
from handlers.messages import Alert, MessageRef, OutMessage
from storage.models import Complaint
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.staff")


@dataclass(frozen=True, slots=True)
class StaffActor:
    """A staff member acting in a group: Telegram user id and display name (for the audit trail).

    ``kind`` is the audit entry's ``actor_kind``: ``staff`` in a Telegram group, ``web`` for a dashboard
    account (``user_id`` ``web:<username>``, see :mod:`bot.services.web_actions`), so the trail says
    where an action came from while both go through the same steps."""

    user_id: str
    name: str
    kind: str = "staff"


async def refuse(
    rt: Runtime,
    uow: UnitOfWork,
    complaint: Complaint | None,
    actor: StaffActor,
    action: str,
    reason: str,
    chat_id: int | None,
) -> None:
    """Log and audit a refused attempt (staff-only: refused entries are never shown on a card or to
    a citizen)."""
    log.warning(
        "refused %s by user %s in chat %s on complaint %s: %s",
        action,
        actor.user_id,
        chat_id,
        complaint.number if complaint else "?",
        reason,
    )
    await uow.audit.add(
        complaint.id if complaint else None,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_name=actor.name,
        action=str(action),
        from_status=complaint.status if complaint else None,
        note=reason if actor.kind != "staff" and chat_id is None else f"{reason} (chat {chat_id})",  # web: no chat
        refused=True,
        at=rt.clock(),
    )


async def transition(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, action: str, *, note: str | None,
    media_sha256: str | None = None,
) -> Alert:
    """Apply ``action`` if the lifecycle table allows it *and* nobody changed the complaint since it
    was read (:meth:`storage.repositories.ComplaintRepo.move`): of two presses at once, in one process
    or two, exactly one moves the complaint and the other gets a polite alert. ``media_sha256``: a photo
    that came with the action (the proof of fix), recorded in its audit entry."""
    decision = lifecycle.decide(complaint.status, action)
    if not decision.allowed or decision.to_status is None:
        alert = cards.alert_refused(decision, rt.ctx, status=complaint.status)
        await refuse(rt, uow, complaint, actor, action, alert.text, None)
        return alert
    if decision.needs_note and not note:
        alert = Alert(text=rt.ctx.t("id", "staff.reason_missing"), show_alert=True)
        await refuse(rt, uow, complaint, actor, action, alert.text, None)
        return alert
    now = rt.clock()
    old = complaint.status
    if not await uow.complaints.move(complaint, expected_status=old, status=decision.to_status.value, now=now):
        alert = cards.alert_already_changed(rt.ctx, complaint.status)
        await refuse(rt, uow, complaint, actor, action, alert.text, None)
        return alert
    if decision.to_status == lifecycle.Status.DITOLAK:
        complaint.reject_reason = note
    await clocks.on_status_changed(rt, uow, complaint, now)  # accepted, closed or a duplicate: clocks stop
    await uow.audit.add(
        complaint.id,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_name=actor.name,
        action=str(action),
        from_status=old,
        to_status=decision.to_status.value,
        note=note,
        at=now,
        media_sha256=media_sha256,
    )
    view = await build_view(uow, complaint)
    await refresh_card(rt, uow, complaint, view)
    await refresh_escalation(rt, uow, complaint)  # the command centre's card of it, if it was escalated
    await notify_status(rt, uow, complaint, view, note)
    return cards.alert_status_changed(rt.ctx, decision.to_status.value)


async def tell_group(rt: Runtime, uow: UnitOfWork, chat_id: int, text: str, reply_to: int) -> None:
    """A refusal in answer to a reply: a reply has no toast, so it is a (short) group message."""
    message = OutMessage(text=html.escape(text), reply_to=MessageRef(kind="message", message_id=reply_to))
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, message, now=rt.clock())


__all__ = ["StaffActor", "refuse", "tell_group", "transition"]
