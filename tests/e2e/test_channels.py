"""The same citizen scenarios on Telegram and on WhatsApp (through the local Twilio server and the real
twilio client): one conversation core, two channels. Staff always work in their Telegram group."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from localapi.telegram import make_jpeg
from storage.models import Complaint, MediaFile
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, body, choose, eventually, options, payloads, text_of

pytestmark = pytest.mark.e2e

JAMBI = (-1.6101, 103.6131)
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor"



async def photo_of(citizen: Person | WhatsAppPerson) -> Any:
    return await citizen.photo(make_jpeg())


async def to_location_step(
    citizen: Person | WhatsAppPerson, *, category: str = "Jalan rusak", description: str = DESCRIPTION
) -> None:
    """halo -> new complaint -> category -> description -> one photo (-> done): the bot now asks where."""
    greeting = await citizen.say("halo")
    assert any("Buat Pengaduan" in o for o in options(greeting)), text_of(greeting)
    category_prompt = await choose(citizen, "Buat Pengaduan")
    assert any(category in o for o in options(category_prompt))
    await choose(citizen, category)
    await citizen.say(description)
    after_photo = await photo_of(citizen)
    if any("Selesai" in o for o in options(after_photo)):  # asked for more photos: we are done
        await choose(citizen, "Selesai")


async def summary_from(citizen: Person | WhatsAppPerson, answer: Any) -> Any:
    """The summary: the answer to a location itself, or the message after its short acknowledgement."""
    return answer if any("Kirim" in o for o in options(answer)) else await citizen.next()


async def file_on(citizen: Person | WhatsAppPerson, *, category: str = "Jalan rusak") -> str:
    """Walk the whole flow the way a citizen does on their channel; returns the confirmation text."""
    await to_location_step(citizen, category=category)
    summary = await summary_from(citizen, await citizen.location(*JAMBI))
    assert DESCRIPTION in text_of(summary)
    confirmation = await choose(citizen, "Kirim")
    if "sudah dilaporkan" in text_of(confirmation):  # the same text as one filed today: sent anyway, knowingly
        confirmation = await choose(citizen, "Tetap kirim")
    return text_of(confirmation)


async def test_filing_with_photo_and_pin_reaches_the_group(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.citizen_on(channel)
    confirmation = await file_on(citizen)
    assert "JMB-" in confirmation
    card = await staff[0].next_matching("JMB-")
    assert card.photo, "the citizen's photo reaches the group as a photo on the card"
    caption = body(card)
    assert "berlubang" in caption and "st:accept:" in " ".join(payloads(card))
    assert "Siti" not in caption, "no name without consent"
    if isinstance(citizen, WhatsAppPerson):
        assert citizen.number not in caption and citizen.number.lstrip("+") not in caption, "never the phone number"
        assert "WhatsApp" in caption
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaint = (await uow.session.execute(select(Complaint))).scalars().one()
        assert complaint.latitude == pytest.approx(JAMBI[0]) and complaint.agency == "pupr"
        media = (await uow.session.execute(select(MediaFile))).scalars().one()
        assert (wa_world.tmp / "media" / media.path).exists()


async def test_unexpected_media_gets_a_friendly_reprompt_and_keeps_the_draft(wa_world: World) -> None:
    citizen = wa_world.whatsapp_citizen()
    await citizen.say("halo")
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Jalan rusak")
    for tries, (data, content_type) in enumerate(((b"OggS voice", "audio/ogg"), (b"RIFF sticker", "image/webp"),
                                                 (b"%PDF-1.4", "application/pdf"), (b"mp4", "video/mp4")), 1):
        await citizen.send(None, media=[(data, content_type)])
        answer = await citizen.next()
        assert "maaf" in text_of(answer).lower(), "it says what it cannot use before asking again"
        if tries % 2:
            assert "ceritakan masalahnya" in text_of(answer).lower(), text_of(answer)
        else:  # two unusable answers in a row: the menu, with the way back to the draft
            assert any("Lanjutkan draf" in o for o in options(answer)), text_of(answer)
    after = await citizen.say(DESCRIPTION)
    assert "foto" in text_of(after).lower(), "the draft kept its category and moved on"


async def test_numbers_and_words_both_pick_options(wa_world: World) -> None:
    citizen = wa_world.whatsapp_citizen()
    greeting = await citizen.say("halo")
    assert "Balas" in text_of(greeting) and "1." in text_of(greeting)
    categories = await citizen.say("1")  # "1. Buat Pengaduan"
    assert any("Jalan rusak" in o for o in options(categories))
    described = await citizen.say("jalan rusak")  # the word, not the number
    assert "ceritakan masalahnya" in text_of(described).lower()
    await citizen.say("/batal")
    menu = await citizen.say("menu")  # no slash needed on WhatsApp
    assert "1." in text_of(menu)
    out_of_range = await citizen.say("9")
    assert "1." in text_of(out_of_range), "an unknown number re-shows the menu"


async def test_redelivered_webhook_changes_nothing_twice(wa_world: World) -> None:
    citizen = wa_world.whatsapp_citizen()
    await citizen.say("halo")
    await citizen.say("1")
    assert wa_world.twilio is not None
    before = len(wa_world.twilio.messages_to(citizen.number))
    again = await citizen.user.redeliver()
    assert again.status == 200
    assert await citizen.quiet(0.5) == []
    assert len(wa_world.twilio.messages_to(citizen.number)) == before


async def test_forged_or_unsigned_webhooks_are_refused(wa_world: World) -> None:
    import aiohttp

    assert wa_world.twilio is not None
    params = {"MessageSid": "SM" + "f" * 32, "From": "whatsapp:+6281111111111", "Body": "halo",
              "AccountSid": wa_world.twilio.account_sid, "NumMedia": "0"}
    async with aiohttp.ClientSession() as session:
        for headers in ({}, {"X-Twilio-Signature": "forged"}):
            async with session.post(wa_world.webhook_url, data=params, headers=headers) as response:
                assert response.status == 403
        status_url = wa_world.app.http_url + wa_world.config.whatsapp.status_path
        async with session.post(status_url, data={"MessageSid": "SMx", "MessageStatus": "read"},
                                headers={"X-Twilio-Signature": "forged"}) as response:
            assert response.status == 403
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        assert await uow.inbox.pending_count() == 0
    assert wa_world.twilio.messages_to("+6281111111111") == []


async def test_status_changes_and_staff_replies_reach_the_whatsapp_citizen(wa_world: World) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.whatsapp_citizen()
    await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(wa_world)
    accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
    await staff[0].tap(accept, card)
    notice = await citizen.next_matching("JMB-")
    assert "diterima" in text_of(notice).lower()
    staff[0].user.send_text("Tim kami menuju lokasi besok pagi", chat=card.chat_id, reply_to=card.message_id)
    relayed = await citizen.next_matching("Tim kami")
    assert "JMB-" in text_of(relayed)
    await outbox_settled(wa_world)
    # the citizen swipe-replies to the notification: it reaches the group under the card
    await citizen.send("Terima kasih, lubangnya di sisi kiri jalan", reply_to=relayed.sid)
    in_group = await staff[0].next_matching("sisi kiri")
    assert in_group.reply_to_message_id == card.message_id or "JMB-" in body(in_group)


async def test_delivery_receipts_are_recorded_even_out_of_order(wa_world: World) -> None:
    assert wa_world.twilio is not None
    wa_world.twilio.read_receipts = True
    wa_world.twilio.out_of_order = True
    citizen = wa_world.whatsapp_citizen()
    greeting = await citizen.say("halo")

    async def final_status() -> str | None:
        async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
            receipt = await uow.receipts.by_message("whatsapp", greeting.sid)
            return receipt.status if receipt else None

    for _ in range(100):
        if await final_status() == "read":
            break
        await citizen.quiet(0.05)
    assert await final_status() == "read", "a late 'sent' callback does not undo 'read'"


async def test_window_closed_without_template_is_shown_on_the_card(wa_world: World) -> None:
    assert wa_world.twilio is not None
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.whatsapp_citizen()
    await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(wa_world)
    await _age_the_citizen(wa_world, citizen, hours=25)
    before = len(wa_world.twilio.messages_to(citizen.number))
    accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
    await staff[0].tap(accept, card)
    await eventually(lambda: "24 jam" in body(current(wa_world, card)))
    assert len(wa_world.twilio.messages_to(citizen.number)) == before, "nothing is sent as free text outside the window"
    # the citizen writes again: the window is open, they get the status they missed, the warning goes
    await citizen.send("halo")
    caught_up = await citizen.next_matching("JMB-")
    assert "diterima" in text_of(caught_up).lower()
    await eventually(lambda: "24 jam" not in body(current(wa_world, card)))


async def test_window_closed_with_template_sends_the_template(
    server: Any, twilio: Any, config: Any, database_url: str, tmp_path: Any
) -> None:
    from bot.config import TemplateConfig
    from tests.e2e.conftest import start_app

    sid = "HX" + "1" * 32
    config = config.model_copy(update={"whatsapp": config.whatsapp.model_copy(
        update={"status_template": TemplateConfig(content_sid={"id": sid})})})
    app = await start_app(tmp_path, server, config, database_url, twilio=twilio)
    try:
        world = World(server=server, app=app, config=config, tmp=tmp_path, twilio=twilio)
        staff = await world.agency_group("pupr")
        citizen = world.whatsapp_citizen()
        await file_on(citizen)
        card = await staff[0].next_matching("JMB-")
        await outbox_settled(world)
        await _age_the_citizen(world, citizen, hours=30)
        twilio.advance(30)
        await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
        sent = await twilio.wait_for_message(citizen.number, lambda m: m.content_sid == sid, timeout=10)
        assert '"1": "JMB-' in (sent.content_variables or "")
        await eventually(lambda: sent.status == "delivered")
        assert "24 jam" not in body(current(world, card))
        # a staff question is never squeezed into the status template: it waits, and the card says so
        await outbox_settled(world)
        before = len(twilio.messages_to(citizen.number))
        staff[0].user.send_text("Di sisi mana lubangnya?", chat=card.chat_id, reply_to=card.message_id)
        await eventually(lambda: "24 jam" in body(current(world, card)))
        assert len(twilio.messages_to(citizen.number)) == before
    finally:
        await app.stop()


async def _age_the_citizen(world: World, citizen: WhatsAppPerson, *, hours: float) -> None:
    """Pretend the citizen's last message was ``hours`` ago (the window is judged on our side too)."""
    from datetime import timedelta

    from storage.models import Citizen

    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        row = (await uow.session.execute(
            select(Citizen).where(Citizen.channel == "whatsapp", Citizen.channel_user_id == citizen.number)
        )).scalars().one()
        assert row.last_inbound_at is not None
        row.last_inbound_at = row.last_inbound_at - timedelta(hours=hours)
        await uow.commit()



async def test_twilio_refusing_outside_its_window_is_recorded_and_shown(wa_world: World) -> None:
    """Our clock and Twilio's may disagree about the window: Twilio's 63016 wins and reaches the card."""
    assert wa_world.twilio is not None
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.whatsapp_citizen()
    await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(wa_world)
    wa_world.twilio.advance(25)  # only Twilio thinks the window has closed
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
    refused = await wa_world.twilio.wait_for_message(citizen.number, lambda m: m.error_code == 63016, timeout=10)
    await eventually(lambda: "24 jam" in body(current(wa_world, card)))

    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        found = await uow.receipts.by_message("whatsapp", refused.sid)
        assert found is not None and (found.status, found.error_code) == ("failed", 63016)


async def test_a_photo_over_the_limit_is_refused_kindly(wa_world: World) -> None:
    citizen = wa_world.whatsapp_citizen()
    await citizen.say("halo")
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Jalan rusak")
    await citizen.say(DESCRIPTION)
    too_big = b"\xff\xd8" + b"0" * (11 * 1024 * 1024)
    answer = await citizen.photo(too_big)
    assert "MB" in text_of(answer), text_of(answer)
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        assert (await uow.session.execute(select(MediaFile))).scalars().all() == [], "nothing stored"
    accepted = await photo_of(citizen)
    assert "MB" not in text_of(accepted), "a normal photo afterwards is taken"


async def test_a_citizen_who_replied_stop_is_recorded_and_the_card_says_so(wa_world: World) -> None:
    assert wa_world.twilio is not None
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.whatsapp_citizen()
    await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(wa_world)
    citizen.user.opt_out()  # Twilio now answers 21610 for this number
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
    await eventually(lambda: "memblokir" in body(current(wa_world, card)))
    from storage.models import Citizen

    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        row = (await uow.session.execute(select(Citizen).where(Citizen.channel == "whatsapp"))).scalars().one()
        assert row.blocked_bot
    assert citizen.number not in body(current(wa_world, card))


async def test_a_menu_template_replaces_the_numbered_list_and_its_taps_work(
    server: Any, twilio: Any, config: Any, database_url: str, tmp_path: Any
) -> None:
    from bot.config import TemplateConfig
    from tests.e2e.conftest import start_app

    sid = "HX" + "5" * 32
    whatsapp = config.whatsapp.model_copy(update={"menu_templates": {"sum": TemplateConfig(content_sid={"id": sid})}})
    config = config.model_copy(update={"whatsapp": whatsapp})
    app = await start_app(tmp_path, server, config, database_url, twilio=twilio)
    try:
        world = World(server=server, app=app, config=config, tmp=tmp_path, twilio=twilio)
        await world.agency_group("pupr")
        citizen = world.whatsapp_citizen()
        await to_location_step(citizen)
        summary_text = await citizen.location(*JAMBI)  # "📍 Lokasi diterima." and the summary: one message
        assert "Periksa pengaduan" in text_of(summary_text)
        assert "Balas dengan angka" not in text_of(summary_text), "no numbered list: the template has the choices"
        template = await citizen.next()
        assert template.content_sid == sid and "Silakan pilih" in (template.content_variables or "")
        await citizen.send(None, button_payload="sum:send", button_text="📨 Kirim")  # the citizen taps "Kirim"
        confirmation = await citizen.next_matching("JMB-")
        assert "JMB-2026-000001" in text_of(confirmation)
    finally:
        await app.stop()
