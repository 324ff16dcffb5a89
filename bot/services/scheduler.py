"""The scheduler: fires due timers (reminders, overdue notices, escalations, digests, closing unanswered
resolution questions) exactly once, from the state in the database.

* **One at a time.** Several processes may share one PostgreSQL database: only the holder of the named
  lease ``scheduler`` (:func:`storage.leases.acquire`, renewed every tick) looks at timers; when it dies its
  lease expires and another process takes over; a clean stop gives it up at once. SQLite allows one process
  (``storage.db.SingleProcessLock``), which simply leads.
* **Once.** Each tick asks the indexed due query (:meth:`storage.timers.TimerRepo.due`) and claims each timer
  with a conditional ``UPDATE … WHERE fired_at IS NULL`` in the same transaction as its effects and outbox
  messages. Two processes racing on a lease hand-over fire a timer once; a crash before the commit fires it
  again after the restart, and nothing after the commit is repeated.
* **Still relevant?** A timer fires only while its complaint needs it: ``accept`` while *baru* in the same
  accept round, the resolve kinds while open in the same resolve round; otherwise outcome ``stale``.
* **Quiet hours** (``deadlines.quiet_hours``, city time): reminders, digests and escalations due inside are
  moved to the end (outcome ``deferred``), not lost; a deferred overdue still turns its card's badge red at
  once (an edit makes no sound). Status notices and answers are not timers and go at any time.
* **Folding.** Reminders due for one group in the same tick are fired together (:mod:`bot.services.reminders`).
* **Digests** are planned here: the next ``deadlines.digest_at`` (city time) per linked agency group
  (``agency:<key>``) and for the city (``city``), round = the date's ordinal; firing one plans the next.
* **Retention** (config ``privacy``): one ``retention`` timer a day at ``privacy.purge_at`` (city time), planned
  like the digests; firing it purges old message contents and erases inactive citizens
  (:mod:`bot.services.retention`), then plans the next day's.
* **Streets** (``street`` timers, issue 14) are handed to :class:`bot.services.streets.StreetLookups`, which
  looks them up in the background, bounded, and skips what does not fit: the tick never waits for a geocoder.
* Escalations, digests and closing unanswered questions are the command centre's and the follow-up's
  (:mod:`bot.services.command_centre`, :mod:`bot.services.followup`), imported when a timer needs them; a
  missing one is recorded (outcome ``missing``) rather than crashing the loop.

It wakes up soon after the next due time (``next_due_at``) and polls at least every ``poll`` seconds, since
a timer may be planned by another process or the clock may be moved (the playground's ⏩, tests).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from bot.ops.metrics import Metrics
from bot.services import retention, streets
from bot.services.clocks import calendar_for
from bot.services.reminders import LiveReminder, on_overdue, remind_group
from bot.services.runtime import Runtime
from bot.services.streets import StreetLookups
from handlers import clocks
from handlers.lifecycle import Status
from handlers.reminders import REMINDER_KINDS, next_daily
from storage import leases
from storage.models import Complaint, Timer
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.scheduler")

#: the named lease of the one process that fires timers
LEASE = "scheduler"
DIGEST = "digest"
CONFIRM_CLOSE = "confirm_close"
CITY = "city"
AGENCY_PREFIX = "agency:"
#: kinds that wait for the end of the quiet hours (the citizen's overdue notice goes with ``overdue``)
QUIET_KINDS = frozenset({*REMINDER_KINDS, clocks.ESCALATE, DIGEST})

# outcomes, for the operator (``timers.outcome``)
REMINDED = "reminded"
FOLDED = "folded"
NO_CARD = "no_card"
STALE = "stale"
DEFERRED = "deferred"
MISSING = "missing"
DONE = "done"
UNKNOWN = "unknown_kind"
ERROR = "error"

#: a timer failing this often (a bug, bad data; not the database) is given up
MAX_FAILURES = 5

#: (kind, outcome) of timers fired in one transaction, counted once it committed
Marks = list[tuple[str, str]]

#: how often the digest timers are planned again (real seconds) for groups linked meanwhile
DIGEST_PLAN_EVERY = 300.0


@dataclass(frozen=True, slots=True)
class DueTimer:
    """A due timer copied out of its session."""

    id: int
    kind: str
    subject: str
    level: int
    round: int
    complaint_id: int | None
    outcome: str | None

    @classmethod
    def of(cls, timer: Timer) -> DueTimer:
        return cls(timer.id, timer.kind, timer.subject, timer.level, timer.round, timer.complaint_id, timer.outcome)


@dataclass(slots=True)
class TickReport:
    """What one tick did (tests and logs)."""

    fired: int = 0
    stale: int = 0
    deferred: int = 0
    missing: int = 0
    #: messages queued for groups (reminders) and citizens (overdue notices)
    group_messages: int = 0
    citizen_messages: int = 0
    failed: list[int] = field(default_factory=list)
    #: (kind, outcome) of every timer whose transaction committed in this tick
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)


def relevant(timer: DueTimer, complaint: Complaint | None, now: datetime | None = None) -> bool:
    """Does ``complaint`` still need ``timer``? A reassignment starts a new accept round, a reopen a new
    resolve round; a timer of an earlier round, or of a complaint accepted, closed or merged meanwhile, is
    stale. So is a "deadline close" reminder whose deadline has passed by ``now`` (deferred past it, or the
    app was down): the overdue notice speaks instead."""
    if complaint is None:
        return False
    if timer.kind == CONFIRM_CLOSE:  # planned per resolution round (reopen_count) by the follow-up
        return complaint.status == Status.SELESAI and timer.round == (complaint.reopen_count or 0)
    if complaint.duplicate_of is not None or complaint.status not in clocks.OPEN:
        return False
    if timer.kind == clocks.ACCEPT:
        return complaint.status == Status.BARU and timer.round == (complaint.accept_round or 0)
    if timer.kind == clocks.RESOLVE_SOON and now is not None and complaint.due_at is not None and complaint.due_at <= now:
        return False
    return timer.round == (complaint.resolve_round or 0)


def _lazy(module: str, name: str) -> Callable[..., Awaitable[Any]] | None:
    """Another helper's function, imported when first needed (None while it does not exist)."""
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    return found if callable(found) else None


class Scheduler:
    """The loop; :meth:`tick` is also what tests call to fire what is due now."""

    name = "scheduler"

    def __init__(
        self, rt: Runtime, *, owner: str | None, lease_ttl: float = 30.0, poll: float = 2.0, batch: int = 200,
    ) -> None:
        self.rt = rt
        #: the lease owner (PostgreSQL); None = this process alone (SQLite) and always leads
        self.owner = owner
        self.lease_ttl = lease_ttl
        self.poll = poll
        self.batch = batch
        self.leading = False
        self._wake = asyncio.Event()
        self._digests_planned_at: float | None = None
        self._retention_planned_at: float | None = None
        #: timers whose transaction failed (not on the database), and how often: they go alone next time
        self._failures: dict[int, int] = {}
        #: Prometheus counters of this process (``sikesal_timers_fired``, ``sikesal_scheduler_leader``)
        self.metrics: Metrics | None = None
        #: the last tick's report (tests, the operator)
        self.last: TickReport | None = None
        #: ``time.monotonic()`` of the last time round the loop, leader or not (``/readyz`` judges it)
        self.last_tick = 0.0
        self.ticks = 0
        #: the time (by the runtime's clock) up to which the last finished tick fired everything due
        self.fired_through: datetime | None = None
        #: street lookups (timers of kind ``street``) run in the background, bounded (bot.services.streets)
        self.streets = StreetLookups(rt)

    def wake(self) -> None:
        """Look at the timers now (the clock was moved, or a timer was planned due at once)."""
        self._wake.set()

    # ------------------------------------------------------------------ the loop

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                delay = self.poll
                self.last_tick = time.monotonic()
                self._wake.clear()  # a wake() during the tick below asks for another one right after it
                try:
                    if await self.lead():
                        self.last = await self.tick()
                        delay = await self._until_next()
                except Exception:  # keep scheduling: one bad timer or a database hiccup must not stop it
                    log.exception("scheduler tick failed")
                waiter = asyncio.ensure_future(self._wake.wait())
                stopper = asyncio.ensure_future(stop.wait())
                try:
                    await asyncio.wait({waiter, stopper}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    for task in (waiter, stopper):
                        task.cancel()
        finally:
            await self.streets.stop()
            await self.release()

    async def lead(self) -> bool:
        """Take or renew the lease; True while this process is the scheduler."""
        if self.owner is None:
            self.leading = True
            if self.metrics is not None:
                self.metrics.scheduler_leader.set(1)
            return True
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            held = await leases.acquire(uow.session, LEASE, self.owner, now=self.rt.clock(), ttl=self.lease_ttl)
            await uow.commit()
        if held != self.leading:
            log.info("scheduler lease %s by %s", "taken" if held else "lost", self.owner)
            if held:
                self._digests_planned_at = None  # plan at once: the previous holder may have planned nothing
        self.leading = held
        if self.metrics is not None:
            self.metrics.scheduler_leader.set(1 if held else 0)
        return held

    async def release(self) -> None:
        """A clean stop gives the lease up, so another process takes over at its next poll."""
        if self.owner is None or not self.leading:
            return
        with contextlib.suppress(Exception):
            async with UnitOfWork(self.rt.sessionmaker) as uow:
                await leases.release(uow.session, LEASE, self.owner)
                await uow.commit()
        self.leading = False

    async def _until_next(self) -> float:
        """Seconds to sleep: until the next timer due after the last tick, at most ``poll`` (one that is
        still due because its firing failed waits for the next poll, not a busy loop)."""
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            upcoming = await uow.timers.next_due_at(after=self.fired_through)
        if upcoming is None:
            return self.poll
        seconds = (upcoming - self.rt.clock()).total_seconds()
        return min(self.poll, max(0.05, seconds + 0.01))

    # ------------------------------------------------------------------ one tick

    async def tick(self) -> TickReport:
        """Fire everything due now, in batches of ``batch``; a timer whose transaction fails stays due and
        is tried again at the next tick."""
        report = TickReport()
        self.ticks += 1
        now = self.rt.clock()
        await self._plan_digests(now)
        await self._plan_retention(now)
        while True:
            limit = self.batch + len(report.failed)  # the failed ones are still due: look past them
            async with UnitOfWork(self.rt.sessionmaker) as uow:
                found = await uow.timers.due(now, limit)
                due = [DueTimer.of(t) for t in found if t.id not in report.failed]
            if not due:
                break
            await self._fire(due, now, report)
            if len(found) < limit:
                break
        if report.group_messages or report.citizen_messages:
            self.rt.on_enqueued()
        self.fired_through = now
        return report

    async def _fire(self, due: Sequence[DueTimer], now: datetime, report: TickReport) -> None:
        lookups = [t for t in due if t.kind == streets.KIND]
        if lookups:  # handed over, never waited for: the geocoder must not hold up reminders
            self.streets.metrics = self.metrics
            await self._guard(report, lookups, self.streets.offer(lookups))
            due = [t for t in due if t.kind != streets.KIND]
        quiet_end = calendar_for(self.rt.config).quiet_until(now)
        if quiet_end is not None:
            quiet = [t for t in due if t.kind in QUIET_KINDS]
            if quiet:
                await self._guard(report, quiet, self._defer(quiet, quiet_end, now, report))
            due = [t for t in due if t.kind not in QUIET_KINDS]
        reminders = [t for t in due if t.kind in REMINDER_KINDS]
        for chat_id, timers in (await self._by_group(reminders)).items():
            # a timer whose batch failed goes alone, so one bad complaint cannot hold back its group's others
            batch = [t for t in timers if t.id not in self._failures]
            for part in ([batch] if batch else []) + [[t] for t in timers if t.id in self._failures]:
                await self._guard(report, part, self._fire_reminders(chat_id, part, now, report))
        digests = [t for t in due if t.kind == DIGEST]
        if digests:
            await self._guard(report, digests, self._fire_digests(digests, now, report))
        for timer in due:
            if timer.kind == retention.RETENTION:
                await self._guard(report, [timer], self._fire_retention(timer, now, report))
            elif timer.kind not in REMINDER_KINDS and timer.kind != DIGEST:
                await self._guard(report, [timer], self._fire_one(timer, now, report))

    async def _guard(self, report: TickReport, timers: Sequence[DueTimer], work: Awaitable[None]) -> None:
        """Run one transaction's work; on failure its timers stay due (rolled back) and wait for the next tick.
        A timer that fails ``MAX_FAILURES`` times for another reason than the database (a bug, bad data) is
        given up (outcome ``error``, logged) rather than retried every tick forever."""
        try:
            await work
        except SQLAlchemyError:
            log.exception("firing timers %s failed on the database; they stay due", [t.id for t in timers])
            report.failed.extend(t.id for t in timers)
        except Exception:
            log.exception("firing timers %s failed; they stay due", [t.id for t in timers])
            report.failed.extend(t.id for t in timers)
            for timer in timers:
                self._failures[timer.id] = self._failures.get(timer.id, 0) + 1
                if self._failures[timer.id] >= MAX_FAILURES:
                    await self._give_up(timer)
        else:
            for timer in timers:
                self._failures.pop(timer.id, None)

    async def _give_up(self, timer: DueTimer) -> None:
        given_up = False
        with contextlib.suppress(SQLAlchemyError):
            async with UnitOfWork(self.rt.sessionmaker) as uow:
                given_up = await uow.timers.claim(timer.id, self.rt.clock(), outcome=ERROR)
                await uow.commit()
            if given_up:
                log.error("timer %s (%s %s) failed %d times: given up", timer.id, timer.kind, timer.subject,
                          MAX_FAILURES)
                self._committed(TickReport(), [(timer.kind, ERROR)])
        self._failures.pop(timer.id, None)

    async def _by_group(self, timers: Sequence[DueTimer]) -> dict[int | None, list[DueTimer]]:
        """Reminder timers by the group their complaint's card is in (None: no card, e.g. no group linked)."""
        groups: dict[int | None, list[DueTimer]] = {}
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            for timer in timers:
                card = await uow.cards.active_for(timer.complaint_id) if timer.complaint_id is not None else None
                groups.setdefault(card.chat_id if card is not None else None, []).append(timer)
        return groups

    async def _defer(self, timers: Sequence[DueTimer], until: datetime, now: datetime, report: TickReport) -> None:
        """Quiet hours: move the timers to their end. An overdue complaint's card turns red now (silently)."""
        pending: Marks = []
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            for timer in timers:
                if not await uow.timers.defer(timer.id, until, outcome=DEFERRED):
                    continue
                report.deferred += 1
                pending.append((timer.kind, DEFERRED))
                if timer.kind == clocks.OVERDUE and timer.outcome != DEFERRED and timer.complaint_id is not None:
                    complaint = await uow.complaints.get(timer.complaint_id)
                    if complaint is not None and relevant(timer, complaint):
                        from bot.services.complaints import build_view, refresh_card

                        await refresh_card(self.rt, uow, complaint, await build_view(uow, complaint))
                        report.group_messages += 1
            await uow.commit()
        self._committed(report, pending)

    async def _fire_reminders(
        self, chat_id: int | None, timers: Sequence[DueTimer], now: datetime, report: TickReport
    ) -> None:
        """One group's reminders in one transaction: claim, check, fold or reply, overdue effects."""
        pending: Marks = []
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            live: list[LiveReminder] = []
            claimed = 0
            for timer in timers:
                if not await uow.timers.claim(timer.id, now):
                    continue  # another process fired it
                claimed += 1
                complaint = (
                    await uow.complaints.get_for_update(timer.complaint_id) if timer.complaint_id is not None else None
                )
                if not relevant(timer, complaint, now):
                    await self._mark(uow, pending, timer.id, timer.kind, STALE)
                    report.stale += 1
                    continue
                assert complaint is not None
                live.append(LiveReminder(timer.id, timer.kind, complaint, await uow.cards.active_for(complaint.id)))
            if chat_id is not None and live:
                sent = await remind_group(self.rt, uow, chat_id, live, now)
                report.group_messages += sent
                outcome = REMINDED if sent == len(live) else FOLDED
            else:
                outcome = NO_CARD
            for reminder in live:
                await self._mark(uow, pending, reminder.timer_id, reminder.kind, outcome)
                if reminder.kind == clocks.OVERDUE:
                    report.citizen_messages += await on_overdue(self.rt, uow, reminder.complaint, now)
            report.fired += claimed
            await uow.commit()
        self._committed(report, pending)

    async def _fire_one(self, timer: DueTimer, now: datetime, report: TickReport) -> None:
        """An escalation or the close of an unanswered resolution question, by the helper that owns it."""
        pending: Marks = []
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            if not await uow.timers.claim(timer.id, now):
                return
            report.fired += 1
            complaint = await uow.complaints.get_for_update(timer.complaint_id) if timer.complaint_id else None
            if timer.kind not in (clocks.ESCALATE, CONFIRM_CLOSE):
                log.warning("timer %s has an unknown kind %r", timer.id, timer.kind)
                await self._mark(uow, pending, timer.id, timer.kind, UNKNOWN)
            elif complaint is None or not relevant(timer, complaint):
                await self._mark(uow, pending, timer.id, timer.kind, STALE)
                report.stale += 1
            elif timer.kind == clocks.ESCALATE:
                escalate = _lazy("bot.services.command_centre", "escalate")
                if escalate is None:
                    await self._missing(uow, timer, report, "bot.services.command_centre.escalate", pending)
                else:
                    await escalate(self.rt, uow, complaint, timer.level, now)
                    await self._mark(uow, pending, timer.id, timer.kind, DONE)
            else:
                close = _lazy("bot.services.followup", "close_unanswered")
                if close is None:
                    await self._missing(uow, timer, report, "bot.services.followup.close_unanswered", pending)
                else:
                    await close(self.rt, uow, complaint, now)
                    await self._mark(uow, pending, timer.id, timer.kind, DONE)
            await uow.commit()
        self._committed(report, pending)
        report.group_messages += 1  # whatever they queued: wake the senders

    async def _missing(self, uow: UnitOfWork, timer: DueTimer, report: TickReport, what: str, pending: Marks) -> None:
        log.warning("timer %s (%s) needs %s, which this version lacks", timer.id, timer.kind, what)
        await self._mark(uow, pending, timer.id, timer.kind, MISSING)
        report.missing += 1

    @staticmethod
    async def _mark(uow: UnitOfWork, pending: Marks, timer_id: int, kind: str, outcome: str) -> None:
        """Record a fired timer's outcome; counted (report, metrics) once its transaction committed."""
        await uow.timers.set_outcome(timer_id, outcome)
        pending.append((kind, outcome))

    def _committed(self, report: TickReport, pending: Marks) -> None:
        report.outcomes.update(pending)
        if self.metrics is not None:
            for kind, outcome in pending:
                self.metrics.timers_fired.labels(kind, outcome).inc()

    # ------------------------------------------------------------------ retention

    async def _plan_retention(self, now: datetime) -> None:
        """Plan the next daily purge now and then (cheap: one insert that is a no-op once planned)."""
        moment = time.monotonic()
        if self._retention_planned_at is not None and moment - self._retention_planned_at < DIGEST_PLAN_EVERY:
            return
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            await retention.plan(self.rt, uow, now)
            await uow.commit()
        self._retention_planned_at = moment

    async def _fire_retention(self, timer: DueTimer, now: datetime, report: TickReport) -> None:
        """The day's purge (its own short transactions, idempotent), then the timer is claimed with its
        outcome and tomorrow's planned. A purge that fails leaves the timer due for the next tick."""
        purged = await retention.purge(self.rt, now)
        pending: Marks = []
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            if await uow.timers.claim(timer.id, now):
                report.fired += 1
                await self._mark(uow, pending, timer.id, timer.kind, purged.outcome)
            await retention.plan(self.rt, uow, now)
            await uow.commit()
        self._committed(report, [(kind, DONE) for kind, _ in pending])

    # ------------------------------------------------------------------ digests

    async def _fire_digests(self, timers: Sequence[DueTimer], now: datetime, report: TickReport) -> None:
        """The day's digests, once: the claimed subjects are passed on, and tomorrow's are planned."""
        pending: Marks = []
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            claimed = [t for t in timers if await uow.timers.claim(t.id, now)]
            if not claimed:
                return
            report.fired += len(claimed)
            await self._send_digests(uow, claimed, now, report, pending)
            await self._plan_digest_timers(uow, now)
            await uow.commit()
        self._committed(report, pending)

    async def _send_digests(
        self, uow: UnitOfWork, claimed: Sequence[DueTimer], now: datetime, report: TickReport, pending: Marks
    ) -> None:
        """Each claimed subject's digest, once: ``agency:<key>`` in that agency's group, ``city`` in the command
        centre's (the command centre's per-subject functions; else its ``send_digests`` for all at once)."""
        module = "bot.services.command_centre"
        figures_of = _lazy(module, "digest_figures")
        agency_digest = _lazy(module, "send_agency_digest")
        city_digest = _lazy(module, "send_city_digest")
        if figures_of is None or agency_digest is None or city_digest is None:
            send_all = _lazy(module, "send_digests")
            if send_all is None:
                for timer in claimed:
                    await self._missing(uow, timer, report, f"{module}.send_digests", pending)
                return
            await send_all(self.rt, uow, now)
        else:
            figures: Any = await figures_of(self.rt, uow, now)
            for timer in claimed:
                if timer.subject == CITY:
                    await city_digest(self.rt, uow, figures, now)
                elif timer.subject.startswith(AGENCY_PREFIX) and (found := figures.get(timer.subject[len(AGENCY_PREFIX):])):
                    await agency_digest(self.rt, uow, found, now)
        for timer in claimed:
            await self._mark(uow, pending, timer.id, timer.kind, DONE)
        report.group_messages += 1

    async def _plan_digests(self, now: datetime) -> None:
        """Plan the next digests now and then (a group linked meanwhile gets its own from then on)."""
        if not self.rt.config.deadlines.digest_at:
            return
        moment = time.monotonic()
        if self._digests_planned_at is not None and moment - self._digests_planned_at < DIGEST_PLAN_EVERY:
            return
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            await self._plan_digest_timers(uow, now)
            await uow.commit()
        self._digests_planned_at = moment

    async def _plan_digest_timers(self, uow: UnitOfWork, now: datetime) -> None:
        digest_at = self.rt.config.deadlines.digest_at
        if not digest_at:
            return
        at, day = next_daily(now, digest_at, self.rt.config.city.timezone)
        subjects = [CITY, *(f"{AGENCY_PREFIX}{group.agency}" for group in await uow.agencies.all_groups())]
        for subject in subjects:
            await uow.timers.plan(DIGEST, subject, at, round=day, now=now)


__all__ = ["CONFIRM_CLOSE", "DIGEST", "LEASE", "QUIET_KINDS", "DueTimer", "Scheduler", "TickReport", "relevant"]
