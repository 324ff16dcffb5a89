"""Smoke test of the due-timer benchmark (``bench.timers``) at a tiny size, on SQLite and PostgreSQL.

Why: ``make bench`` is too slow for CI, so without this the timers loader (COPY on PostgreSQL, a raw
executemany on SQLite) and the synthetic clocks could rot unnoticed. Figures are not asserted; what the
timed queries returned is checked against brute force, and the plan against the partial index."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bench.duplicates import City
from bench.timers import LIMIT, NOW, measure, timer_rows
from storage.db import make_engine, make_sessionmaker
from storage.models import Timer
from storage.timers import TimerRepo

ROWS = 2_000


async def test_timers_benchmark_runs_and_the_due_query_matches_brute_force(database_url: str) -> None:
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    result = await measure(database_url, backend=backend, label="smoke", rows=ROWS, queries=30, seed=7)
    summary = result.summary()
    assert summary["queries"] == 30 and len(result.latencies_ns) == 30 and summary["p99_ms"] is not None
    assert result.timers > ROWS and 0 < result.unfired < result.timers
    assert any("ix_timers_due" in line for line in result.plan), result.plan

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            stored = (await session.execute(select(Timer.id, Timer.due_at, Timer.fired_at))).all()
            assert len(stored) == result.timers
            assert all(t.due_at.tzinfo is not None for t in stored)  # loaded times read back aware
            waiting = sorted(due for _, due, fired in stored if fired is None)
            at = waiting[min(4, len(waiting) - 1)]  # a moment a few unfired timers are due at
            expected = sorted((due, tid) for tid, due, fired in stored if fired is None and due <= at)[:LIMIT]
            found = await TimerRepo(session).due(at, LIMIT)
            assert [t.id for t in found] == [tid for _, tid in expected] and found
    finally:
        await engine.dispose()


def test_synthetic_timers_follow_the_clocks() -> None:
    rows = list(timer_rows(City(seed=1), 3_000, first_id=1, seed=1))
    kinds = {r[0] for r in rows}
    assert kinds == {"accept", "resolve_soon", "overdue", "escalate"}
    assert len({(r[0], r[1], r[2], r[3]) for r in rows}) == len(rows)  # the unique key holds
    assert all(r[6] is None or r[6] > r[5] for r in rows)  # fired after due
    unfired = [r for r in rows if r[6] is None]
    assert unfired and all(r[5] > NOW - timedelta(hours=1) for r in unfired)
