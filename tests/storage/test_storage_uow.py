"""UnitOfWork: commit, implicit rollback, exception rollback."""

from __future__ import annotations

import importlib.util

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Citizen
from storage.repositories import count_rows
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]


async def _citizens(sessionmaker: SM) -> int:
    async with sessionmaker() as session:
        return await count_rows(session, Citizen)


async def test_commit_persists(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        for name in ("citizens", "conversations", "complaints", "audit", "agencies", "cards", "links", "media", "idempotency"):
            assert getattr(uow, name).session is uow.session
        await uow.citizens.get_or_create("telegram", "1")
        await uow.commit()
    assert await _citizens(sessionmaker) == 1


async def test_leaving_without_commit_rolls_back(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await uow.citizens.get_or_create("telegram", "1")
        await uow.flush()
    assert await _citizens(sessionmaker) == 0


async def test_exception_rolls_back_and_propagates(sessionmaker: SM) -> None:
    with pytest.raises(LookupError):
        async with UnitOfWork(sessionmaker) as uow:
            await uow.citizens.get_or_create("telegram", "1")
            raise LookupError("handler failed")
    assert await _citizens(sessionmaker) == 0


async def test_work_after_commit_needs_another_commit(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await uow.citizens.get_or_create("telegram", "1")
        await uow.commit()
        await uow.citizens.get_or_create("telegram", "2")
    assert await _citizens(sessionmaker) == 1


async def test_single_use(sessionmaker: SM) -> None:
    uow = UnitOfWork(sessionmaker)
    async with uow:
        pass
    with pytest.raises(RuntimeError):
        async with uow:
            pass


@pytest.mark.skipif(importlib.util.find_spec("storage.outbox") is None, reason="storage/outbox.py not written yet")
async def test_outbox_repo_bound_to_session(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        outbox = uow.outbox
        assert outbox is uow.outbox
        assert getattr(outbox, "session", uow.session) is uow.session
