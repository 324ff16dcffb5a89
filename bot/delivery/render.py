"""Pure translation of the channel-neutral :class:`~handlers.messages.OutMessage` into aiogram objects.

Kept apart from the sender so the shape of what we ask Telegram for (markups, when a caption is too long,
how an album is split) can be tested without a server or a database.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.types import (
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    ReplyParameters,
)

from handlers.messages import OutMessage
from handlers.views import telegram_length  # one definition of what Telegram counts

#: Telegram's limits (counted in UTF-16 code units of the text after HTML parsing)
MAX_CAPTION = 1024
MAX_TEXT = 4096
MAX_ALBUM = 10

ReplyMarkup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove | ForceReply


def inline_markup(message: OutMessage) -> InlineKeyboardMarkup | None:
    """The inline buttons alone (the only markup an edit may carry)."""
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=b.label, callback_data=b.payload) for b in row] for row in message.buttons
        ]
    )


def reply_markup(message: OutMessage) -> ReplyMarkup | None:
    """One markup per message (Telegram takes only one): buttons, else keyboard, else remove, else
    force-reply."""
    inline = inline_markup(message)
    if inline is not None:
        return inline
    if message.keyboard:
        return ReplyKeyboardMarkup(
            keyboard=[
                [KeyboardButton(text=b.label, request_location=b.request_location or None) for b in row]
                for row in message.keyboard
            ],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    if message.remove_keyboard:
        return ReplyKeyboardRemove(remove_keyboard=True)
    if message.force_reply:
        return ForceReply(force_reply=True, selective=True)
    return None


def reply_parameters(message_id: int | None) -> ReplyParameters | None:
    """Reply to ``message_id``, but still deliver if that message was deleted meanwhile."""
    if message_id is None:
        return None
    return ReplyParameters(message_id=message_id, allow_sending_without_reply=True)


@dataclass(frozen=True, slots=True)
class Plan:
    """How a message is sent.

    ``photo_groups``: indexes into the photos, one API call each (one index -> sendPhoto, 2-10 ->
    sendMediaGroup). ``caption_on_photo``: the single photo carries the text and the markup (then there
    is no separate text message). Otherwise the text goes last, as a message with the markup.
    """

    photo_groups: tuple[tuple[int, ...], ...]
    caption_on_photo: bool

    @property
    def photo_count(self) -> int:
        return sum(len(g) for g in self.photo_groups)

    @property
    def card_kind(self) -> str:
        """What a card rendered this way is, for later edits: caption (``photo``) or ``text``."""
        return "photo" if self.caption_on_photo else "text"


def plan(message: OutMessage, photo_count: int | None = None) -> Plan:
    """Decide the calls for ``message`` with ``photo_count`` usable photos (default: all of them).

    More than 10 photos are split into albums of at most 10, never leaving a lone one at the end when it
    can be avoided (an album needs at least 2 items).
    """
    n = len(message.photos) if photo_count is None else photo_count
    if n == 0:
        return Plan((), False)
    if n == 1:
        return Plan(((0,),), telegram_length(message.text) <= MAX_CAPTION)
    groups: list[tuple[int, ...]] = []
    start = 0
    while start < n:
        size = min(MAX_ALBUM, n - start)
        if n - start - size == 1:  # 11 -> 9 + 2, not 10 + 1
            size -= 1
        groups.append(tuple(range(start, start + size)))
        start += size
    return Plan(tuple(groups), False)
