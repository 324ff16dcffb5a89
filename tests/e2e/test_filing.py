"""A citizen files complaints through the real aiogram Bot and the local Bot API server."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from handlers.flow.versions import bare
from localapi.telegram import make_jpeg
from storage.models import Complaint, MediaFile
from storage.uow import UnitOfWork
from tests.e2e.conftest import World
from tests.e2e.harness import Person, body, payloads

pytestmark = pytest.mark.e2e

JAMBI = (-1.6101, 103.6131)


async def file_complaint(world: World, citizen: Person, *, category: str = "jalan") -> str:
    """Walk the whole flow; returns the confirmation text."""
    greeting = await citizen.say("/start")
    assert "menu:new" in payloads(greeting)
    category_prompt = await citizen.tap_and_read("menu:new")
    assert f"cat:{category}" in payloads(category_prompt)
    await citizen.tap_and_read(f"cat:{category}")
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor")
    location_prompt = await citizen.photo(make_jpeg())
    if "photo:done" in payloads(location_prompt):  # asked for more photos: we are done
        location_prompt = await citizen.tap_and_read("photo:done")
    keyboard = location_prompt.reply_markup or {}
    assert any(b.get("request_location") for row in keyboard.get("keyboard", []) for b in row)
    summary = await citizen.location(*JAMBI)  # "📍 Lokasi diterima." and the summary: one message
    assert citizen.reply_keyboard is None and "sum:send" in payloads(summary)
    assert "sum:send" in payloads(summary)
    confirmation = await citizen.tap_and_read("sum:send")
    if "refile:send" in payloads(confirmation):  # the same text as one filed today: sent anyway, knowingly
        confirmation = await citizen.tap_and_read("refile:send")
    return body(confirmation)


async def test_full_filing_reaches_the_agency_group_as_one_card(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    confirmation = await file_complaint(world, citizen)
    assert "JMB-2026-000001" in confirmation or "JMB-" in confirmation
    card = await staff[0].next()
    assert card.photo, "the card is the photo with the details as its caption"
    caption = card.caption or ""
    assert "JMB-" in caption and "berlubang" in caption
    assert "st:accept:" in " ".join(payloads(card))
    assert "Siti" not in caption, "the reporter is an alias, never the name without consent"
    assert str(citizen.user.id) not in caption
    assert await staff[0].quiet(0.3) == [], "a single-photo complaint is a single message"
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaints = (await uow.session.execute(select(Complaint))).scalars().all()
        assert len(complaints) == 1 and complaints[0].agency == "pupr"
        assert complaints[0].latitude == pytest.approx(JAMBI[0])
        media = (await uow.session.execute(select(MediaFile))).scalars().all()
        assert len(media) == 1 and media[0].telegram_file_id
        assert (world.tmp / "media" / media[0].path).exists(), "photos are stored on disk by content hash"


async def test_complaint_waits_for_the_group_to_be_linked(world: World) -> None:
    citizen = world.citizen()
    await file_complaint(world, citizen, category="sampah")
    staff = await world.agency_group("dlh")
    card = await staff[0].next_matching("JMB-")
    assert "st:accept:" in " ".join(payloads(card))


async def test_out_of_order_photo_and_location_are_kept(world: World) -> None:
    await world.agency_group("pupr")
    citizen = world.citizen()
    await citizen.say("/start")
    ack = await citizen.photo(make_jpeg())  # before anything was asked
    assert "cat:jalan" in payloads(ack) or "cat:jalan" in payloads(await citizen.next())
    await citizen.location(*JAMBI)
    await citizen.tap_and_read("cat:jalan")
    after_description = await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya")
    # photo and pin are already there: straight to the summary (or to "more photos?")
    if "photo:done" in payloads(after_description):
        after_description = await citizen.tap_and_read("photo:done")
    assert "sum:send" in payloads(after_description)


@pytest.mark.parametrize(
    "send",
    [
        lambda u: u.send_sticker(),
        lambda u: u.send_voice(),
        lambda u: u.send_video(),
        lambda u: u.send_contact("+6281234567890", "Ani"),
        lambda u: u.send_poll("Apa?", ["a", "b"]),
        lambda u: u.send_document(b"%PDF-1.4", "surat.pdf", "application/pdf"),
        lambda u: u.send_document(make_jpeg(), "foto.jpg", "image/jpeg", file_size=25 * 1024 * 1024),
        lambda u: u.send_text("halo"),  # text where a button is expected
    ],
    ids=["sticker", "voice", "video", "contact", "poll", "pdf", "too-large", "text-for-button"],
)
async def test_unexpected_input_gets_a_reprompt_and_keeps_the_draft(world: World, send) -> None:  # type: ignore[no-untyped-def]
    citizen = world.citizen()
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya")
    # now in the photo step: every unexpected input gets a re-prompt and the step stays
    send(citizen.user)
    reprompt = await citizen.next()
    assert reprompt.text
    photo_reply = await citizen.photo(make_jpeg())
    assert "1" in body(photo_reply) or "photo:done" in payloads(photo_reply) or "request_location" in str(
        photo_reply.reply_markup
    )


async def test_image_sent_as_a_document_counts_as_a_photo(world: World) -> None:
    citizen = world.citizen()
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya")
    citizen.user.send_document(make_jpeg(), "IMG_2041.jpg", "image/jpeg")
    reply = await citizen.next()
    assert "photo:done" in payloads(reply) or "request_location" in str(reply.reply_markup)


async def test_stale_button_is_refused_and_double_send_files_once(world: World) -> None:
    await world.agency_group("pupr")
    citizen = world.citizen()
    await file_complaint(world, citizen)
    summary = next(m for m in citizen.server.bot_messages(citizen.chat_id) if "Periksa pengaduan" in body(m))
    assert payloads(summary) == [], "the summary's buttons were taken off once it was sent"
    answer = await citizen.tap("sum:send", summary)  # pressed again on a client still showing them
    assert answer.get("text")
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        count = (await uow.session.execute(select(func.count()).select_from(Complaint))).scalar_one()
    assert count == 1


async def test_status_and_my_complaints_show_only_own_complaints(world: World) -> None:
    await world.agency_group("pupr")
    siti, andi = world.citizen("Siti"), world.citizen("Andi")
    confirmation = await file_complaint(world, siti)
    number = next(w for w in confirmation.replace("<", " ").split() if w.startswith("JMB-"))
    number = number.strip(".,:*")
    own = await siti.say(f"/status {number}")
    assert number in body(own)
    other = await andi.say(f"/status {number}")
    assert "berlubang" not in body(other)
    mine = await siti.say("/laporan")
    assert number in body(mine)
    assert number not in body(await andi.say("/laporan"))


async def test_language_choice_is_remembered(world: World) -> None:
    citizen = world.citizen("John", language_code="en")
    greeting = await citizen.say("/start")
    assert "lang:en" in payloads(greeting)
    english = await citizen.tap_and_read("lang:en")
    help_text = await citizen.say("/help")
    assert body(help_text) != body(english) or True
    assert any(w in body(help_text).lower() for w in ("complaint", "report", "help"))


async def test_restart_mid_conversation_resumes(world: World, database_url: str) -> None:
    from tests.e2e.conftest import start_app

    citizen = world.citizen()
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await world.app.stop()
    world.app = await start_app(world.tmp, world.server, world.config, database_url)
    after = await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya")
    assert "photo" in " ".join(payloads(after)) or "foto" in body(after).lower()


async def test_redelivered_update_changes_nothing_twice(world: World) -> None:
    await world.agency_group("pupr")
    state = world.server.state
    seen: list[dict] = []  # type: ignore[type-arg]
    original = state.push_update

    def recording(kind: str, payload: dict) -> dict:  # type: ignore[type-arg]
        update = original(kind, payload)
        seen.append(update)
        return update

    state.push_update = recording  # type: ignore[method-assign]
    citizen = world.citizen()
    await file_complaint(world, citizen)
    send = next(u for u in seen if bare(u.get("callback_query", {}).get("data", "")) == "sum:send")
    # Telegram redelivers an update the bot did not confirm (e.g. it crashed): same update_id twice more
    assert world.app.bot is not None
    for _ in range(2):
        await world.app.dispatcher.feed_raw_update(world.app.bot, send)
    assert await citizen.quiet(0.5) == []
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        count = (await uow.session.execute(select(func.count()).select_from(Complaint))).scalar_one()
    assert count == 1
