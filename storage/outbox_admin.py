"""The operator's view of the outbox (``sikesal outbox list`` / ``sikesal outbox retry``).

Reads columns only, never ``payload``: an operator listing the queue sees ids, chats, kinds, statuses and
errors, not what citizens wrote. Functions take the caller's session and never commit.

Retrying a failed row sets it back to ``pending`` with ``attempts=0``, due now, without a lease, and keeps
the old error in ``last_error`` behind a note; a running bot picks it up within its poll interval. The
sender renders ``edit_card`` rows (and a card's first ``send``) from the card's current state at send
time, so a retried card shows what is true now, not what was true when it failed. A retried row becomes
the oldest pending row of its chat, so it goes out before anything queued for that chat after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import OutboxMessage, utcnow

PENDING = "pending"
FAILED = "failed"
#: ``last_error`` stays short: it is for humans (the same bound as storage.outbox)
MAX_ERROR_CHARS = 1000


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One outbox row as the operator sees it (no message text)."""

    id: int
    channel: str
    chat_id: str
    kind: str
    status: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    complaint_id: int | None
    #: the process delivering it right now, while its lease lasts
    lease_owner: str | None
    lease_until: datetime | None

    def leased(self, now: datetime) -> bool:
        return self.lease_owner is not None and self.lease_until is not None and self.lease_until > now


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """Per channel: how many rows wait and since when, and how many failed for good."""

    channel: str
    pending: int = 0
    oldest_pending_at: datetime | None = None
    failed: int = 0


@dataclass(slots=True)
class RetryResult:
    retried: list[int] = field(default_factory=list)
    #: ids that were not retried, with why ("not found", "is sent", "is pending already", ...)
    skipped: dict[int, str] = field(default_factory=dict)


_COLUMNS = (
    OutboxMessage.id,
    OutboxMessage.channel,
    OutboxMessage.chat_id,
    OutboxMessage.kind,
    OutboxMessage.status,
    OutboxMessage.attempts,
    OutboxMessage.created_at,
    OutboxMessage.next_attempt_at,
    OutboxMessage.last_error,
    OutboxMessage.complaint_id,
    OutboxMessage.lease_owner,
    OutboxMessage.lease_until,
)


async def summary(session: AsyncSession) -> list[QueueSummary]:
    """Pending and failed counts per channel (one grouped query), channels in name order."""
    rows = (
        await session.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count(), func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status.in_((PENDING, FAILED)))
            .group_by(OutboxMessage.channel, OutboxMessage.status)
        )
    ).all()
    pending: dict[str, tuple[int, datetime | None]] = {}
    failed: dict[str, int] = {}
    for channel, status, count, oldest in rows:
        if status == PENDING:
            pending[str(channel)] = (int(count), _utc(oldest))
        else:
            failed[str(channel)] = int(count)
    return [
        QueueSummary(
            channel=channel,
            pending=pending.get(channel, (0, None))[0],
            oldest_pending_at=pending.get(channel, (0, None))[1],
            failed=failed.get(channel, 0),
        )
        for channel in sorted(set(pending) | set(failed))
    ]


async def list_rows(
    session: AsyncSession, *, failed_only: bool = False, limit: int = 50, channel: str | None = None
) -> list[OutboxRow]:
    """Pending and failed rows (only failed ones with ``failed_only``), newest first, at most ``limit``."""
    statuses = (FAILED,) if failed_only else (PENDING, FAILED)
    stmt = select(*_COLUMNS).where(OutboxMessage.status.in_(statuses))
    if channel is not None:
        stmt = stmt.where(OutboxMessage.channel == channel)
    stmt = stmt.order_by(OutboxMessage.id.desc()).limit(limit)
    out: list[OutboxRow] = []
    for row in (await session.execute(stmt)).all():
        (row_id, row_channel, chat_id, kind, status, attempts, created, next_at, error, complaint,
         lease_owner, lease_until) = row
        out.append(
            OutboxRow(
                id=int(row_id), channel=str(row_channel), chat_id=str(chat_id), kind=str(kind), status=str(status),
                attempts=int(attempts or 0), created_at=_utc(created) or utcnow(),
                next_attempt_at=_utc(next_at) or utcnow(), last_error=error, complaint_id=complaint,
                lease_owner=lease_owner, lease_until=_utc(lease_until),
            )
        )
    return out


def _requeue(now: datetime) -> dict[str, object]:
    note = f"retried by an operator at {now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC; before: "
    return {
        "status": PENDING,
        "attempts": 0,
        "next_attempt_at": now,
        "lease_owner": None,
        "lease_until": None,
        "last_error": func.substr(literal(note) + func.coalesce(OutboxMessage.last_error, "?"), 1, MAX_ERROR_CHARS),
    }


async def retry(session: AsyncSession, ids: Sequence[int], *, now: datetime | None = None) -> RetryResult:
    """Put the failed rows among ``ids`` back in the queue; says why the others were left alone."""
    at = now or utcnow()
    wanted = sorted(set(ids))
    result = RetryResult()
    if not wanted:
        return result
    found = dict(
        (await session.execute(select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(wanted)))).all()
    )
    failed = [row_id for row_id in wanted if found.get(row_id) == FAILED]
    for row_id in wanted:
        status = found.get(row_id)
        if status is None:
            result.skipped[row_id] = "not found"
        elif status == PENDING:
            result.skipped[row_id] = "is pending already (it will be sent; nothing to retry)"
        elif status != FAILED:
            result.skipped[row_id] = f"is {status}, not failed"
    if failed:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(failed), OutboxMessage.status == FAILED)
            .values(**_requeue(at))
            .execution_options(synchronize_session=False)
        )
    result.retried = failed
    return result


async def retry_all_failed(session: AsyncSession, *, now: datetime | None = None, channel: str | None = None) -> int:
    """Put every failed row (of ``channel``) back in the queue; returns how many."""
    stmt = update(OutboxMessage).where(OutboxMessage.status == FAILED)
    if channel is not None:
        stmt = stmt.where(OutboxMessage.channel == channel)
    result = await session.execute(stmt.values(**_requeue(now or utcnow())).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
