"""Nothing lost, nothing twice: citizens file complaints and staff press card buttons while the bot is killed
with SIGKILL at random moments and restarted; afterwards every action took effect exactly once and every
message was delivered at least once (twice only within the outbox's own guarantee).

The local Telegram server runs here; the bot is a real separate process (``sikesal run``, forked from a fork
server that imported the bot once, see :mod:`tests.chaos.botproc`). The simulated people do not wait for the
bot before they act, except where a person cannot act without it (a button can only be pressed once the bot
has shown it): their updates queue at the server like at Telegram while the bot is dead. Staff fire bursts of presses (30 in one group within
a second, the original finding was "kill -9 half a second after 30 staff presses in one group lost 20 of
them") and the bot is killed during the burst. A kill comes at a random moment (0.1-1.5 s in, once the bot has
work in hand) or is aimed at the two narrowest windows: inside the local server's handling of the bot's n-th
answerCallbackQuery (the press is committed, its inbox row is not yet done: a replay must not apply it again)
or of its n-th send or edit (Telegram has the message, the outbox has not recorded it: the one duplicate an
outbox allows). Per seed the bot is killed 2-4 times on SQLite (once or twice while the citizens file, during
one or both bursts), twice on PostgreSQL (once while filing, once during a burst), and restarted at once each
time.

Exactness comes from the lifecycle rules: the presses of one group are processed in ``update_id`` order, so
the expected outcome of every press (applied or refused) is computed with :func:`handlers.lifecycle.decide`
and compared with the audit trail row by row: a press applied twice shows up as an extra refusal ("already
accepted"), a lost press as a missing row.

Seeds: ``SIKESAL_CHAOS_SEEDS=1,2,3,4,5`` runs more (default 1,2,3 on both backends). On PostgreSQL the
restarted process listens on the same port, so it is the same lease owner and takes the dead one's rows and
the poller role back at once.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.config import load_config
from handlers import lifecycle
from handlers.flow.versions import bare
from localapi.telegram import TelegramServer, make_jpeg
from localapi.telegram.simulation import SimUser
from localapi.telegram.state import CallbackRecord, StoredMessage
from storage.db import make_engine
from storage.models import AuditEntry, Citizen, Complaint, ComplaintPhoto, InboundMessage, OutboxMessage
from tests.chaos.botproc import ROOT, TOKEN, BotProcess, ForkServer

pytestmark = pytest.mark.chaos

SEEDS = [int(s) for s in os.environ.get("SIKESAL_CHAOS_SEEDS", "1,2,3").split(",") if s.strip()]
CITIZENS = 6
#: the Telegram sender works on at most this many chats at once: per kill, at most this many messages can
#: have reached Telegram without their "sent" mark being committed (the duplicates an outbox allows)
SENDER_CONCURRENCY = 8
#: how long a person waits for the bot (a restart on PostgreSQL waits for the dead process's leases)
PATIENCE = 120.0
#: points about 220 m apart in Kota Jambi: nobody's report is offered as "the same problem"
BASE = (-1.6101, 103.6131)
#: what a citizen's status notice says (``notify.<status>`` in the id catalog)
NOTICE = {"diterima": "sudah diterima", "diproses": "sedang ditangani", "selesai": "sudah selesai"}
NUMBER = re.compile(r"JMB-\d{4}-\d{6}")
CATEGORIES = {"jalan": "pupr", "sampah": "dlh"}
#: presses in the busiest group (PUPR) per burst, all within a second
BURST = 30


# ------------------------------------------------------------------------------------------ the plan


@dataclass
class Filer:
    """A citizen and the complaint they file."""

    user: SimUser
    category: str
    point: tuple[float, float]
    description: str
    double_tap: bool
    number: str | None = None
    complaint_id: int | None = None
    #: the card in the agency group (the message officers tap on)
    card: int | None = None


@dataclass
class Press:
    group: int
    staff: SimUser
    complaint: Filer
    action: str


#: the Bot API calls a kill may be aimed at: the bot has committed a button press (it answers the callback
#: query after the commit, before its inbox row is done), or Telegram has accepted a message from the outbox
#: (before the bot has recorded it as sent)
ANSWER = frozenset({"answercallbackquery"})
SEND = frozenset({"sendmessage", "sendphoto", "sendmediagroup", "editmessagetext", "editmessagecaption",
                  "editmessagereplymarkup"})


@dataclass
class Kill:
    """When to kill the bot: at the ``nth`` call of one of ``methods`` from now on, right after the local server
    has carried it out and before the bot hears back; or (no methods, or none came) ``after`` seconds from the
    start of the phase, as soon as the bot has work in hand."""

    after: float
    methods: frozenset[str] = frozenset()
    nth: int = 1

    def __str__(self) -> str:
        if not self.methods:
            return f"{self.after:.2f}s in"
        what = "answerCallbackQuery" if self.methods == ANSWER else "send or edit"
        return f"at {what} #{self.nth} (else {self.after:.1f}s in)"


@dataclass
class Trap:
    """An armed :class:`Kill` aimed at a call: fires inside the server's handling of the call."""

    methods: frozenset[str]
    countdown: int
    fired: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Plan:
    seed: int
    filers: list[Filer]
    #: the kills while the citizens file (the first from the start, the next from the restart)
    filing_kills: list[Kill]
    #: the staff bursts (a second long), each with a kill counted from when it began (None: no kill)
    bursts: list[tuple[list[Press], Kill | None]] = field(default_factory=list)


def a_kill(rng: random.Random, *, presses: int) -> Kill:
    """A kill at a random moment, or aimed at the answer to a press or at a message Telegram accepted."""
    mode = rng.choice(("time", "answer", "send"))
    if mode == "answer":
        return Kill(after=3.0, methods=ANSWER, nth=rng.randint(1, presses))
    if mode == "send":
        return Kill(after=3.0, methods=SEND, nth=rng.randint(1, 6))
    return Kill(after=rng.uniform(0.1, 1.5))


def press_sequence(rng: random.Random) -> list[str]:
    """accept, process, resolve in order, some pressed twice (a double tap, two officers at once), sometimes
    one too early: the illegal ones are refused, and a press applied twice would be refused too."""
    actions: list[str] = []
    for action in ("accept", "process", "resolve"):
        if rng.random() < 0.2:
            actions.append(rng.choice(("process", "resolve")))  # too early (or the same as the next one)
        actions.extend([action] * rng.choice((1, 1, 2)))
    return actions


def expected(actions: list[str]) -> tuple[str, list[tuple[str, bool]]]:
    """The final status and the audit trail ``(action, refused)`` of presses applied in this order."""
    status, trail = lifecycle.Status.BARU.value, []
    for action in actions:
        decision = lifecycle.decide(status, action)
        trail.append((action, not decision.allowed))
        if decision.allowed and decision.to_status is not None:
            status = decision.to_status.value
    return status, trail


def reached_statuses(actions: list[str]) -> list[str]:
    """The statuses the complaint passed through (each one a notice to the citizen)."""
    status, reached = lifecycle.Status.BARU.value, []
    for action in actions:
        decision = lifecycle.decide(status, action)
        if decision.allowed and decision.to_status is not None:
            status = decision.to_status.value
            reached.append(status)
    return reached


def interleave(rng: random.Random, sequences: list[list[Press]]) -> list[Press]:
    """Merge the sequences at random, each one's own order kept."""
    queues = [list(s) for s in sequences if s]
    merged: list[Press] = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return merged


# ------------------------------------------------------------------------------------------ acting


def press(server: TelegramServer, user: SimUser, chat_id: int, message_id: int, data: str) -> str:
    """Tap an inline button as the person saw it. Unlike ``SimUser.press_button`` the button need not be on
    the message any more: an officer taps what their client still shows while the bot edits the card, and
    Telegram delivers that press (a burst of taps is faster than the edits)."""
    chat = server.state.chats[chat_id]
    message = server.find_message(chat, message_id)
    query_id = str(secrets.randbits(63))
    server.state.callbacks[query_id] = CallbackRecord(
        id=query_id, user=user.record, message=message, data=data, created=time.monotonic()
    )
    server.state.push_update("callback_query", {
        "id": query_id, "from": user.to_dict(), "message": message.to_dict(),
        "chat_instance": str(abs(hash((chat_id, server.state.bot.id))) % (10**18)), "data": data,
    })
    return query_id


def payloads(message: StoredMessage) -> list[str]:
    """The buttons' payloads without the menu version the bot stamps on them."""
    return [bare(str(b["callback_data"])) for b in message.buttons() if "callback_data" in b]


def real_data(message: StoredMessage, payload: str) -> str:
    """The callback data (with the bot's menu version) of the button ``payload`` names on ``message``."""
    for button in [*message.buttons(), *message.earlier_buttons()]:
        if bare(str(button.get("callback_data", ""))) == payload:
            return str(button["callback_data"])
    return payload


def body(message: StoredMessage) -> str:
    return (message.text or "") + (message.caption or "")


async def wait_for(server: TelegramServer, chat_id: int, after: int, match: Callable[[StoredMessage], bool],
                   what: str) -> StoredMessage:
    """The first bot message after ``after`` in the chat that matches (people are patient: the bot restarts).
    Polled, so a message that matches only once the bot edited it (buttons put on after sending) is seen."""
    deadline = time.monotonic() + PATIENCE
    while True:
        found = next((m for m in server.bot_messages(chat_id) if m.message_id > after and match(m)), None)
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"chat {chat_id}: no {what} within {PATIENCE}s")
        await asyncio.sleep(0.05)


async def file_complaint(server: TelegramServer, filer: Filer) -> None:
    """The citizen's side: a command, then taps where a button is needed; text, photo and pin are sent
    right after the category without waiting (the bot keeps a photo or pin that comes early)."""
    user, chat = filer.user, filer.user.id
    user.send_text("/baru")
    prompt = await wait_for(server, chat, 0, lambda m: f"cat:{filer.category}" in payloads(m), "category prompt")
    user.press_button(prompt, real_data(prompt, f"cat:{filer.category}"))
    user.send_text(filer.description)
    user.send_photo(make_jpeg(gray=40 + filer.user.id % 150))
    user.send_location(*filer.point)
    step = await wait_for(server, chat, prompt.message_id,
                          lambda m: bool({"photo:done", "sum:send"} & set(payloads(m))), "photo or summary step")
    if "sum:send" not in payloads(step):
        user.press_button(step, real_data(step, "photo:done"))
        step = await wait_for(server, chat, step.message_id, lambda m: "sum:send" in payloads(m), "summary")
    user.press_button(step, real_data(step, "sum:send"))
    if filer.double_tap:  # pressed twice before the bot answered (the client still shows it): files once
        user.press_button(step, real_data(step, "sum:send"), stale_ok=True)
    confirmation = await wait_for(server, chat, step.message_id, lambda m: bool(NUMBER.search(body(m))),
                                  "confirmation with a tracking number")
    found = NUMBER.search(body(confirmation))
    assert found is not None
    filer.number = found.group(0)


# ------------------------------------------------------------------------------------------ the world


@dataclass
class Chaos:
    server: TelegramServer
    bot: BotProcess
    engine: AsyncEngine
    groups: dict[str, int] = field(default_factory=dict)
    staff: dict[str, list[SimUser]] = field(default_factory=dict)
    #: every update the server queued for the bot: (update_id, kind)
    pushed: list[tuple[int, str]] = field(default_factory=list)
    plan: Plan | None = None
    #: kills that hit the bot with work in hand (updates to store or process, messages to send)
    busy_kills: int = 0
    #: the armed kill aimed at a Bot API call, if any
    trap: Trap | None = None

    def on_call(self, method: str) -> None:
        """The local server has just carried out a call of the bot (called before the bot gets the answer)."""
        trap = self.trap
        if trap is not None and method.lower() in trap.methods and self.bot.alive():
            trap.countdown -= 1
            if trap.countdown <= 0:
                self.trap = None
                self.bot.sigkill()
                trap.fired.set()

    async def kill_and_restart(self, phase: str, kill: Kill, since: float, *, busy_within: float = 2.0) -> None:
        """Kill the bot as ``kill`` says (counted from ``since``, a ``time.monotonic()``), then start a new process
        at once. A kill at a moment (not aimed at a call) waits up to ``busy_within`` seconds for the bot to
        have work in hand."""
        signalled = False
        if kill.methods:
            trap = self.trap = Trap(kill.methods, kill.nth)
            try:
                await asyncio.wait_for(trap.fired.wait(), max(0.0, since + kill.after - time.monotonic()))
            except TimeoutError:
                pass
            self.trap = None
            signalled = trap.fired.is_set()
        if not signalled:
            await asyncio.sleep(max(0.0, since + kill.after - time.monotonic()))
            deadline = time.monotonic() + busy_within
            while time.monotonic() < deadline:
                if await self.busy():
                    break
                await asyncio.sleep(0.01)
        await self.bot.kill(signalled=signalled)
        reason = f"{phase}, {kill}" + ("" if signalled or not kill.methods else ": no such call came")
        updates, inbox, outbox = await self.in_flight()
        self.busy_kills += bool(updates or inbox or outbox)
        self.bot.events.append((f"  ({reason}: {updates} updates unconfirmed, {inbox} inbox and {outbox} outbox"
                                f" rows pending)", self.bot.events[-1][1]))
        await self.bot.restart(timeout=PATIENCE)

    async def link(self, agencies: list[str]) -> None:
        """What an admin does: a group with two officers and the bot, a code from the CLI, /link CODE."""
        welcomes = {}
        for agency in agencies:
            users = [self.server.create_user(f"{name} {agency.upper()}") for name in ("Budi", "Rina")]
            group = self.server.create_group(f"Laporan {agency.upper()}", users, admins=users[:1])
            self.groups[agency], self.staff[agency] = group.id, users
        codes = await asyncio.gather(*(self.bot.link_code(agency) for agency in agencies))
        for agency, code in zip(agencies, codes, strict=True):
            group_id = self.groups[agency]
            welcomes[agency] = await wait_for(self.server, group_id, 0, lambda m: "/link" in body(m), "welcome")
            self.staff[agency][0].send_text(f"/link {code}", chat=group_id)
        config = load_config(ROOT / "config.yaml")
        for agency in agencies:
            name = config.agencies[agency].name["id"]
            await wait_for(self.server, self.groups[agency], welcomes[agency].message_id,
                           lambda m, name=name: name in body(m), "link confirmation")  # type: ignore[misc]

    async def busy(self) -> bool:
        """The bot has updates stored but not processed, or messages queued but not sent."""
        async with self.engine.connect() as conn:
            for model in (InboundMessage, OutboxMessage):
                if await conn.scalar(select(model.id).where(model.status == "pending").limit(1)) is not None:
                    return True
        return False

    async def quiet(self) -> None:
        """Until the bot polls again and has done everything (after a kill on PostgreSQL: the dead process's
        leases expire first), so the next kill hits a bot at work."""
        await settle(self)

    async def in_flight(self) -> tuple[int, int, int]:
        """Updates the server holds unconfirmed, inbox and outbox rows pending (what a kill cut off)."""
        async with self.engine.connect() as conn:
            inbox = await conn.scalar(
                select(func.count()).select_from(InboundMessage).where(InboundMessage.status == "pending"))
            outbox = await conn.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
        return len(self.server.state.updates), int(inbox or 0), int(outbox or 0)


@pytest.fixture(scope="session")
def fork_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForkServer]:
    """One fork server for the session: the bot is imported once, each start is a fork."""
    forks = ForkServer(tmp_path_factory.mktemp("forkserver") / "forkserver.log")
    try:
        yield forks
    finally:
        forks.close()


@pytest_asyncio.fixture
async def chaos(database_url: str, tmp_path: Path, fork_server: ForkServer) -> AsyncIterator[Chaos]:
    async with TelegramServer(TOKEN, rate_limits=False) as server:
        bot = BotProcess(fork_server, tmp_path, api_base=server.base_url, database_url=database_url)
        world = Chaos(server=server, bot=bot, engine=make_engine(database_url))
        original = server.state.push_update

        def recording(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
            update = original(kind, payload)
            world.pushed.append((update["update_id"], kind))
            return update

        server.state.push_update = recording  # type: ignore[method-assign]
        carry_out = server.call

        async def call(method: str, params: dict[str, Any], uploads: Any = None) -> Any:
            result = await carry_out(method, params, uploads)
            world.on_call(method)  # Telegram has done it; the bot may die before it hears so
            return result

        server.call = call  # type: ignore[method-assign]
        try:
            await world.bot.restart()
            yield world
        finally:
            await world.bot.stop()
            await world.engine.dispose()


def make_plan(seed: int, server: TelegramServer, *, postgres: bool) -> Plan:
    rng = random.Random(seed)
    filers = []
    for i in range(CITIZENS):
        category = "sampah" if i % 3 == 2 else "jalan"  # most in one group: its bursts are the big ones
        point = (BASE[0] - 0.002 * i, BASE[1] + 0.001 * (i % 2))
        description = f"Laporan nomor {i + 1} (seed {seed}): " + rng.choice((
            "jalan berlubang besar di depan pasar, motor hampir jatuh",
            "sampah menumpuk di pinggir jalan sudah seminggu tidak diangkut",
            "aspal retak dan amblas setelah hujan deras semalam",
        ))
        filers.append(Filer(server.create_user(f"Warga {seed}-{i + 1}"), category, point, description,
                            double_tap=rng.random() < 0.5))
    filing_kills = [a_kill(rng, presses=6) if rng.random() < 0.6 else Kill(after=rng.uniform(0.2, 1.0))
                    for _ in range(1 if postgres else rng.choice((1, 2)))]
    return Plan(seed=seed, filers=filers, filing_kills=filing_kills)


def plan_bursts(plan: Plan, rng: random.Random, world: Chaos, *, postgres: bool) -> None:
    """Split every complaint's presses into two bursts; a kill after one or both (one on PostgreSQL)."""
    first: list[list[Press]] = []
    second: list[list[Press]] = []
    for filer in plan.filers:
        agency = CATEGORIES[filer.category]
        actions = press_sequence(rng)
        cut = rng.randint(1, len(actions))
        presses = [Press(world.groups[agency], rng.choice(world.staff[agency]), filer, a) for a in actions]
        first.append(presses[:cut])
        second.append(presses[cut:])
    killed = rng.choice(((True, False), (False, True))) if postgres else rng.choice(
        ((True, True), (True, False), (False, True)))
    busiest = world.groups["pupr"]
    pupr = [f for f in plan.filers if CATEGORIES[f.category] == "pupr"]
    for sequences, kill in zip((first, second), killed, strict=True):
        burst = interleave(rng, sequences)
        while sum(p.group == busiest for p in burst) < BURST:  # more taps on accept: refused once accepted
            filer = rng.choice(pupr)
            burst.insert(rng.randint(0, len(burst)), Press(busiest, rng.choice(world.staff["pupr"]), filer, "accept"))
        plan.bursts.append((burst, a_kill(rng, presses=len(burst)) if kill else None))


# ------------------------------------------------------------------------------------------ the test


async def settle(world: Chaos, timeout: float = PATIENCE) -> None:
    """Until the server holds no unconfirmed update and the inbox and the outbox have nothing pending (the
    inbox row of an update is done only after the outbox rows it caused were committed)."""
    deadline = time.monotonic() + timeout
    while True:
        updates, inbox, outbox = await world.in_flight()
        if not (updates or inbox or outbox) and world.bot.alive():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"not settled after {timeout}s: {inbox} inbox and {outbox} outbox rows pending,"
                                 f" {updates} updates unconfirmed")
        await asyncio.sleep(0.2)


@pytest.mark.parametrize("seed", SEEDS)
async def test_kill9_loses_nothing_and_applies_nothing_twice(chaos: Chaos, database_url: str, seed: int) -> None:
    postgres = database_url.startswith("postgresql")
    world, server = chaos, chaos.server
    started = time.monotonic()
    try:
        await run_scenario(world, seed)
        await settle(world)
        await check(world, seed)
    except BaseException:
        print(f"\nseed {seed}: bot events {world.bot.events}\n{await diagnose(world)}"
              f"\n--- bot log tail ---\n{world.bot.log_tail(120)}")
        raise
    finally:
        print(f"\nseed {seed} on {'PostgreSQL' if postgres else 'SQLite'}: {world.bot.kills} kills,"
              f" {len(world.pushed)} updates, {time.monotonic() - started:.1f}s; {world.bot.events}")
    assert server.spec_violations == [], server.spec_violations


async def run_scenario(world: Chaos, seed: int) -> None:
    server = world.server
    await world.link(sorted(set(CATEGORIES.values())))
    postgres = world.engine.dialect.name == "postgresql"
    plan = make_plan(seed, server, postgres=postgres)
    world.plan = plan

    async def killer() -> None:
        for kill in plan.filing_kills:
            await world.kill_and_restart("filing", kill, time.monotonic())

    filing = asyncio.gather(*(file_complaint(server, f) for f in plan.filers))
    await asyncio.gather(filing, killer())
    # every card is in its group before the officers act on it
    for filer in plan.filers:
        group = world.groups[CATEGORIES[filer.category]]
        assert filer.number is not None
        card = await wait_for(server, group, 0, lambda m, n=filer.number: n in body(m)  # type: ignore[misc]
                              and any(p.startswith("st:accept:") for p in payloads(m)), f"card {filer.number}")
        filer.complaint_id = int(next(p for p in payloads(card) if p.startswith("st:accept:")).rsplit(":", 1)[1])
        filer.card = card.message_id
    rng = random.Random(seed * 1000 + 7)
    plan_bursts(plan, rng, world, postgres=postgres)
    for burst, kill_at in plan.bursts:
        await world.quiet()
        start = time.monotonic()

        async def tap(burst: list[Press] = burst, start: float = start) -> None:
            for i, p in enumerate(burst):  # all within a second, whether the bot is alive or not
                assert p.complaint.card is not None and p.complaint.complaint_id is not None
                press(server, p.staff, p.group, p.complaint.card, f"st:{p.action}:{p.complaint.complaint_id}")
                await asyncio.sleep(max(0.0, start + (i + 1) / (len(burst) + 2) - time.monotonic()))

        async def kill(kill: Kill | None = kill_at, start: float = start, size: int = len(burst)) -> None:
            if kill is not None:
                await world.kill_and_restart(f"a burst of {size}", kill, start)

        await asyncio.gather(tap(), kill())
        await asyncio.sleep(0.5)


async def diagnose(world: Chaos) -> str:
    """Where things stand (for a failure): updates never stored, rows not done."""
    async with world.engine.connect() as conn:
        rows = (await conn.execute(select(InboundMessage.key, InboundMessage.status, InboundMessage.attempts,
                                          InboundMessage.last_error))).all()
        outbox = (await conn.execute(select(OutboxMessage.id, OutboxMessage.chat_id, OutboxMessage.status,
                                            OutboxMessage.attempts, OutboxMessage.last_error)
                                     .where(OutboxMessage.status != "sent"))).all()
    stored = {r.key for r in rows}
    lost = [(uid, kind) for uid, kind in world.pushed if f"tg:{uid}" not in stored]
    unconfirmed = [u["update_id"] for u in world.server.state.updates]
    return (f"updates queued but never stored: {lost} (still at the server: {unconfirmed})\n"
            f"inbox rows not done: {[tuple(r) for r in rows if r.status != 'done']}\n"
            f"outbox rows not sent: {[tuple(r) for r in outbox]}")


async def check(world: Chaos, seed: int) -> None:
    server, plan = world.server, world.plan
    assert plan is not None
    kills = world.bot.kills
    allowance = kills * SENDER_CONCURRENCY
    problems: list[str] = []

    # every update the server queued (of the kinds the bot asked for) was stored once and processed
    allowed = server.state.allowed_updates
    wanted = {f"tg:{uid}" for uid, kind in world.pushed if kind in allowed}
    async with world.engine.connect() as conn:
        rows = (await conn.execute(select(InboundMessage.key, InboundMessage.status, InboundMessage.last_error)
                                   .where(InboundMessage.channel == "telegram"))).all()
        stored = Counter(r.key for r in rows)
        assert set(stored) == wanted, (f"updates lost: {sorted(wanted - set(stored))[:10]},"
                                       f" unexpected: {sorted(set(stored) - wanted)[:10]}")
        assert max(stored.values()) == 1
        not_done = [(r.key, r.status, r.last_error) for r in rows if r.status != "done"]
        assert not not_done, f"inbox rows not done: {not_done}"
        outbox_bad = (await conn.execute(select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.last_error)
                                         .where(OutboxMessage.status.not_in(("sent", "superseded"))))).all()
        assert not outbox_bad, f"outbox rows not delivered: {outbox_bad}"
        sent_rows = (await conn.execute(select(OutboxMessage.kind, OutboxMessage.result_message_ids)
                                        .where(OutboxMessage.status == "sent"))).all()

        # each citizen: exactly one complaint, as filed, in the status the presses imply
        for filer in plan.filers:
            citizen_id = await conn.scalar(select(Citizen.id).where(Citizen.channel_user_id == str(filer.user.id)))
            complaints = (await conn.execute(
                select(Complaint.id, Complaint.number, Complaint.description, Complaint.status)
                .where(Complaint.citizen_id == citizen_id))).all()
            if len(complaints) != 1:
                problems.append(f"{filer.user.first_name}: {len(complaints)} complaints instead of 1")
                continue
            complaint = complaints[0]
            actions = [p.action for burst, _ in plan.bursts for p in burst if p.complaint is filer]
            status, trail = expected(actions)
            if complaint.number != filer.number or complaint.description != filer.description:
                problems.append(f"{filer.number}: stored {complaint.number} {complaint.description!r}")
            if complaint.status != status:
                problems.append(f"{filer.number}: status {complaint.status}, expected {status} after {actions}")
            photos = await conn.scalar(select(func.count()).select_from(ComplaintPhoto)
                                       .where(ComplaintPhoto.complaint_id == complaint.id))
            if photos != 1:
                problems.append(f"{filer.number}: {photos} photos instead of 1")
            audit = (await conn.execute(select(AuditEntry.action, AuditEntry.refused, AuditEntry.actor_kind)
                                        .where(AuditEntry.complaint_id == complaint.id)
                                        .order_by(AuditEntry.id))).all()
            staff_trail = [(a.action, bool(a.refused)) for a in audit if a.actor_kind == "staff"]
            if staff_trail != trail:
                problems.append(f"{filer.number}: audit {staff_trail}, expected {trail} (presses {actions})")
            others = Counter(a.action for a in audit if a.actor_kind != "staff")
            if any(n != 1 for n in others.values()):
                problems.append(f"{filer.number}: citizen/system audit rows {dict(others)}")

            # what the citizen read: the confirmation and every status notice, at least once
            transcript = [body(m) for m in server.bot_messages(filer.user.id)]
            if not any(filer.number in t for t in transcript):
                problems.append(f"{filer.number}: no confirmation with the number")
            for reached in reached_statuses(actions):
                if not any(filer.number in t and NOTICE[reached] in t for t in transcript):
                    problems.append(f"{filer.number}: the citizen never heard it is {reached}")

            # the card: posted once (plus what a kill may duplicate), showing the final status
            group = world.groups[CATEGORIES[filer.category]]
            cards = [m for m in server.bot_messages(group) if m.photo and filer.number in body(m)]
            if not 1 <= len(cards) <= 1 + allowance:
                problems.append(f"{filer.number}: {len(cards)} cards in the group")
            label = {"selesai": "Selesai", "diproses": "Diproses", "diterima": "Diterima", "baru": "Baru"}[status]
            if cards and not any(label in body(c) for c in cards):
                problems.append(f"{filer.number}: no card shows {label}: {[body(c)[:80] for c in cards]}")

    # duplicates: messages that reached Telegram more often than the outbox sent them
    delivered = sum(len(ids or []) for kind, ids in sent_rows if kind == "send")
    on_server = sum(len(server.bot_messages(chat.id)) for chat in list(server.state.chats.values()))
    duplicates = on_server - delivered
    same_text = 0
    for chat in list(server.state.chats.values()):
        seen = Counter((body(m), tuple(payloads(m))) for m in server.bot_messages(chat.id))
        same_text += sum(n - 1 for n in seen.values())
    print(f"\nseed {seed}: {kills} kills ({world.busy_kills} with work in hand); {on_server} bot messages,"
          f" {delivered} recorded as sent:"
          f" {duplicates} duplicates (allowed {allowance}); {same_text} with the same text in the same chat")
    assert 0 <= duplicates <= allowance, f"{duplicates} duplicates after {kills} kills"
    assert same_text <= allowance, f"{same_text} messages repeated in their chat after {kills} kills"
    assert not problems, "\n".join(problems)

