"""The dashboard's overview figures (issue 13): open, overdue and new counts, the per-agency table and the
30-day trend, for what one account may see.

It must stay fast at 100k complaints: counts and rates are one ``GROUP BY agency`` with ``SUM(CASE ...)``
over the complaints received in the window (the same rules as :mod:`storage.reports`, which the figures
are checked against in the tests); medians have no portable SQL form, so they are computed over at most
:data:`MEDIAN_SAMPLE` of the window's most recent complaints (the page says so); the trend counts each day
over the created_at index and bins the window's resolution times. The pages cache the result for a minute
(:mod:`bot.web.snapshots`). The list filter and the other pages' queries are in :mod:`storage.dashboard`.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from handlers.lifecycle import Status
from handlers.web_roles import Role
from storage.dashboard import (
    AGENCY_KEY,
    MEDIAN_SAMPLE,
    local_day_start,
    resolved_condition,
    sum_if,
    visible_to,
)
from storage.models import Complaint
from storage.reports import ALL, OPEN_STATUSES, ReportRow, first_accept_column, overdue_condition


@dataclass(slots=True)
class Overview:
    """The overview's figures for what one account may see."""

    open_now: int
    overdue_now: int
    new_today: int
    #: one row per agency (category ``ALL``), in the order asked for; ``overdue_now`` counts every open
    #: complaint of the agency past its clock now, the other figures the complaints received in the window
    rows: list[ReportRow]
    total: ReportRow
    since: datetime
    days: list[date]
    received: list[int]
    resolved: list[int]
    #: False when the window held more than :data:`MEDIAN_SAMPLE` complaints: the medians and the
    #: accepted-on-time rate are then those of its most recent :data:`MEDIAN_SAMPLE`
    exact: bool = True


async def _now_counts(
    session: AsyncSession, where: list[ColumnElement[bool]], *, now: datetime, today: datetime
) -> dict[str, tuple[int, int, int]]:
    """agency -> (open, overdue now, received today): the open ones through the status index, today's
    through the created_at index (two small GROUP BYs rather than one scan of every complaint)."""
    is_open = Complaint.status.in_(OPEN_STATUSES)
    opened = {agency: (int(n or 0), int(late or 0)) for agency, n, late in await session.execute(
        select(AGENCY_KEY, func.count(Complaint.id), sum_if(overdue_condition(now)))
        .where(*where, is_open)
        .group_by(AGENCY_KEY)
    )}
    todays = {agency: int(n or 0) for agency, n in await session.execute(
        select(AGENCY_KEY, func.count(Complaint.id))
        .where(*where, Complaint.created_at >= today)
        .group_by(AGENCY_KEY)
    )}
    return {
        agency: (*opened.get(agency, (0, 0)), todays.get(agency, 0)) for agency in {*opened, *todays}
    }


async def _window_counts(
    session: AsyncSession, where: list[ColumnElement[bool]], since: datetime
) -> dict[str, ReportRow]:
    """The figures that are plain counts, for the complaints received since ``since`` (the same rules as
    :mod:`storage.reports`), in one GROUP BY."""
    resolved = resolved_condition()
    on_time = and_(resolved, Complaint.due_at.is_not(None), Complaint.resolved_at <= Complaint.due_at)
    reopened = Complaint.reopen_count > 0
    stmt = (
        select(
            AGENCY_KEY, func.count(Complaint.id), sum_if(resolved), sum_if(on_time), sum_if(reopened),
            sum_if(or_(resolved, reopened)), sum_if(Complaint.rating.is_not(None)),
            func.sum(func.coalesce(Complaint.rating, 0)),
        )
        .where(*where, Complaint.created_at >= since)
        .group_by(AGENCY_KEY)
    )
    out: dict[str, ReportRow] = {}
    for agency, received, n_resolved, n_on_time, n_reopened, n_ever, n_ratings, rating_sum in await session.execute(stmt):
        out[agency] = ReportRow(
            agency, ALL, received=int(received or 0), resolved=int(n_resolved or 0),
            resolved_on_time=int(n_on_time or 0), reopened=int(n_reopened or 0), ever_resolved=int(n_ever or 0),
            ratings=int(n_ratings or 0), rating_sum=int(rating_sum or 0),
        )
    return out


async def _sample(
    session: AsyncSession, where: list[ColumnElement[bool]], since: datetime, rows: dict[str, ReportRow]
) -> bool:
    """Medians and the accepted-on-time count from the window's most recent :data:`MEDIAN_SAMPLE`
    complaints (all of them in a city's normal month); True when that was the whole window."""
    first_accept = first_accept_column()
    stmt = (
        select(Complaint.agency, Complaint.created_at, Complaint.accept_due_at, first_accept, Complaint.status,
               Complaint.resolved_at)
        .where(*where, Complaint.created_at >= since)
        .order_by(Complaint.created_at.desc(), Complaint.id.desc())
        .limit(MEDIAN_SAMPLE)
    )
    seen: dict[str, int] = {}
    on_time: dict[str, int] = {}
    for agency, created_at, accept_due_at, accepted_at, status, resolved_at in await session.execute(stmt):
        row = rows.get(agency)
        if row is None:
            continue
        seen[agency] = seen.get(agency, 0) + 1
        if accepted_at is not None:
            row.accept_hours.append((accepted_at - created_at).total_seconds() / 3600)
            if accept_due_at is not None and accepted_at <= accept_due_at:
                on_time[agency] = on_time.get(agency, 0) + 1
        if status == Status.SELESAI.value and resolved_at is not None:
            row.resolve_hours.append((resolved_at - created_at).total_seconds() / 3600)
    exact = True
    for agency, row in rows.items():
        sampled = seen.get(agency, 0)
        if sampled < row.received:  # a sample: the rate of the sample, scaled to the window
            exact = False
            row.accepted_on_time = round(on_time.get(agency, 0) * row.received / sampled) if sampled else 0
        else:
            row.accepted_on_time = on_time.get(agency, 0)
    return exact


def _total(rows: list[ReportRow]) -> ReportRow:
    total = ReportRow(ALL, ALL)
    for row in rows:
        for name in ("received", "accepted_on_time", "resolved", "resolved_on_time", "overdue_now", "reopened",
                     "ever_resolved", "ratings", "rating_sum"):
            setattr(total, name, getattr(total, name) + getattr(row, name))
        total.accept_hours += row.accept_hours
        total.resolve_hours += row.resolve_hours
    return total


def day_starts(first: date, count: int, timezone: str) -> list[datetime]:
    """The UTC instants the ``count`` city days from ``first`` begin, and the one after the last ends."""
    return [local_day_start(first + timedelta(days=i), timezone) for i in range(count + 1)]


async def _received_per_day(
    session: AsyncSession, where: list[ColumnElement[bool]], bounds: list[datetime]
) -> list[int]:
    """Complaints filed in each city day: one COUNT per day over a range of the created_at index
    (portable: no date functions; each count reads only that day's index entries)."""
    out = []
    for start, end in itertools.pairwise(bounds):
        stmt = select(func.count(Complaint.id)).where(*where, Complaint.created_at >= start, Complaint.created_at < end)
        out.append(int((await session.execute(stmt)).scalar_one()))
    return out


async def _resolved_per_day(
    session: AsyncSession, where: list[ColumnElement[bool]], bounds: list[datetime]
) -> list[int]:
    """Complaints resolved (and still so) in each city day: the resolution times of the window, found
    through the status index, binned here."""
    counts = [0] * (len(bounds) - 1)
    stmt = select(Complaint.resolved_at).where(
        *where, resolved_condition(), Complaint.resolved_at >= bounds[0], Complaint.resolved_at < bounds[-1]
    )
    for at in (await session.execute(stmt)).scalars():
        if at is None:
            continue
        index = bisect.bisect_right(bounds, at) - 1
        if 0 <= index < len(counts):
            counts[index] += 1
    return counts


async def overview(
    session: AsyncSession,
    role: Role | None,
    agencies: Sequence[str],
    *,
    now: datetime,
    timezone: str,
    days: int = 30,
) -> Overview:
    """The overview of the agencies ``role`` may see (``agencies``: the configured ones, in their order)."""
    where: list[ColumnElement[bool]] = [c for c in (visible_to(role),) if c is not None]
    shown = [a for a in agencies if role is None or role.can_see(a)]
    today = now.astimezone(ZoneInfo(timezone)).date()
    first = today - timedelta(days=days - 1)
    bounds = day_starts(first, days, timezone)
    since = bounds[0]
    now_counts = await _now_counts(session, where, now=now, today=bounds[-2])
    window = await _window_counts(session, where, since)
    for agency in shown:
        window.setdefault(agency, ReportRow(agency, ALL))
    exact = await _sample(session, where, since, window)
    for agency, row in window.items():
        row.overdue_now = now_counts.get(agency, (0, 0, 0))[1]
    extra = sorted(a for a in window if a not in shown)  # complaints of an agency no longer configured
    rows = [window[a] for a in [*shown, *extra]]
    received = await _received_per_day(session, where, bounds)
    resolved = await _resolved_per_day(session, where, bounds)
    return Overview(
        open_now=sum(v[0] for v in now_counts.values()),
        overdue_now=sum(v[1] for v in now_counts.values()),
        new_today=sum(v[2] for v in now_counts.values()),
        rows=rows,
        total=_total(rows),
        since=since,
        days=[first + timedelta(days=i) for i in range(days)],
        received=received,
        resolved=resolved,
        exact=exact,
    )
