"""The dashboard's read queries (storage/dashboard.py) on SQLite and PostgreSQL: the list filter (shared
with the export), its visibility rule for agency accounts, paging, and the overview's figures (the same as
storage.reports' for the same complaints)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta

from multidict import MultiDict
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.web_roles import Role, RoleKind
from storage.dashboard import (
    ComplaintFilter,
    filtered_select,
    list_page,
    parse_filters,
)
from storage.dashboard_overview import overview
from storage.models import AuditEntry, Complaint
from storage.reports import ALL, complaint_report
from storage.uow import UnitOfWork

MakeComplaint = Callable[..., Awaitable[Complaint]]
COMMAND = Role(RoleKind.COMMAND)
PUPR = Role(RoleKind.AGENCY, "pupr")
NOW = datetime(2026, 3, 10, 5, 0, tzinfo=UTC)  # 12:00 in Jambi (UTC+7)


async def _set(sessionmaker: async_sessionmaker[AsyncSession], complaint_id: int, **values: object) -> None:
    async with sessionmaker() as session:
        await session.execute(update(Complaint).where(Complaint.id == complaint_id).values(**values))
        await session.commit()


async def _numbers(sessionmaker: async_sessionmaker[AsyncSession], flt: ComplaintFilter, role: Role) -> list[str]:
    async with sessionmaker() as session:
        return [c.number for c in (await session.execute(filtered_select(flt, role, now=NOW))).scalars()]


def test_parse_filters_reads_the_query_and_pins_an_agency_account() -> None:
    query = MultiDict(
        [("status", "baru"), ("status", "diproses,nonsense"), ("category", "jalan"), ("agency", "dlh"),
         ("from", "2026-03-01"), ("to", "bad"), ("overdue", "1"), ("q", " lubang "), ("sort", "due"),
         ("dir", "asc"), ("page", "3")]
    )
    flt = parse_filters(query, COMMAND)
    assert flt.statuses == ("baru", "diproses")
    assert (flt.category, flt.agency, flt.date_from, flt.date_to) == ("jalan", "dlh", date(2026, 3, 1), None)
    assert flt.overdue and flt.q == "lubang" and flt.sort == "due" and not flt.desc and flt.page == 3
    assert parse_filters(query, PUPR).agency == "pupr"  # whatever the query says
    assert parse_filters({"sort": "drop table", "page": "x"}, None) == ComplaintFilter()
    assert ("page", "2") in flt.query_items(page=2) and ("status", "baru") in flt.query_items()


async def test_filters_and_visibility(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    a = await make_complaint(agency="pupr", category="jalan", now=NOW - timedelta(days=3))
    b = await make_complaint(agency="dlh", category="sampah", now=NOW - timedelta(days=1))
    c = await make_complaint(agency="pupr", category="jalan", now=NOW)
    await _set(sessionmaker, a.id, description="Jalan BERLUBANG besar 100% rusak", status="diproses",
               due_at=NOW - timedelta(hours=1), kecamatan="Telanaipura")
    await _set(sessionmaker, c.id, description="Lampu mati", due_at=NOW + timedelta(days=1))

    everything = ComplaintFilter()
    assert await _numbers(sessionmaker, everything, COMMAND) == [c.number, b.number, a.number]
    assert await _numbers(sessionmaker, everything, PUPR) == [c.number, a.number]
    # an agency filter for another agency never widens an agency account's view
    assert await _numbers(sessionmaker, ComplaintFilter(agency="dlh"), PUPR) == []
    assert await _numbers(sessionmaker, ComplaintFilter(statuses=("diproses",)), COMMAND) == [a.number]
    assert await _numbers(sessionmaker, ComplaintFilter(category="sampah"), COMMAND) == [b.number]
    assert await _numbers(sessionmaker, ComplaintFilter(kecamatan="Telanaipura"), COMMAND) == [a.number]
    assert await _numbers(sessionmaker, ComplaintFilter(overdue=True), COMMAND) == [a.number]
    # search: words (any case, all of them, LIKE wildcards taken literally), full numbers, short numbers
    assert await _numbers(sessionmaker, ComplaintFilter(q="berlubang JALAN"), COMMAND) == [a.number]
    assert await _numbers(sessionmaker, ComplaintFilter(q="100%"), COMMAND) == [a.number]
    assert await _numbers(sessionmaker, ComplaintFilter(q="10_%"), COMMAND) == []
    assert await _numbers(sessionmaker, ComplaintFilter(q=b.number.lower()), COMMAND) == [b.number]
    seq = int(b.number.rsplit("-", 1)[1])
    assert await _numbers(sessionmaker, ComplaintFilter(q=f"jmb-2026-{seq}"), COMMAND) == [b.number]
    assert await _numbers(sessionmaker, ComplaintFilter(q=str(seq)), COMMAND) == [b.number]
    # city-local dates: the 9th in Jambi is [2026-03-08 17:00, 2026-03-09 17:00) UTC
    day = (NOW - timedelta(days=1)).date()
    assert await _numbers(sessionmaker, ComplaintFilter(date_from=day, date_to=day), COMMAND) == [b.number]
    assert await _numbers(sessionmaker, ComplaintFilter(date_from=NOW.date()), COMMAND) == [c.number]
    # sorting by the deadline puts rows without one last, both ways
    assert await _numbers(sessionmaker, ComplaintFilter(sort="due", desc=False), COMMAND) == [a.number, c.number,
                                                                                              b.number]
    assert await _numbers(sessionmaker, ComplaintFilter(sort="due"), COMMAND) == [c.number, a.number, b.number]


async def test_list_page_counts_and_pages(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    made = [await make_complaint(agency="pupr", now=NOW - timedelta(minutes=i)) for i in range(12)]
    async with sessionmaker() as session:
        first = await list_page(session, ComplaintFilter(), COMMAND, page_size=5, now=NOW)
        last = await list_page(session, ComplaintFilter(page=9), COMMAND, page_size=5, now=NOW)
    assert (first.total, first.pages, first.page) == (12, 3, 1)
    assert [c.number for c in first.rows] == [c.number for c in made[:5]]
    assert last.page == 3 and [c.number for c in last.rows] == [c.number for c in made[10:]]


async def test_audit_rows_are_not_needed_for_the_list(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    """A complaint with audit entries is listed once (the list joins nothing)."""
    made = await make_complaint(agency="pupr", now=NOW)
    async with UnitOfWork(sessionmaker) as uow:
        for action in ("accept", "process"):
            uow.session.add(AuditEntry(complaint_id=made.id, at=NOW, actor_kind="staff", action=action))
        await uow.commit()
    assert await _numbers(sessionmaker, ComplaintFilter(), COMMAND) == [made.number]


async def test_overview_matches_the_report(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    """The overview's SQL aggregates give the report's figures for the same complaints (storage.reports)."""
    made = [
        await make_complaint(agency=agency, now=NOW - timedelta(days=days, hours=hours))
        for agency, days, hours in (("pupr", 2, 0), ("pupr", 1, 3), ("dlh", 0, 1), ("dlh", 5, 0), ("pupr", 0, 2))
    ]
    old = await make_complaint(agency="pupr", now=NOW - timedelta(days=60))  # outside the window
    await _set(sessionmaker, made[0].id, status="selesai", resolved_at=NOW - timedelta(days=1),
               due_at=NOW, rating=4, accept_due_at=NOW - timedelta(days=1, hours=20))
    await _set(sessionmaker, made[1].id, status="selesai", resolved_at=NOW - timedelta(hours=2),
               due_at=NOW - timedelta(hours=5), rating=2, reopen_count=1)
    await _set(sessionmaker, made[3].id, status="diproses", due_at=NOW - timedelta(hours=1))
    await _set(sessionmaker, old.id, status="diterima", due_at=NOW - timedelta(days=1))
    async with UnitOfWork(sessionmaker) as uow:
        uow.session.add(AuditEntry(complaint_id=made[0].id, at=NOW - timedelta(days=1, hours=22), actor_kind="staff",
                                   action="accept"))
        uow.session.add(AuditEntry(complaint_id=made[1].id, at=NOW - timedelta(hours=20), actor_kind="web",
                                   action="accept"))
        uow.session.add(AuditEntry(complaint_id=made[1].id, at=NOW - timedelta(hours=21), actor_kind="staff",
                                   action="accept", refused=True))
        await uow.commit()

    async with sessionmaker() as session:
        got = await overview(session, COMMAND, ["pupr", "dlh", "dishub"], now=NOW, timezone="Asia/Jakarta")
        since = got.since
        report = {r.agency: r for r in await complaint_report(session, since=since, until=None, now=NOW)
                  if r.category == ALL}
        mine = await overview(session, PUPR, ["pupr", "dlh", "dishub"], now=NOW, timezone="Asia/Jakarta")
    assert [r.agency for r in got.rows] == ["pupr", "dlh", "dishub"]
    for row in got.rows[:2]:
        want = report[row.agency]
        for name in ("received", "accepted_on_time", "resolved", "resolved_on_time", "reopened", "ever_resolved",
                     "ratings", "rating_sum"):
            assert getattr(row, name) == getattr(want, name), (row.agency, name)
        assert row.median_accept_hours == want.median_accept_hours
        assert row.median_resolve_hours == want.median_resolve_hours
    assert got.rows[2].received == 0 and got.rows[2].median_accept_hours is None
    # overdue now counts every open complaint past its clock, the old one too
    assert {r.agency: r.overdue_now for r in got.rows} == {"pupr": 1, "dlh": 1, "dishub": 0}
    assert (got.open_now, got.overdue_now) == (4, 2)
    assert got.new_today == 2  # filed at 04:00 and 03:00 UTC: the 10th in Jambi
    assert got.exact and got.total.received == 5 and len(got.days) == 30 and got.days[-1] == date(2026, 3, 10)
    assert sum(got.received) == 5 and got.received[-1] == 2 and got.received[-6] == 1
    assert sum(got.resolved) == 2 and got.resolved[-1] == 1  # resolved at 03:00 UTC on the 10th
    assert [r.agency for r in mine.rows] == ["pupr"] and mine.open_now == 2 and mine.total.received == 3


async def test_list_count_is_capped(
    sessionmaker: async_sessionmaker[AsyncSession], make_complaint: MakeComplaint
) -> None:
    """A broad filter is counted up to the cap ("more than"), and the pages stop there."""
    for i in range(7):
        await make_complaint(agency="pupr", now=NOW - timedelta(minutes=i))
    async with sessionmaker() as session:
        capped = await list_page(session, ComplaintFilter(page=9), COMMAND, page_size=2, now=NOW, count_cap=5)
        exact = await list_page(session, ComplaintFilter(), COMMAND, page_size=2, now=NOW, count_cap=7)
    assert (capped.total, capped.more, capped.pages, capped.page, len(capped.rows)) == (5, True, 3, 3, 2)
    assert (exact.total, exact.more, exact.pages) == (7, False, 4)
