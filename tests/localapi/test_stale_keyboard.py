"""Telegram clients can show a keyboard that was since edited away, and Telegram delivers a press on
it: the old callback_data with the message as it is now. The local server does the same when asked
(``stale_ok``), so only the bot decides what such a press may do."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from localapi.telegram import TelegramServer
from localapi.telegram.simulation import SimulationError


def _markup(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d) for d in data]])


async def test_a_press_on_an_edited_away_button_is_delivered_with_the_old_data(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("/start")  # a bot cannot start a conversation
    sent = await bot.send_message(alice.id, "Pilih", reply_markup=_markup("v1:accept"))
    await bot.edit_message_text("Diterima", chat_id=alice.id, message_id=sent.message_id,
                                reply_markup=_markup("v2:process"))
    await bot.edit_message_reply_markup(chat_id=alice.id, message_id=sent.message_id, reply_markup=None)

    with pytest.raises(SimulationError):  # an up-to-date client cannot press it
        alice.press_button(sent.message_id, "v1:accept")
    with pytest.raises(SimulationError):  # and a button that never was there stays impossible
        alice.press_button(sent.message_id, "forged", stale_ok=True)

    first = alice.press_button(sent.message_id, "v1:accept", stale_ok=True)
    second = alice.press_button(sent.message_id, "v2:process", stale_ok=True)
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    queries = [u.callback_query for u in updates if u.callback_query is not None]
    assert [(q.id, q.data) for q in queries] == [(first, "v1:accept"), (second, "v2:process")]
    for query in queries:  # the message as it is now: edited, no keyboard
        assert query.message is not None and query.message.text == "Diterima"  # type: ignore[union-attr]
        assert query.message.reply_markup is None  # type: ignore[union-attr]
    await bot.answer_callback_query(first, text="Sudah diubah", show_alert=True)
    answer = await tg.wait_callback_answer(first)
    assert answer is not None and answer["text"] == "Sudah diubah"


async def test_the_control_api_presses_stale_buttons_too(tg: TelegramServer, bot: Bot) -> None:
    import aiohttp

    alice = tg.create_user("Alice")
    alice.send_text("/start")  # a bot cannot start a conversation
    sent = await bot.send_message(alice.id, "Pilih", reply_markup=_markup("old"))
    await bot.edit_message_reply_markup(chat_id=alice.id, message_id=sent.message_id, reply_markup=_markup("new"))
    async with aiohttp.ClientSession() as http:
        body = {"user_id": alice.id, "message_id": sent.message_id, "callback_data": "old"}
        async with http.post(f"{tg.base_url}/_control/press", json=body) as resp:
            assert resp.status != 200 or not (await resp.json()).get("ok")
        async with http.post(f"{tg.base_url}/_control/press", json={**body, "stale_ok": True}) as resp:
            assert resp.status == 200 and (await resp.json())["ok"]
