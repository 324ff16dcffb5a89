"""Answering button presses: always answer (the client shows a spinner until we do), and tolerate
Telegram's "query is too old" for a redelivered or late update: the work is already done."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery

from handlers.messages import Alert

log = logging.getLogger("sikesal.telegram")


async def answer_callback(callback: CallbackQuery, alert: Alert | None) -> None:
    try:
        await callback.answer(
            text=alert.text if alert and alert.text else None, show_alert=bool(alert and alert.show_alert)
        )
    except TelegramBadRequest as exc:
        log.info("could not answer callback %s: %s", callback.id, exc.message)
