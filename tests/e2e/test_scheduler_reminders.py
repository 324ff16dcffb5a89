"""The scheduler end to end: reminders in the agency group, the overdue badge and the citizen's notice,
quiet hours, folding, restarts and two processes, through the real aiogram (and twilio) clients against the
local servers, with the app's clock moved forward by the test (never a sleep for the time to pass)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.app import SikesalApp
from bot.config import AppConfig, TemplateConfig
from bot.delivery.ratelimit import RateLimits
from bot.services import citizen as citizen_service
from bot.services.staff import create_link_code
from handlers.state import Draft
from localapi.telegram import TelegramServer
from localapi.telegram.ratelimit import RateLimiter as ServerLimiter
from localapi.telegram.ratelimit import RateLimits as ServerLimits
from localapi.twilio import TwilioServer
from storage.models import Lease, Timer
from storage.uow import UnitOfWork
from tests.e2e.conftest import TOKEN, World, current, outbox_settled, start_app
from tests.e2e.harness import Person, body, eventually, payloads, text_of
from tests.e2e.test_channels import file_on
from tests.e2e.test_filing import file_complaint

pytestmark = pytest.mark.e2e

#: Tuesday 1 December 2026, 10:00 in Jambi (WIB, UTC+7): far from the quiet hours
MORNING = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


class Clock:
    """The app's clock: runs like a wall clock from ``start``, moved forward by the test."""

    def __init__(self, start: datetime = MORNING) -> None:
        self.start = start
        self.t0 = time.monotonic()
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.t0) + self.offset


def deadlines(config: AppConfig, **changes: Any) -> AppConfig:
    """``config`` with other deadlines: by default no quiet hours, digests or escalations, so a test sees only
    the reminders it is about."""
    values: dict[str, Any] = {"quiet_hours": "", "digest_at": "", "escalate_after_hours": [], **changes}
    return config.model_copy(update={"deadlines": config.deadlines.model_copy(update=values)})


async def fired(app: SikesalApp, clock: Clock) -> None:
    """Let the scheduler look at the timers at the clock's time now, and the senders deliver what it queued."""
    scheduler = app.scheduler
    assert scheduler is not None
    target = clock()
    app.wake_timers()
    await eventually(lambda: scheduler.fired_through is not None and scheduler.fired_through >= target)
    await outbox_settled_app(app)


async def outbox_settled_app(app: SikesalApp, timeout: float = 20.0) -> None:
    assert app.runtime is not None
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with UnitOfWork(app.runtime.sessionmaker) as uow:
            if await uow.outbox.pending_count() == 0:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("outbox did not drain")
        await asyncio.sleep(0.02)


async def advance(app: SikesalApp, clock: Clock, delta: timedelta) -> None:
    clock.offset += delta
    await fired(app, clock)


@dataclass(frozen=True)
class TimerRow:
    id: int
    kind: str
    subject: str
    due_at: datetime
    fired_at: datetime | None
    outcome: str | None


async def timers(app: SikesalApp, kind: str | None = None) -> list[TimerRow]:
    """The stored timers (read in their own transaction)."""
    assert app.runtime is not None
    async with UnitOfWork(app.runtime.sessionmaker) as uow:
        query = select(Timer).order_by(Timer.id)
        if kind is not None:
            query = query.where(Timer.kind == kind)
        return [TimerRow(t.id, t.kind, t.subject, t.due_at, t.fired_at, t.outcome)
                for t in (await uow.session.scalars(query)).all()]


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


@pytest_asyncio.fixture
async def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def timed(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> AsyncIterator[World]:
    app = await start_app(tmp_path, server, deadlines(config), database_url, clock=clock)
    try:
        yield World(server=server, app=app, config=app.config, tmp=tmp_path)
    finally:
        await app.stop()


def since(person: Person, cursor: int) -> list[Any]:
    return [m for m in person.server.bot_messages(person.chat_id) if m.message_id > cursor]


# --------------------------------------------------------------------------------------------- reminders


async def test_a_complaint_left_baru_gets_its_accept_reminder_once_under_its_card(timed: World, clock: Clock) -> None:
    staff = await timed.agency_group("pupr")
    citizen = timed.citizen()
    await file_complaint(timed, citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(timed)
    accept = timed.config.deadlines.accept_hours

    await advance(timed.app, clock, hours(accept) - timedelta(minutes=5))
    assert await staff[0].quiet(0.2) == [], "not yet"

    await advance(timed.app, clock, timedelta(minutes=6))
    reminder = await staff[0].next()
    assert "belum diterima" in body(reminder) and "JMB-" in body(reminder)
    assert reminder.reply_to_message_id == card.message_id, "one tap away: it replies to the card"

    await advance(timed.app, clock, hours(3))
    await advance(timed.app, clock, hours(20))
    assert await staff[0].quiet(0.3) == [], "once"
    [timer] = await timers(timed.app, "accept")
    assert timer.fired_at is not None and timer.outcome == "reminded"


async def test_an_accepted_complaint_gets_no_accept_reminder(timed: World, clock: Clock) -> None:
    staff = await timed.agency_group("pupr")
    citizen = timed.citizen()
    await file_complaint(timed, citizen)
    card = await staff[0].next_matching("JMB-")
    accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
    await staff[0].tap(accept, card)
    await outbox_settled(timed)
    cursor = staff[0].cursor = max(m.message_id for m in timed.server.bot_messages(staff[0].chat_id))
    await advance(timed.app, clock, hours(timed.config.deadlines.accept_hours + 1))
    assert since(staff[0], cursor) == []


async def test_an_overdue_complaint_is_reminded_its_card_turns_red_and_the_citizen_is_told_once(
    timed: World, clock: Clock
) -> None:
    staff = await timed.agency_group("pupr")
    citizen = timed.citizen()
    await file_complaint(timed, citizen)
    card = await staff[0].next_matching("JMB-")
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
    await citizen.next_matching("diterima")
    await outbox_settled(timed)
    target = timed.config.categories["jalan"].target_hours
    before = timed.config.deadlines.remind_before_hours

    await advance(timed.app, clock, hours(target - before) + timedelta(minutes=1))
    soon = await staff[0].next_matching("Batas penyelesaian")
    assert soon.reply_to_message_id == card.message_id
    assert "tinggal" in body(soon)

    await advance(timed.app, clock, hours(before))
    overdue = await staff[0].next_matching("terlambat")
    assert overdue.reply_to_message_id == card.message_id
    await eventually(lambda: "🔴 terlambat" in body(current(timed, card)))
    told = await citizen.next_matching("mengingatkan")
    assert "JMB-" in body(told) and "PUPR" in body(told)
    await outbox_settled(timed)
    citizen.user.send_text("Sudah tiga hari, mohon dipercepat", reply_to=told.message_id)
    relayed = await staff[0].next_matching("mohon dipercepat")  # a reply to the notice reaches the agency
    assert relayed.reply_to_message_id == card.message_id

    await advance(timed.app, clock, hours(30))
    assert [m for m in await citizen.quiet(0.3) if "mengingatkan" in body(m)] == [], "the citizen is told once"
    assert [m for m in await staff[0].quiet(0.1) if "terlambat" in body(m) and m.reply_to] == []
    kinds = {t.kind: t.outcome for t in await timers(timed.app)}
    assert kinds["resolve_soon"] == "reminded" and kinds["overdue"] == "reminded"


async def test_no_overdue_notice_for_the_citizen_when_switched_off(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    app = await start_app(tmp_path, server, deadlines(config, tell_citizen_overdue=False, remind_before_hours=0),
                          database_url, clock=clock)
    world = World(server=server, app=app, config=app.config, tmp=tmp_path)
    try:
        staff = await world.agency_group("pupr")
        citizen = world.citizen()
        await file_complaint(world, citizen)
        await staff[0].next_matching("JMB-")
        await outbox_settled(world)
        await advance(app, clock, hours(world.config.categories["jalan"].target_hours + 0.1))
        await staff[0].next_matching("terlambat")
        assert [m for m in await citizen.quiet(0.3) if "mengingatkan" in body(m)] == []
    finally:
        await app.stop()


# --------------------------------------------------------------------------------------------- quiet hours


async def test_quiet_hours_defer_a_reminder_to_six_and_it_fires_then(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    # accept within 12 hours of 10:00 is 22:00, inside 21:00-06:00
    app = await start_app(tmp_path, server, deadlines(config, quiet_hours="21:00-06:00", accept_hours=12),
                          database_url, clock=clock)
    world = World(server=server, app=app, config=app.config, tmp=tmp_path)
    try:
        staff = await world.agency_group("pupr")
        await file_complaint(world, world.citizen())
        card = await staff[0].next_matching("JMB-")
        await outbox_settled(world)

        await advance(app, clock, hours(12.5))  # 22:30 in Jambi
        assert await staff[0].quiet(0.3) == [], "nothing in the night"
        [timer] = await timers(app, "accept")
        six = datetime(2026, 12, 2, 6, 0, tzinfo=UTC) - hours(7)
        assert timer.fired_at is None and timer.outcome == "deferred" and timer.due_at == six

        await advance(app, clock, hours(7))  # 05:30
        assert await staff[0].quiet(0.2) == []
        await advance(app, clock, timedelta(minutes=31))  # 06:01
        reminder = await staff[0].next()
        assert "belum diterima" in body(reminder) and reminder.reply_to_message_id == card.message_id
        [timer] = await timers(app, "accept")
        assert timer.fired_at is not None and timer.outcome == "reminded"
    finally:
        await app.stop()


# --------------------------------------------------------------------------------------------- restart


async def test_a_restart_repeats_nothing_and_loses_nothing(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = deadlines(config)
    app = await start_app(tmp_path, server, settings, database_url, clock=clock)
    world = World(server=server, app=app, config=app.config, tmp=tmp_path)
    try:
        staff = await world.agency_group("pupr")
        await file_complaint(world, world.citizen())
        card = await staff[0].next_matching("JMB-")
        await outbox_settled(world)
        await advance(app, clock, hours(settings.deadlines.accept_hours + 0.1))
        assert "belum diterima" in body(await staff[0].next())
    finally:
        await app.stop()

    # while nothing runs, the deadline comes close: the new process says it, once, and nothing else
    target = settings.categories["jalan"].target_hours
    clock.offset += hours(target - settings.deadlines.remind_before_hours)
    app = await start_app(tmp_path, server, settings, database_url, clock=clock)
    try:
        await fired(app, clock)
        soon = await staff[0].next()
        assert "Batas penyelesaian" in body(soon) and soon.reply_to_message_id == card.message_id
        await fired(app, clock)
        assert await staff[0].quiet(0.3) == []
        assert {t.kind: t.outcome for t in await timers(app) if t.fired_at} == {
            "accept": "reminded", "resolve_soon": "reminded",
        }
    finally:
        await app.stop()


# --------------------------------------------------------------------------------------------- WhatsApp


def jalan_within(config: AppConfig, target_hours: float) -> AppConfig:
    jalan = config.categories["jalan"].model_copy(update={"target_hours": target_hours})
    return config.model_copy(update={"categories": {**config.categories, "jalan": jalan}})


async def test_a_whatsapp_citizen_gets_the_overdue_notice_in_whatsapp_words(
    server: TelegramServer, twilio: TwilioServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = jalan_within(deadlines(config, remind_before_hours=0), 2)
    app = await start_app(tmp_path, server, settings, database_url, clock=clock, twilio=twilio)
    world = World(server=server, app=app, config=app.config, tmp=tmp_path, twilio=twilio)
    try:
        staff = await world.agency_group("pupr")
        citizen = world.whatsapp_citizen()
        await file_on(citizen)
        await staff[0].next_matching("JMB-")
        await outbox_settled(world)
        await advance(app, clock, hours(2.1))  # the deadline passed; the citizen wrote 2 hours ago: in the window
        told = await citizen.next_matching("mengingatkan")
        assert "JMB-" in text_of(told) and "Geser pesan ini" in text_of(told), text_of(told)
        assert told.content_sid is None, "free text inside the 24-hour window"
        await advance(app, clock, hours(30))
        assert [m for m in await citizen.quiet(0.3) if "mengingatkan" in text_of(m)] == []
    finally:
        await app.stop()


async def test_outside_the_window_the_overdue_notice_goes_as_its_template(
    server: TelegramServer, twilio: TwilioServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    sid = "HX" + "2" * 32
    settings = deadlines(config, remind_before_hours=0)
    settings = settings.model_copy(update={"whatsapp": settings.whatsapp.model_copy(
        update={"overdue_template": TemplateConfig(content_sid={"id": sid})})})
    app = await start_app(tmp_path, server, settings, database_url, clock=clock, twilio=twilio)
    world = World(server=server, app=app, config=app.config, tmp=tmp_path, twilio=twilio)
    try:
        staff = await world.agency_group("pupr")
        citizen = world.whatsapp_citizen()
        await file_on(citizen)
        card = await staff[0].next_matching("JMB-")
        await outbox_settled(world)
        twilio.advance(73)  # Twilio's clock too: the window closed long ago
        await advance(app, clock, hours(settings.categories["jalan"].target_hours + 0.5))
        sent = await twilio.wait_for_message(citizen.number, lambda m: m.content_sid == sid, timeout=10)
        assert '"1": "JMB-' in (sent.content_variables or "") and "PUPR" in (sent.content_variables or "")
        await eventually(lambda: sent.status == "delivered")
        assert "24 jam" not in body(current(world, card))
    finally:
        await app.stop()


async def test_outside_the_window_without_a_template_the_citizen_is_told_when_writing_again(
    server: TelegramServer, twilio: TwilioServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = deadlines(config, remind_before_hours=0)
    app = await start_app(tmp_path, server, settings, database_url, clock=clock, twilio=twilio)
    world = World(server=server, app=app, config=app.config, tmp=tmp_path, twilio=twilio)
    try:
        staff = await world.agency_group("pupr")
        citizen = world.whatsapp_citizen()
        await file_on(citizen)
        card = await staff[0].next_matching("JMB-")
        await outbox_settled(world)
        before = len(twilio.messages_to(citizen.number))
        twilio.advance(73)
        await advance(app, clock, hours(settings.categories["jalan"].target_hours + 0.5))
        await staff[0].next_matching("terlambat")
        await eventually(lambda: "24 jam" in body(current(world, card)))
        assert len(twilio.messages_to(citizen.number)) == before, "nothing as free text outside the window"
        await citizen.send("halo")
        caught_up = await citizen.next_matching("JMB-")
        assert "baru" in text_of(caught_up).lower(), text_of(caught_up)
        told = await citizen.next_matching("mengingatkan")  # and the notice it missed, now in the window
        assert "JMB-" in text_of(told)
        await eventually(lambda: "24 jam" not in body(current(world, card)))
        await outbox_settled(world)
        await citizen.send("menu")
        assert [m for m in await citizen.quiet(0.5) if "mengingatkan" in text_of(m)] == [], "once"
    finally:
        await app.stop()


# --------------------------------------------------------------------------------------------- folding


class CountingLimiter(ServerLimiter):
    """The local server's limiter, counting what it refused (each refusal is a 429 for the bot)."""

    refused = 0

    def check(self, chat_id: int, *, is_group: bool, cost: int = 1, edit: bool = False) -> float:
        wait = super().check(chat_id, is_group=is_group, cost=cost, edit=edit)
        if wait > 0:
            self.refused += 1
        return wait


#: the server's clock runs this much faster than the wall clock, so its 60-second group window lasts 6 s
SCALE = 10.0
LOOSE = {"global_per_second": 1000, "global_burst": 1000, "private_per_second": 1000, "private_burst": 1000}


@pytest_asyncio.fixture
async def limited_server() -> AsyncIterator[TelegramServer]:
    """The local server enforcing Telegram's 20 messages a minute per group (time-scaled)."""
    async with TelegramServer(TOKEN, rate_limits=ServerLimits(**LOOSE, group_per_minute=20)) as srv:
        srv.api.limiter = CountingLimiter(ServerLimits(**LOOSE, group_per_minute=20),
                                          clock=lambda: time.monotonic() * SCALE)
        yield srv


async def link_supergroup(world: World, agency: str) -> Person:
    """A supergroup (its messages have links) linked to ``agency``; returns its first staff member."""
    users = [world.server.create_user("Budi")]
    group = world.server.create_group(f"Laporan {agency.upper()}", users, admins=users, supergroup=True)
    staff = Person(world.server, users[0], group.id)
    assert world.app.runtime is not None
    code = await create_link_code(world.app.runtime, agency)
    await staff.next_matching("/link")
    users[0].send_text(f"/link {code}", chat=group.id)
    await staff.next_matching(world.config.agencies[agency].name["id"])
    return staff


async def seed(world: World, person: Person, count: int) -> list[str]:
    """``count`` complaints filed the way the citizen service files them (the conversation is tested
    elsewhere); returns their numbers."""
    rt = world.app.runtime
    assert rt is not None
    numbers = []
    for n in range(count):
        draft = Draft(category="jalan", description=f"Jalan berlubang nomor {n + 1} di depan pasar, berbahaya",
                      latitude=-1.6101 + n * 0.01, longitude=103.6131)
        async with UnitOfWork(rt.sessionmaker) as uow:
            citizen = await uow.citizens.get_or_create("telegram", str(person.user.id), language="id")
            numbers.append((await citizen_service.file_draft(rt, uow, citizen, draft)).number)
            await uow.commit()
    rt.on_enqueued()
    return numbers


async def test_thirty_due_together_fold_into_one_message_with_links_and_no_429(
    limited_server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    limits = RateLimits(**LOOSE, group_per_minute=20, group_window=60.0 / SCALE, margin=0.3)
    settings = deadlines(config, remind_before_hours=0, tell_citizen_overdue=False)
    app = await start_app(tmp_path, limited_server, settings, database_url, clock=clock, rate_limits=limits)
    world = World(server=limited_server, app=app, config=app.config, tmp=tmp_path)
    try:
        staff = await link_supergroup(world, "pupr")
        numbers = await seed(world, world.citizen(), 30)
        await outbox_settled_app(app, timeout=60)  # 30 cards at 20 a (scaled) minute
        cards = {body(m).split("JMB-")[1][:11]: m.message_id
                 for m in limited_server.bot_messages(staff.chat_id) if "JMB-" in body(m)}
        assert len(cards) == 30
        staff.cursor = max(m.message_id for m in limited_server.bot_messages(staff.chat_id))

        await advance(app, clock, hours(app.config.deadlines.accept_hours + 0.1))
        folded = await staff.next()
        assert await staff.quiet(0.3) == [], "one message for the group, not thirty"
        text = body(folded)
        assert "30 pengaduan" in text
        assert all(number in text for number in numbers)
        chat = str(staff.chat_id).removeprefix("-100")
        links = {e["url"] for e in folded.entities or [] if e.get("type") == "text_link"}
        assert {f"https://t.me/c/{chat}/{mid}" for mid in cards.values()} <= links
        assert {t.outcome for t in await timers(app, "accept")} == {"folded"}

        # at the deadline: thirty card edits (the badge) and one folded overdue notice, in one budget
        await advance(app, clock, hours(settings.categories["jalan"].target_hours))
        overdue = await staff.next()
        assert "30 pengaduan" in body(overdue) and "Terlambat" in body(overdue)
        assert await staff.quiet(0.3) == []
        faces = [body(m) for m in limited_server.bot_messages(staff.chat_id) if m.message_id in cards.values()]
        assert len(faces) == 30 and all("🔴 terlambat" in face for face in faces)
        limiter = limited_server.api.limiter
        assert isinstance(limiter, CountingLimiter)
        assert limiter.refused == 0, "cards, their edits and the reminders shared the group's budget: no 429"
    finally:
        await app.stop()


# --------------------------------------------------------------------------------------------- two processes


@pytest.mark.postgres
async def test_two_app_processes_on_one_postgresql_database_fire_each_timer_once_and_take_over(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several processes share PostgreSQL only (SQLite allows one)")
    settings = deadlines(config, fold_at=100)  # every reminder its own reply, to count them
    first = await start_app(tmp_path / "a", server, settings, database_url, clock=clock)
    second = await start_app(tmp_path / "b", server, settings, database_url, clock=clock)
    world = World(server=server, app=first, config=settings, tmp=tmp_path)
    stopped: list[SikesalApp] = []
    try:
        staff = (await world.agency_group("pupr"))[0]
        numbers = await seed(world, world.citizen(), 5)
        await outbox_settled(world)
        staff.cursor = max(m.message_id for m in server.bot_messages(staff.chat_id))

        clock.offset += hours(settings.deadlines.accept_hours + 0.1)
        first.wake_timers()
        second.wake_timers()
        # and both race on the same due timers, lease or not
        await asyncio.gather(first.scheduler.tick(), second.scheduler.tick())  # type: ignore[union-attr]
        await eventually(lambda: len(since(staff, staff.cursor)) >= 5)
        await outbox_settled(world)
        await asyncio.sleep(0.5)  # both schedulers polled again: still five
        said = [body(m) for m in since(staff, staff.cursor)]
        assert len(said) == 5 and all(sum(n in s for s in said) == 1 for n in numbers), said
        rows = await timers(first, "accept")
        assert len(rows) == 5 and all(r.fired_at is not None and r.outcome == "reminded" for r in rows)

        # the scheduler's process dies without a word (kill -9: its lease stays behind) ...
        holder = await lease_holder(first)
        leader, survivor = (first, second) if holder == first.lease_owner else (second, first)
        assert holder == leader.lease_owner, "one of the two holds the scheduler's lease"

        async def killed() -> None:
            return None

        leader.scheduler.release = killed  # type: ignore[method-assign,union-attr]
        await leader.stop()
        stopped.append(leader)
        assert not await survivor.scheduler.lead(), "not while the dead one's lease lasts"  # type: ignore[union-attr]
        # ... and once it has expired the other process fires what falls due, once
        cursor = staff.cursor = max(m.message_id for m in server.bot_messages(staff.chat_id))
        target = settings.categories["jalan"].target_hours
        clock.offset += hours(target - settings.deadlines.remind_before_hours - settings.deadlines.accept_hours)
        survivor.wake_timers()
        await eventually(lambda: len(since(staff, cursor)) >= 5, timeout=15)
        await outbox_settled_app(survivor)
        said = [body(m) for m in since(staff, cursor)]
        assert len(said) == 5 and all("Batas penyelesaian" in s for s in said), said
        assert await lease_holder(survivor) == survivor.lease_owner
    finally:
        for app in (second, first):
            if app not in stopped:
                await app.stop()


async def lease_holder(app: SikesalApp) -> str | None:
    assert app.runtime is not None
    async with UnitOfWork(app.runtime.sessionmaker) as uow:
        found = await uow.session.get(Lease, "scheduler")
        return found.owner if found is not None else None


# --------------------------------------------------------------------------------------------- escalation


async def test_an_overdue_complaint_reaches_the_command_centre_once_per_level_across_a_restart(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path, clock: Clock
) -> None:
    settings = deadlines(config, escalate_after_hours=[0, 24], remind_before_hours=0)
    centre = settings.command_centre
    app = await start_app(tmp_path, server, settings, database_url, clock=clock)
    world = World(server=server, app=app, config=app.config, tmp=tmp_path)
    try:
        staff = (await world.agency_group("pupr"))[0]
        command = (await world.agency_group(centre, ("Joko",)))[0]
        await file_complaint(world, world.citizen())
        await staff.next_matching("JMB-")
        await outbox_settled(world)
        await advance(app, clock, hours(settings.categories["jalan"].target_hours + 0.5))
        first = await command.next_matching("Eskalasi")
        assert "JMB-" in body(first) and "1 dari 2" in body(first)
        await advance(app, clock, hours(2))
        assert [m for m in await command.quiet(0.3) if "Eskalasi" in body(m)] == []
    finally:
        await app.stop()

    clock.offset += hours(24)  # the second level falls due while nothing runs
    app = await start_app(tmp_path, server, settings, database_url, clock=clock)
    try:
        await fired(app, clock)
        second = await command.next_matching("Eskalasi")
        assert "2 dari 2" in body(second)
        await fired(app, clock)
        assert [m for m in await command.quiet(0.3) if "Eskalasi" in body(m)] == [], "each level once"
        assert sorted((t.kind, t.outcome) for t in await timers(app, "escalate")) == [
            ("escalate", "done"), ("escalate", "done"),
        ]
    finally:
        await app.stop()
