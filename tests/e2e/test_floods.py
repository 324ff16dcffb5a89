"""Floods and abuse end to end, through the real aiogram and twilio clients, on SQLite and PostgreSQL:
the message rate (one "pelan-pelan", then silence until the clock moves on; an album counts as one), the
daily complaint cap, the same text filed again, and the command centre blocking a citizen (the button on
its escalation card, with a reason, audited; the CLI by complaint number). Time is an injected clock that
the local Telegram server's message dates follow too; nothing sleeps for time to pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.cli import main as cli_main
from localapi.telegram import TelegramServer
from localapi.telegram.media import make_jpeg
from localapi.telegram.state import store_photo
from localapi.twilio import TwilioServer
from storage.models import Citizen, InboundMessage
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled, start_app
from tests.e2e.harness import Person, body, eventually, payloads, text_of
from tests.e2e.test_command_centre import audit, escalation_card, overdue_complaint
from tests.e2e.test_membership import press_anyway
from tests.e2e.test_more_conversation import draft_to_summary, send_summary
from tests.e2e.test_scheduler_reminders import Clock

pytestmark = pytest.mark.e2e

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 09:00 WIB
SLOW_DOWN = "Pelan-pelan"


@pytest_asyncio.fixture
async def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The app's clock, which the local Telegram server's message dates follow (Telegram stamps them)."""
    moved = Clock(START)
    monkeypatch.setattr("localapi.telegram.state.now_ts", lambda: int(moved().timestamp()))
    return moved


@pytest_asyncio.fixture
async def timed(
    server: TelegramServer, twilio: TwilioServer, config, database_url: str, tmp_path: Path, clock: Clock  # type: ignore[no-untyped-def]
) -> AsyncIterator[World]:
    app = await start_app(tmp_path, server, config, database_url, clock=clock, twilio=twilio)
    try:
        yield World(server=server, app=app, config=app.config, tmp=tmp_path, twilio=twilio)
    finally:
        await app.stop()


async def settled(world: World, sender: str | None = None, stored: int = 0) -> None:
    """Every stored update processed (with ``sender``: once ``stored`` of theirs arrived) and every reply
    delivered."""
    assert world.app.runtime is not None
    for _ in range(500):
        arrived = await stored_updates(world, sender) if sender is not None else stored
        async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
            if arrived >= stored and await uow.inbox.pending_count() == 0:
                break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("the inbox did not drain")
    await outbox_settled(world)


async def stored_updates(world: World, sender: str) -> int:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        query = select(func.count()).select_from(InboundMessage).where(InboundMessage.sender == sender)
        return int(await uow.session.scalar(query) or 0)


def send_album(citizen: Person, count: int) -> None:
    """What a Telegram app sends for an album: one message per photo, sharing a media_group_id."""
    sim = citizen.user._sim
    group = sim.state.new_media_group_id()
    for i in range(count):
        sizes = store_photo(sim.state, make_jpeg(gray=40 + 30 * i), 320, 240)
        sim.user_message(citizen.user, None, None, photo=[s.to_dict() for s in sizes], media_group_id=group)


# --- the message rate ----------------------------------------------------------------------------------


async def test_25_messages_in_a_minute_get_one_slow_down_and_later_ones_are_answered(timed: World, clock: Clock) -> None:
    citizen = timed.citizen("Siti")
    for i in range(25):
        citizen.user.send_text(f"halo {i}")
    await settled(timed, f"tg:{citizen.chat_id}", 25)
    said = await citizen.quiet(0.3)
    assert [m for m in said if SLOW_DOWN in body(m)] and sum(SLOW_DOWN in body(m) for m in said) == 1
    assert SLOW_DOWN in body(said[-1]), "nothing is answered after it"
    assert await stored_updates(timed, f"tg:{citizen.chat_id}") == 25, "every message is stored"

    clock.offset += timedelta(minutes=2)
    answer = await citizen.say("/start")
    assert "menu:new" in payloads(answer), body(answer)


async def test_an_album_of_five_photos_counts_as_one_message(timed: World) -> None:
    citizen = timed.citizen("Siti")
    send_album(citizen, 5)
    for i in range(19):  # with the album: 20 messages, the limit
        citizen.user.send_text(f"halo {i}")
    await settled(timed, f"tg:{citizen.chat_id}", 24)
    assert not [m for m in await citizen.quiet(0.2) if SLOW_DOWN in body(m)]
    citizen.user.send_text("satu lagi")
    assert SLOW_DOWN in body(await citizen.next_matching(SLOW_DOWN))


async def test_whatsapp_floods_get_one_slow_down_too(timed: World, clock: Clock) -> None:
    citizen = timed.whatsapp_citizen()
    for i in range(22):
        await citizen.send(f"halo {i}")
    await settled(timed)
    said = [text_of(m) for m in await citizen.quiet(0.3)]
    assert sum(SLOW_DOWN in t for t in said) == 1 and SLOW_DOWN in said[-1]
    clock.offset += timedelta(minutes=2)
    await citizen.send("menu")
    await settled(timed)
    answered = [text_of(m) for m in await citizen.quiet(0.2)]
    assert answered and not any(SLOW_DOWN in t for t in answered), answered


# --- the daily cap ---------------------------------------------------------------------------------------


async def test_the_sixth_complaint_of_a_day_is_refused_kindly_and_allowed_the_next_day(
    timed: World, clock: Clock
) -> None:
    await timed.agency_group("pupr", ("Budi",))
    citizen = timed.citizen("Siti")
    for i in range(5):
        await draft_to_summary(citizen, category="jalan", description=f"Jalan berlubang nomor {i} di depan gang")
        await send_summary(citizen)
        clock.offset += timedelta(minutes=2)
    await settled(timed)
    await citizen.quiet(0.1)
    refused = await citizen.tap_and_read("menu:new", await citizen.say("/start"))
    assert "sudah mengirim 5 pengaduan" in body(refused) and "besok" in body(refused), body(refused)
    assert not any(p.startswith("cat:") for p in payloads(refused)), "nothing started"

    clock.offset += timedelta(days=1)
    started = await citizen.tap_and_read("menu:new", await citizen.say("/start"))
    assert any(p.startswith("cat:") for p in payloads(started)), body(started)


# --- the same text again -----------------------------------------------------------------------------------


async def test_the_same_text_again_within_a_day_is_offered_as_already_filed(timed: World, clock: Clock) -> None:
    await timed.agency_group("pupr", ("Budi",))
    citizen = timed.citizen("Siti")
    text = "Jalan di depan SD 47 berlubang besar, sudah dua motor jatuh."
    await draft_to_summary(citizen, description=text)
    first = await send_summary(citizen)
    clock.offset += timedelta(minutes=5)
    await draft_to_summary(citizen, description="jalan di depan SD 47 berlubang besar — sudah dua motor jatuh!")
    offer = await citizen.tap_and_read("sum:send")
    assert "sudah dilaporkan" in body(offer) and first in body(offer)
    assert payloads(offer)[:2] == [f"show:{first}", "refile:send"]
    status = await citizen.tap_and_read(f"show:{first}", offer)
    assert first in body(status)
    await citizen.quiet(0.3)
    await outbox_settled(timed)
    confirmation = await citizen.tap_and_read("sum:send")  # asked once: now it is sent
    assert "JMB-" in body(confirmation) and first not in body(confirmation), body(confirmation)

    # "📨 Tetap kirim" on the offer itself sends too
    clock.offset += timedelta(minutes=5)
    await draft_to_summary(citizen, description=text)
    offer = await citizen.tap_and_read("sum:send")
    assert "sudah dilaporkan" in body(offer)
    confirmation = await citizen.tap_and_read("refile:send", offer)
    assert "JMB-" in body(confirmation) and "sudah dilaporkan" not in body(confirmation), body(confirmation)

    clock.offset += timedelta(days=1, minutes=1)  # a day later the same words are a new report
    await draft_to_summary(citizen, description=text)
    filed = await citizen.tap_and_read("sum:send")
    assert "sudah dilaporkan" not in body(filed)


# --- blocking ----------------------------------------------------------------------------------------------


async def test_the_command_centre_blocks_from_the_escalation_card_with_a_reason(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    assert f"blk:ask:{scene.complaint_id}" in payloads(card)

    # a PUPR officer is not in the command centre's group: refused
    outsider = scene.agency[0].user
    answer = await world.server.wait_callback_answer(press_anyway(world, outsider, card, f"blk:ask:{scene.complaint_id}"))
    assert answer.get("show_alert") and "anggota" in answer.get("text", ""), answer

    answer = await scene.centre[0].tap(f"blk:ask:{scene.complaint_id}", card)
    assert "alasan" in answer.get("text", "")
    prompt = await scene.centre[0].next_matching("alasan memblokir")
    assert (prompt.reply_markup or {}).get("force_reply") and prompt.reply_to_message_id == card.message_id
    await outbox_settled(world)
    scene.centre[0].user.send_text("Mengirim pesan kasar berulang kali", chat=scene.centre[0].chat_id,
                                   reply_to=prompt.message_id)
    done = await scene.centre[0].next_matching("diblokir")
    assert "diblokir" in body(done) and scene.number in body(done)
    (entry,) = [e for e in await audit(world, "citizen_blocked") if not e.refused]
    assert (entry.actor_kind, entry.actor_name, entry.note) == ("staff", "Kepala", "Mengirim pesan kasar berulang kali")

    # the citizen: one short notice, then silence
    await scene.citizen.quiet(0.2)
    notice = await scene.citizen.say("halo?")
    assert "Akun Anda dibatasi" in body(notice) and "kasar" not in body(notice)
    sender = f"tg:{scene.citizen.chat_id}"
    before = await stored_updates(world, sender)
    scene.citizen.user.send_text("halo lagi")
    scene.citizen.user.send_text("/start")
    await settled(world, sender, before + 2)
    assert await scene.citizen.quiet(0.3) == []

    # their open complaint still works for the agency
    accept = next(p for p in payloads(current(world, scene.card)) if p.startswith("st:accept:"))
    await scene.agency[0].tap(accept, current(world, scene.card))
    await eventually(lambda: not any(p.startswith("st:accept:") for p in payloads(current(world, scene.card))))


async def test_the_cli_blocks_and_unblocks_by_complaint_number(
    world: World, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    await world.agency_group("pupr", ("Budi",))
    citizen = world.citizen("Siti")
    await draft_to_summary(citizen)
    number = await send_summary(citizen)
    await settled(world)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(world.tmp))
    assert await asyncio.to_thread(cli_main, ["citizen", "block", number, "--reason", "spam"]) == 0
    assert await asyncio.to_thread(cli_main, ["citizen", "block", "JMB-1999-000001"]) == 2
    notice = await citizen.say("halo")
    assert "Akun Anda dibatasi" in body(notice)
    citizen.user.send_text("/dataku")  # their data stays theirs, block or not (PDP)
    mine = await citizen.next_matching("Data Anda di SiKesal")
    assert number in body(mine)
    await outbox_settled(world)
    await citizen.quiet(0.3)
    before = await stored_updates(world, f"tg:{citizen.chat_id}")
    citizen.user.send_text("halo lagi")
    await settled(world, f"tg:{citizen.chat_id}", before + 1)
    assert await citizen.quiet(0.2) == []
    assert [(e.actor_kind, e.actor_name, e.note) for e in await audit(world, "citizen_blocked")] == [
        ("system", "CLI", "spam")
    ]

    assert await asyncio.to_thread(cli_main, ["citizen", "unblock", number.lower()]) == 0
    answer = await citizen.say("/start")
    assert "menu:new" in payloads(answer)
    assert [e.actor_name for e in await audit(world, "citizen_unblocked")] == ["CLI"]
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        row = (await uow.session.execute(select(Citizen))).scalar_one()
        assert row.blocked_at is None and row.blocked_reason is None


async def test_the_command_centre_blocks_from_an_appeal_card(world: World) -> None:
    from tests.e2e.test_followup import filed, staff_button, the_complaint

    centre = await world.agency_group("jcoc", ("Komandan",))
    citizen = world.citizen()
    staff, card = await filed(world, citizen)
    await staff[0].tap(staff_button(card, "st:reject:"), card)
    prompt = await staff[0].next()
    await outbox_settled(world)
    staff[0].user.send_text("Bukan wewenang dinas ini", chat=card.chat_id, reply_to=prompt.message_id)
    notice = await citizen.next_matching("Bukan wewenang")
    cid = (await the_complaint(world)).id
    await citizen.tap_and_read(f"fu:appeal:{cid}", notice)
    kept = await citizen.say("Dinas ini tidak becus, saya akan terus kirim pesan")
    await citizen.tap_and_read(f"fu:send:{cid}", kept)
    appeal = await centre[0].next_matching("Keberatan warga")
    await outbox_settled(world)

    await centre[0].tap(f"blk:ask:{cid}", appeal)
    ask = await centre[0].next_matching("alasan memblokir")
    assert ask.reply_to_message_id == appeal.message_id, "the prompt answers under the appeal card"
    await outbox_settled(world)
    centre[0].user.send_text("Keberatan berulang tanpa dasar", chat=centre[0].chat_id, reply_to=ask.message_id)
    await centre[0].next_matching("diblokir")
    assert [e.note for e in await audit(world, "citizen_blocked") if not e.refused] == ["Keberatan berulang tanpa dasar"]
    await citizen.quiet(0.2)
    assert "Akun Anda dibatasi" in body(await citizen.say("halo"))


# --- WhatsApp ----------------------------------------------------------------------------------------------


async def test_a_blocked_whatsapp_citizen_gets_one_notice_then_silence_and_keeps_their_data_rights(
    wa_world: World,
) -> None:
    from bot.ops.citizens import block_command
    from tests.e2e.test_followup import filed, the_complaint

    citizen = wa_world.whatsapp_citizen()
    staff, card = await filed(wa_world, citizen)
    number = (await the_complaint(wa_world)).number
    assert wa_world.app.runtime is not None
    code, _said = await block_command(wa_world.app.runtime.sessionmaker, number, block=True, reason="spam",
                                      now=datetime.now(UTC))
    assert code == 0
    await citizen.quiet(0.2)
    await citizen.send("halo")
    assert "Akun Anda dibatasi" in text_of(await citizen.next())
    await citizen.send("halo lagi")
    await citizen.send("menu")
    assert await citizen.quiet(0.5) == []
    mine = await citizen.say("data saya")
    assert "Data Anda di SiKesal" in text_of(mine) and number in text_of(mine)
    # the agency still works on the complaint
    accept = next(p for p in payloads(current(wa_world, card)) if p.startswith("st:accept:"))
    await staff[0].tap(accept, current(wa_world, card))
    await eventually(lambda: not any(p.startswith("st:accept:") for p in payloads(current(wa_world, card))))


async def test_the_daily_cap_on_whatsapp_says_how_to_check_the_status(wa_world: World) -> None:
    citizen = wa_world.whatsapp_citizen()
    await citizen.say("menu")
    rt = wa_world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:  # five filed today (the filings themselves: the Telegram test)
        row = (await uow.session.execute(select(Citizen))).scalar_one()
        row.filed_day = rt.clock().astimezone(ZoneInfo(wa_world.config.city.timezone)).date().isoformat()
        row.filed_count = 5
        await uow.commit()
    refused = text_of(await citizen.say("baru"))
    assert "sudah mengirim 5 pengaduan" in refused and "besok" in refused and "/status" not in refused, refused
    assert "ketik" in refused and "status" in refused


async def test_the_command_centre_blocks_from_a_rerouted_card(world: World) -> None:
    """A card whose agency group removed the bot stands in the command centre's group: it can block too."""
    from tests.e2e.test_card_delivery import file_complaint

    pupr = await world.agency_group("pupr")
    jcoc = await world.agency_group("jcoc", staff_names=("Dewi", "Eko"))
    world.server.kick_bot(pupr[0].chat_id)
    citizen = world.citizen()
    await file_complaint(world, citizen)
    rerouted = await jcoc[0].next_matching("JMB-")
    block = next(p for p in payloads(rerouted) if p.startswith("blk:ask:"))
    await outbox_settled(world)
    await jcoc[0].tap(block, rerouted)
    ask = await jcoc[0].next_matching("alasan memblokir")
    assert ask.reply_to_message_id == rerouted.message_id
    cancel = await jcoc[0].next_matching("Tidak jadi memblokir")
    await outbox_settled(world)
    answer = await jcoc[0].tap(f"blk:nx:{block.rsplit(':', 1)[1]}", cancel)
    assert "dibatalkan" in answer.get("text", "")
    await eventually(lambda: not payloads(current(world, cancel)) and "dibatalkan" in body(current(world, cancel)))
    await outbox_settled(world)
    late = await jcoc[0].say("terlambat", reply_to=ask.message_id)
    assert "tidak mengubah apa pun" in body(late)
    assert [e.refused for e in await audit(world, "citizen_blocked")] == [True], "the late reason is refused"
    await citizen.quiet(0.2)
    assert "Akun Anda dibatasi" not in body(await citizen.say("/start")), "not blocked"
