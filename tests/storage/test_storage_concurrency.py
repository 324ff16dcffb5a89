"""Concurrent transactions (separate sessions and connections) on both backends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from storage_testkit import NOW

from storage.models import Citizen, ConversationRow, ProcessedUpdate
from storage.repositories import count_rows
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]
N = 20


async def test_tracking_numbers_concurrent_no_gaps_no_duplicates(sessionmaker: SM) -> None:
    """20 filings at once: every committed number is unique and they are 1..20."""
    start = asyncio.Event()

    async def file_one() -> str:
        await start.wait()
        async with UnitOfWork(sessionmaker) as uow:
            number = await uow.complaints.next_number("JMB", 2026)
            await asyncio.sleep(0.005)  # hold the counter while other transactions queue up
            await uow.commit()
            return number

    tasks = [asyncio.create_task(file_one()) for _ in range(N)]
    start.set()
    numbers = await asyncio.gather(*tasks)
    assert sorted(numbers) == [f"JMB-2026-{n:06d}" for n in range(1, N + 1)]


async def test_tracking_numbers_concurrent_with_rollbacks(sessionmaker: SM) -> None:
    """Filings that fail roll their number back, so the committed numbers still have no gaps
    (the counter row is created by the first of these racing transactions, too)."""
    start = asyncio.Event()

    async def file_one(i: int) -> str | None:
        await start.wait()
        async with UnitOfWork(sessionmaker) as uow:
            number = await uow.complaints.next_number("JMB", 2030)
            await asyncio.sleep(0.002)
            if i % 3 == 0:
                return None  # no commit: rolled back
            await uow.commit()
            return number

    tasks = [asyncio.create_task(file_one(i)) for i in range(N)]
    start.set()
    committed = [n for n in await asyncio.gather(*tasks) if n is not None]
    assert sorted(committed) == [f"JMB-2030-{n:06d}" for n in range(1, len(committed) + 1)]
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.complaints.next_number("JMB", 2030) == f"JMB-2030-{len(committed) + 1:06d}"


async def test_idempotency_claim_concurrent(sessionmaker: SM) -> None:
    """The same update delivered 20 times at once is processed exactly once."""
    start = asyncio.Event()

    async def deliver() -> bool:
        await start.wait()
        async with UnitOfWork(sessionmaker) as uow:
            claimed = await uow.idempotency.claim("tg:424242")
            await asyncio.sleep(0.002)
            await uow.commit()
            return claimed

    tasks = [asyncio.create_task(deliver()) for _ in range(N)]
    start.set()
    results = await asyncio.gather(*tasks)
    assert results.count(True) == 1
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, ProcessedUpdate) == 1


async def test_get_or_create_concurrent(sessionmaker: SM) -> None:
    """A citizen's first messages arriving together create one citizen and one conversation."""
    start = asyncio.Event()

    async def first_contact() -> tuple[int, int]:
        await start.wait()
        async with UnitOfWork(sessionmaker) as uow:
            citizen = await uow.citizens.get_or_create("telegram", "555", display_name="Ani")
            row = await uow.conversations.load(citizen.id)
            await uow.commit()
            return citizen.id, row.citizen_id

    tasks = [asyncio.create_task(first_contact()) for _ in range(10)]
    start.set()
    results = await asyncio.gather(*tasks)
    assert len(set(results)) == 1
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, Citizen) == 1
        assert await count_rows(uow.session, ConversationRow) == 1


async def test_link_code_consumed_once_concurrently(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        code = await uow.agencies.create_link_code("dlh", ttl=timedelta(hours=1), now=NOW)
        await uow.commit()
    start = asyncio.Event()

    async def consume() -> str | None:
        await start.wait()
        async with UnitOfWork(sessionmaker) as uow:
            agency = await uow.agencies.consume_link_code(code, now=NOW)
            await uow.commit()
            return agency

    tasks = [asyncio.create_task(consume()) for _ in range(10)]
    start.set()
    results = await asyncio.gather(*tasks)
    assert results.count("dlh") == 1 and results.count(None) == 9


async def _conversation(sessionmaker: SM) -> int:
    async with UnitOfWork(sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("telegram", "v1")
        await uow.conversations.load(citizen.id)
        await uow.commit()
    return citizen.id


async def test_conversation_optimistic_version(sessionmaker: SM) -> None:
    """Two events for one citizen read the same version; the second to write loses
    (``StaleDataError``) instead of overwriting the first one's state."""
    citizen_id = await _conversation(sessionmaker)
    async with UnitOfWork(sessionmaker) as first:
        stale_row = await first.conversations.load(citizen_id)
        assert stale_row.version == 1
        # end the read transaction but keep the object (on SQLite an open transaction would hold
        # the write lock and make the other event wait instead of interleave)
        await first.commit()

        async with UnitOfWork(sessionmaker) as second:
            row = await second.conversations.load(citizen_id)
            await second.conversations.save(row, {"category": "jalan"}, "description", now=NOW)
            await second.commit()
            assert row.version == 2

        with pytest.raises(StaleDataError):
            await first.conversations.save(stale_row, {"category": "sampah"}, "description", now=NOW)

    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen_id)
        assert row.state == {"category": "jalan"} and row.version == 2


@pytest.mark.postgres
async def test_conversation_optimistic_version_interleaved_transactions(sessionmaker: SM) -> None:
    """PostgreSQL only: both transactions are open at the same time (READ COMMITTED)."""
    if sessionmaker.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite serialises write transactions; covered by the test above")
    citizen_id = await _conversation(sessionmaker)
    async with UnitOfWork(sessionmaker) as first, UnitOfWork(sessionmaker) as second:
        row_a = await first.conversations.load(citizen_id)
        row_b = await second.conversations.load(citizen_id)
        await second.conversations.save(row_b, {"n": "b"}, "photos", now=NOW)
        await second.commit()
        with pytest.raises(StaleDataError):
            await first.conversations.save(row_a, {"n": "a"}, "photos", now=NOW)
