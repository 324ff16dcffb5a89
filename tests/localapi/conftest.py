"""Fixtures: a fresh local Telegram server per test and a real aiogram Bot pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from localapi.telegram import TelegramServer


@pytest.fixture
async def tg() -> AsyncIterator[TelegramServer]:
    async with TelegramServer(rate_limits=False) as server:
        yield server


@pytest.fixture
async def bot(tg: TelegramServer) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url))
    bot = Bot(tg.token, session=session)
    try:
        yield bot
    finally:
        await bot.session.close()
