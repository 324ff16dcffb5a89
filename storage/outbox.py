"""The transactional outbox: every outgoing message is a row written in the same transaction as the change
that caused it, and a channel sender (``bot.delivery``) delivers it afterwards.

Why: sending first and committing second loses data when the commit fails (the citizen was told something
the database does not know), and committing first then sending from memory loses the message when the
process dies. With the outbox, a crash at any point loses nothing; the only duplicate possible is a row
that the channel accepted but whose ``sent`` mark was not committed yet.

:class:`OutboxRepo` never commits: the caller's unit of work (or the sender's short transaction) does.
Per-chat order is preserved by :meth:`OutboxRepo.due`, which only ever offers the oldest pending row of a
chat, so a message never overtakes an earlier one in the same chat, even when the earlier one is waiting
for a retry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, event, func, inspect, select, update
from sqlalchemy.orm import Session, aliased

from storage.leases import lease_free
from storage.models import Card, OutboxMessage, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
    from sqlalchemy.sql.selectable import Subquery

    from handlers.messages import OutMessage

PENDING = "pending"
SENT = "sent"
FAILED = "failed"
SUPERSEDED = "superseded"
STATUSES = (PENDING, SENT, FAILED, SUPERSEDED)

KIND_SEND = "send"
KIND_EDIT_CARD = "edit_card"
#: ``link_role`` of an ``edit_card`` row whose face the sender asks for when it goes out (the Telegram
#: sender's ``render_edit`` hook): it names something queued just before it in the same chat, such as the
#: fresh card ``/cari`` posted, whose message id is known only then (see bot.services.staff_tools)
RENDER_AT_SEND = "render_at_send"
#: a job, not a message (issue 12, bot.services.erasure): delete one message at Twilio (payload ``{"sid": ...}``);
#: the WhatsApp sender carries it out and retries it like a message
KIND_TWILIO_DELETE = "twilio_delete"
#: the chat id of such a job: one per message, so no job waits behind another (or a citizen's messages)
TWILIO_DELETE_CHAT = "twilio-delete:"
#: ``link_role`` of the last message to a citizen who erased their data ("your data was erased"): once it
#: is delivered or given up, its chat id and text are scrubbed like the rest of the citizen's rows
ERASED_ROLE = "erased"
#: what such a row holds afterwards: no chat, no words
ERASED_CHAT = "erased"
#: an erased citizen's chat id starts with it (a keyed hash, see bot.services.erasure): a message queued for
#: them later (a status notice of a complaint still being handled) is stored as superseded, never sent
ERASED_PREFIX = "#"
#: channels nobody delivers to (an Open311 application's complaints: the app polls ``requests``); a message
#: queued there by any path (a follow-up question, a staff reply) is stored as superseded, without words
UNDELIVERED_CHANNELS = frozenset({"open311"})

#: ``last_error`` is for humans; a 64 KB HTML error page from a proxy is not worth storing whole.
MAX_ERROR_CHARS = 1000


def _forget_erased(row: OutboxMessage) -> None:
    """The last message to an erased citizen keeps neither their chat nor its words once it is done."""
    if row.link_role == ERASED_ROLE:
        row.chat_id = ERASED_CHAT
        row.payload = {"text": ""}


def _forget_document(row: OutboxMessage) -> None:
    """A file that went out (or was given up) is not kept: the /dataku JSON is a whole copy of a citizen's
    data, and the outbox row is only the means of sending it. Name and caption stay for the operator."""
    payload = row.payload or {}
    document = payload.get("document")
    if isinstance(document, dict) and document.get("content"):
        row.payload = {**payload, "document": {**document, "content": ""}}


def as_utc(value: datetime) -> datetime:
    """Return ``value`` as an aware UTC datetime.

    SQLite hands ``DateTime(timezone=True)`` columns back naive (it has no zone type); everything this
    project writes is UTC, so a naive value read back is UTC too.
    """
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _clip(error: str) -> str:
    return error if len(error) <= MAX_ERROR_CHARS else error[: MAX_ERROR_CHARS - 1] + "…"


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts for health checks and the admin CLI."""

    pending: int = 0
    sent: int = 0
    failed: int = 0
    superseded: int = 0
    #: the oldest pending row's ``created_at`` (None when nothing is pending): a growing lag means the
    #: sender is stuck or rate-limited
    oldest_pending_at: datetime | None = None
    #: pending rows whose last attempt failed and that are waiting for a retry
    retrying: int = 0


@dataclass(slots=True)
class Fresh:
    """A copy of a pending outbox row handed to its sender without reading it back (see :func:`attach_sink`)."""

    id: int
    channel: str
    chat_id: str
    kind: str
    payload: dict[str, Any]
    complaint_id: int | None
    card_id: int | None
    link_role: str | None
    link_staff_user_id: str | None
    attempts: int
    result_message_ids: list[str]
    next_attempt_at: datetime
    created_at: datetime
    #: handed over by the commit that queued it: its content was made from the state of that moment
    committed_now: bool = False
    #: ``time.monotonic()`` when it was handed over (0: read from the table)
    offered_at: float = 0.0

    @classmethod
    def of(cls, values: Any, *, committed_now: bool = False) -> Fresh:
        """From a row (or the dict of its loaded attributes)."""
        get: Callable[[str], Any] = values.get if isinstance(values, dict) else values.__dict__.get
        return cls(
            id=get("id"), channel=get("channel"), chat_id=get("chat_id"), kind=get("kind"),
            payload=get("payload"), complaint_id=get("complaint_id"), card_id=get("card_id"),
            link_role=get("link_role"), link_staff_user_id=get("link_staff_user_id"),
            attempts=get("attempts") or 0, result_message_ids=list(get("result_message_ids") or []),
            next_attempt_at=get("next_attempt_at"), created_at=get("created_at"), committed_now=committed_now,
        )


# -- handing committed rows to the senders ------------------------------------------------------------------
#
# Why: a sender that learns of a new row only by polling the table pays a query to find it and another to
# read it, per message. Rows queued through :class:`OutboxRepo` on a session of a sessionmaker with a sink
# attached are remembered in the session; when that session's transaction COMMITS, the rows still pending
# (and not undone by a rolled-back savepoint) are handed to the sinks as :class:`Fresh` copies. The table
# stays the truth: a sink that cannot use a row (its chat is busy, the process stops) leaves it to the poll.

_SINKS = "sikesal_outbox_sinks"
_NEW = "sikesal_outbox_new"
_BLIND = "sikesal_outbox_blind"
#: told when rows were queued on a session nobody hands over (another sessionmaker): a sender's belief that
#: a chat has nothing pending may be wrong from then on
_BLIND_WATCHERS: list[Callable[[], None]] = []
_NEEDED = ("id", "channel", "chat_id", "kind", "payload", "status", "next_attempt_at", "created_at")


def attach_sink(sessionmaker: async_sessionmaker[AsyncSession], sink: Callable[[list[Fresh]], None],
                on_blind: Callable[[], None]) -> None:
    """Hand every row committed through ``sessionmaker`` from now on to ``sink`` (synchronously, right
    after the commit, in the committing task). ``on_blind``: outbox rows were committed elsewhere."""
    info = sessionmaker.kw.setdefault("info", {})
    sinks = info.setdefault(_SINKS, [])
    if sink not in sinks:
        sinks.append(sink)
    if on_blind not in _BLIND_WATCHERS:
        _BLIND_WATCHERS.append(on_blind)


def detach_sink(sessionmaker: async_sessionmaker[AsyncSession], sink: Callable[[list[Fresh]], None],
                on_blind: Callable[[], None]) -> None:
    sinks = sessionmaker.kw.get("info", {}).get(_SINKS, [])
    if sink in sinks:
        sinks.remove(sink)
    if on_blind in _BLIND_WATCHERS:
        _BLIND_WATCHERS.remove(on_blind)


def _note_new(session: AsyncSession, row: OutboxMessage) -> None:
    info = session.info
    if info.get(_SINKS):
        info.setdefault(_NEW, []).append(row)
    elif _BLIND_WATCHERS:
        info[_BLIND] = True


@event.listens_for(Session, "after_commit")
def _hand_over(session: Session) -> None:
    info = session.info
    if info.pop(_BLIND, False):
        for watcher in list(_BLIND_WATCHERS):
            watcher()
    rows = info.pop(_NEW, None)
    sinks = info.get(_SINKS)
    if not rows or not sinks:
        return
    fresh: list[Fresh] = []
    for row in rows:
        state = inspect(row)
        values = state.dict  # never load: the transaction is over
        if not state.persistent or any(name not in values for name in _NEEDED) or values["status"] != PENDING:
            continue  # undone with a savepoint, expired or no longer pending: the table has the truth
        fresh.append(Fresh.of(values, committed_now=True))
    if fresh:
        for sink in list(sinks):
            sink(fresh)


@event.listens_for(Session, "after_soft_rollback")
def _forget_new(session: Session, previous_transaction: Any) -> None:
    if not previous_transaction.nested:  # a savepoint's rows are told apart at the commit (no longer persistent)
        session.info.pop(_NEW, None)
        session.info.pop(_BLIND, None)


_other = aliased(OutboxMessage)
#: the row being recorded and the chat's next pending row after it, in one statement built once
_THIS_AND_NEXT = select(OutboxMessage).where(
    OutboxMessage.id.in_([
        bindparam("row_id"),
        select(func.min(_other.id))
        .where(_other.chat_id == bindparam("chat_id"), _other.channel == bindparam("channel"),
               _other.status == PENDING, _other.id != bindparam("row_id"))
        .scalar_subquery(),
    ])
)


async def claim_head(session: AsyncSession, row_id: int, owner: str, *, now: datetime, ttl: float) -> bool:
    """Lease a row handed over in memory, only if it is still pending, due, free *and the oldest pending row
    of its chat*: another process may hold an older row of the same chat, and the chat's order comes first."""
    head = (
        select(func.min(_other.id))
        .where(_other.chat_id == OutboxMessage.chat_id, _other.channel == OutboxMessage.channel,
               _other.status == PENDING)
        .scalar_subquery()
    )
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now,
               lease_free(OutboxMessage, owner, now), OutboxMessage.id == head)
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=ttl))
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return result.scalar() is not None


class OutboxRepo:
    """Reads and writes outbox rows inside the caller's session. Never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ------------------------------------------------------------------ writing (the core's side)

    async def enqueue(
        self,
        channel: str,
        chat_id: str | int,
        message: OutMessage,
        *,
        complaint_id: int | None = None,
        link_role: str | None = None,
        link_staff_user_id: str | int | None = None,
        card_id: int | None = None,
        now: datetime | None = None,
    ) -> OutboxMessage:
        """Queue ``message`` for ``chat_id``; it is delivered only if the surrounding transaction commits.

        ``complaint_id`` + ``link_role`` ask the sender to record a :class:`~storage.models.MessageLink`
        for every message id the channel returns (so replies to it can be routed to the complaint).
        Flushed, so ``id`` is set and a bad foreign key fails here rather than at commit.
        """
        at = now or utcnow()
        row = OutboxMessage(
            channel=channel,
            chat_id=str(chat_id),
            kind=KIND_SEND,
            payload=message.to_dict(),
            complaint_id=complaint_id,
            card_id=card_id,
            link_role=link_role,
            link_staff_user_id=str(link_staff_user_id) if link_staff_user_id is not None else None,
            status=PENDING,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        if row.chat_id.startswith(ERASED_PREFIX):  # nobody to tell: not sent, and no words kept
            row.status, row.payload, row.last_error = SUPERSEDED, {"text": ""}, "the citizen erased their data"
        elif channel in UNDELIVERED_CHANNELS:  # an Open311 app reads statuses back: nothing to deliver
            row.status, row.payload, row.last_error = SUPERSEDED, {"text": ""}, "open311: the app reads it back"
        self.session.add(row)
        await self.session.flush()
        _note_new(self.session, row)
        return row

    async def enqueue_job(
        self, channel: str, chat_id: str, kind: str, payload: dict[str, Any], *, now: datetime | None = None
    ) -> OutboxMessage:
        """Queue a job that is not a message (``kind``, e.g. :data:`KIND_TWILIO_DELETE`) for ``channel``'s
        sender: the same durability, leases and retries as a message, after this transaction commits."""
        at = now or utcnow()
        row = OutboxMessage(channel=channel, chat_id=chat_id, kind=kind, payload=payload, status=PENDING,
                            attempts=0, next_attempt_at=at, created_at=at)
        self.session.add(row)
        await self.session.flush()
        _note_new(self.session, row)
        return row

    async def enqueue_card(self, card: Card, message: OutMessage, *, now: datetime | None = None) -> OutboxMessage:
        """Queue the first rendering of ``card`` in its agency group.

        On delivery the sender stores the message id and kind on the card and links the card (and album)
        messages to the complaint. ``card.id`` must be known: flush the new card first.
        """
        if card.id is None:
            raise ValueError("flush the card before enqueuing it (card.id is needed)")
        return await self.enqueue(
            "telegram",
            card.chat_id,
            message,
            complaint_id=card.complaint_id,
            link_role="card",
            card_id=card.id,
            now=now,
        )

    async def enqueue_card_edit(
        self, card: Card, message: OutMessage, *, now: datetime | None = None
    ) -> OutboxMessage:
        """Queue a re-render of ``card`` in place; older pending edits of the same card are superseded.

        Why coalesce: five status changes in a minute should cost the group one edit (and one unit of the
        20-per-minute budget), showing the latest state, not five.
        """
        if card.id is None:
            raise ValueError("flush the card before enqueuing an edit (card.id is needed)")
        at = now or utcnow()
        await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.card_id == card.id,
                OutboxMessage.kind == KIND_EDIT_CARD,
                OutboxMessage.status == PENDING,
            )
            .values(status=SUPERSEDED, last_error="superseded by a newer edit")
            .execution_options(synchronize_session="fetch")
        )
        row = OutboxMessage(
            channel="telegram",
            chat_id=str(card.chat_id),
            kind=KIND_EDIT_CARD,
            payload=message.to_dict(),
            complaint_id=card.complaint_id,
            card_id=card.id,
            status=PENDING,
            attempts=0,
            next_attempt_at=at,
            created_at=at,
        )
        self.session.add(row)
        await self.session.flush()
        _note_new(self.session, row)
        return row

    # ------------------------------------------------------------------ reading (the sender's side)

    def _heads(self, channel: str | None) -> Subquery:
        """Subquery: the id of the oldest pending row of every chat (the only row of a chat allowed out)."""
        stmt = select(func.min(OutboxMessage.id).label("id")).where(OutboxMessage.status == PENDING)
        if channel is not None:
            stmt = stmt.where(OutboxMessage.channel == channel)
        return stmt.group_by(OutboxMessage.channel, OutboxMessage.chat_id).subquery()

    async def due(self, now: datetime, *, limit: int = 200, channel: str | None = None) -> list[OutboxMessage]:
        """Pending rows to deliver now: per chat only the oldest pending row, and only if it is due.

        Ordered by id (roughly the order things happened). The grouping only touches pending rows, which
        the ``(status, next_attempt_at)`` index finds without scanning the sent history.
        """
        heads = self._heads(channel)
        stmt = (
            select(OutboxMessage)
            .join(heads, OutboxMessage.id == heads.c.id)
            .where(OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def due_heads(
        self, now: datetime, *, limit: int = 200, channel: str | None = None, owner: str | None = None
    ) -> list[tuple[int, str]]:
        """Like :meth:`due` but only ``(id, chat_id)``: the sender's scan needs no payloads, and
        loading and JSON-decoding every due row on each tick was a measurable cost under load.

        With ``owner`` (several processes), a chat whose head another process holds is left out: that
        process keeps the chat until its lease ends, and trying to claim it would be wasted work."""
        heads = self._heads(channel)
        stmt = (
            select(OutboxMessage.id, OutboxMessage.chat_id)
            .join(heads, OutboxMessage.id == heads.c.id)
            .where(OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        if owner is not None:
            stmt = stmt.where(lease_free(OutboxMessage, owner, now))
        return [(row_id, chat_id) for row_id, chat_id in (await self.session.execute(stmt)).all()]

    async def head_for_chat(self, chat_id: str | int, *, channel: str | None = None) -> OutboxMessage | None:
        """The oldest pending row of one chat (due or not), so a chat worker can keep going in order."""
        stmt = (
            select(OutboxMessage)
            .where(OutboxMessage.chat_id == str(chat_id), OutboxMessage.status == PENDING)
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        if channel is not None:
            stmt = stmt.where(OutboxMessage.channel == channel)
        return (await self.session.scalars(stmt)).first()

    async def this_and_next(self, row_id: int, chat_id: str, channel: str) -> tuple[OutboxMessage | None,
                                                                                   OutboxMessage | None]:
        """The row ``row_id`` and the oldest other pending row of its chat (what the chat sends after it),
        in one query: recording an outcome also tells the chat's worker what comes next."""
        rows = (await self.session.scalars(
            _THIS_AND_NEXT, {"row_id": row_id, "chat_id": chat_id, "channel": channel}
        )).all()
        this = next((r for r in rows if r.id == row_id), None)
        following = next((r for r in rows if r.id != row_id), None)
        return this, following

    async def recent_complaints(
        self, channel: str, chat_id: str, *, role: str, since: datetime, limit: int
    ) -> list[int]:
        """The complaints whose messages of ``role`` went to this chat since ``since``, latest first (one
        indexed query on the chat's rows). A message that failed for good does not count: nobody saw it."""
        last = func.max(OutboxMessage.created_at).label("last")
        rows = await self.session.execute(
            select(OutboxMessage.complaint_id, last)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.chat_id == chat_id,
                OutboxMessage.link_role == role,
                OutboxMessage.complaint_id.is_not(None),
                OutboxMessage.created_at >= since,
                OutboxMessage.status != "failed",
            )
            .group_by(OutboxMessage.complaint_id)
            .order_by(last.desc(), OutboxMessage.complaint_id.desc())
            .limit(limit)
        )
        return [int(complaint_id) for complaint_id, _at in rows if complaint_id is not None]

    async def complaints_with_role(
        self, channel: str, chat_id: str, role: str, complaint_ids: Sequence[int], *, since: datetime | None = None
    ) -> set[int]:
        """Which of ``complaint_ids`` have a message of ``role`` queued or delivered to this chat (one that
        failed for good does not count: the citizen never saw it, e.g. outside WhatsApp's window), written
        at or after ``since`` (the current round: a reopened complaint's earlier question does not count)."""
        if not complaint_ids:
            return set()
        query = select(OutboxMessage.complaint_id).where(
            OutboxMessage.channel == channel,
            OutboxMessage.chat_id == chat_id,
            OutboxMessage.link_role == role,
            OutboxMessage.complaint_id.in_(list(complaint_ids)),
            OutboxMessage.status.in_((PENDING, SENT)),
        )
        if since is not None:
            query = query.where(OutboxMessage.created_at >= since)
        rows = await self.session.scalars(query)
        return {int(c) for c in rows.all() if c is not None}

    async def next_due_at(self, *, channel: str | None = None) -> datetime | None:
        """When the earliest chat head becomes due (None if nothing is pending).

        Why heads only: a fresh row queued behind a deferred one is not deliverable, and taking the plain
        minimum would make the sender spin on it.
        """
        heads = self._heads(channel)
        stmt = select(func.min(OutboxMessage.next_attempt_at)).join(heads, OutboxMessage.id == heads.c.id)
        value = await self.session.scalar(stmt)
        return as_utc(value) if value is not None else None

    async def pending_card_send(self, card_id: int) -> OutboxMessage | None:
        """The still-queued first rendering of a card, if any (a reply to it or an edit of it must wait)."""
        stmt = (
            select(OutboxMessage)
            .where(
                OutboxMessage.card_id == card_id,
                OutboxMessage.kind == KIND_SEND,
                OutboxMessage.status == PENDING,
            )
            .order_by(OutboxMessage.id)
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    # ------------------------------------------------------------------ outcomes

    def mark_sent(self, row: OutboxMessage, message_ids: list[str], *, now: datetime) -> None:
        """The channel accepted the message; ``message_ids`` are its ids (album items, then the text)."""
        row.status = SENT
        row.lease_owner = row.lease_until = None
        row.sent_at = now
        row.attempts = (row.attempts or 0) + 1
        row.result_message_ids = [str(m) for m in message_ids]
        _forget_document(row)
        _forget_erased(row)

    def mark_retry(
        self, row: OutboxMessage, *, error: str, delay: float, now: datetime, count_attempt: bool = True
    ) -> None:
        """Try again after ``delay`` seconds. ``count_attempt=False`` for waits that are not failures
        (flood control, waiting for the card a reply points to)."""
        if count_attempt:
            row.attempts = (row.attempts or 0) + 1
        row.lease_owner = row.lease_until = None
        row.last_error = _clip(error)
        row.next_attempt_at = now + timedelta(seconds=max(0.0, delay))

    def mark_failed(self, row: OutboxMessage, *, error: str, now: datetime) -> None:
        """Give up for good (blocked by the user, chat gone, malformed message, too many attempts)."""
        row.status = FAILED
        row.lease_owner = row.lease_until = None
        row.attempts = (row.attempts or 0) + 1
        row.last_error = _clip(error)
        row.next_attempt_at = now
        _forget_document(row)
        _forget_erased(row)

    def save_progress(self, row: OutboxMessage, message_ids: list[str]) -> None:
        """Remember the parts of a multi-part message (album, then text) that are already delivered, so a
        retry after a failure (or a crash) of the next part does not send them again."""
        row.result_message_ids = [str(m) for m in message_ids]

    async def defer_chat(self, chat_id: str | int, until: datetime) -> int:
        """Push every pending row of a chat to ``until`` (a 429 for that chat); returns how many moved."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.chat_id == str(chat_id),
                OutboxMessage.status == PENDING,
                OutboxMessage.next_attempt_at < until,
            )
            .values(next_attempt_at=until)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def move_chat(self, old_chat_id: str | int, new_chat_id: str | int) -> int:
        """Re-address pending rows after a group became a supergroup (Telegram gives it a new id)."""
        result = await self.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.chat_id == str(old_chat_id), OutboxMessage.status == PENDING)
            .values(chat_id=str(new_chat_id))
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def pending_count(self, *, channel: str | None = None) -> int:
        """How many rows are waiting (due or deferred)."""
        stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == PENDING)
        if channel is not None:
            stmt = stmt.where(OutboxMessage.channel == channel)
        return int(await self.session.scalar(stmt) or 0)

    async def stats(self) -> OutboxStats:
        """Counts per status plus the age of the backlog."""
        rows = (
            await self.session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            )
        ).all()
        counts = {str(status): int(count) for status, count in rows}
        oldest = await self.session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == PENDING)
        )
        retrying = await self.session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == PENDING, OutboxMessage.attempts > 0)
        )
        return OutboxStats(
            pending=counts.get(PENDING, 0),
            sent=counts.get(SENT, 0),
            failed=counts.get(FAILED, 0),
            superseded=counts.get(SUPERSEDED, 0),
            oldest_pending_at=as_utc(oldest) if oldest is not None else None,
            retrying=int(retrying or 0),
        )
