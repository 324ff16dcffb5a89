"""``python -m bench.noop_bot``: the framework's ceiling as its own process, for ``bench.speed``.

A no-op aiogram bot (Dispatcher, no database): every message and every button press is answered with one
message carrying one button (so the simulated citizens' next "tap" is a real callback query). It is fed the
way ``sikesal run`` is in the benchmark: by webhook (aiogram's ``SimpleRequestHandler``, the same aiohttp
server kind SiKesal uses), behind the benchmark's proxy. Its CPU and memory are read from outside, as the
bot process's. ``bench.baseline_side`` (the in-process ceiling of ``bench.filings``) answers with the same
dispatcher; it lives here so that this process imports nothing of the benchmark's load generator.

Environment: ``TELEGRAM_BOT_TOKEN``, ``TELEGRAM_API_BASE``, ``SIKESAL_PUBLIC_URL`` (the webhook's public base)
and ``TELEGRAM_WEBHOOK_SECRET``. Prints ``no-op bot ready on 127.0.0.1:<port>`` once the webhook is set.
"""

from __future__ import annotations

import asyncio
import os
import signal

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

#: every reply carries one button so that the users' "taps" are real callback queries
KEYBOARD = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="OK", callback_data="next")]])
PATH = "/noop-webhook"


def build_dispatcher() -> Dispatcher:
    """One message per update, nothing else (no answerCallbackQuery, no storage)."""
    dp = Dispatcher()

    @dp.message()
    async def on_message(message: Message) -> None:
        await message.answer("ok", reply_markup=KEYBOARD)

    @dp.callback_query()
    async def on_callback(query: CallbackQuery, bot: Bot) -> None:
        assert query.message is not None
        await bot.send_message(query.message.chat.id, "ok", reply_markup=KEYBOARD)

    return dp


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def main() -> None:
    api = TelegramAPIServer.from_base(os.environ["TELEGRAM_API_BASE"])
    bot = Bot(os.environ["TELEGRAM_BOT_TOKEN"], session=AiohttpSession(api=api, timeout=30.0))
    dp = build_dispatcher()
    secret = os.environ.get("TELEGRAM_WEBHOOK_SECRET")
    app = web.Application()
    SimpleRequestHandler(dispatcher=dp, bot=bot, secret_token=secret).register(app, path=PATH)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await bot.set_webhook(os.environ["SIKESAL_PUBLIC_URL"].rstrip("/") + PATH, secret_token=secret,
                          allowed_updates=dp.resolve_used_update_types())
    print(f"no-op bot ready on 127.0.0.1:{port}", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()
        await bot.session.close()


if __name__ == "__main__":
    asyncio.run(main())
