"""Drivers for end-to-end tests: people in chats with the bot, reading its transcript.

A :class:`Person` wraps a simulated Telegram user and one chat (the private chat with the bot, or an
agency group). Each action returns the bot's next message in that chat; ``cursor`` remembers what
the test has already read, so nothing the bot says is skipped or read twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from localapi.telegram import TelegramServer
from localapi.telegram.simulation import SimUser
from localapi.telegram.state import StoredMessage

TIMEOUT = 10.0


class Person:
    def __init__(self, server: TelegramServer, user: SimUser, chat_id: int | None = None) -> None:
        self.server = server
        self.user = user
        self.chat_id = chat_id if chat_id is not None else user.id
        self.cursor = 0

    @property
    def _chat(self) -> Any:
        return None if self.chat_id == self.user.id else self.chat_id

    # -- reading -------------------------------------------------------------------------------
    async def next(self, timeout: float = TIMEOUT) -> StoredMessage:
        """The bot's next message in this chat after the last one read."""
        cursor = self.cursor
        message = await self.server.wait_for_message(
            self.chat_id, lambda m: m.message_id > cursor, timeout=timeout, new_only=False
        )
        self.cursor = message.message_id
        return message

    async def next_matching(self, needle: str, timeout: float = TIMEOUT) -> StoredMessage:
        """Skip bot messages until one whose text/caption contains ``needle``."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.next(timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
            if needle in body(message):
                return message

    async def quiet(self, seconds: float = 0.5) -> list[StoredMessage]:
        """Messages that arrive within ``seconds`` (to assert that nothing more was said)."""
        await asyncio.sleep(seconds)
        new = [m for m in self.server.bot_messages(self.chat_id) if m.message_id > self.cursor]
        if new:
            self.cursor = new[-1].message_id
        return new

    def last_with_button(self, payload: str) -> StoredMessage:
        for message in reversed(self.server.bot_messages(self.chat_id)):
            if any(b.get("callback_data") == payload for b in message.buttons()):
                return message
        raise AssertionError(f"no message with button {payload!r} in chat {self.chat_id}")

    # -- acting --------------------------------------------------------------------------------
    async def say(self, text: str, *, reply_to: int | None = None) -> StoredMessage:
        self.user.send_text(text, chat=self._chat, reply_to=reply_to)
        return await self.next()

    async def tap(self, payload: str, message: StoredMessage | None = None) -> dict[str, Any]:
        """Press an inline button (on ``message``, or the latest message carrying it); returns the
        bot's answerCallbackQuery ({text, show_alert, ...})."""
        target = message or self.last_with_button(payload)
        query_id = self.user.press_button(target.message_id, payload, chat=self._chat)
        return await self.server.wait_callback_answer(query_id, timeout=TIMEOUT)

    async def tap_and_read(self, payload: str, message: StoredMessage | None = None) -> StoredMessage:
        await self.tap(payload, message)
        return await self.next()

    async def photo(self, data: bytes | None = None, caption: str | None = None) -> StoredMessage:
        self.user.send_photo(data, caption=caption, chat=self._chat)
        return await self.next()

    async def location(self, lat: float, lon: float) -> StoredMessage:
        self.user.send_location(lat, lon, chat=self._chat)
        return await self.next()


def body(message: StoredMessage) -> str:
    return (message.text or "") + (message.caption or "")


def payloads(message: StoredMessage) -> list[str]:
    return [b["callback_data"] for b in message.buttons() if "callback_data" in b]


async def eventually(check: Callable[[], Any], timeout: float = TIMEOUT, interval: float = 0.05) -> Any:
    """Poll ``check`` until it returns something truthy (returned) or fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)
