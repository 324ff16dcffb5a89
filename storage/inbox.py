"""The inbound inbox (``inbound_messages``): every Telegram update and WhatsApp message is stored here
before the platform is told it arrived, then processed per sender in order (see
:mod:`bot.telegram.intake`, :mod:`bot.whatsapp.inbox` and :class:`bot.delivery.loop.InboxLoop`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import Integer, Select, Table, bindparam, delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from storage.leases import lease_free
from storage.models import InboundMessage
from storage.repositories import NEXT_HEAD, _clip, _Repo

if TYPE_CHECKING:
    from sqlalchemy.sql.selectable import Subquery

INBOX_PENDING = "pending"
INBOX_DONE = "done"
INBOX_FAILED = "failed"


_INBOX_TABLE = cast(Table, InboundMessage.__table__)
#: built once: statement construction costs more than the INSERT itself (values are bound per call)
_STORE = {
    name: insert(_INBOX_TABLE).on_conflict_do_nothing(index_elements=["key"]).returning(_INBOX_TABLE.c.id)
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}




def _heads(by_channel: bool) -> Subquery:
    """Subquery: the id of every sender's first pending row (lowest ``seq``, then lowest id): the only
    row of that sender allowed to run (``:channel`` bound when ``by_channel``)."""
    first_seq = select(InboundMessage.sender.label("sender"), func.min(InboundMessage.seq).label("seq")).where(
        InboundMessage.status == INBOX_PENDING
    )
    if by_channel:
        first_seq = first_seq.where(InboundMessage.channel == bindparam("channel"))
    seqs = first_seq.group_by(InboundMessage.sender).subquery()
    return (
        select(func.min(InboundMessage.id).label("id"))
        .join(seqs, (InboundMessage.sender == seqs.c.sender) & (InboundMessage.seq == seqs.c.seq))
        .where(InboundMessage.status == INBOX_PENDING)
        .group_by(InboundMessage.sender)
        .subquery()
    )


@functools.cache
def _due_heads_statement(by_channel: bool, leased: bool) -> Select[int, str]:
    """Built once per shape (the poll runs it many times a second under load; building it cost more than
    running it); ``:now``, ``:limit``, ``:channel`` and ``:owner`` are bound per call."""
    heads = _heads(by_channel)
    stmt = (
        select(InboundMessage.id, InboundMessage.sender)
        .join(heads, InboundMessage.id == heads.c.id)
        .where(InboundMessage.next_attempt_at <= bindparam("now"))
        .order_by(InboundMessage.id)
        .limit(bindparam("limit", type_=Integer))
    )
    if leased:
        stmt = stmt.where(lease_free(InboundMessage, cast(str, bindparam("owner")), cast(datetime, bindparam("now"))))
    return stmt


@functools.cache
def _next_due_statement(by_channel: bool) -> Select[datetime]:
    heads = _heads(by_channel)
    return select(func.min(InboundMessage.next_attempt_at)).join(heads, InboundMessage.id == heads.c.id)


class InboxRepo(_Repo):
    """The inbound inbox (:class:`InboundMessage`): webhook messages stored first, processed later.

    The mirror of the outbox (:mod:`storage.outbox`) for the other direction: only the oldest
    pending row of a sender is ever offered, so a message waiting for a retry holds back that
    citizen's later ones (a photo is never attached to the wrong step of the conversation) while
    other senders proceed in parallel. Never commits; ``mark_*`` only change the row, the caller's
    transaction stores them.
    """

    async def add(
        self, key: str, channel: str, sender: str, payload: Mapping[str, Any], *, now: datetime,
        seq: int | None = None,
    ) -> bool:
        """Store a message once: True when stored, False when ``key`` is already there (redelivered).
        One ``INSERT ... ON CONFLICT DO NOTHING``, so the webhook's hot path needs no SAVEPOINT and two
        concurrent deliveries store exactly one row.

        ``seq`` orders a sender's rows: Telegram's ``update_id`` (webhooks of one chat may reach several
        processes and commit out of order); by default the arrival time in microseconds."""
        return await self.store(key, channel, sender, payload, now=now, seq=seq) is not None

    async def store(
        self, key: str, channel: str, sender: str, payload: Mapping[str, Any], *, now: datetime,
        seq: int | None = None,
    ) -> int | None:
        """:meth:`add`, answering the new row's id (None: ``key`` was already there), so the process
        that stored an update can hand it to its inbox in memory instead of reading it back."""
        values: dict[str, Any] = {
            "key": key,
            "channel": channel,
            "sender": str(sender),
            "payload": dict(payload),
            "status": INBOX_PENDING,
            "attempts": 0,
            "received_at": now,
            "next_attempt_at": now,
            "seq": seq if seq is not None else int(now.timestamp() * 1_000_000),
        }
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        stmt = _STORE.get(dialect)
        if stmt is not None:
            return (await self.session.execute(stmt, values)).scalar()
        row = await self._insert_or_none(InboundMessage(**values))
        return row.id if row is not None else None

    async def due_heads(
        self, now: datetime, *, limit: int = 100, channel: str | None = None, owner: str | None = None
    ) -> list[tuple[int, str]]:
        """``(id, sender)`` of every sender's first pending row, if it is due; ordered by id.

        A sender whose head waits for a retry is skipped entirely (its later rows are not offered).
        The grouping touches pending rows only, found through the ``(status, next_attempt_at)``
        index without scanning the processed history. With ``owner``, a sender whose head another
        process holds is left out (see :meth:`storage.outbox.OutboxRepo.due_heads`)."""
        params: dict[str, Any] = {"now": now, "limit": limit, "channel": channel, "owner": owner}
        result = await self.session.execute(_due_heads_statement(channel is not None, owner is not None), params)
        return [(row_id, sender) for row_id, sender in result.all()]

    async def next_due_at(self, *, channel: str | None = None) -> datetime | None:
        """When the earliest sender head becomes due (None: nothing pending). Heads only: a fresh
        row queued behind a deferred one cannot run, and waking up for it would spin."""
        value = await self.session.scalar(_next_due_statement(channel is not None), {"channel": channel})
        if value is None:
            return None
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)

    async def head_for_sender(self, sender: str) -> InboundMessage | None:
        """The sender's first pending row (due or not), so a per-sender worker keeps going in order."""
        stmt = (
            select(InboundMessage)
            .where(InboundMessage.sender == str(sender), InboundMessage.status == INBOX_PENDING)
            .order_by(InboundMessage.seq, InboundMessage.id)
            .limit(1)
        )
        return (await self.session.scalars(stmt)).first()

    async def head_due(self, sender: str) -> tuple[int, datetime] | None:
        """``(id, next_attempt_at)`` of the sender's first pending row: what a per-sender worker needs to
        go on, without loading (and decoding) the stored update."""
        row = (await self.session.execute(NEXT_HEAD, {"sender": str(sender)})).first()
        return (row[0], row[1]) if row is not None else None

    async def get(self, row_id: int) -> InboundMessage | None:
        return await self.session.get(InboundMessage, row_id)

    def mark_done(self, row: InboundMessage, *, now: datetime) -> None:
        """Processed; ``attempts`` counts every processing attempt, this one included."""
        row.lease_owner = row.lease_until = None
        row.status = INBOX_DONE
        row.attempts = (row.attempts or 0) + 1
        row.processed_at = now

    def mark_retry(self, row: InboundMessage, *, error: str, delay: float, now: datetime) -> None:
        """Try again after ``delay`` seconds (the sender's later messages wait behind this one)."""
        row.lease_owner = row.lease_until = None
        row.attempts = (row.attempts or 0) + 1
        row.last_error = _clip(error)
        row.next_attempt_at = now + timedelta(seconds=max(0.0, delay))

    def mark_failed(self, row: InboundMessage, *, error: str, now: datetime) -> None:
        """Give up for good (malformed form, too many attempts): unblocks the sender's next rows."""
        row.lease_owner = row.lease_until = None
        row.status = INBOX_FAILED
        row.attempts = (row.attempts or 0) + 1
        row.last_error = _clip(error)
        row.processed_at = now

    async def pending_count(self, *, channel: str | None = None) -> int:
        """How many rows wait (due or deferred): the backlog for health checks."""
        stmt = select(func.count()).select_from(InboundMessage).where(InboundMessage.status == INBOX_PENDING)
        if channel is not None:
            stmt = stmt.where(InboundMessage.channel == channel)
        return int(await self.session.scalar(stmt) or 0)

    async def prune(self, older_than: datetime) -> int:
        """Delete done and failed rows received before ``older_than`` (pending ones always stay);
        returns how many. Twilio stops redelivering long before, so the key is no longer needed."""
        result = await self.session.execute(
            delete(InboundMessage)
            .where(
                InboundMessage.status.in_((INBOX_DONE, INBOX_FAILED)),
                InboundMessage.received_at < older_than,
            )
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)
