"""The citizen side: one inbound event -> one transaction.

Order inside the transaction: claim the update (idempotency) -> citizen and conversation rows ->
reply relay (a reply to a notification goes to the agency group) or the pure flow -> effects ->
outbox -> save state -> commit. The sender delivers after the commit.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.services import clocks, erasure, floods, followup, relay, reminders, rights, streets
from bot.services.complaints import build_view, post_card, refresh_card, send_to_citizen
from bot.services.places import enrich
from bot.services.receipts import REASON_WINDOW, note_notice_outcome
from bot.services.runtime import Runtime
from handlers import flow, lifecycle, privacy
from handlers.effects import (
    Effect,
    EraseMyData,
    ExportData,
    FollowComplaint,
    ListComplaints,
    RelayToAgency,
    ShowStatus,
    SubmitDraft,
)
from handlers.events import Incoming, MediaRef, Nearby, Photo
from handlers.flow import versions
from handlers.messages import Alert, OutMessage
from handlers.state import Conversation, Draft, Step
from storage.models import Citizen, Complaint, ConversationRow
from storage.outbox import ERASED_ROLE
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.citizen")

WHATSAPP = "whatsapp"



@dataclass(slots=True)
class CitizenResult:
    alert: Alert | None = None
    duplicate: bool = False
    submitted: str | None = None  # tracking number, when this event filed a complaint


@retry_transient()
async def handle_citizen_event(
    rt: Runtime,
    *,
    channel: str,
    channel_user_id: str,
    incoming: Incoming,
    update_key: str | None,
    received_at: datetime | None = None,
) -> CitizenResult:
    """Process one citizen event exactly once (``update_key`` guards redelivery)."""
    result = CitizenResult()
    incoming = dataclasses.replace(incoming, channel=channel, received_at=received_at or rt.clock())
    # place facts before the transaction: the boundaries for a pin (its street comes later, in the
    # background: bot.services.streets), a bounded search for a typed address (never inside the transaction)
    incoming = await enrich(rt, incoming, channel=channel, channel_user_id=channel_user_id)
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            log.info("skipping redelivered update %s", update_key)
            return CitizenResult(duplicate=True)
        citizen = await uow.citizens.get_or_create(
            channel, channel_user_id, display_name=incoming.display_name, language=None, with_conversation=True
        )
        if citizen.blocked_bot:
            await uow.citizens.set_blocked(channel, channel_user_id, False)
        # WhatsApp's 24-hour customer-service window opens again with every message the citizen sends
        # (from when the channel received the message, not when a backlog let us process it)
        await uow.citizens.touch_inbound(citizen, received_at or rt.clock())
        row = await uow.conversations.load(citizen.id)
        conversation = Conversation.from_dict(row.state) if row.state else Conversation(language=citizen.language)
        # blocked by the command centre, or over the message rate: stored (the inbox row), not answered
        if await floods.held(rt, uow, citizen, conversation, incoming, received_at or rt.clock()):
            await uow.commit()
            rt.on_enqueued()
            return result
        await _catch_up_missed_notices(rt, uow, citizen)
        if isinstance(incoming.event, Photo):
            await _remember_media(rt, uow, incoming.event)
        incoming = await _with_nearby(rt, uow, citizen, conversation, incoming)
        incoming = await floods.with_refiled(rt, uow, citizen, conversation, incoming)
        incoming = floods.with_cap(rt, citizen, incoming)

        if not await relay.relay_citizen_reply(rt, uow, citizen, conversation, incoming):
            # the follow-up question ("sudah beres?", rating, appeal) takes its answers first
            taken, alert, conversation = await followup.take(rt, uow, citizen, row, conversation, incoming)
            if taken:
                result.alert = alert
            else:
                incoming = await relay.with_recent_staff(rt, uow, citizen, conversation, incoming)
                result.alert = await _run_flow(rt, uow, citizen, row, conversation, incoming, result)
        if citizen.erased_at is None:
            await followup.catch_up(rt, uow, citizen)  # a question WhatsApp's closed window held back
        await uow.commit()
    rt.on_enqueued()
    return result


async def _with_nearby(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, incoming: Incoming
) -> Incoming:
    """At the summary, the open complaints of the same category near the pin travel with the event, so
    the core can ask "the same problem?" when the citizen sends. One indexed query (see
    ComplaintRepo.nearby_open); the citizen's own complaints are not offered."""
    draft = conversation.draft
    if conversation.step != Step.SUMMARY or draft.latitude is None or draft.longitude is None or not draft.category:
        return incoming
    found = await uow.complaints.nearby_open(
        draft.category, draft.latitude, draft.longitude, rt.config.geography.duplicate_radius_m,
        limit=3, exclude_citizen_id=citizen.id,
    )
    # a Rahasia complaint's words and photo never leave the service (handlers.privacy.is_public)
    photos = await uow.complaints.first_photos([complaint.id for complaint, _ in found if privacy.is_public(complaint)])
    nearby = tuple(
        Nearby(
            number=complaint.number,
            description=complaint.description if privacy.is_public(complaint) else "",
            status=complaint.status,
            distance_m=distance,
            photo=(
                MediaRef(sha256=photos[complaint.id][0], telegram_file_id=photos[complaint.id][1])
                if complaint.id in photos else None
            ),
            public=privacy.is_public(complaint),
            category=draft.category,
        )
        for complaint, distance in found
    )
    return dataclasses.replace(incoming, nearby=nearby) if nearby else incoming


async def _follow(rt: Runtime, uow: UnitOfWork, citizen: Citizen, effect: FollowComplaint) -> Complaint | None:
    """The citizen reported the same problem as ``effect.number``: they follow it; its card counts them."""
    found = await uow.complaints.by_number(effect.number)
    complaint = await uow.complaints.get_for_update(found.id) if found is not None else None
    if complaint is not None and complaint.duplicate_of is not None:  # staff merged it meanwhile
        complaint = await uow.complaints.get_for_update(complaint.duplicate_of)
    if complaint is None or lifecycle.is_terminal(complaint.status):
        return None  # closed meanwhile: the citizen's own report is filed after all
    if complaint.citizen_id != citizen.id and await uow.followers.add(complaint.id, citizen.id, now=rt.clock()):
        await uow.audit.add(
            complaint.id,
            actor_kind="citizen",
            actor_id=str(citizen.id),
            actor_name=None,
            action="also_reported",
            note=None,  # the reporter can read the history: another citizen's words stay with that citizen
            at=rt.clock(),
        )
        await refresh_card(rt, uow, complaint, await build_view(uow, complaint))
    return complaint


async def _catch_up_missed_notices(rt: Runtime, uow: UnitOfWork, citizen: Citizen) -> None:
    """A citizen who writes again after WhatsApp's 24-hour window had closed on a status notice gets the
    current status of those complaints now (the window is open again), and the cards stop warning."""
    if citizen.channel != WHATSAPP:  # only WhatsApp has a window; no query on every Telegram update
        return
    missed = await uow.complaints.with_notice_error(citizen.id, REASON_WINDOW)
    for complaint in missed:
        view = await build_view(uow, complaint, viewer=citizen.id)
        message = flow.render_status_notification(citizen.language, view, note=None, ctx=rt.ctx_for(citizen.channel))
        await send_to_citizen(rt, uow, citizen, complaint, message)  # this citizen only, not followers again
        await reminders.catch_up_overdue(rt, uow, citizen, complaint)  # "the agency was reminded", if missed
        await note_notice_outcome(rt, uow, complaint.id, None)


async def _run_flow(
    rt: Runtime,
    uow: UnitOfWork,
    citizen: Citizen,
    row: ConversationRow,
    conversation: Conversation,
    incoming: Incoming,
    result: CitizenResult,
) -> Alert | None:
    """The pure core decides; its effects run here; its replies go to the outbox; state is saved."""
    outcome = flow.handle(conversation, incoming, rt.ctx_for(citizen.channel))
    messages = list(outcome.messages)
    chat = citizen.channel_user_id  # an erasure (/hapusdata) replaces it with a hash: answer here once more
    for effect in outcome.effects:
        messages.extend(await _apply(rt, uow, citizen, outcome.conversation, effect, result))
    messages.extend(outcome.followup)
    # effect results (a status view, "my complaints" with its buttons) are menus too: a typed "1"
    # must mean the last menu the citizen actually saw, and their buttons carry the menu version
    messages = versions.present(outcome.conversation, messages)
    now = rt.clock()
    if citizen.erased_at is not None:  # erased by this event: the last answer, scrubbed once delivered
        for message in messages:
            await uow.outbox.enqueue(citizen.channel, chat, message, link_role=ERASED_ROLE, now=now)
        return outcome.alert  # no conversation to keep
    for message in messages:
        await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id, message, now=now)
    # the street of a pin comes later, in the background (bot.services.streets): planned with this answer
    await streets.plan(rt, uow, citizen, row, incoming, outcome.conversation, now)
    await uow.conversations.save(row, outcome.conversation.to_dict(), outcome.conversation.step.value, now=now)
    if citizen.language != outcome.conversation.language:
        await uow.citizens.set_language(citizen, outcome.conversation.language)
    return outcome.alert


async def _remember_media(rt: Runtime, uow: UnitOfWork, photo: Photo) -> None:
    """The adapter stored the bytes; record the file (and its Telegram file_id) in this transaction."""
    media = photo.media
    await uow.media.upsert(
        media.sha256,
        rt.media.relative_path(media.sha256, media.mime_type),
        media.mime_type,
        media.size,
        media.telegram_file_id,
    )


async def _apply(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, effect: Effect, result: CitizenResult
) -> list[OutMessage]:
    language = conversation.language
    ctx = rt.ctx_for(citizen.channel)  # what the citizen reads, in their channel's words
    if isinstance(effect, SubmitDraft):
        complaint = await file_draft(rt, uow, citizen, effect.draft)
        result.submitted = complaint.number
        agency = rt.ctx.agency(complaint.agency)
        return [
            flow.render_submitted(
                language,
                complaint.number,
                agency.name(language) if agency else complaint.agency,
                clocks.target_hours(rt.config, complaint.category),
                ctx,
                due_at=complaint.due_at,
                office_hours=clocks.calendar_for(rt.config).counts_office_hours(complaint.agency),
            )
        ]
    if isinstance(effect, FollowComplaint):
        followed = await _follow(rt, uow, citizen, effect)
        if followed is None:  # closed or gone meanwhile: file the citizen's report after all
            return await _apply(rt, uow, citizen, conversation, SubmitDraft(effect.draft), result)
        agency = rt.ctx.agency(followed.agency)
        return [
            flow.render_following(language, followed.number, agency.name(language) if agency else followed.agency, ctx)
        ]
    if isinstance(effect, ShowStatus):
        found = await uow.complaints.by_number(effect.number.strip().upper())
        if found is None or (found.citizen_id != citizen.id and not await uow.followers.follows(found.id, citizen.id)):
            return [flow.render_status_not_found(language, effect.number, ctx)]
        shown = flow.render_status(language, await build_view(uow, found, viewer=citizen.id), ctx)
        return [followup.with_appeal_button(rt, citizen, found, shown)]  # ⚖️ a rejection can be appealed
    if isinstance(effect, ListComplaints):
        mine = await uow.complaints.for_citizen(citizen.id, limit=10)
        views = [await build_view(uow, c, viewer=citizen.id) for c in mine]
        return [flow.render_my_complaints(language, views, ctx)]
    if isinstance(effect, ExportData):  # /dataku: the summary, then the JSON file (Telegram) or link
        return await rights.export_messages(rt, uow, citizen, language)
    if isinstance(effect, EraseMyData):  # /hapusdata confirmed: the answer goes to the chat it was
        done = await erasure.erase_citizen(rt, uow, citizen, rt.clock(), reason=erasure.REQUEST)
        return [erasure.answer(rt, done, language)]
    if isinstance(effect, RelayToAgency):  # "Ya, kirim ke petugas": as if the citizen had replied
        return await relay.relay_confirmed(rt, uow, citizen, language, effect)
    raise TypeError(f"unknown effect {effect!r}")


async def file_draft(rt: Runtime, uow: UnitOfWork, citizen: Citizen, draft: Draft) -> Complaint:
    """Create the complaint, its audit entry and its agency card, all in this transaction."""
    now = rt.clock()
    category = rt.ctx.category(draft.category)
    agency = rt.router.route(draft.category or "", draft.kecamatan)
    local_year = now.astimezone(ZoneInfo(rt.ctx.timezone)).year
    number = await uow.complaints.next_number(rt.ctx.tracking_prefix, local_year)
    complaint = await uow.complaints.create(
        number=number,
        citizen_id=citizen.id,
        category=draft.category or "lainnya",
        description=draft.description or "",
        latitude=draft.latitude,
        longitude=draft.longitude,
        address=draft.address or draft.place,
        kecamatan=draft.kecamatan,
        kelurahan=draft.kelurahan,
        agency=agency,
        status="baru",
        now=now,
        due_at=now + timedelta(hours=category.target_hours if category else 72),
        photos=[(p.sha256, p.telegram_file_id) for p in draft.photos],
    )
    complaint.privacy = privacy.normalise(draft.privacy)
    if privacy.is_anonymous(complaint):  # no name, and an alias of this complaint only
        complaint.anon_alias = privacy.new_anonymous_alias()
    elif draft.share_name and citizen.display_name:
        complaint.reporter_name = citizen.display_name
    floods.count_filing(rt, citizen, now)  # the daily cap (abuse.complaints_per_day)
    await clocks.start_clocks(rt, uow, complaint, now)  # accept and resolve by, on the agency's calendar
    await uow.audit.add(
        complaint.id,
        actor_kind="citizen",
        actor_id=str(citizen.id),
        actor_name=None,
        action="submit",
        to_status="baru",
        to_agency=agency,
        note=complaint.privacy or None,  # the privacy choice ("anonim" / "rahasia"), shown as its mark
        at=now,
    )
    view = await build_view(uow, complaint)
    await post_card(rt, uow, complaint, view)
    log.info("complaint %s filed for %s", number, agency)
    return complaint


