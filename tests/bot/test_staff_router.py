"""The staff router's wiring: Telegram is asked for member updates because handlers for them exist."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_config
from bot.services.runtime import Runtime
from bot.telegram.dispatcher import build_dispatcher
from storage.media import MediaStore

ROOT = Path(__file__).resolve().parents[2]


def test_the_dispatcher_asks_telegram_for_member_updates(tmp_path: Path) -> None:
    """aiogram derives ``allowed_updates`` from the registered handlers; Telegram sends ``chat_member``
    only when asked for it explicitly (and only to an administrator bot)."""
    rt = Runtime(
        config=load_config(ROOT / "config.yaml"),
        sessionmaker=async_sessionmaker[AsyncSession](),
        media=MediaStore(tmp_path),
    )
    used = set(build_dispatcher(rt).resolve_used_update_types())
    assert {"chat_member", "my_chat_member", "message", "callback_query"} <= used
