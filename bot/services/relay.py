"""Messages between citizens and agency staff, both ways: text and photos, inside the caller's unit of work.

* A citizen's reply to a message about a complaint (a status notice, a staff message) goes to the agency
  group as a reply to that complaint's card, with its photo when it is one
  (:func:`relay_citizen_reply`); the same happens when the citizen confirmed that plain text was for
  the agency (:func:`relay_confirmed`, the core's :class:`~handlers.effects.RelayToAgency`).
* A staff member's reply to a card or to a relayed citizen message goes to that citizen, a photo as a
  photo (:func:`relay_staff_reply`). On WhatsApp the sender hands Twilio a signed link to the stored
  file (:mod:`bot.media_links`).
* What a reply cannot carry (a sticker, a voice note, a video) gets a short answer saying so, in the
  chat it came from; it never starts a new complaint.
* :func:`with_recent_staff` tells the core which complaints staff wrote to the citizen about lately, so
  plain text can be offered to the agency ("Kirim ke petugas untuk JMB-…? Ya / Bukan").

Who may read what: a follower's message is signed with their own alias in the group and kept out of the
reporter's history; staff answering it answer that follower (see :mod:`handlers.visibility`).
"""

from __future__ import annotations

import dataclasses
import html
import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.services.complaints import GROUP_CHANNEL, build_view, send_to_citizen
from bot.services.runtime import Runtime
from handlers import cards, flow, visibility
from handlers.effects import RelayToAgency
from handlers.events import Incoming, Location, MediaRef, Photo, RecentStaff, Text, TooLarge, Unsupported
from handlers.messages import MessageRef, OutMessage
from handlers.state import Conversation, Step
from handlers.views import reporter_alias
from storage.models import Citizen, Complaint, MessageLink
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.services.staff import StaffActor

log = logging.getLogger("sikesal.relay")

#: roles of messages whose reply by the citizen is relayed to the agency group (``overdue``: the notice that
#: the agency was reminded, see bot.services.reminders)
RELAYABLE_ROLES = frozenset({"notification", "staff_reply", "overdue"})
#: the link role of a staff message to a citizen (what "staff wrote lately" looks for)
STAFF_REPLY = "staff_reply"
#: at most this many complaints are offered in "for which complaint?"
RECENT_LIMIT = 3
#: steps in which plain text may be offered to the agency (no draft in progress)
OFFER_STEPS = frozenset({Step.IDLE, Step.RELAY_CONFIRM})


# --- citizen -> agency ----------------------------------------------------------------------------


async def _related(uow: UnitOfWork, citizen: Citizen, complaint: Complaint | None) -> bool:
    """The citizen reported the complaint or follows it (only they may write to its agency)."""
    if complaint is None:
        return False
    return complaint.citizen_id == citizen.id or await uow.followers.follows(complaint.id, citizen.id)


async def relay_citizen_reply(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, incoming: Incoming
) -> bool:
    """A citizen's reply to a message about one of their complaints goes to its agency group under the
    card: text, or a photo with its caption. Anything else sent as such a reply gets a short "cannot be
    passed on" instead of being taken for a new complaint. Returns True when the event was consumed."""
    event = incoming.event
    if incoming.reply_to_message_id is None or not isinstance(event, Text | Photo | Unsupported | TooLarge | Location):
        return False  # a command or a button press means what it says, reply or not
    if isinstance(event, Text) and not event.text.strip():
        return False
    link = await uow.links.find(citizen.channel, citizen.channel_user_id, incoming.reply_to_message_id)
    if link is None or link.role not in RELAYABLE_ROLES:
        return False
    complaint = await uow.complaints.get(link.complaint_id)
    if complaint is None or not await _related(uow, citizen, complaint):
        return False
    language = conversation.language
    if isinstance(event, Text):
        messages = await relay_from_citizen(rt, uow, citizen, language, complaint, text=event.text)
    elif isinstance(event, Photo):
        messages = await relay_from_citizen(
            rt, uow, citizen, language, complaint, text=event.caption or "", photos=(event.media,)
        )
    else:
        messages = [_cannot_carry_citizen(rt, citizen, language, event)]
    for message in messages:
        await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id, message, now=rt.clock())
    return True


async def relay_confirmed(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, language: str, effect: RelayToAgency
) -> list[OutMessage]:
    """The citizen said "Ya": what they wrote goes to the agency of ``effect.number``, as a reply would."""
    complaint = await uow.complaints.by_number(effect.number)
    if not await _related(uow, citizen, complaint):
        return [flow.render_status_not_found(language, effect.number, rt.ctx_for(citizen.channel))]
    assert complaint is not None
    return await relay_from_citizen(
        rt, uow, citizen, language, complaint, text=effect.text, photos=effect.photos
    )


async def relay_from_citizen(
    rt: Runtime,
    uow: UnitOfWork,
    citizen: Citizen,
    language: str,
    complaint: Complaint,
    *,
    text: str,
    photos: tuple[MediaRef, ...] = (),
) -> list[OutMessage]:
    """Queue the citizen's words (and photos) for the group under the complaint's card and audit them;
    returns the confirmation for the citizen."""
    view = await build_view(uow, complaint)
    is_reporter = complaint.citizen_id == citizen.id
    if not is_reporter:  # a follower writes: staff see their own alias, never a name
        view = dataclasses.replace(view, reporter_alias=reporter_alias(citizen.id), reporter_name=None)
    shown = text.strip() or (rt.ctx.t("id", "relay.photo_no_caption") if photos else "")
    card = await uow.cards.active_for(complaint.id)
    if card is not None:  # without a card (group not linked yet) the message waits in the audit trail
        message = cards.render_citizen_reply_to_group(view, shown, rt.ctx)
        await uow.outbox.enqueue(
            GROUP_CHANNEL,
            card.chat_id,
            dataclasses.replace(message, photos=photos),
            complaint_id=complaint.id,
            link_role="relay",
            # a follower wrote: staff answering this message answer that citizen, not the reporter
            link_staff_user_id=None if is_reporter else f"citizen:{citizen.id}",
            now=rt.clock(),
        )
    await uow.audit.add(
        complaint.id,
        actor_kind="citizen",
        actor_id=str(citizen.id),
        actor_name=view.reporter_alias,
        action="citizen_reply",
        # the reporter can read the history: a follower's words are not kept there (they are in the group)
        note=(text.strip() or None) if is_reporter else None,
        at=rt.clock(),
    )
    agency = rt.ctx.agency(complaint.agency)
    return [
        flow.render_citizen_reply_sent(
            language, complaint.number, agency.name(language) if agency else complaint.agency,
            rt.ctx_for(citizen.channel),
        )
    ]


def _kind(event: object) -> str:
    if isinstance(event, Unsupported):
        return event.kind
    if isinstance(event, TooLarge):
        return "too_large"
    if isinstance(event, Location):
        return "location"
    return "other"


def _kind_words(rt: Runtime, language: str, kind: str) -> str:
    key = f"relay.kind.{kind}"
    return rt.ctx.t(language, key if rt.ctx.catalog.has(language, key) else "relay.kind.other")


def _cannot_carry_citizen(rt: Runtime, citizen: Citizen, language: str, event: object) -> OutMessage:
    ctx = rt.ctx_for(citizen.channel)
    kind = _kind(event)
    if kind == "download_failed":  # a photo after all: it is the fetch that failed
        return OutMessage(ctx.t(language, "unexpected.download_failed"))
    return OutMessage(ctx.t(language, "relay.cannot_carry", what=_kind_words(rt, language, kind)))


# --- agency -> citizen ----------------------------------------------------------------------------


async def relay_staff_reply(
    rt: Runtime,
    uow: UnitOfWork,
    link: MessageLink,
    complaint: Complaint,
    actor: StaffActor,
    *,
    text: str,
    photo: MediaRef | None,
    unsupported: str | None,
    chat_id: int,
    reply_to_message_id: int,
) -> bool:
    """A staff reply under a card or a relayed citizen message: text and/or a photo reach the citizen
    it is addressed to; anything else gets a short group message. False: nothing to relay."""
    if photo is None and unsupported is not None:
        what = _kind_words(rt, "id", unsupported)
        text = html.escape(rt.ctx.t("id", "relay.staff_cannot_carry", what=what))
        message = OutMessage(text=text, reply_to=MessageRef(kind="message", message_id=reply_to_message_id))
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, message, now=rt.clock())  # a reply has no toast
        return True
    if photo is None and not text.strip():
        return False
    if photo is not None:
        await _remember_media(rt, uow, photo)
    addressed = link.staff_user_id or ""
    follower = int(addressed.split(":", 1)[1]) if addressed.startswith("citizen:") else None
    await relay_to_citizen(rt, uow, complaint, actor, text, citizen_id=follower, photo=photo)
    return True


async def _remember_media(rt: Runtime, uow: UnitOfWork, media: MediaRef) -> None:
    """The adapter stored the bytes; record the file (and its Telegram file id) in this transaction."""
    await uow.media.upsert(
        media.sha256, rt.media.relative_path(media.sha256, media.mime_type), media.mime_type, media.size,
        media.telegram_file_id,
    )


async def relay_to_citizen(
    rt: Runtime,
    uow: UnitOfWork,
    complaint: Complaint,
    actor: StaffActor,
    text: str,
    *,
    citizen_id: int | None = None,
    photo: MediaRef | None = None,
    group_message: OutMessage | None = None,
) -> None:
    """A staff reply goes to the reporter, or to the follower whose relayed message staff answered.
    The group is told it went out; ``group_message`` says so instead (a reply written on the dashboard
    shows its words there, since the group did not see them being typed)."""
    citizen = await uow.citizens.get(citizen_id or complaint.citizen_id)
    if citizen is None:
        return
    agency = rt.ctx.agency(complaint.agency)
    ctx = rt.ctx_for(citizen.channel)  # "swipe to reply" on WhatsApp, "reply" on Telegram
    shown = text.strip() or (ctx.t(citizen.language, "relay.photo_no_caption") if photo else "")
    message = flow.render_staff_reply(
        citizen.language, complaint.number, agency.name(citizen.language) if agency else complaint.agency, shown, ctx,
    )
    if photo is not None:
        message = dataclasses.replace(message, photos=(photo,))
    await send_to_citizen(rt, uow, citizen, complaint, message, role=STAFF_REPLY)
    await uow.audit.add(
        complaint.id,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_name=actor.name,
        action="staff_reply",
        # an answer to a follower is theirs to read, not the reporter's (see handlers.visibility)
        to_agency=visibility.addressee_ref(citizen.id) if citizen.id != complaint.citizen_id else None,
        note=text.strip() or None,
        at=rt.clock(),
    )
    card = await uow.cards.active_for(complaint.id)
    if card is not None:
        told = group_message if group_message is not None else cards.render_reply_relayed(rt.ctx)
        await uow.outbox.enqueue(GROUP_CHANNEL, card.chat_id, told, now=rt.clock())


# --- "staff wrote lately" -------------------------------------------------------------------------


async def with_recent_staff(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, incoming: Incoming
) -> Incoming:
    """With no draft in progress, the complaints staff wrote to this citizen about within
    ``relay.ask_window_hours`` travel with the event (latest first), so the core can ask whether plain
    text is for the agency."""
    hours = rt.config.relay.ask_window_hours
    if hours <= 0 or conversation.step not in OFFER_STEPS or not isinstance(incoming.event, Text | Photo):
        return incoming
    since = rt.clock() - timedelta(hours=hours)
    complaint_ids = await uow.outbox.recent_complaints(
        citizen.channel, citizen.channel_user_id, role=STAFF_REPLY, since=since, limit=RECENT_LIMIT
    )
    recent: list[RecentStaff] = []
    for complaint_id in complaint_ids:
        complaint = await uow.complaints.get(complaint_id)
        if complaint is not None and await _related(uow, citizen, complaint):
            recent.append(RecentStaff(number=complaint.number, agency=complaint.agency))
    return dataclasses.replace(incoming, recent_staff=tuple(recent)) if recent else incoming


__all__ = [
    "RELAYABLE_ROLES",
    "relay_citizen_reply",
    "relay_confirmed",
    "relay_from_citizen",
    "relay_staff_reply",
    "relay_to_citizen",
    "with_recent_staff",
]
