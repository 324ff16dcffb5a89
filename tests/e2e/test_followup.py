"""The follow-up after a complaint is closed, end to end through the real aiogram and twilio clients: "Apakah
masalahnya sudah beres?", the rating and comment, *Belum* that reopens at the same agency, the kind answer after
``reopen_within_days``, text read as the answer, "mau lapor …" still filing, the appeal and its three outcomes
in the command centre, the unanswered question's close, WhatsApp's numbered answers and its template outside
the 24-hour window. Time moves by an injected clock, never by sleeping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.config import AppConfig, TemplateConfig
from bot.services.followup import close_unanswered
from localapi.telegram import TelegramServer, make_jpeg
from localapi.telegram.state import StoredMessage
from localapi.twilio import TwilioServer
from storage.models import AuditEntry, Citizen, Complaint
from storage.uow import UnitOfWork
from tests.clocks import ShiftedClock as Clock
from tests.e2e.conftest import World, current, outbox_settled, start_app
from tests.e2e.harness import Person, WhatsAppPerson, body, eventually, payloads, text_of
from tests.e2e.test_channels import file_on
from tests.e2e.test_filing import file_complaint

pytestmark = pytest.mark.e2e

QUESTION = "sudah beres"


def no_proof(config: AppConfig, **whatsapp: Any) -> AppConfig:
    """Selesai resolves at once (the proof-of-fix step is another test's subject)."""
    categories = {k: v.model_copy(update={"proof_photo": "off"}) for k, v in config.categories.items()}
    update: dict[str, Any] = {"categories": categories}
    if whatsapp:
        update["whatsapp"] = config.whatsapp.model_copy(update=whatsapp)
    return config.model_copy(update=update)


@pytest_asyncio.fixture
async def fu_world(
    server: TelegramServer, twilio: TwilioServer, config: AppConfig, database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[World, Clock]]:
    clock = Clock()
    config = no_proof(config)
    app = await start_app(tmp_path, server, config, database_url, clock=clock, twilio=twilio)
    try:
        yield World(server=server, app=app, config=config, tmp=tmp_path, twilio=twilio), clock
    finally:
        await app.stop()


def staff_button(card: StoredMessage, prefix: str) -> str:
    return next(p for p in payloads(card) if p.startswith(prefix))


async def to_status(world: World, clerk: Person, card: StoredMessage, *actions: str) -> None:
    for action in actions:
        fresh = current(world, card)
        answer = await clerk.tap(staff_button(fresh, f"st:{action}:"), fresh)
        assert not answer.get("show_alert"), answer
        word = {"accept": "diterima", "process": "diproses", "resolve": "selesai"}[action]
        def shows(w: str = word) -> bool:
            return w in body(current(world, card)).lower().split("\n", 1)[0]

        await eventually(shows)


async def filed(world: World, citizen: Person | WhatsAppPerson) -> tuple[list[Person], StoredMessage]:
    staff = await world.agency_group("pupr")
    if isinstance(citizen, Person):
        await file_complaint(world, citizen)
    else:
        await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)
    return staff, card


async def resolved(world: World, citizen: Person | WhatsAppPerson) -> tuple[list[Person], StoredMessage, Any]:
    """A filed complaint taken to selesai by the clerk; returns the staff, the card, and the question."""
    staff, card = await filed(world, citizen)
    await to_status(world, staff[0], card, "accept", "process", "resolve")
    question = await citizen.next_matching(QUESTION)
    await outbox_settled(world)
    return staff, card, question


async def the_complaint(world: World) -> Any:
    """The (first) complaint as stored now, as plain values."""
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        row = (await uow.session.execute(select(Complaint).order_by(Complaint.id))).scalars().first()
        assert row is not None
        return SimpleNamespace(**{c.key: getattr(row, c.key) for c in Complaint.__table__.columns})


async def actions_of(world: World, complaint_id: int) -> list[str]:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        rows = await uow.session.execute(
            select(AuditEntry).where(AuditEntry.complaint_id == complaint_id, AuditEntry.refused.is_(False))
            .order_by(AuditEntry.id))
        return [e.action for e in rows.scalars()]


# --- Telegram -------------------------------------------------------------------------------------


async def test_sudah_four_stars_and_a_comment_are_stored(fu_world: tuple[World, Clock]) -> None:
    world, _clock = fu_world
    citizen = world.citizen()
    _staff, card, question = await resolved(world, citizen)
    cid = (await the_complaint(world)).id
    assert payloads(question) == [f"fu:yes:{cid}", f"fu:no:{cid}"]
    rating = await citizen.tap_and_read(f"fu:yes:{cid}", question)
    assert "bintang" in body(rating) and len(payloads(rating)) == 5
    await eventually(lambda: current(world, question).buttons() == [] or not list(current(world, question).buttons()))
    comment_question = await citizen.tap_and_read(f"fu:rate:{cid}:4", rating)
    assert "Lewati" in " ".join(str(b.get("text")) for b in comment_question.buttons())
    thanks = await citizen.say("Cepat dan rapi, terima kasih petugas")
    assert "Terima kasih" in body(thanks) and "menu:new" in payloads(thanks)
    complaint = await the_complaint(world)
    assert (complaint.confirmation, complaint.rating) == ("yes", 4)
    assert complaint.rating_comment == "Cepat dan rapi, terima kasih petugas" and complaint.rated_at is not None
    assert {"confirm_fixed", "rated"} <= set(await actions_of(world, cid))
    await eventually(lambda: "penilaian pelapor" in body(current(world, card)) and "4/5" in body(current(world, card)))


async def test_belum_with_reason_and_photo_reopens_at_the_same_agency(fu_world: tuple[World, Clock]) -> None:
    world, _clock = fu_world
    centre = await world.agency_group("jcoc", ("Komandan",))
    citizen = world.citizen()
    staff, card, question = await resolved(world, citizen)
    cid = (await the_complaint(world)).id
    due_before = (await the_complaint(world)).due_at
    asked = await citizen.tap_and_read(f"fu:no:{cid}", question)
    assert "masih salah" in body(asked)
    kept = await citizen.say("Masih ada lubang besar di ujung jalan")
    assert f"fu:send:{cid}" in payloads(kept)
    with_photo = await citizen.photo(make_jpeg(gray=60))
    assert "1 foto" in body(with_photo)
    done = await citizen.tap_and_read(f"fu:send:{cid}", with_photo)
    assert "dibuka kembali" in body(done).lower() and "menu:new" in payloads(done), "never a dead end"

    fresh = await staff[0].next_matching("Dibuka kembali")
    assert fresh.message_id > card.message_id and any(p.startswith("st:process:") for p in payloads(fresh))
    quote = await staff[0].next_matching("Masih ada lubang")
    assert quote.photo and quote.reply_to_message_id == fresh.message_id, "the citizen's words under the new card"
    old = current(world, card)
    assert "kartu baru di bawah" in body(old).split("\n", 1)[0] and payloads(old) == []
    told = await centre[0].next_matching("dibuka kembali oleh pelapor")
    assert "Masih ada lubang" in body(told)
    complaint = await the_complaint(world)
    assert (complaint.status, complaint.agency, complaint.reopen_count, complaint.confirmation) == (
        "dibuka_kembali", "pupr", 1, "no")
    assert complaint.due_at is not None and due_before is not None and complaint.due_at > due_before
    assert "reopen" in await actions_of(world, cid)


async def test_belum_after_the_reopen_window_is_refused_kindly(fu_world: tuple[World, Clock]) -> None:
    world, clock = fu_world
    citizen = world.citizen()
    _staff, _card, question = await resolved(world, citizen)
    cid = (await the_complaint(world)).id
    clock.advance(days=world.config.followup.reopen_within_days + 1)
    answer = await citizen.tap_and_read(f"fu:no:{cid}", question)
    assert "tidak bisa dibuka kembali" in body(answer) and "pengaduan baru" in body(answer)
    assert "menu:new" in payloads(answer)
    assert (await the_complaint(world)).status == "selesai"


async def test_plain_text_while_the_question_is_open_becomes_the_comment(fu_world: tuple[World, Clock]) -> None:
    world, _clock = fu_world
    citizen = world.citizen()
    _staff, _card, question = await resolved(world, citizen)
    cid = (await the_complaint(world)).id
    kept = await citizen.say("Jalannya sudah mulus lagi, mantap")
    assert "Catatan" in body(kept) and payloads(kept) == [f"fu:yes:{cid}", f"fu:no:{cid}"], "the buttons stay"
    rating = await citizen.tap_and_read(f"fu:yes:{cid}", kept)
    thanks = await citizen.tap_and_read(f"fu:rate:{cid}:5", rating)
    assert "komentar" in body(thanks).lower()
    complaint = await the_complaint(world)
    assert (complaint.rating, complaint.rating_comment) == (5, "Jalannya sudah mulus lagi, mantap")


async def test_mau_lapor_still_starts_a_new_complaint(fu_world: tuple[World, Clock]) -> None:
    world, _clock = fu_world
    citizen = world.citizen()
    _staff, _card, question = await resolved(world, citizen)
    cid = (await the_complaint(world)).id
    answer = await citizen.say("mau lapor lampu jalan mati di depan rumah saya sejak kemarin")
    assert "Catatan" not in body(answer) and f"fu:yes:{cid}" not in payloads(answer)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        row = await uow.conversations.load((await uow.session.execute(select(Citizen.id))).scalar_one())
        assert row.step != "idle", "a new draft is in progress"
    rating = await citizen.tap_and_read(f"fu:yes:{cid}", question)  # the question's buttons still work
    assert "bintang" in body(rating)


async def test_an_unanswered_question_is_closed_as_resolved(fu_world: tuple[World, Clock]) -> None:
    world, clock = fu_world
    citizen = world.citizen()
    _staff, _card, question = await resolved(world, citizen)
    clock.advance(days=world.config.followup.confirm_within_days)
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        await close_unanswered(rt, uow, complaint, rt.clock())
        await uow.commit()
    rt.on_enqueued()
    await eventually(lambda: not list(current(world, question).buttons()))
    complaint = await the_complaint(world)
    assert (complaint.status, complaint.confirmation) == ("selesai", "auto")
    assert "confirm_auto" in await actions_of(world, complaint.id)
    hello = await citizen.say("halo")
    assert "Catatan" not in body(hello), "text is ordinary again"


async def test_the_scheduler_closes_the_question_after_confirm_within_days(fu_world: tuple[World, Clock]) -> None:
    world, clock = fu_world
    citizen = world.citizen()
    _staff, _card, question = await resolved(world, citizen)
    clock.advance(days=world.config.followup.confirm_within_days, minutes=1)
    world.app.wake_timers()  # the scheduler looks now, as the playground's ⏩ makes it
    await eventually(lambda: not list(current(world, question).buttons()), timeout=15)
    complaint = await the_complaint(world)
    assert (complaint.status, complaint.confirmation) == ("selesai", "auto")


@pytest.mark.parametrize("outcome", ["uphold", "reopen", "move"])
async def test_an_appeal_reaches_the_command_centre_and_each_outcome_does_what_it_says(
    fu_world: tuple[World, Clock], outcome: str
) -> None:
    world, clock = fu_world
    centre = await world.agency_group("jcoc", ("Komandan",))
    dlh = await world.agency_group("dlh", ("Dewi",)) if outcome == "move" else []
    citizen = world.citizen()
    staff, card = await filed(world, citizen)
    await staff[0].tap(staff_button(card, "st:reject:"), card)
    prompt = await staff[0].next()
    await outbox_settled(world)
    staff[0].user.send_text("Bukan wewenang dinas ini", chat=card.chat_id, reply_to=prompt.message_id)
    notice = await citizen.next_matching("Bukan wewenang")
    complaint = await the_complaint(world)
    cid = complaint.id
    assert f"fu:appeal:{cid}" in payloads(notice)
    if outcome == "uphold":  # /status of a rejected complaint offers the appeal too
        status = await citizen.say(f"/status {complaint.number}")
        assert f"fu:appeal:{cid}" in payloads(status)
    asked = await citizen.tap_and_read(f"fu:appeal:{cid}", notice)
    assert "alasan keberatan" in body(asked)
    kept = await citizen.say("Jalan ini jelas jalan kota, bukan jalan provinsi")
    sent = await citizen.tap_and_read(f"fu:send:{cid}", kept)
    assert "sudah dikirim" in body(sent)
    appeal = await centre[0].next_matching("Keberatan warga")
    assert "jalan provinsi" in body(appeal) and "Bukan wewenang" in body(appeal)
    assert {p.split(":")[1] for p in payloads(appeal)} == {"uphold", "reopen", "move", "ask"}  # ask: 🚫 Blokir
    await outbox_settled(world)

    if outcome == "uphold":
        await centre[0].tap(f"ap:uphold:{cid}", appeal)
        ask = await centre[0].next_matching("balas pesan ini")
        await outbox_settled(world)
        centre[0].user.send_text("Ruas itu memang jalan provinsi", chat=appeal.chat_id, reply_to=ask.message_id)
        told = await citizen.next_matching("tetap berlaku")
        assert "Ruas itu memang jalan provinsi" in body(told)
        expected = ("ditolak", "pupr", "upheld")
    elif outcome == "reopen":
        await centre[0].tap(f"ap:reopen:{cid}", appeal)
        fresh = await staff[0].next_matching("Dibuka kembali")
        assert any(p.startswith("st:process:") for p in payloads(fresh))
        await citizen.next_matching("diterima oleh")
        expected = ("dibuka_kembali", "pupr", "reopened")
    else:
        await centre[0].tap(f"ap:move:{cid}", appeal)
        picker = await eventually(lambda: any(p.startswith("ap:to:") for p in payloads(current(world, appeal)))
                                  and current(world, appeal))
        await centre[0].tap(f"ap:to:{cid}:dlh", picker)
        moved = await dlh[0].next_matching("JMB-")
        assert any(p.startswith("st:accept:") for p in payloads(moved))
        await citizen.next_matching("diterima oleh")
        expected = ("baru", "dlh", "reassigned")
    await eventually(lambda: not list(current(world, appeal).buttons()))
    complaint = await the_complaint(world)
    assert (complaint.status, complaint.agency, complaint.appeal_outcome) == expected
    assert complaint.appeal_reason == "Jalan ini jelas jalan kota, bukan jalan provinsi"
    if outcome != "uphold":  # back at work: a new resolve clock, not the one that ran out while it was closed
        assert complaint.resolve_round == 1 and complaint.due_at is not None and complaint.due_at > clock()
    assert "appeal" in await actions_of(world, cid)
    await citizen.tap(f"fu:appeal:{cid}", notice)  # only once
    await citizen.next_matching("sudah pernah" if outcome == "uphold" else "tidak sedang ditolak")


# --- WhatsApp -------------------------------------------------------------------------------------


async def test_whatsapp_answers_by_number(fu_world: tuple[World, Clock]) -> None:
    world, _clock = fu_world
    citizen = world.whatsapp_citizen()
    _staff, _card, question = await resolved(world, citizen)
    assert "1. ✅ Sudah" in text_of(question) and "2. ❌ Belum" in text_of(question)
    rating = await citizen.say("1")
    assert "5. ⭐⭐⭐⭐⭐" in text_of(rating)
    comment = await citizen.say("4")
    assert "Lewati" in text_of(comment)
    await citizen.say("1")  # ⏭️ Lewati
    complaint = await the_complaint(world)
    assert (complaint.confirmation, complaint.rating, complaint.rating_comment) == ("yes", 4, None)


async def test_whatsapp_belum_by_number_with_a_photo_reopens(fu_world: tuple[World, Clock]) -> None:
    world, _clock = fu_world
    citizen = world.whatsapp_citizen()
    staff, _card, _question = await resolved(world, citizen)
    asked = await citizen.say("2")  # ❌ Belum
    assert "masih salah" in text_of(asked)
    await citizen.say("Airnya masih menggenang di ujung jalan")
    kept = await citizen.photo(make_jpeg(gray=40))
    assert "1. 📨 Kirim" in text_of(kept) and "1 foto" in text_of(kept)
    done = await citizen.say("1")
    assert "dibuka kembali" in text_of(done).lower()
    quote = await staff[0].next_matching("Airnya masih menggenang")
    assert quote.photo
    assert (await the_complaint(world)).status == "dibuka_kembali"


async def _age(world: World, citizen: WhatsAppPerson, hours: float) -> None:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        row = (await uow.session.execute(select(Citizen).where(Citizen.channel_user_id == citizen.number))).scalar_one()
        assert row.last_inbound_at is not None
        row.last_inbound_at = row.last_inbound_at - timedelta(hours=hours)
        await uow.commit()


async def test_whatsapp_outside_the_window_asks_with_the_template(
    server: TelegramServer, twilio: TwilioServer, config: AppConfig, database_url: str, tmp_path: Path
) -> None:
    sid = "HX" + "f" * 32
    config = no_proof(config, resolution_template=TemplateConfig(content_sid={"id": sid}))
    app = await start_app(tmp_path, server, config, database_url, twilio=twilio)
    try:
        world = World(server=server, app=app, config=config, tmp=tmp_path, twilio=twilio)
        citizen = world.whatsapp_citizen()
        staff, card = await filed(world, citizen)
        await to_status(world, staff[0], card, "accept", "process")
        await outbox_settled(world)
        await _age(world, citizen, 30)
        twilio.advance(30)
        await to_status(world, staff[0], card, "resolve")
        sent = await twilio.wait_for_message(citizen.number, lambda m: m.content_sid == sid, timeout=10)
        number = (await the_complaint(world)).number
        assert f'"1": "{number}"' in (sent.content_variables or "")
        await citizen.send(None, button_payload=f"fu:yes:{number}", button_text="✅ Sudah")  # the Quick Reply
        rating = await citizen.next_matching("bintang")
        assert "1. ⭐" in text_of(rating)
        await citizen.say("5")
        complaint = await the_complaint(world)
        assert (complaint.confirmation, complaint.rating) == ("yes", 5)
    finally:
        await app.stop()


async def test_whatsapp_outside_the_window_without_a_template_asks_when_the_citizen_writes(
    fu_world: tuple[World, Clock],
) -> None:
    world, _clock = fu_world
    assert world.twilio is not None
    citizen = world.whatsapp_citizen()
    staff, card = await filed(world, citizen)
    await to_status(world, staff[0], card, "accept", "process")
    await outbox_settled(world)
    await _age(world, citizen, 30)
    world.twilio.advance(30)
    await to_status(world, staff[0], card, "resolve")
    await outbox_settled(world)
    assert not any(QUESTION in text_of(m) for m in world.twilio.messages_to(citizen.number)), "not in the window"
    await citizen.send("halo")
    question = await citizen.next_matching(QUESTION)
    assert "1. ✅ Sudah" in text_of(question)
    rating = await citizen.say("1")
    assert "bintang" in text_of(rating)
