"""No dead ends, through the real clients (aiogram against the local Telegram server, twilio against the
local Twilio server), on SQLite and PostgreSQL: "🔎 Cek Status" followed by anything but a number ends
in the menu instead of a loop, also a day later; menu words, "gak jadi" and "mau lapor …" are
understood while a question waits; keywords work with arguments and in any case; a first message of
any kind gets the welcome; a long paste that Telegram splits is one description with one message."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from localapi.telegram import make_jpeg
from storage.models import ConversationRow
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, choose, options, text_of
from tests.e2e.test_channels import file_on

pytestmark = pytest.mark.e2e

NUMBER_RE = re.compile(r"JMB-\d{4}-\d{6}")
NOT_A_NUMBER = "tidak menemukan nomor"
SENTENCE = "Jalan di depan pasar berlubang besar dan sering membuat motor jatuh. "


def offers(message: Any, *labels: str) -> bool:
    """Every label is among the message's options (buttons on Telegram, numbered lines on WhatsApp)."""
    shown = " | ".join(options(message))
    return all(label.casefold() in shown.casefold() for label in labels)


async def ask_for_status(citizen: Person | WhatsAppPerson) -> Any:
    await citizen.say("menu")
    return await choose(citizen, "Cek Status")


# --- "🔎 Cek Status" then anything ------------------------------------------------------------------


async def test_cek_status_followed_by_anything_ends_in_the_menu(wa_world: World, channel: str) -> None:
    citizen = wa_world.citizen_on(channel)
    asked = await ask_for_status(citizen)
    assert offers(asked, "Batal", "Menu"), text_of(asked)
    wrong = await citizen.say("halo")
    assert NOT_A_NUMBER in text_of(wrong) and offers(wrong, "Batal", "Menu")
    menu = await citizen.say("saya lupa nomornya")
    assert offers(menu, "Buat Pengaduan", "Cek Status"), text_of(menu)
    after = await citizen.say("apa kabar")
    assert NOT_A_NUMBER not in text_of(after)


async def test_menu_button_under_the_number_question(wa_world: World, channel: str) -> None:
    citizen = wa_world.citizen_on(channel)
    await ask_for_status(citizen)
    menu = await choose(citizen, "Menu")
    assert offers(menu, "Buat Pengaduan")
    assert NOT_A_NUMBER not in text_of(await citizen.say("halo"))


async def test_gak_jadi_and_mau_lapor_are_understood_while_waiting(wa_world: World, channel: str) -> None:
    citizen = wa_world.citizen_on(channel)
    await ask_for_status(citizen)
    cancelled = await citizen.say("gak jadi")
    assert "dibatalkan" in text_of(cancelled) and offers(cancelled, "Buat Pengaduan")
    await choose(citizen, "Cek Status")
    filing = await citizen.say("saya mau melapor jalan rusak di depan pasar, lubangnya besar sekali")
    said = text_of(filing)
    assert "jalan rusak" in said.casefold() and "Deskripsi dicatat" in said and "foto" in said.casefold()


async def test_a_question_left_for_a_day_is_forgotten(wa_world: World, channel: str) -> None:
    citizen = wa_world.citizen_on(channel)
    await ask_for_status(citizen)
    await outbox_settled(wa_world)
    assert wa_world.app.runtime is not None
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # the question was asked yesterday
        rows = (await uow.session.execute(select(ConversationRow).where(ConversationRow.step == "status_number")))
        for row in rows.scalars():
            yesterday = (datetime.now(UTC) - timedelta(days=1)).isoformat()
            row.state = {**row.state, "detour_since": yesterday}
        await uow.commit()
    answer = await citizen.say("halo")
    assert NOT_A_NUMBER not in text_of(answer)
    assert offers(answer, "Buat Pengaduan")


# --- keywords with arguments, any case --------------------------------------------------------------


async def test_status_keywords_with_a_number_in_any_case(wa_world: World, channel: str) -> None:
    await wa_world.agency_group("pupr")
    citizen = wa_world.citizen_on(channel)
    found = NUMBER_RE.search(await file_on(citizen))
    assert found is not None
    number = found.group(0)
    prefix, year, sequence = number.split("-")
    short = f"{prefix.lower()}-{year}-{int(sequence)}"
    for typed in (f"status {number}", f"STATUS {short}", f"cek {short}", f"/status {prefix.lower()} {year} {int(sequence)}"):
        await outbox_settled(wa_world)
        view = await citizen.say(typed)
        assert number in text_of(view), (typed, text_of(view))


# --- a first message of any kind --------------------------------------------------------------------


@pytest.mark.parametrize("first", ["P", "halo", "selamat pagi"])
async def test_a_first_message_gets_the_welcome(wa_world: World, channel: str, first: str) -> None:
    citizen = wa_world.citizen_on(channel)
    welcome = await citizen.say(first)
    assert "Selamat datang" in text_of(welcome)
    assert offers(welcome, "Buat Pengaduan", "English")
    second = await citizen.say("halo")
    assert "Selamat datang" not in text_of(second)


async def test_a_first_sticker_gets_the_welcome(world: World) -> None:
    citizen = world.citizen()
    citizen.user.send_sticker()
    welcome = await citizen.next()
    assert "Selamat datang" in text_of(welcome) and offers(welcome, "Buat Pengaduan", "English")


async def test_a_first_photo_starts_a_draft_and_welcomes(wa_world: World, channel: str) -> None:
    citizen = wa_world.citizen_on(channel)
    welcome = await citizen.photo(make_jpeg())
    assert "Selamat datang" in text_of(welcome) and offers(welcome, "English")
    categories = await citizen.next()
    assert offers(categories, "Jalan Rusak", "Sampah")


# --- a long paste on Telegram ----------------------------------------------------------------------


async def test_a_split_paste_is_one_description_with_one_message(world: World) -> None:
    citizen = world.citizen()
    await citizen.say("halo")
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Jalan Rusak")
    parts = citizen.user.send_text_parts(SENTENCE * 100)  # ~6900 characters: the app sends two messages
    assert len(parts) == 2
    offer = await citizen.next()
    assert "1000" in text_of(offer) and offers(offer, "bagian awal", "lebih singkat")
    await outbox_settled(world)
    assert await citizen.quiet(1.0) == [], "the second part is added silently"
    kept = await choose(citizen, "bagian awal")
    assert "Deskripsi dicatat" in text_of(kept) and "foto" in text_of(kept).casefold()


async def test_a_description_over_the_limit_gets_one_offer_on_both_channels(wa_world: World, channel: str) -> None:
    citizen = wa_world.citizen_on(channel)
    await citizen.say("halo")
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Sampah")
    offer = await citizen.say(SENTENCE * 20)  # ~1400 characters, over the 1000 allowed
    assert "1000" in text_of(offer) and offers(offer, "bagian awal", "lebih singkat")
    shorter = await choose(citizen, "lebih singkat")
    assert "Ceritakan masalahnya" in text_of(shorter)
    await citizen.say(SENTENCE * 20)
    kept = await choose(citizen, "bagian awal")
    assert "Deskripsi dicatat" in text_of(kept)
