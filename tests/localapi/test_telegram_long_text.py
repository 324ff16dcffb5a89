"""A paste over 4096 UTF-16 units reaches the bot as several messages, split the way Telegram's apps
split it (a blank line, a line break, a sentence end, a space before the limit; a hard cut only when
there is none), through the user API and the control API the playground uses."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiogram import Bot

from localapi.telegram import TelegramServer
from localapi.telegram.formatting import utf16_len
from localapi.telegram.simulation import split_like_client

SENTENCE = "Jalan di depan pasar berlubang besar dan sering membuat motor jatuh. "


def test_a_text_that_fits_is_one_part() -> None:
    assert split_like_client("halo") == ["halo"]
    assert split_like_client("x" * 4096) == ["x" * 4096]


def test_parts_end_at_a_sentence_and_lose_nothing_but_the_space() -> None:
    text = SENTENCE * 100
    parts = split_like_client(text)
    assert len(parts) == 2
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert parts[0].endswith("jatuh.") and parts[1].startswith("Jalan")
    assert " ".join(parts) == text.strip()


def test_a_line_break_is_preferred_to_a_sentence_end() -> None:
    text = SENTENCE * 57 + "\n" + SENTENCE * 20  # the line break ~160 characters before the limit
    parts = split_like_client(text)
    assert parts[0] == (SENTENCE * 57).strip()


def test_limits_count_utf16_units_and_never_cut_an_emoji() -> None:
    parts = split_like_client("😀" * 3000)  # 6000 units
    assert [utf16_len(p) for p in parts] == [4096, 1904]
    assert "".join(parts) == "😀" * 3000


def test_text_without_spaces_is_cut_hard() -> None:
    assert [len(p) for p in split_like_client("a" * 9000)] == [4096, 4096, 808]


async def test_the_bot_receives_one_message_per_part(tg: TelegramServer, bot: Bot) -> None:
    siti = tg.create_user("Siti")
    sent = siti.send_text_parts(SENTENCE * 100)
    assert len(sent) == 2
    updates = await bot.get_updates(timeout=0)
    texts = [u.message.text for u in updates if u.message is not None]
    assert texts == [m.text for m in sent]
    assert siti.send_text("halo").text == "halo"


async def test_the_control_api_sends_a_long_text_in_parts(tg: TelegramServer) -> None:
    siti = tg.create_user("Siti")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}/_control/send",
                             json={"user_id": siti.id, "kind": "text", "text": SENTENCE * 130}) as resp:
            body: dict[str, Any] = await resp.json()
    assert body["ok"]
    parts = body["result"]["parts"]
    assert len(parts) == 3 and parts[0]["message_id"] == body["result"]["message_id"]
    assert all(utf16_len(p["text"]) <= 4096 for p in parts)
