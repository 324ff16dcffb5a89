"""A card always reaches an agency: an image sent as a file becomes a clean photo card, and a card whose
group is gone is posted in the command centre's group with buttons to reassign it."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from sqlalchemy import select

from storage.models import AgencyGroup, AuditEntry, Card, OutboxMessage
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads
from tests.e2e.test_filing import JAMBI, file_complaint

pytestmark = pytest.mark.e2e


def jpeg_with_gps() -> bytes:
    """A phone photo: EXIF with a GPS position and a camera serial number."""
    image = Image.new("RGB", (640, 480), (200, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = "SERIAL-0042"  # BodySerialNumber
    exif[0x8825] = {1: "S", 2: (1.0, 36.0, 36.0), 3: "E", 4: (103.0, 36.0, 47.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


async def file_with_document(world: World, citizen: Person, data: bytes) -> str:
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor")
    citizen.user.send_document(data, file_name="IMG_20261129.jpg", mime_type="image/jpeg")
    prompt = await citizen.next()
    if "photo:done" in payloads(prompt):
        prompt = await citizen.tap_and_read("photo:done")
    summary = await citizen.location(*JAMBI)  # "📍 Lokasi diterima." and the summary: one message
    return body(await citizen.tap_and_read("sum:send", summary))


async def test_a_jpeg_sent_as_a_file_reaches_the_group_as_a_photo_without_its_metadata(world: World) -> None:
    original = jpeg_with_gps()
    assert Image.open(io.BytesIO(original)).getexif(), "the test photo carries EXIF"
    staff = await world.agency_group("pupr")
    confirmation = await file_with_document(world, world.citizen(), original)
    assert "JMB-" in confirmation
    card = await staff[0].next_matching("JMB-")
    assert card.photo, "the card is a photo, not a failed send with 'type of file mismatch'"
    sent = world.server.state.files[card.photo[-1]["file_id"]].data
    assert sent != original, "staff never get the citizen's original file"
    cleaned = Image.open(io.BytesIO(sent))
    assert not cleaned.getexif(), "no EXIF (GPS, camera serial) in what staff receive"
    assert cleaned.size == (640, 480)
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        failed = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.status == "failed"))).all()
        assert failed == []


async def test_a_file_that_is_not_an_image_is_refused_kindly_and_the_draft_stays(world: World) -> None:
    citizen = world.citizen()
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor")
    citizen.user.send_document(b"%PDF-1.4 not really a photo", file_name="foto.jpg", mime_type="image/jpeg")
    refusal = await citizen.next()
    assert "foto" in body(refusal).lower()
    ack = await citizen.photo(jpeg_with_gps())
    assert ack.text or ack.caption, "the flow goes on with a real photo"


async def test_a_card_whose_group_removed_the_bot_goes_to_the_command_centre(world: World) -> None:
    pupr = await world.agency_group("pupr")
    jcoc = await world.agency_group("jcoc", staff_names=("Dewi", "Eko"))
    world.server.kick_bot(pupr[0].chat_id)  # an admin removes the bot from the PUPR group
    citizen = world.citizen()
    confirmation = await file_complaint(world, citizen)
    assert "JMB-" in confirmation
    rerouted = await jcoc[0].next_matching("JMB-")
    text = body(rerouted)
    assert "tidak dapat dikirim" in text and "PUPR" in text.upper()
    reassign = [p for p in payloads(rerouted) if p.startswith("ra:")]
    assert reassign and not any(p.endswith(":pupr") for p in reassign), "buttons to reassign elsewhere"
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        group = await uow.session.get(AgencyGroup, "pupr")
        assert group is not None and group.broken_reason and "kicked" in group.broken_reason
        cards = (await uow.session.execute(select(Card).order_by(Card.id))).scalars().all()
        assert [(c.chat_id, c.active, bool(c.reroute_reason)) for c in cards] == [
            (pupr[0].chat_id, False, False), (jcoc[0].chat_id, True, True),
        ]
        actions = (await uow.session.execute(select(AuditEntry.action))).scalars().all()
        assert "card_rerouted" in actions
    # the command centre reassigns it to itself: a normal card with the status buttons
    target = next(p for p in reassign if p.endswith(":jcoc"))
    answer = await jcoc[0].tap(target, rerouted)
    assert not answer.get("show_alert"), answer
    fresh = await jcoc[0].next_matching("JMB-")
    await eventually(lambda: any(p.startswith("st:accept:") for p in payloads(fresh)))
    assert "tidak dapat dikirim" not in body(fresh)


async def test_open_cards_move_to_the_command_centre_when_the_bot_is_removed(world: World) -> None:
    pupr = await world.agency_group("pupr")
    jcoc = await world.agency_group("jcoc", staff_names=("Dewi",))
    citizen = world.citizen()
    await file_complaint(world, citizen)
    original = await pupr[0].next_matching("JMB-")
    await outbox_settled(world)
    world.server.kick_bot(pupr[0].chat_id)
    moved = await jcoc[0].next_matching("JMB-")
    assert "tidak dapat dikirim" in body(moved) and any(p.startswith("ra:") for p in payloads(moved))
    assert original.photo, "the old card stays in the lost group (the bot cannot edit it there any more)"
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        group = await uow.session.get(AgencyGroup, "pupr")
        assert group is not None and group.broken_reason == "the bot was kicked from the group"
        cards = (await uow.session.execute(select(Card).order_by(Card.id))).scalars().all()
        assert [(c.chat_id, c.active) for c in cards] == [(pupr[0].chat_id, False), (jcoc[0].chat_id, True)]
    # linking the agency again (a new group) brings its cards home
    fresh_group = await world.agency_group("pupr", staff_names=("Fajar",))
    home = await fresh_group[0].next_matching("JMB-")
    assert any(p.startswith("st:") for p in payloads(home))
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        group = await uow.session.get(AgencyGroup, "pupr")
        assert group is not None and group.broken_reason is None
