"""Answering button presses: always answer (the client shows a spinner until we do), best effort.

The press's work is committed before the answer is sent, so a failed answer must not fail the update:
Telegram's "query is too old" for a redelivered or late update, or a network error during an outage
(retrying the whole update would hold back every later update of the chat, for work that is done)."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery

from handlers.messages import Alert

log = logging.getLogger("sikesal.telegram")


async def answer_callback(callback: CallbackQuery, alert: Alert | None) -> None:
    try:
        await callback.answer(
            text=alert.text if alert and alert.text else None, show_alert=bool(alert and alert.show_alert)
        )
    except TelegramAPIError as exc:  # bad request, network error, flood wait: the spinner times out by itself
        log.info("could not answer callback %s: %s", callback.id, exc.message)
