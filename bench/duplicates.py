"""``python -m bench.duplicates``: the nearby-duplicates lookup at a million stored complaints.

Why: ``ComplaintRepo.nearby_open`` runs inside a citizen's unit of work every time a location is
sent, so it must stay fast however many complaints the city has accumulated. It has no spatial
extension to lean on: a bounding box on the composite index ``ix_complaints_nearby`` (category,
latitude, longitude), then the exact haversine distance. This benchmark fills a table with
``--rows`` complaints (default 1,000,000) and times 2,000 lookups through the real repository,
per backend, against two references measured in the same run:

* **baseline**: the same lookups on a 10,000-row table; the p99 ratio shows how the lookup scales;
* **no index**: a 100,000-row table without ``ix_complaints_nearby`` (the planner falls back to the
  single-column indexes), showing what the composite index buys.

Each backend runs in its own subprocess (``--side``), like ``bench.filings``. SQLite uses files in
a temporary directory; PostgreSQL gets a dedicated database per dataset, created through the
maintenance URL and dropped afterwards (a schema when the role may not create databases), so no
million rows are ever left behind. The target (p99 <= 5 ms at 1M rows) is printed, not asserted.

    python -m bench.duplicates                         # 1M rows, SQLite and PostgreSQL
    python -m bench.duplicates --rows 200000 --backend sqlite
    python -m bench.duplicates --side postgres --rows 100000    # one backend, in this process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import random
import re
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from bench import common
from bench.common import percentile
from routing.geo import SAMPLE_GEOJSON, ServiceArea
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.models import Citizen, Complaint
from storage.repositories import ComplaintRepo

DEFAULT_ROWS = 1_000_000
BASELINE_ROWS = 10_000
REFERENCE_ROWS = 100_000
DEFAULT_QUERIES = 2_000
#: untimed lookups first: statement caches, asyncpg's prepared statements, the page cache
WARMUP_QUERIES = 100
RADIUS_M = 50.0
TARGET_P99_MS = 5.0
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
#: databases/schemas created here are named like this (and dropped at the end of each dataset)
DB_PREFIX = "sikesal_bench_dup_"
ResultT = TypeVar("ResultT")
INDEX = "ix_complaints_nearby"
LOAD_BATCH = 50_000

#: category -> (weight, agency): roads and rubbish are reported far more often than the rest, so the
#: popular categories are denser in the index than a uniform split would make them
CATEGORIES: dict[str, tuple[int, str]] = {
    "jalan": (30, "pupr"),
    "sampah": (20, "dlh"),
    "drainase": (15, "pupr"),
    "lampu": (12, "dishub"),
    "air": (10, "pdam"),
    "lalin": (8, "dishub"),
    "layanan": (5, "jcoc"),
}
#: ~20% of stored complaints still open (the lookup only wants those), the rest closed
STATUSES: dict[str, int] = {"baru": 8, "diterima": 5, "diproses": 7, "selesai": 70, "ditolak": 10}
#: clustered hot spots (a market, a flood-prone junction): a share of complaints, and of lookups,
#: falls within a few hundred metres of one of them
HOT_SPOTS = 25
HOT_SHARE = 0.15
HOT_SIGMA_M = 150.0
METRES_PER_DEGREE = 111_195.0
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi pengendara motor"
#: the columns the loader fills (everything NOT NULL plus what the lookup reads); ids come from the table
LOAD_COLUMNS = ("number", "citizen_id", "category", "description", "latitude", "longitude", "agency",
                "status", "created_at", "updated_at", "resolved_at")


# -- the synthetic city ------------------------------------------------------------------------------------

class City:
    """Where complaints (and lookups) happen: uniformly inside Kota Jambi's bounds, plus hot spots.

    Seeded, so both backends and every dataset of a run see the same kind of data and queries.
    """

    def __init__(self, seed: int) -> None:
        self.bounds = ServiceArea.load(SAMPLE_GEOJSON).bounds
        min_lat, min_lon, max_lat, max_lon = self.bounds
        spots = random.Random(seed ^ 0x5EED)
        self.spots = [(spots.uniform(min_lat, max_lat), spots.uniform(min_lon, max_lon)) for _ in range(HOT_SPOTS)]
        self.categories = list(CATEGORIES)
        self.category_weights = [w for w, _ in CATEGORIES.values()]
        self.statuses = list(STATUSES)
        self.status_weights = list(STATUSES.values())

    def point(self, rng: random.Random) -> tuple[float, float]:
        min_lat, min_lon, max_lat, max_lon = self.bounds
        if rng.random() < HOT_SHARE:
            lat, lon = rng.choice(self.spots)
            sigma = HOT_SIGMA_M / METRES_PER_DEGREE
            return (lat + rng.gauss(0, sigma), lon + rng.gauss(0, sigma / math.cos(math.radians(lat))))
        return (rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon))

    def category(self, rng: random.Random) -> str:
        return rng.choices(self.categories, self.category_weights)[0]

    def rows(self, count: int, citizen_id: int, seed: int) -> Iterator[tuple[Any, ...]]:
        """``count`` complaints as tuples in :data:`LOAD_COLUMNS` order (aware UTC datetimes)."""
        rng = random.Random(seed)
        start = datetime(2024, 1, 1, tzinfo=UTC)
        span_s = 3 * 365 * 86400
        for i in range(count):
            category = self.category(rng)
            status = rng.choices(self.statuses, self.status_weights)[0]
            lat, lon = self.point(rng)
            created = start + timedelta(seconds=span_s * i / max(1, count))
            closed = status in ("selesai", "ditolak")
            updated = created + timedelta(hours=rng.randint(1, 240)) if closed else created
            yield (f"BNC-{i:07d}", citizen_id, category, DESCRIPTION, lat, lon, CATEGORIES[category][1], status,
                   created, updated, updated if closed else None)

    def queries(self, count: int, seed: int) -> list[tuple[str, float, float]]:
        """(category, latitude, longitude) lookups, from the same distribution as the complaints: a new
        report comes from where reports come from."""
        rng = random.Random(seed)
        return [(self.category(rng), *self.point(rng)) for _ in range(count)]


# -- one dataset ---------------------------------------------------------------------------------------------

@dataclass
class DatasetResult:
    """One table size on one backend: load time, lookup latencies (ns) and what the lookups found."""

    backend: str
    label: str
    rows: int
    indexed: bool
    queries: int = 0
    load_s: float = 0.0
    analyze_s: float = 0.0
    latencies_ns: list[int] = field(default_factory=list)
    hits: int = 0
    queries_with_hits: int = 0
    max_distance_m: float = 0.0
    plan: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Figures only (no raw samples): what the table and the JSON show."""
        ms = [n / 1e6 for n in self.latencies_ns]

        def q(p: float) -> float | None:
            value = percentile(ms, p)
            return None if value is None else round(value, 3)

        return {
            "backend": self.backend, "label": self.label, "rows": self.rows, "indexed": self.indexed,
            "queries": self.queries, "load_s": round(self.load_s, 1), "analyze_s": round(self.analyze_s, 1),
            "p50_ms": q(50), "p95_ms": q(95), "p99_ms": q(99), "max_ms": round(max(ms), 3) if ms else None,
            "mean_ms": round(sum(ms) / len(ms), 3) if ms else None,
            "hits_per_query": round(self.hits / max(1, self.queries), 2),
            "share_with_hits": round(self.queries_with_hits / max(1, self.queries), 3),
            "max_distance_m": round(self.max_distance_m, 1), "plan": self.plan,
        }


async def load(engine: AsyncEngine, city: City, rows: int, seed: int) -> int:
    """Bulk-insert one citizen and ``rows`` complaints; returns the citizen's id.

    Not through the ORM (a million ``Complaint`` objects would take minutes and measure nothing we
    care about): PostgreSQL gets one COPY through asyncpg's raw connection, SQLite one executemany
    transaction with the journal off and a large page cache (settings for the load only: the engine
    is disposed afterwards and the lookups get fresh connections with SiKesal's usual pragmas).
    """
    async with engine.begin() as conn:
        citizen_id = (await conn.execute(
            insert(Citizen).values(channel="telegram", channel_user_id="bench", display_name="Bench",
                                   language="id", share_name=False, blocked_bot=False,
                                   created_at=datetime.now(UTC)).returning(Citizen.id)
        )).scalar_one()
    data = city.rows(rows, citizen_id, seed)
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()  # does not autobegin: the driver is ours until we return it
        driver: Any = raw.driver_connection
        if engine.dialect.name == "postgresql":
            await driver.copy_records_to_table(Complaint.__tablename__, records=data, columns=list(LOAD_COLUMNS))
        else:
            await _load_sqlite(driver, data)
    return int(citizen_id)


async def _load_sqlite(driver: Any, data: Iterator[tuple[Any, ...]]) -> None:
    """executemany in batches inside one transaction; datetimes in SQLAlchemy's SQLite storage format
    (naive UTC, microseconds), which is what :class:`storage.models.UTCDateTime` writes and reads."""
    sql = (f"INSERT INTO {Complaint.__tablename__} ({', '.join(LOAD_COLUMNS)}) "
           f"VALUES ({', '.join('?' for _ in LOAD_COLUMNS)})")

    def stamp(value: datetime | None) -> str | None:
        return None if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    for pragma in ("journal_mode = OFF", "synchronous = OFF", "cache_size = -1000000"):
        await driver.execute(f"PRAGMA {pragma}")
    await driver.execute("BEGIN")
    batch: list[tuple[Any, ...]] = []
    for row in data:
        batch.append((*row[:8], stamp(row[8]), stamp(row[9]), stamp(row[10])))
        if len(batch) >= LOAD_BATCH:
            await driver.executemany(sql, batch)
            batch = []
    if batch:
        await driver.executemany(sql, batch)
    await driver.execute("COMMIT")
    for pragma in ("journal_mode = WAL", "synchronous = NORMAL"):
        await driver.execute(f"PRAGMA {pragma}")


async def analyze(engine: AsyncEngine) -> None:
    """Planner statistics, as a production database has them (PostgreSQL: autovacuum would also
    have vacuumed the freshly loaded table, setting hint bits and the visibility map)."""
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        if engine.dialect.name == "postgresql":
            await driver.execute(f"VACUUM ANALYZE {Complaint.__tablename__}")
        else:
            await driver.execute("ANALYZE")


async def measure(url: str, *, backend: str, label: str, rows: int, queries: int, seed: int,
                  indexed: bool = True, engine_options: dict[str, Any] | None = None,
                  progress: bool = False) -> DatasetResult:
    """Migrate the (empty) database at ``url``, load ``rows`` complaints, then time ``queries``
    lookups through :meth:`ComplaintRepo.nearby_open`, one session per lookup like a unit of work.

    Only the lookup itself is timed: the session's transaction (SQLite: ``BEGIN IMMEDIATE``) is
    begun first, as it is in the real unit of work, which has already read the conversation row.
    """
    result = DatasetResult(backend=backend, label=label, rows=rows, indexed=indexed, queries=queries)
    city = City(seed)
    options = dict(engine_options or {})

    say = common.progress(backend, label, progress)

    engine = make_engine(url, **options)
    try:
        await upgrade_database(engine)
        if not indexed:
            async with engine.begin() as conn:
                await conn.execute(text(f"DROP INDEX {INDEX}"))
        say(f"loading {rows:,} complaints ...")
        started = time.perf_counter()
        await load(engine, city, rows, seed)
        result.load_s = time.perf_counter() - started
        started = time.perf_counter()
        await analyze(engine)
        result.analyze_s = time.perf_counter() - started
        say(f"loaded in {result.load_s:.1f} s, analysed in {result.analyze_s:.1f} s; {queries:,} lookups ...")
    finally:
        await engine.dispose()

    engine = make_engine(url, **options)
    try:
        sessions = make_sessionmaker(engine)
        lookups = city.queries(WARMUP_QUERIES + queries, seed + 1)
        statements: list[tuple[str, Any]] = []

        def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
            if "FROM complaints" in statement and not statements:
                statements.append((statement, parameters))

        event.listen(engine.sync_engine, "before_cursor_execute", capture)
        for n, (category, lat, lon) in enumerate(lookups):
            async with sessions() as session, session.begin():
                await session.connection()
                began = time.perf_counter_ns()
                found = await ComplaintRepo(session).nearby_open(category, lat, lon, RADIUS_M)
                elapsed = time.perf_counter_ns() - began
            if n == 0:
                event.remove(engine.sync_engine, "before_cursor_execute", capture)
            if n < WARMUP_QUERIES:
                continue
            result.latencies_ns.append(elapsed)
            result.hits += len(found)
            result.queries_with_hits += bool(found)
            result.max_distance_m = max([result.max_distance_m, *(d for _, d in found)])
        result.plan = await explain(engine, *statements[0]) if statements else []
    finally:
        await engine.dispose()
    return result


async def explain(engine: AsyncEngine, statement: str, parameters: Any) -> list[str]:
    """The plan of the exact statement the repository sent (captured from the cursor), to show which
    index answered it."""
    prefix = "EXPLAIN " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    async with engine.connect() as conn:
        rows = (await conn.exec_driver_sql(prefix + statement, parameters)).all()
    return [str(row[-1]) for row in rows]


# -- databases -----------------------------------------------------------------------------------------------

@contextlib.asynccontextmanager
async def sqlite_database(tmp: Path, label: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A new SQLite file in ``tmp``, deleted afterwards (a million rows is ~300 MB)."""
    path = tmp / f"{label}.db"
    try:
        yield f"sqlite+aiosqlite:///{path.as_posix()}", {}
    finally:
        await asyncio.to_thread(_remove_sqlite_files, path)


def _remove_sqlite_files(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


@contextlib.asynccontextmanager
async def postgres_database(url: str, label: str) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A dedicated database created through the maintenance ``url`` and dropped afterwards; if the role
    may not create databases, a dedicated schema in ``url``'s database (dropped with CASCADE)."""
    name = f"{DB_PREFIX}{label}_{int(time.time())}_{secrets.token_hex(3)}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        kind = "DATABASE"
        try:
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        except DBAPIError as exc:
            if "permission denied" not in str(exc).lower():
                raise
            kind = "SCHEMA"
            async with admin.connect() as conn:
                await conn.execute(text(f'CREATE SCHEMA "{name}"'))
        try:
            if kind == "DATABASE":
                yield make_url(url).set(database=name).render_as_string(hide_password=False), {}
            else:
                yield url, {"connect_args": {"server_settings": {"search_path": name}}}
        finally:
            drop = "WITH (FORCE)" if kind == "DATABASE" else "CASCADE"
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP {kind} IF EXISTS "{name}" {drop}'))
    finally:
        await admin.dispose()


def dataset_database(backend: str, tmp: Path, postgres: str, label: str, pg_label: str
                     ) -> contextlib.AbstractAsyncContextManager[tuple[str, dict[str, Any]]]:
    """``label``'s database on ``backend``: a SQLite file in ``tmp``, or a PostgreSQL database (or schema)
    through ``postgres`` named after ``pg_label``; the URL and engine options, removed afterwards."""
    return sqlite_database(tmp, label) if backend == "sqlite" else postgres_database(postgres, pg_label)


async def baseline_and_main(
    backend: str, args: argparse.Namespace, name: str, measure: Callable[..., Awaitable[ResultT]],
    **options: Any,
) -> list[ResultT]:
    """``measure(url, backend=, label=, rows=, engine_options=, progress=True, **options)`` on a baseline of
    ``--baseline-rows`` and the main dataset of ``--rows`` on ``backend``, each in its own database
    (``sikesal-bench-<name>-`` files, PostgreSQL ``<name>_<label>``)."""
    results: list[ResultT] = []
    with tempfile.TemporaryDirectory(prefix=f"sikesal-bench-{name}-") as tmp:
        for label, rows in (("baseline", args.baseline_rows), ("main", args.rows)):
            database = dataset_database(backend, Path(tmp), args.postgres, label, f"{name}_{label}")
            async with database as (url, engine_options):
                results.append(await measure(url, backend=backend, label=label, rows=rows,
                                             engine_options=engine_options, progress=True, **options))
    return results


def postgres_url() -> str:
    return (os.environ.get("SIKESAL_BENCH_POSTGRES_URL") or os.environ.get("SIKESAL_TEST_POSTGRES_URL")
            or DEFAULT_POSTGRES)


async def run_backend(backend: str, args: argparse.Namespace) -> list[DatasetResult]:
    """Baseline, no-index reference and the main table on one backend, each in its own database."""
    plan: list[tuple[str, int, bool]] = [("baseline", args.baseline_rows, True)]
    if args.reference_rows:
        plan.append(("no-index", args.reference_rows, False))
    plan.append(("main", args.rows, True))
    results: list[DatasetResult] = []
    with tempfile.TemporaryDirectory(prefix="sikesal-bench-dup-") as tmp:
        for label, rows, indexed in plan:
            database = dataset_database(backend, Path(tmp), args.postgres, label, label.replace("-", "_"))
            async with database as (url, options):
                results.append(await measure(url, backend=backend, label=label, rows=rows, queries=args.queries,
                                             seed=args.seed, indexed=indexed, engine_options=options,
                                             progress=True))
    return results


# -- the parent ----------------------------------------------------------------------------------------------

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.duplicates", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help=f"complaints in the main table "
                        f"(default {DEFAULT_ROWS:,})")
    parser.add_argument("--queries", type=int, default=DEFAULT_QUERIES, help=f"timed lookups per table "
                        f"(default {DEFAULT_QUERIES:,}, after {WARMUP_QUERIES} untimed ones)")
    parser.add_argument("--baseline-rows", type=int, default=BASELINE_ROWS,
                        help=f"rows of the baseline table (default {BASELINE_ROWS:,})")
    parser.add_argument("--reference-rows", type=int, default=REFERENCE_ROWS,
                        help=f"rows of the no-index reference (default {REFERENCE_ROWS:,}; 0 skips it)")
    common.add_backend_options(
        parser, postgres=postgres_url(),
        postgres_help="PostgreSQL maintenance URL (default $SIKESAL_BENCH_POSTGRES_URL, "
                      f"$SIKESAL_TEST_POSTGRES_URL or {DEFAULT_POSTGRES})")
    args = parser.parse_args(argv)
    if args.rows < 1 or args.queries < 1 or args.baseline_rows < 1 or args.reference_rows < 0:
        parser.error("--rows, --queries and --baseline-rows must be at least 1, --reference-rows at least 0")
    return args


def forwarded(args: argparse.Namespace) -> list[str]:
    return common.forward(args, "rows", "queries", "baseline_rows", "reference_rows", "postgres", "seed")


def with_ratios(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each dataset's p99 over the same backend's 10k-row baseline p99 (same run, same machine)."""
    base = {r["backend"]: r["p99_ms"] for r in rows if r["label"] == "baseline"}
    for r in rows:
        b = base.get(r["backend"])
        r["p99_ratio"] = round(r["p99_ms"] / b, 2) if b and r["p99_ms"] is not None else None
    return rows


def print_table(rows: list[dict[str, Any]], main_rows: int) -> None:
    head = ["backend", "table", "rows", "index", "load s", "p50 ms", "p95 ms", "p99 ms", "max ms",
            "hits/query", "p99 ratio"]
    names = {"sqlite": "SQLite", "postgres": "PostgreSQL"}
    lines = [head]
    for r in rows:
        lines.append([names[r["backend"]], r["label"], f"{r['rows']:,}", "yes" if r["indexed"] else "no",
                      f"{r['load_s'] + r['analyze_s']:.1f}", *(f"{r[k]:.2f}" for k in ("p50_ms", "p95_ms", "p99_ms",
                                                                                         "max_ms")),
                      f"{r['hits_per_query']:.2f}", "-" if r["p99_ratio"] is None else f"{r['p99_ratio']:.2f}"])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        print("  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(line)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print(f"\nlookups: {rows[0]['queries']:,} per table (after {WARMUP_QUERIES} untimed), radius {RADIUS_M:.0f} m, "
          f"random category, points like the data ({HOT_SHARE:.0%} at {HOT_SPOTS} hot spots); load s = insert + "
          "ANALYZE; p99 ratio = p99 over the same backend's baseline p99")
    print(f"target: p99 <= {TARGET_P99_MS:g} ms at {main_rows:,} rows (printed, not asserted)")
    for r in rows:
        if r["label"] == "main":
            verdict = "meets" if r["p99_ms"] <= TARGET_P99_MS else "MISSES"
            print(f"  {names[r['backend']]}: p99 {r['p99_ms']:.2f} ms {verdict} the target")
    for r in rows:
        if r["plan"]:
            print(f"  plan {names[r['backend']]} {r['label']}: {plan_line(r['plan'])}")


def plan_line(plan: list[str]) -> str:
    """The plan's access path in one line (the scan node and its index condition, costs dropped)."""
    keep = [re.sub(r"'(-?\d+\.\d{4})\d*'::double precision", r"\1",
                   re.sub(r"\s*\(cost=[^)]*\)", "", p)).strip().lstrip("-> ")
            for p in plan if re.search(r"Scan|SEARCH|SCAN|Index Cond", p)]
    return " / ".join(keep)[:240]


def run_parent(args: argparse.Namespace) -> int:
    return common.run_parent(
        "duplicates", args,
        banner=f"nearby-duplicates lookup benchmark: {args.rows:,} complaints, {args.queries:,} lookups per table",
        options=forwarded(args), with_ratios=with_ratios, print_table=print_table,
        report=lambda rows: {
            "rows": args.rows, "queries": args.queries, "warmup_queries": WARMUP_QUERIES, "radius_m": RADIUS_M,
            "seed": args.seed, "target_p99_ms_max": TARGET_P99_MS,
            "met": {r["backend"]: r["p99_ms"] <= TARGET_P99_MS for r in rows if r["label"] == "main"},
        },
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.side:
        return common.run_side(args, run_backend, with_ratios=with_ratios, print_table=print_table)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
