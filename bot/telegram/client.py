"""The aiogram ``Bot``, pointed at api.telegram.org or at a local Bot API server."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode


def create_bot(token: str, api_base: str | None = None, *, timeout: float = 30.0) -> Bot:
    """``api_base`` (``TELEGRAM_API_BASE``) selects a local server, e.g. ``http://127.0.0.1:8081``."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")), timeout=timeout)
        if api_base
        else AiohttpSession(timeout=timeout)
    )
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
