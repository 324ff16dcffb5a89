"""Anonim and Rahasia end to end (the real aiogram client against the local Bot API server, the real
twilio client against the local Twilio server): the choice on the summary, the marks on the card and in
/status, unlinkable aliases, a Rahasia complaint kept out of other citizens' offers, a reassigned
Rahasia card that loses its words and photo, and the audit entry."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.config import AppConfig
from bot.delivery.telegram_send import NEUTRAL_JPEG
from handlers.views import reporter_alias
from localapi.telegram import make_jpeg
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.conftest import config as e2e_config
from tests.e2e.harness import Person, WhatsAppPerson, body, choose, eventually, options, payloads, text_of
from tests.e2e.test_channels import DESCRIPTION, JAMBI, summary_from, to_location_step

pytestmark = pytest.mark.e2e


@pytest.fixture
def config() -> AppConfig:
    """The e2e config, without the per-minute message limit: a test files two complaints in seconds,
    which a person never does (the limit has its own tests)."""
    sample = e2e_config.__wrapped__()  # type: ignore[attr-defined]
    if hasattr(sample, "abuse"):
        sample = sample.model_copy(update={"abuse": sample.abuse.model_copy(update={"messages_per_minute": 0})})
    return sample

#: about 20 m from JAMBI
CLOSE_BY = (JAMBI[0] + 0.00018, JAMBI[1])
SECRET = "Pak Lurah menimbun aspal proyek di gudang belakang rumahnya"


async def file_with(world: World, citizen: Person | WhatsAppPerson, choice: str, description: str = DESCRIPTION) -> str:
    """File a complaint choosing ``choice`` ("Anonim" / "Rahasia") under "🔒 Privasi" on the summary, the
    way a citizen does on their channel; returns the confirmation text."""
    await to_location_step(citizen, description=description)
    summary = await summary_from(citizen, await citizen.location(*JAMBI))
    assert any("Privasi" in o for o in options(summary)), text_of(summary)
    if isinstance(citizen, Person):  # the summary turns into the choice and back, in place
        await citizen.tap("sum:privacy", summary)
        menu = await eventually(lambda: "priv:anonim" in payloads(_now(world, summary)) and _now(world, summary))
        assert "Siapa yang boleh melihat" in body(menu)
        await citizen.tap(f"priv:{choice.lower()}", menu)
        shown = await eventually(lambda: "sum:send" in payloads(_now(world, summary)) and _now(world, summary))
        assert f"Privasi: {choice}" in body(shown).replace("🕶️ ", "").replace("🔒 ", "")
        if choice == "Anonim":
            assert "sum:name" not in payloads(shown), "no 'Tampilkan nama saya' while Anonim"
    else:  # WhatsApp: numbered lists
        menu = await choose(citizen, "Privasi")
        assert "Siapa yang boleh melihat" in text_of(menu) and any("Rahasia" in o for o in options(menu))
        shown = await choose(citizen, choice)
        assert "Privasi:" in text_of(shown) and choice in text_of(shown)
        if choice == "Anonim":
            assert not any("Tampilkan nama" in o for o in options(shown))
    confirmation = await choose(citizen, "Kirim")
    assert "JMB-" in text_of(confirmation), text_of(confirmation)
    return text_of(confirmation)


def _now(world: World, message: StoredMessage) -> StoredMessage:
    return next(m for m in world.server.messages(message.chat_id) if m.message_id == message.message_id)


async def _complaints(world: World) -> list[Complaint]:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        found = list((await uow.session.execute(select(Complaint).order_by(Complaint.id))).scalars())
        uow.session.expunge_all()  # read after the session closed
        return found


async def _submit_notes(world: World) -> list[str | None]:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        rows = await uow.session.execute(select(AuditEntry).where(AuditEntry.action == "submit").order_by(AuditEntry.id))
        return [e.note for e in rows.scalars()]


async def _status(citizen: Person | WhatsAppPerson, number: str) -> str:
    if isinstance(citizen, Person):
        return body(await citizen.say(f"/status {number}"))
    return text_of(await citizen.say(f"status {number}"))


async def test_anonymous_complaints_show_no_name_and_unlinkable_aliases(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.citizen_on(channel, "Siti Rahayu")
    await file_with(wa_world, citizen, "Anonim")
    first = await staff[0].next_matching("JMB-")
    await file_with(wa_world, citizen, "Anonim", description="Lubang kedua di tikungan dekat sekolah, sudah dua minggu")
    second = await staff[0].next_matching("JMB-2026-000002")
    complaints = await _complaints(wa_world)
    stable = reporter_alias(complaints[0].citizen_id)
    aliases = [c.anon_alias for c in complaints]
    assert all(a and a.startswith("Anonim #") for a in aliases) and aliases[0] != aliases[1]
    for card, alias in zip((first, second), aliases, strict=True):
        text = body(card)
        assert alias in text and "🕶️ Anonim" in text
        assert "Siti" not in text and "Rahayu" not in text and stable not in text
    assert [c.privacy for c in complaints] == ["anonim", "anonim"] and all(c.reporter_name is None for c in complaints)
    assert await _submit_notes(wa_world) == ["anonim", "anonim"], "the audit records the choice"
    status = await _status(citizen, complaints[0].number)
    assert "Privasi: 🕶️ Anonim" in status and "Anonim" in status


async def test_rahasia_stays_out_of_another_citizens_offer(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("pupr")
    reporter = wa_world.citizen("Ani")
    await file_with(wa_world, reporter, "Rahasia", description=SECRET)
    card = await staff[0].next_matching("JMB-")
    assert "🔒 Rahasia" in body(card) and SECRET in body(card), "the handling agency sees everything"
    await outbox_settled(wa_world)

    other = wa_world.citizen_on(channel, "Budi")
    await to_location_step(other, description="Lubang besar lagi di jalan depan pasar, motor hampir jatuh tadi pagi")
    await summary_from(other, await other.location(*CLOSE_BY))
    offer = await choose(other, "Kirim")
    assert "1 laporan serupa" in text_of(offer)
    nearby = await other.next()
    shown = text_of(nearby)
    assert "JMB-2026-000001" in shown and "Jalan rusak" in shown and "m dari lokasi" in shown and "Baru" in shown
    assert "rahasia" in shown.lower()
    assert "Lurah" not in shown and "aspal" not in shown, "another citizen's words stay with the agency"
    if isinstance(nearby, StoredMessage):
        assert not nearby.photo, "no photo of a Rahasia complaint"
    else:
        assert not getattr(nearby, "media_urls", None) and "Media" not in str(getattr(nearby, "params", {}))
    question = await other.next()
    assert any("Sama dengan JMB-" in o for o in options(question))
    status = await _status(reporter, "JMB-2026-000001")
    assert "Privasi: 🔒 Rahasia" in status
    assert await _submit_notes(wa_world) == ["rahasia"]


async def test_a_reassigned_rahasia_card_loses_its_words_and_photo(world: World) -> None:
    staff = await world.agency_group("pupr")
    dishub = await world.agency_group("dishub", ("Dewi",))
    citizen = world.citizen("Ani")
    await file_with(world, citizen, "Rahasia", description=SECRET)
    card = await staff[0].next_matching("JMB-")
    assert card.photo and SECRET in body(card)
    before = card.photo[-1]["file_unique_id"]
    original = world.server.state.files[card.photo[-1]["file_id"]].data
    await outbox_settled(world)
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:reassign:")), card)
    picker = await eventually(lambda: "ra:" in " ".join(payloads(current(world, card))) and current(world, card))
    await staff[0].tap(next(p for p in payloads(picker) if p.endswith(":dishub")), picker)
    fresh = await dishub[0].next_matching("JMB-")
    assert SECRET in body(fresh) and fresh.photo, "the new agency sees everything"
    old: Any = await eventually(
        lambda: (m := current(world, card)).photo and m.photo[-1]["file_unique_id"] != before and m
    )
    assert SECRET not in body(old) and "Lurah" not in body(old)
    assert "rahasia" in body(old).lower() and payloads(old) == []
    shown = world.server.state.files[old.photo[-1]["file_id"]].data
    assert shown != original and shown == NEUTRAL_JPEG.read_bytes(), "the bundled neutral image replaced the photo"


async def test_a_reassigned_rahasia_album_card_loses_every_photo(world: World) -> None:
    staff = await world.agency_group("pupr")
    await world.agency_group("dishub", ("Dewi",))
    citizen = world.citizen("Ani")
    await citizen.say("halo")
    await choose(citizen, "Buat Pengaduan")
    await choose(citizen, "Jalan rusak")
    await citizen.say(SECRET)
    await citizen.photo(make_jpeg())
    second = await citizen.photo(make_jpeg(gray=40))
    if any("Selesai" in o for o in options(second)):
        await choose(citizen, "Selesai")
    summary = await summary_from(citizen, await citizen.location(*JAMBI))
    await citizen.tap("sum:privacy", summary)
    menu = await eventually(lambda: "priv:rahasia" in payloads(_now(world, summary)) and _now(world, summary))
    await citizen.tap("priv:rahasia", menu)
    await eventually(lambda: "sum:send" in payloads(_now(world, summary)))
    await choose(citizen, "Kirim")
    card = await staff[0].next_matching("JMB-")  # the text with the buttons, under the album
    album = [m for m in world.server.messages(card.chat_id) if m.photo and m.message_id < card.message_id]
    assert len(album) == 2
    await outbox_settled(world)
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:reassign:")), card)
    picker = await eventually(lambda: "ra:" in " ".join(payloads(current(world, card))) and current(world, card))
    await staff[0].tap(next(p for p in payloads(picker) if p.endswith(":dishub")), picker)
    neutral = NEUTRAL_JPEG.read_bytes()
    await eventually(lambda: all(world.server.state.files[current(world, m).photo[-1]["file_id"]].data == neutral
                                 for m in album))
    old = await eventually(lambda: SECRET not in body(current(world, card)) and current(world, card))
    assert "rahasia" in body(old).lower() and payloads(old) == []
