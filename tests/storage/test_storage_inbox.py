"""Inbox contract (``inbound_messages``) and the citizen's 24-hour window mark, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from storage_testkit import NOW

from storage.models import Citizen, InboundMessage
from storage.repositories import MAX_ERROR_CHARS, count_rows
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]
MakeCitizen = Callable[..., Awaitable[Citizen]]
A, B, C = "+6281200000001", "+6281200000002", "+6281200000003"


def form(sid: str, sender: str, body: str = "halo") -> dict[str, str]:
    return {"MessageSid": sid, "From": f"whatsapp:{sender}", "Body": body, "NumMedia": "0"}


async def add(sessionmaker: SM, sid: str, sender: str, *, at: timedelta = timedelta(0)) -> bool:
    async with UnitOfWork(sessionmaker) as uow:
        stored = await uow.inbox.add(f"wa:{sid}", "whatsapp", sender, form(sid, sender), now=NOW + at)
        await uow.commit()
    return stored


async def ids_by_sid(sessionmaker: SM) -> dict[str, int]:
    """Row ids by the MessageSid they were stored under."""
    async with UnitOfWork(sessionmaker) as uow:
        rows = (await uow.session.scalars(select(InboundMessage))).all()
        return {row.key.removeprefix("wa:"): row.id for row in rows}


async def test_add_twice_stores_one_row(sessionmaker: SM) -> None:
    assert await add(sessionmaker, "SM1", A) is True
    assert await add(sessionmaker, "SM1", A) is False  # Twilio redelivered it
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, InboundMessage) == 1
        row = await uow.inbox.head_for_sender(A)
        assert row is not None
        assert row.key == "wa:SM1" and row.channel == "whatsapp" and row.sender == A
        assert row.payload == form("SM1", A)
        assert row.status == "pending" and row.attempts == 0
        assert row.received_at == NOW and row.next_attempt_at == NOW
        assert row.processed_at is None and row.last_error is None
        assert await uow.inbox.get(row.id) is row
        assert await uow.inbox.get(999_999) is None
        assert await uow.inbox.pending_count() == 1


async def test_add_redelivery_in_same_transaction_keeps_it_usable(sessionmaker: SM) -> None:
    """ON CONFLICT DO NOTHING, not an error: the webhook's transaction goes on (and commits)."""
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.inbox.add("wa:SM9", "whatsapp", A, form("SM9", A), now=NOW)
        assert not await uow.inbox.add("wa:SM9", "whatsapp", A, form("SM9", A, "again"), now=NOW)
        assert await uow.inbox.add("wa:SM10", "whatsapp", A, form("SM10", A), now=NOW)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.inbox.pending_count() == 2
        head = await uow.inbox.head_for_sender(A)
        assert head is not None and head.payload["Body"] == "halo"


async def test_concurrent_add_of_one_message(sessionmaker: SM) -> None:
    """The same webhook delivered 10 times at once, from separate sessions: one row, one True."""
    start = asyncio.Event()

    async def deliver() -> bool:
        await start.wait()
        async with UnitOfWork(sessionmaker) as uow:
            stored = await uow.inbox.add("wa:SMrace", "whatsapp", A, form("SMrace", A), now=NOW)
            await asyncio.sleep(0.002)
            await uow.commit()
            return stored

    tasks = [asyncio.create_task(deliver()) for _ in range(10)]
    start.set()
    assert (await asyncio.gather(*tasks)).count(True) == 1
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, InboundMessage) == 1


async def test_due_heads_per_sender_fifo(sessionmaker: SM) -> None:
    """Only each sender's oldest pending row is offered, ordered by id; a finished head lets
    the sender's next row through."""
    for sid, sender in [("a1", A), ("b1", B), ("a2", A), ("a3", A), ("b2", B)]:
        assert await add(sessionmaker, sid, sender)
    ids = await ids_by_sid(sessionmaker)

    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.inbox.due_heads(NOW) == [(ids["a1"], A), (ids["b1"], B)]
        assert await uow.inbox.due_heads(NOW, limit=1) == [(ids["a1"], A)]
        assert await uow.inbox.due_heads(NOW - timedelta(seconds=1)) == []  # nothing due yet
        assert await uow.inbox.pending_count() == 5
        assert await uow.inbox.next_due_at() == NOW

        a1 = await uow.inbox.get(ids["a1"])
        assert a1 is not None
        uow.inbox.mark_done(a1, now=NOW)
        await uow.commit()

    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.inbox.due_heads(NOW) == [(ids["b1"], B), (ids["a2"], A)]
        head = await uow.inbox.head_for_sender(A)
        assert head is not None and head.id == ids["a2"]
        assert await uow.inbox.head_for_sender(C) is None


async def test_deferred_head_holds_back_its_sender_only(sessionmaker: SM) -> None:
    """A head waiting for its retry is not due, and the sender's later (due) rows wait behind it."""
    for sid, sender in [("a1", A), ("a2", A), ("b1", B)]:
        await add(sessionmaker, sid, sender)
    ids = await ids_by_sid(sessionmaker)

    async with UnitOfWork(sessionmaker) as uow:
        a1 = await uow.inbox.get(ids["a1"])
        assert a1 is not None
        uow.inbox.mark_retry(a1, error="media download timed out", delay=30, now=NOW)
        await uow.commit()

    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.inbox.due_heads(NOW) == [(ids["b1"], B)]
        assert await uow.inbox.due_heads(NOW + timedelta(seconds=29)) == [(ids["b1"], B)]
        assert await uow.inbox.due_heads(NOW + timedelta(seconds=30)) == [(ids["a1"], A), (ids["b1"], B)]
        head = await uow.inbox.head_for_sender(A)  # due or not: the per-sender worker's view
        assert head is not None and head.id == ids["a1"]
        b1 = await uow.inbox.get(ids["b1"])
        assert b1 is not None
        uow.inbox.mark_done(b1, now=NOW)
        await uow.commit()

    async with UnitOfWork(sessionmaker) as uow:
        # only A's deferred head remains a head: the next wake-up is its retry, not a2
        assert await uow.inbox.next_due_at() == NOW + timedelta(seconds=30)
        assert await uow.inbox.due_heads(NOW) == []


async def test_retry_failed_done(sessionmaker: SM) -> None:
    for sid in ("a1", "a2", "a3"):
        await add(sessionmaker, sid, A)
    ids = await ids_by_sid(sessionmaker)
    later = NOW + timedelta(minutes=5)

    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.inbox.get(ids["a1"])
        assert row is not None
        uow.inbox.mark_retry(row, error="x" * 5000, delay=10, now=NOW)
        uow.inbox.mark_retry(row, error="database busy", delay=-3, now=NOW)  # never in the past
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.inbox.get(ids["a1"])
        assert row is not None
        assert row.status == "pending" and row.attempts == 2
        assert row.last_error == "database busy" and row.next_attempt_at == NOW
        uow.inbox.mark_retry(row, error="y" * 5000, delay=10, now=NOW)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.inbox.get(ids["a1"])
        assert row is not None and row.last_error is not None
        assert len(row.last_error) == MAX_ERROR_CHARS and row.last_error.endswith("…")
        assert row.next_attempt_at == NOW + timedelta(seconds=10)

        uow.inbox.mark_failed(row, error="gave up after 3 attempts", now=later)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.inbox.get(ids["a1"])
        assert row is not None
        assert (row.status, row.attempts, row.processed_at) == ("failed", 4, later)
        assert row.last_error == "gave up after 3 attempts"
        # a failed head no longer blocks the sender
        assert await uow.inbox.due_heads(later) == [(ids["a2"], A)]

        a2 = await uow.inbox.get(ids["a2"])
        assert a2 is not None
        uow.inbox.mark_done(a2, now=later)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        a2 = await uow.inbox.get(ids["a2"])
        assert a2 is not None
        assert (a2.status, a2.attempts, a2.processed_at, a2.last_error) == ("done", 1, later, None)
        assert await uow.inbox.pending_count() == 1
        assert await uow.inbox.due_heads(later) == [(ids["a3"], A)]


async def test_prune_keeps_pending_and_recent_rows(sessionmaker: SM) -> None:
    day = timedelta(days=1)
    await add(sessionmaker, "old-done", A, at=-3 * day)
    await add(sessionmaker, "old-failed", B, at=-3 * day)
    await add(sessionmaker, "old-pending", C, at=-3 * day)
    await add(sessionmaker, "new-done", A, at=timedelta(0))
    ids = await ids_by_sid(sessionmaker)

    async with UnitOfWork(sessionmaker) as uow:
        for sid in ("old-done", "new-done"):
            row = await uow.inbox.get(ids[sid])
            assert row is not None
            uow.inbox.mark_done(row, now=NOW)
        row = await uow.inbox.get(ids["old-failed"])
        assert row is not None
        uow.inbox.mark_failed(row, error="bad form", now=NOW)
        await uow.commit()

    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.inbox.prune(NOW - day) == 2
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert set(await ids_by_sid(sessionmaker)) == {"old-pending", "new-done"}
        assert await uow.inbox.prune(NOW - day) == 0
        # the pruned key may come back (a very late redelivery is stored again, not lost)
    assert await add(sessionmaker, "old-done", A)


async def test_touch_inbound_only_moves_forward(sessionmaker: SM, make_citizen: MakeCitizen) -> None:
    citizen = await make_citizen("whatsapp", A)
    assert citizen.last_inbound_at is None
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.citizens.get(citizen.id)
        assert loaded is not None
        await uow.citizens.touch_inbound(loaded, NOW)
        await uow.citizens.touch_inbound(loaded, NOW - timedelta(hours=1))  # an older message, late
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.citizens.get(citizen.id)
        assert loaded is not None and loaded.last_inbound_at == NOW
        await uow.citizens.touch_inbound(loaded, NOW + timedelta(hours=2))
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.citizens.get(citizen.id)
        assert loaded is not None and loaded.last_inbound_at == NOW + timedelta(hours=2)
        assert loaded.last_inbound_at.utcoffset() == timedelta(0)
