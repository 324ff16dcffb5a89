"""The dashboard's read queries (issue 13): the complaint list's filter, the overview's figures, the
agencies page. Read-only, portable SQL (SQLite and PostgreSQL), no ORM row per complaint where a count will do.

The list filter is one object, :class:`ComplaintFilter`, read from the query string by :func:`parse_filters`
and turned into SQL by :func:`filtered_select`: the list page and the export read the same rows, and an agency
account's filter is always its own agency (whatever the query string says), so another agency's complaints
never appear in a list or an export.

The overview must stay fast at 100k complaints (p99 ≤ 200 ms): counts and rates are one ``GROUP BY agency``
with ``SUM(CASE ...)`` over the complaints received in the window (the same rules as
:mod:`storage.reports`, which the per-agency figures are checked against in the tests); medians have no
portable SQL form, so they are computed over at most :data:`MEDIAN_SAMPLE` of the window's most recent
complaints (documented on the page); the 30-day trend is one query per series with one ``SUM(CASE ...)``
column per day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from handlers.lifecycle import Status
from handlers.numbers import read_number
from handlers.web_roles import Account, Role
from storage.models import Complaint
from storage.reports import OPEN_STATUSES, overdue_condition

#: the list's sort keys and their columns
SORTS: dict[str, Any] = {
    "created": Complaint.created_at,
    "updated": Complaint.updated_at,
    "due": Complaint.due_at,
    "status": Complaint.status,
    "agency": Complaint.agency,
}
STATUSES = tuple(s.value for s in Status)
#: the most words of a search that are used (each must appear in the description)
MAX_WORDS = 8
#: medians are computed over at most this many of the window's most recent complaints
MEDIAN_SAMPLE = 5000


class _Query(Protocol):
    def get(self, key: str, default: Any = None) -> Any: ...


@dataclass(frozen=True, slots=True)
class ComplaintFilter:
    """What the complaint list (and its export) shows: every field optional, an empty filter is everything
    the account may see."""

    statuses: tuple[str, ...] = ()
    category: str | None = None
    agency: str | None = None
    kecamatan: str | None = None
    #: city-local dates, both inclusive
    date_from: date | None = None
    date_to: date | None = None
    overdue: bool = False
    q: str = ""
    sort: str = "created"
    desc: bool = True
    page: int = 1
    #: the city's time zone (the dates are its days)
    timezone: str = "Asia/Jakarta"
    #: the city's tracking-number prefix (``jmb-2026-7`` is read as JMB-2026-000007)
    prefix: str = "JMB"

    def query_items(self, *, page: int | None = None) -> list[tuple[str, str]]:
        """The filter as query-string pairs (pagination and export links keep it)."""
        items: list[tuple[str, str]] = [("status", s) for s in self.statuses]
        for key, value in (("category", self.category), ("agency", self.agency), ("kecamatan", self.kecamatan)):
            if value:
                items.append((key, value))
        if self.date_from:
            items.append(("from", self.date_from.isoformat()))
        if self.date_to:
            items.append(("to", self.date_to.isoformat()))
        if self.overdue:
            items.append(("overdue", "1"))
        if self.q:
            items.append(("q", self.q))
        if self.sort != "created" or not self.desc:
            items.append(("sort", self.sort))
            items.append(("dir", "desc" if self.desc else "asc"))
        chosen = self.page if page is None else page
        if chosen > 1:
            items.append(("page", str(chosen)))
        return items


def _values(query: Mapping[str, str] | Any, key: str) -> list[str]:
    getall = getattr(query, "getall", None)
    if getall is not None:
        return [str(v) for v in getall(key, [])]
    value = query.get(key)
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _one(query: Mapping[str, str] | Any, key: str, limit: int = 100) -> str | None:
    found = [v.strip() for v in _values(query, key) if v.strip()]
    return found[0][:limit] if found else None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def parse_filters(
    query: Mapping[str, str] | Any,
    account: Account | Role | None,
    *,
    timezone: str = "Asia/Jakarta",
    prefix: str = "JMB",
) -> ComplaintFilter:
    """Read the list's query string (``status`` repeated or comma separated, ``category``, ``agency``,
    ``kecamatan``, ``from``/``to`` as ``YYYY-MM-DD`` city dates, ``overdue=1``, ``q``, ``sort`` with
    ``dir=asc|desc`` or ``sort=-created``, ``page``). Unknown values are ignored, never an error. An agency
    account's filter is its own agency whatever the query asks."""
    statuses: list[str] = []
    for value in _values(query, "status"):
        for part in value.split(","):
            if part.strip() in STATUSES and part.strip() not in statuses:
                statuses.append(part.strip())
    sort_text = (_one(query, "sort") or "created").lower()
    desc = (_one(query, "dir") or "desc").lower() != "asc"
    if sort_text.startswith("-"):
        sort_text, desc = sort_text[1:], True
    if sort_text not in SORTS:
        sort_text = "created"
    try:
        page = max(1, min(int(_one(query, "page") or "1"), 1_000_000))
    except ValueError:
        page = 1
    role = account.role if isinstance(account, Account) else account
    agency = _one(query, "agency", 32)
    if role is not None and not role.sees_all:
        agency = role.agency
    return ComplaintFilter(
        statuses=tuple(statuses),
        category=_one(query, "category", 32),
        agency=agency,
        kecamatan=_one(query, "kecamatan", 64),
        date_from=_date(_one(query, "from")),
        date_to=_date(_one(query, "to")),
        overdue=(_one(query, "overdue") or "") in ("1", "true", "on", "yes"),
        q=(_one(query, "q", 200) or ""),
        sort=sort_text,
        desc=desc,
        page=page,
        timezone=timezone,
        prefix=prefix,
    )


def local_day_start(day: date, timezone: str) -> datetime:
    """The UTC instant a city-local day begins."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _search(q: str, prefix: str, now: datetime, timezone: str) -> ColumnElement[bool] | None:
    """A tracking number (``JMB-2026-000007``, ``jmb-2026-7``, ``2026/7``; a bare ``7`` is this year's, or
    the word 7) or words that must all appear in the description (case-insensitive, portable LIKE)."""
    text = q.strip()
    if not text:
        return None
    typed = read_number(text, prefix=prefix)
    if typed is not None and typed.full is not None:
        return Complaint.number == typed.full
    words = [w for w in text.lower().split() if w][:MAX_WORDS]
    described = and_(
        *(func.lower(Complaint.description).like(f"%{_like_escape(w)}%", escape="\\") for w in words)
    )
    if typed is not None and typed.sequence is not None:
        year = now.astimezone(ZoneInfo(timezone)).year
        return or_(Complaint.number == f"{prefix}-{year}-{typed.sequence:06d}", described)
    return described


def visible_to(role: Role | None) -> ColumnElement[bool] | None:
    """The rows an account's role may see (None: all)."""
    if role is None or role.sees_all:
        return None
    return Complaint.agency == (role.agency or "")


def filter_conditions(
    flt: ComplaintFilter, role: Role | None, *, now: datetime | None = None
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of ``flt`` for an account of ``role`` (its visibility included)."""
    now = now or datetime.now(UTC)
    where: list[ColumnElement[bool]] = []
    if (visible := visible_to(role)) is not None:
        where.append(visible)
    if flt.statuses:
        where.append(Complaint.status.in_(flt.statuses))
    if flt.category:
        where.append(Complaint.category == flt.category)
    if flt.agency:
        where.append(Complaint.agency == flt.agency)
    if flt.kecamatan:
        where.append(Complaint.kecamatan == flt.kecamatan)
    if flt.date_from:
        where.append(Complaint.created_at >= local_day_start(flt.date_from, flt.timezone))
    if flt.date_to:
        where.append(Complaint.created_at < local_day_start(flt.date_to + timedelta(days=1), flt.timezone))
    if flt.overdue:
        where.append(Complaint.status.in_(OPEN_STATUSES))
        where.append(overdue_condition(now))
    if (searched := _search(flt.q, flt.prefix, now, flt.timezone)) is not None:
        where.append(searched)
    return where


def filtered_select(
    flt: ComplaintFilter, account_role: Role | Account | None, *, now: datetime | None = None
) -> Select[Complaint]:
    """The ``Complaint`` rows of ``flt`` that ``account_role`` may see, in the filter's order, without a
    limit (the list pages it, the export streams it)."""
    role = account_role.role if isinstance(account_role, Account) else account_role
    column = SORTS.get(flt.sort, Complaint.created_at)
    order: list[Any] = []
    if flt.sort == "due":  # rows without a clock last, in both directions and on both databases
        order.append(case((Complaint.due_at.is_(None), 1), else_=0))
    order += [column.desc(), Complaint.id.desc()] if flt.desc else [column.asc(), Complaint.id.asc()]
    return select(Complaint).where(*filter_conditions(flt, role, now=now)).order_by(*order)


@dataclass(frozen=True, slots=True)
class ListPage:
    rows: list[Complaint]
    total: int
    page: int
    pages: int
    page_size: int


async def list_page(
    session: AsyncSession, flt: ComplaintFilter, role: Role | None, *, page_size: int, now: datetime | None = None
) -> ListPage:
    """One page of the filtered list and how many rows the filter matches in all."""
    now = now or datetime.now(UTC)
    where = filter_conditions(flt, role, now=now)
    total = int((await session.execute(select(func.count(Complaint.id)).where(*where))).scalar_one())
    pages = max(1, -(-total // page_size))
    page = min(flt.page, pages)
    stmt = filtered_select(replace(flt, page=page), role, now=now).limit(page_size).offset((page - 1) * page_size)
    rows = list((await session.execute(stmt)).scalars()) if total else []
    return ListPage(rows=rows, total=total, page=page, pages=pages, page_size=page_size)


__all__ = [
    "MEDIAN_SAMPLE",
    "SORTS",
    "ComplaintFilter",
    "ListPage",
    "filter_conditions",
    "filtered_select",
    "list_page",
    "local_day_start",
    "parse_filters",
    "visible_to",
]
