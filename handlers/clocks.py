"""The clocks of a complaint, as pure functions and tables: working time, quiet hours, the card's badge
and the timers a complaint should have.

Every complaint runs two clocks (issue 11):

* **accept**: an agency should accept (*Terima*) within ``deadlines.accept_hours`` of the complaint
  reaching it. A reassignment restarts it at the new agency (``accept_round`` + 1).
* **resolve**: the complaint should be resolved within its category's ``target_hours``, counted from
  filing (the citizen's view: a reassignment does not give the next agency a fresh start). A reopen
  starts a new one (``resolve_round`` + 1, due ``target_hours`` from the reopen).

Accepting stops the accept clock; a terminal status (selesai, ditolak, duplikat) stops both. With
``deadlines.calendar: office`` the clocks count only office hours (per weekday, dated overrides such as
Ramadan hours, no office hours on holidays), except for agencies marked round the clock.

Why pure: the rules are what the README promises, and they are tested as a table here (see
:func:`plan_timers`); the service (:mod:`bot.services.clocks`) only loads, stores and replans. Datetimes
in and out are aware UTC; the calendar reads them in the city's time zone. No config import: the
service builds a :class:`WorkCalendar` from plain values (:meth:`WorkCalendar.build`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.context import FlowContext
from handlers.lifecycle import Status
from handlers.views import format_decimal, format_time, format_time_short

#: config weekday names, Monday first (``date.weekday()`` order)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: statuses whose clocks run (a complaint someone still has to act on)
OPEN = frozenset({Status.BARU, Status.DITERIMA, Status.DIPROSES, Status.DIBUKA_KEMBALI})

#: timer kinds (``Timer.kind``) that :func:`plan_timers` decides; other kinds (confirm_close, digest)
#: belong to other parts and are never touched by a replan
ACCEPT = "accept"
RESOLVE_SOON = "resolve_soon"
OVERDUE = "overdue"
ESCALATE = "escalate"
PLANNED_KINDS = (ACCEPT, RESOLVE_SOON, OVERDUE, ESCALATE)

#: how far ahead :meth:`WorkCalendar.add_hours` looks for office hours before giving up (a calendar
#: whose every day is a holiday would otherwise never end)
_SEARCH_DAYS = 3 * 366

Span = tuple[int, int]  # minutes after midnight, city time: [start, end)


def parse_span(text: str) -> Span:
    """``"07:30-16:00"`` -> (450, 960); ``"24:00"`` may end a span."""
    start, end = text.replace(" ", "").split("-")
    return _minutes(start), _minutes(end)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _spans(texts: Iterable[str]) -> tuple[Span, ...]:
    return tuple(sorted(parse_span(t) for t in texts))


def _week(hours: Mapping[str, Sequence[str]]) -> dict[int, tuple[Span, ...]]:
    return {WEEKDAYS.index(day): _spans(spans) for day, spans in hours.items() if day in WEEKDAYS}


@dataclass(frozen=True, slots=True)
class Override:
    """Other office hours from ``start`` to ``until`` (both included). A weekday it lists uses its spans
    (an empty list: closed); a weekday it does not list keeps the regular hours."""

    start: date
    until: date
    week: Mapping[int, tuple[Span, ...]]


@dataclass(frozen=True, slots=True)
class WorkCalendar:
    """When the clocks run. ``office=False`` (``calendar: hours``): always. Otherwise only in office
    hours of the city's time zone, skipping holidays, except for ``round_the_clock`` agencies."""

    timezone: str = "Asia/Jakarta"
    office: bool = False
    week: Mapping[int, tuple[Span, ...]] = field(default_factory=dict)
    overrides: tuple[Override, ...] = ()
    holidays: frozenset[date] = frozenset()
    round_the_clock: frozenset[str] = frozenset()
    #: reminders wait while the city sleeps: (start, end) in minutes, may cross midnight; None = never
    quiet: Span | None = None

    @classmethod
    def build(
        cls,
        *,
        timezone: str,
        calendar: str = "hours",
        office_hours: Mapping[str, Sequence[str]] | None = None,
        overrides: Iterable[tuple[date, date, Mapping[str, Sequence[str]]]] = (),
        holidays: Iterable[date] = (),
        round_the_clock: Iterable[str] = (),
        quiet_hours: str = "",
    ) -> WorkCalendar:
        """From the plain values of ``deadlines`` in config.yaml (see bot.config.DeadlinesConfig)."""
        quiet = parse_span(quiet_hours) if quiet_hours.strip() else None
        return cls(
            timezone=timezone,
            office=calendar == "office",
            week=_week(office_hours or {}),
            overrides=tuple(Override(start, until, _week(hours)) for start, until, hours in overrides),
            holidays=frozenset(holidays),
            round_the_clock=frozenset(round_the_clock),
            quiet=quiet if quiet is not None and quiet[0] != quiet[1] else None,
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def counts_office_hours(self, agency: str | None) -> bool:
        """True when ``agency``'s clocks stop outside office hours."""
        return self.office and agency not in self.round_the_clock

    def spans_on(self, day: date) -> tuple[Span, ...]:
        """The office hours of one (local) date: none on a holiday, an override's where one applies."""
        if day in self.holidays:
            return ()
        weekday = day.weekday()
        for override in self.overrides:
            if override.start <= day <= override.until and weekday in override.week:
                return override.week[weekday]
        return self.week.get(weekday, ())

    def _open_intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """``day``'s office hours as UTC intervals (converted at once: aware datetimes sharing a tzinfo
        subtract by wall clock, which is wrong across a DST change)."""
        zone = self.zone
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        out = []
        for start, end in self.spans_on(day):
            begin = (midnight + timedelta(minutes=start)).astimezone(UTC)
            finish = (midnight + timedelta(minutes=end)).astimezone(UTC)
            out.append((begin, finish))
        return out

    def add_hours(self, start: datetime, hours: float, agency: str | None = None) -> datetime:
        """``start`` plus ``hours`` of clock time: plain hours, or office hours only (a clock started
        outside office hours begins at the next opening). Fractions work: 0.02 h is 72 seconds."""
        start = _utc(start)
        remaining = timedelta(hours=max(hours, 0))  # less than a microsecond is nothing
        if not remaining:
            return start
        if not self.counts_office_hours(agency):
            return start + remaining
        day = start.astimezone(self.zone).date() - timedelta(days=1)  # a span may end after midnight UTC
        for _ in range(_SEARCH_DAYS):
            for begin, finish in self._open_intervals(day):
                begin = max(begin, start)
                if finish <= begin:
                    continue
                if remaining <= finish - begin:
                    return begin + remaining
                remaining -= finish - begin
            day += timedelta(days=1)
        raise ValueError("the office calendar has no office hours in the next three years")

    def working_hours(self, start: datetime, end: datetime, agency: str | None = None) -> float:
        """Clock hours between two instants (0 when ``end`` is not after ``start``): the inverse of
        :meth:`add_hours`."""
        start, end = _utc(start), _utc(end)
        if end <= start:
            return 0.0
        if not self.counts_office_hours(agency):
            return (end - start).total_seconds() / 3600
        total = timedelta()
        day = start.astimezone(self.zone).date() - timedelta(days=1)
        while day <= end.astimezone(self.zone).date():
            for begin, finish in self._open_intervals(day):
                begin, finish = max(begin, start), min(finish, end)
                if finish > begin:
                    total += finish - begin
            day += timedelta(days=1)
        return total.total_seconds() / 3600

    def quiet_until(self, now: datetime) -> datetime | None:
        """The end of the quiet hours (UTC) when ``now`` is inside them, else None. A span may cross
        midnight (21:00-06:00): at 23:00 it ends tomorrow 06:00, at 05:00 today 06:00."""
        if self.quiet is None:
            return None
        start, end = self.quiet
        local = _utc(now).astimezone(self.zone)
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        today = local.date()
        if start < end:
            inside, end_day = start <= minute < end, today
        elif minute >= start:
            inside, end_day = True, today + timedelta(days=1)
        else:
            inside, end_day = minute < end, today
        if not inside:
            return None
        return (datetime.combine(end_day, time(0), tzinfo=self.zone) + timedelta(minutes=end)).astimezone(UTC)


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError(f"naive datetime {at!r}: clocks take aware datetimes")
    return at.astimezone(UTC)


# --- the badge ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Badge:
    """What a card (or a staff list) says about a clock: ``due`` (still time, until ``at``) or ``late``
    (``at`` has passed, by ``late``). ``clock`` is ``accept`` or ``resolve``. Texts are the catalog's
    (``clock.badge.*``), rendered by :mod:`handlers.cards`."""

    clock: str
    state: str  # "due" | "late"
    at: datetime
    late: timedelta = timedelta()

    @property
    def overdue(self) -> bool:
        return self.state == "late"


def _badge(clock: str, due: datetime | None, now: datetime) -> Badge | None:
    if due is None:
        return None
    due, now = _utc(due), _utc(now)
    if now < due:
        return Badge(clock, "due", due)
    return Badge(clock, "late", due, now - due)


def resolve_badge(status: str, due_at: datetime | None, now: datetime, *, duplicate: bool = False) -> Badge | None:
    """"⏳ batas 2 Des 15:30" before the resolve deadline, "🔴 terlambat 3 jam" after; none for a closed
    complaint or a duplicate (its clocks stopped)."""
    if duplicate or status not in OPEN:
        return None
    return _badge("resolve", due_at, now)


def accept_badge(status: str, accept_due_at: datetime | None, now: datetime) -> Badge | None:
    """The accept clock, shown only while the complaint is *baru* (accepting stops it)."""
    if status != Status.BARU:
        return None
    return _badge("accept", accept_due_at, now)


def split_duration(length: timedelta) -> tuple[str, int]:
    """A duration as people say it: (``minutes`` | ``hours`` | ``days``, how many), rounded down, at
    least one minute: 40 min -> (minutes, 40); 3 h 20 -> (hours, 3); 50 h -> (days, 2)."""
    seconds = max(length.total_seconds(), 0)
    if seconds < 3600:
        return "minutes", max(1, math.floor(seconds / 60))
    if seconds < 48 * 3600:
        return "hours", math.floor(seconds / 3600)
    return "days", math.floor(seconds / 86400)


_BADGE_KEYS = {
    ("resolve", "due"): "clock.badge.resolve.due",
    ("resolve", "late"): "clock.badge.resolve.late",
    ("accept", "due"): "clock.badge.accept.due",
    ("accept", "late"): "clock.badge.accept.late",
}
#: the late badges that name the deadline instead of counting from it
_SINCE_KEYS = {"resolve": "clock.badge.resolve.late_since", "accept": "clock.badge.accept.late_since"}
_DURATION_KEYS = {"minutes": "clock.duration.minutes", "hours": "clock.duration.hours", "days": "clock.duration.days"}


def duration_text(length: timedelta, language: str, ctx: FlowContext) -> str:
    """"40 menit", "3 jam", "2 hari" (see :func:`split_duration`)."""
    unit, count = split_duration(length)
    return ctx.t(language, _DURATION_KEYS[unit], count=count)


def badge_text(badge: Badge, language: str, ctx: FlowContext, *, live: bool = False) -> str:
    """"⏳ batas 2 Des 15:30" / "🔴 terlambat sejak 2 Des 15:30" (accept: "📥 terima sebelum …" / "🔴 belum
    diterima, batas …"), in the city's time. ``live``: a list rendered when asked (/terlambat) says how
    late, "🔴 terlambat 3 jam"; a card, which stays in the chat until its next edit, names the deadline
    instead, so it never shows a stale count."""
    key = _BADGE_KEYS[(badge.clock, badge.state)] if live or not badge.overdue else _SINCE_KEYS[badge.clock]
    return ctx.t(
        language, key, time=format_time_short(badge.at, language, ctx), late=duration_text(badge.late, language, ctx)
    )


def hours_text(hours: float, language: str, ctx: FlowContext) -> str:
    """A clock's length as config.yaml gives it: "48 jam", "1,5 jam", under an hour "30 menit" (at least
    one minute: 0.02 h is shown as 2 menit, rounded up)."""
    if hours < 1:
        return ctx.t(language, "clock.duration.minutes", count=max(1, math.ceil(round(hours * 60, 6))))
    count = str(int(hours)) if float(hours).is_integer() else format_decimal(hours, language, ctx)
    return ctx.t(language, "clock.hours", count=count)


def handling_text(
    language: str, ctx: FlowContext, *, hours: float, due_at: datetime | None = None, office: bool = False
) -> str:
    """What the citizen is promised after filing: "paling lambat 3 Des 2026 10:00 WIB (maks. 48 jam)"; with
    an office calendar the hours are office hours, so the due time is what tells. Without a due time:
    "maks. 48 jam"."""
    if due_at is None:
        return ctx.t(language, "clock.handling_hours", duration=hours_text(hours, language, ctx))
    key = "clock.handling_office" if office else "clock.handling"
    return ctx.t(language, key, time=format_time(due_at, language, ctx), duration=hours_text(hours, language, ctx))


# --- the timer plan -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockSnapshot:
    """The columns of a complaint the plan reads."""

    id: int
    status: str
    agency: str
    accept_due_at: datetime | None
    due_at: datetime | None
    accept_round: int = 0
    resolve_round: int = 0
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class PlanSettings:
    """``deadlines`` as the plan needs them."""

    remind_before_hours: float = 6
    escalate_after_hours: tuple[float, ...] = (0.0, 24.0)


@dataclass(frozen=True, slots=True)
class TimerSpec:
    """A timer a complaint should have; (kind, subject, level, round) is its identity in ``timers``."""

    kind: str
    subject: str
    due_at: datetime
    level: int = 0
    round: int = 0

    @property
    def key(self) -> tuple[str, str, int, int]:
        return (self.kind, self.subject, self.level, self.round)


def subject_of(complaint_id: int) -> str:
    """``c42``: a timer's subject for complaint 42."""
    return f"c{int(complaint_id)}"


def plan_timers(
    snapshot: ClockSnapshot, settings: PlanSettings, calendar: WorkCalendar, now: datetime
) -> list[TimerSpec]:
    """The timers ``snapshot`` should have now, in due order. The rules (README, "Clocks"):

    * closed (selesai, ditolak) or a duplicate: none, its clocks stopped;
    * *baru*: ``accept`` at ``accept_due_at`` (round = accept_round: a reassignment's new round
      replaces the old agency's timer);
    * open: ``resolve_soon`` ``remind_before_hours`` before ``due_at`` (none when 0, or when that moment
      has passed at planning), ``overdue`` at ``due_at``, and one ``escalate`` per level, that many
      clock hours after ``due_at`` (round = resolve_round: a reopen's new round replaces them).

    A past accept, overdue or escalation moment is still planned: it is due at once and fires once.
    """
    status = snapshot.status
    if snapshot.duplicate or status not in OPEN:
        return []
    subject = subject_of(snapshot.id)
    specs: list[TimerSpec] = []
    if status == Status.BARU and snapshot.accept_due_at is not None:
        specs.append(TimerSpec(ACCEPT, subject, _utc(snapshot.accept_due_at), 0, snapshot.accept_round))
    due = snapshot.due_at
    if due is not None:
        due = _utc(due)
        rnd = snapshot.resolve_round
        if settings.remind_before_hours > 0:
            soon = due - timedelta(hours=settings.remind_before_hours)
            if soon > _utc(now):
                specs.append(TimerSpec(RESOLVE_SOON, subject, soon, 0, rnd))
        specs.append(TimerSpec(OVERDUE, subject, due, 0, rnd))
        for level, after in enumerate(settings.escalate_after_hours):
            at = calendar.add_hours(due, after, snapshot.agency)
            specs.append(TimerSpec(ESCALATE, subject, at, level, rnd))
    return sorted(specs, key=lambda s: (s.due_at, PLANNED_KINDS.index(s.kind), s.level))


__all__ = [
    "ACCEPT",
    "ESCALATE",
    "OPEN",
    "OVERDUE",
    "PLANNED_KINDS",
    "RESOLVE_SOON",
    "Badge",
    "ClockSnapshot",
    "Override",
    "PlanSettings",
    "TimerSpec",
    "WorkCalendar",
    "accept_badge",
    "badge_text",
    "duration_text",
    "handling_text",
    "hours_text",
    "parse_span",
    "plan_timers",
    "resolve_badge",
    "split_duration",
    "subject_of",
]
