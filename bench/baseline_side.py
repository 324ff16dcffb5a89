"""The ceiling: a no-op aiogram bot (Dispatcher + long polling) that answers every update with one
message, driven by the same number of users sending the same kinds and number of updates."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bench.common import (
    DESCRIPTION,
    JAMBI,
    TOKEN,
    Citizen,
    Clock,
    SideResult,
    api_calls_note,
    cpu_seconds,
    gather_users,
    peak_rss_mb,
)
from bench.noop_bot import build_dispatcher
from localapi.telegram import TelegramServer, make_jpeg


async def file_one(citizen: Citizen, photo: bytes) -> None:
    """The same eight updates as a SiKesal filing: text, tap, tap, text, photo, tap, location, tap."""
    await citizen.say("/start")
    await citizen.tap("next")  # menu:new
    await citizen.tap("next")  # cat:<key>
    await citizen.say(DESCRIPTION)
    await citizen.photo(photo)
    await citizen.tap("next")  # photo:done
    await citizen.location(*JAMBI)
    await citizen.tap("next")  # sum:send


async def run(users: int, *, polling_timeout: int = 10) -> SideResult:
    result = SideResult(side="baseline", backend="-", users=users)
    photo = make_jpeg()
    async with TelegramServer(TOKEN, rate_limits=False) as server:
        clock = Clock(server)
        bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url), timeout=30.0))
        dp = build_dispatcher()
        await bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(
            dp.start_polling(
                bot,
                handle_signals=False,
                close_bot_session=False,
                polling_timeout=polling_timeout,
                allowed_updates=dp.resolve_used_update_types(),
            )
        )
        try:
            citizens = [Citizen(server, clock, server.create_user(f"Warga {i}"), result.latencies) for i in range(users)]
            calls_before = Counter(server.calls)
            cpu0 = cpu_seconds()
            started = time.perf_counter()
            await gather_users([file_one(c, photo) for c in citizens], result)
            result.seconds = time.perf_counter() - started
            result.cpu_seconds = cpu_seconds() - cpu0
            result.filings = users - len(result.errors)
            result.updates = sum(c.updates for c in citizens)
            result.notes.append(api_calls_note(server, calls_before, result.updates))
        finally:
            with contextlib.suppress(RuntimeError):
                await dp.stop_polling()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(polling, timeout=15)
            await bot.session.close()
        result.spec_violations = len(server.spec_violations)
    result.peak_rss_mb = peak_rss_mb()
    return result


def main(users: int) -> SideResult:
    return asyncio.run(run(users))
