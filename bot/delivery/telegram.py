"""The Telegram sender: delivers outbox rows through aiogram, in order per chat, within flood limits.

Why it is shaped this way:

* **Send outside transactions.** A row is read in one short session, sent with no session open (SQLite
  takes its write lock at BEGIN, see :func:`storage.db.make_engine`, so an HTTP call inside a
  transaction would stall every writer), then marked sent in a fresh short transaction. A crash between
  Telegram's answer and that commit resends the row once; that is the only duplicate possible, and the
  alternative (mark first, send second) would lose messages instead.
* **Multi-part messages save progress.** An album followed by its text commits the album's ids before the
  text goes out, so a retry (or a restart) sends only what is missing.
* **Per-chat FIFO.** :meth:`storage.outbox.OutboxRepo.due` offers only the oldest pending row of each chat;
  one worker task per chat sends them strictly in order, different chats in parallel (bounded).
* **Limits on our side.** :class:`~bot.delivery.ratelimit.RateLimiter` keeps us under Telegram's limits;
  a 429 still pauses the chat (in memory and in the database, so a restart respects it too).
* **Errors by kind.** Flood waits and migrations are not failures; blocked users and malformed messages
  fail for good at once; network and server trouble retries with capped exponential backoff. An
  unexpected exception fails one attempt of one row and never the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal, TypeVar

import aiohttp
from aiogram import Bot
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyKeyboardRemove,
    ReplyParameters,
)
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.delivery import render
from bot.delivery.loop import RECORD_RETRIES, OutboxLoop, Stopped
from bot.delivery.ratelimit import RateLimiter, RateLimits, is_group_chat
from bot.delivery.shared_limits import RedisError, SharedRateLimiter
from bot.services.receipts import REASON_BLOCKED, WATCHED_ROLES
from handlers.messages import EDIT_BUTTONS, OutMessage
from storage.images import reencode_jpeg
from storage.models import Card, MediaFile, OutboxMessage, utcnow
from storage.outbox import KIND_EDIT_CARD, PENDING, SUPERSEDED, OutboxRepo
from storage.repositories import AgencyRepo, CardRepo, CitizenRepo, MediaRepo, MessageLinkRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from storage.media import MediaStore

log = logging.getLogger("sikesal.delivery")

CHANNEL = "telegram"
T = TypeVar("T")

# Telegram's descriptions (see localapi.telegram.errors), matched case-insensitively as substrings
NOT_MODIFIED = "message is not modified"
REPLY_NOT_FOUND = "message to be replied not found"
WRONG_FILE_ID = "wrong file identifier"
FILE_REFERENCE = "file reference"
#: a document's file id sent as a photo (an image the citizen sent "as a file")
FILE_TYPE_MISMATCH = "type of file mismatch"
#: descriptions meaning the chat itself cannot be written to (not the message's fault)
CHAT_PROBLEMS = ("chat not found", "not enough rights", "have no rights", "chat_write_forbidden",
                 "bot is not a member", "bot was kicked", "group chat was deactivated", "chat was deleted",
                 "need administrator rights")

#: two chats hit by 429 within this many seconds -> the flood is bot-wide, pause everything
GLOBAL_FLOOD_WINDOW = 1.0


@dataclass(slots=True)
class _PhotoSource:
    sha256: str
    file_id: str | None
    path: str | None  # relative to the media directory; None if we have no bytes to upload


@dataclass(slots=True)
class _Job:
    """Everything needed to deliver one row, copied out of the read session (no ORM objects in flight)."""

    row_id: int
    chat_id: str
    kind: str
    message: OutMessage
    attempts: int
    complaint_id: int | None
    card_id: int | None
    link_role: str | None
    link_staff_user_id: str | None
    reply_to: int | None = None
    edit_message_id: int | None = None
    card_kind: str = "text"
    photos: list[_PhotoSource] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)


Action = Literal["sent", "retry", "failed", "flood", "migrated", "skip", "superseded"]


class UnusablePhoto(Exception):
    """A photo Telegram will not take (or we cannot decode): a card goes without it rather than not at all."""


def is_chat_problem(description: str) -> bool:
    """Telegram refused the chat, not the message (removed bot, deleted group, no rights to write)."""
    text = description.lower()
    return any(problem in text for problem in CHAT_PROBLEMS)


@dataclass(slots=True)
class _Outcome:
    action: Action
    message_ids: list[str] = field(default_factory=list)
    #: the message that carries the buttons (what a card's ``message_id`` must be)
    button_message_id: int | None = None
    card_kind: str = "text"
    error: str = ""
    delay: float = 0.0
    count_attempt: bool = True
    migrate_to: int | None = None
    blocked: bool = False
    #: the group itself refused us (bot removed, chat gone): re-route, and say so on ``agency list``
    unreachable: bool = False
    #: a row of the same chat that must be delivered first (the card this row replies to or edits)
    prerequisite: int | None = None


@dataclass(slots=True)
class _Attempt:
    """Side results gathered while sending, kept even when a later call of the same row fails."""

    file_ids: dict[str, str] = field(default_factory=dict)


def _chat_arg(chat_id: str) -> int | str:
    """aiogram wants an int for numeric ids (and a str for ``@username``)."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def _description(exc: TelegramAPIError) -> str:
    return str(exc.message)


class TelegramSender(OutboxLoop):
    """Delivers pending ``telegram`` outbox rows. One instance per process; see :meth:`run`.

    ``wake()`` after committing a transaction that enqueued something makes delivery prompt; without it
    the sender still finds the row within ``poll_interval`` seconds.
    """

    name = "telegram-delivery"
    channel = CHANNEL

    def __init__(
        self,
        bot: Bot,
        sessionmaker: async_sessionmaker[AsyncSession],
        media: MediaStore,
        *,
        limits: RateLimits | None = None,
        max_attempts: int = 12,
        poll_interval: float = 1.0,
        concurrency: int = 8,
        batch_size: int = 200,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        defer_delay: float = 2.0,
        shutdown_timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        on_notice_outcome: Callable[[int, str | None, tuple[str, str]], Awaitable[None]] | None = None,
        lease_owner: str | None = None,
        retry_for: timedelta | None = None,
        render_card: Callable[[int], Awaitable[OutMessage | None]] | None = None,
        on_group_unreachable: Callable[[int, str, int | None], Awaitable[None]] | None = None,
        shared_limiter: SharedRateLimiter | None = None,
    ) -> None:
        super().__init__(
            sessionmaker,
            max_attempts=max_attempts,
            poll_interval=poll_interval,
            concurrency=concurrency,
            batch_size=batch_size,
            backoff_base=backoff_base,
            backoff_cap=backoff_cap,
            shutdown_timeout=shutdown_timeout,
            clock=clock,
            lease_owner=lease_owner,
            retry_for=retry_for,
        )
        self.bot = bot
        self.media = media
        self.limits = limits or RateLimits()
        self.limiter = RateLimiter(self.limits, now=time.monotonic())
        #: the limits in Redis, shared by every process of the bot (None: this process counts alone)
        self.shared_limiter = shared_limiter
        self._shared_down_since: float | None = None
        self.defer_delay = defer_delay
        #: told (complaint id, reason or None) when a notice to a citizen failed for good or arrived, so
        #: the agency's card can say that the citizen was not told (see bot.services.receipts)
        self.on_notice_outcome = on_notice_outcome
        #: the card as it should look now (None: retired), so a card sent late shows the current state
        self.render_card = render_card
        #: told (chat id, why, the card id of a first card rendering or None) when Telegram refuses a
        #: group itself (bot removed, group gone), so the card is re-routed (see bot.services.reroute)
        self.on_group_unreachable = on_group_unreachable
        self._floods: dict[str, float] = {}
        self.sent = 0
        self.failed = 0

    # ------------------------------------------------------------------ one row

    async def _process(self, row_id: int, *, nested: bool = False) -> bool:
        """Deliver one row and record the outcome. True if the chat may continue with its next row."""
        attempt = _Attempt()
        loaded = await self._load(row_id)
        if isinstance(loaded, _Outcome) and loaded.prerequisite is not None and not nested:
            if await self._claim(loaded.prerequisite):
                try:
                    await self._process(loaded.prerequisite, nested=True)
                finally:
                    self._held.discard(loaded.prerequisite)
            loaded = await self._load(row_id)
        if loaded is None:
            return True
        if isinstance(loaded, _Job):
            loaded = await self._refresh_card(loaded)
        if isinstance(loaded, _Outcome):
            job: _Job | None = None
            outcome = loaded
        else:
            job = loaded
            outcome = await self._attempt(job, attempt)
        notice: tuple[int, str | None, tuple[str, str]] | None = None
        for pause in RECORD_RETRIES:
            try:
                notice = await self._record(row_id, job, outcome, attempt)
                break
            except SQLAlchemyError:
                # the message may already be out: losing this commit means sending it again later,
                # so a busy or briefly unreachable database is worth a few more tries
                if pause is None:
                    raise
                log.warning("could not record outbox row %s; retrying in %.1fs", row_id, pause, exc_info=True)
                await asyncio.sleep(pause)
        if notice is not None and self.on_notice_outcome is not None:
            try:
                await self.on_notice_outcome(*notice)
            except SQLAlchemyError:
                log.exception("could not record the notice outcome on complaint %s", notice[0])
        if outcome.action == "flood" and job is not None:
            await self._share_pause(job.chat_id, outcome.delay)
        if outcome.unreachable and job is not None and self.on_group_unreachable is not None:
            card_id = job.card_id if job.kind != KIND_EDIT_CARD else None
            try:
                await self.on_group_unreachable(int(job.chat_id), outcome.error, card_id)
            except (SQLAlchemyError, ValueError):
                log.exception("could not re-route after chat %s became unreachable", job.chat_id)
        return outcome.action in ("sent", "failed", "skip", "superseded")

    async def _refresh_card(self, job: _Job) -> _Job | _Outcome:
        """A card's first rendering is sent as the complaint is *now*, however long it waited."""
        if self.render_card is None or job.kind == KIND_EDIT_CARD or job.card_id is None:
            return job
        fresh = await self.render_card(job.card_id)
        if fresh is None:
            return _Outcome("superseded", error="the card was retired before it could be delivered")
        if fresh.to_dict() == job.message.to_dict():
            return job
        job.message = fresh
        if not job.progress:  # nothing of it is out yet: its photos are the complaint's current ones
            async with self._db_sem, self.sessionmaker() as session:
                sources = [await self._photo_source(session, p.sha256, p.telegram_file_id) for p in fresh.photos]
            job.photos = [s for s in sources if s is not None]
        return job

    async def _attempt(self, job: _Job, attempt: _Attempt) -> _Outcome:
        """Make the API calls for ``job`` and classify what happened."""
        try:
            if job.kind == KIND_EDIT_CARD:
                return await self._edit_card(job)
            if job.message.edit is not None:
                return await self._edit_message(job, attempt)
            return await self._send(job, attempt)
        except Stopped:
            raise
        except TelegramRetryAfter as exc:
            return _Outcome("flood", delay=float(exc.retry_after), error=self._scrub(str(exc)), count_attempt=False)
        except TelegramMigrateToChat as exc:
            return _Outcome("migrated", migrate_to=int(exc.migrate_to_chat_id), error=_description(exc))
        except TelegramForbiddenError as exc:
            group = is_group_chat(job.chat_id)
            return _Outcome("failed", error=_description(exc), blocked=not group, unreachable=group)
        except TelegramBadRequest as exc:
            unreachable = is_group_chat(job.chat_id) and is_chat_problem(_description(exc))
            return _Outcome("failed", error=_description(exc), unreachable=unreachable)
        except TelegramEntityTooLarge as exc:  # a TelegramNetworkError subclass, but permanent
            return _Outcome("failed", error=_description(exc))
        except (TelegramNetworkError, TelegramServerError, ClientDecodeError, aiohttp.ClientError) as exc:
            return _Outcome("retry", error=self._scrub(f"{type(exc).__name__}: {exc}"))
        except TimeoutError as exc:
            return _Outcome("retry", error=f"timeout: {exc}")
        except FileNotFoundError as exc:  # the media disk may be back later; max_attempts bounds the wait
            log.warning("outbox row %s: stored photo missing: %s", job.row_id, exc)
            return _Outcome("retry", error=f"photo file missing: {exc}")
        except TelegramAPIError as exc:  # 401/404/409: configuration trouble, worth retrying slowly
            log.error("telegram refused row %s: %s", job.row_id, self._scrub(str(exc)))
            return _Outcome("retry", error=self._scrub(str(exc)))
        except Exception as exc:  # the per-row safety net: one bad row must not stop delivery
            log.exception("unexpected error delivering outbox row %s", job.row_id)
            return _Outcome("retry", error=self._scrub(f"{type(exc).__name__}: {exc}"))

    # ------------------------------------------------------------------ reading

    async def _load(self, row_id: int) -> _Job | _Outcome | None:
        """Copy the row and what it refers to out of the database; an outcome if it cannot go now."""
        async with self._db_sem, self.sessionmaker() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None or row.status != PENDING:
                return None
            try:
                message = OutMessage.from_dict(row.payload)
            except (KeyError, TypeError, ValueError) as exc:
                return _Outcome("failed", error=f"malformed payload: {exc!r}")
            job = _Job(
                row_id=row.id,
                chat_id=row.chat_id,
                kind=row.kind,
                message=message,
                attempts=row.attempts or 0,
                complaint_id=row.complaint_id,
                card_id=row.card_id,
                link_role=row.link_role,
                link_staff_user_id=row.link_staff_user_id,
                progress=list(row.result_message_ids or []),
            )
            repo = OutboxRepo(session)
            if job.kind == KIND_EDIT_CARD:
                card = await session.get(Card, row.card_id) if row.card_id is not None else None
                if card is None:
                    return _Outcome("failed", error="card to edit does not exist")
                if card.message_id is None:
                    waiting = await self._wait_for_card(repo, card, row, "waiting for the card to be delivered")
                    return waiting or _Outcome("failed", error="card was never delivered; nothing to edit")
                job.edit_message_id = int(card.message_id)
                job.card_kind = card.kind
                job.chat_id = str(card.chat_id)
                return job
            ref = message.reply_to
            if ref is not None and ref.kind == "card" and ref.complaint_id is not None:
                card = await self._card_in_chat(session, ref.complaint_id, row.chat_id)
                if card is not None and card.message_id is not None:
                    job.reply_to = int(card.message_id)
                elif card is not None:
                    waiting = await self._wait_for_card(repo, card, row, "waiting for the card this replies to")
                    if waiting is not None:
                        return waiting
                    # the card failed for good: say it anyway, just not as a reply
            elif ref is not None and ref.message_id is not None:
                job.reply_to = int(ref.message_id)
            for photo in message.photos:
                source = await self._photo_source(session, photo.sha256, photo.telegram_file_id)
                if source is None:
                    log.warning("photo %s of outbox row %s is not stored; sending without it", photo.sha256, row.id)
                    continue
                job.photos.append(source)
            return job

    async def _wait_for_card(
        self, repo: OutboxRepo, card: Card, row: OutboxMessage, why: str
    ) -> _Outcome | None:
        """A reply to (or an edit of) a card that is still queued waits for it. None: the card will never
        be delivered (its row failed), so there is nothing to wait for.

        If the card's row is in the same chat but queued after this one, per-chat FIFO would make them
        wait for each other forever; this worker owns the chat, so it delivers the card first.
        """
        pending = await repo.pending_card_send(card.id)
        if pending is None:
            return None
        same_chat = pending.chat_id == row.chat_id
        return _Outcome(
            "retry", delay=self.defer_delay, count_attempt=False, error=why,
            prerequisite=pending.id if same_chat else None,
        )

    @staticmethod
    async def _card_in_chat(session: AsyncSession, complaint_id: int, chat_id: str) -> Card | None:
        """The card of the complaint in this chat: the active one if it is here, else the newest here.

        A reply can only point at a message of the same chat; a card elsewhere is no use.
        """
        try:
            chat = int(chat_id)
        except ValueError:
            return None
        stmt = (
            select(Card)
            .where(Card.complaint_id == complaint_id, Card.chat_id == chat)
            .order_by(Card.active.desc(), Card.id.desc())
            .limit(1)
        )
        return (await session.scalars(stmt)).first()

    @staticmethod
    async def _photo_source(session: AsyncSession, sha256: str, file_id: str | None) -> _PhotoSource | None:
        stored = await session.get(MediaFile, sha256)
        path = stored.path if stored is not None else None
        known = file_id or (stored.telegram_file_id if stored is not None else None)
        if known is None and path is None:
            return None
        return _PhotoSource(sha256=sha256, file_id=known, path=path)

    # ------------------------------------------------------------------ sending

    async def _throttled(
        self, chat_id: str, call: Callable[[], Awaitable[T]], *, cost: int = 1, edit: bool = False
    ) -> T:
        """Wait for the limiter (without holding a concurrency slot), then make the call.

        The limiter records the send while holding the slot, right before the request leaves, so the time
        it counts is as close as possible to what Telegram sees.
        """
        while True:
            async with self._sem:
                wait = await self._acquire(chat_id, cost=cost, edit=edit)
                if wait <= 0:
                    return await call()
            await self._sleep(wait)

    async def _acquire(self, chat_id: str, *, cost: int, edit: bool) -> float:
        """Ask the shared limiter (Redis) when there is one; while it cannot be reached, count locally."""
        if self.shared_limiter is not None:
            try:
                wait = await self.shared_limiter.acquire(chat_id, cost=cost, edit=edit)
            except (RedisError, OSError) as exc:
                if self._shared_down_since is None:
                    self._shared_down_since = time.monotonic()
                    log.error("the shared rate limiter (Redis) is unreachable (%s); counting limits in this "
                              "process only until it is back", type(exc).__name__)
            else:
                if self._shared_down_since is not None:
                    log.warning("the shared rate limiter (Redis) is back")
                    self._shared_down_since = None
                return wait
        return self.limiter.acquire(chat_id, time.monotonic(), cost=cost, edit=edit)

    async def _share_pause(self, chat_id: str, seconds: float) -> None:
        """Tell every process about a 429 (the chat's, and the whole bot's when several chats were hit)."""
        if self.shared_limiter is None:
            return
        try:
            await self.shared_limiter.pause(chat_id, seconds)
            if self.limiter.paused_until(None) > time.monotonic():
                await self.shared_limiter.pause(None, seconds)
        except (RedisError, OSError):
            log.warning("could not share a flood pause through Redis")

    async def _with_reply(
        self, chat_id: str, reply_to: int | None, make: Callable[[ReplyParameters | None], Awaitable[T]],
        *, cost: int = 1,
    ) -> T:
        """Send replying to ``reply_to``; if Telegram says that message is gone, send without the reply."""
        params = render.reply_parameters(reply_to)
        try:
            return await self._throttled(chat_id, lambda: make(params), cost=cost)
        except TelegramBadRequest as exc:
            if params is None or REPLY_NOT_FOUND not in _description(exc).lower():
                raise
            log.info("reply target %s in chat %s is gone; sending without reply", reply_to, chat_id)
        return await self._throttled(chat_id, lambda: make(None), cost=cost)

    async def _input(self, source: _PhotoSource, upload: bool) -> str | BufferedInputFile:
        if source.file_id is not None and not upload:
            return source.file_id
        if source.path is None:
            raise FileNotFoundError(f"no stored bytes for photo {source.sha256}")
        data = await self.media.read(source.path)
        # what leaves for a group is always a clean JPEG (files stored before re-encoding existed too)
        cleaned = await asyncio.to_thread(reencode_jpeg, data)
        if cleaned is None:
            raise UnusablePhoto(f"stored photo {source.sha256[:12]} does not decode as an image")
        return BufferedInputFile(cleaned, filename=f"{source.sha256[:16]}.jpg")

    async def _send_photos(
        self, job: _Job, group: tuple[int, ...], *, caption: str | None, markup: render.ReplyMarkup | None,
        reply_to: int | None, attempt: _Attempt,
    ) -> list[Message]:
        """One photo (sendPhoto) or an album (sendMediaGroup). Falls back to uploading the stored bytes
        once if a cached file_id was refused."""
        chat = _chat_arg(job.chat_id)
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
                text = _description(exc).lower()
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

    async def _send(self, job: _Job, attempt: _Attempt) -> _Outcome:
        """Send the row; if Telegram will not take its photos (even uploaded afresh) the message goes
        without them: a card must reach its agency, a photo is a detail of it."""
        try:
            return await self._send_parts(job, attempt)
        except (TelegramBadRequest, UnusablePhoto) as exc:
            if not job.photos or (isinstance(exc, TelegramBadRequest) and is_chat_problem(_description(exc))):
                raise
            log.warning("outbox row %s: photos refused (%s); sending it without them", job.row_id, exc)
            job.photos = []
            return await self._send_parts(job, attempt)

    async def _send_parts(self, job: _Job, attempt: _Attempt) -> _Outcome:
        """Photos first (one with caption, or albums), then the text with the markup.

        A message that must both take the reply keyboard away and show inline buttons (the summary
        after the location step) cannot say both in one call: Telegram takes one ``reply_markup``.
        It goes out with the keyboard removal, and the buttons are then put on that same message
        (editMessageReplyMarkup works on any message the bot sent), so the citizen gets one message."""
        message = job.message
        chat = _chat_arg(job.chat_id)
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
                await self._save_progress(job.row_id, ids, attempt)
                return await self._add_buttons(job, ids, later, "photo")
            return _Outcome("sent", message_ids=ids, button_message_id=int(ids[0]), card_kind="photo")
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
            await self._save_progress(job.row_id, ids, attempt)  # a retry must not send the text again
            return await self._add_buttons(job, ids, later, "text")
        return _Outcome("sent", message_ids=ids, button_message_id=sent.message_id, card_kind="text")

    async def _add_buttons(
        self, job: _Job, ids: list[str], markup: InlineKeyboardMarkup, card_kind: str
    ) -> _Outcome:
        """Put the inline buttons on the message just sent with the keyboard removal."""
        chat, message_id = _chat_arg(job.chat_id), int(ids[-1])
        try:
            await self._throttled(
                job.chat_id,
                lambda: self.bot.edit_message_reply_markup(chat_id=chat, message_id=message_id, reply_markup=markup),
                edit=True,
            )
        except TelegramBadRequest as exc:
            if NOT_MODIFIED not in _description(exc).lower():
                raise
        return _Outcome("sent", message_ids=ids, button_message_id=message_id, card_kind=card_kind)

    async def _edit_message(self, job: _Job, attempt: _Attempt) -> _Outcome:
        """Change an earlier message of this chat (:class:`handlers.messages.EditTarget`): its text and
        buttons, or only its buttons (none = take them off). "Not modified" is done. A message that can
        no longer be edited (deleted, too old, not text) gets a content edit as a new message, since the
        citizen must read it; taking buttons off such a message is simply dropped."""
        edit = job.message.edit
        assert edit is not None
        chat = _chat_arg(job.chat_id)
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
            reason = _description(exc) if isinstance(exc, TelegramBadRequest) else f"bad message id: {exc}"
            if NOT_MODIFIED in reason.lower():
                return _Outcome("sent")
            if isinstance(exc, TelegramBadRequest) and is_chat_problem(reason):
                raise
            if edit.mode == EDIT_BUTTONS:
                log.info("buttons of message %s in chat %s stay (%s)", edit.message_id, job.chat_id, reason)
                return _Outcome("sent")
            log.info("message %s in chat %s cannot be edited (%s); sending it anew", edit.message_id,
                     job.chat_id, reason)
            job.message = dataclasses.replace(job.message, edit=None)
            return await self._send(job, attempt)
        # no ids: nothing new reached the chat (the message changed is named in the row's payload)
        return _Outcome("sent")

    async def _edit_card(self, job: _Job) -> _Outcome:
        """Re-render a card in place: caption for photo cards, text otherwise. Unchanged = done."""
        assert job.edit_message_id is not None
        chat = _chat_arg(job.chat_id)
        message_id = job.edit_message_id
        text = job.message.text
        markup = render.inline_markup(job.message)
        try:
            if job.card_kind == "photo":
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
            if NOT_MODIFIED not in _description(exc).lower():
                raise
        return _Outcome("sent", message_ids=[str(message_id)], card_kind=job.card_kind)

    # ------------------------------------------------------------------ writing

    async def _save_progress(self, row_id: int, ids: list[str], attempt: _Attempt) -> None:
        """Commit the parts already delivered (and new file ids) before sending the next part."""
        async with self._db_sem, self.sessionmaker() as session, session.begin():
            row = await session.get(OutboxMessage, row_id)
            if row is not None and row.status == PENDING:
                OutboxRepo(session).save_progress(row, ids)
            await self._save_file_ids(session, attempt)
        attempt.file_ids.clear()

    @staticmethod
    async def _save_file_ids(session: AsyncSession, attempt: _Attempt) -> None:
        media = MediaRepo(session)
        for sha256, file_id in attempt.file_ids.items():
            await media.set_telegram_file_id(sha256, file_id)

    async def _record(
        self, row_id: int, job: _Job | None, outcome: _Outcome, attempt: _Attempt
    ) -> tuple[int, str | None, tuple[str, str]] | None:
        """Apply ``outcome`` to the row (and card, links, citizen, agency) in one short transaction.

        For a notice to a citizen that is finished, returns (complaint id, why it failed or None)."""
        now = self.clock()
        async with self._db_sem, self.sessionmaker() as session, session.begin():
            repo = OutboxRepo(session)
            row = await session.get(OutboxMessage, row_id)
            await self._save_file_ids(session, attempt)
            if row is None:
                return None
            if row.status != PENDING and outcome.action != "sent":
                return None  # superseded (or finished) meanwhile: nothing left to decide
            chat_id = row.chat_id
            if outcome.action == "sent":
                repo.mark_sent(row, outcome.message_ids, now=now)
                if job is not None and job.kind != KIND_EDIT_CARD:
                    await self._record_links(session, row, outcome)
                self.sent += 1
                self.processed += 1
                self._count("sent")
                log.info(
                    "delivered outbox row %s to chat %s (%s)",
                    row_id, chat_id, ",".join(outcome.message_ids),
                    extra={"outbox_id": row_id, "chat_id": chat_id, "message_ids": outcome.message_ids},
                )
                if row.complaint_id is not None and row.link_role in WATCHED_ROLES:
                    return row.complaint_id, None, (CHANNEL, chat_id)  # arrived: an earlier warning can go
            elif outcome.action == "failed":
                repo.mark_failed(row, error=outcome.error, now=now)
                self.failed += 1
                self.processed += 1
                self._count("failed")
                if outcome.blocked and not is_group_chat(chat_id):
                    await CitizenRepo(session).set_blocked(CHANNEL, chat_id, True)
                log.warning(
                    "outbox row %s to chat %s failed for good: %s", row_id, chat_id, outcome.error,
                    extra={"outbox_id": row_id, "chat_id": chat_id},
                )
                if row.complaint_id is not None and row.link_role in WATCHED_ROLES:
                    reason = REASON_BLOCKED if outcome.blocked else "Telegram: " + outcome.error[:120]
                    return row.complaint_id, reason, (CHANNEL, chat_id)
            elif outcome.action == "skip":
                self.processed += 1
            elif outcome.action == "superseded":
                row.status = SUPERSEDED
                row.lease_owner = row.lease_until = None
                row.last_error = outcome.error
                self.processed += 1
            elif outcome.action == "flood":
                until = now + timedelta(seconds=outcome.delay)
                repo.mark_retry(row, error=outcome.error, delay=outcome.delay, now=now, count_attempt=False)
                await repo.defer_chat(chat_id, until)
                self._pause(chat_id, outcome.delay)
                self._count("flood")
                log.warning(
                    "flood control in chat %s: waiting %.0fs", chat_id, outcome.delay,
                    extra={"outbox_id": row_id, "chat_id": chat_id, "retry_after": outcome.delay},
                )
            elif outcome.action == "migrated":
                assert outcome.migrate_to is not None
                new_chat = str(outcome.migrate_to)
                await AgencyRepo(session).migrate_chat(int(chat_id), outcome.migrate_to)
                await repo.move_chat(chat_id, new_chat)
                row.chat_id = new_chat
                row.next_attempt_at = now
                log.warning(
                    "group %s became supergroup %s; outbox re-addressed", chat_id, new_chat,
                    extra={"outbox_id": row_id, "chat_id": chat_id, "new_chat_id": new_chat},
                )
            else:  # retry
                if outcome.count_attempt and self._exhausted(row):
                    repo.mark_failed(row, error=f"gave up after {row.attempts + 1} attempts: {outcome.error}", now=now)
                    self.failed += 1
                    self.processed += 1
                    self._count("failed")
                    log.error("outbox row %s to chat %s: giving up: %s", row_id, chat_id, outcome.error,
                              extra={"outbox_id": row_id, "chat_id": chat_id})
                    if row.complaint_id is not None and row.link_role in WATCHED_ROLES:
                        return row.complaint_id, "Telegram: " + outcome.error[:120], (CHANNEL, chat_id)
                else:
                    delay = self._backoff(row.attempts or 0) if outcome.count_attempt else outcome.delay
                    repo.mark_retry(
                        row, error=outcome.error, delay=delay, now=now, count_attempt=outcome.count_attempt
                    )
                    if outcome.count_attempt:
                        self._count("retry")
                        log.warning(
                            "outbox row %s to chat %s: retry in %.1fs: %s", row_id, chat_id, delay, outcome.error,
                            extra={"outbox_id": row_id, "chat_id": chat_id},
                        )
        return None

    @staticmethod
    async def _record_links(session: AsyncSession, row: OutboxMessage, outcome: _Outcome) -> None:
        """Card rows: the card learns its message; the button message links as ``card``, album items as
        ``album``. Other rows: every message links with the row's ``link_role``."""
        links = MessageLinkRepo(session)
        if row.card_id is not None:
            card = await CardRepo(session).get(row.card_id)
            if card is None or outcome.button_message_id is None:
                return
            await CardRepo(session).set_message(card, outcome.button_message_id, outcome.card_kind)
            for message_id in outcome.message_ids:
                role = "card" if message_id == str(outcome.button_message_id) else "album"
                await links.add(CHANNEL, row.chat_id, message_id, card.complaint_id, role)
            return
        if row.complaint_id is not None and row.link_role:
            for message_id in outcome.message_ids:
                await links.add(
                    CHANNEL, row.chat_id, message_id, row.complaint_id, row.link_role,
                    staff_user_id=row.link_staff_user_id,
                )

    def _pause(self, chat_id: str, seconds: float) -> None:
        """Pause the chat; if another chat was hit within a second, Telegram is limiting the whole bot."""
        now = time.monotonic()
        until = now + seconds
        self.limiter.pause(chat_id, until)
        recent = [c for c, at in self._floods.items() if c != chat_id and now - at <= GLOBAL_FLOOD_WINDOW]
        self._floods = {c: at for c, at in self._floods.items() if now - at <= GLOBAL_FLOOD_WINDOW}
        self._floods[chat_id] = now
        if recent:
            log.warning("flood control in several chats at once: pausing all sends for %.0fs", seconds)
            self.limiter.pause(None, until)

    def _scrub(self, text: str) -> str:
        """Never let the bot token reach a log line or the database (aiohttp errors can carry the URL)."""
        token = getattr(self.bot, "token", None)
        return text.replace(token, "<token>") if token else text


__all__ = ["RateLimits", "TelegramSender"]
