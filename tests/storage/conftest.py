"""Storage-only fixtures (the shared database fixtures live in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from storage_testkit import NOW

from storage.media import MediaStore
from storage.models import Citizen, Complaint
from storage.uow import UnitOfWork


@pytest.fixture
def media_store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


MakeCitizen = Callable[..., Awaitable[Citizen]]


@pytest.fixture
def make_citizen(sessionmaker: async_sessionmaker[AsyncSession]) -> MakeCitizen:
    """Create and commit a citizen; returns it (detached-safe, expire_on_commit=False)."""
    counter = iter(range(1, 10_000))

    async def make(channel: str = "telegram", user_id: str | None = None, **kw: object) -> Citizen:
        async with UnitOfWork(sessionmaker) as uow:
            citizen = await uow.citizens.get_or_create(channel, user_id or f"u{next(counter)}", **kw)  # type: ignore[arg-type]
            await uow.commit()
        return citizen

    return make


MakeComplaint = Callable[..., Awaitable[Complaint]]


@pytest.fixture
def make_complaint(sessionmaker: async_sessionmaker[AsyncSession], make_citizen: MakeCitizen) -> MakeComplaint:
    """Create and commit a complaint (with a fresh citizen unless ``citizen_id`` is given)."""

    async def make(
        *, citizen_id: int | None = None, agency: str = "dlh", category: str = "sampah", now: datetime = NOW
    ) -> Complaint:
        if citizen_id is None:
            citizen_id = (await make_citizen()).id
        async with UnitOfWork(sessionmaker) as uow:
            number = await uow.complaints.next_number("JMB", now.year)
            complaint = await uow.complaints.create(
                number=number,
                citizen_id=citizen_id,
                category=category,
                description="Sampah menumpuk di depan pasar",
                agency=agency,
                now=now,
            )
            await uow.commit()
        return complaint

    return make
