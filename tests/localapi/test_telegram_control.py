"""The JSON control API (playground/benchmark side) and a full aiogram Dispatcher round trip."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from typing import Any

import aiohttp
from aiogram import Bot, Dispatcher, F
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from localapi.telegram import TelegramServer, make_jpeg


async def _post(http: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> tuple[int, Any]:
    async with http.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def test_control_api_round_trip(tg: TelegramServer, bot: Bot) -> None:
    base = f"{tg.base_url}/_control"
    async with aiohttp.ClientSession() as http:
        status, body = await _post(http, f"{base}/users", {"first_name": "Siti", "username": "siti"})
        assert status == 200 and body["ok"]
        siti = body["result"]["id"]
        _, body = await _post(http, f"{base}/users", {"first_name": "Budi"})
        budi = body["result"]["id"]
        _, body = await _post(http, f"{base}/groups", {"title": "RW 3", "member_ids": [siti, budi],
                                                      "admin_ids": [budi]})
        group_id = body["result"]["id"]
        assert group_id < 0 and body["result"]["type"] == "group"

        _, body = await _post(http, f"{base}/send", {"user_id": siti, "kind": "text", "text": "/start"})
        assert body["result"]["text"] == "/start" and body["result"]["from_bot"] is False
        photo = base64.b64encode(make_jpeg(64, 64)).decode()
        _, body = await _post(http, f"{base}/send", {"user_id": siti, "kind": "photo", "data_base64": photo,
                                                    "caption": "lubang"})
        assert len(body["result"]["photo"]) == 3
        _, body = await _post(http, f"{base}/send", {"user_id": siti, "kind": "location", "lat": -7.25,
                                                    "lon": 112.75})
        assert body["result"]["location"]["latitude"] == -7.25
        _, body = await _post(http, f"{base}/send", {"user_id": budi, "chat_id": group_id, "kind": "text",
                                                    "text": "halo"})
        assert body["result"]["chat"]["id"] == group_id
        status, body = await _post(http, f"{base}/send", {"user_id": siti, "kind": "hologram"})
        assert status == 400 and not body["ok"]

        sent = await bot.send_message(siti, "Pilih", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Ya", callback_data="yes")]]))
        status, body = await _post(http, f"{base}/press", {"user_id": siti, "message_id": sent.message_id,
                                                          "callback_data": "nope"})
        assert status == 400 and "no button" in body["error"]
        status, body = await _post(http, f"{base}/press", {"user_id": siti, "message_id": sent.message_id,
                                                          "callback_data": "yes"})
        query_id = body["result"]["callback_query_id"]
        await bot.answer_callback_query(query_id, text="OK")
        async with http.get(f"{base}/callbacks/{query_id}") as resp:
            assert (await resp.json())["result"]["text"] == "OK"

        async with http.get(f"{base}/chats/{siti}/messages") as resp:
            transcript = (await resp.json())["result"]
        assert [m["from_bot"] for m in transcript] == [False, False, False, True]
        assert transcript[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"
        file_id = transcript[1]["photo"][-1]["file_id"]
        async with http.get(f"{base}/files/{file_id}") as resp:
            assert resp.content_type == "image/jpeg" and (await resp.read()).startswith(b"\xff\xd8")

        _, body = await _post(http, f"{base}/migrate", {"chat_id": group_id})
        assert str(body["result"]["chat_id"]).startswith("-100")
        _, body = await _post(http, f"{base}/block", {"user_id": budi})
        assert body["result"] is True
        _, body = await _post(http, f"{base}/faults", {"flood": {"retry_after": 2, "count": 1}})
        assert tg.faults.floods

        _, body = await _post(http, f"{base}/reset", {})
        async with http.get(f"{base}/users") as resp:
            assert (await resp.json())["result"] == []
        async with http.get(f"{base}/chats/{siti}/messages") as resp:
            assert resp.status == 400


async def test_control_events_stream(tg: TelegramServer) -> None:
    user = tg.create_user("Rina")
    async with aiohttp.ClientSession() as http, http.get(f"{tg.base_url}/_control/events") as resp:
        assert resp.headers["Content-Type"].startswith("text/event-stream")
        assert (await resp.content.readline()).startswith(b": connected")
        await resp.content.readline()
        user.send_text("ada banjir")
        line = await asyncio.wait_for(resp.content.readline(), 2)
        event = json.loads(line.decode().removeprefix("data: "))
        assert event["type"] == "message" and event["message"]["text"] == "ada banjir"


async def test_dispatcher_conversation(tg: TelegramServer, bot: Bot) -> None:
    """A real aiogram Dispatcher polling the server, exchanging messages and callback queries."""
    dp = Dispatcher()

    @dp.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Halo <b>warga</b>!", parse_mode="HTML", reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Lapor", callback_data="report")]]))

    @dp.callback_query(F.data == "report")
    async def report(query: CallbackQuery) -> None:
        await query.answer("Silakan kirim foto", show_alert=True)
        assert isinstance(query.message, Message)
        await query.message.edit_text("Kirim foto kerusakan")

    @dp.message(F.photo)
    async def photo(message: Message) -> None:
        assert message.photo and message.bot
        file = await message.bot.download(message.photo[-1].file_id)
        assert file is not None
        await message.reply(f"Foto diterima ({len(file.read())} byte)")

    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, polling_timeout=5))
    try:
        users = [tg.create_user(f"Warga {i}") for i in range(20)]
        started = time.monotonic()
        for user in users:
            user.send_text("/start")
        greetings = [await tg.wait_for_message(user.id, lambda m: m.text == "Halo warga!") for user in users]
        assert all(m.text == "Halo warga!" and m.html == "Halo <b>warga</b>!" for m in greetings)
        queries = [user.press_button(greeting, "report") for user, greeting in zip(users, greetings, strict=True)]
        answers = [await tg.wait_callback_answer(q) for q in queries]
        assert all(a["show_alert"] and a["text"] == "Silakan kirim foto" for a in answers)
        edited = await tg.wait_for_message(users[0].id, lambda m: m.edited)
        assert edited.text == "Kirim foto kerusakan" and edited.reply_markup is None
        sent = users[0].send_photo()
        reply = await tg.wait_for_message(users[0].id, lambda m: m.reply_to_message_id == sent.message_id)
        assert reply.text and reply.text.startswith("Foto diterima")
        assert time.monotonic() - started < 10
        assert tg.spec_violations == []
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(polling, 10)


async def test_mountable_in_another_app() -> None:
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiohttp import web

    tg = TelegramServer(rate_limits=False)
    parent = web.Application()
    parent.add_subapp("/tg", tg.make_app())
    runner = web.AppRunner(parent)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}/tg"
    bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(base)))
    try:
        assert (await bot.get_me()).username == "sikesal_bot"
        async with aiohttp.ClientSession() as http, http.get(f"{base}/_control/info") as resp:
            assert (await resp.json())["result"]["bot"]["id"] == 123456
    finally:
        await bot.session.close()
        await runner.cleanup()


async def test_webhook_reply_method_is_executed(tg: TelegramServer, bot: Bot) -> None:
    from aiohttp import web

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        chat_id = update["message"]["chat"]["id"]
        return web.json_response({"method": "sendMessage", "chat_id": chat_id, "text": "via webhook reply"})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        await bot.set_webhook(f"http://127.0.0.1:{runner.addresses[0][1]}/hook")
        user = tg.create_user("Dewi")
        user.send_text("halo")
        reply = await tg.wait_for_message(user.id, lambda m: m.text == "via webhook reply")
        assert reply.from_bot
        await bot.delete_webhook()
    finally:
        await runner.cleanup()
