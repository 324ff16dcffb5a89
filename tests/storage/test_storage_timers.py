"""The timers table on SQLite and PostgreSQL: a timer is stored once however often it is planned, fires
once however many schedulers claim it, and the due query returns unfired due timers oldest first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from storage_testkit import NOW

from storage.models import Complaint
from storage.uow import UnitOfWork

MakeComplaint = Callable[..., Awaitable[Complaint]]


async def test_planning_twice_stores_once_even_after_it_fired(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    complaint = await make_complaint()
    due = NOW + timedelta(hours=4)
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.timers.plan("accept", f"c{complaint.id}", due, complaint_id=complaint.id, now=NOW)
        assert not await uow.timers.plan("accept", f"c{complaint.id}", due + timedelta(hours=1),
                                         complaint_id=complaint.id, now=NOW)
        # another round or level is another timer
        assert await uow.timers.plan("accept", f"c{complaint.id}", due, complaint_id=complaint.id, round=1, now=NOW)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        timers = await uow.timers.for_complaint(complaint.id)
        assert [(t.kind, t.round, t.due_at) for t in timers] == [("accept", 0, due), ("accept", 1, due)]
        assert await uow.timers.claim(timers[0].id, due)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:  # fired: planning it again changes nothing
        assert not await uow.timers.plan("accept", f"c{complaint.id}", due, complaint_id=complaint.id, now=NOW)
        assert len(await uow.timers.for_complaint(complaint.id, unfired_only=True)) == 1
        await uow.commit()


async def test_due_returns_unfired_due_timers_oldest_first(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    complaint = await make_complaint()
    subject = f"c{complaint.id}"
    async with UnitOfWork(sessionmaker) as uow:
        await uow.timers.plan("overdue", subject, NOW + timedelta(minutes=5), complaint_id=complaint.id)
        await uow.timers.plan("accept", subject, NOW - timedelta(minutes=5), complaint_id=complaint.id)
        await uow.timers.plan("escalate", subject, NOW + timedelta(hours=1), complaint_id=complaint.id)
        await uow.timers.plan("digest", "city", NOW - timedelta(minutes=1), round=739000)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert [t.kind for t in await uow.timers.due(NOW + timedelta(minutes=5), 10)] == ["accept", "digest", "overdue"]
        assert [t.kind for t in await uow.timers.due(NOW + timedelta(minutes=5), 1)] == ["accept"]
        first = (await uow.timers.due(NOW, 10))[0]
        assert await uow.timers.claim(first.id, NOW)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert [t.kind for t in await uow.timers.due(NOW + timedelta(minutes=5), 10)] == ["digest", "overdue"]
        assert await uow.timers.next_due_at() == NOW - timedelta(minutes=1)


async def test_two_claims_of_one_timer_one_wins(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    complaint = await make_complaint()
    async with UnitOfWork(sessionmaker) as uow:
        await uow.timers.plan("overdue", f"c{complaint.id}", NOW, complaint_id=complaint.id)
        await uow.commit()
        timer_id = (await uow.timers.due(NOW, 1))[0].id

    async def claim() -> bool:
        async with UnitOfWork(sessionmaker) as uow:
            won = await uow.timers.claim(timer_id, NOW)
            await uow.commit()
            return won

    results = await asyncio.gather(claim(), claim())
    assert sorted(results) == [False, True]


async def test_defer_and_delete_touch_only_unfired(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    complaint = await make_complaint()
    subject = f"c{complaint.id}"
    async with UnitOfWork(sessionmaker) as uow:
        await uow.timers.plan("accept", subject, NOW, complaint_id=complaint.id)
        await uow.timers.plan("overdue", subject, NOW, complaint_id=complaint.id)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        accept, overdue = await uow.timers.for_complaint(complaint.id)
        assert await uow.timers.claim(accept.id, NOW)
        assert not await uow.timers.defer(accept.id, NOW + timedelta(hours=9))
        assert await uow.timers.defer(overdue.id, NOW + timedelta(hours=9), outcome="quiet")
        assert await uow.timers.delete_unfired([accept.id]) == 0
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        timers = await uow.timers.for_complaint(complaint.id)
        assert [(t.kind, t.due_at, t.outcome) for t in timers] == [
            ("accept", NOW, None), ("overdue", NOW + timedelta(hours=9), "quiet")
        ]
        assert await uow.timers.delete_unfired([t.id for t in timers]) == 1
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert [t.kind for t in await uow.timers.for_complaint(complaint.id)] == ["accept"]


async def test_due_query_uses_the_partial_index(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """The scheduler's query is a range scan of ix_timers_due on both backends (no table scan)."""
    async with UnitOfWork(sessionmaker) as uow:
        dialect = uow.session.bind.dialect.name
        if dialect == "sqlite":
            plan = await uow.session.execute(text(
                "EXPLAIN QUERY PLAN SELECT * FROM timers WHERE fired_at IS NULL AND due_at <= :now "
                "ORDER BY due_at, id LIMIT 100"
            ), {"now": NOW.replace(tzinfo=None)})
            assert "ix_timers_due" in " ".join(str(row[-1]) for row in plan)
        else:
            await uow.session.execute(text("SET LOCAL enable_seqscan = off"))
            plan = await uow.session.execute(text(
                "EXPLAIN SELECT * FROM timers WHERE fired_at IS NULL AND due_at <= :now "
                "ORDER BY due_at, id LIMIT 100"
            ), {"now": NOW})
            assert "ix_timers_due" in " ".join(str(row[0]) for row in plan)
