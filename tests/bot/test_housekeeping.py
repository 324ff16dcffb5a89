"""Housekeeping keeps the idempotency table from growing forever, without forgetting recent updates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_config
from bot.services.drafts import PROCESSED_KEYS_KEPT, prune_processed_updates
from bot.services.runtime import Runtime
from storage.media import MediaStore
from storage.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


async def test_old_update_keys_are_pruned_recent_ones_kept(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = Runtime(config=load_config(ROOT / "config.yaml"), sessionmaker=sessionmaker, media=MediaStore(tmp_path))
    rt.clock = lambda: NOW
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.idempotency.claim("tg:1", now=NOW - PROCESSED_KEYS_KEPT - timedelta(hours=1))
        assert await uow.idempotency.claim("tg:2", now=NOW - timedelta(hours=1))
        await uow.commit()
    assert await prune_processed_updates(rt) == 1
    async with UnitOfWork(sessionmaker) as uow:
        assert not await uow.idempotency.claim("tg:2"), "a recent update is still recognised"
        assert await uow.idempotency.claim("tg:1"), "an old key was forgotten"


async def test_handled_inbox_messages_are_pruned_pending_ones_never(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = Runtime(config=load_config(ROOT / "config.yaml"), sessionmaker=sessionmaker, media=MediaStore(tmp_path))
    rt.clock = lambda: NOW
    old = NOW - PROCESSED_KEYS_KEPT - timedelta(hours=1)
    async with UnitOfWork(sessionmaker) as uow:
        for key in ("wa:SMdone", "wa:SMpending"):
            assert await uow.inbox.add(key, "whatsapp", "+6281", {"Body": "halo"}, now=old)
        done = await uow.inbox.head_for_sender("+6281")
        assert done is not None
        uow.inbox.mark_done(done, now=old)
        await uow.commit()
    assert await prune_processed_updates(rt) == 1
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.inbox.pending_count() == 1, "a message not yet handled is never thrown away"
