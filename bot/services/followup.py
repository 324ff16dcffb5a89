"""The follow-up after a complaint is closed, the shell around :mod:`handlers.followup`: "Apakah masalahnya
sudah beres?" when a complaint becomes *selesai*, the citizen's answers (rating, comment, the reason a fix did
not hold and the reopen it causes, an appeal against a rejection), and the unanswered question's close.

Everything runs inside the caller's unit of work, every message through the outbox: the citizen service calls
:func:`take` for each citizen event before the filing flow; the staff side calls :func:`ask_resolution`
after the resolution notice; the scheduler calls :func:`close_unanswered` for a due ``confirm_close`` timer.
The command centre's side of an appeal is in :mod:`bot.services.followup_appeals`.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm.attributes import flag_modified

from bot.services import clocks, command_centre
from bot.services.complaints import GROUP_CHANNEL, alias_for, build_view, post_card, refresh_card
from bot.services.runtime import Runtime
from handlers import cards, followup, lifecycle
from handlers.events import Incoming
from handlers.flow import versions
from handlers.followup import Appeal, Comment, ConfirmFixed, FollowupEffect, Rate, Reopen, Subject
from handlers.messages import Alert, OutMessage
from handlers.state import Conversation, Step
from handlers.views import agency_display, card_ref, esc, menu_rows, status_label, truncate
from storage.models import Citizen, Complaint, ConversationRow
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.followup")

WHATSAPP = "whatsapp"
#: the link role of the question (its template outside WhatsApp's window, its buttons taken off on close)
QUESTION_ROLE = "fu_question"
#: the timer that closes an unanswered question (see bot.services.scheduler)
CONFIRM_CLOSE = "confirm_close"


# --- facts for the core ---------------------------------------------------------------------------


def resolved_at(complaint: Complaint) -> datetime | None:
    """When the complaint was last resolved (the question is asked at that moment)."""
    return complaint.resolved_at or complaint.confirm_asked_at


def subject_of(rt: Runtime, complaint: Complaint, now: datetime) -> Subject:
    """What the core needs to know about ``complaint`` to judge a follow-up answer."""
    cfg = rt.config.followup
    resolved = resolved_at(complaint)
    reopen_open = complaint.status == lifecycle.Status.SELESAI and (
        resolved is None or now <= _aware(resolved) + timedelta(days=cfg.reopen_within_days)
    )
    return Subject(
        complaint_id=complaint.id,
        number=complaint.number,
        status=complaint.status,
        agency=complaint.agency,
        confirmation=complaint.confirmation,
        rated=complaint.rating is not None,
        reopen_open=reopen_open,
        reopen_days=cfg.reopen_within_days,
        appeal_open=(complaint.status == lifecycle.Status.DITOLAK and cfg.appeal and complaint.appealed_at is None),
        command_centre=rt.config.command_centre,
    )


def _aware(value: datetime) -> datetime:
    from storage.outbox import as_utc

    return as_utc(value)


async def _find(uow: UnitOfWork, ref: str | None) -> Complaint | None:
    if not ref:
        return None
    if ref.isdigit() and len(ref) < 10:
        return await uow.complaints.get(int(ref))
    return await uow.complaints.by_number(ref.strip().upper())


# --- the question ---------------------------------------------------------------------------------


def _in_window(citizen: Citizen, now: datetime) -> bool:
    """WhatsApp's 24-hour window is open (free text reaches the citizen), as the sender judges it."""
    from bot.delivery.whatsapp import WINDOW, WINDOW_MARGIN

    last = citizen.last_inbound_at
    return last is not None and now - _aware(last) < WINDOW - WINDOW_MARGIN


def _save_quietly(row: ConversationRow, conversation: Conversation) -> None:
    """Store the conversation after a message of ours: the idle clock (``updated_at``) keeps running."""
    row.state = conversation.to_dict()
    flag_modified(row, "state")


async def plan_close(rt: Runtime, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """The ``confirm_close`` timer at ``followup.confirm_within_days`` after the question: one per resolution
    round (``reopen_count``), so a reopened and again resolved complaint gets its own."""
    due = now + timedelta(days=rt.config.followup.confirm_within_days)
    await clocks.plan_timer(uow, CONFIRM_CLOSE, f"c{complaint.id}", due, complaint_id=complaint.id,
                            round=complaint.reopen_count or 0)


async def ask_resolution(rt: Runtime, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """"Apakah masalahnya sudah beres?" to the reporter of a complaint that just became *selesai* (once per
    resolution: a second call changes nothing). Outside WhatsApp's window the question goes as the approved
    ``whatsapp.resolution_template``; without one it waits until the citizen writes (:func:`catch_up`)."""
    if complaint.status != lifecycle.Status.SELESAI or complaint.confirmation == "asked":
        return
    complaint.confirmation = "asked"
    complaint.confirm_asked_at = now
    complaint.resolved_at = now
    await plan_close(rt, uow, complaint, now)
    citizen = await uow.citizens.get(complaint.citizen_id)
    if citizen is None:
        return
    if (citizen.channel == WHATSAPP and rt.config.whatsapp.resolution_template is None
            and not _in_window(citizen, now)):
        log.info("question about %s waits until the citizen writes (WhatsApp window closed)", complaint.number)
        return
    await _send_question(rt, uow, citizen, complaint, now)


async def _send_question(rt: Runtime, uow: UnitOfWork, citizen: Citizen, complaint: Complaint, now: datetime) -> None:
    row = await uow.conversations.load(citizen.id)
    conversation = Conversation.from_dict(row.state) if row.state else Conversation(language=citizen.language)
    outcome = followup.ask(conversation, rt.ctx_for(citizen.channel), subject_of(rt, complaint, now), now)
    for message in outcome.messages:
        await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id, message, complaint_id=complaint.id,
                                 link_role=QUESTION_ROLE, now=now)
    _save_quietly(row, outcome.conversation)


async def catch_up(rt: Runtime, uow: UnitOfWork, citizen: Citizen) -> None:
    """A WhatsApp citizen writes again: a question that could not reach them (the window was closed and no
    template was set, or the channel refused it) is asked now, after the answer to what they wrote."""
    if citizen.channel != WHATSAPP:
        return
    asked = await uow.complaints.for_citizen(citizen.id, limit=10)
    waiting = [c for c in asked if c.confirmation == "asked" and c.status == lifecycle.Status.SELESAI]
    if not waiting:
        return
    now = rt.clock()
    for complaint in waiting:
        # this resolution's question (a reopened complaint's earlier one does not count)
        delivered = await uow.outbox.complaints_with_role(
            citizen.channel, citizen.channel_user_id, QUESTION_ROLE, [complaint.id], since=complaint.confirm_asked_at
        )
        if complaint.id not in delivered:
            await _send_question(rt, uow, citizen, complaint, now)


async def close_unanswered(rt: Runtime, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """No answer after ``followup.confirm_within_days``: the complaint stays resolved (``auto``), the
    question's buttons are taken off, and a *Belum* typed later is read as ordinary text again."""
    if complaint.confirmation != "asked":
        return
    complaint.confirmation = "auto"
    await uow.audit.add(complaint.id, actor_kind="system", actor_id=None, actor_name=None, action="confirm_auto",
                        at=now)
    await refresh_card(rt, uow, complaint, await build_view(uow, complaint))
    citizen = await uow.citizens.get(complaint.citizen_id)
    if citizen is None:
        return
    for message_id in await uow.links.message_ids(complaint.id, QUESTION_ROLE, citizen.channel,
                                                   citizen.channel_user_id):
        await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id, versions.buttons_off(message_id), now=now)
    row = await uow.conversations.load(citizen.id)
    if row.state:
        conversation = Conversation.from_dict(row.state)
        state = followup.pending(conversation)
        if state is not None and state.complaint_id == complaint.id and state.step == followup.FuStep.ANSWER:
            _save_quietly(row, followup.forget(conversation, complaint.id))


# --- the appeal button under a rejection -----------------------------------------------------------


def _appealable(rt: Runtime, citizen: Citizen, complaint: Complaint) -> bool:
    return complaint.citizen_id == citizen.id and subject_of(rt, complaint, rt.clock()).appeal_open


def with_appeal_button(rt: Runtime, citizen: Citizen, complaint: Complaint, message: OutMessage) -> OutMessage:
    """A rejected complaint's view (``/status``) for its reporter, with ⚖️ Ajukan keberatan while an appeal
    is possible (the flow's service stamps and remembers the menu it is part of)."""
    if not _appealable(rt, citizen, complaint):
        return message
    row = followup.appeal_row(complaint.id, citizen.language, rt.ctx_for(citizen.channel))
    return dataclasses.replace(message, buttons=(row, *message.buttons))


async def on_notice(rt: Runtime, uow: UnitOfWork, citizen: Citizen, complaint: Complaint,
                    message: OutMessage) -> OutMessage:
    """A status notice about to go to ``citizen``: the reporter of a rejected complaint gets the appeal
    button with it (remembered as their last menu, so a typed "1" on WhatsApp means it)."""
    if not _appealable(rt, citizen, complaint):
        return message
    ctx = rt.ctx_for(citizen.channel)
    hint = ctx.t(citizen.language, "followup.appeal_hint")
    message = dataclasses.replace(message, text=f"{message.text}\n\n{hint}",
                                  buttons=(followup.appeal_row(complaint.id, citizen.language, ctx),))
    row = await uow.conversations.load(citizen.id)
    conversation = Conversation.from_dict(row.state) if row.state else Conversation(language=citizen.language)
    [message] = versions.present(conversation, [message])
    _save_quietly(row, conversation)
    return message


async def after_notice(rt: Runtime, uow: UnitOfWork, complaint: Complaint) -> None:
    """After the status notices of a change: a resolved complaint's reporter is asked whether it is fixed
    (once per resolution; the proof-of-fix step may have asked already)."""
    if complaint.status == lifecycle.Status.SELESAI:
        await ask_resolution(rt, uow, complaint, rt.clock())


# --- the citizen's events -------------------------------------------------------------------------


async def take(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, row: ConversationRow, conversation: Conversation,
    incoming: Incoming,
) -> tuple[bool, Alert | None, Conversation]:
    """Handle the event if it belongs to the follow-up (its buttons, or an answer while its question is
    open). Returns (handled, the press's toast, the conversation for the flow: a lapsed question is
    dropped from it)."""
    ref = followup.subject_ref(conversation, incoming)
    if ref is None:
        return False, None, conversation
    now = rt.clock()
    complaint = await _find(uow, ref)
    if complaint is not None and complaint.citizen_id != citizen.id:
        complaint = None  # only the reporter answers for a complaint
    subject = subject_of(rt, complaint, now) if complaint is not None else None
    ctx = rt.ctx_for(citizen.channel)
    if not followup.wants(conversation, incoming, ctx, subject, now):
        state = followup.pending(conversation)
        lapsed = state is not None and followup.lapsed(conversation, subject, now) and (
            subject is None or state.complaint_id == subject.complaint_id)
        if lapsed or followup.abandons(conversation, incoming, ctx):
            conversation = followup.forget(conversation)
        return False, None, conversation
    if subject is None:  # a forged or foreign press: the same words as an answered question
        subject = Subject(complaint_id=0, number=truncate(ref, 32), status="", agency="")
    outcome = followup.handle(conversation, incoming, ctx, subject, now)
    messages, results = list(outcome.messages), []
    for effect in outcome.effects:
        assert complaint is not None
        results.extend(await _apply(rt, uow, citizen, outcome.conversation, complaint, effect, now))
    if results and not results[-1].buttons and outcome.conversation.step == Step.IDLE:
        # "reopened" / "appeal sent" ends the question: the menu under it, never a dead end
        results[-1] = dataclasses.replace(results[-1], buttons=menu_rows(outcome.conversation.language, ctx))
    messages.extend(results)
    messages = versions.present(outcome.conversation, messages)
    for message in messages:
        asks = complaint is not None and any(
            versions.bare(b.payload) == followup.payload(followup.Verb.YES, complaint.id)
            for row_ in message.buttons for b in row_)  # "is it fixed?" again: its buttons come off on close
        await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id, message,
                                 complaint_id=complaint.id if asks and complaint is not None else None,
                                 link_role=QUESTION_ROLE if asks else None, now=now)
    await uow.conversations.save(row, outcome.conversation.to_dict(), outcome.conversation.step.value, now=now)
    if citizen.language != outcome.conversation.language:
        await uow.citizens.set_language(citizen, outcome.conversation.language)
    return True, outcome.alert, outcome.conversation


async def _apply(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, complaint: Complaint,
    effect: FollowupEffect, now: datetime,
) -> list[OutMessage]:
    """Carry out one effect of the core; the messages it returns are said after the core's."""
    actor: dict[str, Any] = {"actor_kind": "citizen", "actor_id": str(citizen.id), "actor_name": None, "at": now}
    if isinstance(effect, ConfirmFixed):
        complaint.confirmation = "yes"
        await uow.audit.add(complaint.id, action="confirm_fixed", **actor)
        return []
    if isinstance(effect, Rate):
        complaint.rating, complaint.rated_at = effect.rating, now
        if effect.comment:
            complaint.rating_comment = effect.comment
        note = f"{effect.rating}/5" + (f" · {effect.comment}" if effect.comment else "")
        await uow.audit.add(complaint.id, action="rated", note=note, **actor)
        await refresh_card(rt, uow, complaint, await build_view(uow, complaint))  # staff see the rating
        return []
    if isinstance(effect, Comment):
        complaint.rating_comment = effect.comment
        note = f"{complaint.rating}/5 · {effect.comment}" if complaint.rating else effect.comment
        await uow.audit.add(complaint.id, action="rated", note=note, **actor)
        await refresh_card(rt, uow, complaint, await build_view(uow, complaint))
        return []
    if isinstance(effect, Reopen):
        return await _reopen(rt, uow, citizen, conversation, complaint, effect, now)
    if isinstance(effect, Appeal):
        from bot.services.followup_appeals import file_appeal

        return await file_appeal(rt, uow, citizen, conversation.language, complaint, effect.text, now)
    raise TypeError(f"unknown follow-up effect {effect!r}")


# --- reopening ------------------------------------------------------------------------------------


async def move_card_down(rt: Runtime, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """A fresh card at the bottom of the agency's group; the old one says it was reopened and where the new
    card is, and its buttons stop working (like a card left behind by a reassignment)."""
    view = await build_view(uow, complaint)
    old = await uow.cards.active_for(complaint.id)
    if old is not None:
        await uow.cards.deactivate(old)
        header = rt.ctx.t("id", "staff.reopen.old_card", number=esc(complaint.number))
        below = rt.ctx.t("id", "tools.moved_down_below")  # the words /cari's card left behind uses
        text = cards._fit_text(view, rt.ctx, "id", moved_to=None, tail=("", below), header=header)
        await uow.outbox.enqueue_card_edit(old, OutMessage(text, photos=view.photos), now=now)
    await post_card(rt, uow, complaint, view)


async def tell_command_centre(rt: Runtime, uow: UnitOfWork, complaint: Complaint, text: str) -> None:
    """A plain notice in the command centre's group, linked to the complaint (audited when it has no group)."""
    await command_centre.notify(rt, uow, text, complaint_id=complaint.id)


async def reopen(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, *, actor: str, actor_id: str | None, actor_name: str | None,
    note: str | None, now: datetime,
) -> bool:
    """Reopen at the same agency (``actor`` "citizen": *Belum*; "command": an appeal upheld): dibuka kembali,
    a fresh card, the resolve clock restarted. False when the lifecycle or a concurrent change refuses."""
    decision = lifecycle.decide(complaint.status, lifecycle.Action.REOPEN, actor=actor)
    if not decision.allowed or decision.to_status is None:
        return False
    before = complaint.status
    if not await uow.complaints.move(complaint, expected_status=before, status=decision.to_status.value, now=now):
        return False
    complaint.reopen_count = (complaint.reopen_count or 0) + 1
    complaint.resolved_at = None
    if actor == "citizen":
        complaint.confirmation = "no"
    await uow.audit.add(complaint.id, actor_kind="citizen" if actor == "citizen" else "staff", actor_id=actor_id,
                        actor_name=actor_name, action=lifecycle.Action.REOPEN.value, from_status=before,
                        to_status=decision.to_status.value, note=note, at=now)
    await clocks.on_reopened(rt, uow, complaint, now)  # a new resolve clock
    await move_card_down(rt, uow, complaint, now)
    return True


async def _reopen(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, complaint: Complaint,
    effect: Reopen, now: datetime,
) -> list[OutMessage]:
    """*Belum* with what is still wrong: reopened at the same agency, the citizen's words (and photos) under
    the fresh card, the command centre told; the reporter hears it in their words, followers by notice."""
    language, ctx = conversation.language, rt.ctx_for(citizen.channel)
    locked = await uow.complaints.get_for_update(complaint.id)
    complaint = locked or complaint
    if not subject_of(rt, complaint, now).reopen_open or not await reopen(
        rt, uow, complaint, actor="citizen", actor_id=str(citizen.id), actor_name=alias_for(complaint, citizen.id),
        note=effect.text or None, now=now,
    ):
        status = status_label(complaint.status, language, ctx)
        return [OutMessage(ctx.t(language, "followup.reopen_refused", number=esc(complaint.number), status=status))]
    text = effect.text.strip() or rt.ctx.t("id", "staff.reopen.no_text")
    quote = rt.ctx.t("id", "staff.reopen.group", number=esc(complaint.number),
                     reporter=esc(alias_for(complaint, complaint.citizen_id)), text=esc(truncate(text, 3000)))
    group = await uow.agencies.group_for(complaint.agency)
    if group is not None:
        await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id,
                                 OutMessage(quote, photos=effect.photos, reply_to=card_ref(complaint.id)),
                                 complaint_id=complaint.id, link_role="relay", now=now)
    agency = agency_display(complaint.agency, "id", rt.ctx)
    await tell_command_centre(rt, uow, complaint, rt.ctx.t("id", "staff.reopen.told", number=esc(complaint.number),
                                                agency=esc(agency), text=esc(truncate(text, 600))))
    await _tell_followers(rt, uow, complaint)
    return [OutMessage(ctx.t(language, "followup.reopened", number=esc(complaint.number),
                             agency=esc(agency_display(complaint.agency, language, ctx))))]


async def _tell_followers(rt: Runtime, uow: UnitOfWork, complaint: Complaint) -> None:
    """Citizens who reported the same problem hear that it is open again (the reporter got their own words)."""
    from bot.services.complaints import send_to_citizen
    from handlers import flow, visibility

    view = await build_view(uow, complaint)
    for citizen_id in await uow.followers.citizen_ids(complaint.id):
        follower = await uow.citizens.get(citizen_id)
        if follower is not None:
            theirs = dataclasses.replace(view, history=visibility.citizen_history(
                view.history, viewer=follower.id, reporter=complaint.citizen_id))
            message = flow.render_status_notification(follower.language, theirs, note=None,
                                                      ctx=rt.ctx_for(follower.channel))
            await send_to_citizen(rt, uow, follower, complaint, message)


__all__ = ["after_notice", "ask_resolution", "catch_up", "close_unanswered", "move_card_down", "on_notice", "reopen", "subject_of", "take", "with_appeal_button"]
