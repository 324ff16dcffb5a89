"""Sending a row's messages to Telegram: photos, albums, text and buttons, and re-rendering a card in place.

:class:`CardSending` turns a :class:`~bot.delivery.telegram_outcomes.Job` into API calls in the order
:func:`bot.delivery.render.plan` gives, saving progress between parts so a retry sends only what is
missing. It owns the photo fallbacks: a cached file id Telegram refuses is uploaded afresh from the stored
bytes (always re-encoded as a clean JPEG), and photos Telegram will not take at all are dropped so the
message (a card, above all) still arrives. Card edits change the caption or text of the delivered card.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyKeyboardRemove,
)
from sqlalchemy import select

from bot.delivery import render
from bot.delivery.telegram_calls import TelegramCalls
from bot.delivery.telegram_outcomes import (
    FILE_REFERENCE,
    FILE_TYPE_MISMATCH,
    NOT_MODIFIED,
    WRONG_FILE_ID,
    Attempt,
    Job,
    Outcome,
    PhotoSource,
    UnusablePhoto,
    api_description,
    chat_arg,
    is_chat_problem,
)
from handlers.messages import MAX_DOCUMENT_BYTES, OutDocument
from storage.images import is_clean_jpeg, reencode_jpeg
from storage.models import OutboxMessage
from storage.outbox import KIND_SEND, PENDING, OutboxRepo
from storage.repositories import MediaRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.media import MediaStore

log = logging.getLogger("sikesal.delivery")

#: the image a Rahasia complaint's card shows instead of its photo once it is left in a group that no
#: longer handles it (handlers.privacy): a grey padlock, bundled with the package
NEUTRAL_JPEG = Path(__file__).with_name("confidential.jpg")


class CardSending(TelegramCalls):
    """The sending half of :class:`bot.delivery.telegram.TelegramSender` (which sets ``media``)."""

    media: MediaStore

    async def _input(self, source: PhotoSource, upload: bool) -> str | BufferedInputFile:
        if source.file_id is not None and not upload:
            return source.file_id
        if source.path is None:
            raise FileNotFoundError(f"no stored bytes for photo {source.sha256}")
        data = await self.media.read(source.path)
        # what leaves is always a clean JPEG: stored photos already are (MediaStore.put), and are uploaded
        # as they are; a file stored before that (not yet re-encoded by `sikesal migrate`) is cleaned here
        if not await asyncio.to_thread(is_clean_jpeg, data):
            cleaned = await asyncio.to_thread(reencode_jpeg, data)
            if cleaned is None:
                raise UnusablePhoto(f"stored photo {source.sha256[:12]} does not decode as an image")
            data = cleaned
        return BufferedInputFile(data, filename=f"{source.sha256[:16]}.jpg")

    async def _send_photos(
        self, job: Job, group: tuple[int, ...], *, caption: str | None, markup: render.ReplyMarkup | None,
        reply_to: int | None, attempt: Attempt,
    ) -> list[Message]:
        """One photo (sendPhoto) or an album (sendMediaGroup). Falls back to uploading the stored bytes
        once if a cached file_id was refused."""
        chat = chat_arg(job.chat_id)
        sources = [job.photos[i] for i in group]
        upload = False
        while True:
            inputs = [await self._input(s, upload) for s in sources]
            try:
                if len(inputs) == 1:
                    photo = inputs[0]
                    message = await self._with_reply(
                        job.chat_id,
                        reply_to,
                        lambda rp, photo=photo: self.bot.send_photo(  # type: ignore[misc]
                            chat, photo=photo, caption=caption, parse_mode="HTML" if caption else None,
                            reply_markup=markup, reply_parameters=rp,
                        ),
                    )
                    messages = [message]
                else:
                    media = [InputMediaPhoto(media=item) for item in inputs]
                    messages = await self._with_reply(
                        job.chat_id,
                        reply_to,
                        lambda rp, media=media: self.bot.send_media_group(  # type: ignore[misc]
                            chat, media=media, reply_parameters=rp  # type: ignore[arg-type]
                        ),
                        cost=len(media),
                    )
            except TelegramBadRequest as exc:
                text = api_description(exc).lower()
                refused_id = WRONG_FILE_ID in text or FILE_REFERENCE in text or FILE_TYPE_MISMATCH in text
                if upload or not refused_id or not all(s.path is not None for s in sources):
                    raise
                log.info("cached file_id refused in chat %s; uploading the stored photo", job.chat_id)
                upload = True
                continue
            for source, message in zip(sources, messages, strict=False):
                if message.photo:
                    new_id = message.photo[-1].file_id
                    if new_id != source.file_id:
                        attempt.file_ids[source.sha256] = new_id
                        source.file_id = new_id
            return messages

    async def _send(self, job: Job, attempt: Attempt) -> Outcome:
        """Send the row; if Telegram will not take its photos (even uploaded afresh) the message goes
        without them: a card must reach its agency, a photo is a detail of it."""
        try:
            return await self._send_parts(job, attempt)
        except (TelegramBadRequest, UnusablePhoto) as exc:
            if not job.photos or (isinstance(exc, TelegramBadRequest) and is_chat_problem(api_description(exc))):
                raise
            log.warning("outbox row %s: photos refused (%s); sending it without them", job.row_id, exc)
            job.photos = []
            return await self._send_parts(job, attempt)

    async def _send_parts(self, job: Job, attempt: Attempt) -> Outcome:
        """Photos first (one with caption, or albums), then the text with the markup.

        A message that must both take the reply keyboard away and show inline buttons (the summary
        after the location step) cannot say both in one call: Telegram takes one ``reply_markup``.
        It goes out with the keyboard removal, and the buttons are then put on that same message
        (editMessageReplyMarkup works on any message the bot sent), so the citizen gets one message."""
        message = job.message
        chat = chat_arg(job.chat_id)
        if message.document is not None:
            return await self._send_document(job, message.document)
        plan = render.plan(message, len(job.photos))
        later = render.inline_markup(message) if message.buttons and message.remove_keyboard else None
        markup: render.ReplyMarkup | None = ReplyKeyboardRemove(remove_keyboard=True) if later else None
        markup = markup or render.reply_markup(message)
        parts = plan.photo_count + (0 if plan.caption_on_photo else 1)
        if later is not None and len(job.progress) >= parts:  # all sent earlier; only the buttons missing
            return await self._add_buttons(job, list(job.progress), later, plan.card_kind)
        ids = list(job.progress)  # parts delivered by an earlier attempt
        sent_photos = 0
        for index, group in enumerate(plan.photo_groups):
            if sent_photos + len(group) <= len(job.progress):
                sent_photos += len(group)
                continue
            caption = message.text if plan.caption_on_photo else None
            results = await self._send_photos(
                job, group, caption=caption, markup=markup if plan.caption_on_photo else None,
                reply_to=job.reply_to if index == 0 else None, attempt=attempt,
            )
            sent_photos += len(group)
            ids.extend(str(m.message_id) for m in results)
            if not plan.caption_on_photo:
                await self._save_progress(job.row_id, ids, attempt)
        if plan.caption_on_photo:
            if later is not None:
                attempt.progress = list(ids)  # recorded with a retry if the buttons fail
                return await self._add_buttons(job, ids, later, "photo")
            return Outcome("sent", message_ids=ids, button_message_id=int(ids[0]), card_kind="photo")
        text_reply = int(ids[0]) if ids else job.reply_to
        sent = await self._with_reply(
            job.chat_id,
            text_reply,
            lambda rp: self.bot.send_message(
                chat, message.text, parse_mode="HTML", reply_markup=markup, reply_parameters=rp
            ),
        )
        ids.append(str(sent.message_id))
        if later is not None:
            # a retry must not send the text again: the outcome's record keeps what is out (one transaction,
            # not one more before the buttons); a crash right now resends it once, as any message in flight
            attempt.progress = list(ids)
            return await self._add_buttons(job, ids, later, "text")
        return Outcome("sent", message_ids=ids, button_message_id=sent.message_id, card_kind="text")

    async def _send_document(self, job: Job, document: OutDocument) -> Outcome:
        """One sendDocument with the message's text as the caption (the /dataku JSON). A file over
        Telegram's 50 MB is refused before the call (it would only come back as 413)."""
        data = document.content.encode()
        if len(data) > MAX_DOCUMENT_BYTES:
            raise ValueError(f"document {document.filename!r} is {len(data)} bytes, over Telegram's limit")
        upload = BufferedInputFile(data, filename=document.filename)
        caption = job.message.text or None
        sent = await self._with_reply(
            job.chat_id,
            job.reply_to,
            lambda rp: self.bot.send_document(
                chat_arg(job.chat_id), document=upload, caption=caption, parse_mode="HTML" if caption else None,
                reply_parameters=rp,
            ),
        )
        return Outcome("sent", message_ids=[str(sent.message_id)], button_message_id=sent.message_id, card_kind="text")

    async def _add_buttons(
        self, job: Job, ids: list[str], markup: InlineKeyboardMarkup, card_kind: str
    ) -> Outcome:
        """Put the inline buttons on the message just sent with the keyboard removal."""
        chat, message_id = chat_arg(job.chat_id), int(ids[-1])
        try:
            await self._throttled(
                job.chat_id,
                lambda: self.bot.edit_message_reply_markup(chat_id=chat, message_id=message_id, reply_markup=markup),
                edit=True,
            )
        except TelegramBadRequest as exc:
            if NOT_MODIFIED not in api_description(exc).lower():
                raise
        return Outcome("sent", message_ids=ids, button_message_id=message_id, card_kind=card_kind)

    async def _neutral_album(self, job: Job) -> None:
        """Swap every photo of the album sent with a text card (several photos) for the neutral image:
        the album's message ids are those the card's first delivery recorded, besides the text's."""
        async with self._db_sem, self.sessionmaker() as session:
            sent = await session.scalar(
                select(OutboxMessage.result_message_ids)
                .where(OutboxMessage.card_id == job.card_id, OutboxMessage.kind == KIND_SEND)
                .order_by(OutboxMessage.id)
                .limit(1)
            )
        chat = chat_arg(job.chat_id)
        for raw in sent or []:
            album_id = int(raw)
            if album_id == job.edit_message_id:
                continue
            media = InputMediaPhoto(media=BufferedInputFile(NEUTRAL_JPEG.read_bytes(), filename="rahasia.jpg"))
            try:
                await self._throttled(
                    job.chat_id,
                    lambda: self.bot.edit_message_media(chat_id=chat, message_id=album_id, media=media),  # noqa: B023
                    edit=True,
                )
            except TelegramBadRequest as exc:
                if NOT_MODIFIED not in api_description(exc).lower():
                    raise

    async def _edit_card(self, job: Job) -> Outcome:
        """Re-render a card in place: caption for photo cards, text otherwise. Unchanged = done."""
        assert job.edit_message_id is not None
        chat = chat_arg(job.chat_id)
        message_id = job.edit_message_id
        text = job.message.text
        markup = render.inline_markup(job.message)
        try:
            if job.message.neutral_photo and job.card_kind != "photo":  # an album above a text card
                await self._neutral_album(job)
            if job.card_kind == "photo" and job.message.neutral_photo:  # a Rahasia card left behind
                neutral = InputMediaPhoto(
                    media=BufferedInputFile(NEUTRAL_JPEG.read_bytes(), filename="rahasia.jpg"),
                    caption=text, parse_mode="HTML",
                )
                await self._throttled(
                    job.chat_id,
                    lambda: self.bot.edit_message_media(
                        chat_id=chat, message_id=message_id, media=neutral, reply_markup=markup
                    ),
                    edit=True,
                )
            elif job.card_kind == "photo":
                await self._throttled(
                    job.chat_id,
                    lambda: self.bot.edit_message_caption(
                        chat_id=chat, message_id=message_id, caption=text, parse_mode="HTML", reply_markup=markup
                    ),
                    edit=True,
                )
            else:
                await self._throttled(
                    job.chat_id,
                    lambda: self.bot.edit_message_text(
                        text=text, chat_id=chat, message_id=message_id, parse_mode="HTML", reply_markup=markup
                    ),
                    edit=True,
                )
        except TelegramBadRequest as exc:
            if NOT_MODIFIED not in api_description(exc).lower():
                raise
        return Outcome("sent", message_ids=[str(message_id)], card_kind=job.card_kind)
    async def _save_progress(self, row_id: int, ids: list[str], attempt: Attempt) -> None:
        """Commit the parts already delivered (and new file ids) before sending the next part."""
        async with self._db_sem, self.sessionmaker() as session, session.begin():
            row = await session.get(OutboxMessage, row_id)
            if row is not None and row.status == PENDING:
                OutboxRepo(session).save_progress(row, ids)
            await self._save_file_ids(session, attempt)
        attempt.file_ids.clear()

    @staticmethod
    async def _save_file_ids(session: AsyncSession, attempt: Attempt) -> None:
        media = MediaRepo(session)
        for sha256, file_id in attempt.file_ids.items():
            await media.set_telegram_file_id(sha256, file_id)
