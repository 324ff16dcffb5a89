"""An inbox row survives an outage of any length, while a message that can never be processed is given
up after a few attempts (so its sender's later messages are not blocked for ever)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.loop import InboxLoop
from storage.models import InboundMessage
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


class Inbox(InboxLoop):
    name = "test-inbox"
    channel = "telegram"

    async def _process(self, row_id: int) -> bool:  # pragma: no cover - the test drives _failed itself
        return True


async def stored(sessionmaker: SM, update_id: int) -> int:
    async with UnitOfWork(sessionmaker) as uow:
        await uow.inbox.add(f"tg:{update_id}", "telegram", "tg:5", {"update_id": update_id}, now=NOW, seq=update_id)
        await uow.commit()
        row = await uow.inbox.head_for_sender("tg:5")
        assert row is not None
        return row.id


async def status(sessionmaker: SM, row_id: int) -> str:
    async with sessionmaker() as session:
        row = await session.get(InboundMessage, row_id)
        assert row is not None
        return row.status


async def test_an_outage_never_gives_an_update_up(sessionmaker: SM) -> None:
    inbox = Inbox(sessionmaker, max_attempts=3, clock=lambda: NOW)
    row_id = await stored(sessionmaker, 1)
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("the database restarts"))
    for attempt in range(20):
        assert await inbox._failed(row_id, outage, attempt) is False
    assert await status(sessionmaker, row_id) == "pending", "processed once the database is back"


async def test_a_message_that_always_fails_is_given_up_after_max_attempts(sessionmaker: SM) -> None:
    inbox = Inbox(sessionmaker, max_attempts=3, clock=lambda: NOW)
    row_id = await stored(sessionmaker, 2)
    bug = ValueError("a bug in a handler")
    assert [await inbox._failed(row_id, bug, attempt) for attempt in range(3)] == [False, False, True]
    assert await status(sessionmaker, row_id) == "failed"
