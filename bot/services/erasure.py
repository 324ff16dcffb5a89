"""Erasing a citizen's personal data (/hapusdata; the retention purge may reuse :func:`erase_citizen`).

What goes: the name, the username (it only ever lived in the raw updates), the channel id (replaced by a
keyed hash, HMAC-SHA256 with the deployment's secret: a later message from the same chat starts a new
citizen, and nobody holding the database can find a number by trying all numbers), and the citizen's
words wherever they were stored: the conversation, the raw inbound messages, the outbox copies of what
was sent to them (and of their words relayed to a group), the message links, the receipts' chat. The
WhatsApp messages themselves are deleted at Twilio after the commit, by outbox rows of kind
:data:`storage.outbox.KIND_TWILIO_DELETE` that the WhatsApp sender works through (retried, never holding the erasure up).

What stays: a complaint being handled (it documents a public problem) without any name (``privacy``
becomes ``anonim``), its photos, number and audit; a complaint still *baru* is withdrawn instead
(:data:`handlers.lifecycle.Status.DITARIK`): its text, address, pin and photos go, its number and audit stay,
its card says so and its followers are told. The audit records that an erasure happened (``erasure``),
never what was erased.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event

from bot.services import complaints as shared
from bot.services.runtime import Runtime
from handlers import cards, lifecycle, privacy
from handlers.messages import OutMessage
from storage import erasure as rows
from storage.models import Citizen, Complaint
from storage.outbox import ERASED_PREFIX, KIND_TWILIO_DELETE, SUPERSEDED, TWILIO_DELETE_CHAT
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.erasure")

#: roles of group messages that carry a citizen's words (relays, appeal cards)
WORD_ROLES = ("relay", "appeal_card")
WHATSAPP = "whatsapp"
#: the audit action of an erasure
ERASURE = "erasure"
#: ``reason`` of an erasure the citizen asked for (/hapusdata); anything else is the system's (retention)
REQUEST = "request"


def keyed_hash(secret: bytes, channel: str, chat_id: str) -> str:
    """``#`` + 40 hex digits of HMAC-SHA256(secret, channel:chat id): the same chat always gives the same
    value (so a second confirm is recognised), and without the secret no number can be tried."""
    if len(secret) < 16:
        raise ValueError("erasure needs the deployment's secret (SIKESAL_MEDIA_SECRET or the bot token's)")
    digest = hmac.new(secret, f"{channel}:{chat_id}".encode(), hashlib.sha256).hexdigest()
    return f"{ERASED_PREFIX}{digest[:40]}"


@dataclass(slots=True)
class Erasure:
    """What :func:`erase_citizen` did: the chat it was (to answer there once), and the complaints."""

    channel: str
    chat_id: str
    language: str
    #: an earlier erasure of the same chat (this citizen is the fresh one a double tap created)
    already: bool = False
    withdrawn: list[str] = field(default_factory=list)
    anonymised: list[str] = field(default_factory=list)
    twilio_sids: list[str] = field(default_factory=list)


async def erase_citizen(rt: Runtime, uow: UnitOfWork, citizen: Citizen, now: datetime, *, reason: str) -> Erasure:
    """Erase ``citizen``'s personal data inside ``uow`` (the caller commits). Idempotent: an erased citizen
    is left as it is. ``reason``: "request" (/hapusdata: the audit names the citizen as the actor) or
    "retention" (the system); the audit records who erased, never what."""
    result = Erasure(channel=citizen.channel, chat_id=citizen.channel_user_id, language=citizen.language)
    if citizen.erased_at is not None:
        result.already = True
        return result
    session = uow.session
    channel, chat = citizen.channel, citizen.channel_user_id
    hashed = keyed_hash(rt.secret, channel, chat)
    result.already = await rows.erased_before(session, channel, hashed)
    owned = await rows.owned_complaints(session, citizen.id)
    files: list[str] = []
    had_photos: set[int] = set()
    named = {c.id for c in owned if c.reporter_name}
    for complaint in owned:
        if complaint.status == lifecycle.Status.BARU:
            photos = await _withdraw(rt, uow, citizen, complaint, now, reason=reason)
            files += photos
            had_photos.update([complaint.id] if photos else [])
            result.withdrawn.append(complaint.number)
        else:
            await _anonymise(uow, complaint, now, reason=reason)
            result.anonymised.append(complaint.number)
    state = await rows.drop_conversation(session, citizen.id)
    await rows.drop_follows(session, citizen.id)
    await rows.scrub_audit(session, citizen.id)
    sids = await rows.scrub_inbound(session, channel, rows.inbox_senders(channel, chat), hashed)
    sids += await rows.scrub_outbox(session, channel, chat, hashed, citizen.id, SUPERSEDED)
    sids += await rows.scrub_receipts(session, channel, chat)
    await rows.scrub_group_words(session, [c.id for c in owned], WORD_ROLES)
    quoted = await rows.group_messages(session, [c.id for c in owned])
    quoted |= await rows.follower_relays(session, citizen.id)  # (before drop_links forgets them)
    await rows.scrub_quotes(session, quoted)
    await rows.drop_links(session, channel, chat, citizen.id)
    citizen.channel_user_id = f"{hashed}.{citizen.id}"
    citizen.display_name = None
    citizen.share_name = False
    citizen.last_inbound_at = None
    citizen.erased_at = now
    await session.flush()
    # the cards last: the complaint is anonymised / withdrawn and the audit scrubbed by now
    for complaint in owned:
        await _refresh(rt, uow, complaint, neutral=complaint.id in had_photos)
        await _retire_old_cards(rt, uow, complaint, named=complaint.id in named, neutral=complaint.id in had_photos)
    await _drop_unused_media(rt, uow, [*files, *_draft_photos(state)])
    # who erased, never what: the citizen asked (/hapusdata), or the system did (the retention purge)
    actor = "citizen" if reason == REQUEST else "system"
    if owned:
        for complaint in owned:
            await uow.audit.add(complaint.id, actor_kind=actor, actor_id=None, actor_name=None,
                                action=ERASURE, note=None, at=now)
    elif not result.already:  # a double tap's fresh citizen held nothing: the first erasure is the one audited
        await uow.audit.add(None, actor_kind=actor, actor_id=None, actor_name=None, action=ERASURE,
                            note=None, at=now)
    if channel == WHATSAPP:
        result.twilio_sids = list(dict.fromkeys(sids))
        await enqueue_twilio_deletes(uow, result.twilio_sids, now)
    log.info("citizen %s erased (%s): %d withdrawn, %d anonymised, %d messages to delete at Twilio",
             citizen.id, reason, len(result.withdrawn), len(result.anonymised), len(result.twilio_sids))
    return result


def answer(rt: Runtime, done: Erasure, language: str) -> OutMessage:
    """The one answer after an erasure: what was withdrawn and kept, or that it was done before."""
    t = rt.ctx_for(done.channel).t
    if done.already and not done.withdrawn and not done.anonymised:
        return OutMessage(t(language, "erasure.already"))
    none = t(language, "erasure.none")
    return OutMessage(t(language, "erasure.done", withdrawn=", ".join(done.withdrawn) or none,
                        kept=", ".join(done.anonymised) or none))


async def enqueue_twilio_deletes(uow: UnitOfWork, sids: list[str], now: datetime) -> None:
    """One outbox job per Twilio message to delete, done after the commit by the WhatsApp sender."""
    for sid in sids:
        await uow.outbox.enqueue_job(WHATSAPP, f"{TWILIO_DELETE_CHAT}{sid}", KIND_TWILIO_DELETE, {"sid": sid}, now=now)


async def _withdraw(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, complaint: Complaint, now: datetime, *, reason: str
) -> list[str]:
    """A complaint nobody took up yet is withdrawn: status ditarik, its content gone; followers told.
    Returns the content hashes of its photos (their files go once nothing else uses them)."""
    decision = lifecycle.decide(complaint.status, lifecycle.Action.WITHDRAW.value, actor="citizen")
    assert decision.allowed and decision.to_status is not None
    before = complaint.status
    photos = [p.sha256 for p in complaint.photos]
    for photo in list(complaint.photos):
        await uow.session.delete(photo)
    complaint.photos.clear()
    complaint.description = rt.ctx.t("id", "erasure.placeholder")
    complaint.address = None
    complaint.latitude = complaint.longitude = None
    complaint.reporter_name = None
    complaint.appeal_reason = complaint.rating_comment = None
    complaint.privacy = "anonim"
    await uow.complaints.set_status(complaint, decision.to_status.value, now=now)
    await uow.audit.add(complaint.id, actor_kind="system", actor_id=None, actor_name=None,
                        action=lifecycle.Action.WITHDRAW.value, from_status=before,
                        to_status=decision.to_status.value, note=None, at=now)
    for follower_id in await uow.followers.citizen_ids(complaint.id):
        follower = await uow.citizens.get(follower_id)
        if follower is None or follower.id == citizen.id or follower.erased_at is not None:
            continue
        text = rt.ctx_for(follower.channel).t(follower.language, "erasure.follower_withdrawn", number=complaint.number)
        await uow.outbox.enqueue(follower.channel, follower.channel_user_id, OutMessage(text),
                                 complaint_id=complaint.id, now=now)
    return photos


async def _anonymise(uow: UnitOfWork, complaint: Complaint, now: datetime, *, reason: str) -> None:
    """A complaint being handled stays with its agency, without a name or the citizen's own words."""
    complaint.reporter_name = None
    complaint.appeal_reason = complaint.rating_comment = None
    complaint.privacy = complaint.privacy or "anonim"
    # an alias of this complaint alone, also for a Rahasia one: the stable "Warga #0042" would still link
    # the erased person's complaints to each other
    complaint.anon_alias = complaint.anon_alias or privacy.new_anonymous_alias()
    complaint.updated_at = now


async def _refresh(rt: Runtime, uow: UnitOfWork, complaint: Complaint, *, neutral: bool) -> None:
    """The card shows the complaint as it is now: withdrawn without content, or without a name. A card not
    delivered yet is rendered afresh instead (its queued copy still had the name and the text). A withdrawn
    complaint's photos on the card (or in the album above it) become the neutral image (``neutral``)."""
    view = await shared.build_view(uow, complaint)
    card = await uow.cards.active_for(complaint.id)
    if card is None:
        return
    face = cards.render_card(await shared.nearby_for_card(rt, uow, complaint, view), rt.ctx)
    pending = await uow.outbox.pending_card_send(card.id)
    if pending is not None:
        pending.payload = face.to_dict()
        return
    if complaint.status == lifecycle.Status.DITARIK:
        await uow.outbox.enqueue_card_edit(card, dataclasses.replace(face, neutral_photo=neutral), now=rt.clock())
        return
    await shared.refresh_card(rt, uow, complaint, view)


async def _retire_old_cards(rt: Runtime, uow: UnitOfWork, complaint: Complaint, *, named: bool, neutral: bool) -> None:
    """Cards left in a previous agency's group (a reassigned complaint) showed the name, or the words and
    photos of a complaint now withdrawn: they are edited too, as the moved card they are."""
    withdrawn = complaint.status == lifecycle.Status.DITARIK
    if not (named or withdrawn):
        return
    view = await shared.build_view(uow, complaint)
    for card in await uow.cards.for_complaint(complaint.id):
        if card.active or card.message_id is None:
            continue
        face = cards.render_card(view, rt.ctx, active=False, moved_to_agency=complaint.agency)
        await uow.outbox.enqueue_card_edit(card, dataclasses.replace(face, neutral_photo=neutral and withdrawn),
                                           now=rt.clock())


def _draft_photos(state: dict[str, Any]) -> list[str]:
    """Photos of a draft never filed: theirs alone."""
    draft = state.get("draft") or {}
    found: list[str] = []
    for key in ("photos", "previous_photos"):
        for photo in draft.get(key) or []:
            sha = photo.get("sha256") if isinstance(photo, dict) else None
            if isinstance(sha, str):
                found.append(sha)
    return found


async def _drop_unused_media(rt: Runtime, uow: UnitOfWork, sha256s: list[str]) -> None:
    """Delete the stored files nothing uses any more; the files on disk go once the transaction commits
    (a rolled-back erasure keeps them)."""
    unused = await rows.unused_media(uow.session, sha256s)
    paths = [rt.media.path_for(m.path) for m in unused]
    for media in unused:
        await uow.session.delete(media)
    if not paths:
        return

    def remove_files(_session: Any) -> None:
        for path in paths:
            Path(path).unlink(missing_ok=True)

    event.listen(uow.session.sync_session, "after_commit", remove_files, once=True)
