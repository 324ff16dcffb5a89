"""Telegram ``Message`` -> neutral :class:`handlers.events.Incoming`.

Photos (and images sent as documents) are downloaded with getFile, re-encoded without metadata and
stored by content hash (:meth:`storage.media.MediaStore.put`) before the event reaches the core; what does
not decode as an image becomes ``Unsupported("not_image")``; anything over the size limit becomes ``TooLarge`` without a
download; every other kind of content becomes ``Unsupported(kind)`` so the core can re-prompt.
"""

from __future__ import annotations

import io
import logging

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramNetworkError
from aiogram.types import Message

from handlers.events import (
    Command,
    Event,
    Incoming,
    Location,
    MediaRef,
    Photo,
    Text,
    TooLarge,
    Unsupported,
)
from storage.images import NotAnImage
from storage.media import MediaStore

log = logging.getLogger("sikesal.telegram")

#: message attributes that mean "this is content the flow cannot use", first match wins
#: (animation before document: a GIF message carries both)
UNSUPPORTED_KINDS = (
    "sticker",
    "voice",
    "video_note",
    "video",
    "animation",
    "audio",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "paid_media",
    "checklist",
)


def parse_command(text: str) -> Command | None:
    if not text.startswith("/"):
        return None
    head, _, args = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    return Command(name=name, args=args.strip()) if name else None


async def download_photo(bot: Bot, media: MediaStore, file_id: str) -> MediaRef:
    """Download and store a photo, sent as a photo or as a file alike: re-encoded (no metadata, upright, at
    most 2560 px) by the store. The sender's file id is never kept: it would show staff (or a citizen) the
    sender's original, so a card or relay uploads the cleaned bytes and caches the id Telegram returns for
    them (``media_files.telegram_file_id``). Raises :class:`NotAnImage`."""
    buffer = io.BytesIO()
    await bot.download(file_id, destination=buffer)
    stored = await media.put(buffer.getvalue())
    return MediaRef(sha256=stored.sha256, mime_type=stored.mime_type, size=stored.size)


async def to_event(message: Message, bot: Bot, media: MediaStore, *, max_bytes: int) -> Event:
    if message.text is not None:
        return parse_command(message.text) or Text(message.text)
    if message.photo:
        largest = message.photo[-1]
        if largest.file_size and largest.file_size > max_bytes:
            return TooLarge(size=largest.file_size, max_bytes=max_bytes)
        return await _fetch(bot, media, largest.file_id, "image/jpeg", largest.file_size or 0, message.caption,
                            as_file=False)
    if message.location is not None:
        address = None
        if message.venue is not None:
            address = ", ".join(p for p in (message.venue.title, message.venue.address) if p)
        return Location(message.location.latitude, message.location.longitude, address)
    for kind in UNSUPPORTED_KINDS:
        if getattr(message, kind, None) is not None:
            return Unsupported(kind)
    if message.document is not None:
        document = message.document
        if not (document.mime_type or "").startswith("image/"):
            return Unsupported("document")
        if document.file_size and document.file_size > max_bytes:
            return TooLarge(size=document.file_size, max_bytes=max_bytes)
        return await _fetch(
            bot, media, document.file_id, document.mime_type or "image/jpeg", document.file_size or 0, message.caption,
            as_file=True,
        )
    return Unsupported("unknown")


async def _fetch(
    bot: Bot, media: MediaStore, file_id: str, mime_type: str, size: int, caption: str | None, *, as_file: bool
) -> Event:
    if not file_id.strip():  # Telegram never sends one; a forged update may: getFile requires it
        log.info("a %s without a file id; refused", "file" if as_file else "photo")
        return Unsupported("unknown")
    try:
        ref = await download_photo(bot, media, file_id)
    except NotAnImage:
        log.info("a %s declared as %s is not a decodable image; refused", "file" if as_file else "photo", mime_type)
        return Unsupported("not_image")
    except TelegramBadRequest as exc:  # e.g. "file is too big" for files over the Bot API's 20 MB
        log.warning("could not download file: %s", exc.message)
        return TooLarge(size=size, max_bytes=size) if "too big" in exc.message else Unsupported("unknown")
    except TelegramNetworkError as exc:
        log.warning("network error downloading a photo: %s", exc)
        return Unsupported("download_failed")
    return Photo(media=ref, caption=caption)


async def to_incoming(message: Message, bot: Bot, media: MediaStore, *, max_bytes: int) -> Incoming:
    user = message.from_user
    reply = message.reply_to_message
    return Incoming(
        event=await to_event(message, bot, media, max_bytes=max_bytes),
        display_name=user.full_name if user else None,
        language_hint=user.language_code if user else None,
        reply_to_message_id=str(reply.message_id) if reply is not None else None,
        burst=f"tg:{message.media_group_id}" if message.media_group_id else None,  # an album: one message
    )
