"""Read-only figures about complaints: the queue staff see with ``/antrian`` and ``/terlambat``, and the
performance report (``sikesal report``; the command centre's dashboard will read the same rows).

Plain rows out, no formatting: the callers decide how to show them. Portable SQL (SQLite and
PostgreSQL): the report reads one row per complaint of the period (with its first acceptance from the
audit trail) and aggregates in Python, because medians have no portable SQL form.

What the report counts, per agency and category of the complaints *received* in the period (the agency a
complaint is at now: a reassigned complaint counts where it went):

* ``accepted_on_time``: the first (not refused) ``accept`` in the audit trail is at or before
  ``accept_due_at``; the percentage is of the complaints received.
* ``resolved``: status *selesai* with a ``resolved_at``; ``resolved_on_time``: ``resolved_at <= due_at``,
  the percentage is of the complaints resolved.
* medians: from filing to the first acceptance, and from filing to ``resolved_at`` (hours).
* ``overdue_now``: open complaints past the clock they run against now (the accept clock while *baru*,
  the resolve clock otherwise; see :func:`handlers.staff_tools.running_clock`).
* ``reopened``: complaints reopened at least once (``reopen_count > 0``); the rate is of the complaints
  resolved at least once (resolved now, or reopened).
* ``rating_mean``: the mean of the citizens' 1-5 ratings, over ``ratings`` rated complaints.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from handlers.lifecycle import TERMINAL, Status
from handlers.staff_tools import is_overdue
from storage.models import AuditEntry, Card, Complaint

#: statuses of complaints someone still has to work on
OPEN_STATUSES = tuple(s.value for s in Status if s not in TERMINAL)
#: the category (or agency) of a total row
ALL = "*"


# --- the queue ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueRow:
    """An open complaint in the queue, with the message of its active card in the asking group (if any)."""

    id: int
    number: str
    status: str
    category: str
    agency: str
    created_at: datetime
    accept_due_at: datetime | None
    due_at: datetime | None
    card_message_id: int | None


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """SQL for "past the clock it runs against now" (the same rule as handlers.staff_tools.is_overdue)."""
    accepting = and_(Complaint.status == Status.BARU.value, Complaint.accept_due_at.is_not(None))
    return or_(
        and_(accepting, Complaint.accept_due_at <= now),
        and_(~accepting, Complaint.due_at.is_not(None), Complaint.due_at <= now),
    )


async def open_queue(
    session: AsyncSession,
    *,
    agency: str | None,
    chat_id: int,
    overdue_at: datetime | None = None,
    limit: int = 60,
) -> tuple[list[QueueRow], int]:
    """The open complaints of ``agency`` (None: every agency), oldest first, at most ``limit``, and how
    many there are in all. With ``overdue_at`` only those past their clock at that time."""
    where: list[ColumnElement[bool]] = [Complaint.status.in_(OPEN_STATUSES)]
    if agency is not None:
        where.append(Complaint.agency == agency)
    if overdue_at is not None:
        where.append(overdue_condition(overdue_at))
    total = int((await session.execute(select(func.count()).select_from(Complaint).where(*where))).scalar_one())
    if total == 0:
        return [], 0
    card_here = and_(Card.complaint_id == Complaint.id, Card.active.is_(True), Card.chat_id == chat_id)
    rows = (
        await session.execute(
            select(
                Complaint.id, Complaint.number, Complaint.status, Complaint.category, Complaint.agency,
                Complaint.created_at, Complaint.accept_due_at, Complaint.due_at, func.max(Card.message_id),
            )
            .outerjoin(Card, card_here)
            .where(*where)
            .group_by(Complaint.id)
            .order_by(Complaint.created_at, Complaint.id)
            .limit(limit)
        )
    ).all()
    return [QueueRow(*row) for row in rows], total


# --- the report -----------------------------------------------------------------------------------


@dataclass(slots=True)
class ReportRow:
    """The figures of one agency and category (``ALL`` in either for a total)."""

    agency: str
    category: str
    received: int = 0
    accepted_on_time: int = 0
    resolved: int = 0
    resolved_on_time: int = 0
    overdue_now: int = 0
    reopened: int = 0
    #: complaints resolved at least once (resolved now, or reopened): the base of the reopen rate
    ever_resolved: int = 0
    ratings: int = 0
    rating_sum: int = 0
    accept_hours: list[float] = field(default_factory=list)
    resolve_hours: list[float] = field(default_factory=list)

    @property
    def accepted_on_time_pct(self) -> float | None:
        return _pct(self.accepted_on_time, self.received)

    @property
    def resolved_on_time_pct(self) -> float | None:
        return _pct(self.resolved_on_time, self.resolved)

    @property
    def reopen_rate_pct(self) -> float | None:
        return _pct(self.reopened, self.ever_resolved)

    @property
    def median_accept_hours(self) -> float | None:
        return statistics.median(self.accept_hours) if self.accept_hours else None

    @property
    def median_resolve_hours(self) -> float | None:
        return statistics.median(self.resolve_hours) if self.resolve_hours else None

    @property
    def rating_mean(self) -> float | None:
        return self.rating_sum / self.ratings if self.ratings else None


def _pct(part: int, whole: int) -> float | None:
    return 100.0 * part / whole if whole else None


def _hours(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() / 3600


@dataclass(frozen=True, slots=True)
class _Fact:
    agency: str
    category: str
    status: str
    created_at: datetime
    accept_due_at: datetime | None
    due_at: datetime | None
    resolved_at: datetime | None
    reopen_count: int
    rating: int | None
    first_accept: datetime | None


def _add(row: ReportRow, fact: _Fact, now: datetime) -> None:
    row.received += 1
    if fact.first_accept is not None:
        row.accept_hours.append(_hours(fact.created_at, fact.first_accept))
        if fact.accept_due_at is not None and fact.first_accept <= fact.accept_due_at:
            row.accepted_on_time += 1
    resolved = fact.status == Status.SELESAI.value and fact.resolved_at is not None
    if resolved:
        assert fact.resolved_at is not None
        row.resolved += 1
        row.resolve_hours.append(_hours(fact.created_at, fact.resolved_at))
        if fact.due_at is not None and fact.resolved_at <= fact.due_at:
            row.resolved_on_time += 1
    if resolved or fact.reopen_count > 0:
        row.ever_resolved += 1
    if fact.reopen_count > 0:
        row.reopened += 1
    if is_overdue(fact.status, fact.accept_due_at, fact.due_at, now):
        row.overdue_now += 1
    if fact.rating is not None:
        row.ratings += 1
        row.rating_sum += fact.rating


class Summary:
    """Adds complaints up one at a time (the report streams them: a city's whole history need not fit in
    memory, only two durations per complaint for the medians)."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._rows: dict[tuple[str, str], ReportRow] = {}
        self._agencies: dict[str, ReportRow] = {}
        self._city = ReportRow(ALL, ALL)

    def add(self, fact: _Fact) -> None:
        key = (fact.agency, fact.category)
        row = self._rows.get(key) or self._rows.setdefault(key, ReportRow(*key))
        agency = self._agencies.get(fact.agency) or self._agencies.setdefault(fact.agency, ReportRow(fact.agency, ALL))
        for target in (row, agency, self._city):
            _add(target, fact, self.now)

    def rows(self) -> list[ReportRow]:
        """Rows per agency and category (sorted by their keys), each agency's total (category ``ALL``) after
        its categories, and the city's total (``ALL``, ``ALL``) last; nothing when there is nothing."""
        by_agency: dict[str, list[ReportRow]] = defaultdict(list)
        for (agency_key, _category), row in sorted(self._rows.items()):
            by_agency[agency_key].append(row)
        out: list[ReportRow] = []
        for agency_key in sorted(by_agency):
            out += by_agency[agency_key]
            out.append(self._agencies[agency_key])
        return [*out, self._city] if out else []


def summarise(facts: Iterable[_Fact], now: datetime) -> list[ReportRow]:
    """The report rows of ``facts`` (see :class:`Summary`)."""
    summary = Summary(now)
    for fact in facts:
        summary.add(fact)
    return summary.rows()


def first_accept_column() -> ScalarSelect[datetime]:
    """A correlated subquery: the complaint's first (not refused) ``accept`` at its current agency (the
    first one after its last reassignment: the accept clock restarts there, and an accept at the agency
    it left does not count for this one). Shared with the dashboard's overview (storage.dashboard)."""
    moved = aliased(AuditEntry)
    last_reassign = (
        select(func.max(moved.at))
        .where(moved.complaint_id == Complaint.id, moved.action == "reassign", moved.refused == false())
        .correlate(Complaint)
        .scalar_subquery()
    )
    return (
        select(func.min(AuditEntry.at))
        .where(AuditEntry.complaint_id == Complaint.id, AuditEntry.action == "accept", AuditEntry.refused == false(),
               or_(last_reassign.is_(None), AuditEntry.at >= last_reassign))
        .correlate(Complaint)
        .scalar_subquery()
    )


async def complaint_report(
    session: AsyncSession, *, since: datetime | None, until: datetime | None, now: datetime
) -> list[ReportRow]:
    """The report of the complaints received in ``[since, until)`` (either open-ended when None); see
    the module docstring for what each figure counts. ``now`` decides what is overdue."""
    first_accept = first_accept_column()
    stmt = select(
        Complaint.agency, Complaint.category, Complaint.status, Complaint.created_at, Complaint.accept_due_at,
        Complaint.due_at, Complaint.resolved_at, Complaint.reopen_count, Complaint.rating, first_accept,
    )
    if since is not None:
        stmt = stmt.where(Complaint.created_at >= since)
    if until is not None:
        stmt = stmt.where(Complaint.created_at < until)
    summary = Summary(now)
    result = await session.stream(stmt.order_by(Complaint.id).execution_options(yield_per=2000))
    async for row in result:
        summary.add(_Fact(*row))  # type: ignore[call-arg]  # the row's ten columns, in _Fact's order
    return summary.rows()


__all__ = [
    "ALL",
    "OPEN_STATUSES",
    "QueueRow",
    "ReportRow",
    "Summary",
    "complaint_report",
    "first_accept_column",
    "open_queue",
    "overdue_condition",
    "summarise",
]
