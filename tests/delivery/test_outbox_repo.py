"""OutboxRepo against a real migrated database (SQLite and, when configured, PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.messages import OutMessage
from storage.models import Card, OutboxMessage
from storage.outbox import OutboxRepo, as_utc
from storage.uow import UnitOfWork

NOW = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
SM = async_sessionmaker[AsyncSession]
MakeCard = Callable[..., Awaitable[Card]]


async def enqueue(sm: SM, chat_id: int | str, text: str, *, now: datetime = NOW, **kw: object) -> int:
    async with UnitOfWork(sm) as uow:
        row = await uow.outbox.enqueue("telegram", chat_id, OutMessage(text), now=now, **kw)  # type: ignore[arg-type]
        await uow.flush()
        row_id = row.id
        await uow.commit()
    return row_id


async def due_texts(sm: SM, now: datetime = NOW) -> list[str]:
    async with sm() as session:
        return [row.payload["text"] for row in await OutboxRepo(session).due(now)]


async def mark(sm: SM, row_id: int, action: str, **kw: object) -> None:
    async with sm() as session, session.begin():
        repo = OutboxRepo(session)
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        getattr(repo, action)(row, **kw)


async def test_enqueue_stores_the_serialised_message_and_nothing_without_commit(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await uow.outbox.enqueue("telegram", 5, OutMessage("rolled back"))
        # no commit: leaving the unit of work rolls back
    row_id = await enqueue(sessionmaker, 5, "halo", link_staff_user_id=77)
    async with sessionmaker() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        assert (row.chat_id, row.kind, row.status, row.attempts) == ("5", "send", "pending", 0)
        assert OutMessage.from_dict(row.payload) == OutMessage("halo")
        assert row.link_staff_user_id == "77"
        assert await OutboxRepo(session).pending_count() == 1


async def test_due_is_fifo_per_chat_and_parallel_across_chats(sessionmaker: SM) -> None:
    a1 = await enqueue(sessionmaker, 1, "a1")
    await enqueue(sessionmaker, 1, "a2")
    await enqueue(sessionmaker, -2, "g1")
    await enqueue(sessionmaker, 3, "later", now=NOW + timedelta(minutes=5))
    assert await due_texts(sessionmaker) == ["a1", "g1"]
    await mark(sessionmaker, a1, "mark_sent", message_ids=["10"], now=NOW)
    assert await due_texts(sessionmaker) == ["a2", "g1"]
    assert await due_texts(sessionmaker, NOW + timedelta(minutes=6)) == ["a2", "g1", "later"]


async def test_a_waiting_row_holds_back_the_rest_of_its_chat(sessionmaker: SM) -> None:
    a1 = await enqueue(sessionmaker, 1, "a1")
    await enqueue(sessionmaker, 1, "a2")
    await mark(sessionmaker, a1, "mark_retry", error="network", delay=30, now=NOW)
    assert await due_texts(sessionmaker) == []
    async with sessionmaker() as session:
        repo = OutboxRepo(session)
        # the next wake-up is the deferred head, not the due-but-blocked row behind it
        assert await repo.next_due_at() == NOW + timedelta(seconds=30)
        head = await repo.head_for_chat(1)
        assert head is not None and head.id == a1 and head.attempts == 1 and head.last_error == "network"
    assert await due_texts(sessionmaker, NOW + timedelta(seconds=30)) == ["a1"]


async def test_failed_rows_release_their_chat(sessionmaker: SM) -> None:
    a1 = await enqueue(sessionmaker, 1, "a1")
    await enqueue(sessionmaker, 1, "a2")
    await mark(sessionmaker, a1, "mark_failed", error="Forbidden: bot was blocked by the user", now=NOW)
    assert await due_texts(sessionmaker) == ["a2"]
    async with sessionmaker() as session:
        row = await session.get(OutboxMessage, a1)
        assert row is not None and row.status == "failed" and "blocked" in (row.last_error or "")


async def test_retry_without_counting_and_error_clipping(sessionmaker: SM) -> None:
    row_id = await enqueue(sessionmaker, 1, "a1")
    await mark(sessionmaker, row_id, "mark_retry", error="x" * 5000, delay=3, now=NOW, count_attempt=False)
    async with sessionmaker() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None and row.attempts == 0 and len(row.last_error or "") <= 1000
        assert as_utc(row.next_attempt_at) == NOW + timedelta(seconds=3)


async def test_defer_and_move_chat(sessionmaker: SM) -> None:
    await enqueue(sessionmaker, -5, "g1")
    await enqueue(sessionmaker, -5, "g2")
    await enqueue(sessionmaker, 7, "p1")
    until = NOW + timedelta(seconds=20)
    async with sessionmaker() as session, session.begin():
        assert await OutboxRepo(session).defer_chat(-5, until) == 2
    assert await due_texts(sessionmaker) == ["p1"]
    assert await due_texts(sessionmaker, until) == ["g1", "p1"]
    async with sessionmaker() as session, session.begin():
        assert await OutboxRepo(session).move_chat(-5, -1005) == 2
    async with sessionmaker() as session:
        head = await OutboxRepo(session).head_for_chat(-1005)
        assert head is not None and head.payload["text"] == "g1"


async def test_card_edits_coalesce(sessionmaker: SM, make_card: MakeCard) -> None:
    card = await make_card(-100)
    other = await make_card(-100)
    async with UnitOfWork(sessionmaker) as uow:
        send = await uow.outbox.enqueue_card(card, OutMessage("card v1"), now=NOW)
        await uow.outbox.enqueue_card_edit(card, OutMessage("v2"), now=NOW)
        await uow.outbox.enqueue_card_edit(other, OutMessage("other v2"), now=NOW)
        await uow.commit()
    assert send.card_id == card.id and send.complaint_id == card.complaint_id and send.chat_id == "-100"
    async with UnitOfWork(sessionmaker) as uow:
        await uow.outbox.enqueue_card_edit(card, OutMessage("v3"), now=NOW)
        await uow.outbox.enqueue_card_edit(card, OutMessage("v4"), now=NOW)
        await uow.commit()
    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        states = [(r.kind, r.payload["text"], r.status) for r in rows]
        assert states == [
            ("send", "card v1", "pending"),
            ("edit_card", "v2", "superseded"),
            ("edit_card", "other v2", "pending"),
            ("edit_card", "v3", "superseded"),
            ("edit_card", "v4", "pending"),
        ]
        repo = OutboxRepo(session)
        pending = await repo.pending_card_send(card.id)
        assert pending is not None and pending.payload["text"] == "card v1"
        stats = await repo.stats()
        assert (stats.pending, stats.superseded, stats.sent, stats.failed) == (3, 2, 0, 0)
        assert stats.oldest_pending_at == NOW


async def test_due_stays_fast_with_a_big_history(sessionmaker: SM) -> None:
    """50k delivered rows plus 2k pending over 500 chats: one poll stays well under the poll interval."""
    sent = [
        {"channel": "telegram", "chat_id": str(i % 3000), "kind": "send", "payload": {"text": "old"},
         "status": "sent", "attempts": 1, "next_attempt_at": NOW, "created_at": NOW}
        for i in range(50_000)
    ]
    pending = [
        {"channel": "telegram", "chat_id": str(i % 500), "kind": "send", "payload": {"text": f"p{i}"},
         "status": "pending", "attempts": 0, "next_attempt_at": NOW, "created_at": NOW}
        for i in range(2_000)
    ]
    async with sessionmaker() as session, session.begin():
        for chunk in range(0, len(sent), 5000):
            await session.execute(insert(OutboxMessage), sent[chunk : chunk + 5000])
        await session.execute(insert(OutboxMessage), pending)
    async with sessionmaker() as session:
        repo = OutboxRepo(session)
        start = time.perf_counter()
        rows = await repo.due(NOW, limit=200)
        await repo.next_due_at()
        elapsed = time.perf_counter() - start
    assert len(rows) == 200
    assert [r.payload["text"] for r in rows[:3]] == ["p0", "p1", "p2"]  # each chat's oldest
    assert len({r.chat_id for r in rows}) == 200
    assert elapsed < 0.5, elapsed
