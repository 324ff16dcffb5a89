"""A Rahasia complaint's content is for the handling agency and the command centre only: a citizen who
follows it (the same problem, offered without its words) never gets the clerk's proof photo or note, in
/status or with the resolution notice; its reporter does."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.complaints import build_view
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def test_followers_of_a_rahasia_complaint_see_no_proof(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        reporter = await uow.citizens.get_or_create("telegram", "7101")
        follower = await uow.citizens.get_or_create("telegram", "7102")
        complaint = await uow.complaints.create(
            number="JMB-2026-000001", citizen_id=reporter.id, category="jalan", description="Jalan berlubang",
            agency="pupr", now=NOW,
        )
        complaint.status, complaint.proof_note = "selesai", "Sudah ditambal"
        await uow.followers.add(complaint.id, follower.id, now=NOW)
        for privacy, follower_sees in (("rahasia", None), ("", "Sudah ditambal"), ("anonim", "Sudah ditambal")):
            complaint.privacy = privacy
            assert (await build_view(uow, complaint, viewer=reporter.id)).proof_note == "Sudah ditambal"
            assert (await build_view(uow, complaint, viewer=follower.id)).proof_note == follower_sees
            assert (await build_view(uow, complaint)).proof_note == "Sudah ditambal", "staff see it"
