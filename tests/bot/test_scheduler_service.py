"""The scheduler against the database (SQLite and PostgreSQL), with a fixed clock: the lease passes to
another process only when the holder dies or stops; a timer of an earlier round or of a complaint that moved
on is recorded stale and says nothing; the daily digests are planned per linked group and for the city, once a
day; a timer kind whose helper is missing is recorded, not crashed on; the outbox gets what a group reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.services.scheduler as scheduler_module
from bot.config import DeadlinesConfig, PrivacyConfig, load_config
from bot.ops.metrics import Metrics
from bot.services.citizen import file_draft
from bot.services.runtime import Runtime
from bot.services.scheduler import Scheduler
from handlers.messages import OutMessage
from handlers.state import Draft
from storage.media import MediaStore
from storage.models import Complaint, OutboxMessage, Timer
from storage.uow import UnitOfWork
from tests.clocks import FixedClock as Clock

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday 10:00 WIB
PUPR_CHAT = -1001234567890


def runtime(sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path, **deadlines: object) -> Runtime:
    config = load_config(ROOT / "config.yaml")
    values: dict[str, object] = {"quiet_hours": "", "digest_at": "", "escalate_after_hours": [], **deadlines}
    # no daily retention purge either: these tests count the timers they fire
    off = PrivacyConfig(messages_days=0, inactive_citizen_days=0)
    config = config.model_copy(update={"deadlines": DeadlinesConfig(**values), "privacy": off})  # type: ignore[arg-type]
    return Runtime(config=config, sessionmaker=sessionmaker, media=MediaStore(tmp_path / "media"), clock=Clock(START))


async def file_one(rt: Runtime, *, link: bool = True) -> int:
    async with UnitOfWork(rt.sessionmaker) as uow:
        if link:
            await uow.agencies.link("pupr", PUPR_CHAT, title="PUPR", linked_by="1", now=rt.clock())
        citizen = await uow.citizens.get_or_create("telegram", "7001", display_name="Siti", language="id")
        draft = Draft(category="jalan", description="Lubang besar di depan pasar", latitude=-1.61, longitude=103.61)
        complaint = await file_draft(rt, uow, citizen, draft)
        await uow.commit()
        return complaint.id


async def group_texts(rt: Runtime, chat_id: int = PUPR_CHAT) -> list[str]:
    """What the scheduler queued for the group (cards and card edits left out)."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        rows = (await uow.session.scalars(
            select(OutboxMessage).where(OutboxMessage.chat_id == str(chat_id), OutboxMessage.card_id.is_(None))
            .order_by(OutboxMessage.id)
        )).all()
        return [OutMessage.from_dict(r.payload).text for r in rows]


async def outcomes(rt: Runtime) -> dict[tuple[str, str], str | None]:
    async with UnitOfWork(rt.sessionmaker) as uow:
        return {(t.kind, t.subject): t.outcome for t in (await uow.session.scalars(select(Timer))).all()}


def later(rt: Runtime, delta: timedelta) -> None:
    clock = rt.clock
    assert isinstance(clock, Clock)
    clock.now += delta


async def test_the_lease_passes_only_when_the_holder_dies_or_stops(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    first = Scheduler(rt, owner="host:1", lease_ttl=30)
    second = Scheduler(rt, owner="host:2", lease_ttl=30)
    assert await first.lead() and not await second.lead()
    later(rt, timedelta(seconds=20))
    assert await first.lead() and not await second.lead(), "renewed while it lives"
    later(rt, timedelta(seconds=31))  # the first stopped renewing (killed): its lease expired
    assert await second.lead() and not await first.lead()
    await second.release()  # a clean stop hands over at once
    assert await first.lead()


async def test_an_accept_timer_of_an_earlier_round_is_stale_and_silent(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    complaint_id = await file_one(rt)
    async with UnitOfWork(rt.sessionmaker) as uow:  # reassigned meanwhile (a new accept round), timer not replanned
        complaint = await uow.complaints.get(complaint_id)
        assert complaint is not None
        complaint.accept_round = 1
        await uow.commit()
    later(rt, timedelta(hours=4, minutes=1))
    report = await Scheduler(rt, owner=None).tick()
    assert report.fired == 1 and report.stale == 1 and report.group_messages == 0
    assert await group_texts(rt) == []
    assert (await outcomes(rt))[("accept", f"c{complaint_id}")] == "stale"


async def test_a_reminder_without_a_card_is_recorded_and_the_tick_goes_on(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    complaint_id = await file_one(rt, link=False)  # no group linked yet: no card
    later(rt, timedelta(hours=4, minutes=1))
    report = await Scheduler(rt, owner=None).tick()
    assert report.fired == 1 and (await outcomes(rt))[("accept", f"c{complaint_id}")] == "no_card"


async def test_a_single_reminder_replies_to_the_card_and_fires_once(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    complaint_id = await file_one(rt)
    later(rt, timedelta(hours=4, minutes=1))
    scheduler = Scheduler(rt, owner=None)
    scheduler.metrics = metrics = Metrics(process_metrics=False)
    assert await scheduler.lead()
    assert (await scheduler.tick()).fired == 1
    assert (await scheduler.tick()).fired == 0
    sample = metrics.registry.get_sample_value
    assert sample("sikesal_timers_fired_total", {"kind": "accept", "outcome": "reminded"}) == 1
    assert sample("sikesal_scheduler_leader") == 1
    [text] = await group_texts(rt)
    assert "belum diterima" in text
    async with UnitOfWork(rt.sessionmaker) as uow:
        row = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_id.is_(None)))).one()
        reply_to = OutMessage.from_dict(row.payload).reply_to
        assert reply_to is not None and reply_to.kind == "card" and reply_to.complaint_id == complaint_id


async def test_quiet_hours_defer_and_the_overdue_card_turns_red_silently(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path, quiet_hours="21:00-06:00", remind_before_hours=0)
    complaint_id = await file_one(rt)
    later(rt, timedelta(hours=72) + timedelta(hours=12))  # Friday 22:00 WIB: past accept and the deadline
    report = await Scheduler(rt, owner=None).tick()
    assert report.fired == 0 and report.deferred == 2
    assert await group_texts(rt) == [], "no sound in the night"
    async with UnitOfWork(rt.sessionmaker) as uow:
        edits = (await uow.session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "edit_card"))).all()
        assert len(edits) == 1 and "terlambat" in OutMessage.from_dict(edits[0].payload).text
        due = {t.kind: t.due_at for t in await uow.timers.for_complaint(complaint_id)}
    six = datetime(2026, 12, 5, 6, 0, tzinfo=UTC) - timedelta(hours=7)
    assert due == {"accept": six, "overdue": six}
    assert (await Scheduler(rt, owner=None).tick()).deferred == 0, "already moved"
    later(rt, timedelta(hours=8, minutes=1))  # 06:01
    report = await Scheduler(rt, owner=None).tick()
    assert report.fired == 2 and report.citizen_messages == 1
    assert len(await group_texts(rt)) == 2


async def test_digests_are_planned_per_group_and_for_the_city_once_a_day(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path, digest_at="07:30")
    await file_one(rt)
    scheduler = Scheduler(rt, owner=None)
    await scheduler.tick()
    await Scheduler(rt, owner=None).tick()  # another process (or a restart) plans the same ones
    async with UnitOfWork(rt.sessionmaker) as uow:
        digests = (await uow.session.scalars(select(Timer).where(Timer.kind == "digest"))).all()
        planned = sorted((t.subject, t.due_at, t.round) for t in digests)
    tomorrow = datetime(2026, 12, 2, 7, 30, tzinfo=UTC) - timedelta(hours=7)
    day = datetime(2026, 12, 2).toordinal()
    assert planned == [("agency:pupr", tomorrow, day), ("city", tomorrow, day)]
    later(rt, timedelta(hours=21, minutes=31))  # 07:31 tomorrow
    await scheduler.tick()
    assert [t for t in await group_texts(rt) if "Ringkasan harian PUPR" in t], "the agency's digest reached its group"
    async with UnitOfWork(rt.sessionmaker) as uow:
        rows = (await uow.session.scalars(select(Timer).where(Timer.kind == "digest"))).all()
        assert {(t.subject, t.round, t.outcome) for t in rows if t.fired_at is not None} == {
            ("agency:pupr", day, "done"), ("city", day, "done"),
        }
        assert {(t.subject, t.round) for t in rows if t.fired_at is None} == {
            ("agency:pupr", day + 1), ("city", day + 1),
        }


async def test_a_missing_helper_is_recorded_not_crashed_on(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: object
) -> None:
    rt = runtime(sessionmaker, tmp_path, escalate_after_hours=[0])
    complaint_id = await file_one(rt)
    real = scheduler_module._lazy

    def without_command_centre(module: str, name: str) -> object:
        return None if module == "bot.services.command_centre" else real(module, name)

    monkeypatch.setattr(scheduler_module, "_lazy", without_command_centre)  # type: ignore[attr-defined]
    later(rt, timedelta(hours=73))
    report = await Scheduler(rt, owner=None).tick()
    assert report.missing == 1
    assert (await outcomes(rt))[("escalate", f"c{complaint_id}")] == "missing"
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = (await uow.session.scalars(select(Complaint))).one()
        assert complaint.status == "baru"


async def test_one_bad_reminder_does_not_hold_back_its_group_and_is_given_up(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: object
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    good, bad = await file_one(rt), await file_one(rt)
    real = scheduler_module.remind_group

    async def broken_for_one(rt_: Runtime, uow: UnitOfWork, chat_id: int, reminders: list, now: datetime) -> int:  # type: ignore[type-arg]
        if any(r.complaint.id == bad for r in reminders):
            raise ValueError("bad data")
        return await real(rt_, uow, chat_id, reminders, now)

    monkeypatch.setattr(scheduler_module, "remind_group", broken_for_one)  # type: ignore[attr-defined]
    later(rt, timedelta(hours=4, minutes=1))
    scheduler = Scheduler(rt, owner=None)
    first = await scheduler.tick()
    assert first.fired == 0 and sorted(first.failed) != [], "the batch failed and rolled back"
    second = await scheduler.tick()  # each alone now: the good one goes
    assert second.fired == 1 and len(await group_texts(rt)) == 1
    for _ in range(scheduler_module.MAX_FAILURES):
        await scheduler.tick()
    found = await outcomes(rt)
    assert found[("accept", f"c{good}")] == "reminded" and found[("accept", f"c{bad}")] == "error"
    assert (await scheduler.tick()).failed == [], "given up: not tried again"


async def test_after_downtime_past_the_deadline_only_the_overdue_notice_speaks(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    complaint_id = await file_one(rt)
    later(rt, timedelta(hours=73))  # accept, "deadline close" and overdue all due at once
    report = await Scheduler(rt, owner=None).tick()
    assert report.fired == 3 and report.stale == 1 and report.citizen_messages == 1
    texts = await group_texts(rt)
    assert len(texts) == 2 and not any("tinggal" in t for t in texts), texts
    found = await outcomes(rt)
    assert found[("resolve_soon", f"c{complaint_id}")] == "stale"
    assert found[("overdue", f"c{complaint_id}")] == "reminded"


async def test_a_timer_that_stays_due_after_a_failure_does_not_keep_the_loop_busy(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: object
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    await file_one(rt)

    async def broken(*_args: object) -> int:
        raise ValueError("bad data")

    monkeypatch.setattr(scheduler_module, "remind_group", broken)  # type: ignore[attr-defined]
    later(rt, timedelta(hours=4, minutes=1))
    scheduler = Scheduler(rt, owner=None, poll=2.0)
    assert (await scheduler.tick()).failed
    assert await scheduler._until_next() == 2.0, "the next poll, not at once"
    async with UnitOfWork(rt.sessionmaker) as uow:  # the next real moment: the resolve-soon reminder
        upcoming = await uow.timers.next_due_at(after=rt.clock())
        assert upcoming == START + timedelta(hours=72 - 6)
