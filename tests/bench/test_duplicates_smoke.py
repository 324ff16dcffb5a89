"""Smoke test of the nearby-duplicates benchmark (``bench.duplicates``) on a small table.

Why: ``make bench`` is too slow for CI, so without this the loader (COPY on PostgreSQL, a raw
executemany on SQLite, datetimes written in SQLAlchemy's storage format) could rot unnoticed. Figures
are not asserted, only that the code path runs and that what the timed lookups returned is right.
"""

from __future__ import annotations

from sqlalchemy import func, select

from bench.duplicates import RADIUS_M, City, measure
from routing.geo import haversine_m
from storage.db import make_engine, make_sessionmaker
from storage.models import Complaint
from storage.repositories import OPEN_STATUSES, ComplaintRepo

ROWS = 2_000


async def test_duplicates_benchmark_runs_and_finds_what_brute_force_finds(database_url: str) -> None:
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    result = await measure(database_url, backend=backend, label="smoke", rows=ROWS, queries=50, seed=7)

    summary = result.summary()
    assert summary["queries"] == 50 and len(result.latencies_ns) == 50
    assert summary["p99_ms"] is not None and summary["max_distance_m"] <= RADIUS_M
    assert any("ix_complaints_nearby" in line for line in result.plan), result.plan

    engine = make_engine(database_url)
    try:
        async with make_sessionmaker(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(Complaint)) == ROWS
            stored = (await session.execute(select(Complaint.category, Complaint.latitude, Complaint.longitude)
                                            .where(Complaint.status.in_(OPEN_STATUSES)))).all()
            # loaded datetimes read back as aware UTC through the ORM (the SQLite loader wrote text)
            first = await session.scalar(select(Complaint).order_by(Complaint.id).limit(1))
            assert first is not None and first.created_at.tzinfo is not None
            # a lookup centred on a stored open complaint finds exactly what brute force finds
            points = [(c, la, lo) for c, la, lo in stored if la is not None and lo is not None]
            category, lat, lon = points[0]
            found = await ComplaintRepo(session).nearby_open(category, lat, lon, RADIUS_M, limit=50)
            expected = sorted(d for c, la, lo in points
                              if c == category and (d := haversine_m(lat, lon, la, lo)) <= RADIUS_M)
            assert [round(d, 6) for _, d in found] == [round(d, 6) for d in expected]
    finally:
        await engine.dispose()


def test_synthetic_complaints_have_unique_numbers_seven_categories_and_a_fifth_open() -> None:
    city = City(seed=1)
    rows = list(city.rows(5_000, citizen_id=1, seed=1))
    assert len({r[0] for r in rows}) == len(rows)
    assert len({r[2] for r in rows}) == 7
    open_share = sum(r[7] in OPEN_STATUSES for r in rows) / len(rows)
    assert 0.15 < open_share < 0.25
    min_lat, min_lon, max_lat, max_lon = city.bounds
    inside = sum(min_lat <= r[4] <= max_lat and min_lon <= r[5] <= max_lon for r in rows)
    assert inside >= 0.95 * len(rows)  # only hot-spot scatter near the edge may fall outside
