"""The clocks as the README promises them: working time (plain hours, or office hours with a short
Friday, Ramadan hours, holidays, round-the-clock agencies), quiet hours that cross midnight, the card's
badge, and the timers a complaint should have after each thing that can happen to it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.clocks import (
    ACCEPT,
    ESCALATE,
    OVERDUE,
    RESOLVE_SOON,
    ClockSnapshot,
    PlanSettings,
    WorkCalendar,
    accept_badge,
    plan_timers,
    resolve_badge,
    split_duration,
)

WIB = 7  # Asia/Jakarta is UTC+7, no DST
OFFICE = {
    "mon": ["07:30-16:00"], "tue": ["07:30-16:00"], "wed": ["07:30-16:00"], "thu": ["07:30-16:00"],
    "fri": ["07:30-11:30", "13:30-16:30"],
}
RAMADAN = (date(2026, 2, 18), date(2026, 3, 19), {"mon": ["08:00-15:00"], "fri": ["08:00-11:00"]})
HOLIDAYS = [date(2026, 12, 25), date(2026, 12, 24)]  # Natal and its cuti bersama


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    """A city-time moment, as the aware UTC datetime the clocks take."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC) - timedelta(hours=WIB)


HOURS = WorkCalendar.build(timezone="Asia/Jakarta", quiet_hours="21:00-06:00")
OFFICE_CAL = WorkCalendar.build(
    timezone="Asia/Jakarta", calendar="office", office_hours=OFFICE, overrides=[RAMADAN], holidays=HOLIDAYS,
    round_the_clock=["pdam"], quiet_hours="21:00-06:00",
)


# --- working time ---------------------------------------------------------------------------------


def test_plain_hours_accept_fractions() -> None:
    start = wib(2026, 12, 1, 10)
    assert HOURS.add_hours(start, 0.02) - start == timedelta(seconds=72)
    assert HOURS.add_hours(start, 48, "pupr") == wib(2026, 12, 3, 10)


@pytest.mark.parametrize(
    ("start", "hours", "agency", "due", "why"),
    [
        (wib(2026, 12, 1, 10), 4, "pupr", wib(2026, 12, 1, 14), "inside one Tuesday"),
        (wib(2026, 12, 1, 15), 4, "pupr", wib(2026, 12, 2, 10, 30), "1 h Tuesday, 3 h Wednesday from 07:30"),
        (wib(2026, 12, 1, 22), 1, "pupr", wib(2026, 12, 2, 8, 30), "filed at night: counts from the opening"),
        (wib(2026, 12, 4, 11), 1, "pupr", wib(2026, 12, 4, 14), "Friday prayers break: 30 min + 30 min"),
        (wib(2026, 12, 4, 16), 1, "pupr", wib(2026, 12, 7, 8), "Friday 16:00 -> Monday (weekend closed)"),
        (wib(2026, 12, 23, 15), 2, "pupr", wib(2026, 12, 28, 8, 30), "Wed, then Thu/Fri holidays, weekend"),
        (wib(2026, 12, 4, 16), 1, "pdam", wib(2026, 12, 4, 17), "round the clock: plain hours"),
        (wib(2026, 3, 2, 14, 30), 1, "pupr", wib(2026, 3, 3, 8), "Ramadan Monday ends 15:00; Tuesday regular"),
        (wib(2026, 3, 6, 10, 30), 1, "pupr", wib(2026, 3, 9, 8, 30), "Ramadan Friday ends 11:00"),
    ],
)
def test_office_hours(start: datetime, hours: float, agency: str, due: datetime, why: str) -> None:
    assert OFFICE_CAL.add_hours(start, hours, agency) == due, why


def test_a_calendar_without_office_hours_fails_loudly() -> None:
    closed = WorkCalendar.build(timezone="Asia/Jakarta", calendar="office", office_hours={})
    with pytest.raises(ValueError, match="no office hours"):
        closed.add_hours(wib(2026, 12, 1), 1)


@settings(max_examples=200, deadline=None)
@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
    first=st.floats(min_value=0, max_value=200, allow_nan=False),
    second=st.floats(min_value=0, max_value=200, allow_nan=False),
    agency=st.sampled_from(["pupr", "pdam"]),
)
def test_office_arithmetic_properties(start: datetime, first: float, second: float, agency: str) -> None:
    """Adding is monotonic, composes (a + x + y == a + (x + y)), and working_hours undoes it."""
    due = OFFICE_CAL.add_hours(start, first, agency)
    assert due >= start
    assert abs(OFFICE_CAL.working_hours(start, due, agency) - first) < 1e-6
    assert abs((OFFICE_CAL.add_hours(due, second, agency) - OFFICE_CAL.add_hours(start, first + second, agency))
               .total_seconds()) < 0.01
    if first <= second:
        assert due <= OFFICE_CAL.add_hours(start, second, agency)
    if agency == "pdam":
        assert due - start == timedelta(hours=first)
    elif first > 1e-6:  # an office clock ends inside office hours
        local = due + timedelta(hours=WIB)
        assert local.weekday() < 5 and date(local.year, local.month, local.day) not in HOLIDAYS
        assert (7, 30) <= (local.hour, local.minute) <= (16, 30)


# --- quiet hours ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "until"),
    [
        (wib(2026, 12, 1, 23), wib(2026, 12, 2, 6)),
        (wib(2026, 12, 1, 21), wib(2026, 12, 2, 6)),
        (wib(2026, 12, 2, 5, 59), wib(2026, 12, 2, 6)),
        (wib(2026, 12, 2, 6), None),
        (wib(2026, 12, 2, 12), None),
        (wib(2026, 12, 1, 20, 59), None),
    ],
)
def test_quiet_hours_cross_midnight(now: datetime, until: datetime | None) -> None:
    assert HOURS.quiet_until(now) == until


def test_quiet_hours_within_a_day_and_switched_off() -> None:
    lunch = WorkCalendar.build(timezone="Asia/Jakarta", quiet_hours="12:00-13:00")
    assert lunch.quiet_until(wib(2026, 12, 1, 12, 30)) == wib(2026, 12, 1, 13)
    assert lunch.quiet_until(wib(2026, 12, 1, 13)) is None
    never = WorkCalendar.build(timezone="Asia/Jakarta", quiet_hours="")
    assert never.quiet_until(wib(2026, 12, 1, 23)) is None


# --- badge ----------------------------------------------------------------------------------------


def test_badges() -> None:
    due = wib(2026, 12, 2, 15, 30)
    before = resolve_badge("diproses", due, due - timedelta(hours=1))
    assert before is not None and before.state == "due" and before.at == due and not before.overdue
    late = resolve_badge("baru", due, due + timedelta(hours=3, minutes=20))
    assert late is not None and late.overdue and late.late == timedelta(hours=3, minutes=20)
    assert resolve_badge("dibuka_kembali", due, due + timedelta(seconds=1)) is not None
    for closed in ("selesai", "ditolak", "duplikat"):
        assert resolve_badge(closed, due, due + timedelta(days=3)) is None
    assert resolve_badge("diterima", due, due, duplicate=True) is None
    assert resolve_badge("baru", None, due) is None
    assert accept_badge("baru", due, due - timedelta(minutes=1)) is not None
    assert accept_badge("diterima", due, due + timedelta(hours=1)) is None


@pytest.mark.parametrize(
    ("length", "said"),
    [
        (timedelta(seconds=5), ("minutes", 1)),
        (timedelta(minutes=40), ("minutes", 40)),
        (timedelta(hours=3, minutes=59), ("hours", 3)),
        (timedelta(hours=47), ("hours", 47)),
        (timedelta(hours=50), ("days", 2)),
    ],
)
def test_durations_as_people_say_them(length: timedelta, said: tuple[str, int]) -> None:
    assert split_duration(length) == said


# --- the timer plan -------------------------------------------------------------------------------

FILED = wib(2026, 12, 1, 10)
SETTINGS = PlanSettings(remind_before_hours=6, escalate_after_hours=(0, 24))


def snap(status: str = "baru", **kw: object) -> ClockSnapshot:
    values: dict[str, object] = {
        "id": 42, "status": status, "agency": "pupr", "accept_due_at": FILED + timedelta(hours=4),
        "due_at": FILED + timedelta(hours=48), "accept_round": 0, "resolve_round": 0,
    }
    values.update(kw)
    return ClockSnapshot(**values)  # type: ignore[arg-type]


def keys(snapshot: ClockSnapshot, now: datetime = FILED, plan: PlanSettings = SETTINGS) -> list[tuple[str, int, int, datetime]]:
    return [(s.kind, s.level, s.round, s.due_at) for s in plan_timers(snapshot, plan, HOURS, now)]


DUE = FILED + timedelta(hours=48)


def test_plan_at_filing() -> None:
    assert keys(snap()) == [
        (ACCEPT, 0, 0, FILED + timedelta(hours=4)),
        (RESOLVE_SOON, 0, 0, DUE - timedelta(hours=6)),
        (OVERDUE, 0, 0, DUE),
        (ESCALATE, 0, 0, DUE),
        (ESCALATE, 1, 0, DUE + timedelta(hours=24)),
    ]
    assert {s.subject for s in plan_timers(snap(), SETTINGS, HOURS, FILED)} == {"c42"}


def test_accepting_stops_the_accept_clock() -> None:
    assert [k[0] for k in keys(snap("diterima"))] == [RESOLVE_SOON, OVERDUE, ESCALATE, ESCALATE]
    assert [k[0] for k in keys(snap("diproses"))] == [RESOLVE_SOON, OVERDUE, ESCALATE, ESCALATE]


def test_reassigning_restarts_accept_and_keeps_resolve() -> None:
    moved = snap("baru", accept_round=1, accept_due_at=FILED + timedelta(hours=30), agency="dlh")
    now = FILED + timedelta(hours=26)
    assert keys(moved, now) == [
        (ACCEPT, 0, 1, FILED + timedelta(hours=30)),
        (RESOLVE_SOON, 0, 0, DUE - timedelta(hours=6)),
        (OVERDUE, 0, 0, DUE),
        (ESCALATE, 0, 0, DUE),
        (ESCALATE, 1, 0, DUE + timedelta(hours=24)),
    ]


@pytest.mark.parametrize("status", ["selesai", "ditolak", "duplikat"])
def test_closed_complaints_have_no_timers(status: str) -> None:
    assert keys(snap(status)) == []


def test_a_duplicate_has_no_timers_whatever_its_status() -> None:
    assert keys(snap("diterima", duplicate=True)) == []


def test_reopen_starts_a_new_resolve_round() -> None:
    reopened_at = DUE + timedelta(hours=100)
    again = snap("dibuka_kembali", resolve_round=1, due_at=reopened_at + timedelta(hours=48))
    assert keys(again, reopened_at) == [
        (RESOLVE_SOON, 0, 1, reopened_at + timedelta(hours=42)),
        (OVERDUE, 0, 1, reopened_at + timedelta(hours=48)),
        (ESCALATE, 0, 1, reopened_at + timedelta(hours=48)),
        (ESCALATE, 1, 1, reopened_at + timedelta(hours=72)),
    ]


def test_no_early_reminder_when_switched_off_or_already_past() -> None:
    assert RESOLVE_SOON not in [k[0] for k in keys(snap(), plan=PlanSettings(0, (0,)))]
    late_plan = keys(snap("diterima"), now=DUE - timedelta(hours=2))
    assert [k[0] for k in late_plan] == [OVERDUE, ESCALATE, ESCALATE]
    # a past overdue moment is still planned: due at once, fired once
    assert (OVERDUE, 0, 0, DUE) in keys(snap("diterima"), now=DUE + timedelta(hours=1))


def test_escalations_count_office_hours() -> None:
    due = wib(2026, 12, 4, 15)  # Friday 15:00
    timers = plan_timers(snap("diterima", due_at=due), SETTINGS, OFFICE_CAL, wib(2026, 12, 1))
    escalations = [s.due_at for s in timers if s.kind == ESCALATE]
    # 24 office hours after Friday 15:00: Fri 1.5 h + Mon 8.5 h + Tue 8.5 h + Wed 5.5 h
    assert escalations == [due, wib(2026, 12, 9, 13)]


# --- what people read -----------------------------------------------------------------------------


def test_card_badge_before_and_after_the_deadline() -> None:
    from handlers_testkit import check_message, make_ctx, make_view

    from handlers.cards import render_card

    ctx = make_ctx()
    due = wib(2026, 12, 2, 15, 30)
    view = make_view(status="diterima", due_at=due, accept_due_at=wib(2026, 12, 1, 14))
    assert "⏳" not in render_card(view, ctx).text.split("\n")[0]  # no "now": no badge
    before = render_card(replace(view, now=due - timedelta(hours=5)), ctx)
    check_message(before)
    assert before.text.split("\n")[0].endswith("· ⏳ batas 2 Des 15:30")
    late = render_card(replace(view, now=due + timedelta(hours=3)), ctx)
    assert late.text.split("\n")[0].endswith("· 🔴 terlambat sejak 2 Des 15:30")
    assert "⏳ Batas: 2 Des 2026 15:30 WIB" in late.text  # the due time stays on the card
    assert "terima sebelum" not in late.text  # accepted: the accept clock stopped
    english = render_card(replace(view, now=due + timedelta(hours=3)), ctx, language="en")
    assert "🔴 overdue since 2 Dec 15:30" in english.text
    for closed in ("selesai", "ditolak"):
        assert "🔴" not in render_card(replace(view, status=closed, now=due + timedelta(days=2)), ctx).text
    duplicate = replace(view, status="duplikat", duplicate_of_number="JMB-2026-000001", now=due + timedelta(days=2))
    assert "🔴" not in render_card(duplicate, ctx).text


def test_card_accept_clock_while_new() -> None:
    from handlers_testkit import make_ctx, make_view

    from handlers.cards import render_card

    ctx = make_ctx()
    view = make_view(status="baru", due_at=wib(2026, 12, 3, 10), accept_due_at=wib(2026, 12, 1, 14))
    assert "📥 terima sebelum 1 Des 14:00" in render_card(replace(view, now=wib(2026, 12, 1, 11)), ctx).text
    assert "🔴 belum diterima, batas 1 Des 14:00" in render_card(replace(view, now=wib(2026, 12, 1, 15)), ctx).text


def test_live_badge_says_how_late() -> None:
    from handlers_testkit import make_ctx

    from handlers.clocks import badge_text

    ctx = make_ctx()
    due = wib(2026, 12, 2, 15, 30)
    badge = resolve_badge("diproses", due, due + timedelta(hours=3, minutes=5))
    assert badge is not None
    assert badge_text(badge, "id", ctx, live=True) == "🔴 terlambat 3 jam"
    assert badge_text(badge, "en", ctx, live=True) == "🔴 overdue by 3 h"
    soon = resolve_badge("diproses", due, due - timedelta(hours=1))
    assert soon is not None and badge_text(soon, "id", ctx, live=True) == "⏳ batas 2 Des 15:30"


@pytest.mark.parametrize(
    ("hours", "office", "said"),
    [
        (48, False, "paling lambat 3 Des 2026 10:00 WIB (maks. 48 jam)"),
        (1.5, False, "paling lambat 1 Des 2026 11:30 WIB (maks. 1,5 jam)"),
        (0.02, False, "paling lambat 1 Des 2026 10:01 WIB (maks. 2 menit)"),
        (16, True, "paling lambat 3 Des 2026 09:00 WIB (16 jam kerja)"),
    ],
)
def test_the_citizen_is_told_by_when(hours: float, office: bool, said: str) -> None:
    from handlers_testkit import make_ctx

    from handlers.views import render_submitted

    calendar = OFFICE_CAL if office else HOURS
    due = calendar.add_hours(FILED, hours, "pupr")
    message = render_submitted("id", "JMB-2026-000042", "pupr", hours, make_ctx(), due_at=due, office_hours=office)
    assert f"Perkiraan penanganan: {said}" in message.text


def test_status_shows_the_deadline_in_force() -> None:
    """/status: a reopened complaint shows its new deadline; a duplicate's clocks stopped, so none."""
    from handlers_testkit import make_ctx, make_view

    from handlers.views import render_status

    ctx = make_ctx()
    again = render_status("id", make_view(status="dibuka_kembali", due_at=wib(2026, 12, 9, 10)), ctx)
    assert "Target selesai: 9 Des 2026 10:00 WIB" in again.text
    duplicate = make_view(status="duplikat", due_at=wib(2026, 12, 9, 10), duplicate_of_number="JMB-2026-000001",
                          duplicate_of_status="diproses")
    assert "Target selesai" not in render_status("id", duplicate, ctx).text
