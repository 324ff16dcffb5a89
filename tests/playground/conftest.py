"""Fixtures: a whole playground (local Telegram + real bot + page) on a free port, and HTTP helpers."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from bot.config import AppConfig, load_config
from bot.delivery.ratelimit import RateLimits
from bot.playground import Playground
from tests.playground.browserkit import browser  # noqa: F401  (the browser tests' fixture: Debian's Chromium)

ROOT = Path(__file__).resolve().parents[2]
FAST = RateLimits(global_per_second=1000, private_per_second=1000, group_per_minute=100000)
TIMEOUT = 15.0


@pytest.fixture
def config() -> AppConfig:
    return load_config(ROOT / "config.yaml")


@pytest_asyncio.fixture
async def playground(config: AppConfig, tmp_path: Path) -> AsyncIterator[Playground]:
    pg = Playground(
        config,
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'playground.db'}",
        media_dir=tmp_path / "media",
        port=0,
        rate_limits=FAST,
        telegram_rate_limits=False,
        polling_timeout=1,
        whatsapp_status_delay=0,
    )
    await pg.start()
    try:
        yield pg
    finally:
        await pg.stop()
    assert pg.server.spec_violations == [], pg.server.spec_violations
    assert pg.twilio.spec_violations == [], pg.twilio.spec_violations


class Client:
    """The page's side of the JSON API."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(self, path: str, status: int = 200) -> Any:
        async with self.session.get(self.base + path) as response:
            data = await response.json()
            assert response.status == status, data
            return data["result"] if data["ok"] else data

    async def post(self, path: str, body: dict[str, Any] | None = None, status: int = 200) -> Any:
        async with self.session.post(self.base + path, json=body or {}) as response:
            data = await response.json()
            assert response.status == status, data
            return data["result"] if data["ok"] else data

    async def wa_messages(self, number: str) -> list[dict[str, Any]]:
        return (await self.get(f"/api/whatsapp/{number}"))["messages"]

    async def wa_wait_for(self, number: str, check: Callable[[dict[str, Any]], bool],
                          timeout: float = TIMEOUT, after: int = 0) -> dict[str, Any]:
        """The first WhatsApp bubble after entry id ``after`` satisfying ``check`` (polling the API)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for message in await self.wa_messages(number):
                if message["message_id"] > after and check(message):
                    return message
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no matching WhatsApp message to {number}: {await self.wa_messages(number)}")
            await asyncio.sleep(0.05)

    async def messages(self, chat_id: int) -> list[dict[str, Any]]:
        return (await self.get(f"/api/chats/{chat_id}"))["messages"]

    async def wait_for(self, chat_id: int, check: Callable[[dict[str, Any]], bool],
                       timeout: float = TIMEOUT) -> dict[str, Any]:
        """The first message of the chat's transcript satisfying ``check`` (polling the API)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for message in await self.messages(chat_id):
                if check(message):
                    return message
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no matching message in chat {chat_id}: {await self.messages(chat_id)}")
            await asyncio.sleep(0.05)


@pytest_asyncio.fixture
async def client(playground: Playground) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, playground.url)


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [button for row in rows for button in row]


def bare(callback_data: str) -> str:
    """A button's payload as the flow names it: without the menu version the bot stamps on (``sum:send~1f``)."""
    base, sep, tag = callback_data.rpartition("~")
    return base if sep and base and tag.isalnum() and len(tag) <= 4 else callback_data


def has_button(payload: str) -> Callable[[dict[str, Any]], bool]:
    return lambda m: m["from_bot"] and any(bare(b.get("callback_data", "")) == payload for b in buttons(m))


def real_payload(message: dict[str, Any], payload: str) -> str:
    """The callback data of ``message``'s button that ``payload`` names (with its version): what a tap sends."""
    for button in buttons(message):
        data = button.get("callback_data")
        if data is not None and bare(data) == payload:
            return str(data)
    return payload


MENU_LINE = re.compile(r"^\s*(\d{1,2})\.\s+(.+?)\s*$", re.MULTILINE)


def menu(message: dict[str, Any]) -> dict[str, str]:
    """A WhatsApp message's numbered menu: label -> the number to type."""
    return {label: number for number, label in MENU_LINE.findall(message.get("body") or "")}


def number_of(message: dict[str, Any], label: str) -> str:
    for option, number in menu(message).items():
        if label.casefold() in option.casefold():
            return number
    raise AssertionError(f"no option {label!r} in {message.get('body')!r}")


def body(message: dict[str, Any]) -> str:
    return (message.get("text") or "") + (message.get("caption") or "")
