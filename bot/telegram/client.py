"""The aiogram ``Bot``, pointed at api.telegram.org or at a local Bot API server."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, methods
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods import Response, TelegramMethod

#: the Bot API methods SiKesal calls on every update or delivery
HOT_METHODS: tuple[type[TelegramMethod[Any]], ...] = (
    methods.GetUpdates,
    methods.SendMessage,
    methods.SendPhoto,
    methods.SendMediaGroup,
    methods.EditMessageText,
    methods.EditMessageCaption,
    methods.EditMessageReplyMarkup,
    methods.AnswerCallbackQuery,
    methods.GetChatMember,
    methods.GetFile,
)


def _pin_response_models() -> list[type]:
    """Build aiogram's ``Response[T]`` model for the hot Bot API methods once, and keep it.

    aiogram parametrises ``Response[method.__returning__]`` on every call; pydantic caches those
    classes only weakly, so under load they are garbage-collected and rebuilt (about two thousand
    rebuilds in a 200-citizen benchmark run, ~15-20% of throughput). Holding strong references
    makes every call a cache hit.
    """
    return [Response[method.__returning__] for method in HOT_METHODS]  # type: ignore[misc,name-defined]


_PINNED_RESPONSE_MODELS = _pin_response_models()


def create_bot(token: str, api_base: str | None = None, *, timeout: float = 30.0) -> Bot:
    """``api_base`` (``TELEGRAM_API_BASE``) selects a local server, e.g. ``http://127.0.0.1:8081``."""
    session = (
        AiohttpSession(api=TelegramAPIServer.from_base(api_base.rstrip("/")), timeout=timeout)
        if api_base
        else AiohttpSession(timeout=timeout)
    )
    return Bot(token, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
