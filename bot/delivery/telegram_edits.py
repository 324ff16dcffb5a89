"""Editing a message the citizen already has (a menu whose buttons must go, a text that changed).

:class:`CitizenEdits` carries out a row whose message names an earlier message of the chat
(:class:`handlers.messages.EditTarget`): it changes the text and buttons, or only the buttons. "Not
modified" counts as done; a message that can no longer be edited gets a content edit as a new message
(the citizen must read it), while taking buttons off such a message is simply dropped.
"""

from __future__ import annotations

import dataclasses
import logging

from aiogram.exceptions import TelegramBadRequest

from bot.delivery import render
from bot.delivery.telegram_outcomes import (
    NOT_MODIFIED,
    Attempt,
    Job,
    Outcome,
    api_description,
    chat_arg,
    is_chat_problem,
)
from bot.delivery.telegram_send import CardSending
from handlers.messages import EDIT_BUTTONS

log = logging.getLogger("sikesal.delivery")


class CitizenEdits(CardSending):
    """The editing part of :class:`bot.delivery.telegram.TelegramSender`."""

    async def _edit_message(self, job: Job, attempt: Attempt) -> Outcome:
        """Change an earlier message of this chat (:class:`handlers.messages.EditTarget`): its text and
        buttons, or only its buttons (none = take them off). "Not modified" is done. A message that can
        no longer be edited (deleted, too old, not text) gets a content edit as a new message, since the
        citizen must read it; taking buttons off such a message is simply dropped."""
        edit = job.message.edit
        assert edit is not None
        chat = chat_arg(job.chat_id)
        markup = render.inline_markup(job.message)
        try:
            message_id = int(edit.message_id)
            if edit.mode == EDIT_BUTTONS:
                await self._throttled(
                    job.chat_id,
                    lambda: self.bot.edit_message_reply_markup(chat_id=chat, message_id=message_id, reply_markup=markup),
                    edit=True,
                )
            else:
                await self._throttled(
                    job.chat_id,
                    lambda: self.bot.edit_message_text(
                        text=job.message.text, chat_id=chat, message_id=message_id, parse_mode="HTML",
                        reply_markup=markup,
                    ),
                    edit=True,
                )
        except (TelegramBadRequest, ValueError) as exc:
            reason = api_description(exc) if isinstance(exc, TelegramBadRequest) else f"bad message id: {exc}"
            if NOT_MODIFIED in reason.lower():
                return Outcome("sent")
            if isinstance(exc, TelegramBadRequest) and is_chat_problem(reason):
                raise
            if edit.mode == EDIT_BUTTONS:
                log.info("buttons of message %s in chat %s stay (%s)", edit.message_id, job.chat_id, reason)
                return Outcome("sent")
            log.info("message %s in chat %s cannot be edited (%s); sending it anew", edit.message_id,
                     job.chat_id, reason)
            job.message = dataclasses.replace(job.message, edit=None)
            return await self._send(job, attempt)
        # no ids: nothing new reached the chat (the message changed is named in the row's payload)
        return Outcome("sent")
