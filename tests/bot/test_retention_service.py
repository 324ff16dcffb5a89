"""Retention (config ``privacy``) run by the scheduler with an injected clock, on SQLite and PostgreSQL: the
daily ``retention`` timer is planned at ``privacy.purge_at`` city time, and firing it drops the content of
stored messages older than ``messages_days`` (rows and keys stay, pending ones untouched) and erases citizens
silent for ``inactive_citizen_days`` with nothing open, keeping their closed complaints anonymised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import DeadlinesConfig, PrivacyConfig, load_config
from bot.services import retention
from bot.services.citizen import file_draft
from bot.services.runtime import Runtime
from bot.services.scheduler import Scheduler
from handlers.messages import OutMessage
from handlers.state import Draft
from storage.media import MediaStore
from storage.models import Citizen, Complaint, InboundMessage, OutboxMessage, Timer
from storage.uow import UnitOfWork
from tests.clocks import FixedClock as Clock

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # Tuesday 10:00 WIB
PURGE = datetime(2026, 12, 1, 19, 30, tzinfo=UTC)  # 02:30 WIB the next night


def runtime(sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path, **privacy: object) -> Runtime:
    config = load_config(ROOT / "config.yaml")
    deadlines = DeadlinesConfig(quiet_hours="", digest_at="", escalate_after_hours=[])  # type: ignore[arg-type]
    settings = PrivacyConfig(**{"messages_days": 30, "inactive_citizen_days": 365, **privacy})  # type: ignore[arg-type]
    config = config.model_copy(update={"deadlines": deadlines, "privacy": settings})
    rt = Runtime(config=config, sessionmaker=sessionmaker, media=MediaStore(tmp_path / "media"), clock=Clock(START))
    if hasattr(rt, "secret"):  # the erasure helper's keyed hash needs the deployment's secret
        rt.secret = b"retention-test-secret-0123456789"
    return rt


async def _messages(rt: Runtime) -> None:
    """Inbound: old and handled, old but still pending, recent. Outbox: old sent, old pending, recent sent."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        for key, at, done in (("tg:1", START - timedelta(days=40), True), ("tg:2", START - timedelta(days=40), False),
                              ("tg:3", START - timedelta(days=1), True)):
            await uow.inbox.add(key, "telegram", "tg:7001", {"message": {"text": f"halo {key}"}}, now=at)
            if done:
                row = (await uow.session.scalars(select(InboundMessage).where(InboundMessage.key == key))).one()
                uow.inbox.mark_done(row, now=at)
        for text, at, status in (("lama terkirim", START - timedelta(days=40), "sent"),
                                 ("lama menunggu", START - timedelta(days=40), "pending"),
                                 ("baru terkirim", START - timedelta(days=1), "sent")):
            row = await uow.outbox.enqueue("telegram", "7001", OutMessage(text), now=at)
            row.status = status
        await uow.commit()


async def _fire_purge(rt: Runtime, scheduler: Scheduler, at: datetime) -> None:
    await scheduler.tick()  # plans the purge
    assert isinstance(rt.clock, Clock)
    rt.clock.now = at + timedelta(minutes=1)
    await scheduler.tick()


async def test_old_message_contents_are_dropped_once_and_rows_stay(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path, inactive_citizen_days=0)
    await _messages(rt)
    scheduler = Scheduler(rt, owner=None)
    await _fire_purge(rt, scheduler, PURGE)
    async with UnitOfWork(rt.sessionmaker) as uow:
        inbound = {r.key: (r.payload, r.purged_at) for r in (await uow.session.scalars(select(InboundMessage))).all()}
        outbox = [(OutMessage.from_dict(r.payload).text, r.status) for r in
                  (await uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()]
        timers = [(t.fired_at, t.outcome, t.due_at) for t in (await uow.session.scalars(
            select(Timer).where(Timer.kind == retention.RETENTION).order_by(Timer.due_at))).all()]
    assert inbound["tg:1"][0] == {} and inbound["tg:1"][1] is not None, "old and handled: emptied"
    assert inbound["tg:2"][0]["message"]["text"] == "halo tg:2", "still pending: kept to be processed"
    assert inbound["tg:3"][0]["message"]["text"] == "halo tg:3", "recent: kept"
    assert outbox == [("", "sent"), ("lama menunggu", "pending"), ("baru terkirim", "sent")], "statuses stay"
    assert len(timers) == 2, "the purge fired and tomorrow's is planned"
    assert timers[0][0] is not None and timers[0][1] == "done 1/1/0/0"
    assert timers[1][0] is None and timers[1][2] == PURGE + timedelta(days=1)
    # the next night finds nothing new to purge: each row is rewritten once
    await _fire_purge(rt, scheduler, PURGE + timedelta(days=1))
    async with UnitOfWork(rt.sessionmaker) as uow:
        outcomes = [t.outcome for t in (await uow.session.scalars(
            select(Timer).where(Timer.kind == retention.RETENTION).order_by(Timer.due_at))).all()]
    assert outcomes[:2] == ["done 1/1/0/0", "done 0/0/0/0"]


async def test_rules_off_plan_no_purge(sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    rt = runtime(sessionmaker, tmp_path, inactive_citizen_days=0, messages_days=0)
    await Scheduler(rt, owner=None).tick()
    async with UnitOfWork(rt.sessionmaker) as uow:
        assert (await uow.session.scalars(select(Timer).where(Timer.kind == retention.RETENTION))).all() == []


async def _citizen_with(rt: Runtime, chat: str, name: str, status: str, last_seen: datetime) -> int:
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("telegram", chat, display_name=name, language="id")
        draft = Draft(category="jalan", description=f"Lubang besar di jalan depan rumah {name}", latitude=-1.61,
                      longitude=103.61, share_name=True)
        complaint = await file_draft(rt, uow, citizen, draft)
        complaint.status = status
        citizen.last_inbound_at = last_seen
        await uow.commit()
        return citizen.id


async def test_inactive_citizens_are_erased_and_their_closed_complaints_kept_anonymised(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    pytest.importorskip("bot.services.erasure")
    rt = runtime(sessionmaker, tmp_path, messages_days=0)
    silent = await _citizen_with(rt, "7001", "Siti", "selesai", START - timedelta(days=400))
    waiting = await _citizen_with(rt, "7002", "Budi", "diproses", START - timedelta(days=400))
    recent = await _citizen_with(rt, "7003", "Rina", "selesai", START - timedelta(days=10))
    blocked = await _citizen_with(rt, "7004", "Joko", "selesai", START - timedelta(days=400))
    async with UnitOfWork(rt.sessionmaker) as uow:
        joko = await uow.citizens.get(blocked)
        assert joko is not None
        joko.blocked_at, joko.blocked_reason = START - timedelta(days=500), "spam"
        await uow.commit()
    await _fire_purge(rt, Scheduler(rt, owner=None), PURGE)
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizens = {c.id: (c.erased_at, c.display_name, c.channel_user_id)
                    for c in (await uow.session.scalars(select(Citizen))).all()}
        complaints = {c.citizen_id: (c.status, c.description, c.reporter_name)
                      for c in (await uow.session.scalars(select(Complaint))).all()}
    assert citizens[silent][0] is not None and citizens[silent][1] is None
    assert citizens[silent][2] != "7001", "the chat id is gone (a keyed hash)"
    assert complaints[silent][0] == "selesai" and "Lubang besar" in complaints[silent][1]
    assert complaints[silent][2] is None, "kept for statistics, without the name"
    assert citizens[waiting][0] is None and citizens[waiting][1] == "Budi", "open complaint: kept"
    assert citizens[recent][0] is None and citizens[recent][1] == "Rina", "active: kept"
    assert citizens[blocked][0] is None and citizens[blocked][2] == "7004", "blocked: kept, so the block holds"


async def test_the_citizens_words_kept_elsewhere_go_with_the_messages(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """A reply relayed to staff lives on in the audit trail, a rating comment and an appeal reason on the
    complaint: past ``messages_days`` they go too (entries, statuses and ratings stay); recent ones and
    those of complaints still open stay."""
    rt = runtime(sessionmaker, tmp_path, inactive_citizen_days=0)
    old, recent = START - timedelta(days=40), START - timedelta(days=1)
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("telegram", "7001")
        closed, still_open = [
            await uow.complaints.create(number=f"JMB-2026-00000{i}", citizen_id=citizen.id, category="jalan",
                                        description="Jalan berlubang", agency="pupr", now=old)
            for i in (1, 2)
        ]
        closed.status, closed.rating, closed.rating_comment, closed.appeal_reason = "selesai", 4, "Cepat", "x"
        closed.updated_at = old
        still_open.appeal_reason, still_open.updated_at = "Masih rusak", old
        for at, note in ((old, "Nomor rumah saya 12"), (recent, "Sudah mulai diperbaiki")):
            await uow.audit.add(closed.id, actor_kind="citizen", actor_id=str(citizen.id), actor_name=None,
                                action="citizen_reply", note=note, at=at)
        await uow.audit.add(closed.id, actor_kind="staff", actor_id="55", actor_name="Budi", action="resolve",
                            note="Sudah ditambal", at=old)
        await uow.commit()
    await _fire_purge(rt, Scheduler(rt, owner=None), PURGE)
    async with UnitOfWork(rt.sessionmaker) as uow:
        rows = {c.number: c for c in (await uow.session.scalars(select(Complaint))).all()}
        notes = sorted(str(e.note) for e in await uow.audit.history(rows["JMB-2026-000001"].id))
        first, second = rows["JMB-2026-000001"], rows["JMB-2026-000002"]
        assert (first.rating, first.rating_comment, first.appeal_reason) == (4, None, None)
        assert second.appeal_reason == "Masih rusak", "a complaint still open keeps it"
    assert notes == ["None", "Sudah ditambal", "Sudah mulai diperbaiki"]
