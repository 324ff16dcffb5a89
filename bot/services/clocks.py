"""The clocks of complaints, stored: their due times on the complaint and their timers in ``timers``.

The rules are in :mod:`handlers.clocks` (pure, tested as a table); this module applies them inside the
caller's unit of work, so a status change and its timers commit together:

* :func:`start_clocks` at filing: ``accept_due_at`` and ``due_at`` from the agency's calendar;
* :func:`on_reassigned`: the accept clock restarts at the new agency (``accept_round`` + 1); the resolve
  clock keeps running (the citizen has waited since filing);
* :func:`on_reopened`: a new resolve clock (``resolve_round`` + 1, due ``target_hours`` from now);
* :func:`on_status_changed`: accepting stops the accept clock, a terminal status or a duplicate stops
  every clock.

Each of them ends in :func:`replan`: the timers the complaint should have are planned (insert once), a
planned one whose moment moved is moved, and an unfired one that no longer applies is deleted. Timers that
fired stay, so nothing fires twice; the scheduler also checks the complaint when a timer fires.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import AppConfig
from handlers import clocks
from handlers.clocks import ClockSnapshot, PlanSettings, TimerSpec, WorkCalendar
from storage.models import Complaint, Timer
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.clocks")

#: the outcome of a timer whose moment had passed when ``sikesal migrate`` gave old complaints clocks
BEFORE_CLOCKS = "before_clocks"
#: the resolve clock of a category config.yaml no longer names (an old complaint)
DEFAULT_TARGET_HOURS = 72.0


class _HasConfig(Protocol):
    """What the clocks need of the runtime (a :class:`bot.services.runtime.Runtime`)."""

    @property
    def config(self) -> AppConfig: ...


@dataclass(frozen=True, slots=True)
class _Built:
    config: AppConfig
    calendar: WorkCalendar
    settings: PlanSettings


_built: dict[int, _Built] = {}


def _for(config: AppConfig) -> _Built:
    found = _built.get(id(config))
    if found is None or found.config is not config:
        deadlines = config.deadlines
        calendar = WorkCalendar.build(
            timezone=config.city.timezone,
            calendar=deadlines.calendar,
            office_hours=deadlines.office_hours,
            overrides=[(o.start, o.until, o.hours) for o in deadlines.overrides],
            holidays=deadlines.holidays,
            round_the_clock=deadlines.round_the_clock,
            quiet_hours=deadlines.quiet_hours,
        )
        settings = PlanSettings(
            remind_before_hours=deadlines.remind_before_hours,
            escalate_after_hours=tuple(deadlines.escalate_after_hours),
        )
        found = _built[id(config)] = _Built(config, calendar, settings)
    return found


def calendar_for(config: AppConfig) -> WorkCalendar:
    """The city's clock calendar and quiet hours from ``deadlines`` (built once per config)."""
    return _for(config).calendar


def plan_settings_for(config: AppConfig) -> PlanSettings:
    return _for(config).settings


def target_hours(config: AppConfig, category: str) -> float:
    """The resolve clock of ``category`` (its ``target_hours``)."""
    found = config.categories.get(category)
    return float(found.target_hours) if found is not None else DEFAULT_TARGET_HOURS


def snapshot(complaint: Complaint) -> ClockSnapshot:
    """The columns the plan reads."""
    return ClockSnapshot(
        id=complaint.id,
        status=complaint.status,
        agency=complaint.agency,
        accept_due_at=complaint.accept_due_at,
        due_at=complaint.due_at,
        accept_round=complaint.accept_round or 0,
        resolve_round=complaint.resolve_round or 0,
        duplicate=complaint.duplicate_of is not None,
    )


def planned_for(config: AppConfig, complaint: Complaint, now: datetime) -> list[TimerSpec]:
    """The timers ``complaint`` should have now (see :func:`handlers.clocks.plan_timers`)."""
    built = _for(config)
    return clocks.plan_timers(snapshot(complaint), built.settings, built.calendar, now)


async def plan_timer(
    uow: UnitOfWork,
    kind: str,
    subject: str,
    due_at: datetime,
    *,
    complaint_id: int | None = None,
    level: int = 0,
    round: int = 0,
) -> None:
    """Plan one timer, once: the same (kind, subject, level, round) planned again changes nothing, even
    after it fired (``INSERT … ON CONFLICT DO NOTHING``)."""
    await uow.timers.plan(kind, subject, due_at, complaint_id=complaint_id, level=level, round=round)


async def replan(rt: _HasConfig, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """Make the complaint's stored timers match the plan: unfired timers of the planned kinds that no
    longer apply are deleted, moved ones moved, missing ones planned. Other kinds (``confirm_close``) and
    fired timers are left alone."""
    await uow.flush()
    wanted = {spec.key: spec for spec in planned_for(rt.config, complaint, now)}
    stale: list[int] = []
    for timer in await uow.timers.for_complaint(complaint.id, unfired_only=True):
        if timer.kind not in clocks.PLANNED_KINDS:
            continue
        spec = wanted.get((timer.kind, timer.subject, timer.level, timer.round))
        if spec is None:
            stale.append(timer.id)
        elif timer.due_at != spec.due_at:
            await uow.timers.defer(timer.id, spec.due_at)
    await uow.timers.delete_unfired(stale)
    for spec in wanted.values():
        await uow.timers.plan(
            spec.kind, spec.subject, spec.due_at, complaint_id=complaint.id, level=spec.level, round=spec.round,
            now=now,
        )


async def start_clocks(rt: _HasConfig, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """At filing: accept by ``accept_hours`` and resolve by the category's ``target_hours`` from ``now``,
    counted on the agency's calendar; then its timers."""
    calendar = calendar_for(rt.config)
    complaint.accept_due_at = calendar.add_hours(now, rt.config.deadlines.accept_hours, complaint.agency)
    complaint.due_at = calendar.add_hours(now, target_hours(rt.config, complaint.category), complaint.agency)
    await replan(rt, uow, complaint, now)


async def on_reassigned(
    rt: _HasConfig, uow: UnitOfWork, complaint: Complaint, now: datetime, *, restart_resolve: bool = False
) -> None:
    """The complaint reached another agency (``complaint.agency`` is the new one): a new accept clock
    there; the resolve clock keeps its deadline. ``restart_resolve``: the complaint's clocks had stopped
    (a rejection the command centre reassigns on appeal), so it also gets a new resolve clock, as a reopen
    does, rather than one that ran out while it was closed."""
    calendar = calendar_for(rt.config)
    complaint.accept_round = (complaint.accept_round or 0) + 1
    complaint.accept_due_at = calendar.add_hours(now, rt.config.deadlines.accept_hours, complaint.agency)
    if restart_resolve:
        complaint.resolve_round = (complaint.resolve_round or 0) + 1
        complaint.due_at = calendar.add_hours(now, target_hours(rt.config, complaint.category), complaint.agency)
    await replan(rt, uow, complaint, now)


async def on_reopened(rt: _HasConfig, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """The complaint was reopened (the citizen's *Belum*, or an appeal upheld): a new resolve clock,
    ``target_hours`` from now. (``reopen_count`` is the reopening service's to count.)"""
    complaint.resolve_round = (complaint.resolve_round or 0) + 1
    complaint.due_at = calendar_for(rt.config).add_hours(
        now, target_hours(rt.config, complaint.category), complaint.agency
    )
    await replan(rt, uow, complaint, now)


async def on_status_changed(rt: _HasConfig, uow: UnitOfWork, complaint: Complaint, now: datetime) -> None:
    """Any other status change: accepting stops the accept clock, a closed complaint or a duplicate
    stops all of them; nothing changes for what the plan still wants."""
    await replan(rt, uow, complaint, now)


class _Migrating(Protocol):
    """What :func:`fill_missing_clocks` needs (``sikesal migrate`` has no full runtime)."""

    @property
    def config(self) -> AppConfig: ...

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...


async def fill_missing_clocks(rt: _Migrating, now: datetime, *, batch: int = 500) -> int:
    """Give complaints stored before the clocks existed their clocks: ``accept_due_at`` (from filing, on
    the current agency's calendar) and, for those still open, their timers; ``due_at`` only where it is
    missing (an old complaint keeps the deadline it was promised). A moment that had already passed is
    recorded as spent (outcome ``before_clocks``), not fired: an upgrade does not send a flood of reminders
    and escalations about old complaints (their cards still say how late they are). Run by ``sikesal migrate`` after the
    schema upgrade; running it again finds nothing to do. Returns how many complaints it filled."""
    calendar = calendar_for(rt.config)
    filled = 0
    last_id = 0
    while True:
        async with UnitOfWork(rt.sessionmaker) as uow:
            result = await uow.session.execute(
                select(Complaint)
                .where(Complaint.accept_due_at.is_(None), Complaint.id > last_id)
                .order_by(Complaint.id)
                .limit(batch)
            )
            found = list(result.scalars())
            if not found:
                return filled
            for complaint in found:
                last_id = complaint.id
                filed = complaint.created_at
                complaint.accept_due_at = calendar.add_hours(filed, rt.config.deadlines.accept_hours, complaint.agency)
                if complaint.due_at is None:
                    complaint.due_at = calendar.add_hours(filed, target_hours(rt.config, complaint.category),
                                                          complaint.agency)
                for spec in clocks.plan_timers(snapshot(complaint), plan_settings_for(rt.config), calendar, now):
                    past = spec.due_at <= now  # no flood of reminders and escalations at the upgrade
                    await uow.timers.plan(
                        spec.kind, spec.subject, spec.due_at, complaint_id=complaint.id, level=spec.level,
                        round=spec.round, now=now, fired_at=now if past else None,
                        outcome=BEFORE_CLOCKS if past else None,
                    )
                filled += 1
            await uow.commit()
        log.info("filled the clocks of %d stored complaints", filled)


async def timers_of(uow: UnitOfWork, complaint_id: int) -> list[Timer]:
    """A complaint's timers (for staff tools and tests)."""
    return await uow.timers.for_complaint(complaint_id)


__all__ = [
    "calendar_for",
    "fill_missing_clocks",
    "on_reassigned",
    "on_reopened",
    "on_status_changed",
    "plan_settings_for",
    "plan_timer",
    "planned_for",
    "replan",
    "snapshot",
    "start_clocks",
    "target_hours",
    "timers_of",
]
