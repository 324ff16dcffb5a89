"""Composition root: database, runtime, Telegram bot, delivery loop, draft sweeper.

``SikesalApp`` is what ``sikesal run`` starts and what the end-to-end tests and the benchmark
start in-process against the local Bot API server, so tests run the real wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from aiogram import Bot
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import AppConfig
from bot.delivery.ratelimit import RateLimits
from bot.delivery.telegram import TelegramSender
from bot.services.drafts import run_draft_sweeper
from bot.services.runtime import Runtime
from bot.telegram.client import create_bot
from bot.telegram.dispatcher import build_dispatcher, register_commands
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.media import MediaStore

log = logging.getLogger("sikesal.app")


class SikesalApp:
    """Everything one bot process runs, started and stopped together."""

    def __init__(
        self,
        config: AppConfig,
        *,
        database_url: str,
        media_dir: Path,
        token: str,
        api_base: str | None = None,
        clock: Callable[[], datetime] | None = None,
        sweep_interval: float = 60.0,
        polling_timeout: int = 10,
        rate_limits: RateLimits | None = None,
    ) -> None:
        self.config = config
        self.database_url = database_url
        self.media_dir = media_dir
        self.token = token
        self.api_base = api_base
        self.clock = clock
        self.sweep_interval = sweep_interval
        self.polling_timeout = polling_timeout
        self.rate_limits = rate_limits or RateLimits(
            global_per_second=config.delivery.global_per_second,
            private_per_second=config.delivery.private_per_second,
            group_per_minute=config.delivery.group_per_minute,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.bot: Bot | None = None
        self.runtime: Runtime | None = None
        self.sender: TelegramSender | None = None
        self.engine: AsyncEngine | None = None

    async def start(self) -> None:
        self.engine = engine = make_engine(self.database_url)
        await upgrade_database(engine)
        sessionmaker = make_sessionmaker(engine)
        media = MediaStore(self.media_dir)
        runtime = Runtime(config=self.config, sessionmaker=sessionmaker, media=media)
        if self.clock is not None:
            runtime.clock = self.clock
        self.runtime = runtime
        bot = create_bot(self.token, self.api_base)
        self.bot = bot
        me = await bot.get_me()
        log.info("connected as @%s", me.username)
        await bot.delete_webhook(drop_pending_updates=False)
        await register_commands(bot, runtime)
        self.sender = TelegramSender(bot, sessionmaker, media, limits=self.rate_limits, clock=runtime.clock)
        runtime.on_enqueued = self.sender.wake
        self.dispatcher = build_dispatcher(runtime)
        self._tasks = [
            asyncio.create_task(self._poll(bot), name="telegram-polling"),
            asyncio.create_task(self.sender.run(self._stop), name="outbox-sender"),
            asyncio.create_task(run_draft_sweeper(runtime, self._stop, interval=self.sweep_interval), name="drafts"),
        ]

    async def _poll(self, bot: Bot) -> None:
        await self.dispatcher.start_polling(
            bot,
            handle_signals=False,
            close_bot_session=False,
            polling_timeout=self.polling_timeout,
            allowed_updates=self.dispatcher.resolve_used_update_types(),
        )

    async def stop(self) -> None:
        """Stop everything that was started (safe after a failed ``start``)."""
        self._stop.set()
        if self._tasks:
            with contextlib.suppress(RuntimeError):  # polling not started yet
                await self.dispatcher.stop_polling()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=15)
        if self.bot is not None:
            await self.bot.session.close()
        if self.engine is not None:
            await self.engine.dispose()

    async def wait(self) -> None:
        """Run until a task ends (a crash surfaces here) or ``stop()`` is called."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def __aenter__(self) -> SikesalApp:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
