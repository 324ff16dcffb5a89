"""Photos without metadata (issue 12), end to end through the real aiogram client against the local Telegram
server and the real twilio client against the local Twilio server.

A phone writes EXIF into its photos: a GPS position, the maker, the camera's serial number. Whatever a
citizen or a clerk sends is stored re-encoded, and only those bytes are ever shown to anyone: the card in
the agency's group shows OUR upload (never the citizen's own Telegram file id), a WhatsApp citizen's photo
is stored clean, an oversized image is scaled, and what does not decode as an image is refused kindly
whatever its name or declared type. (The staff relays and proof photos are checked in
``test_photo_replies.py`` and ``test_proof_of_fix.py`` with the same phone photo.)
"""

from __future__ import annotations

import hashlib
import io
from typing import NamedTuple

import pytest
from PIL import Image
from sqlalchemy import select

from localapi.telegram.state import StoredMessage
from storage.images import MAX_SIDE
from storage.models import ComplaintPhoto, MediaFile
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, body, choose, payloads, text_of
from tests.e2e.photo_checks import assert_clean, phone_photo
from tests.e2e.test_channels import DESCRIPTION, JAMBI, summary_from

pytestmark = pytest.mark.e2e

NOT_AN_IMAGE = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3 a document renamed to .jpg"
REFUSAL = "tidak bisa dibuka sebagai foto"


def received(world: World, message: StoredMessage) -> bytes:
    """The bytes the local Telegram server holds for a message's photo: what the chat shows."""
    assert message.photo, "a photo, not a text"
    return bytes(world.server.state.files[message.photo[-1]["file_id"]].data)


def group_photos(world: World, chat_id: int) -> list[StoredMessage]:
    return [m for m in world.server.messages(chat_id) if m.from_bot and m.photo]


class Stored(NamedTuple):
    sha256: str
    mime_type: str
    telegram_file_id: str | None
    data: bytes


async def stored_files(world: World) -> list[Stored]:
    """Every media_files row with the bytes on disk."""
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        rows = (await uow.session.execute(select(MediaFile).order_by(MediaFile.created_at))).scalars().all()
        return [Stored(row.sha256, row.mime_type, row.telegram_file_id, (world.tmp / "media" / row.path).read_bytes())
                for row in rows]


async def to_photos(citizen: Person) -> None:
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say(DESCRIPTION)


async def send_and_file(citizen: Person) -> str:
    prompt = citizen.last_with_button("photo:done")
    await citizen.tap_and_read("photo:done", prompt)
    summary = await citizen.location(*JAMBI)
    return body(await citizen.tap_and_read("sum:send", summary))


async def test_photos_sent_as_a_photo_and_as_a_file_reach_the_card_without_metadata(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    await to_photos(citizen)
    as_photo, as_file = phone_photo(gray=30), phone_photo(6000, 4000, gray=220)
    sent = citizen.user.send_photo(as_photo)
    citizen_file_id = sent.photo[-1]["file_id"]
    await citizen.next()
    citizen.user.send_document(as_file, file_name="IMG_20261129_0815.jpg", mime_type="image/jpeg")
    await citizen.next()
    assert "JMB-" in await send_and_file(citizen)
    await staff[0].next_matching("JMB-")
    await outbox_settled(world)

    shown = group_photos(world, staff[0].chat_id)
    assert len(shown) == 2, "both photos reach the group"
    for message in shown:
        assert message.photo[-1]["file_id"] != citizen_file_id, "never the citizen's own file (and its EXIF)"
        assert_clean(received(world, message))
    sizes = sorted(Image.open(io.BytesIO(received(world, m))).size for m in shown)
    assert sizes[0] == (640, 480)
    assert sizes[1][0] == MAX_SIDE and abs(sizes[1][1] - MAX_SIDE * 4000 / 6000) < 1, "6000x4000 is scaled"

    files = await stored_files(world)
    assert len(files) == 2
    group_ids = {m.photo[-1]["file_id"] for m in shown}
    for row in files:
        assert_clean(row.data)
        assert row.sha256 == hashlib.sha256(row.data).hexdigest() and row.mime_type == "image/jpeg"
        assert row.telegram_file_id in group_ids, "the cached id is the one Telegram gave for OUR upload"
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        kept = (await uow.session.execute(select(ComplaintPhoto.telegram_file_id))).scalars().all()
    assert citizen_file_id not in kept


async def test_a_non_image_named_jpg_is_refused_kindly_on_telegram(world: World) -> None:
    citizen = world.citizen()
    await to_photos(citizen)
    citizen.user.send_document(NOT_AN_IMAGE, file_name="foto_jalan.jpg", mime_type="image/jpeg")
    refusal = await citizen.next()
    assert REFUSAL in body(refusal), body(refusal)
    ack = await citizen.photo(phone_photo())
    assert "photo:done" in payloads(ack), "the draft goes on with a real photo"
    assert [row.mime_type for row in await stored_files(world)] == ["image/jpeg"], "the fake was not stored"


async def test_a_whatsapp_citizens_photo_is_stored_and_shown_clean(wa_world: World) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.whatsapp_citizen()
    greeting = await citizen.say("halo")
    assert "Buat Pengaduan" in text_of(greeting)
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Jalan rusak")
    await citizen.say(DESCRIPTION)
    refusal = await citizen.photo(NOT_AN_IMAGE, content_type="image/jpeg")  # Twilio believes the sender's type
    assert REFUSAL in text_of(refusal), text_of(refusal)
    after = await citizen.photo(phone_photo(gray=90))
    if "Selesai" in text_of(after):
        await choose(citizen, "Selesai")
    summary = await summary_from(citizen, await citizen.location(*JAMBI))
    assert DESCRIPTION in text_of(summary)
    assert "JMB-" in text_of(await choose(citizen, "Kirim"))
    card = await staff[0].next_matching("JMB-")
    assert_clean(received(wa_world, card))
    files = await stored_files(wa_world)
    assert len(files) == 1
    assert_clean(files[0].data)
    assert received(wa_world, card) == files[0].data, "the card shows the stored bytes"


async def test_a_citizens_photo_reply_reaches_the_group_clean(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    await to_photos(citizen)
    await citizen.photo(phone_photo(gray=60))
    assert "JMB-" in await send_and_file(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)
    staff[0].user.send_text("Mohon kirim foto dari sisi lain", chat=card.chat_id, reply_to=card.message_id)
    question = await citizen.next_matching("sisi lain")
    await outbox_settled(world)
    original = phone_photo(gray=180)
    sent = citizen.user.send_photo(original, caption="Ini dari sisi utara", reply_to=question.message_id)
    relayed = await staff[0].next_matching("sisi utara")
    assert relayed.photo[-1]["file_id"] != sent.photo[-1]["file_id"]
    assert_clean(received(world, relayed))

