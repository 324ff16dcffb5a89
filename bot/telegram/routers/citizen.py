"""Private chats: every message and button press of a citizen goes to the citizen service."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message

from bot.services.citizen import handle_citizen_event
from bot.services.runtime import Runtime
from bot.telegram.answers import answer_callback
from bot.telegram.translate import to_incoming
from handlers.events import ButtonPress, Incoming

CHANNEL = "telegram"

async def on_message(message: Message, bot: Bot, rt: Runtime, update_key: str | None = None) -> None:
    incoming = await to_incoming(message, bot, rt.media, max_bytes=rt.ctx.limits.photo_max_bytes)
    await handle_citizen_event(
        rt, channel=CHANNEL, channel_user_id=str(message.chat.id), incoming=incoming, update_key=update_key,
        # Telegram's own time of the message (seconds): the gap between the parts of a long paste is
        # the same whether we process them at once or after an outage
        received_at=message.date,
    )


async def on_button(callback: CallbackQuery, rt: Runtime, update_key: str | None = None) -> None:
    user = callback.from_user
    chat_id = callback.message.chat.id if callback.message is not None else user.id
    result = await handle_citizen_event(
        rt,
        channel=CHANNEL,
        channel_user_id=str(chat_id),
        incoming=Incoming(
            event=ButtonPress(
                callback.data or "",
                message_id=str(callback.message.message_id) if callback.message is not None else None,
            ),
            display_name=user.full_name,
            language_hint=user.language_code,
        ),
        update_key=update_key,
    )
    await answer_callback(callback, result.alert)


def build_router() -> Router:
    """A fresh router (aiogram attaches a router to one dispatcher only)."""
    router = Router(name="citizen")
    router.message.filter(F.chat.type == ChatType.PRIVATE)
    router.callback_query.filter(F.message.chat.type == ChatType.PRIVATE)
    router.message.register(on_message)
    router.callback_query.register(on_button)
    return router
