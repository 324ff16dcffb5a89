"""Leases contract (several processes on one database), on SQLite and PostgreSQL: a row is claimed by one
process only, a dead process's claim expires, a named lease has one holder; the inbox orders a sender's
rows by ``seq`` (Telegram's update_id) whatever order they were stored in; one SQLite file, one process."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from storage_testkit import NOW

from handlers.messages import OutMessage
from storage import leases
from storage.db import DatabaseInUse, SingleProcessLock
from storage.models import InboundMessage, OutboxMessage
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]


async def queue_one(sessionmaker: SM) -> int:
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.outbox.enqueue("telegram", 42, OutMessage("halo"), now=NOW)
        await uow.commit()
    return row.id


async def claim(sessionmaker: SM, row_id: int, owner: str, *, at: timedelta = timedelta(0), ttl: float = 30) -> bool:
    async with sessionmaker() as session, session.begin():
        return await leases.claim_row(session, OutboxMessage, row_id, owner, now=NOW + at, ttl=ttl)


async def test_a_row_is_claimed_by_one_process_until_its_lease_expires(sessionmaker: SM) -> None:
    row_id = await queue_one(sessionmaker)
    assert await claim(sessionmaker, row_id, "A") is True
    assert await claim(sessionmaker, row_id, "B") is False, "B must not send what A is sending"
    assert await claim(sessionmaker, row_id, "A") is True, "the holder may renew"
    async with sessionmaker() as session, session.begin():
        assert await leases.renew_rows(session, OutboxMessage, [row_id], "A", now=NOW + timedelta(seconds=20),
                                       ttl=30) == 1
    assert await claim(sessionmaker, row_id, "B", at=timedelta(seconds=40)) is False, "renewed until 50 s"
    assert await claim(sessionmaker, row_id, "B", at=timedelta(seconds=51)) is True, "A died: B takes over"
    async with sessionmaker() as session, session.begin():
        assert await leases.renew_rows(session, OutboxMessage, [row_id], "A", now=NOW + timedelta(seconds=52),
                                       ttl=30) == 0, "A learns it lost the row"


async def test_concurrent_claims_have_exactly_one_winner(sessionmaker: SM) -> None:
    row_id = await queue_one(sessionmaker)
    results = await asyncio.gather(*(claim(sessionmaker, row_id, f"P{i}") for i in range(6)))
    assert sorted(results) == [False] * 5 + [True]


async def test_an_outcome_clears_the_lease_and_a_finished_row_cannot_be_claimed(sessionmaker: SM) -> None:
    row_id = await queue_one(sessionmaker)
    assert await claim(sessionmaker, row_id, "A")
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.session.get(OutboxMessage, row_id)
        assert row is not None and row.lease_owner == "A"
        uow.outbox.mark_retry(row, error="timeout", delay=5, now=NOW)
        await uow.commit()
    assert await claim(sessionmaker, row_id, "B") is False, "not due before its retry time"
    assert await claim(sessionmaker, row_id, "B", at=timedelta(seconds=5)) is True, "no stale lease left behind"
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.session.get(OutboxMessage, row_id)
        assert row is not None
        uow.outbox.mark_sent(row, ["7"], now=NOW)
        assert row.lease_owner is None
        await uow.commit()
    assert await claim(sessionmaker, row_id, "C", at=timedelta(minutes=5)) is False, "sent rows are never claimed"


async def test_a_named_lease_has_one_holder_at_a_time(sessionmaker: SM) -> None:
    async def take(owner: str, at: float) -> bool:
        async with sessionmaker() as session, session.begin():
            return await leases.acquire(session, "telegram-poller", owner, now=NOW + timedelta(seconds=at), ttl=30)

    assert await take("A", 0) is True
    assert await take("B", 1) is False
    assert await take("A", 20) is True, "renewed"
    assert await take("B", 45) is False
    assert await take("B", 51) is True, "A stopped renewing: B polls now"
    async with sessionmaker() as session, session.begin():
        await leases.release(session, "telegram-poller", "B")
    assert await take("A", 52) is True, "a clean stop hands over at once"


async def test_release_all_frees_a_killed_predecessors_rows(sessionmaker: SM) -> None:
    row_id = await queue_one(sessionmaker)
    assert await claim(sessionmaker, row_id, "dead")
    async with sessionmaker() as session, session.begin():
        assert await leases.release_all(session, OutboxMessage) == 1
    assert await claim(sessionmaker, row_id, "fresh") is True


async def test_the_inbox_orders_a_chat_by_update_id_not_by_arrival(sessionmaker: SM) -> None:
    """Webhooks of one chat reach two processes; update 11 commits before update 10."""
    async with UnitOfWork(sessionmaker) as uow:
        for update_id in (11, 10, 12):
            assert await uow.inbox.add(f"tg:{update_id}", "telegram", "tg:-5", {"update_id": update_id}, now=NOW,
                                       seq=update_id)
        await uow.inbox.add("tg:13", "telegram", "tg:77", {"update_id": 13}, now=NOW, seq=13)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        heads = await uow.inbox.due_heads(NOW, channel="telegram")
        keys = {sender: (await uow.session.get(InboundMessage, row_id)).key for row_id, sender in heads}  # type: ignore[union-attr]
        assert keys == {"tg:-5": "tg:10", "tg:77": "tg:13"}
        assert await uow.inbox.due_heads(NOW, channel="whatsapp") == []
        assert await uow.inbox.pending_count(channel="telegram") == 4


def test_one_sqlite_file_serves_one_process(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'sikesal.db'}"
    first = SingleProcessLock.for_url(url)
    second = SingleProcessLock.for_url(url)
    assert first is not None and second is not None
    first.acquire()
    with pytest.raises(DatabaseInUse, match="another SiKesal process"):
        second.acquire()
    first.release()
    second.acquire()  # the first stopped: the next may start
    second.release()
    assert SingleProcessLock.for_url("sqlite+aiosqlite:///:memory:") is None


async def test_a_restarted_process_takes_its_own_leases_back_at_once(sessionmaker: SM) -> None:
    """systemd restarts a killed process on the same port: it is the same lease owner, so it does not wait
    30 s for its predecessor's leases; a process on another port (or port 0) is someone else."""
    assert leases.process_owner(8081) == leases.process_owner(8081)
    assert leases.process_owner(8081) != leases.process_owner(8082)
    assert leases.process_owner(0) != leases.process_owner(0)
    row_id = await queue_one(sessionmaker)
    assert await claim(sessionmaker, row_id, leases.process_owner(8081))  # then killed with SIGKILL
    assert await claim(sessionmaker, row_id, leases.process_owner(8082), at=timedelta(seconds=1)) is False
    assert await claim(sessionmaker, row_id, leases.process_owner(8081), at=timedelta(seconds=1)) is True
