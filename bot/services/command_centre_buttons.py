"""What the command centre's group does with an escalation card, and the agency's answer to it.

Registered in :mod:`bot.services.staff_extensions`: the payload prefix ``cc`` (the card's buttons, see
:mod:`handlers.escalation`) and three link roles: the note prompt (its reply is the note), a finished
prompt (a late reply is told once that it changes nothing), and what the command centre sent an agency
group (the agency's reply goes back to the command centre, never to the citizen).

Who may press: the Telegram adapter lets only members of the group the button was pressed in through
(:mod:`bot.services.membership`); here the group must be the command centre's own. Every press is claimed
once (``update_key``), and every action and every refusal is in the audit trail (``actor_kind`` staff, the
note saying it came from the command centre). A press on an escalation whose complaint is closed or no
longer overdue gets a short answer and the card shows why.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.services.command_centre import (
    ESCALATION_ROLE,
    STAFF_LANGUAGE,
    TO_AGENCY_ROLE,
    agency_chat,
    centre,
    centre_group,
    escalation_info,
)
from bot.services.complaints import GROUP_CHANNEL, build_view, refresh_card
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor, refuse, tell_group
from handlers import escalation as esc_view
from handlers.escalation import NOTE, NOTE_CANCEL, NUDGE, PICK, TO, CcPayload
from handlers.lifecycle import is_terminal
from handlers.messages import Alert, EditTarget, MessageRef, OutMessage
from storage import command_centre as queries
from storage.models import Complaint, MessageLink
from storage.retry import retry_transient
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.services.staff import StaffResult

log = logging.getLogger("sikesal.command_centre")

#: the link roles of the note prompt: open, answered or cancelled, and told once that it is over
NOTE_PROMPT = "cc_note_prompt"
NOTE_DONE = "cc_note_done"
NOTE_TOLD = "cc_note_told"
NOTE_ROLES = (NOTE_PROMPT, NOTE_DONE, NOTE_TOLD)
#: audit actions
NUDGE_ACTION = "nudge"
NOTE_ACTION = "cc_note"
ANSWER_ACTION = "cc_answer"
#: what each press attempts, for the audit of a refusal
_ATTEMPTS = {NUDGE: NUDGE_ACTION, PICK: "reassign", TO: "reassign", NOTE: NOTE_ACTION, NOTE_CANCEL: NOTE_ACTION}
#: the faces of the escalation card
NORMAL, PICKER, WAITING = "normal", "picker", "waiting"


def _via(rt: Runtime) -> str:
    return rt.ctx.t(STAFF_LANGUAGE, "cc.audit_via")


async def show_card(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, chat_id: int, *, face: str = NORMAL, staff_name: str = ""
) -> None:
    """Edit the complaint's newest escalation card in the command centre's group to ``face``; if none was
    delivered (or recorded) yet, post a fresh one."""
    now = rt.clock()
    view = await build_view(uow, complaint)
    info = await escalation_info(rt, uow, complaint, now)
    link = await queries.latest_link(uow.session, complaint.id, chat_id, (ESCALATION_ROLE,))
    edit = EditTarget(link.message_id) if link is not None else None
    if face == PICKER:
        message = esc_view.render_escalation_picker(view, info, rt.ctx, edit=edit)
    elif face == WAITING:
        message = esc_view.render_escalation_waiting(view, info, rt.ctx, staff_name=staff_name, edit=edit)
    else:
        message = esc_view.render_escalation(view, info, rt.ctx, edit=edit)
    if edit is not None:
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, message, now=now)
    else:
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, message, complaint_id=complaint.id,
                                 link_role=ESCALATION_ROLE, now=now)


async def _audit(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, action: str, note: str) -> None:
    await uow.audit.add(complaint.id, actor_kind=actor.kind, actor_id=actor.user_id, actor_name=actor.name,
                        action=action, from_status=complaint.status, note=note, at=rt.clock())


@retry_transient()
async def handle_button(
    rt: Runtime, *, chat_id: int, actor: StaffActor, payload: str, update_key: str | None
) -> StaffResult:
    """A press of a ``cc:`` button (membership of the group was checked by the adapter)."""
    from bot.services.staff import StaffResult

    parsed = esc_view.parse_cc_payload(payload)
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return StaffResult(duplicate=True)
        alert = await _press(rt, uow, chat_id, actor, payload, parsed)
        await uow.commit()
    rt.on_enqueued()
    return StaffResult(alert=alert)


async def _press(
    rt: Runtime, uow: UnitOfWork, chat_id: int, actor: StaffActor, payload: str, parsed: CcPayload | None
) -> Alert:
    ctx = rt.ctx
    if parsed is None:
        alert = esc_view.cc_alert(ctx, "cc.alert_unknown", show_alert=True)
        await refuse(rt, uow, None, actor, "unknown", f"{alert.text} [payload {payload[:64]!r}]", chat_id)
        return alert
    attempt = _ATTEMPTS[parsed.verb]
    complaint = await uow.complaints.get_for_update(parsed.complaint_id)
    group = await centre_group(rt, uow)
    if group is None or group.chat_id != chat_id:
        alert = esc_view.cc_alert(ctx, "cc.alert_wrong_group", show_alert=True)
        await refuse(rt, uow, complaint, actor, attempt, alert.text, chat_id)
        return alert
    if complaint is None:
        alert = esc_view.cc_alert(ctx, "staff.complaint_not_found", show_alert=True)
        await refuse(rt, uow, None, actor, attempt, alert.text, chat_id)
        return alert
    restoring = parsed.verb == NOTE_CANCEL or (parsed.verb == TO and parsed.cancelled)
    if not restoring:
        closed = esc_view.closed_alert(await build_view(uow, complaint), ctx, rt.clock())
        if closed is not None:  # nothing left to do: say so, and let the card show why
            await refuse(rt, uow, complaint, actor, attempt, closed.text, chat_id)
            await show_card(rt, uow, complaint, chat_id)
            return closed
    if parsed.verb == NUDGE:
        return await _nudge(rt, uow, complaint, actor, chat_id)
    if parsed.verb == PICK:
        await show_card(rt, uow, complaint, chat_id, face=PICKER)
        return esc_view.cc_alert(ctx, "cc.alert_pick")
    if parsed.verb == TO:
        return await _reassign(rt, uow, complaint, actor, chat_id, parsed.agency)
    if parsed.verb == NOTE:
        return await _ask_note(rt, uow, complaint, actor, chat_id)
    closed_count = await uow.links.close_prompts(complaint.id, (NOTE_PROMPT,), NOTE_DONE)
    await show_card(rt, uow, complaint, chat_id)
    return esc_view.cc_alert(ctx, "cc.alert_note_cancelled" if closed_count else "cc.alert_note_nothing")


async def _nudge(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, chat_id: int) -> Alert:
    """*🔔 Ingatkan instansi*: a reminder in the agency's group under the complaint's card."""
    alert, sent = await nudge_agency(rt, uow, complaint, actor, chat_id)
    if sent:
        await show_card(rt, uow, complaint, chat_id)
    return alert


async def nudge_agency(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, chat_id: int | None
) -> tuple[Alert, bool]:
    """The reminder itself (the escalation card's button and the dashboard's *Ingatkan*): posted in the
    agency's group, audited, the card's history updated. False when the agency has no group (refused and
    audited; ``chat_id`` is where the attempt came from, None from the web)."""
    ctx = rt.ctx
    agency = esc_view.short_agency(complaint.agency, STAFF_LANGUAGE, ctx)
    target = await agency_chat(uow, complaint)
    if target is None:
        alert = esc_view.cc_alert(ctx, "cc.alert_no_agency_group", show_alert=True, agency=agency)
        await refuse(rt, uow, complaint, actor, NUDGE_ACTION, alert.text, chat_id)
        return alert, False
    now = rt.clock()
    view = await build_view(uow, complaint)
    nudge = esc_view.render_nudge(view, ctx, centre=centre(rt), staff_name=actor.name, now=now)
    await uow.outbox.enqueue(GROUP_CHANNEL, target, nudge, complaint_id=complaint.id, link_role=TO_AGENCY_ROLE,
                             now=now)
    await _audit(rt, uow, complaint, actor, NUDGE_ACTION, _via(rt))
    await refresh_card(rt, uow, complaint, await build_view(uow, complaint))  # its history says so too
    log.info("%s: the command centre (%s) reminded %s", complaint.number, actor.user_id, complaint.agency)
    return esc_view.cc_alert(ctx, "cc.alert_nudged", agency=agency), True


async def _reassign(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, chat_id: int, agency: str | None
) -> Alert:
    """A choice in the picker: the same reassignment as on a card (the citizen is told, the new agency gets
    a fresh card, the old card says where it went, the clocks follow, the audit names the command centre);
    the cancel (or an agency this version does not know) shows the card's buttons again."""
    from bot.services.staff import _reassign_to

    if not agency or agency == complaint.agency or rt.ctx.agency(agency) is None:
        await show_card(rt, uow, complaint, chat_id)
        return esc_view.cc_alert(rt.ctx, "cc.alert_pick_cancelled")
    alert = await _reassign_to(rt, uow, complaint, actor, agency, note=_via(rt))
    await show_card(rt, uow, complaint, chat_id)
    return alert


async def _ask_note(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, chat_id: int) -> Alert:
    """*📝 Beri catatan*: a reply prompt under the escalation card; the card waits with a cancel button."""
    now = rt.clock()
    view = await build_view(uow, complaint)
    link = await queries.latest_link(uow.session, complaint.id, chat_id, (ESCALATION_ROLE,))
    prompt = esc_view.render_note_prompt(view, rt.ctx, staff_name=actor.name,
                                         reply_to=int(link.message_id) if link is not None else None)
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, prompt, complaint_id=complaint.id, link_role=NOTE_PROMPT,
                             link_staff_user_id=actor.user_id, now=now)
    await show_card(rt, uow, complaint, chat_id, face=WAITING, staff_name=actor.name)
    return esc_view.cc_alert(rt.ctx, "cc.alert_note_prompted")


# --- replies ----------------------------------------------------------------------------------------


async def answer_note(
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
    """A reply under the note prompt: the note goes to the agency's group under its card and into the
    audit trail. An empty reply asks again (the prompt stays open); a reply to a finished prompt is told
    once that it changes nothing."""
    ctx = rt.ctx
    group = await centre_group(rt, uow)
    if group is None or group.chat_id != chat_id:
        reason = ctx.t(STAFF_LANGUAGE, "cc.alert_wrong_group")
        await refuse(rt, uow, complaint, actor, NOTE_ACTION, reason, chat_id)
        return
    if link.role != NOTE_PROMPT:
        said = ctx.t(STAFF_LANGUAGE, "cc.note_over")
        if link.role != NOTE_TOLD:  # said once per prompt, then silence
            link.role = NOTE_TOLD
            await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        await refuse(rt, uow, complaint, actor, NOTE_ACTION, said, chat_id)
        return
    if not text.strip():
        said = ctx.t(STAFF_LANGUAGE, "cc.note_empty")
        await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        await refuse(rt, uow, complaint, actor, NOTE_ACTION, said, chat_id)
        return
    await uow.links.close_prompts(complaint.id, (NOTE_PROMPT,), NOTE_DONE)
    view = await build_view(uow, complaint)
    if is_terminal(complaint.status):
        closed = esc_view.closed_alert(view, ctx, rt.clock())
        said = closed.text if closed is not None else ctx.t(STAFF_LANGUAGE, "cc.note_over")
        await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        await refuse(rt, uow, complaint, actor, NOTE_ACTION, said, chat_id)
        await show_card(rt, uow, complaint, chat_id)
        return
    now = rt.clock()
    agency = esc_view.short_agency(complaint.agency, STAFF_LANGUAGE, ctx)
    target = await agency_chat(uow, complaint)
    if target is not None:
        note = esc_view.render_cc_note(view, ctx, centre=centre(rt), staff_name=actor.name, note=text)
        await uow.outbox.enqueue(GROUP_CHANNEL, target, note, complaint_id=complaint.id, link_role=TO_AGENCY_ROLE,
                                 now=now)
    await _audit(rt, uow, complaint, actor, NOTE_ACTION, ctx.t(STAFF_LANGUAGE, "cc.audit_note", note=text.strip()))
    await refresh_card(rt, uow, complaint, await build_view(uow, complaint))  # its history says so too
    key = "cc.note_sent" if target is not None else "cc.note_kept"
    said = esc_view.group_text(ctx, key, number=complaint.number, agency=agency)
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, esc_view.render_group_notice(said, reply_to=reply_to_message_id),
                             now=now)
    await show_card(rt, uow, complaint, chat_id)


async def answer_from_agency(
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
    """An agency officer replied to the command centre's reminder or note: the answer goes to the command
    centre's group (under the newest escalation card), not to the citizen."""
    from bot.services.staff import check_owner

    ctx = rt.ctx
    refusal = await check_owner(rt, uow, complaint, chat_id)
    if refusal is not None:
        await refuse(rt, uow, complaint, actor, ANSWER_ACTION, refusal.text, chat_id)
        await tell_group(rt, uow, chat_id, refusal.text, reply_to_message_id)
        return
    if not text.strip():
        said = ctx.t(STAFF_LANGUAGE, "cc.answer_empty")
        await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        await refuse(rt, uow, complaint, actor, ANSWER_ACTION, said, chat_id)
        return
    now = rt.clock()
    group = await centre_group(rt, uow)
    if group is not None:
        escalation = await queries.latest_link(uow.session, complaint.id, group.chat_id, (ESCALATION_ROLE,))
        answer = esc_view.render_agency_answer(
            complaint.number, ctx, agency=complaint.agency, staff_name=actor.name, text=text,
            reply_to=int(escalation.message_id) if escalation is not None else None,
        )
        await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id, answer, now=now)
    await _audit(rt, uow, complaint, actor, ANSWER_ACTION, text.strip())
    key = "cc.answer_sent" if group is not None else "cc.answer_kept"
    said = esc_view.group_text(ctx, key, number=complaint.number,
                               centre=esc_view.short_agency(centre(rt), STAFF_LANGUAGE, ctx))
    reply = OutMessage(text=said, reply_to=MessageRef(kind="message", message_id=reply_to_message_id))
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, reply, now=now)


__all__ = ["NOTE_ROLES", "answer_from_agency", "answer_note", "handle_button", "nudge_agency", "show_card"]
