"""WhatsApp speaks WhatsApp: the same filing on both channels, through the real twilio client against the
local Twilio server and the real aiogram client against the local Bot API server.

On WhatsApp the citizen is told to choose from numbered lists, to share a place with 📎 (Android) or
➕ (iPhone) → Lokasi, and to swipe a message to the right to reply; on Telegram the same steps keep
naming the buttons and the "(reply)" gesture Telegram has. Nothing a WhatsApp citizen receives in the
whole scenario names a Telegram control.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.services.drafts import sweep_drafts
from localapi.telegram import make_jpeg
from storage.models import ConversationRow
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, choose, options, payloads, text_of

pytestmark = pytest.mark.e2e

JAMBI = (-1.6101, 103.6131)
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor"
#: words naming a Telegram control (tests/handlers/test_handlers_whatsapp_wording.py checks every text with it)
TELEGRAM_CONTROLS = re.compile(
    r"\b(?:tekan|menekan|tombol|ketuk|klik|press(?:ing)?|tap(?:s|ping)?|buttons?)\b|\(reply\)", re.IGNORECASE
)


async def location_prompt(citizen: Person | WhatsAppPerson) -> Any:
    """halo -> new complaint -> category -> description -> a photo -> done: the bot asks where."""
    await citizen.say("halo")
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Jalan rusak")
    await citizen.say(DESCRIPTION)
    after_photo = await citizen.photo(make_jpeg())
    asked = await choose(citizen, "Selesai") if any("Selesai" in o for o in options(after_photo)) else after_photo
    if "Di mana lokasinya" not in text_of(asked):
        asked = await citizen.next_matching("Di mana lokasinya")
    return asked


async def test_whatsapp_filing_names_whatsapp_gestures_and_telegram_keeps_its_own(
    wa_world: World, channel: str
) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.citizen_on(channel)
    on_whatsapp = isinstance(citizen, WhatsAppPerson)

    asked = await location_prompt(citizen)
    if on_whatsapp:
        assert "📎 (Android) atau ➕ (iPhone) → *Lokasi*" in text_of(asked), text_of(asked)
        assert "Tekan" not in text_of(asked)
    else:
        assert "Tekan tombol “📍 Kirim Lokasi”" in text_of(asked)
        assert "request_location" in str(asked.reply_markup), "Telegram has the button the text names"

    answer = await citizen.location(*JAMBI)
    summary = answer if "Periksa pengaduan" in text_of(answer) else await citizen.next_matching("Periksa pengaduan")
    await outbox_settled(wa_world)  # Telegram: the summary's buttons are put on it right after it is sent
    assert ("Pilih “📨 Kirim”" if on_whatsapp else "Tekan “📨 Kirim”") in text_of(summary)
    if on_whatsapp:
        assert re.search(r"Balas dengan angka 1–\d", text_of(summary)), "the numbered list says how to answer"

    confirmation = text_of(await choose(citizen, "Kirim"))
    assert "JMB-" in confirmation
    assert ("pilih “🔎 Cek Status”" if on_whatsapp else "tekan “🔎 Cek Status”") in confirmation

    # a status notice and a staff message: swipe to reply on WhatsApp, "(reply)" on Telegram
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(wa_world)
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
    notice = text_of(await citizen.next_matching("JMB-"))
    if on_whatsapp:
        assert "Geser pesan ini ke kanan untuk membalas" in notice, notice
    else:
        assert "Balas (reply) pesan ini" in notice, notice
    staff[0].user.send_text("Tim kami menuju lokasi besok pagi", chat=card.chat_id, reply_to=card.message_id)
    relayed = text_of(await citizen.next_matching("Tim kami"))
    assert ("geser pesan ini ke kanan" if on_whatsapp else "balas (reply) pesan ini") in relayed.lower()

    # "my complaints": pick a complaint by its number in the list on WhatsApp, tap it on Telegram
    await outbox_settled(wa_world)
    mine = text_of(await citizen.say("/laporan"))
    assert ("balas dengan angka di depan nomornya" if on_whatsapp else "Tekan nomor pengaduan") in mine, mine

    if isinstance(citizen, WhatsAppPerson):
        assert wa_world.twilio is not None
        everything = [text_of(m) for m in wa_world.twilio.messages_to(citizen.number)]
        named = [line for body in everything for line in body.splitlines() if TELEGRAM_CONTROLS.search(line)]
        assert not named, named


async def until(citizen: WhatsAppPerson, answer: Any, needle: str) -> Any:
    """``answer`` if it says ``needle``, else the next message that does (a first message of the day
    may get the welcome before the answer)."""
    return answer if needle in text_of(answer) else await citizen.next_matching(needle)


async def test_whatsapp_in_english_says_it_in_english(wa_world: World) -> None:
    citizen = wa_world.whatsapp_citizen("John")
    await until(citizen, await citizen.say("/bahasa"), "English")
    await until(citizen, await choose(citizen, "English"), "New Complaint")
    await choose(citizen, "New Complaint")
    await choose(citizen, "Damaged Road")
    await citizen.say("A deep pothole in front of the market, dangerous for motorbikes")
    after_photo = await citizen.photo(make_jpeg())
    asked = await choose(citizen, "Done") if any("Done" in o for o in options(after_photo)) else after_photo
    if "Where is it?" not in text_of(asked):
        asked = await citizen.next_matching("Where is it?")
    assert "📎 (Android) or ➕ (iPhone) → *Location*" in text_of(asked), text_of(asked)
    assert not TELEGRAM_CONTROLS.search(text_of(asked))


async def test_a_whatsapp_draft_reminder_is_a_numbered_choice(wa_world: World) -> None:
    """The idle-draft sweeper's reminder reaches a WhatsApp citizen as a numbered list that a typed "1"
    answers, with nothing to press."""
    runtime = wa_world.app.runtime
    assert runtime is not None
    citizen = wa_world.whatsapp_citizen()
    await citizen.say("halo")
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Jalan rusak")
    await outbox_settled(wa_world)
    async with UnitOfWork(runtime.sessionmaker) as uow:  # the citizen went quiet half an hour ago
        for row in (await uow.session.execute(select(ConversationRow))).scalars():
            row.updated_at = row.updated_at - timedelta(minutes=wa_world.config.drafts.remind_after_minutes + 1)
        await uow.commit()
    assert (await sweep_drafts(runtime)).reminded == 1
    reminder = text_of(await citizen.next_matching("belum terkirim"))
    assert re.search(r"^1\. ▶️ Lanjutkan", reminder, re.MULTILINE) and "Balas 1 atau 2" in reminder, reminder
    assert not TELEGRAM_CONTROLS.search(reminder)
    await outbox_settled(wa_world)
    again = text_of(await citizen.say("1"))
    assert "Ceritakan masalahnya" in again, "the typed 1 continues the draft where it was"
