"""Constants and helpers shared by the storage tests (importable: pytest puts this directory on
sys.path because tests/ has no __init__.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import MediaFile
from storage.uow import UnitOfWork

#: a fixed instant for tests that need a deterministic "now"
NOW = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


async def add_media(sessionmaker: async_sessionmaker[AsyncSession], sha: str) -> MediaFile:
    """Create and commit a media row (complaint photos reference media_files)."""
    async with UnitOfWork(sessionmaker) as uow:
        media = await uow.media.upsert(sha, f"{sha[:2]}/{sha[2:4]}/{sha}.jpg", "image/jpeg", 123)
        await uow.commit()
    return media
