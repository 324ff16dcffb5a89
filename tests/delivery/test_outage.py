"""Telegram unreachable for far longer than the old give-up time: afterwards every queued card and notice
arrives, once, showing what is true by then.

The sender used to give a message up after 12 attempts (backoff from 1 s, capped at 60 s: about eight
minutes of outage). Now it retries transient failures for ``delivery.retry_hours`` (48 h). The test scales
time down through config.yaml's ``delivery`` settings (backoff from 10 ms, capped at 200 ms) and keeps
the Bot API unreachable until the oldest waiting message of every chat has been tried at least 40 times,
far beyond the old 12, then brings it back.

The real app runs in-process (as in tests/e2e) in webhook mode. The outage is the local server dropping
every Bot API call's connection (``fail_network``, as when the host loses its route to Telegram): the
bot can neither send nor answer button presses. The local server's own webhook POSTs are not affected, so
presses made just as the network went down still reach the bot, the way Telegram delivers updates it had
accepted; their effects are committed, and the messages they cause wait in the outbox:

* before the outage: three complaints filed (A1, A2 at PUPR, A3 at DLH), their cards delivered, A1 and A3
  accepted (the bot also learns there that the staff members belong to their groups);
* at the outage: B1 (PUPR) and B2 (DLH) press *Send* on their summaries: confirmations and cards are
  queued; staff press *Proses* on A1 and A3: card edits and notices are queued (one press per group: a
  press whose answer cannot reach Telegram is retried by the inbox, and the group's later updates wait
  behind it);
* during the outage B1 is accepted while its card still waits (no button of an undelivered card can be
  pressed, so through the service the staff router calls): its card, first delivered after the outage,
  must already say "Diterima".
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import SikesalApp
from bot.config import AppConfig, load_config
from bot.services.staff import StaffActor, create_link_code, handle_staff_button
from localapi.telegram import TelegramServer, make_jpeg
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry, Complaint, OutboxMessage
from storage.uow import UnitOfWork
from tests.e2e.conftest import ROOT, TOKEN, start_app
from tests.e2e.harness import Person, payloads, real_payload
from tests.multiproc.procs import (
    Recorder,
    body,
    card_status,
    duplicate_messages,
    notice_status,
    places,
)

pytestmark = pytest.mark.e2e

OLD_GIVE_UP = 12
#: the oldest waiting message of every chat is tried at least this often before the network comes back
MIN_ATTEMPTS = 40
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor"


@pytest.fixture
def outage_config() -> AppConfig:
    """config.yaml with time scaled down: retries after 10 ms doubling to at most 200 ms, for 48 hours."""
    config = load_config(ROOT / "config.yaml")
    delivery = config.delivery.model_copy(
        update={"backoff_base_seconds": 0.01, "backoff_cap_seconds": 0.2, "retry_hours": 48}
    )
    return config.model_copy(update={"delivery": delivery})


async def link_group(server: TelegramServer, app: SikesalApp, config: AppConfig, agency: str) -> Person:
    """A group with one staff member; the bot is an administrator (as README recommends)."""
    assert app.runtime is not None
    user = server.create_user(f"Staf {agency}")
    group = server.create_group(f"Laporan {agency}", [user], admins=[user], bot_admin=True)
    staff = Person(server, user, group.id)
    await server.wait_for_message(group.id, lambda m: "/link" in body(m), timeout=10, new_only=False)
    code = await create_link_code(app.runtime, agency)
    user.send_text(f"/link {code}", chat=group.id)
    name = config.agencies[agency].name["id"]
    await server.wait_for_message(group.id, lambda m: name in body(m), timeout=10, new_only=False)
    return staff


async def to_summary(citizen: Person, category: str, place: tuple[float, float]) -> StoredMessage:
    greeting = await citizen.say("/start")
    assert "menu:new" in payloads(greeting)
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read(f"cat:{category}")
    await citizen.say(DESCRIPTION)
    after_photo = await citizen.photo(make_jpeg())
    if "photo:done" in payloads(after_photo):
        await citizen.tap_and_read("photo:done")
    summary = await citizen.location(*place)  # "📍 Lokasi diterima." and the summary: one message
    assert "sum:send" in payloads(summary)
    return summary


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.05)


async def heads(app: SikesalApp) -> dict[str, int]:
    """Attempts of every chat's oldest pending outbox row (the only one the sender tries; the rest of the
    chat's rows wait behind it), by chat."""
    assert app.runtime is not None
    async with UnitOfWork(app.runtime.sessionmaker) as uow:
        rows = (await uow.session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.attempts)
            .where(OutboxMessage.status == "pending").order_by(OutboxMessage.id)
        )).all()
    first: dict[str, int] = {}
    for chat_id, attempts in rows:
        first.setdefault(chat_id, attempts or 0)
    return first


def card_of(server: TelegramServer, group_id: int, number: str) -> StoredMessage:
    cards = [m for m in server.bot_messages(group_id) if number in body(m) and m.photo]
    assert len(cards) == 1, f"{len(cards)} cards of {number}"
    return cards[0]


async def test_every_card_and_notice_arrives_once_after_a_long_outage(
    database_url: str, tmp_path: Path, outage_config: AppConfig
) -> None:
    config = outage_config
    async with TelegramServer(TOKEN, rate_limits=False) as server:
        recorder = Recorder(server)
        app = await start_app(tmp_path, server, config, database_url, telegram_webhook=True)
        try:
            assert app.runtime is not None and app.sender is not None
            pupr = await link_group(server, app, config, "pupr")
            dlh = await link_group(server, app, config, "dlh")
            spots = places(5)
            a1, a2, a3, b1, b2 = (Person(server, server.create_user(n)) for n in ("A1", "A2", "A3", "B1", "B2"))
            citizens = {"A1": a1, "A2": a2, "A3": a3, "B1": b1, "B2": b2}
            group_of = {"A1": pupr, "A2": pupr, "A3": dlh, "B1": pupr, "B2": dlh}
            category = {"A1": "jalan", "A2": "jalan", "A3": "sampah", "B1": "jalan", "B2": "sampah"}
            place = dict(zip(citizens, spots, strict=True))

            # before the outage: A1..A3 filed, cards delivered; A1 and A3 accepted
            numbers: dict[str, str] = {}
            for name in ("A1", "A2", "A3"):
                summary = await to_summary(citizens[name], category[name], place[name])
                confirmation = await citizens[name].tap_and_read("sum:send", summary)
                numbers[name] = next(w for w in body(confirmation).split() if w.startswith("JMB-"))
                await server.wait_for_message(group_of[name].chat_id, lambda m, n=numbers[name]: n in body(m),
                                              timeout=10, new_only=False)
            async with UnitOfWork(app.runtime.sessionmaker) as uow:
                ids = {c.number: c.id for c in (await uow.session.execute(select(Complaint))).scalars()}
            for name in ("A1", "A3"):
                card = card_of(server, group_of[name].chat_id, numbers[name])
                answer = await group_of[name].tap(f"st:accept:{ids[numbers[name]]}", card)
                assert not answer.get("show_alert"), answer
                await until(lambda c=card, g=group_of[name]: _shows(server, g.chat_id, c, "diterima"), 10,
                            f"{name}'s card accepted")
                await citizens[name].next_matching("sudah diterima oleh")
            summaries = {name: await to_summary(citizens[name], category[name], place[name]) for name in ("B1", "B2")}
            await until(lambda: _outbox_empty(app), 10, "everything delivered before the outage")

            # the outage: every Bot API call of the bot fails from now on
            outage_started = time.monotonic()
            server.fail_network(count=10**9, mode="disconnect")
            for name in ("B1", "B2"):
                citizens[name].user.press_button(summaries[name].message_id, real_payload(summaries[name], "sum:send"))
            # two presses in A1's group: the first's button answer fails (no network), which must not hold
            # back the second (the answer is best effort; the press itself is committed)
            for name, action in (("A1", "process"), ("A3", "process"), ("A2", "accept")):
                card = card_of(server, group_of[name].chat_id, numbers[name])
                payload = f"st:{action}:{ids[numbers[name]]}"
                assert payload in payloads(card), (name, payloads(card))
                group_of[name].user.press_button(card.message_id, payload, chat=group_of[name].chat_id)

            async def filed_and_moved() -> bool:
                async with UnitOfWork(app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
                    complaints = (await uow.session.execute(select(Complaint))).scalars().all()
                    moves = (await uow.session.execute(
                        select(AuditEntry).where(AuditEntry.actor_kind == "staff", AuditEntry.refused.is_(False))
                    )).scalars().all()
                return len(complaints) == 5 and len(moves) == 5

            await until(filed_and_moved, 30, "B1 and B2 filed and three presses recorded during the outage")
            async with UnitOfWork(app.runtime.sessionmaker) as uow:
                for complaint in (await uow.session.execute(select(Complaint))).scalars():
                    ids[complaint.number] = complaint.id
                    for name in ("B1", "B2"):
                        if complaint.latitude == pytest.approx(place[name][0]) and \
                                complaint.longitude == pytest.approx(place[name][1]):
                            numbers[name] = complaint.number
            result = await handle_staff_button(
                app.runtime, chat_id=pupr.chat_id, actor=StaffActor(str(pupr.user.id), pupr.user.first_name),
                payload=f"st:accept:{ids[numbers['B1']]}", update_key=None,
            )
            assert result.alert is None or not result.alert.show_alert, result.alert

            async def tried_enough() -> bool:
                async with UnitOfWork(app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
                    failed = (await uow.session.execute(
                        select(OutboxMessage.id, OutboxMessage.attempts, OutboxMessage.last_error)
                        .where(OutboxMessage.status == "failed")
                    )).all()
                assert not failed, f"given up during the outage: {failed}"
                waiting = await heads(app)
                return bool(waiting) and all(attempts >= MIN_ATTEMPTS for attempts in waiting.values())

            await until(tried_enough, 120, f"every chat's oldest message tried {MIN_ATTEMPTS} times")
            during = await heads(app)
            async with UnitOfWork(app.runtime.sessionmaker) as uow:
                waiting = (await uow.session.execute(
                    select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.status != "sent")
                )).all()
            assert {status for _, status in waiting} == {"pending"}, "nothing was given up during the outage"
            outage = time.monotonic() - outage_started
            sent_before = len(recorder.seen)

            # the network is back
            server.faults.network_failures = 0
            await until(lambda: _outbox_empty(app), 30, "the queue delivered after the outage")
            await asyncio.sleep(0.5)  # a duplicate would show up meanwhile
        finally:
            await app.stop()

        async with UnitOfWork(app.runtime.sessionmaker) as uow:
            rows = (await uow.session.execute(
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts, OutboxMessage.last_error)
            )).all()
            moves = (await uow.session.execute(
                select(AuditEntry.complaint_id, AuditEntry.to_status, AuditEntry.refused, AuditEntry.action)
                .where(AuditEntry.actor_kind == "staff").order_by(AuditEntry.id)
            )).all()
        print(f"\noutage of {outage:.1f} s; waiting chats' oldest messages tried"
              f" {sorted(during.values())} times (old give-up: {OLD_GIVE_UP});"
              f" {len(waiting)} messages waited; {len(recorder.seen) - sent_before} delivered or edited after")
        assert {r.status for r in rows} == {"sent"}, [(r.id, r.status, r.last_error) for r in rows if r.status != "sent"]
        assert max(r.attempts for r in rows) >= MIN_ATTEMPTS > OLD_GIVE_UP
        assert len(waiting) >= 9, "cards, card edits, confirmations and notices waited"

        # every press took effect once
        by_complaint: dict[int | None, list[str | None]] = defaultdict(list)
        for complaint_id, to_status, refused, action in moves:
            assert not refused, action
            by_complaint[complaint_id].append(to_status)
        expected = {"A1": ["diterima", "diproses"], "A2": ["diterima"], "A3": ["diterima", "diproses"],
                    "B1": ["diterima"], "B2": []}
        assert {n: by_complaint.get(ids[numbers[n]], []) for n in expected} == expected

        # nothing twice, anywhere
        chats = [c.user.id for c in citizens.values()] + [pupr.chat_id, dlh.chat_id]
        assert duplicate_messages(recorder, chats) == []

        # cards: one each, showing the current status; B1's first delivery already says "Diterima"
        final = {"A1": "diproses", "A2": "diterima", "A3": "diproses", "B1": "diterima", "B2": "baru"}
        for name, status in final.items():
            group = group_of[name].chat_id
            sends = [s for s in recorder.sends(group) if numbers[name] in body(s.message)]
            assert len(sends) == 1, f"{name}: {len(sends)} cards"
            assert card_status(body(card_of(server, group, numbers[name]))) == status, name
        first_b1 = next(s for s in recorder.sends(pupr.chat_id) if numbers["B1"] in body(s.message))
        assert card_status(body(first_b1.message)) == "diterima", body(first_b1.message)[:80]
        assert first_b1.at > outage_started

        # citizens: one confirmation for B1 and B2, one notice per status change, in order
        for name, statuses in expected.items():
            texts = [body(s.message) for s in sorted(recorder.sends(citizens[name].user.id), key=lambda s: s.message_id)]
            if name.startswith("B"):
                confirmations = [i for i, t in enumerate(texts) if numbers[name] in t and "terkirim" in t]
                assert len(confirmations) == 1, (name, texts[-3:])
            notices = [notice_status(t) for t in texts if notice_status(t) and numbers[name] in t]
            assert notices == statuses, (name, notices)
    assert server.spec_violations == [], server.spec_violations


def _shows(server: TelegramServer, group_id: int, card: StoredMessage, status: str) -> Any:
    async def check() -> bool:
        current = server.state.chats[group_id].messages[card.message_id]
        return card_status(body(current)) == status

    return check()


async def _outbox_empty(app: SikesalApp) -> bool:
    assert app.runtime is not None
    async with UnitOfWork(app.runtime.sessionmaker) as uow:
        return await uow.outbox.pending_count() == 0
