"""Drivers for end-to-end tests: people in chats with the bot, reading its transcript.

A :class:`Person` wraps a simulated Telegram user and one chat (the private chat with the bot, or an
agency group). Each action returns the bot's next message in that chat; ``cursor`` remembers what
the test has already read, so nothing the bot says is skipped or read twice.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from handlers.flow.versions import bare
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
        await self._buttons_settled(message, timeout)
        return message

    async def _buttons_settled(self, message: StoredMessage, timeout: float) -> None:
        """A message that took the reply keyboard away gets its inline buttons right after, by an edit
        (Telegram takes one markup per call; see bot.delivery.telegram): read it once they are on, as a
        citizen would, or once the bot has moved on to a newer message."""
        markup = message.reply_markup if isinstance(message.reply_markup, dict) else {}
        if not markup.get("remove_keyboard") or message.inline_keyboard:
            return
        mid = message.message_id
        deadline = asyncio.get_running_loop().time() + timeout
        # polled: a message already looked at is not looked at again when it is edited (wait_for_message)
        while not message.inline_keyboard and asyncio.get_running_loop().time() < deadline:
            if any(m.message_id > mid for m in self.server.bot_messages(self.chat_id)):
                return  # the bot moved on: a message without buttons after all
            await asyncio.sleep(0.02)

    @property
    def reply_keyboard(self) -> Any:
        """The reply keyboard the citizen sees now (None: it was taken away)."""
        return self.server.state.chat(self.chat_id).reply_keyboard

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
            if payload in payloads(message):
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
        data = real_payload(target, payload)
        # a used keyboard is taken off by the bot; a client may still show it (stale): press it anyway
        stale = not any(b.get("callback_data") == data for b in target.buttons())
        query_id = self.user.press_button(target.message_id, data, chat=self._chat, stale_ok=stale)
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
    """The buttons' payloads as the flow names them (without the menu version the bot stamps on)."""
    return [bare(b["callback_data"]) for b in message.buttons() if "callback_data" in b]


def real_payload(message: StoredMessage, payload: str) -> str:
    """The callback data of the button ``payload`` names on ``message`` (with its menu version), so a
    test can say "sum:send" and press exactly what a citizen would; unknown payloads pass unchanged."""
    for button in [*message.buttons(), *message.earlier_buttons()]:
        data = str(button.get("callback_data", ""))
        if data == payload or bare(data) == payload:
            return data
    return payload


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


# -- channel-neutral driving (the same scenario for a Telegram and a WhatsApp citizen) ----------------

MENU_LINE = re.compile(r"^\s*(\d{1,2})\.\s+(.+?)\s*$", re.MULTILINE)


def text_of(message: Any) -> str:
    """What the citizen reads: a Telegram message's text/caption or a WhatsApp message's body."""
    if isinstance(message, StoredMessage):
        return body(message)
    return str(getattr(message, "body", "") or "")


def options(message: Any) -> list[str]:
    """The choices offered: inline button labels on Telegram, numbered lines on WhatsApp."""
    if isinstance(message, StoredMessage):
        return [str(b.get("text", "")) for b in message.buttons()]
    return [label for _number, label in MENU_LINE.findall(text_of(message))]


async def choose(person: Any, label: str) -> Any:
    """Pick the option whose label contains ``label`` in the latest message offering it, the way a citizen
    does on that channel (tap the button / reply with its number); returns the bot's answer."""
    if isinstance(person, Person):
        for message in reversed(person.server.bot_messages(person.chat_id)):
            for button in message.buttons():
                if label.casefold() in str(button.get("text", "")).casefold():
                    return await person.tap_and_read(str(button["callback_data"]), message)
        raise AssertionError(f"no button labelled {label!r} in chat {person.chat_id}")
    return await person.choose(label)


class WhatsAppPerson:
    """A simulated WhatsApp citizen writing to the bot's Twilio number; reads what Twilio was asked to send."""

    def __init__(self, server: Any, user: Any, webhook_url: str) -> None:
        self.server = server
        self.user = user
        self.webhook_url = webhook_url
        self.cursor = 0  # how many messages to this number the test has read

    @property
    def number(self) -> str:
        return str(self.user.number)

    async def next(self, timeout: float = TIMEOUT) -> Any:
        seen = self.cursor
        message = await self.server.wait_for_message(
            self.number, lambda m: self.server.messages_to(self.number).index(m) >= seen, timeout=timeout,
            new_only=False,
        )
        self.cursor = self.server.messages_to(self.number).index(message) + 1
        return message

    async def next_matching(self, needle: str, timeout: float = TIMEOUT) -> Any:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            message = await self.next(timeout=max(0.1, deadline - asyncio.get_running_loop().time()))
            if needle in text_of(message):
                return message

    async def quiet(self, seconds: float = 0.5) -> list[Any]:
        await asyncio.sleep(seconds)
        new = self.server.messages_to(self.number)[self.cursor :]
        self.cursor += len(new)
        return list(new)

    async def send(self, body: str | None = None, **kwargs: Any) -> Any:
        delivery = await self.user.send(self.webhook_url, body, **kwargs)
        assert delivery.status == 200, (delivery.status, delivery.text)
        return delivery

    async def say(self, text: str) -> Any:
        await self.send(text)
        return await self.next()

    async def choose(self, label: str) -> Any:
        for message in reversed(self.server.messages_to(self.number)):
            for number, option in MENU_LINE.findall(text_of(message)):
                if label.casefold() in option.casefold():
                    return await self.say(number)
        raise AssertionError(f"no option {label!r} offered to {self.number}")

    async def photo(self, data: bytes, caption: str | None = None, content_type: str = "image/jpeg") -> Any:
        await self.send(caption, media=[(data, content_type)])
        return await self.next()

    async def location(self, lat: float, lon: float, **kwargs: Any) -> Any:
        await self.send(None, latitude=lat, longitude=lon, **kwargs)
        return await self.next()
