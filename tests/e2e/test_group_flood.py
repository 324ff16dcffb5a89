"""A flood in one agency group, end to end (issue 14): 100 complaints reach one agency within one minute.

The real app and the real aiogram ``Bot`` talk HTTP to the local Bot API server **with its limits enforced**
(20 actions per group per window, edits included). Time is scaled fourfold on both sides: the server counts
its 60-second window on a clock running four times fast, and the bot's ``RateLimits.group_window`` is 15 s, so
"a minute" is 15 real seconds; the production code takes the window from ``RateLimits`` only.

What a clerk would notice: every complaint is visible in the group (in a digest or as its card) within two
(simulated) minutes, while at 20 cards a minute the last card needs five; every card arrives exactly once, the
regular ones in filing order; a digest's number brings that card up at once and a double tap makes no second
card; five changes of a delivered card while its group waits for its limit cost one edit; the server never answered 429.

Set-up for the benchmark (bench can import :func:`flood_limits`, :func:`scaled_server` and :func:`file_many`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.config import AppConfig
from bot.delivery.ratelimit import RateLimits
from bot.services import citizen as citizen_service
from bot.services.staff import handle_staff_button
from bot.services.staff_core import StaffActor, transition
from handlers.group_flood import card_payload
from handlers.state import Draft
from localapi.telegram import TelegramServer
from localapi.telegram.ratelimit import RateLimiter as ServerLimiter
from localapi.telegram.ratelimit import RateLimits as ServerLimits
from storage.models import Card, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import TOKEN, World, start_app
from tests.e2e.harness import Person, body, eventually, payloads

pytestmark = pytest.mark.e2e

#: the server's clock runs this much faster than the real one (its window is 60 of its seconds)
SCALE = 4.0
JAMBI = (-1.6101, 103.6131)
COUNT = 100
DIGEST_HEADER = "menunggu kartunya"


def flood_limits(scale: float = SCALE) -> RateLimits:
    """The bot's limits for a server whose clock runs ``scale`` times fast: the group window shrinks with it;
    the overall and private limits stay the real ones (stricter than the scaled server's)."""
    return RateLimits(group_per_minute=20, group_window=60.0 / scale, margin=0.5 / scale * 3)


class CountingLimiter(ServerLimiter):
    """The server's own limiter on a scaled clock, counting the 429s it answers."""

    def __init__(self, limits: ServerLimits, scale: float) -> None:
        start = time.monotonic()
        super().__init__(limits, clock=lambda: start + (time.monotonic() - start) * scale)
        self.refused = 0

    def check(self, chat_id: int, *, is_group: bool, cost: int = 1, edit: bool = False) -> float:
        wait = super().check(chat_id, is_group=is_group, cost=cost, edit=edit)
        if wait > 0:
            self.refused += 1
        return wait


def scaled_server(server: TelegramServer, scale: float = SCALE) -> CountingLimiter:
    """Make ``server`` enforce Telegram's limits on a clock ``scale`` times fast; returns the counting limiter."""
    limiter = CountingLimiter(ServerLimits(), scale)
    server.limiter = limiter
    server.api.limiter = limiter
    return limiter


async def file_many(world: World, count: int, *, every: float, batch: int = 5, category: str = "jalan",
                    on_filed: Callable[[int, str], object] | None = None) -> list[str]:
    """File ``count`` complaints of different citizens through the citizen service's filing step (the
    conversation before it has its own tests), ``batch`` per transaction, a transaction every ``every``
    seconds: as fast as a storm brings them, whatever the machine. Returns their numbers in filing order."""
    rt = world.app.runtime
    assert rt is not None
    numbers: list[str] = []
    loop = asyncio.get_running_loop()
    start = loop.time()
    for first in range(0, count, batch):
        async with UnitOfWork(rt.sessionmaker) as uow:
            for i in range(first, min(count, first + batch)):
                user = world.server.create_user(f"Warga {i}")
                # 300 m apart (a storm's damage is spread over the city): no two are nearby duplicates
                point = (JAMBI[0] + 0.0027 * (i % 10), JAMBI[1] + 0.0027 * (i // 10))
                place = rt.area.place_at(*point)
                draft = Draft(category=category, description=f"Jalan berlubang besar nomor {i} <b>awas</b>",
                              latitude=point[0], longitude=point[1], kecamatan=place.kecamatan,
                              kelurahan=place.kelurahan, place=f"Kec. {place.kecamatan}")
                citizen = await uow.citizens.get_or_create("telegram", str(user.id), language="id")
                complaint = await citizen_service.file_draft(rt, uow, citizen, draft)
                numbers.append(complaint.number)
            await uow.commit()
        rt.on_enqueued()
        if on_filed is not None:
            on_filed(len(numbers), numbers[-1])
        await asyncio.sleep(max(0.0, start + (first // batch + 1) * every - loop.time()))
    return numbers


@pytest_asyncio.fixture
async def flood_world(config: AppConfig, database_url: str, tmp_path: Path) -> AsyncIterator[tuple[World, CountingLimiter]]:
    async with TelegramServer(TOKEN, rate_limits=True) as server:
        limiter = scaled_server(server)
        app = await start_app(tmp_path, server, config, database_url, rate_limits=flood_limits())
        try:
            yield World(server=server, app=app, config=config, tmp=tmp_path), limiter
        finally:
            await app.stop()
        assert server.spec_violations == [], server.spec_violations


def _group_messages(world: World, chat_id: int) -> list:
    return list(world.server.messages(chat_id))


def _digests(messages: list) -> list:
    return [m for m in messages if DIGEST_HEADER in body(m) or "sudah punya kartu" in body(m)]


async def _cards(world: World) -> dict[str, int]:
    """Each complaint's delivered card message ids (number -> message id); one card each is checked apart."""
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        rows = (await uow.session.execute(
            select(Complaint.number, Card.message_id).join(Card, Card.complaint_id == Complaint.id)
            .where(Card.message_id.is_not(None))
        )).all()
    return {number: int(message_id) for number, message_id in rows if message_id is not None}


async def test_a_hundred_complaints_in_a_minute_are_all_visible_within_two_and_every_card_arrives_once(
    flood_world: tuple[World, CountingLimiter],
) -> None:
    world, server_limiter = flood_world
    staff: list[Person] = await world.agency_group("pupr")
    group = staff[0].chat_id
    rt = world.app.runtime
    assert rt is not None
    actor = StaffActor(user_id=str(staff[0].user.id), name="Budi")
    edit_log = world.server.state.chats[group].edit_log
    edits_before = len(edit_log)

    started = time.monotonic()
    first_twenty = asyncio.Event()

    def filed(so_far: int, _number: str) -> None:
        if so_far >= 20:
            first_twenty.set()

    filing = asyncio.create_task(file_many(world, COUNT, every=50.0 / SCALE / 20, batch=COUNT // 20, on_filed=filed))

    # --- five changes of the first card while the group waits for its limit: one edit, the latest state
    await first_twenty.wait()
    first = await eventually(lambda: next((m for m in _group_messages(world, group)
                                           if "JMB-" in body(m) and "st:" in " ".join(payloads(m))), None),
                             timeout=30)
    number_one = next(n for n in (await _cards(world)) if n in body(first))
    async with UnitOfWork(rt.sessionmaker) as uow:
        one = await uow.complaints.by_number(number_one)
        assert one is not None
        one_id = one.id
    sender = world.app.sender
    assert sender is not None
    sender.limiter.pause(group, time.monotonic() + 60.0 / SCALE)  # as when the window is full
    for change in ("accept", "process", f"cr:{one_id}", f"cr:{one_id}:-", "resolve"):
        if change.startswith("cr:"):
            await handle_staff_button(rt, chat_id=group, actor=actor, payload=change, update_key=None)
            continue
        async with UnitOfWork(rt.sessionmaker) as uow:
            locked = await uow.complaints.get_for_update(one_id)
            assert locked is not None
            await transition(rt, uow, locked, actor, change, note=None)
            await uow.commit()
        rt.on_enqueued()

    numbers = await filing
    filed_after = time.monotonic() - started
    print(f"{COUNT} filed in {filed_after * SCALE:.0f} simulated s")

    # --- every complaint visible (digest line or card) within two simulated minutes
    def all_visible() -> bool:
        seen = " ".join(body(m) for m in _group_messages(world, group))
        return all(n in seen for n in numbers)

    await eventually(all_visible, timeout=60)
    visible_after = time.monotonic() - started
    import os
    if os.environ.get("FLOOD_DEBUG"):
        for m in _group_messages(world, group):
            print(m.message_id, m.date, body(m)[:70].replace("\n", " "))
    print(f"all {COUNT} visible after {visible_after * SCALE:.0f} simulated s ({visible_after:.1f} s real)")
    # the goal (filed within a minute, all visible within two) is the benchmark's; here, on a machine that may
    # be slower to file than a storm, every complaint is visible well before its card (the last card needs
    # five minutes): within two simulated minutes of the last filing
    assert (visible_after - filed_after) * SCALE <= 120, f"{(visible_after - filed_after) * SCALE:.0f} simulated s"
    digests = _digests(_group_messages(world, group))
    assert digests, "a group that cannot drain its cards within a minute gets a digest"
    assert all(len(m.text or "") <= 4096 for m in digests)
    assert "awas" not in " ".join(body(m) for m in digests), "no citizen text in a digest"

    # --- a digest's number brings that card up now; a double tap makes no second card
    cards_now = await _cards(world)
    late = next(n for n in reversed(numbers) if n not in cards_now)
    async with UnitOfWork(rt.sessionmaker) as uow:
        late_complaint = await uow.complaints.by_number(late)
        assert late_complaint is not None
        button = card_payload(late_complaint.id)
    digest = next(m for m in reversed(_digests(_group_messages(world, group))) if button in payloads(m))
    answer = await staff[1].tap(button, digest)
    assert late in (answer.get("text") or "")
    again = await staff[0].tap(button, digest)
    assert late in (again.get("text") or "")
    brought = await eventually(lambda: _card_of(world, group, late), timeout=30)
    still_waiting = [n for n in numbers if n != late and n not in (await _cards(world))]
    assert still_waiting, "the card came up ahead of cards filed before it"

    # --- everything drains: each card once, the regular ones in filing order, digests say all is done
    deadline = time.monotonic() + 200
    while True:
        async with UnitOfWork(rt.sessionmaker) as uow:
            if await uow.outbox.pending_count() == 0:
                break
        assert time.monotonic() < deadline, "the group's queue did not drain"
        await asyncio.sleep(0.5)
    cards = await _cards(world)
    assert set(cards) == set(numbers)
    messages = _group_messages(world, group)
    digests = _digests(messages)
    for n in numbers:
        shown = [m for m in messages if m not in digests and n in body(m).split("\n")[0]]
        assert len(shown) == 1, (n, len(shown))
    assert brought.message_id == cards[late]
    regular = sorted((mid, n) for n, mid in cards.items() if n != late)
    assert [n for _, n in regular] == [n for n in numbers if n != late], "cards in filing order"
    assert all("sudah punya kartu" in body(m) for m in _digests(messages)), "every digest ends up saying all is done"

    # --- five status changes while waiting: one edit, showing the last state
    card_edits = [e for e in edit_log[edits_before:] if e.message_id == cards[number_one]]
    assert len(card_edits) == 1, [body(e)[:60] for e in card_edits]
    assert "Selesai" in body(card_edits[0]).split("\n")[0] and "Diproses" in body(card_edits[0])

    assert server_limiter.refused == 0, f"{server_limiter.refused} answers 429"


def _card_of(world: World, group: int, number: str) -> object:
    return next((m for m in world.server.messages(group) if number in body(m) and "st:" in " ".join(payloads(m))
                 and DIGEST_HEADER not in body(m)), None)
