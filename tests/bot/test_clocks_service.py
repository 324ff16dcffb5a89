"""The clocks as stored, through the real services on SQLite and PostgreSQL: filing sets the accept and
resolve clocks and plans the timers; accepting stops the accept clock; reassigning restarts it at the new
agency and keeps the resolve clock; a duplicate and a rejection stop every clock; a reopen starts a new
resolve clock; ``sikesal migrate`` fills the clocks of complaints stored before them, once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import DeadlinesConfig, load_config
from bot.services import clocks
from bot.services.citizen import file_draft
from bot.services.runtime import Runtime
from bot.services.staff import StaffActor, handle_staff_button
from bot.services.staff_prompts import mark_duplicate
from handlers.state import Draft
from storage.media import MediaStore
from storage.models import Timer
from storage.uow import UnitOfWork
from tests.clocks import FixedClock as Clock

ROOT = Path(__file__).resolve().parents[2]
FILED = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday 10:00 WIB
PUPR_CHAT, DLH_CHAT = -1001, -1003
CLERK = StaffActor("501", "Budi")


@pytest.fixture
def runtime(sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path) -> Runtime:
    config = load_config(ROOT / "config.yaml")
    deadlines = DeadlinesConfig(accept_hours=4, remind_before_hours=6, escalate_after_hours=[0, 24])
    config = config.model_copy(update={"deadlines": deadlines})
    return Runtime(config=config, sessionmaker=sessionmaker, media=MediaStore(tmp_path / "media"), clock=Clock(FILED))


async def _file_one(rt: Runtime, category: str = "jalan") -> int:
    async with UnitOfWork(rt.sessionmaker) as uow:
        now = rt.clock()
        await uow.agencies.link("pupr", PUPR_CHAT, title="PUPR", linked_by="1", now=now)
        await uow.agencies.link("dlh", DLH_CHAT, title="DLH", linked_by="1", now=now)
        citizen = await uow.citizens.get_or_create("telegram", "7001", display_name="Siti", language="id")
        draft = Draft(category=category, description="Lubang besar di depan pasar", latitude=-1.61, longitude=103.61)
        complaint = await file_draft(rt, uow, citizen, draft)
        await uow.commit()
        return complaint.id


@dataclass
class Stored:
    status: str
    agency: str
    accept_due_at: datetime | None
    due_at: datetime | None
    accept_round: int
    resolve_round: int


async def _state(rt: Runtime, complaint_id: int) -> tuple[Stored, list[tuple[str, int, int, datetime, bool]]]:
    async with UnitOfWork(rt.sessionmaker) as uow:  # plain values: rows expire when the unit of work ends
        c = await uow.complaints.get(complaint_id)
        assert c is not None
        stored = Stored(c.status, c.agency, c.accept_due_at, c.due_at, c.accept_round, c.resolve_round)
        timers = await uow.timers.for_complaint(complaint_id)
        return stored, sorted((t.kind, t.level, t.round, t.due_at, t.fired_at is not None) for t in timers)


async def _press(rt: Runtime, payload: str, chat: int, key: str) -> str:
    result = await handle_staff_button(rt, chat_id=chat, actor=CLERK, payload=payload, update_key=key)
    assert result.alert is not None
    return result.alert.text


def _unfired(timers: list[tuple[str, int, int, datetime, bool]]) -> list[tuple[str, int, int, datetime]]:
    return [(k, lvl, rnd, due) for k, lvl, rnd, due, fired in timers if not fired]


async def test_filing_sets_both_clocks_and_plans_the_timers(runtime: Runtime) -> None:
    complaint_id = await _file_one(runtime)
    complaint, timers = await _state(runtime, complaint_id)
    due = FILED + timedelta(hours=72)  # jalan: target_hours 72
    assert complaint.accept_due_at == FILED + timedelta(hours=4)
    assert complaint.due_at == due
    assert _unfired(timers) == sorted([
        ("accept", 0, 0, FILED + timedelta(hours=4)),
        ("resolve_soon", 0, 0, due - timedelta(hours=6)),
        ("overdue", 0, 0, due),
        ("escalate", 0, 0, due),
        ("escalate", 1, 0, due + timedelta(hours=24)),
    ])


async def test_accepting_stops_the_accept_clock(runtime: Runtime) -> None:
    complaint_id = await _file_one(runtime)
    runtime.clock.now = FILED + timedelta(hours=1)  # type: ignore[attr-defined]
    assert "Diterima" in await _press(runtime, f"st:accept:{complaint_id}", PUPR_CHAT, "a1")
    _, timers = await _state(runtime, complaint_id)
    assert [t[0] for t in _unfired(timers)] == ["escalate", "escalate", "overdue", "resolve_soon"]


async def test_reassigning_restarts_accept_and_keeps_resolve(runtime: Runtime) -> None:
    complaint_id = await _file_one(runtime)
    moved_at = FILED + timedelta(hours=10)  # the first accept timer was due (and fired) meanwhile
    async with UnitOfWork(runtime.sessionmaker) as uow:
        first = next(t for t in await uow.timers.for_complaint(complaint_id) if t.kind == "accept")
        assert await uow.timers.claim(first.id, FILED + timedelta(hours=4))
        await uow.commit()
    runtime.clock.now = moved_at  # type: ignore[attr-defined]
    await _press(runtime, f"ra:{complaint_id}:dlh", PUPR_CHAT, "r1")
    complaint, timers = await _state(runtime, complaint_id)
    assert (complaint.agency, complaint.status, complaint.accept_round) == ("dlh", "baru", 1)
    assert complaint.accept_due_at == moved_at + timedelta(hours=4)
    assert complaint.due_at == FILED + timedelta(hours=72)  # the citizen's clock runs on
    accepts = [(rnd, due, fired) for kind, _, rnd, due, fired in timers if kind == "accept"]
    assert accepts == [(0, FILED + timedelta(hours=4), True), (1, moved_at + timedelta(hours=4), False)]
    assert ("overdue", 0, 0, FILED + timedelta(hours=72)) in _unfired(timers)


async def test_a_duplicate_stops_its_clocks(runtime: Runtime) -> None:
    original_id = await _file_one(runtime)
    copy_id = await _file_one(runtime)
    async with UnitOfWork(runtime.sessionmaker) as uow:
        copy = await uow.complaints.get_for_update(copy_id)
        original = await uow.complaints.get(original_id)
        assert copy is not None and original is not None
        assert await mark_duplicate(runtime, uow, copy, CLERK, original) is None
        await uow.commit()
    _, timers = await _state(runtime, copy_id)
    assert timers == []
    _, kept = await _state(runtime, original_id)
    assert len(_unfired(kept)) == 5


async def test_a_rejection_stops_its_clocks(runtime: Runtime) -> None:
    from bot.services.staff_core import transition

    complaint_id = await _file_one(runtime)
    async with UnitOfWork(runtime.sessionmaker) as uow:
        complaint = await uow.complaints.get_for_update(complaint_id)
        assert complaint is not None
        await transition(runtime, uow, complaint, CLERK, "reject", note="Bukan wewenang kami")
        await uow.commit()
    assert (await _state(runtime, complaint_id))[1] == []


async def test_a_reopen_starts_a_new_resolve_clock(runtime: Runtime) -> None:
    complaint_id = await _file_one(runtime)
    reopened_at = FILED + timedelta(days=5)
    async with UnitOfWork(runtime.sessionmaker) as uow:
        complaint = await uow.complaints.get_for_update(complaint_id)
        assert complaint is not None
        for timer in await uow.timers.due(reopened_at, 100):  # the first round's reminders fired
            await uow.timers.claim(timer.id, timer.due_at)
        complaint.status = "selesai"
        await clocks.on_status_changed(runtime, uow, complaint, reopened_at - timedelta(days=1))
        complaint.status = "dibuka_kembali"
        await clocks.on_reopened(runtime, uow, complaint, reopened_at)
        await uow.commit()
    complaint, timers = await _state(runtime, complaint_id)
    new_due = reopened_at + timedelta(hours=72)
    assert (complaint.resolve_round, complaint.due_at) == (1, new_due)
    assert _unfired(timers) == sorted([
        ("resolve_soon", 0, 1, new_due - timedelta(hours=6)),
        ("overdue", 0, 1, new_due),
        ("escalate", 0, 1, new_due),
        ("escalate", 1, 1, new_due + timedelta(hours=24)),
    ])
    assert sum(1 for t in timers if t[4]) == 5  # the first round's timers stay, fired, never again


async def test_office_calendar_and_round_the_clock(runtime: Runtime) -> None:
    office = runtime.config.deadlines.model_copy(update={"calendar": "office", "round_the_clock": ["pdam"]})
    rt = Runtime(config=runtime.config.model_copy(update={"deadlines": office}), sessionmaker=runtime.sessionmaker,
                 media=runtime.media, clock=Clock(datetime(2026, 12, 4, 8, 0, tzinfo=UTC)))  # Fri 15:00 WIB
    road = await _file_one(rt, "jalan")
    water = await _file_one(rt, "air")
    complaint, _ = await _state(rt, road)
    # Friday 15:00-16:30 is 1.5 office hours, then Monday 07:30: 4 h in all by Monday 10:00 WIB
    assert complaint.accept_due_at == datetime(2026, 12, 7, 3, 0, tzinfo=UTC)
    pdam, _ = await _state(rt, water)
    assert pdam.accept_due_at == datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
    assert pdam.due_at == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


async def test_migrate_fills_the_clocks_of_stored_complaints_once(runtime: Runtime) -> None:
    async with UnitOfWork(runtime.sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("telegram", "7002")
        created = []
        for i, (status, age) in enumerate([("baru", 1), ("diproses", 40), ("selesai", 1)]):
            complaint = await uow.complaints.create(
                number=f"JMB-2026-{i + 1:06d}", citizen_id=citizen.id, category="sampah", description="Sampah",
                agency="dlh", status=status, now=FILED - timedelta(hours=age),
                due_at=FILED - timedelta(hours=age) + timedelta(hours=24),
            )
            created.append(complaint.id)
        await uow.commit()
    assert await clocks.fill_missing_clocks(runtime, FILED) == 3
    assert await clocks.fill_missing_clocks(runtime, FILED) == 0
    fresh, fresh_timers = await _state(runtime, created[0])
    assert fresh.accept_due_at == FILED + timedelta(hours=3)
    assert [t[0] for t in _unfired(fresh_timers)] == ["accept", "escalate", "escalate", "overdue", "resolve_soon"]
    old, old_timers = await _state(runtime, created[1])
    assert old.due_at == FILED - timedelta(hours=16)  # the promised deadline is kept
    # its overdue moment and first escalation passed before the upgrade: recorded, not fired now
    async with UnitOfWork(runtime.sessionmaker) as uow:
        spent = [t for t in await uow.timers.for_complaint(created[1]) if t.fired_at is not None]
        assert {(t.kind, t.level, t.outcome) for t in spent} == {
            ("overdue", 0, clocks.BEFORE_CLOCKS), ("escalate", 0, clocks.BEFORE_CLOCKS)
        }
        due_now = await uow.timers.due(FILED, 100)
        assert all(t.complaint_id != created[1] for t in due_now)
    assert [t[0] for t in _unfired(old_timers)] == ["escalate"]  # the 24 h level is still ahead
    _, closed_timers = await _state(runtime, created[2])
    assert closed_timers == []


async def test_plan_timer_inserts_once(runtime: Runtime) -> None:
    async with UnitOfWork(runtime.sessionmaker) as uow:
        for _ in range(3):
            await clocks.plan_timer(uow, "digest", "agency:pupr", FILED, round=739_000)
        await uow.commit()
    async with UnitOfWork(runtime.sessionmaker) as uow:
        rows = await uow.timers.for_subject("agency:pupr")
        assert [(t.kind, t.round) for t in rows] == [("digest", 739_000)]
        assert isinstance(rows[0], Timer)


def test_sikesal_migrate_fills_the_clocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """``sikesal migrate`` upgrades the schema and then fills the clocks of complaints stored before them."""
    import asyncio

    from bot.cli import main
    from storage.db import make_engine, make_sessionmaker

    url = f"sqlite+aiosqlite:///{tmp_path / 'sikesal.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIKESAL_CONFIG", str(ROOT / "config.yaml"))
    assert main(["migrate"]) == 0

    async def store_old_and_read() -> None:
        engine = make_engine(url)
        try:
            async with UnitOfWork(make_sessionmaker(engine)) as uow:
                citizen = await uow.citizens.get_or_create("telegram", "7003")
                await uow.complaints.create(number="JMB-2026-000001", citizen_id=citizen.id, category="sampah",
                                            description="Sampah", agency="dlh", now=datetime.now(UTC))
                await uow.commit()
        finally:
            await engine.dispose()

    asyncio.run(store_old_and_read())
    assert main(["migrate"]) == 0
    assert "Clocks set for 1 stored complaints." in capsys.readouterr().out

    async def read() -> tuple[datetime | None, datetime | None, list[str]]:
        engine = make_engine(url)
        try:
            async with UnitOfWork(make_sessionmaker(engine)) as uow:
                found = await uow.complaints.by_number("JMB-2026-000001")
                assert found is not None
                return found.accept_due_at, found.due_at, [t.kind for t in await uow.timers.for_complaint(found.id)]
        finally:
            await engine.dispose()

    accept_due, due, kinds = asyncio.run(read())
    assert accept_due is not None and due is not None
    assert sorted(kinds) == ["accept", "escalate", "escalate", "overdue", "resolve_soon"]
    assert main(["migrate"]) == 0
    assert "Clocks set" not in capsys.readouterr().out


async def test_an_appeal_reassignment_may_restart_the_resolve_clock(runtime: Runtime) -> None:
    """A rejected complaint the command centre sends elsewhere on appeal: its clocks had stopped, so the
    new agency gets both clocks afresh (``restart_resolve``), not a deadline that ran out meanwhile."""
    complaint_id = await _file_one(runtime)
    later = FILED + timedelta(days=10)
    async with UnitOfWork(runtime.sessionmaker) as uow:
        complaint = await uow.complaints.get_for_update(complaint_id)
        assert complaint is not None
        complaint.status = "ditolak"
        await clocks.on_status_changed(runtime, uow, complaint, FILED + timedelta(hours=1))
        complaint.status, complaint.agency = "baru", "dlh"
        await clocks.on_reassigned(runtime, uow, complaint, later, restart_resolve=True)
        await uow.commit()
    stored, timers = await _state(runtime, complaint_id)
    assert (stored.accept_round, stored.resolve_round) == (1, 1)
    assert stored.accept_due_at == later + timedelta(hours=4) and stored.due_at == later + timedelta(hours=72)
    assert all(due > later for _, _, _, due in _unfired(timers)) and len(_unfired(timers)) == 5


async def test_the_citizen_is_told_by_when(runtime: Runtime) -> None:
    from bot.services.citizen import CitizenResult, _apply
    from handlers.effects import SubmitDraft
    from handlers.state import Conversation

    async with UnitOfWork(runtime.sessionmaker) as uow:
        await uow.agencies.link("pupr", PUPR_CHAT, title="PUPR", linked_by="1", now=FILED)
        citizen = await uow.citizens.get_or_create("telegram", "7004", language="id")
        draft = Draft(category="jalan", description="Lubang besar di depan pasar", latitude=-1.61, longitude=103.61)
        messages = await _apply(runtime, uow, citizen, Conversation(language="id"), SubmitDraft(draft), CitizenResult())
        await uow.commit()
    assert "Perkiraan penanganan: paling lambat 4 Des 2026 10:00 WIB (maks. 72 jam)" in messages[0].text
