"""Appeals against a rejection: the citizen's appeal reaches the command centre as a card, and the command
centre decides it there with one of three buttons (``ap:`` payloads, registered in
:mod:`bot.services.staff_extensions`):

* *Tolak keberatan*: the rejection stands; the command centre is asked why by a reply prompt (link role
  ``appeal_prompt``) and the citizen is told that reason;
* *Buka kembali*: the complaint goes back to the same agency as *dibuka kembali* (``decide(..., "reopen",
  actor="command")``), with a fresh card and a new resolve clock;
* *Alihkan*: the agency picker, then ``decide(..., "reassign", actor="command")``: *baru* at the chosen
  agency, through the staff reassignment (:func:`bot.services.staff._reassign_to`).

An appeal is possible once per complaint (``appealed_at``); its outcome is kept in ``appeal_outcome``
(pending | upheld | reopened | reassigned). Every step is audited.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from bot.services import command_centre
from bot.services.complaints import GROUP_CHANNEL, alias_for, build_view, notify_status
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor, refuse, tell_group
from handlers import appeals, cards, lifecycle
from handlers.appeals import AppealVerb
from handlers.events import MediaRef
from handlers.messages import Alert, EditTarget, MessageRef, OutMessage
from handlers.views import agency_display, esc, truncate
from storage.models import Citizen, Complaint, MessageLink
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.appeals")

#: the appeal card in the command centre's group (edited when decided)
CARD_ROLE = "appeal_card"
#: the reply prompt of *Tolak keberatan*, open / answered
PROMPT_ROLE = "appeal_prompt"
PROMPT_DONE = "appeal_done"
PENDING, UPHELD, REOPENED, REASSIGNED = "pending", "upheld", "reopened", "reassigned"
STAFF_LANGUAGE = "id"


# --- the citizen's side ---------------------------------------------------------------------------


async def file_appeal(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, language: str, complaint: Complaint, reason: str, now: datetime
) -> list[OutMessage]:
    """Record the appeal and put its card in the command centre's group; the citizen's confirmation."""
    from bot.services.followup import subject_of

    ctx = rt.ctx_for(citizen.channel)
    locked = await uow.complaints.get_for_update(complaint.id) or complaint
    if not subject_of(rt, locked, now).appeal_open:
        return [OutMessage(ctx.t(language, "followup.appeal_closed", number=esc(locked.number)))]
    locked.appeal_reason, locked.appealed_at, locked.appeal_outcome = reason, now, PENDING
    await uow.audit.add(locked.id, actor_kind="citizen", actor_id=str(citizen.id),
                        actor_name=alias_for(locked, citizen.id), action="appeal", note=reason, at=now)
    card = appeals.render_appeal_card(await build_view(uow, locked), reason, locked.reject_reason or "", rt.ctx)
    # through the command centre's notice (without a linked group it is logged and audited there)
    await command_centre.notify(rt, uow, card.text, card.buttons, complaint_id=locked.id, link_role=CARD_ROLE)
    centre = esc(agency_display(rt.config.command_centre, language, ctx))
    return [OutMessage(ctx.t(language, "followup.appeal_sent", number=esc(locked.number), centre=centre))]


async def _tell_citizen(rt: Runtime, uow: UnitOfWork, complaint: Complaint, key: str, **params: object) -> None:
    from bot.services.complaints import send_to_citizen

    citizen = await uow.citizens.get(complaint.citizen_id)
    if citizen is None:
        return
    ctx = rt.ctx_for(citizen.channel)
    centre = esc(agency_display(rt.config.command_centre, citizen.language, ctx))
    text = ctx.t(citizen.language, key, number=esc(complaint.number), centre=centre, **params)
    await send_to_citizen(rt, uow, citizen, complaint, OutMessage(text))


# --- the command centre's side --------------------------------------------------------------------


async def _edit_card(rt: Runtime, uow: UnitOfWork, complaint: Complaint, chat_id: int, message: OutMessage) -> None:
    """Change the appeal card in place (its latest delivered copy in this group)."""
    ids = await uow.links.message_ids(complaint.id, CARD_ROLE, GROUP_CHANNEL, chat_id)
    if ids:
        edited = OutMessage(message.text, buttons=message.buttons, edit=EditTarget(ids[-1]))
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, edited, now=rt.clock())


async def _decided(rt: Runtime, uow: UnitOfWork, complaint: Complaint, chat_id: int, outcome: str) -> None:
    view = await build_view(uow, complaint)
    card = appeals.render_appeal_decided(view, complaint.appeal_reason or "", complaint.reject_reason or "",
                                         outcome, rt.ctx)
    await _edit_card(rt, uow, complaint, chat_id, card)


def _t(rt: Runtime, key: str, **params: object) -> str:
    return rt.ctx.t(STAFF_LANGUAGE, key, **params)


async def _check(rt: Runtime, uow: UnitOfWork, complaint: Complaint | None, chat_id: int) -> Alert | None:
    """Only the command centre's group decides, and only a pending appeal on a rejected complaint."""
    if complaint is None:
        return cards.alert_not_found(rt.ctx)
    if await uow.agencies.agency_for_chat(chat_id) != rt.config.command_centre:
        return Alert(_t(rt, "staff.appeal.not_here"), show_alert=True)
    if complaint.appeal_outcome != PENDING or complaint.status != lifecycle.Status.DITOLAK:
        return Alert(_t(rt, "staff.appeal.decided"), show_alert=True)
    return None


@retry_transient()
async def handle_appeal_button(
    rt: Runtime, *, chat_id: int, actor: StaffActor, payload: str, update_key: str | None
) -> object:
    """An ``ap:`` button on an appeal card (see the module docstring)."""
    from bot.services.staff import StaffResult

    press = appeals.parse_appeal(payload)
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return StaffResult(duplicate=True)
        complaint = await uow.complaints.get_for_update(press.complaint_id) if press is not None else None
        refusal = await _check(rt, uow, complaint, chat_id)
        if press is None or complaint is None or refusal is not None:
            refusal = refusal or cards.alert_unknown_action(rt.ctx)
            await refuse(rt, uow, complaint, actor, "appeal_decide", refusal.text, chat_id)
            await uow.commit()
            return StaffResult(alert=refusal)
        alert = await _decide(rt, uow, complaint, actor, press, chat_id)
        await uow.commit()
    rt.on_enqueued()
    return StaffResult(alert=alert)


async def _decide(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, press: appeals.AppealPress, chat_id: int
) -> Alert:
    view = await build_view(uow, complaint)
    reason, rejected = complaint.appeal_reason or "", complaint.reject_reason or ""
    if press.verb == AppealVerb.MOVE:
        await _edit_card(rt, uow, complaint, chat_id, appeals.render_appeal_picker(view, reason, rejected, rt.ctx))
        return cards.alert_choose_agency(rt.ctx)
    if press.verb == AppealVerb.BACK:
        await _edit_card(rt, uow, complaint, chat_id, appeals.render_appeal_card(view, reason, rejected, rt.ctx))
        return Alert()
    if press.verb == AppealVerb.UPHOLD:
        prompt = OutMessage(html.escape(_t(rt, "staff.appeal.prompt", number=complaint.number)), force_reply=True)
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, prompt, complaint_id=complaint.id, link_role=PROMPT_ROLE,
                                 link_staff_user_id=actor.user_id, now=rt.clock())
        return Alert(_t(rt, "staff.appeal.prompted"))
    if press.verb == AppealVerb.REOPEN:
        return await _reopen(rt, uow, complaint, actor, chat_id)
    return await _reassign(rt, uow, complaint, actor, press.agency, chat_id)


async def _reopen(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, chat_id: int) -> Alert:
    """*Buka kembali*: dibuka kembali at the same agency, fresh card, new resolve clock; the citizen is told."""
    from bot.services.followup import reopen

    now = rt.clock()
    if not await reopen(rt, uow, complaint, actor="command", actor_id=actor.user_id, actor_name=actor.name,
                        note=None, now=now):
        alert = Alert(_t(rt, "staff.appeal.decided"), show_alert=True)
        await refuse(rt, uow, complaint, actor, "appeal_decide", alert.text, chat_id)
        return alert
    complaint.appeal_outcome = REOPENED
    await _tell_citizen(rt, uow, complaint, "followup.appeal_accepted")
    await notify_status(rt, uow, complaint, await build_view(uow, complaint), None)
    agency = esc(agency_display(complaint.agency, STAFF_LANGUAGE, rt.ctx))
    await _decided(rt, uow, complaint, chat_id, _t(rt, "staff.appeal.reopened", actor=esc(actor.name), agency=agency))
    return Alert(_t(rt, "staff.appeal.done"))


async def _reassign(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, agency: str | None, chat_id: int
) -> Alert:
    """*Alihkan* → an agency: baru there, through the staff reassignment (its fresh card, the old card's
    "moved to", the citizen's notice, the accept clock there)."""
    from bot.services.staff import _reassign_to

    if not agency or agency == complaint.agency or rt.ctx.agency(agency) is None:
        return Alert(_t(rt, "staff.appeal.decided"), show_alert=True)
    await _tell_citizen(rt, uow, complaint, "followup.appeal_accepted")
    alert = await _reassign_to(rt, uow, complaint, actor, agency, note=_t(rt, "staff.appeal.via"), by="command")
    if alert.show_alert:
        return alert
    complaint.appeal_outcome = REASSIGNED
    shown = esc(agency_display(agency, STAFF_LANGUAGE, rt.ctx))
    await _decided(rt, uow, complaint, chat_id, _t(rt, "staff.appeal.moved", actor=esc(actor.name), agency=shown))
    return Alert(_t(rt, "staff.appeal.done"))


async def answer_appeal_prompt(
    rt: Runtime, uow: UnitOfWork, link: MessageLink, complaint: Complaint, actor: StaffActor, text: str, *,
    photo: MediaRef | None = None, chat_id: int, reply_to_message_id: int,
) -> None:
    """The reason the appeal is turned down (a reply to *Tolak keberatan*'s prompt): the rejection stands,
    the citizen reads why, the card says who decided. A reply to an answered prompt is told so once."""
    refusal = await _check(rt, uow, complaint, chat_id)
    if link.role == PROMPT_DONE or refusal is not None:
        said = refusal.text if refusal is not None else _t(rt, "staff.appeal.decided")
        if link.role != PROMPT_DONE or refusal is None:
            await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        link.role = PROMPT_DONE
        await refuse(rt, uow, complaint, actor, "appeal_upheld", said, chat_id)
        return
    reason = (text or "").strip()
    if not reason:
        await tell_group(rt, uow, chat_id, _t(rt, "staff.appeal.reason_missing"), reply_to_message_id)
        return
    now = rt.clock()
    complaint.appeal_outcome = UPHELD
    link.role = PROMPT_DONE
    await uow.audit.add(complaint.id, actor_kind="staff", actor_id=actor.user_id, actor_name=actor.name,
                        action="appeal_upheld", note=reason, at=now)
    await _tell_citizen(rt, uow, complaint, "followup.appeal_upheld", reason=esc(truncate(reason, 1500)))
    await _decided(rt, uow, complaint, chat_id,
                   _t(rt, "staff.appeal.upheld", actor=esc(actor.name), reason=esc(truncate(reason, 600))))
    done = OutMessage(html.escape(_t(rt, "staff.appeal.done")),
                      reply_to=MessageRef(kind="message", message_id=reply_to_message_id))
    await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, done, now=now)


__all__ = ["CARD_ROLE", "PROMPT_ROLE", "answer_appeal_prompt", "file_appeal", "handle_appeal_button"]
