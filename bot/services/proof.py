"""Proof of fix: *✅ Selesai* asks the clerk for the "after" photo and a note before the complaint is
resolved, per category (``categories.<key>.proof_photo``: required | optional | off; see
:mod:`handlers.proof` for what each means to the clerk).

The prompt works like the rejection's (:mod:`bot.services.staff_prompts`): a force-reply message linked
to the complaint (role ``proof_prompt``), the card showing who is answering with ✖️ Batal (and *📷 Selesai
tanpa foto* where the photo is optional), one error per prompt (the prompt is then ``proof_spent`` and a
fresh one asks again), and the shared closed roles (``prompt_closed`` / ``prompt_done``) for a prompt
cancelled or answered, so a late reply changes nothing and is told so once. The move itself is the one
guarded status change (:func:`bot.services.staff_core.transition`): of two clerks, double taps, or a
prompt answered after the complaint moved on, one resolution counts.

What is kept: the photo as a ``complaint_photos`` row of kind ``proof`` (the citizen's are ``report``),
the note in ``complaint.proof_note``, and both in the resolve entry of the audit trail (its note, its
``media_sha256``). The resolution notice carries them to every citizen following the complaint
(:func:`handlers.views.render_status_notification` attaches the view's proof photo), and ``/status``
shows them. Right after the notice, the follow-up question ("Apakah masalahnya sudah beres?") is asked
when :mod:`bot.services.followup` exists.
"""

from __future__ import annotations

import html
import logging
import re

from sqlalchemy import select

from bot.services.complaints import GROUP_CHANNEL, PROOF, build_view, refresh_card
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor, refuse, tell_group, transition
from bot.services.staff_prompts import OPEN_ROLES, PROMPT_CLOSED, PROMPT_DONE
from handlers import cards, lifecycle
from handlers import proof as core
from handlers.events import MediaRef
from handlers.messages import Alert
from storage.models import Complaint, ComplaintPhoto, MessageLink, OutboxMessage
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.proof")
_TAG = re.compile(r"<[^>]+>")

PROOF_PROMPT = "proof_prompt"
PROOF_SPENT = "proof_spent"
#: a prompt whose late answer was told why nothing changed (the complaint moved on): later ones are not
PROOF_TOLD = "proof_told"
#: the proof prompts still waiting for an answer
PROOF_OPEN = (PROOF_PROMPT, PROOF_SPENT)
#: the link roles whose replies :func:`answer_proof` reads (registered in bot.services.staff_extensions)
PROOF_ROLES = (*PROOF_OPEN, PROOF_TOLD)


def proof_mode(rt: Runtime, complaint: Complaint) -> str:
    """``required`` | ``optional`` | ``off`` for the complaint's category (as configured now)."""
    category = rt.config.categories.get(complaint.category)
    return category.proof_photo if category is not None else core.OPTIONAL


# --- Selesai --------------------------------------------------------------------------------------


async def on_resolve_pressed(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor) -> Alert:
    """*✅ Selesai* on a card: resolve at once where the category wants no proof, else ask for it."""
    mode = proof_mode(rt, complaint)
    if mode == core.OFF:
        return await resolve(rt, uow, complaint, actor, note=None, photo=None)
    decision = lifecycle.decide(complaint.status, lifecycle.Action.RESOLVE)
    if not decision.allowed:
        alert = cards.alert_refused(decision, rt.ctx, status=complaint.status)
        await refuse(rt, uow, complaint, actor, lifecycle.Action.RESOLVE.value, alert.text, None)
        return alert
    if await _prompt_open(uow, complaint.id):  # a double tap, or a colleague's client showing the old card
        return core.alert_already_asked(rt.ctx)
    card = await uow.cards.active_for(complaint.id)
    assert card is not None  # the caller's owner check guaranteed it
    view = await build_view(uow, complaint)
    now = rt.clock()
    prompt = core.render_proof_prompt(view, rt.ctx, staff_name=actor.name, mode=mode)
    await uow.outbox.enqueue(
        GROUP_CHANNEL, card.chat_id, prompt, complaint_id=complaint.id, link_role=PROOF_PROMPT,
        link_staff_user_id=actor.user_id, now=now,
    )
    waiting = core.render_proof_card(view, rt.ctx, staff_name=actor.name, mode=mode)
    await uow.outbox.enqueue_card_edit(card, waiting, now=now)
    return core.alert_proof_asked(rt.ctx, mode=mode)


async def resolve(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, *, note: str | None,
    photo: MediaRef | None,
) -> Alert:
    """Resolve with the proof (either may be None): the guarded move, the photo and note kept, the card
    and the citizens told (the notice carries the photo), open prompts closed, then the follow-up question."""
    decision = lifecycle.decide(complaint.status, lifecycle.Action.RESOLVE)
    if not decision.allowed:  # nothing is stored for a resolution that cannot happen
        return await transition(rt, uow, complaint, actor, lifecycle.Action.RESOLVE, note=note)
    stored = await _keep_photo(rt, uow, complaint, photo) if photo is not None else None
    previous_note, complaint.proof_note = complaint.proof_note, note
    alert = await transition(
        rt, uow, complaint, actor, lifecycle.Action.RESOLVE, note=note,
        media_sha256=photo.sha256 if photo is not None else None,
    )
    if alert.show_alert:  # another clerk's change won after all: the proof is not this complaint's
        complaint.proof_note = previous_note
        if stored is not None:
            complaint.photos.remove(stored)
            await uow.session.delete(stored)
        return alert
    await uow.links.close_prompts(complaint.id, (*PROOF_OPEN, *OPEN_ROLES), PROMPT_DONE)
    await _ask_followup(rt, uow, complaint)
    log.info("complaint %s resolved by %s (%s)", complaint.number, actor.user_id,
             "with a photo" if photo is not None else "without a photo")
    return alert


async def _keep_photo(rt: Runtime, uow: UnitOfWork, complaint: Complaint, photo: MediaRef) -> ComplaintPhoto:
    """Record the file (the adapter stored the bytes) and attach it to the complaint as kind ``proof``,
    after the citizen's photos."""
    await uow.media.upsert(
        photo.sha256, rt.media.relative_path(photo.sha256, photo.mime_type), photo.mime_type, photo.size,
        photo.telegram_file_id,
    )
    position = max((p.position for p in complaint.photos), default=-1) + 1
    row = ComplaintPhoto(position=position, sha256=photo.sha256, telegram_file_id=photo.telegram_file_id, kind=PROOF)
    complaint.photos.append(row)
    await uow.session.flush()
    return row


async def _ask_followup(rt: Runtime, uow: UnitOfWork, complaint: Complaint) -> None:
    """"Apakah masalahnya sudah beres?" right after the resolution notice (bot.services.followup, when
    that capability is installed)."""
    try:
        from bot.services.followup import ask_resolution  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return
    await ask_resolution(rt, uow, complaint, rt.clock())


# --- the buttons on the waiting card (pf:skip, pf:cancel) -----------------------------------------


@retry_transient()
async def handle_proof_button(
    rt: Runtime, *, chat_id: int, actor: StaffActor, payload: str, update_key: str | None
) -> object:
    """*📷 Selesai tanpa foto* and *✖️ Batal* on a card waiting for its proof (a ``StaffResult``)."""
    from bot.services.staff import StaffResult, check_owner  # staff imports the extensions that import us

    parsed = core.parse_proof_payload(payload)
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return StaffResult(duplicate=True)
        complaint = await uow.complaints.get_for_update(parsed.complaint_id) if parsed is not None else None
        refusal = await check_owner(rt, uow, complaint, chat_id)
        action = "resolve" if parsed is None or parsed.verb == core.SKIP else "cancel"
        if parsed is None or complaint is None or refusal is not None:
            if parsed is None:
                refusal = cards.alert_unknown_action(rt.ctx)
            refusal = refusal or cards.alert_not_found(rt.ctx)
            await refuse(rt, uow, complaint, actor, action, refusal.text, chat_id)
            await uow.commit()
            return StaffResult(alert=refusal)
        if parsed.verb == core.CANCEL:
            closed = await uow.links.close_prompts(complaint.id, PROOF_OPEN, PROMPT_CLOSED)
            await refresh_card(rt, uow, complaint, await build_view(uow, complaint))
            alert = cards.alert_prompt_cancelled(rt.ctx, done=closed > 0)
        else:
            alert = await _skip(rt, uow, complaint, actor, chat_id)
        await uow.commit()
    rt.on_enqueued()
    return StaffResult(alert=alert)


async def _skip(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, chat_id: int) -> Alert:
    """Resolve without a photo or note, where the category allows it and the prompt is still open."""
    if proof_mode(rt, complaint) == core.REQUIRED:
        alert = core.alert_skip_refused(rt.ctx)
        await refuse(rt, uow, complaint, actor, "resolve", alert.text, chat_id)
        return alert
    if not await _prompt_open(uow, complaint.id):
        if lifecycle.decide(complaint.status, lifecycle.Action.RESOLVE).allowed:
            alert = core.alert_skip_stale(rt.ctx)  # cancelled meanwhile: Selesai asks again
            await refuse(rt, uow, complaint, actor, "resolve", alert.text, chat_id)
            return alert
    return await resolve(rt, uow, complaint, actor, note=None, photo=None)


async def _prompt_open(uow: UnitOfWork, complaint_id: int) -> bool:
    """Whether a proof prompt of the complaint still waits (delivered, or still queued)."""
    delivered = await uow.session.scalar(
        select(MessageLink.id).where(MessageLink.complaint_id == complaint_id, MessageLink.role.in_(PROOF_OPEN))
        .limit(1)
    )
    if delivered is not None:
        return True
    queued = await uow.session.scalar(
        select(OutboxMessage.id).where(
            OutboxMessage.complaint_id == complaint_id, OutboxMessage.link_role.in_(PROOF_OPEN),
            OutboxMessage.status == "pending",
        ).limit(1)
    )
    return queued is not None


# --- a reply under the prompt ---------------------------------------------------------------------


async def answer_proof(
    rt: Runtime, uow: UnitOfWork, link: MessageLink, complaint: Complaint, actor: StaffActor, text: str, *,
    photo: MediaRef | None, chat_id: int, reply_to_message_id: int,
) -> None:
    """A reply under a proof prompt: a photo (its caption the note) resolves; where the photo is optional
    a note alone, or "-", resolves too; anything else gets one error per prompt and a fresh prompt."""
    from bot.services.staff import check_owner

    refusal = await check_owner(rt, uow, complaint, chat_id)
    if link.role == PROOF_TOLD or refusal is not None:  # moved to another agency meanwhile: said once per prompt
        reason = refusal.text if refusal is not None else rt.ctx.t("id", "staff.prompt_done")
        await refuse(rt, uow, complaint, actor, "reply", reason, chat_id)
        if link.role != PROOF_TOLD:
            link.role = PROOF_TOLD
            await tell_group(rt, uow, chat_id, reason, reply_to_message_id)
        return
    mode = proof_mode(rt, complaint)
    note = core.clean_note(text)
    usable = photo is not None or (mode != core.REQUIRED and (note is not None or core.is_skip(text)))
    if not usable:
        problem_key = "staff.proof.photo_needed" if mode == core.REQUIRED else "staff.proof.photo_or_note_needed"
        problem = html.unescape(_TAG.sub("", rt.ctx.t("id", problem_key, number=complaint.number)))  # plain words
        await refuse(rt, uow, complaint, actor, "resolve", problem,
                     chat_id)
        if link.role == PROOF_PROMPT and lifecycle.decide(complaint.status, lifecycle.Action.RESOLVE).allowed:
            link.role = PROOF_SPENT  # this prompt has had its error; the fresh one may have one more
            view = await build_view(uow, complaint)
            again = core.render_proof_retry(view, rt.ctx, mode=mode, reply_to=reply_to_message_id)
            await uow.outbox.enqueue(
                GROUP_CHANNEL, chat_id, again, complaint_id=complaint.id, link_role=PROOF_PROMPT,
                link_staff_user_id=actor.user_id, now=rt.clock(),
            )
        return
    alert = await resolve(rt, uow, complaint, actor, note=note, photo=photo)
    if alert.show_alert:  # refused (the complaint moved on): a reply has no toast; said once per prompt
        link.role = PROOF_TOLD
        await tell_group(rt, uow, chat_id, alert.text, reply_to_message_id)


__all__ = [
    "PROOF_OPEN",
    "PROOF_PROMPT",
    "PROOF_ROLES",
    "PROOF_SPENT",
    "answer_proof",
    "handle_proof_button",
    "on_resolve_pressed",
    "proof_mode",
    "resolve",
]
