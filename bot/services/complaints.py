"""Shared steps on complaints: building the core's view, posting and refreshing agency cards,
notifying the citizen. Used by the citizen, staff and agency-link services inside their unit of work.
"""

from __future__ import annotations

import dataclasses
import logging

from bot.services.runtime import Runtime
from handlers import cards, flow, lifecycle, privacy, visibility
from handlers.events import MediaRef
from handlers.messages import OutMessage
from handlers.views import ComplaintView, HistoryEntry, reporter_alias
from storage.models import AuditEntry, Card, Citizen, Complaint
from storage.outbox import UNDELIVERED_CHANNELS
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.complaints")

#: agency groups live on Telegram whatever channel the citizen uses
GROUP_CHANNEL = "telegram"

#: how many audit entries a view carries (the card shows the last few)
HISTORY_LIMIT = 20
#: how many nearby open complaints a card names
NEARBY_ON_CARD = 3
#: complaint_photos.kind of a clerk's "after" photo (the citizen's are "report")
PROOF = "proof"


def _history_entry(e: AuditEntry) -> HistoryEntry:
    addressee = visibility.addressee_of(e.to_agency)
    return HistoryEntry(
        at=e.at,
        action=e.action,
        actor_name=e.actor_name,
        from_status=e.from_status,
        to_status=e.to_status,
        from_agency=e.from_agency,
        to_agency=None if addressee is not None else e.to_agency,
        note=e.note,
        actor_kind=e.actor_kind,
        actor_id=e.actor_id,
        addressee=addressee,
        photo=e.media_sha256 is not None,
    )


def _proof(complaint: Complaint, entries: list[AuditEntry]) -> tuple[MediaRef | None, str | None]:
    """The clerk's "after" photo and note of the resolution in force: only a resolved complaint has one,
    and the photo is the one recorded with the latest move to selesai (a complaint reopened and resolved
    again without a photo shows none of the earlier round's)."""
    if complaint.status != lifecycle.Status.SELESAI:
        return None, None
    last = next((e for e in reversed(entries) if e.to_status == lifecycle.Status.SELESAI and not e.refused), None)
    sha = last.media_sha256 if last is not None else None
    stored = next((p for p in complaint.photos if p.kind == PROOF and p.sha256 == sha), None) if sha else None
    photo = MediaRef(sha256=stored.sha256, telegram_file_id=stored.telegram_file_id) if stored is not None else None
    return photo, complaint.proof_note


def alias_for(complaint: Complaint, citizen_id: int) -> str:
    """How staff name ``citizen_id`` on ``complaint``: the reporter of an Anonim complaint by the
    complaint's own alias (never the stable "Warga #0042", which would link their complaints), anyone
    else (a follower, the reporter otherwise) by the stable alias."""
    if citizen_id == complaint.citizen_id and (privacy.is_anonymous(complaint) or complaint.anon_alias):
        # (an erased citizen's complaints all got an alias of their own, whatever their privacy)
        return complaint.anon_alias or privacy.new_anonymous_alias(str(complaint.id))
    return reporter_alias(citizen_id)


async def build_view(uow: UnitOfWork, complaint: Complaint, *, viewer: int | None = None) -> ComplaintView:
    """The core's read-only picture of a complaint, with its history and the reporter's alias.

    ``viewer``: the citizen (reporter or follower) the view is for; their history holds only what
    :mod:`handlers.visibility` lets them read. Without it, the whole history (for staff)."""
    entries = await uow.audit.history(complaint.id)
    history = [_history_entry(e) for e in entries if not e.refused]
    if viewer is not None:
        history = list(visibility.citizen_history(history, viewer=viewer, reporter=complaint.citizen_id))
    citizen = await uow.citizens.get(complaint.citizen_id)
    original = await uow.complaints.get(complaint.duplicate_of) if complaint.duplicate_of is not None else None
    proof_photo, proof_note = _proof(complaint, entries)
    if viewer is not None and viewer != complaint.citizen_id and privacy.is_confidential(complaint):
        proof_photo, proof_note = None, None  # a Rahasia complaint's content is not for its followers
    return ComplaintView(
        id=complaint.id,
        number=complaint.number,
        category=complaint.category,
        description=complaint.description,
        status=complaint.status,
        agency=complaint.agency,
        created_at=complaint.created_at,
        due_at=complaint.due_at,
        accept_due_at=complaint.accept_due_at,
        photos=tuple(  # the citizen's photos of the problem (a clerk's "after" photo is kind "proof")
            MediaRef(sha256=p.sha256, telegram_file_id=p.telegram_file_id) for p in complaint.photos
            if p.kind != PROOF
        ),
        latitude=complaint.latitude,
        longitude=complaint.longitude,
        address=complaint.address,
        reporter_alias=alias_for(complaint, complaint.citizen_id),
        # set only when the citizen agreed, on this complaint; never under Anonim
        reporter_name=None if privacy.is_anonymous(complaint) else complaint.reporter_name,
        privacy=privacy.normalise(complaint.privacy),
        channel=citizen.channel if citizen is not None else "telegram",
        notice_error=complaint.citizen_notice_error,
        kecamatan=complaint.kecamatan,
        kelurahan=complaint.kelurahan,
        followers=await uow.followers.count(complaint.id),
        history=tuple(history[-HISTORY_LIMIT:]),
        duplicate_of_number=original.number if original is not None else None,
        duplicate_of_status=original.status if original is not None else None,
        proof_photo=proof_photo,
        proof_note=proof_note,
    )


async def nearby_for_card(rt: Runtime, uow: UnitOfWork, complaint: Complaint, view: ComplaintView) -> ComplaintView:
    """The view with the older open complaints of the same category within the duplicate radius, so
    the card can warn staff ("⚠️ 1 laporan terbuka ±12 m: JMB-…") while this one is still open, and the
    moment the card is rendered for (its clock badge, see handlers.clocks)."""
    view = dataclasses.replace(view, now=rt.clock())
    if complaint.latitude is None or complaint.longitude is None or lifecycle.is_terminal(complaint.status):
        return view
    found = await uow.complaints.nearby_open(
        complaint.category, complaint.latitude, complaint.longitude, rt.config.geography.duplicate_radius_m,
        limit=10,
    )
    older = tuple((c.number, distance) for c, distance in found if c.id < complaint.id)
    return dataclasses.replace(view, nearby=older[:NEARBY_ON_CARD]) if older else view


async def post_card(rt: Runtime, uow: UnitOfWork, complaint: Complaint, view: ComplaintView) -> Card | None:
    """Queue a fresh card in the agency's linked group; None when the agency has no group yet
    (the card is posted when the group is linked, see :func:`post_missing_cards`)."""
    group = await uow.agencies.group_for(complaint.agency)
    if group is None:
        log.warning("agency %s has no linked group; card for %s waits for /link", complaint.agency, complaint.number)
        return None
    message = cards.render_card(await nearby_for_card(rt, uow, complaint, view), rt.ctx)
    card = await uow.cards.create(complaint.id, complaint.agency, group.chat_id, kind="photo" if message.photos else "text")
    await uow.outbox.enqueue_card(card, message, now=rt.clock())
    return card


async def refresh_card(rt: Runtime, uow: UnitOfWork, complaint: Complaint, view: ComplaintView) -> None:
    """Edit the active card in place to show the current status and history."""
    card = await uow.cards.active_for(complaint.id)
    if card is not None:
        view = await nearby_for_card(rt, uow, complaint, view)
        face = (
            cards.render_rerouted_card(view, rt.ctx, reason=card.reroute_reason)
            if card.reroute_reason else cards.render_card(view, rt.ctx)
        )
        await uow.outbox.enqueue_card_edit(card, face, now=rt.clock())


async def post_missing_cards(rt: Runtime, uow: UnitOfWork, agency: str) -> int:
    """After a group is linked: post cards for the agency's open complaints that have none."""
    posted = 0
    for complaint in await uow.complaints.open_without_card(agency):
        view = await build_view(uow, complaint)
        if await post_card(rt, uow, complaint, view) is not None:
            posted += 1
    return posted


async def send_to_citizen(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, complaint: Complaint, message: OutMessage, *,
    role: str = "notification",
) -> None:
    """Queue a message about ``complaint`` to ``citizen`` (its reporter or a follower), linked to the
    complaint so their reply is relayed to the agency. Nothing for a channel nobody delivers to (an Open311
    app's complaints: the app reads their status back, see bot.open311.filing)."""
    if citizen.channel in UNDELIVERED_CHANNELS:
        return
    await uow.outbox.enqueue(
        citizen.channel, citizen.channel_user_id, message, complaint_id=complaint.id, link_role=role, now=rt.clock()
    )


async def notify_citizen(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, message: OutMessage, *, role: str = "notification"
) -> None:
    """Queue a message to the complaint's reporter."""
    citizen = await uow.citizens.get(complaint.citizen_id)
    if citizen is not None:
        await send_to_citizen(rt, uow, citizen, complaint, message, role=role)


async def notify_status(rt: Runtime, uow: UnitOfWork, complaint: Complaint, view: ComplaintView, note: str | None) -> None:
    """Tell the reporter, and every citizen who reported the same problem, in their own language
    (each reads the notice from the history they may see, see :mod:`handlers.visibility`); then the
    follow-up (:mod:`bot.services.followup`: the appeal button, the resolution question)."""
    from bot.services import followup  # late: followup builds on this module
    for citizen_id in (complaint.citizen_id, *await uow.followers.citizen_ids(complaint.id)):
        citizen = await uow.citizens.get(citizen_id)
        if citizen is not None:
            theirs = dataclasses.replace(
                view, history=visibility.citizen_history(view.history, viewer=citizen.id, reporter=complaint.citizen_id)
            )
            if citizen.id != complaint.citizen_id and privacy.is_confidential(complaint):
                theirs = dataclasses.replace(theirs, proof_photo=None, proof_note=None)  # Rahasia: not for followers
            ctx = rt.ctx_for(citizen.channel)  # each in their channel's words (WhatsApp: swipe to reply)
            message = flow.render_status_notification(citizen.language, theirs, note=note, ctx=ctx)
            message = await followup.on_notice(rt, uow, citizen, complaint, message)  # ⚖️ appeal a rejection
            await send_to_citizen(rt, uow, citizen, complaint, message)
    await followup.after_notice(rt, uow, complaint)  # "Apakah masalahnya sudah beres?" after selesai
