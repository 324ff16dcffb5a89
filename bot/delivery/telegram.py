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

Where the parts live: the job and outcome types and the error classification in
:mod:`bot.delivery.telegram_outcomes`, rate-limited calls in :mod:`bot.delivery.telegram_calls`, sending
and card edits in :mod:`bot.delivery.telegram_send`, edits of a citizen's messages in
:mod:`bot.delivery.telegram_edits`; this module is the loop that reads a row, attempts it and records
the outcome.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from aiogram import Bot
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import aliased

from bot.delivery.group_flood import GroupFloodHook
from bot.delivery.loop import RECORD_RETRIES, Stopped
from bot.delivery.ratelimit import RateLimiter, RateLimits, is_group_chat
from bot.delivery.shared_limits import SharedRateLimiter
from bot.delivery.telegram_calls import GLOBAL_FLOOD_WINDOW
from bot.delivery.telegram_edits import CitizenEdits
from bot.delivery.telegram_outcomes import (
    CHAT_PROBLEMS,
    FILE_REFERENCE,
    FILE_TYPE_MISMATCH,
    NOT_MODIFIED,
    REPLY_NOT_FOUND,
    WRONG_FILE_ID,
    Action,
    Attempt,
    Job,
    Outcome,
    PhotoSource,
    UnusablePhoto,
    classify_error,
    is_chat_problem,
)
from bot.services.receipts import REASON_BLOCKED, WATCHED_ROLES
from handlers.messages import OutMessage
from storage.leases import claim_rows
from storage.models import Card, MediaFile, OutboxMessage, utcnow
from storage.outbox import (
    KIND_EDIT_CARD,
    KIND_SEND,
    PENDING,
    RENDER_AT_SEND,
    SUPERSEDED,
    Fresh,
    OutboxRepo,
    as_utc,
)
from storage.repositories import AgencyRepo, CardRepo, CitizenRepo, MessageLinkRepo

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from storage.media import MediaStore

log = logging.getLogger("sikesal.delivery")

CHANNEL = "telegram"
#: outcomes after which the chat goes on with its next row
CONTINUES = frozenset({"sent", "failed", "skip", "superseded"})
#: a card queued at most this long ago, with no edit of it queued since, is sent as it was rendered
FACE_CURRENT_FOR = timedelta(seconds=60)
_edits = aliased(OutboxMessage)
#: a card's state for :meth:`TelegramSender._face_current`, built once
_CARD_STATE = select(
    Card.active,
    select(func.count(_edits.id))
    .where(_edits.card_id == Card.id, _edits.kind == KIND_EDIT_CARD, _edits.status == PENDING)
    .scalar_subquery()
    .label("edits"),
).where(Card.id == bindparam("card_id"))


class TelegramSender(CitizenEdits):
    """Delivers pending ``telegram`` outbox rows. One instance per process; see :meth:`run`.

    ``wake()`` after committing a transaction that enqueued something makes delivery prompt; without it
    the sender still finds the row within ``poll_interval`` seconds.
    """

    name = "telegram-delivery"
    channel = CHANNEL
    #: floods in agency groups: digests and cards on demand go first (None: plain FIFO)
    group_flood: GroupFloodHook | None = None
    hand_over = True

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
        render_edit: Callable[[int], Awaitable[OutMessage | None]] | None = None,
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
        #: the face of an ``edit_card`` row marked RENDER_AT_SEND, asked for when it goes out (None: keep
        #: the queued face), e.g. a card /cari moved down linking to the fresh card sent just before
        self.render_edit = render_edit
        #: told (chat id, why, the card id of a first card rendering or None) when Telegram refuses a
        #: group itself (bot removed, group gone), so the card is re-routed (see bot.services.reroute)
        self.on_group_unreachable = on_group_unreachable
        self._floods: dict[str, float] = {}
        self.sent = 0
        self.failed = 0

    # ------------------------------------------------------------------ one row

    async def _process(self, row_id: int, *, nested: bool = False) -> bool:
        """Deliver one row and record the outcome. True if the chat may continue with its next row."""
        attempt = Attempt()
        fresh = self._ahead.pop(row_id, None)
        loaded = await self._load(row_id, fresh)
        if (not nested and self.group_flood is not None and isinstance(loaded, Job)
                and await self.group_flood.before(self, row_id, loaded.chat_id)):
            fresh = None
            loaded = await self._load(row_id)  # digests and cards on demand went first (bot.delivery.group_flood)
        if isinstance(loaded, Outcome) and loaded.prerequisite is not None and not nested:
            if await self._claim(loaded.prerequisite):
                try:
                    await self._process(loaded.prerequisite, nested=True)
                finally:
                    self._held.discard(loaded.prerequisite)
            loaded = await self._load(row_id)
        if loaded is None:
            return True
        if isinstance(loaded, Job):
            loaded = await self._refresh_card(loaded, committed_now=fresh is not None and fresh.committed_now)
        if isinstance(loaded, Outcome):
            job: Job | None = None
            outcome = loaded
        else:
            job = loaded
            outcome = await self._attempt(job, attempt)
        notice: tuple[int, str | None, tuple[str, str]] | None = None
        for pause in RECORD_RETRIES:
            try:
                notice = await self._record(row_id, job, outcome, attempt, chain=not nested)
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

    async def _refresh_card(self, job: Job, *, committed_now: bool = False) -> Job | Outcome:
        """A card's first rendering is sent as the complaint is *now*, however long it waited.

        ``committed_now``: the row was handed over by the commit that rendered it a moment ago (and
        that commit's state is the complaint's now), so rendering it again from the database is skipped."""
        if job.kind == KIND_EDIT_CARD and job.link_role == RENDER_AT_SEND and job.card_id is not None:
            face = await self.render_edit(job.card_id) if self.render_edit is not None else None
            if face is not None:
                job.message = face
            return job
        if (self.render_card is None or job.kind == KIND_EDIT_CARD or job.card_id is None or committed_now
                or job.face_current):
            return job
        fresh = await self.render_card(job.card_id)
        if fresh is None:
            return Outcome("superseded", error="the card was retired before it could be delivered")
        if fresh.to_dict() == job.message.to_dict():
            return job
        job.message = fresh
        if not job.progress:  # nothing of it is out yet: its photos are the complaint's current ones
            async with self._db_sem, self.sessionmaker() as session:
                sources = [await self._photo_source(session, p.sha256, p.telegram_file_id) for p in fresh.photos]
            job.photos = [s for s in sources if s is not None]
        return job
    async def _attempt(self, job: Job, attempt: Attempt) -> Outcome:
        """Make the API calls for ``job`` and classify what happened."""
        try:
            if job.kind == KIND_EDIT_CARD:
                return await self._edit_card(job)
            if job.message.edit is not None:
                return await self._edit_message(job, attempt)
            return await self._send(job, attempt)
        except Stopped:
            raise
        except Exception as exc:  # sorted by kind; the per-row safety net: one bad row must not stop delivery
            return classify_error(exc, job, self._scrub)

    # ------------------------------------------------------------------ reading

    @staticmethod
    def _job(row: OutboxMessage | Fresh, message: OutMessage) -> Job:
        return Job(
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
            row_chat=row.chat_id,
        )

    def _job_from_memory(self, fresh: Fresh) -> Job | Outcome | None:
        """A row known in memory that needs nothing else from the database (no card to edit or reply to, no
        photo to look up) becomes a job without a query; None: read it (see :meth:`_load`)."""
        if fresh.kind != KIND_SEND or (fresh.card_id is not None and not fresh.committed_now):
            return None  # a card read back is checked for changes (see _face_current)
        try:
            message = OutMessage.from_dict(fresh.payload)
        except (KeyError, TypeError, ValueError) as exc:
            return Outcome("failed", error=f"malformed payload: {exc!r}")
        ref = message.reply_to
        if message.photos or (ref is not None and ref.kind == "card" and ref.complaint_id is not None):
            return None
        job = self._job(fresh, message)
        if ref is not None and ref.message_id is not None:
            job.reply_to = int(ref.message_id)
        return job

    async def _load(self, row_id: int, fresh: Fresh | None = None) -> Job | Outcome | None:
        """Copy the row and what it refers to out of the database; an outcome if it cannot go now."""
        if fresh is not None:
            known = self._job_from_memory(fresh)
            if known is not None:
                return known
        async with self._db_sem, self.sessionmaker() as session:
            row = await session.get(OutboxMessage, row_id)
            if row is None or row.status != PENDING:
                return None
            try:
                message = OutMessage.from_dict(row.payload)
            except (KeyError, TypeError, ValueError) as exc:
                return Outcome("failed", error=f"malformed payload: {exc!r}")
            job = self._job(row, message)
            repo = OutboxRepo(session)
            if job.kind == KIND_EDIT_CARD:
                card = await session.get(Card, row.card_id) if row.card_id is not None else None
                if card is None:
                    return Outcome("failed", error="card to edit does not exist")
                if card.message_id is None:
                    waiting = await self._wait_for_card(repo, card, row, "waiting for the card to be delivered")
                    return waiting or Outcome("failed", error="card was never delivered; nothing to edit")
                job.edit_message_id = int(card.message_id)
                job.card_kind = card.kind
                job.chat_id = str(card.chat_id)
                return job
            if row.card_id is not None and self.render_card is not None:
                current = await self._face_current(session, row)
                if current is None:
                    return Outcome("superseded", error="the card was retired before it could be delivered")
                job.face_current = current
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
    ) -> Outcome | None:
        """A reply to (or an edit of) a card that is still queued waits for it. None: the card will never
        be delivered (its row failed), so there is nothing to wait for.

        If the card's row is in the same chat but queued after this one, per-chat FIFO would make them
        wait for each other forever; this worker owns the chat, so it delivers the card first.
        """
        pending = await repo.pending_card_send(card.id)
        if pending is None:
            return None
        same_chat = pending.chat_id == row.chat_id
        return Outcome(
            "retry", delay=self.defer_delay, count_attempt=False, error=why,
            prerequisite=pending.id if same_chat else None,
        )

    async def _face_current(self, session: AsyncSession, row: OutboxMessage) -> bool | None:
        """Whether a card's queued first rendering still shows the complaint as it is: the card is active,
        no edit of it is queued (every change to what a card shows queues one, delivered or not) and it was
        queued less than :data:`FACE_CURRENT_FOR` ago (its clock badge and nearby list age). One query
        instead of rendering the card again; None: the card was retired meanwhile."""
        found = (await session.execute(_CARD_STATE, {"card_id": row.card_id})).first()
        if found is None or not found.active:
            return None
        return found.edits == 0 and self.clock() - as_utc(row.created_at) <= FACE_CURRENT_FOR

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
    async def _photo_source(session: AsyncSession, sha256: str, file_id: str | None) -> PhotoSource | None:
        """Where a photo's bytes come from. A stored photo goes by the file id Telegram gave for OUR
        upload of its cleaned bytes (``media_files.telegram_file_id``), else is uploaded from disk; a file
        id carried by the message or complaint is used only when nothing is stored (it may be the sender's
        own, which would show their original with its metadata)."""
        stored = await session.get(MediaFile, sha256)
        if stored is not None:
            return PhotoSource(sha256=sha256, file_id=stored.telegram_file_id, path=stored.path)
        if file_id is None:
            return None
        return PhotoSource(sha256=sha256, file_id=file_id, path=None)

    # ------------------------------------------------------------------ writing

    async def _record(
        self, row_id: int, job: Job | None, outcome: Outcome, attempt: Attempt, *, chain: bool = False
    ) -> tuple[int, str | None, tuple[str, str]] | None:
        """Apply ``outcome`` to the row (and card, links, citizen, agency) in one short transaction.

        With ``chain`` (the worker goes on with its chat after this outcome), the chat's next pending row is
        read (and, with leases, claimed) in the same transaction and handed to the worker (:meth:`_chain`).
        For a notice to a citizen that is finished, returns (complaint id, why it failed or None)."""
        now = self.clock()
        chain = chain and job is not None and bool(job.row_chat) and outcome.action in CONTINUES
        following: OutboxMessage | None = None
        claimed = False
        async with self._db_sem, self.sessionmaker() as session, session.begin():
            repo = OutboxRepo(session)
            if chain:
                assert job is not None
                row, following = await repo.this_and_next(row_id, job.row_chat, self.channel)
                if row is None or row.chat_id != job.row_chat:
                    chain, following = False, None
            else:
                row = await session.get(OutboxMessage, row_id)
            await self._save_file_ids(session, attempt)
            if row is None:
                return None
            if row.status != PENDING and outcome.action != "sent":
                return None  # superseded (or finished) meanwhile: nothing left to decide
            chat_id = row.chat_id
            if following is not None and self.lease_owner is not None:
                claimed = bool(await claim_rows(session, OutboxMessage, [following.id], self.lease_owner,
                                                now=now, ttl=self.lease_ttl))
            if attempt.progress and outcome.action in ("retry", "flood") and row.status == PENDING:
                repo.save_progress(row, attempt.progress)
            notice = await self._apply(session, repo, row, job, outcome, now)
        if chain:
            self._chain(chat_id, row_id, following, claimed=claimed, now=now)
        return notice

    async def _apply(
        self, session: AsyncSession, repo: OutboxRepo, row: OutboxMessage, job: Job | None, outcome: Outcome,
        now: datetime,
    ) -> tuple[int, str | None, tuple[str, str]] | None:
        """The outcome's changes to ``row`` and what hangs on it, inside :meth:`_record`'s transaction."""
        row_id, chat_id = row.id, row.chat_id
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
    async def _record_links(session: AsyncSession, row: OutboxMessage, outcome: Outcome) -> None:
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


__all__ = [
    "CHANNEL",
    "CHAT_PROBLEMS",
    "FILE_REFERENCE",
    "FILE_TYPE_MISMATCH",
    "GLOBAL_FLOOD_WINDOW",
    "NOT_MODIFIED",
    "REPLY_NOT_FOUND",
    "WRONG_FILE_ID",
    "Action",
    "RateLimits",
    "TelegramSender",
    "UnusablePhoto",
    "is_chat_problem",
]
