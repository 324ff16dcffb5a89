"""Rate-limited Telegram calls: every API call of the sender goes through here.

:class:`TelegramCalls` waits for the limiter before each call (the Redis one shared by all processes
when there is one, the in-process one while Redis is unreachable), pauses a chat (or the whole bot) after
a 429 and shares that pause, retries a reply whose target message is gone as a plain message, and keeps
the bot token out of anything logged or stored. It holds no delivery logic of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import ReplyParameters

from bot.delivery import render
from bot.delivery.loop import OutboxLoop
from bot.delivery.ratelimit import RateLimiter
from bot.delivery.shared_limits import RedisError, SharedRateLimiter
from bot.delivery.telegram_outcomes import REPLY_NOT_FOUND, api_description

log = logging.getLogger("sikesal.delivery")

T = TypeVar("T")

#: two chats hit by 429 within this many seconds -> the flood is bot-wide, pause everything
GLOBAL_FLOOD_WINDOW = 1.0


class TelegramCalls(OutboxLoop):
    """The throttling half of :class:`bot.delivery.telegram.TelegramSender` (which sets these attributes)."""

    bot: Bot
    limiter: RateLimiter
    #: the limits in Redis, shared by every process of the bot (None: this process counts alone)
    shared_limiter: SharedRateLimiter | None
    _shared_down_since: float | None
    _floods: dict[str, float]

    async def _throttled(
        self, chat_id: str, call: Callable[[], Awaitable[T]], *, cost: int = 1, edit: bool = False
    ) -> T:
        """Wait for the limiter (without holding a concurrency slot), then make the call.

        The limiter records the send while holding the slot, right before the request leaves, so the time
        it counts is as close as possible to what Telegram sees.
        """
        while True:
            async with self._sem:
                stamped = time.monotonic()
                wait, local = await self._acquire(chat_id, stamped, cost=cost, edit=edit)
                if wait <= 0:
                    try:
                        return await call()
                    finally:
                        if local:  # counted from its answer on (see RateLimiter.settle)
                            self.limiter.settle(chat_id, stamped, time.monotonic(), cost=cost, edit=edit)
            await self._sleep(wait)

    async def _acquire(self, chat_id: str, now: float, *, cost: int, edit: bool) -> tuple[float, bool]:
        """Ask the shared limiter (Redis) when there is one; while it cannot be reached, count locally at
        ``now``. Returns the wait and whether the local limiter counted."""
        if self.shared_limiter is not None:
            try:
                wait = await self.shared_limiter.acquire(chat_id, cost=cost, edit=edit)
            except (RedisError, OSError) as exc:
                if self._shared_down_since is None:
                    self._shared_down_since = time.monotonic()
                    log.error("the shared rate limiter (Redis) is unreachable (%s); counting limits in this "
                              "process only until it is back", type(exc).__name__)
            else:
                if self._shared_down_since is not None:
                    log.warning("the shared rate limiter (Redis) is back")
                    self._shared_down_since = None
                return wait, False
        return self.limiter.acquire(chat_id, now, cost=cost, edit=edit), True

    async def _share_pause(self, chat_id: str, seconds: float) -> None:
        """Tell every process about a 429 (the chat's, and the whole bot's when several chats were hit)."""
        if self.shared_limiter is None:
            return
        try:
            await self.shared_limiter.pause(chat_id, seconds)
            if self.limiter.paused_until(None) > time.monotonic():
                await self.shared_limiter.pause(None, seconds)
        except (RedisError, OSError):
            log.warning("could not share a flood pause through Redis")

    async def _with_reply(
        self, chat_id: str, reply_to: int | None, make: Callable[[ReplyParameters | None], Awaitable[T]],
        *, cost: int = 1,
    ) -> T:
        """Send replying to ``reply_to``; if Telegram says that message is gone, send without the reply."""
        params = render.reply_parameters(reply_to)
        try:
            return await self._throttled(chat_id, lambda: make(params), cost=cost)
        except TelegramBadRequest as exc:
            if params is None or REPLY_NOT_FOUND not in api_description(exc).lower():
                raise
            log.info("reply target %s in chat %s is gone; sending without reply", reply_to, chat_id)
        return await self._throttled(chat_id, lambda: make(None), cost=cost)

    def _pause(self, chat_id: str, seconds: float) -> None:
        """Pause the chat; if another chat was hit within a second, Telegram is limiting the whole bot."""
        now = time.monotonic()
        until = now + seconds
        self.limiter.pause(chat_id, until)
        recent = [c for c, at in self._floods.items() if c != chat_id and now - at <= GLOBAL_FLOOD_WINDOW]
        self._floods = {c: at for c, at in self._floods.items() if now - at <= GLOBAL_FLOOD_WINDOW}
        self._floods[chat_id] = now
        if recent:
            log.warning("flood control in several chats at once: pausing all sends for %.0fs", seconds)
            self.limiter.pause(None, until)

    def _scrub(self, text: str) -> str:
        """Never let the bot token reach a log line or the database (aiohttp errors can carry the URL)."""
        token = getattr(self.bot, "token", None)
        return text.replace(token, "<token>") if token else text
