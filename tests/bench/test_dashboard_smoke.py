"""Smoke test of the dashboard benchmark (``bench.dashboard``) at a tiny size, on SQLite and PostgreSQL.

Why: ``make bench`` is too slow for CI, so without this the loader (Core executemany of complaints and audit
entries), the serving process, the sign-in through the form and the export measurement could rot unnoticed.
Figures are not asserted; that every page answered 200 and the export held every row is."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from bench.dashboard import OVERVIEW_QUERY, PAGES, complaint_rows, measure
from storage.db import make_engine
from storage.models import AuditEntry, Complaint

ROWS = 300


async def test_dashboard_benchmark_serves_every_page_and_the_whole_export(database_url: str) -> None:
    backend = "postgres" if database_url.startswith("postgresql") else "sqlite"
    result = await measure(database_url, backend=backend, label="smoke", rows=ROWS, requests=3, seed=7)
    summary = result.summary()
    assert result.errors == [] and result.failures == {}, (result.errors, result.failures)
    assert set(summary["pages"]) == {name for name, _, _ in PAGES} | {OVERVIEW_QUERY}
    assert all(len(v) == 3 for v in result.latencies_ns.values())
    assert result.export_rows == ROWS and result.export_bytes > 0
    assert result.rss_peak_mb >= result.rss_before_mb > 0

    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(Complaint))).scalar_one() == ROWS
            assert (await conn.execute(select(func.count()).select_from(AuditEntry))).scalar_one() == result.audit > 0
    finally:
        await engine.dispose()


def test_synthetic_complaints_spread_over_statuses_agencies_and_clocks() -> None:
    now = datetime.now(UTC)
    rows = list(complaint_rows(2_000, range(1, 50), seed=3, now=now))
    complaints = [c for c, _ in rows]
    assert len({c["agency"] for c in complaints}) >= 5 and len({c["kecamatan"] for c in complaints}) >= 5
    assert {"baru", "diterima", "diproses", "selesai", "ditolak"} <= {c["status"] for c in complaints}
    assert all(c["created_at"] <= now for c in complaints)
    open_ = [c for c in complaints if c["status"] in ("baru", "diterima", "diproses", "dibuka_kembali")]
    assert any(c["due_at"] < now for c in open_) and any(c["due_at"] > now for c in open_)  # some overdue
    actions = {e["action"] for _, entries in rows for e in entries}
    assert {"accept", "resolve"} <= actions
    assert all(e["at"] <= now for _, entries in rows for e in entries)
