"""Replies carry photos, both ways, end to end through the real aiogram client and the real twilio client.

* Staff reply to a card with a photo (the "photo of the fix"): a Telegram citizen gets it as a photo, a
  WhatsApp citizen as a Twilio message whose ``MediaUrl`` is a signed, expiring link to the app's own
  web server, which serves it; a forged or expired link is refused.
* A citizen replies to the agency's message with a photo: it reaches the group as a photo under the
  complaint's card and never starts a new complaint.
* What a reply cannot carry (a sticker, a voice note) gets a short answer, in the group or in the chat.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import time
from typing import Any

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import select

from localapi.telegram import make_jpeg
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry, ConversationRow
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, body, text_of
from tests.e2e.photo_checks import assert_clean, cleaned, phone_photo
from tests.e2e.test_channels import file_on

pytestmark = pytest.mark.e2e

FIX = phone_photo(gray=200)  # a clerk's phone photo, with EXIF (GPS, camera serial)
STICKER = {"file_id": "CAACAgIAAxkBAAstk", "file_unique_id": "stk1", "type": "regular",
           "width": 512, "height": 512, "is_animated": False, "is_video": False}


async def filed(world: World, channel: str) -> tuple[Person | WhatsAppPerson, list[Person], StoredMessage]:
    staff = await world.agency_group("pupr")
    citizen = world.citizen_on(channel)
    assert "JMB-" in await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)
    return citizen, staff, card


def telegram_photo_bytes(world: World, message: StoredMessage) -> bytes:
    assert message.photo, "a photo, not a text"
    return bytes(world.server.state.files[message.photo[-1]["file_id"]].data)


async def conversation_step(world: World) -> str:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        rows = (await uow.session.execute(select(ConversationRow))).scalars().all()
        return ",".join(sorted(row.step for row in rows))


# --- staff -> citizen -----------------------------------------------------------------------------


async def test_a_staff_photo_under_the_card_reaches_a_telegram_citizen_as_a_photo(wa_world: World) -> None:
    citizen, staff, card = await filed(wa_world, "telegram")
    assert isinstance(citizen, Person)
    staff[0].user.send_photo(FIX, caption="Sudah kami tambal, terima kasih", chat=card.chat_id, reply_to=card.message_id)
    fix = await citizen.next_matching("Sudah kami tambal")
    assert telegram_photo_bytes(wa_world, fix) == cleaned(FIX), "the (re-encoded) photo itself, not a link or a text"
    assert_clean(telegram_photo_bytes(wa_world, fix))  # no metadata of the clerk's phone reaches the citizen
    assert "JMB-" in body(fix) and "Dinas Pekerjaan Umum" in body(fix)
    ack = await staff[0].next_matching("diteruskan")
    assert ack.chat_id == card.chat_id
    # without a caption the citizen still gets the photo, with words saying it is one
    staff[1].user.send_photo(make_jpeg(gray=90), chat=card.chat_id, reply_to=card.message_id)
    bare = await citizen.next_matching("Foto")
    assert bare.photo and "JMB-" in body(bare)
    await outbox_settled(wa_world)
    # the citizen answers the photo message: it is a staff message like any other
    citizen.user.send_text("Terima kasih banyak, sudah rapi", reply_to=fix.message_id)
    answer = await staff[0].next_matching("sudah rapi")
    assert answer.reply_to_message_id == card.message_id


async def test_an_image_staff_send_as_a_file_reaches_the_citizen_without_its_metadata(world: World) -> None:
    citizen, staff, card = await filed(world, "telegram")
    image = Image.new("RGB", (64, 48), (120, 130, 140))
    exif = Image.Exif()
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "GPS-leaking firmware"  # Software
    raw = io.BytesIO()
    image.save(raw, format="JPEG", exif=exif.tobytes())
    assert b"SecretCam" in raw.getvalue()
    staff[0].user.send_document(raw.getvalue(), "perbaikan.jpg", "image/jpeg", caption="Foto perbaikan",
                                chat=card.chat_id, reply_to=card.message_id)
    fix = await citizen.next_matching("Foto perbaikan")
    sent = telegram_photo_bytes(world, fix)
    assert sent.startswith(b"\xff\xd8") and b"SecretCam" not in sent and b"Exif" not in sent


async def test_a_staff_photo_reaches_a_whatsapp_citizen_through_a_signed_link(wa_world: World) -> None:
    citizen, staff, card = await filed(wa_world, "whatsapp")
    assert isinstance(citizen, WhatsAppPerson) and wa_world.twilio is not None
    staff[0].user.send_photo(FIX, caption="Sudah kami tambal", chat=card.chat_id, reply_to=card.message_id)
    fix = await citizen.next_matching("Sudah kami tambal")
    assert len(fix.media_urls) == 1, "the photo goes with its text, in one WhatsApp message"
    url = fix.media_urls[0]
    assert url.startswith(f"{wa_world.app.public_url}/media/")
    sha256 = hashlib.sha256(cleaned(FIX)).hexdigest()
    assert sha256 in url
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:  # what Twilio does with MediaUrl
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/jpeg"
            assert_clean(served := await response.read())
            assert served == cleaned(FIX)
        # a forged signature, another file under a real signature, a link that expired, a path outside
        expires, signature, name = url.rsplit("/", 3)[-3:]
        forged = signature[:-1] + ("A" if signature[-1] != "A" else "B")
        base = f"{wa_world.app.public_url}/media"
        other = hashlib.sha256(b"something else").hexdigest()
        links = wa_world.app.media_links
        assert links is not None
        expired = links.url(sha256, "image/jpeg", expires=int(time.time()) - 60)
        for bad, status in (
            (f"{base}/{expires}/{forged}/{name}", 403),
            (f"{base}/{expires}/{signature}/{other}.jpg", 403),
            (f"{base}/{int(expires) + 3600}/{signature}/{name}", 403),
            (expired, 410),
            (f"{base}/{expires}/{signature}/..%2f..%2fsikesal.db", 404),
        ):
            assert bad is not None
            async with session.get(bad) as response:
                assert response.status == status, bad
                assert await response.read() != FIX
    # an expired link to a file that does not exist is refused the same way: nothing is revealed
    missing = hashlib.sha256(b"never stored").hexdigest()
    gone = links.url(missing, "image/jpeg", expires=int(time.time()) - 60)
    async with aiohttp.ClientSession() as session, session.get(str(gone)) as response:
        assert response.status == 410


async def test_without_a_public_url_the_whatsapp_citizen_is_told_a_photo_came(wa_world: World) -> None:
    citizen, staff, card = await filed(wa_world, "whatsapp")
    assert isinstance(citizen, WhatsAppPerson)
    sender = wa_world.app.whatsapp_sender
    assert sender is not None and sender.media_links is not None
    sender.media_links = dataclasses.replace(sender.media_links, public_url=None)
    staff[0].user.send_photo(FIX, caption="Sudah kami tambal", chat=card.chat_id, reply_to=card.message_id)
    fix = await citizen.next_matching("Sudah kami tambal")
    assert fix.media_urls == []
    assert "foto" in text_of(fix).lower() and "WhatsApp" in text_of(fix)


# --- citizen -> staff -----------------------------------------------------------------------------


async def staff_asked(world: World, channel: str) -> tuple[Person | WhatsAppPerson, list[Person], StoredMessage, Any]:
    citizen, staff, card = await filed(world, channel)
    staff[0].user.send_text("Bisa kirim foto lubangnya dari dekat?", chat=card.chat_id, reply_to=card.message_id)
    asked = await citizen.next_matching("dari dekat")
    await staff[0].next_matching("diteruskan")
    await outbox_settled(world)
    return citizen, staff, card, asked


async def test_a_citizen_photo_reply_reaches_the_group_under_the_card(wa_world: World, channel: str) -> None:
    citizen, staff, card, asked = await staff_asked(wa_world, channel)
    close_up = make_jpeg(gray=30)
    if isinstance(citizen, WhatsAppPerson):
        await citizen.send("Ini dari dekat", media=[(close_up, "image/jpeg")], reply_to=asked.sid)
    else:
        citizen.user.send_photo(close_up, caption="Ini dari dekat", reply_to=asked.message_id)
    in_group = await staff[0].next_matching("Ini dari dekat")
    assert in_group.photo, "a photo in the group, not a text about one"
    with Image.open(io.BytesIO(telegram_photo_bytes(wa_world, in_group))) as shown:
        assert shown.size == (320, 240), "the citizen's picture"
    assert in_group.reply_to_message_id == card.message_id, "under the complaint's card"
    assert "JMB-" in body(in_group)
    ack = await citizen.next_matching("diteruskan")
    assert "JMB-" in text_of(ack)
    assert not [m for m in await citizen.quiet(0.3) if "Foto disimpan" in text_of(m) or "kategori" in text_of(m)]
    assert await conversation_step(wa_world) == "idle", "no new complaint was started"
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        notes = (await uow.session.execute(
            select(AuditEntry.note).where(AuditEntry.action == "citizen_reply"))).scalars().all()
    assert notes == ["Ini dari dekat"]
    # staff answering the relayed photo answer the citizen
    staff[0].user.send_text("Terima kasih, jelas sekali", chat=card.chat_id, reply_to=in_group.message_id)
    assert "JMB-" in text_of(await citizen.next_matching("jelas sekali"))


async def test_what_a_reply_cannot_carry_gets_a_short_answer_both_ways(wa_world: World, channel: str) -> None:
    citizen, staff, card, asked = await staff_asked(wa_world, channel)
    # staff: a sticker under the card
    wa_world.server.user_message(staff[0].user, card.chat_id, card.message_id, extra={"sticker": STICKER})
    told = await staff[0].next_matching("tidak bisa diteruskan")
    assert "stiker" in body(told)
    # citizen: a sticker (Telegram) or a voice note (WhatsApp) as a reply to the staff message
    if isinstance(citizen, WhatsAppPerson):
        await citizen.send(None, media=[(b"OggS\x00voice", "audio/ogg")], reply_to=asked.sid)
        answer = await citizen.next_matching("tidak bisa diteruskan")
        assert "pesan suara" in text_of(answer)
    else:
        wa_world.server.user_message(citizen.user, None, asked.message_id, extra={"sticker": STICKER})
        answer = await citizen.next_matching("tidak bisa diteruskan")
        assert "stiker" in text_of(answer)
    assert "teks atau foto" in text_of(answer)
    assert await staff[0].quiet(0.3) == [], "nothing reached the group"
    assert await conversation_step(wa_world) == "idle"
