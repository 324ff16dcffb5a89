"""More of the citizen's conversation, end to end: commands in the middle of a draft, editing from the
summary, typed addresses, optional photos, albums, double taps, idle drafts and languages."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.config import AppConfig
from bot.services.drafts import sweep_drafts
from localapi.telegram import TelegramServer, make_jpeg
from localapi.telegram.state import StoredMessage
from storage.models import Complaint, ConversationRow
from storage.uow import UnitOfWork
from tests.clocks import ShiftedClock as Clock
from tests.e2e.conftest import World, current, outbox_settled, start_app
from tests.e2e.harness import Person, body, eventually, payloads, real_payload

pytestmark = pytest.mark.e2e

JAMBI = (-1.6101, 103.6131)
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor"
NUMBER_RE = re.compile(r"[A-Z]{2,6}-\d{4}-\d{6}")


# --- helpers (also used by the other test_more_* files) -------------------------------------------


async def start_draft(citizen: Person, category: str = "jalan") -> StoredMessage:
    """/start -> new complaint -> category; returns the description prompt."""
    greeting = await citizen.say("/start")
    assert "menu:new" in payloads(greeting)
    await citizen.tap_and_read("menu:new")
    return await citizen.tap_and_read(f"cat:{category}")


async def send_location(citizen: Person, lat: float = JAMBI[0], lon: float = JAMBI[1]) -> StoredMessage:
    """Share a pin in the location step; returns the summary, which is also the "📍 Lokasi diterima."
    message and takes the location keyboard away."""
    summary = await citizen.location(lat, lon)
    assert citizen.reply_keyboard is None, "the location keyboard goes away"
    assert body(summary).startswith("📍 ") and "sum:send" in payloads(summary)  # "📍 Lokasi diterima."
    return summary


async def draft_to_summary(
    citizen: Person, *, category: str = "jalan", description: str = DESCRIPTION, photos: int = 1
) -> StoredMessage:
    """Fill a whole draft with ``photos`` photos (0: skip) and a pin; returns the summary."""
    await start_draft(citizen, category)
    after_description = await citizen.say(description)
    if photos == 0:
        location_prompt = await citizen.tap_and_read("photo:skip", after_description)
    else:
        reply = after_description
        for i in range(photos):
            reply = await citizen.photo(make_jpeg(gray=60 + 40 * i))
        location_prompt = reply if "photo:done" not in payloads(reply) else await citizen.tap_and_read("photo:done")
    assert "request_location" in str(location_prompt.reply_markup)
    return await send_location(citizen)


async def send_summary(citizen: Person) -> str:
    """Press send on the summary; returns the tracking number from the confirmation."""
    confirmation = await citizen.tap_and_read("sum:send")
    match = NUMBER_RE.search(body(confirmation))
    assert match, body(confirmation)
    return match.group(0)


@dataclass(frozen=True)
class Filed:
    """A complaint as stored (plain values: ORM rows expire when the unit of work closes)."""

    number: str
    citizen_id: int
    agency: str
    status: str
    description: str
    address: str | None
    latitude: float | None
    photos: int


async def complaint_rows(world: World) -> list[Filed]:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        rows = (await uow.session.execute(select(Complaint).order_by(Complaint.id))).scalars().all()
        return [
            Filed(c.number, c.citizen_id, c.agency, c.status, c.description, c.address, c.latitude, len(c.photos))
            for c in rows
        ]


async def conversation_step(world: World, citizen: Person) -> str:
    from storage.models import Citizen

    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        row = (
            await uow.session.execute(
                select(ConversationRow)
                .join(Citizen, Citizen.id == ConversationRow.citizen_id)
                .where(Citizen.channel_user_id == str(citizen.user.id))
            )
        ).scalar_one()
        return row.step



# --- commands in the middle of a draft ------------------------------------------------------------


async def test_unknown_command_gets_a_friendly_answer_and_keeps_the_draft(world: World) -> None:
    await world.agency_group("pupr")
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)  # now in the photo step
    answer = await citizen.say("/foo")
    assert "/foo" in body(answer) and "tidak kami kenal" in body(answer)
    assert "/help" in body(answer) or "/baru" in body(answer), "the known commands are listed"
    assert "foto" in body(answer).lower(), "and the photo question is asked again"
    location_prompt = await citizen.photo(make_jpeg())
    location_prompt = await citizen.tap_and_read("photo:done", location_prompt)
    summary = await send_location(citizen)
    assert "berlubang" in body(summary), "the description typed before /foo is still there"
    await send_summary(citizen)
    assert len(await complaint_rows(world)) == 1


async def test_help_and_status_mid_draft_keep_the_draft(world: World) -> None:
    await world.agency_group("pupr")
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)
    await citizen.photo(make_jpeg())
    location_prompt = await citizen.tap_and_read("photo:done")
    assert "request_location" in str(location_prompt.reply_markup)

    help_text = await citizen.say("/help")
    assert "/status" in body(help_text) and "lokasi" in body(help_text).lower(), "help, then the location question"

    not_found = await citizen.say("/status JMB-2026-000999")
    assert "JMB-2026-000999" in body(not_found)
    back = await citizen.next()
    assert "Kembali ke pengaduan" in body(back) and "lokasi" in body(back).lower()

    ask_number = await citizen.say("/status")
    assert "nomor" in body(ask_number).lower()
    cancelled = await citizen.say("/cancel")  # only cancels the status check
    assert "cek status dibatalkan" in body(cancelled).lower()

    summary = await send_location(citizen)
    assert "berlubang" in body(summary) and "Foto: 1" in body(summary)
    number = await send_summary(citizen)
    complaints = await complaint_rows(world)
    assert [c.number for c in complaints] == [number]
    assert complaints[0].description == DESCRIPTION and complaints[0].photos == 1


async def test_cancel_discards_the_draft(world: World) -> None:
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)
    cancelled = await citizen.say("/cancel")
    assert "dibatalkan" in body(cancelled) and "menu:new" in payloads(cancelled)
    assert await conversation_step(world, citizen) == "idle"
    greeting = await citizen.say("/start")
    assert "draft:continue" not in payloads(greeting), "nothing left to continue"
    await citizen.tap_and_read("menu:new")
    description_prompt = await citizen.tap_and_read("cat:jalan")
    assert "berlubang" not in body(description_prompt)
    nothing = await citizen.say("/cancel")
    assert "tidak ada yang perlu dibatalkan" in body(nothing).lower() or "dibatalkan" in body(nothing)
    assert await complaint_rows(world) == []


async def test_editing_the_description_from_the_summary(world: World) -> None:
    await world.agency_group("pupr")
    citizen = world.citizen()
    summary = await draft_to_summary(citizen)
    assert "berlubang" in body(summary)
    edit_menu = await citizen.tap_and_read("sum:edit", summary)
    assert "edit:description" in payloads(edit_menu)
    prompt = await citizen.tap_and_read("edit:description", edit_menu)
    assert "jelaskan" in body(prompt).lower() or "karakter" in body(prompt).lower()
    new_summary = await citizen.say("Gorong-gorong tersumbat sampah sejak minggu lalu, air meluap ke jalan")
    assert "sum:send" in payloads(new_summary), "straight back to the summary"
    assert "Gorong-gorong tersumbat" in body(new_summary)
    assert "berlubang" not in body(new_summary)
    assert "Foto: 1" in body(new_summary), "the other fields are unchanged"
    await send_summary(citizen)
    (complaint,) = await complaint_rows(world)
    assert complaint.description.startswith("Gorong-gorong tersumbat")
    assert complaint.latitude == pytest.approx(JAMBI[0])


async def test_typed_address_ends_up_on_the_agency_card(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)
    await citizen.photo(make_jpeg())
    await citizen.tap_and_read("photo:done")
    address = "Jl. Sultan Agung depan Masjid Al-Ikhlas, Kel. Thehok"
    summary = await citizen.say(address)  # the acknowledgement and the summary: one message
    assert citizen.reply_keyboard is None
    assert address in body(summary)
    await send_summary(citizen)
    card = await staff[0].next_matching("JMB-")
    assert address in body(card)
    assert "openstreetmap" not in (card.caption_html or card.html or ""), "no map link without a pin"
    (complaint,) = await complaint_rows(world)
    assert complaint.address == address and complaint.latitude is None


async def test_category_without_required_photo_can_skip_it(world: World) -> None:
    staff = await world.agency_group("jcoc")
    citizen = world.citizen()
    await start_draft(citizen, "layanan")
    photo_prompt = await citizen.say("Antrean pelayanan KTP di kecamatan sangat lama, loket hanya satu")
    assert "photo:skip" in payloads(photo_prompt)
    location_prompt = await citizen.tap_and_read("photo:skip", photo_prompt)
    assert "request_location" in str(location_prompt.reply_markup)
    summary = await send_location(citizen)
    assert "Foto: tidak ada" in body(summary)
    await send_summary(citizen)
    card = await staff[0].next_matching("JMB-")
    assert card.photo is None and card.text, "without photos the card is a text message"
    assert "Antrean pelayanan KTP" in body(card)
    assert any(p.startswith("st:accept:") for p in payloads(card))
    (complaint,) = await complaint_rows(world)
    assert complaint.agency == "jcoc" and complaint.photos == 0


async def test_required_photo_cannot_be_skipped(world: World) -> None:
    citizen = world.citizen()
    await start_draft(citizen, "jalan")
    photo_prompt = await citizen.say(DESCRIPTION)
    assert "photo:skip" not in payloads(photo_prompt)
    again = await citizen.say("lewati")  # typed "skip"
    assert "foto" in body(again).lower()
    assert await conversation_step(world, citizen) == "photos"


async def test_several_photos_become_an_album_and_a_card_edited_in_place(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    summary = await draft_to_summary(citizen, photos=2)
    assert "Foto: 2" in body(summary)
    await send_summary(citizen)
    card = await staff[0].next_matching("JMB-")
    album = [m for m in world.server.bot_messages(card.chat_id) if m.media_group_id]
    assert len(album) == 2 and all(m.photo for m in album)
    assert len({m.media_group_id for m in album}) == 1
    assert card.message_id > max(m.message_id for m in album), "the card follows the album"
    assert card.reply_to_message_id == album[0].message_id, "and replies to it"
    accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
    await outbox_settled(world)
    answer = await staff[0].tap(accept, card)
    assert not answer.get("show_alert"), answer
    edited = await eventually(lambda: "diterima" in body(current(world, card)).lower() and current(world, card))
    assert edited.edited
    assert not any(p.startswith("st:accept:") for p in payloads(edited))
    with_number = [m for m in world.server.bot_messages(card.chat_id) if "JMB-" in body(m)]
    assert [m.message_id for m in with_number] == [card.message_id], "edited, not reposted"
    notice = await citizen.next()
    assert "diterima" in body(notice).lower()


async def test_three_photos_move_on_by_themselves(world: World) -> None:
    await world.agency_group("pupr")
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)
    await citizen.photo(make_jpeg(gray=10))
    await citizen.photo(make_jpeg(gray=20))
    third = await citizen.photo(make_jpeg(gray=30))
    assert "3" in body(third) and "request_location" in str(third.reply_markup)
    summary = await send_location(citizen)
    assert "Foto: 3" in body(summary)
    await send_summary(citizen)
    (complaint,) = await complaint_rows(world)
    assert complaint.photos == 3


async def test_double_tap_on_send_files_once(world: World) -> None:
    await world.agency_group("pupr")
    citizen = world.citizen()
    summary = await draft_to_summary(citizen)
    # two taps before the bot answered either (a nervous thumb, a slow network)
    send = real_payload(summary, "sum:send")
    first = citizen.user.press_button(summary.message_id, send)
    second = citizen.user.press_button(summary.message_id, send, stale_ok=True)
    answers = [await world.server.wait_callback_answer(q, timeout=10) for q in (first, second)]
    await outbox_settled(world)
    said = await citizen.quiet(0.3)
    confirmations = [m for m in said if NUMBER_RE.search(body(m))]
    assert len(confirmations) == 1, [body(m) for m in said]
    assert len(await complaint_rows(world)) == 1
    assert sum(1 for a in answers if a.get("text")) == 1, "the late tap gets a 'no longer active' toast"


# --- idle drafts ----------------------------------------------------------------------------------


@pytest_asyncio.fixture
async def clocked(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[World, Clock]]:
    clock = Clock()
    app = await start_app(tmp_path, server, config, database_url, clock=clock)
    try:
        yield World(server=server, app=app, config=config, tmp=tmp_path), clock
    finally:
        await app.stop()


async def test_idle_draft_gets_one_reminder_then_is_discarded(clocked: tuple[World, Clock]) -> None:
    world, clock = clocked
    runtime = world.app.runtime
    assert runtime is not None
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)
    remind = world.config.drafts.remind_after_minutes
    discard = world.config.drafts.discard_after_minutes

    clock.offset = timedelta(minutes=remind - 1)
    assert (await sweep_drafts(runtime)).reminded == 0, "not idle long enough yet"

    clock.offset = timedelta(minutes=remind + 1)
    assert (await sweep_drafts(runtime)).reminded == 1
    reminder = await citizen.next()
    assert "belum terkirim" in body(reminder)
    assert {"draft:continue", "draft:cancel"} <= set(payloads(reminder))
    assert (await sweep_drafts(runtime)).reminded == 0, "one reminder only"
    assert await citizen.quiet(0.2) == []

    clock.offset = timedelta(minutes=discard + 2)
    result = await sweep_drafts(runtime)
    assert result.discarded == 1 and result.reminded == 0
    discarded = await citizen.next()
    assert "kami hapus" in body(discarded) and "menu:new" in payloads(discarded)
    assert await conversation_step(world, citizen) == "idle"
    assert (await sweep_drafts(runtime)).discarded == 0

    await outbox_settled(world)
    answer = await citizen.tap("draft:continue", reminder)  # the reminder's button, after the discard
    assert answer.get("text"), "a stale button gets a toast"
    menu = await citizen.next()
    assert "menu:new" in payloads(menu)
    greeting = await citizen.say("/start")
    assert "draft:continue" not in payloads(greeting)
    assert await complaint_rows(world) == []


async def test_continuing_after_a_reminder_keeps_the_draft(clocked: tuple[World, Clock]) -> None:
    world, clock = clocked
    runtime = world.app.runtime
    assert runtime is not None
    await world.agency_group("pupr")
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)
    clock.offset = timedelta(minutes=world.config.drafts.remind_after_minutes + 1)
    await sweep_drafts(runtime)
    reminder = await citizen.next()
    await outbox_settled(world)
    photo_prompt = await citizen.tap_and_read("draft:continue", reminder)
    assert "foto" in body(photo_prompt).lower()
    # acting on the draft starts a new idle period: the discard time counts from now
    clock.offset = timedelta(minutes=world.config.drafts.remind_after_minutes + 5)
    assert (await sweep_drafts(runtime)).discarded == 0
    await citizen.photo(make_jpeg())
    await citizen.tap_and_read("photo:done")
    await send_location(citizen)
    await send_summary(citizen)
    assert len(await complaint_rows(world)) == 1


# --- languages ------------------------------------------------------------------------------------


async def test_english_telegram_still_gets_indonesian_first_with_the_language_buttons(world: World) -> None:
    citizen = world.citizen("John", language_code="en")
    greeting = await citizen.say("/start")
    text = body(greeting)
    assert "Halo, John" in text and "Selamat datang" in text
    assert "Prefer English?" in text, "an English hint for an English client"
    assert {"lang:id", "lang:en"} <= set(payloads(greeting))
    help_text = await citizen.say("/help")
    assert "Perintah" in body(help_text) or "pengaduan" in body(help_text).lower(), "still Indonesian until chosen"


async def test_switching_to_english_mid_draft_and_later_notifications(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen("John", language_code="en")
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)  # photo step, in Indonesian
    await citizen.say("/bahasa")  # the greeting's buttons were used up by "Buat Pengaduan"
    switched = await citizen.tap_and_read("lang:en")
    assert "continue in English" in body(switched)
    assert "photo" in body(switched).lower() and "foto" not in body(switched).lower(), "re-asked in English"
    await citizen.photo(make_jpeg())
    location_prompt = await citizen.tap_and_read("photo:done")
    assert "Where is it?" in body(location_prompt)
    summary = await send_location(citizen)
    assert "Check your complaint" in body(summary)
    number = await send_summary(citizen)

    card = await staff[0].next_matching(number)
    assert "Jalan rusak" in body(card), "staff cards stay in Indonesian"
    await outbox_settled(world)
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
    notice = await citizen.next()
    assert number in body(notice) and "has been accepted" in body(notice)

    staff[0].user.send_text("Tim kami akan datang besok pagi", chat=card.chat_id, reply_to=card.message_id)
    relayed = await citizen.next()
    assert "Tim kami akan datang besok pagi" in body(relayed)
    assert "Reply to this message" in body(relayed) or "reply" in body(relayed).lower()

    # the choice is remembered: a later /start greets in English
    await outbox_settled(world)
    greeting = await citizen.say("/start")
    assert "Hello, John" in body(greeting) and "Prefer English?" not in body(greeting)


async def test_double_tap_while_the_first_is_processed_does_not_cross_chats(world: World) -> None:
    """Two citizens sending at the same moment each get their own single complaint (two different
    problems at the same spot: the same category would be offered as "the same problem?")."""
    await world.agency_group("pupr")
    siti, andi = world.citizen("Siti"), world.citizen("Andi")
    summaries = [await draft_to_summary(siti), await draft_to_summary(andi, category="drainase")]
    queries = [
        p.user.press_button(s.message_id, real_payload(s, "sum:send")) for p, s in zip((siti, andi), summaries, strict=True)
    ]
    await asyncio.gather(*(world.server.wait_callback_answer(q, timeout=10) for q in queries))
    numbers = {NUMBER_RE.search(body(await p.next())).group(0) for p in (siti, andi)}  # type: ignore[union-attr]
    assert len(numbers) == 2
    complaints = await complaint_rows(world)
    assert len(complaints) == 2 and len({c.citizen_id for c in complaints}) == 2
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        count = (await uow.session.execute(select(func.count()).select_from(Complaint))).scalar_one()
    assert count == 2


async def test_draft_left_in_a_status_check_detour_is_still_reminded_and_discarded(
    clocked: tuple[World, Clock],
) -> None:
    """Mid-draft the citizen taps "check status", is asked for a number and walks away."""
    world, clock = clocked
    runtime = world.app.runtime
    assert runtime is not None
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say(DESCRIPTION)
    ask = await citizen.say("/status")  # the greeting's menu was used up by "Buat Pengaduan"
    assert "nomor" in body(ask).lower()
    assert await conversation_step(world, citizen) == "status_number"

    clock.offset = timedelta(minutes=world.config.drafts.remind_after_minutes + 1)
    assert (await sweep_drafts(runtime)).reminded == 1
    reminder = await citizen.next()
    assert "belum terkirim" in body(reminder) and "draft:continue" in payloads(reminder)

    clock.offset = timedelta(minutes=world.config.drafts.discard_after_minutes + 2)
    assert (await sweep_drafts(runtime)).discarded == 1
    discarded = await citizen.next()
    assert "kami hapus" in body(discarded)
    assert await conversation_step(world, citizen) == "idle"


async def test_a_status_check_without_a_draft_is_not_reminded(clocked: tuple[World, Clock]) -> None:
    world, clock = clocked
    runtime = world.app.runtime
    assert runtime is not None
    citizen = world.citizen()
    greeting = await citizen.say("/start")
    await citizen.tap_and_read("menu:status", greeting)
    clock.offset = timedelta(minutes=world.config.drafts.remind_after_minutes + 1)
    assert (await sweep_drafts(runtime)).reminded == 0
    clock.offset = timedelta(minutes=world.config.drafts.discard_after_minutes + 2)
    assert (await sweep_drafts(runtime)).discarded == 0
    assert await citizen.quiet(0.3) == [], "nothing to remind about, nothing to discard"
    assert await conversation_step(world, citizen) == "idle", "the stale question is dropped silently"


async def test_editing_photos_and_location_from_the_summary(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    summary = await draft_to_summary(citizen, photos=2)
    assert "Foto: 2" in body(summary)

    # "edit photos" then "done" without a new one keeps the old photos
    await citizen.tap_and_read("sum:edit", summary)
    replace_prompt = await citizen.tap_and_read("edit:photos")
    assert "photo:done" in payloads(replace_prompt)
    kept = await citizen.tap_and_read("photo:done", replace_prompt)
    assert "sum:send" in payloads(kept) and "Foto: 2" in body(kept)

    # "edit photos" with one new photo replaces both
    await citizen.tap_and_read("sum:edit", kept)
    await citizen.tap_and_read("edit:photos")
    one = await citizen.photo(make_jpeg(gray=200))
    replaced = await citizen.tap_and_read("photo:done", one)
    assert "sum:send" in payloads(replaced) and "Foto: 1" in body(replaced)

    # "edit location" with a typed address replaces the pin
    await citizen.tap_and_read("sum:edit", replaced)
    location_prompt = await citizen.tap_and_read("edit:location")
    assert "request_location" in str(location_prompt.reply_markup)
    final = await citizen.say("Jl. Hayam Wuruk dekat Tugu Keris Siginjai")
    assert citizen.reply_keyboard is None
    assert "Tugu Keris" in body(final) and "-1.61010" not in body(final), "the typed address replaced the pin"
    number = await send_summary(citizen)
    card = await staff[0].next_matching(number)
    assert card.photo and "Tugu Keris" in body(card)
    assert not card.media_group_id, "one photo: a single photo card, no album"
    (complaint,) = await complaint_rows(world)
    assert complaint.photos == 1 and complaint.latitude is None


async def test_sum_edit_back_returns_to_the_same_summary(world: World) -> None:
    citizen = world.citizen()
    summary = await draft_to_summary(citizen)
    edit_menu = await citizen.tap_and_read("sum:edit", summary)
    back = await citizen.tap_and_read("edit:back", edit_menu)
    assert body(summary).endswith(body(back))  # the same summary (without "📍 Lokasi diterima.")
    stale = await citizen.tap("edit:description", edit_menu)  # the old edit menu, after going back
    assert stale.get("text")
    again = await citizen.next()
    assert "sum:send" in payloads(again), "a stale button re-shows what is expected now"
