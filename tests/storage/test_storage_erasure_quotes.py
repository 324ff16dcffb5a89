"""Erasure: a follower's words relayed to another citizen's complaint's group are quoted by the staff
replies under them (Telegram puts the replied-to message into the update); those quotes lose the words."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import erasure
from storage.models import Complaint, InboundMessage, MessageLink
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
GROUP = -1001234567890
WORDS = "Rumah saya nomor 12, telepon 0812-0000-1111"


async def test_staff_replies_quoting_a_followers_relay_lose_its_words(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        reporter = await uow.citizens.get_or_create("telegram", "7201")
        follower = await uow.citizens.get_or_create("telegram", "7202")
        complaint: Complaint = await uow.complaints.create(
            number="JMB-2026-000001", citizen_id=reporter.id, category="jalan", description="Jalan berlubang",
            agency="pupr", now=NOW,
        )
        uow.session.add(MessageLink(channel="telegram", chat_id=str(GROUP), message_id="77", complaint_id=complaint.id,
                                    role="relay", staff_user_id=f"citizen:{follower.id}"))
        reply = {"message": {"message_id": 80, "chat": {"id": GROUP}, "text": "Baik, kami cek",
                             "reply_to_message": {"message_id": 77, "chat": {"id": GROUP}, "text": WORDS}}}
        await uow.inbox.add("tg:update:80", "telegram", f"tg:{GROUP}", reply, now=NOW)
        await uow.session.flush()
        quoted = await erasure.follower_relays(uow.session, follower.id)
        assert quoted == {(GROUP, 77)}
        await erasure.scrub_quotes(uow.session, quoted)
        await uow.commit()
    async with sessionmaker() as session:
        payload = (await session.scalars(select(InboundMessage.payload))).one()
    assert WORDS not in str(payload) and "Baik, kami cek" in str(payload), "staff's own words stay"
