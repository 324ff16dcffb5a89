"""``sikesal report`` on a seeded history (complaints and audit entries stored directly, with known times):
exactly the expected figures, as a table and as CSV, on SQLite and PostgreSQL; the period is the city's
calendar days, both included."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot import cli
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.models import AuditEntry, Citizen, Complaint

ROOT = Path(__file__).resolve().parents[2]
WIB = ZoneInfo("Asia/Jakarta")
H = timedelta(hours=1)


@pytest.fixture
def db_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    monkeypatch.setenv("SIKESAL_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def wib(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=WIB)


def seed(url: str) -> None:
    """Eight complaints filed in October 2026 (city time) and two just outside it.

    pupr/jalan: c1 accepted after 1 h (in time), resolved after 24 h (in time), rated 5; c2 a refused accept,
    then accepted after 6 h (late), resolved after 72 h (late), reopened once before, rated 3; c3 still baru
    past its accept clock; c4 accepted after 2 h, in process past its due time.
    pupr/drainase: c5 accepted after 3 h, reopened (not resolved now), past its new due time; c6 rejected.
    dlh/sampah: c7 accepted exactly at its accept clock, resolved exactly at its due time, rated 4; c8 filed
    at 20:00 on 31 October (13:00 UTC), baru past its accept clock.
    """
    rows: list[tuple[str, str, str, datetime, dict[str, Any], list[tuple[datetime, bool]]]] = [
        ("jalan", "pupr", "selesai", wib(10, 2, 8),
         {"due": 48 * H, "resolved": 24 * H, "rating": 5}, [(wib(10, 2, 9), False)]),
        ("jalan", "pupr", "selesai", wib(10, 5, 8),
         {"due": 48 * H, "resolved": 72 * H, "rating": 3, "reopen": 1}, [(wib(10, 5, 10), True), (wib(10, 5, 14), False)]),
        ("jalan", "pupr", "baru", wib(10, 10, 8), {"due": 48 * H}, []),
        ("jalan", "pupr", "diproses", wib(10, 12, 8), {"due": 48 * H}, [(wib(10, 12, 10), False)]),
        ("drainase", "pupr", "dibuka_kembali", wib(10, 15, 8),
         {"due": 5 * 24 * H, "resolved": 24 * H, "reopen": 1}, [(wib(10, 15, 11), False)]),
        ("drainase", "pupr", "ditolak", wib(10, 16, 8), {"due": 48 * H}, []),
        ("sampah", "dlh", "selesai", wib(10, 20, 8), {"due": 24 * H, "resolved": 24 * H, "rating": 4},
         [(wib(10, 20, 12), False)]),
        ("sampah", "dlh", "baru", wib(10, 31, 20), {"due": 24 * H}, []),
        ("jalan", "pupr", "baru", wib(11, 1, 0, 30), {"due": 48 * H}, []),  # 1 November in Jambi
        ("jalan", "pupr", "baru", wib(9, 30, 23, 30), {"due": 48 * H}, []),  # 30 September in Jambi
    ]

    async def go() -> None:
        engine = make_engine(url)
        try:
            await upgrade_database(engine)
            async with make_sessionmaker(engine)() as session:
                citizen = Citizen(channel="telegram", channel_user_id="4242", display_name="Siti", language="id")
                session.add(citizen)
                await session.flush()
                for n, (category, agency, status, created, clocks, accepts) in enumerate(rows, start=1):
                    complaint = Complaint(
                        number=f"JMB-2026-{n:06d}", citizen_id=citizen.id, category=category, agency=agency,
                        status=status, description="Keluhan untuk laporan", created_at=created, updated_at=created,
                        accept_due_at=created + 4 * H, due_at=created + clocks["due"],
                        resolved_at=created + clocks["resolved"] if "resolved" in clocks else None,
                        reopen_count=clocks.get("reopen", 0), rating=clocks.get("rating"),
                    )
                    session.add(complaint)
                    await session.flush()
                    session.add(AuditEntry(complaint_id=complaint.id, at=created, actor_kind="citizen",
                                           action="submit", to_status="baru"))
                    for at, refused in accepts:
                        session.add(AuditEntry(complaint_id=complaint.id, at=at, actor_kind="staff", actor_name="Budi",
                                               action="accept", from_status="baru", to_status="diterima",
                                               refused=refused))
                await session.commit()
        finally:
            await engine.dispose()

    asyncio.run(go())


EXPECTED_CSV = """\
agency,category,received,accepted_on_time,accepted_on_time_pct,resolved,resolved_on_time,resolved_on_time_pct,median_accept_hours,median_resolve_hours,overdue_now,reopened,reopen_rate_pct,ratings,rating_mean
dlh,sampah,2,1,50.0,1,1,100.0,4.00,24.00,1,0,0.0,1,4.00
dlh,*,2,1,50.0,1,1,100.0,4.00,24.00,1,0,0.0,1,4.00
pupr,drainase,2,1,50.0,0,0,,3.00,,1,1,100.0,0,
pupr,jalan,4,2,50.0,2,1,50.0,2.00,48.00,2,1,50.0,2,4.00
pupr,*,6,3,50.0,2,1,50.0,2.50,48.00,3,2,66.7,2,4.00
*,*,8,4,50.0,3,2,66.7,3.00,24.00,4,2,50.0,3,4.00
"""

EXPECTED_TABLE = [
    ["agency", "category", "received", "accepted on time", "resolved", "on time", "median accept", "median resolve",
     "overdue now", "reopened", "rating"],
    ["dlh", "sampah", "2", "1 (50%)", "1", "1 (100%)", "4.0h", "24.0h", "1", "0 (0%)", "4.00 (1)"],
    ["dlh", "(all)", "2", "1 (50%)", "1", "1 (100%)", "4.0h", "24.0h", "1", "0 (0%)", "4.00 (1)"],
    ["pupr", "drainase", "2", "1 (50%)", "0", "0", "3.0h", "-", "1", "1 (100%)", "-"],
    ["pupr", "jalan", "4", "2 (50%)", "2", "1 (50%)", "2.0h", "48.0h", "2", "1 (50%)", "4.00 (2)"],
    ["pupr", "(all)", "6", "3 (50%)", "2", "1 (50%)", "2.5h", "48.0h", "3", "2 (67%)", "4.00 (2)"],
    ["(all)", "(all)", "8", "4 (50%)", "3", "2 (67%)", "3.0h", "24.0h", "4", "2 (50%)", "4.00 (3)"],
]


def test_report_as_csv_has_exactly_the_expected_figures(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed(db_env)
    assert cli.main(["report", "--since", "2026-10-01", "--until", "2026-10-31", "--format", "csv"]) == 0
    assert capsys.readouterr().out == EXPECTED_CSV


def test_report_as_a_table_has_exactly_the_expected_figures(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    seed(db_env)
    assert cli.main(["report", "--since", "2026-10-01", "--until", "2026-10-31"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("SiKesal report: complaints received 2026-10-01 to 2026-10-31 (Asia/Jakarta)")
    start = next(i for i, line in enumerate(lines) if line.startswith("agency"))
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[start:] if line.strip()][: len(EXPECTED_TABLE)]
    assert rows == EXPECTED_TABLE
    table = [line for line in lines[start:] if line.strip()][: len(EXPECTED_TABLE)]
    assert {len(line) for line in table} == {len(table[0])}, "figures are right-aligned under their headings"


def test_report_without_a_period_counts_everything_and_an_empty_period_says_so(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(db_env)
    assert cli.main(["report", "--format", "csv"]) == 0
    total = capsys.readouterr().out.splitlines()[-1].split(",")
    assert total[:3] == ["*", "*", "10"]
    assert cli.main(["report", "--since", "2026-11-01", "--until", "2026-11-01", "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "pupr,jalan,1,0,0.0,0,0,,,,1,0,,0,", "pupr,*,1,0,0.0,0,0,,,,1,0,,0,", "*,*,1,0,0.0,0,0,,,,1,0,,0,"
    ]
    assert cli.main(["report", "--since", "2027-01-01"]) == 0
    assert "No complaints were received in this period." in capsys.readouterr().out
    assert cli.main(["report", "--since", "2026-10-02", "--until", "2026-10-01"]) == 1
