"""A per-key FIFO work loop over database rows: the shape shared by every outbox sender and the inbox.

Why one loop: the Telegram sender, the WhatsApp sender and the WhatsApp inbox all do the same thing with
different rows. Rows belong to a key (a chat, a citizen's number); rows of one key must be handled
strictly in order, different keys in parallel (bounded), each row at most once at a time, and a row
that waits for a retry holds back the rows behind it. The database is the queue, so a restart resumes
where the last process stopped; ``wake()`` after a commit makes the loop look at once instead of at the
next poll.

Subclasses say where the heads are (:meth:`_due_heads`, :meth:`_next_due_at`, :meth:`_next_due_for`)
and what to do with one row (:meth:`_process`).

Several processes on one (PostgreSQL) database: with ``lease_owner`` set, a worker first *claims* the row
(:func:`storage.leases.claim_row`), renews the lease while it works and the outcome clears it, so every
row is handled by exactly one process and a killed process's rows are taken over once its lease expires.
A single process (SQLite, where a second process is refused) needs no claims: the in-memory worker per key
is already exclusive.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from storage.inbox import InboxRepo
from storage.leases import claim_row, claim_rows, renew_rows
from storage.models import InboundMessage, OutboxMessage, utcnow
from storage.outbox import Fresh, OutboxRepo, as_utc, attach_sink, claim_head, detach_sink

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("sikesal.loop")

#: pauses between attempts to commit a delivery outcome (None: give up, the row stays pending): the
#: message may already be out, and losing that commit means sending it again later
RECORD_RETRIES: tuple[float | None, ...] = (0.2, 1.0, 3.0, None)

#: the poller looks at the table at most this often, however many workers finish (they wake it)
MIN_TICK_INTERVAL = 0.02

#: a row handed over in memory is used as it was handed over for this many seconds (its chat's worker was
#: busy meanwhile); older, it is read back from the table (it may have been superseded, an erasure may have
#: emptied it). The same order as the time between reading a row and sending it after a limiter's wait.
FRESH_FOR = 1.0


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Stopped(Exception):
    """The loop is shutting down while a worker waited (for a rate limiter, a pause): nothing was done."""


class FifoWorkLoop(ABC):
    """Runs one worker task per key with due rows; see the module docstring."""

    #: what the loop is called in logs and task names
    name = "work"
    #: the table whose rows this loop works on (for leases)
    model: type = OutboxMessage

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_attempts: int = 12,
        poll_interval: float = 1.0,
        concurrency: int = 8,
        batch_size: int = 200,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        shutdown_timeout: float = 10.0,
        clock: Callable[[], datetime] = utcnow,
        lease_owner: str | None = None,
        lease_ttl: float = 30.0,
        retry_for: timedelta | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        #: transient failures are retried at least this long after the row was created (None: only
        #: ``max_attempts`` counts); an outage of hours must not make a card give up
        self.retry_for = retry_for
        #: this process's name when several processes share the database (rows are claimed), else None
        self.lease_owner = lease_owner
        self.lease_ttl = lease_ttl
        #: rows this process has claimed and is working on (their leases are renewed)
        self._held: set[int] = set()
        #: ``time.monotonic()`` of the last look at the table: /readyz calls a loop that stopped looking stalled
        self.last_tick = 0.0
        self.max_attempts = max_attempts
        self.poll_interval = poll_interval
        self.batch_size = batch_size
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.shutdown_timeout = shutdown_timeout
        #: the database-time clock (``next_attempt_at`` is compared with it); must be the same clock the
        #: services use when writing rows, and it must advance (backoff waits on it)
        self.clock = clock
        self.concurrency = concurrency
        self._sem = asyncio.Semaphore(concurrency)
        #: workers waiting for a limiter hold nothing, but their database work is bounded too, so a burst
        #: to 200 keys cannot drain the connection pool the rest of the bot needs
        self._db_sem = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._workers: dict[str, asyncio.Task[None]] = {}
        #: a key's next row id as learnt while recording the previous outcome (claimed already when rows are
        #: leased), or None when that key has nothing due: the worker then needs no query of its own
        self._chained: dict[str, int | None] = {}
        #: rows finished (done, failed for good or skipped) by this instance, for tests and stats
        self.processed = 0

    # ------------------------------------------------------------------ what subclasses provide

    @abstractmethod
    async def _due_heads(self, session: AsyncSession, now: datetime) -> list[tuple[int, str]]:
        """``(row id, key)`` of the oldest pending row of every key, where that row is due."""

    @abstractmethod
    async def _next_due_at(self, session: AsyncSession) -> datetime | None:
        """When the earliest head becomes due (None: nothing pending)."""

    @abstractmethod
    async def _next_due_for(self, session: AsyncSession, key: str, now: datetime) -> int | None:
        """The id of ``key``'s oldest pending row if it is due now, else None."""

    @abstractmethod
    async def _pending_count(self, session: AsyncSession) -> int:
        """Rows still waiting (due or not); :meth:`drain` runs until it is zero."""

    @abstractmethod
    async def _process(self, row_id: int) -> bool:
        """Handle one row and record the outcome. True if the key may continue with its next row."""

    def _take_offered(self, key: str, last_id: int) -> int | None:
        """A row of ``key`` handed over in memory while its worker was busy (see OutboxLoop); None here."""
        return None

    def _quiet_exit(self, key: str) -> bool:
        """True when ``key``'s worker ends knowing nothing of the key is pending (no poll needed)."""
        return False

    def _attached(self, attached: bool) -> None:  # noqa: B027 - a hook most loops do without
        """Called when the loop starts (True) and stops (False) working: a place to subscribe to hand-overs."""

    # ------------------------------------------------------------------ public API

    def wake(self) -> None:
        """Something was written and committed: look for due rows now instead of at the next poll."""
        self._wake.set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Work until ``stop`` is set (or the task is cancelled).

        On stop, workers finish the row in hand (up to ``shutdown_timeout``), then the rest is cancelled;
        anything unfinished stays pending for the next start.
        """
        self._stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        last_tick = 0.0
        heartbeat = (
            asyncio.create_task(self._renew_leases(), name=f"sikesal-{self.name}-leases")
            if self.lease_owner is not None else None
        )
        self._attached(True)
        try:
            while not self._stop.is_set():
                since = loop.time() - last_tick
                if since < MIN_TICK_INTERVAL:
                    await asyncio.sleep(MIN_TICK_INTERVAL - since)
                last_tick = self.last_tick = loop.time()
                self._wake.clear()
                try:
                    delay = await self._tick()
                except (SQLAlchemyError, OSError):
                    log.exception("%s poll failed; retrying in %.1fs", self.name, self.poll_interval)
                    delay = self.poll_interval
                await self._wait(delay)
        except asyncio.CancelledError:
            await self._shutdown(graceful=False)  # being killed: do not wait for anything
            raise
        finally:
            self._attached(False)
            if heartbeat is not None:
                heartbeat.cancel()
                await asyncio.gather(heartbeat, return_exceptions=True)
        await self._shutdown()

    async def _renew_leases(self) -> None:
        """Keep the leases of rows in hand alive (a slow send, a rate-limit wait) until their outcome."""
        assert self.lease_owner is not None
        while True:
            await asyncio.sleep(self.lease_ttl / 3)
            if not self._held:
                continue
            try:
                async with self._db_sem, self.sessionmaker() as session, session.begin():
                    await renew_rows(
                        session, self.model, list(self._held), self.lease_owner, now=self.clock(), ttl=self.lease_ttl
                    )
            except (SQLAlchemyError, OSError):
                log.warning("%s: could not renew leases", self.name, exc_info=True)

    async def _claim(self, row_id: int) -> bool:
        """Take the row for this process (always True without leases). False: another process has it."""
        if self.lease_owner is None:
            return True
        async with self._db_sem, self.sessionmaker() as session, session.begin():
            claimed = await claim_row(
                session, self.model, row_id, self.lease_owner, now=self.clock(), ttl=self.lease_ttl
            )
        if claimed:
            self._held.add(row_id)
        return claimed

    async def drain(self, timeout: float = 10.0) -> int:  # noqa: ASYNC109 - a budget, not a per-call timeout
        """Work until nothing is pending (deferred rows are waited for). For tests and the CLI.

        Returns the number of rows finished; raises :class:`TimeoutError` if rows are still pending after
        ``timeout`` seconds. Do not call while :meth:`run` is running.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        start = self.processed
        self._stop = asyncio.Event()
        self._attached(True)
        try:
            while True:
                self._wake.clear()
                delay = await self._tick()
                if not self._workers:
                    async with self.sessionmaker() as session:
                        pending = await self._pending_count(session)
                    if pending == 0:
                        return self.processed - start
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(f"{self.name}: rows still pending after {timeout}s")
                await self._wait(min(delay, remaining))
        finally:
            self._attached(False)
            await self._shutdown()

    # ------------------------------------------------------------------ scheduling

    async def _tick(self) -> float:
        """Start a worker for every key whose head row is due; return how long to sleep before looking again."""
        now = self.clock()
        async with self.sessionmaker() as session:
            heads = await self._due_heads(session, now)
            next_due = await self._next_due_at(session)
            heads = [(row_id, key) for row_id, key in heads if key not in self._workers]
            if self.lease_owner is not None and heads:
                # take no more chats than this process works on at once: the rest is for the other processes
                heads = heads[: max(0, 2 * self.concurrency - len(self._workers))]
                claimed = await claim_rows(session, self.model, [row_id for row_id, _ in heads], self.lease_owner,
                                           now=now, ttl=self.lease_ttl)
                await session.commit()
                self._held.update(claimed)
                heads = [(row_id, key) for row_id, key in heads if row_id in claimed]
        for row_id, key in heads:
            if key in self._workers:  # started meanwhile by a hand-over: that worker goes on from the same head
                continue
            if not self._stop.is_set():
                self._start(key, row_id)
            else:
                self._held.discard(row_id)
        if next_due is None:
            return self.poll_interval
        until = (next_due - self.clock()).total_seconds()
        # due but its key is busy: a finishing worker wakes us; no point in spinning
        return self.poll_interval if until <= 0 else min(self.poll_interval, until)

    def _start(self, key: str, row_id: int, *, claimed: bool = True) -> None:
        """A worker for ``key`` beginning with ``row_id`` (claimed already, unless ``claimed`` is False)."""
        self._workers[key] = asyncio.create_task(self._worker(key, row_id, claimed=claimed),
                                                 name=f"sikesal-{self.name}-{key}")

    async def _wait(self, seconds: float) -> None:
        if self._wake.is_set() or self._stop.is_set():
            return
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(self._stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=max(0.0, seconds), return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _sleep(self, seconds: float) -> None:
        """Sleep unless the loop stops first (then :class:`Stopped`)."""
        try:
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)
        except TimeoutError:
            return
        raise Stopped

    async def _shutdown(self, *, graceful: bool = True) -> None:
        """Let workers finish the row in hand (graceful), then cancel what is left.

        A cancelled worker may have had its row accepted by the channel without the commit: that row is
        handled again by the next run (the one duplicate an outbox allows).
        """
        self._stop.set()
        workers = list(self._workers.values())
        if workers:
            pending: set[asyncio.Task[None]] = set(workers)
            if graceful:
                _done, pending = await asyncio.wait(workers, timeout=self.shutdown_timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        self._workers.clear()

    async def _worker(self, key: str, row_id: int, *, claimed: bool = True) -> None:
        """Handle one key's due rows strictly in order, then hand the key back to the poller."""
        next_id: int | None = row_id  # claimed by the poller (see _tick) when rows are leased
        first = claimed
        try:
            while next_id is not None and not self._stop.is_set():
                if not first and next_id not in self._held and not await self._claim(next_id):
                    break  # another process is on this key: it keeps the order
                first = False
                self._chained.pop(key, None)
                try:
                    if not await self._process(next_id):
                        break
                finally:
                    self._held.discard(next_id)
                last_id = next_id
                if key in self._chained:  # learnt while recording the outcome
                    next_id = self._chained.pop(key)
                else:
                    next_id = await self._next_due_in(key)
                if next_id is None:
                    next_id = self._take_offered(key, last_id)
        except Stopped:
            pass
        except (SQLAlchemyError, OSError):
            log.exception("%s worker for %s hit a database error; will retry", self.name, key)
        finally:
            self._chained.pop(key, None)
            if self._workers.get(key) is asyncio.current_task():
                self._workers.pop(key, None)
            if not self._quiet_exit(key):
                self._wake.set()

    async def _next_due_in(self, key: str) -> int | None:
        async with self._db_sem, self.sessionmaker() as session:
            return await self._next_due_for(session, key, self.clock())

    def _exhausted(self, row: Any) -> bool:
        """A row whose next transient failure is the last: ``max_attempts`` reached *and* (when set)
        ``retry_for`` passed since it was queued."""
        if (row.attempts or 0) + 1 < self.max_attempts:
            return False
        if self.retry_for is None:
            return True
        return bool(self.clock() - as_utc(row.created_at) >= self.retry_for)

    def _backoff(self, attempts: int) -> float:
        """1, 2, 4 ... seconds (times ``backoff_base``), capped, with +-20% jitter against thundering herds."""
        delay = min(self.backoff_cap, self.backoff_base * (2 ** max(0, attempts)))
        return float(delay * random.uniform(0.8, 1.2))


class OutboxLoop(FifoWorkLoop):
    """A channel sender's loop: the keys are chats, the rows are that channel's pending outbox rows."""

    #: the outbox ``channel`` this sender delivers
    channel = ""
    #: Prometheus counters of the process (set by the app; None in unit tests)
    metrics: Any = None
    #: take rows handed over at their commit (the sender reads :attr:`_ahead` and chains via :attr:`_chained`)
    hand_over = False
    #: how many chats :attr:`_drained` remembers before it starts afresh
    MAX_DRAINED = 50_000

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: copies of rows about to be worked on (handed over, or read while recording the previous outcome)
        self._ahead: dict[int, Fresh] = {}
        #: chats this process saw with nothing pending: a row handed over for one of them is its head
        self._drained: set[str] = set()
        #: rows handed over while their chat's worker was busy (it takes them when the table shows nothing)
        self._offered: dict[str, list[Fresh]] = {}
        #: rows whose claim must check that they head their chat (handed over, not found by the poll)
        self._unverified: set[int] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    def _attached(self, attached: bool) -> None:
        if not self.hand_over:
            return
        if attached:
            self._loop = asyncio.get_running_loop()
            attach_sink(self.sessionmaker, self.offer, self._blind)
        else:
            detach_sink(self.sessionmaker, self.offer, self._blind)
            self._drained.clear()
            self._offered.clear()

    def _quiet_exit(self, key: str) -> bool:
        return self.hand_over and key in self._drained and not self._offered.get(key)

    def _blind(self) -> None:
        """Rows were queued where no hand-over sees them: what we believed drained may not be."""
        self._drained.clear()

    def offer(self, rows: list[Fresh]) -> None:
        """Rows just committed (see :func:`storage.outbox.attach_sink`): start the chat's worker on its row at
        once when the chat is known to have nothing else pending; otherwise its worker or the poll finds it."""
        if self._stop.is_set() or self._loop is not _running_loop():
            return  # committed in another thread's loop: the poll finds them
        now = self.clock()
        at = time.monotonic()
        for row in rows:
            if row.channel != self.channel:
                continue
            row.offered_at = at
            key = row.chat_id
            if key in self._workers:
                if len(self._offered) >= self.MAX_DRAINED:
                    self._offered.clear()
                waiting = self._offered.setdefault(key, [])
                waiting[:] = [r for r in waiting if at - r.offered_at <= FRESH_FOR]  # only recent ones are used
                waiting.append(row)
            elif key in self._drained and as_utc(row.next_attempt_at) <= now:
                self._drained.discard(key)
                self._ahead[row.id] = row
                if self.lease_owner is not None:
                    self._unverified.add(row.id)
                self._start(key, row.id, claimed=False)
            else:
                self._wake.set()

    def _take_offered(self, key: str, last_id: int) -> int | None:
        if not self.hand_over:
            return None
        waiting = [row for row in self._offered.pop(key, []) if row.id > last_id]
        if not waiting:
            return None
        waiting.sort(key=lambda row: row.id)
        head, rest = waiting[0], waiting[1:]
        if rest:
            self._offered[key] = rest
        self._drained.discard(key)  # the worker goes on: not drained until its chain says so again
        if as_utc(head.next_attempt_at) > self.clock():
            return None
        if time.monotonic() - head.offered_at <= FRESH_FOR:
            self._ahead[head.id] = head
        # else read back, not taken from memory: it waited, and may have been superseded (an erasure) meanwhile
        if self.lease_owner is not None:
            self._unverified.add(head.id)
        return head.id

    def _chain(self, key: str, this: int, following: Any | None, *, claimed: bool, now: datetime) -> None:
        """After the outcome of row ``this`` was committed: what ``key``'s worker does next (``following``, the
        chat's next pending row read in the same transaction, or nothing)."""
        if not self.hand_over:
            return
        if following is None:
            if len(self._drained) >= self.MAX_DRAINED:
                self._drained.clear()
            self._drained.add(key)
            self._chained[key] = None
            return
        if as_utc(following.next_attempt_at) > now or (self.lease_owner is not None and not claimed):
            self._chained[key] = None  # not due yet (or another process holds it): the poll comes back to it
            return
        handed = next((r for r in self._offered.get(key, ()) if r.id == following.id), None)
        # queued a moment ago and unchanged since: as the commit that queued it made it (a card need not be
        # rendered again)
        just_now = (handed is not None and time.monotonic() - handed.offered_at <= FRESH_FOR
                    and handed.payload == following.payload)
        self._ahead[following.id] = Fresh.of(following, committed_now=just_now)
        if self.lease_owner is not None:
            self._held.add(following.id)
        self._chained[key] = following.id

    async def _claim(self, row_id: int) -> bool:
        if row_id not in self._unverified:
            return await super()._claim(row_id)
        self._unverified.discard(row_id)
        assert self.lease_owner is not None
        async with self._db_sem, self.sessionmaker() as session, session.begin():
            claimed = await claim_head(session, row_id, self.lease_owner, now=self.clock(), ttl=self.lease_ttl)
        if claimed:
            self._held.add(row_id)
        else:
            self._ahead.pop(row_id, None)
        return claimed

    def _count(self, result: str) -> None:
        """One delivery attempt's outcome for ``sikesal_messages_out_total`` (sent|retry|flood|failed)."""
        if self.metrics is not None:
            self.metrics.message_out(self.channel, result)

    async def _due_heads(self, session: AsyncSession, now: datetime) -> list[tuple[int, str]]:
        heads = await OutboxRepo(session).due_heads(now, limit=self.batch_size, channel=self.channel,
                                                    owner=self.lease_owner)
        if self.hand_over and heads:
            for _row_id, key in heads:  # pending there after all (a retry, a row queued elsewhere)
                self._drained.discard(key)
        return heads

    async def _next_due_at(self, session: AsyncSession) -> datetime | None:
        return await OutboxRepo(session).next_due_at(channel=self.channel)

    async def _next_due_for(self, session: AsyncSession, key: str, now: datetime) -> int | None:
        head = await OutboxRepo(session).head_for_chat(key, channel=self.channel)
        if head is None or as_utc(head.next_attempt_at) > now:
            return None
        return head.id

    async def _pending_count(self, session: AsyncSession) -> int:
        return await OutboxRepo(session).pending_count(channel=self.channel)


class InboxLoop(FifoWorkLoop):
    """A channel's inbox worker: the keys are senders (a chat), the rows that channel's pending inbound
    messages, taken in ``seq`` order (see :class:`storage.repositories.InboxRepo`)."""

    model = InboundMessage
    #: the ``inbound_messages.channel`` this worker processes
    channel = ""

    async def _due_heads(self, session: AsyncSession, now: datetime) -> list[tuple[int, str]]:
        return await InboxRepo(session).due_heads(now, limit=self.batch_size, channel=self.channel,
                                                  owner=self.lease_owner)

    async def _next_due_at(self, session: AsyncSession) -> datetime | None:
        return await InboxRepo(session).next_due_at(channel=self.channel)

    async def _next_due_for(self, session: AsyncSession, key: str, now: datetime) -> int | None:
        head = await InboxRepo(session).head_for_sender(key)
        if head is None or as_utc(head.next_attempt_at) > now:
            return None
        return head.id

    async def _pending_count(self, session: AsyncSession) -> int:
        return await InboxRepo(session).pending_count(channel=self.channel)

    async def _failed(self, row_id: int, exc: Exception, attempts: int) -> bool:
        """Record a failed processing attempt; True when the row was given up (the sender's next rows may go).

        An outage (the database unreachable or restarting, the disk, the network) is retried for as long as
        it lasts, with capped backoff: the message must not be lost because PostgreSQL restarted for ten
        minutes. Anything else (a bug, a value the database refuses) is a message we can never process: it
        is given up after ``max_attempts``, so one bad message does not block its sender's later ones for
        ever (it stays in the table, ``failed``)."""
        outage = isinstance(exc, OperationalError | InterfaceError | DisconnectionError | PoolTimeout | OSError) or bool(
            getattr(exc, "connection_invalidated", False)
        )
        give_up = not outage and attempts + 1 >= self.max_attempts
        await self._finish(row_id, error=f"{type(exc).__name__}: {exc}"[:500], retry_in=self._backoff(attempts),
                           give_up=give_up)
        return give_up

    async def _finish(
        self, row_id: int, *, error: str | None = None, retry_in: float = 0.0, give_up: bool = False
    ) -> None:
        """Record a row's outcome: done, failed for good, or a retry after ``retry_in`` seconds."""
        now = self.clock()
        async with self._db_sem, self.sessionmaker() as session, session.begin():
            repo = InboxRepo(session)
            row = await repo.get(row_id)
            if row is None:
                return
            if error is None:
                repo.mark_done(row, now=now)
                self.processed += 1
            elif give_up:
                repo.mark_failed(row, error=error, now=now)
                self.processed += 1
                log.error("%s: row %s failed for good: %s", self.name, row_id, error)
            else:
                repo.mark_retry(row, error=error, delay=retry_in, now=now)
                log.warning("%s: row %s: retry in %.0fs: %s", self.name, row_id, retry_in, error)
