"""A catch-up notice (the resolution question, the overdue notice) counts as delivered only for the round
it belongs to: after a reopen, the earlier round's message does not stop the new one from being sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.messages import OutMessage
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def test_only_messages_of_the_current_round_count(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("whatsapp", "+6281200000001")
        complaint = await uow.complaints.create(
            number="JMB-2026-000001", citizen_id=citizen.id, category="jalan", description="Jalan berlubang",
            agency="pupr", now=NOW,
        )
        row = await uow.outbox.enqueue("whatsapp", "+6281200000001", OutMessage("Sudah beres?"),
                                       complaint_id=complaint.id, link_role="fu_question", now=NOW)
        row.status = "sent"
        await uow.session.flush()
        found = uow.outbox.complaints_with_role
        assert await found("whatsapp", "+6281200000001", "fu_question", [complaint.id]) == {complaint.id}
        assert await found("whatsapp", "+6281200000001", "fu_question", [complaint.id], since=NOW) == {complaint.id}
        later = NOW + timedelta(days=3)  # reopened and resolved again: a new question is due
        assert await found("whatsapp", "+6281200000001", "fu_question", [complaint.id], since=later) == set()
