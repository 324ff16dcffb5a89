"""Fixtures for the delivery tests: a local Telegram server, a real aiogram Bot pointed at it, and
helpers to create the rows the outbox refers to (citizens, complaints, cards, stored photos).

The database fixtures (``sessionmaker`` on SQLite and PostgreSQL) come from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.ratelimit import RateLimits
from bot.delivery.telegram import TelegramSender
from localapi.telegram.media import make_jpeg
from localapi.telegram.ratelimit import RateLimits as ServerLimits
from localapi.telegram.server import TelegramServer
from storage.media import MediaStore
from storage.models import Card, Complaint
from storage.uow import UnitOfWork

TOKEN = "123456:DELIVERY-TEST"

#: server limits loose enough that only the tests about limits meet them
LOOSE_SERVER = ServerLimits(global_per_second=1000, global_burst=1000, private_per_second=1000,
                            private_burst=1000, group_per_minute=10_000)
LOOSE_CLIENT = RateLimits(global_per_second=1000, global_burst=1000, private_per_second=1000,
                          private_burst=1000, group_per_minute=10_000)


@pytest.fixture
def media_store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


@pytest_asyncio.fixture
async def server() -> AsyncIterator[TelegramServer]:
    srv = TelegramServer(TOKEN, rate_limits=LOOSE_SERVER)
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


@pytest_asyncio.fixture
async def bot(server: TelegramServer) -> AsyncIterator[Bot]:
    instance = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)))
    try:
        yield instance
    finally:
        await instance.session.close()


MakeSender = Callable[..., TelegramSender]


@pytest.fixture
def make_sender(
    bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], media_store: MediaStore
) -> MakeSender:
    """A sender with test-speed timings (overridable)."""

    def make(**kw: Any) -> TelegramSender:
        options: dict[str, Any] = {
            "limits": LOOSE_CLIENT,
            "poll_interval": 0.05,
            "backoff_base": 0.05,
            "backoff_cap": 0.5,
            "defer_delay": 0.05,
            "shutdown_timeout": 2.0,
        }
        options.update(kw)
        return TelegramSender(bot, sessionmaker, media_store, **options)

    return make


MakeComplaint = Callable[..., Awaitable[Complaint]]


@pytest.fixture
def make_complaint(sessionmaker: async_sessionmaker[AsyncSession]) -> MakeComplaint:
    """Create and commit a complaint by a (new or given) Telegram citizen."""
    counter = iter(range(1, 100_000))

    async def make(citizen_user_id: str | int | None = None, agency: str = "dlh", photos: tuple[str, ...] = ()) -> Complaint:
        n = next(counter)
        async with UnitOfWork(sessionmaker) as uow:
            citizen = await uow.citizens.get_or_create("telegram", str(citizen_user_id or f"9{n:06d}"))
            complaint = await uow.complaints.create(
                number=f"JMB-2026-{n:06d}", citizen_id=citizen.id, category="sampah",
                description="Sampah menumpuk", agency=agency, photos=[(sha, None) for sha in photos],
            )
            await uow.commit()
        return complaint

    return make


MakeCard = Callable[..., Awaitable[Card]]


@pytest.fixture
def make_card(sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint) -> MakeCard:
    """Create and commit a (not yet delivered) card of a new complaint in ``chat_id``."""

    async def make(chat_id: int, agency: str = "dlh") -> Card:
        complaint = await make_complaint(agency=agency)
        async with UnitOfWork(sessionmaker) as uow:
            card = await uow.cards.create(complaint.id, agency, chat_id)
            await uow.commit()
        return card

    return make


StorePhoto = Callable[..., Awaitable[str]]


@pytest.fixture
def store_photo(sessionmaker: async_sessionmaker[AsyncSession], media_store: MediaStore) -> StorePhoto:
    """Store a JPEG on disk and as a MediaFile row; returns its sha256."""

    async def store(gray: int = 100) -> str:
        stored = await media_store.put(make_jpeg(64, 48, gray=gray))
        sha = stored.sha256
        async with UnitOfWork(sessionmaker) as uow:
            await uow.media.upsert(sha, stored.path, stored.mime_type, stored.size)
            await uow.commit()
        return sha

    return store
