"""``python -m bench.timers``: the scheduler's due-timer query at a million stored complaints.

Why: the scheduler asks "which timers are due?" every tick (:meth:`storage.timers.TimerRepo.due`), in
every process that holds its lease, however many complaints the city has accumulated. The table keeps
every timer that ever fired (so nothing fires twice), so it grows with the complaints: the query must
read only what is unfired, which the partial index ``ix_timers_due`` (due_at, ``WHERE fired_at IS NULL``)
is for. This benchmark stores ``--rows`` complaints (default 1,000,000, loaded like ``bench.duplicates``)
and their timers as the clocks would have left them at "now" (see :func:`timer_rows`), then times
``--queries`` due queries (limit 100, "now" drawn within an hour and a half around the data's now) through
the real repository, one session each, against a 10,000-complaint **baseline** in the same run.

Each backend runs in its own subprocess; SQLite uses temporary files, PostgreSQL a database per table
created through ``$SIKESAL_BENCH_POSTGRES_URL`` (else ``$SIKESAL_TEST_POSTGRES_URL``) and dropped
afterwards. The target (p99 <= 20 ms at 1M complaints) is printed, not asserted.

    python -m bench.timers                              # 1M complaints, SQLite and PostgreSQL
    python -m bench.timers --rows 200000 --backend sqlite
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bench import common
from bench.common import percentile
from bench.duplicates import (
    CATEGORIES,
    City,
    analyze,
    baseline_and_main,
    explain,
    load,
    plan_line,
    postgres_url,
)
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.models import Complaint, Timer
from storage.timers import TimerRepo

DEFAULT_ROWS = 1_000_000
BASELINE_ROWS = 10_000
DEFAULT_QUERIES = 2_000
WARMUP_QUERIES = 100
#: what one scheduler tick asks for
LIMIT = 100
TARGET_P99_MS = 20.0
LOAD_BATCH = 50_000
#: bench.duplicates' synthetic complaints are filed over three years from 2024-01-01: "now" is the end
START = datetime(2024, 1, 1, tzinfo=UTC)
NOW = START + timedelta(seconds=3 * 365 * 86400)
#: due timers the scheduler has not fired yet: a pessimistic backlog (an hour behind, e.g. after a restart)
BACKLOG = timedelta(hours=1)
#: the queries' "now": from half an hour before the data's now to an hour after it
QUERY_WINDOW = (timedelta(minutes=-30), timedelta(minutes=60))
ACCEPT_HOURS = 4.0
REMIND_BEFORE_HOURS = 6.0
ESCALATE_AFTER_HOURS = (0.0, 24.0)
TARGET_HOURS = {"jalan": 72, "drainase": 48, "lampu": 48, "lalin": 24, "sampah": 24, "air": 24, "layanan": 72}
TIMER_COLUMNS = ("kind", "subject", "level", "round", "complaint_id", "due_at", "fired_at", "created_at")
OPEN = ("baru", "diterima", "diproses")


def timer_rows(city: City, rows: int, first_id: int, seed: int, now: datetime = NOW) -> Iterator[tuple[Any, ...]]:
    """The timers ``rows`` complaints (ids from ``first_id``, as bench.duplicates loads them) have at ``now``.

    An open complaint has its whole plan (accept while *baru*, resolve_soon, overdue, two escalation
    levels); a closed one keeps what fired before it closed (an unanswered accept reminder in 30% of them,
    the early reminder in half, the overdue notice and first escalation in a fifth), the rest was deleted
    by its replan. What was due before ``now`` has fired, except the scheduler's backlog of the last
    :data:`BACKLOG`; the rest waits, unfired."""
    rng = random.Random(seed ^ 0x71E5)
    for offset, row in enumerate(city.rows(rows, citizen_id=0, seed=seed)):
        complaint_id = first_id + offset
        category, status, created = row[2], row[7], row[8]
        subject = f"c{complaint_id}"
        due = created + timedelta(hours=TARGET_HOURS.get(category, 72))
        plan = [("accept", 0, created + timedelta(hours=ACCEPT_HOURS)),
                ("resolve_soon", 0, due - timedelta(hours=REMIND_BEFORE_HOURS)), ("overdue", 0, due)]
        plan += [("escalate", level, due + timedelta(hours=h)) for level, h in enumerate(ESCALATE_AFTER_HOURS)]
        if status in OPEN:
            kept = [t for t in plan if t[0] != "accept" or status == "baru"]
        else:
            late = rng.random() < 0.2
            chance = {"accept": 0.3, "resolve_soon": 0.5}
            kept = [t for t in plan if (t[0] in ("overdue", "escalate") and t[1] == 0 and late)
                    or rng.random() < chance.get(t[0], 0.0)]
            kept = [t for t in kept if t[2] <= now]  # a closed complaint's future timers were deleted
        for kind, level, at in kept:
            fired = at + timedelta(seconds=rng.uniform(1, 30)) if at <= now - BACKLOG else None
            yield (kind, subject, level, 0, complaint_id, at, fired, created)


async def load_timers(engine: AsyncEngine, rows: Iterator[tuple[Any, ...]]) -> int:
    """Bulk-insert timers (COPY on PostgreSQL, executemany in one transaction on SQLite); how many."""
    count = 0

    def counted() -> Iterator[tuple[Any, ...]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if engine.dialect.name == "postgresql":
            await driver.copy_records_to_table(Timer.__tablename__, records=counted(), columns=list(TIMER_COLUMNS))
        else:
            await _load_sqlite(driver, counted())
    return count


async def _load_sqlite(driver: Any, data: Iterator[tuple[Any, ...]]) -> None:
    sql = (f"INSERT INTO {Timer.__tablename__} ({', '.join(TIMER_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in TIMER_COLUMNS)})")

    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -1000000"):
        await driver.execute(f"PRAGMA {pragma}")
    await driver.execute("BEGIN")
    batch: list[tuple[Any, ...]] = []
    for row in data:
        batch.append((*row[:5], stamp(row[5]), stamp(row[6]), stamp(row[7])))
        if len(batch) >= LOAD_BATCH:
            await driver.executemany(sql, batch)
            batch = []
    if batch:
        await driver.executemany(sql, batch)
    await driver.execute("COMMIT")
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL"):
        await driver.execute(f"PRAGMA {pragma}")


@dataclass
class DatasetResult:
    backend: str
    label: str
    rows: int
    queries: int = 0
    timers: int = 0
    unfired: int = 0
    load_s: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    returned: int = 0
    plan: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ms = [n / 1e6 for n in self.latencies_ns]

        def q(p: float) -> float | None:
            value = percentile(ms, p)
            return None if value is None else round(value, 3)

        return {
            "backend": self.backend, "label": self.label, "rows": self.rows, "timers": self.timers,
            "unfired": self.unfired, "queries": self.queries, "load_s": round(self.load_s, 1),
            "p50_ms": q(50), "p95_ms": q(95), "p99_ms": q(99), "max_ms": round(max(ms), 3) if ms else None,
            "due_per_query": round(self.returned / max(1, self.queries), 1), "plan": self.plan,
        }


async def measure(url: str, *, backend: str, label: str, rows: int, queries: int, seed: int,
                  engine_options: dict[str, Any] | None = None, progress: bool = False) -> DatasetResult:
    """Migrate, load ``rows`` complaints and their timers, then time ``queries`` due queries through
    :meth:`TimerRepo.due`, one session each (the scheduler's tick opens its own unit of work)."""
    result = DatasetResult(backend=backend, label=label, rows=rows, queries=queries)
    city = City(seed)
    options = dict(engine_options or {})

    say = common.progress(backend, label, progress)

    engine = make_engine(url, **options)
    try:
        await upgrade_database(engine)
        say(f"loading {rows:,} complaints and their timers ...")
        started = time.perf_counter()
        await load(engine, city, rows, seed)
        async with engine.connect() as conn:
            first_id = int((await conn.execute(select(func.min(Complaint.id)))).scalar_one())
        result.timers = await load_timers(engine, timer_rows(city, rows, first_id, seed))
        await analyze(engine)
        if engine.dialect.name == "postgresql":
            async with engine.connect() as conn:
                raw = await conn.get_raw_connection()
                await raw.driver_connection.execute(f"VACUUM ANALYZE {Timer.__tablename__}")  # type: ignore[union-attr]
        async with engine.connect() as conn:
            result.unfired = int((await conn.execute(
                select(func.count()).select_from(Timer).where(Timer.fired_at.is_(None))
            )).scalar_one())
        result.load_s = time.perf_counter() - started
        say(f"{result.timers:,} timers ({result.unfired:,} unfired) in {result.load_s:.1f} s; {queries:,} queries")
    finally:
        await engine.dispose()

    engine = make_engine(url, **options)
    try:
        sessions = make_sessionmaker(engine)
        rng = random.Random(seed + 1)
        low, high = (w.total_seconds() for w in QUERY_WINDOW)
        moments = [NOW + timedelta(seconds=rng.uniform(low, high)) for _ in range(WARMUP_QUERIES + queries)]
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
            if "FROM timers" in statement and not statements:
                statements.append((statement, parameters))

        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        for n, moment in enumerate(moments):
            async with sessions() as session, session.begin():
                await session.connection()
                began = time.perf_counter_ns()
                due = await TimerRepo(session).due(moment, LIMIT)
                elapsed = time.perf_counter_ns() - began
            if n == 0:
                event.remove(engine.sync_engine, "before_cursor_execute", capture)
            if n < WARMUP_QUERIES:
                continue
            result.latencies_ns.append(elapsed)
            result.returned += len(due)
        result.plan = await explain(engine, *statements[0]) if statements else []
    finally:
        await engine.dispose()
    return result


async def run_backend(backend: str, args: argparse.Namespace) -> list[DatasetResult]:
    return await baseline_and_main(backend, args, "timers", measure, queries=args.queries, seed=args.seed)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.timers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"complaints (default {DEFAULT_ROWS:,})")
    parser.add_argument("--queries", type=int, default=DEFAULT_QUERIES,
                        help=f"timed due queries per table (default {DEFAULT_QUERIES:,}, after {WARMUP_QUERIES})")
    parser.add_argument("--baseline-rows", type=int, default=BASELINE_ROWS,
                        help=f"complaints of the baseline (default {BASELINE_ROWS:,})")
    common.add_backend_options(parser, postgres=postgres_url())
    args = parser.parse_args(argv)
    if args.rows < 1 or args.queries < 1 or args.baseline_rows < 1:
        parser.error("--rows, --queries and --baseline-rows must be at least 1")
    return args


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = {r["backend"]: r["p99_ms"] for r in rows if r["label"] == "baseline"}
    for r in rows:
        b = base.get(r["backend"])
        r["p99_ratio"] = round(r["p99_ms"] / b, 2) if b and r["p99_ms"] is not None else None
    return rows


def print_table(rows: list[dict[str, Any]], main_rows: int) -> None:
    head = ["backend", "table", "complaints", "timers", "unfired", "load s", "p50 ms", "p95 ms", "p99 ms",
            "max ms", "due/query", "p99 ratio"]
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    lines = [head]
    for r in rows:
        lines.append([names[r["backend"]], r["label"], f"{r['rows']:,}", f"{r['timers']:,}", f"{r['unfired']:,}",
                      f"{r['load_s']:.1f}", *(f"{r[k]:.2f}" for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")),
                      f"{r['due_per_query']:.1f}", "-" if r["p99_ratio"] is None else f"{r['p99_ratio']:.2f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        print("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(line)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    low, high = (int(w.total_seconds() // 60) for w in QUERY_WINDOW)
    print(f"\nqueries: {rows[0]['queries']:,} per table (after {WARMUP_QUERIES} untimed), limit {LIMIT}, now drawn "
          f"from {low} to +{high} min around the data's now, timers due in the last {BACKLOG} unfired (backlog); "
          "load s = complaints + timers + ANALYZE; p99 ratio = p99 over the same backend's baseline p99")
    print(f"target: p99 <= {TARGET_P99_MS:g} ms at {main_rows:,} complaints (printed, not asserted)")
    for r in rows:
        if r["label"] == "main":
            verdict = "meets" if r["p99_ms"] <= TARGET_P99_MS else "MISSES"
            print(f"  {names[r['backend']]}: p99 {r['p99_ms']:.2f} ms {verdict} the target")
    for r in rows:
        if r["plan"]:
            print(f"  plan {names[r['backend']]} {r['label']}: {plan_line(r['plan'])}")


def run_parent(args: argparse.Namespace) -> int:
    return common.run_parent(
        "timers", args,
        banner=f"due-timer query benchmark: {args.rows:,} complaints, {args.queries:,} queries per table",
        options=common.forward(args, "rows", "queries", "baseline_rows", "postgres", "seed"),
        with_ratios=with_ratios, print_table=print_table,
        report=lambda rows: {
            "rows": args.rows, "queries": args.queries, "limit": LIMIT, "seed": args.seed,
            "target_p99_ms_max": TARGET_P99_MS,
            "met": {r["backend"]: r["p99_ms"] <= TARGET_P99_MS for r in rows if r["label"] == "main"},
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.side:
        return common.run_side(args, run_backend, with_ratios=with_ratios, print_table=print_table)
    return run_parent(args)


assert set(TARGET_HOURS) == set(CATEGORIES), "every benchmark category has a resolve clock"

if __name__ == "__main__":
    sys.exit(main())
