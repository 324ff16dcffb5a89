"""Update-level middlewares: one update at a time per chat (double taps are serialized, the
second then sees the state the first left), and the update's idempotency key for the services."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, Update


class KeyedLocks:
    """asyncio locks by key that disappear when nobody holds or waits for them."""

    def __init__(self) -> None:
        self._locks: dict[object, tuple[asyncio.Lock, int]] = {}

    async def acquire(self, key: object) -> None:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        await lock.acquire()

    def release(self, key: object) -> None:
        lock, users = self._locks[key]
        lock.release()
        if users <= 1:
            del self._locks[key]
        else:
            self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class PerChatSerial(BaseMiddleware):
    """Process updates of one chat in order, different chats concurrently."""

    def __init__(self) -> None:
        self.locks = KeyedLocks()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        chat: Chat | None = data.get("event_chat")
        if isinstance(event, Update):
            data["update_key"] = f"tg:{event.update_id}"
        if chat is None:
            return await handler(event, data)
        await self.locks.acquire(chat.id)
        try:
            return await handler(event, data)
        finally:
            self.locks.release(chat.id)
