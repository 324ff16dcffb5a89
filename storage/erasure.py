"""The queries of a citizen's erasure (/hapusdata, see :mod:`bot.services.erasure`): every row that holds
the citizen's channel id, their words or their name, found and scrubbed inside the caller's session.

Why one module: the list of places personal data lives in must be read in one place, so a new table that
holds some is added here too (tests/e2e/test_erasure.py scans every table's text columns to catch one
that is forgotten). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    AuditEntry,
    Card,
    Citizen,
    Complaint,
    ComplaintFollower,
    ComplaintPhoto,
    ConversationRow,
    InboundMessage,
    MediaFile,
    MessageLink,
    MessageReceipt,
    OutboxMessage,
)

#: what a scrubbed outbox row carries instead of the message (a valid, empty OutMessage)
SCRUBBED: dict[str, Any] = {"text": ""}
#: the WhatsApp form field naming the message at Twilio
MESSAGE_SID = "MessageSid"


async def owned_complaints(session: AsyncSession, citizen_id: int) -> list[Complaint]:
    """Every complaint the citizen filed, locked in id order (no limit: all of them are changed)."""
    stmt = select(Complaint).where(Complaint.citizen_id == citizen_id).order_by(Complaint.id).with_for_update()
    return list((await session.scalars(stmt)).all())


async def erased_before(session: AsyncSession, channel: str, hashed: str) -> bool:
    """Was a citizen with this keyed hash (the same chat) erased before?"""
    stmt = select(Citizen.id).where(
        Citizen.channel == channel, Citizen.channel_user_id.like(f"{hashed}.%"), Citizen.erased_at.is_not(None)
    ).limit(1)
    return (await session.scalar(stmt)) is not None


async def drop_conversation(session: AsyncSession, citizen_id: int) -> dict[str, Any]:
    """Delete the conversation (draft, remembered menus, pasted texts); its state is returned so the
    caller can find draft photos that belong to no complaint."""
    row = await session.get(ConversationRow, citizen_id)
    if row is None:
        return {}
    state = dict(row.state or {})
    await session.delete(row)
    return state


async def drop_follows(session: AsyncSession, citizen_id: int) -> int:
    """The citizen no longer follows anyone's complaint (their notices would go nowhere)."""
    result = await session.execute(delete(ComplaintFollower).where(ComplaintFollower.citizen_id == citizen_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def scrub_audit(session: AsyncSession, citizen_id: int) -> None:
    """The citizen's own words in the audit trail (a reply to the agency, an appeal reason, a rating
    comment) and any name go; what happened, when, stays."""
    await session.execute(
        update(AuditEntry)
        .where(AuditEntry.actor_kind == "citizen", AuditEntry.actor_id == str(citizen_id))
        .values(note=None, actor_name=None)
        .execution_options(synchronize_session=False)
    )


async def scrub_inbound(session: AsyncSession, channel: str, senders: Iterable[str], hashed: str) -> list[str]:
    """The raw inbound messages (Telegram updates, Twilio forms) of the chat (its inbox ``senders``, see
    :func:`inbox_senders`): emptied, their sender
    replaced by the hash. Returns the Twilio sids of the WhatsApp ones (to delete them at Twilio).

    A chat's rows are processed strictly in order, so the oldest one still pending is the one being
    handled now (the confirmation itself): it is scrubbed too. Later pending ones were written after
    the confirmation and belong to whoever writes from this chat next: they are left to be processed."""
    rows = (await session.scalars(
        select(InboundMessage)
        .where(InboundMessage.channel == channel, InboundMessage.sender.in_(list(senders)))
        .order_by(InboundMessage.seq, InboundMessage.id)
    )).all()
    heads: set[str] = set()
    later: set[int] = set()
    for row in rows:
        if row.status == "pending":
            if row.sender in heads:
                later.add(row.id)
            heads.add(row.sender)
    sids: list[str] = []
    for row in rows:
        if row.id in later:
            continue
        sid = (row.payload or {}).get(MESSAGE_SID)
        if isinstance(sid, str) and sid:
            sids.append(sid)
        elif row.key.startswith("wa:"):
            sids.append(row.key.removeprefix("wa:"))
        row.payload = {}
        row.sender = hashed
    return sids


def inbox_senders(channel: str, chat_id: str) -> list[str]:
    """How the inbox names a chat's rows: WhatsApp by the number, Telegram by ``tg:<chat>`` (or
    ``tg-user:<user>``: a private chat's id is its user's, see bot.telegram.intake.update_sender)."""
    if channel == "telegram":
        return [f"tg:{chat_id}", f"tg-user:{chat_id}"]
    return [chat_id]


async def scrub_outbox(
    session: AsyncSession, channel: str, chat_id: str, hashed: str, citizen_id: int, superseded: str
) -> list[str]:
    """Messages to the citizen: emptied and re-addressed to the hash; those still waiting are not sent
    (``superseded``). Messages carrying the citizen's words to an agency group as a follower
    (``link_staff_user_id = citizen:<id>``) are emptied too. Returns the channel ids of what was sent to
    the chat (the Twilio sids, on WhatsApp)."""
    rows = (await session.scalars(
        select(OutboxMessage).where(or_(
            (OutboxMessage.channel == channel) & (OutboxMessage.chat_id == chat_id),
            OutboxMessage.link_staff_user_id == f"citizen:{citizen_id}",
        ))
    )).all()
    sids: list[str] = []
    for row in rows:
        if row.chat_id == chat_id and row.channel == channel:
            sids.extend(str(m) for m in row.result_message_ids or [])
            row.chat_id = hashed
            if row.status == "pending":
                row.status, row.last_error = superseded, "the citizen's data was erased"
        row.payload = dict(SCRUBBED)
    return sids


async def scrub_group_words(session: AsyncSession, complaint_ids: Iterable[int], roles: Iterable[str]) -> None:
    """What carried the reporter's words or name to a group (relays, appeal cards, card renderings that
    were already delivered) is emptied: the group's message itself stays in Telegram, the copy here goes."""
    ids = list(complaint_ids)
    if not ids:
        return
    await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.complaint_id.in_(ids),
            OutboxMessage.status != "pending",
            or_(OutboxMessage.card_id.is_not(None), OutboxMessage.link_role.in_(list(roles))),
        )
        .values(payload=dict(SCRUBBED))
        .execution_options(synchronize_session=False)
    )


async def group_messages(session: AsyncSession, complaint_ids: Iterable[int]) -> set[tuple[int, int]]:
    """(chat, message) of every group message about these complaints: cards, albums, relays, prompts."""
    ids = list(complaint_ids)
    if not ids:
        return set()
    found = {
        (int(chat), int(message))
        for chat, message in (await session.execute(
            select(Card.chat_id, Card.message_id).where(Card.complaint_id.in_(ids))
        )).all()
        if message is not None
    }
    for chat, message in (await session.execute(
        select(MessageLink.chat_id, MessageLink.message_id)
        .where(MessageLink.complaint_id.in_(ids), MessageLink.channel == "telegram")
    )).all():
        if str(chat).lstrip("-").isdigit() and str(message).isdigit():
            found.add((int(chat), int(message)))
    return found


#: the parts of a quoted Telegram message that carry its words
_QUOTED_WORDS = ("text", "caption", "entities", "caption_entities")


def _unquote(value: Any, messages: set[tuple[int, int]]) -> Any:
    """``value`` with the words taken out of every copy of one of ``messages`` it quotes."""
    if isinstance(value, list):
        return [_unquote(item, messages) for item in value]
    if not isinstance(value, dict):
        return value
    chat = value.get("chat")
    quoted = isinstance(chat, dict) and (chat.get("id"), value.get("message_id")) in messages
    return {key: _unquote(item, messages) for key, item in value.items() if not (quoted and key in _QUOTED_WORDS)}


async def follower_relays(session: AsyncSession, citizen_id: int) -> set[tuple[int, int]]:
    """(chat, message) of the group messages carrying the citizen's words as a follower of another's
    complaint: staff replies under them quote those words too."""
    return {
        (int(chat), int(message))
        for chat, message in (await session.execute(
            select(MessageLink.chat_id, MessageLink.message_id).where(
                MessageLink.staff_user_id == f"citizen:{citizen_id}", MessageLink.channel == "telegram"
            )
        )).all()
        if str(chat).lstrip("-").isdigit() and str(message).isdigit()
    }


async def scrub_quotes(session: AsyncSession, messages: set[tuple[int, int]]) -> None:
    """Staff's updates quote the card they pressed or answered (Telegram puts the whole message, with the
    reporter's name and words, into a callback query or a reply): those copies lose their words."""
    chats = sorted({chat for chat, _ in messages})
    if not chats:
        return
    rows = (await session.scalars(
        select(InboundMessage).where(
            InboundMessage.channel == "telegram", InboundMessage.sender.in_([f"tg:{chat}" for chat in chats])
        )
    )).all()
    for row in rows:
        cleaned = _unquote(row.payload or {}, messages)
        if cleaned != row.payload:
            row.payload = cleaned


async def drop_links(session: AsyncSession, channel: str, chat_id: str, citizen_id: int) -> None:
    """Which of the citizen's messages were about which complaint: gone (replies can no longer reach
    them), with the links of a follower's words in a group."""
    await session.execute(delete(MessageLink).where(or_(
        (MessageLink.channel == channel) & (MessageLink.chat_id == chat_id),
        MessageLink.staff_user_id == f"citizen:{citizen_id}",
    )))


async def scrub_receipts(session: AsyncSession, channel: str, chat_id: str) -> list[str]:
    """Delivery receipts keep the status (for the card's warning) but not the chat; their ids returned."""
    rows = (await session.scalars(
        select(MessageReceipt).where(MessageReceipt.channel == channel, MessageReceipt.chat_id == chat_id)
    )).all()
    for row in rows:
        row.chat_id = None
    return [row.message_id for row in rows]


async def unused_media(session: AsyncSession, sha256s: Iterable[str]) -> list[MediaFile]:
    """The stored files among ``sha256s`` no complaint and no audit entry uses any more."""
    wanted = sorted(set(sha256s))
    if not wanted:
        return []
    used = set((await session.scalars(
        select(ComplaintPhoto.sha256).where(ComplaintPhoto.sha256.in_(wanted))
    )).all()) | set((await session.scalars(
        select(AuditEntry.media_sha256).where(AuditEntry.media_sha256.in_(wanted))
    )).all())
    free = [sha for sha in wanted if sha not in used]
    if not free:
        return []
    return list((await session.scalars(select(MediaFile).where(MediaFile.sha256.in_(free)))).all())
