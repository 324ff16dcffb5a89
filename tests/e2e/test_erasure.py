"""/hapusdata (WhatsApp: "hapus data saya") end to end, on both channels and both databases: the real
aiogram client against the local Telegram server, the real twilio client against the local Twilio server.

After the confirmation no table holds the citizen's name, username, Telegram id or phone number, nor
the words they wrote (every text and JSON column of every table is scanned); the complaint still new is
withdrawn (ditarik, its content gone, its follower told), the one in progress stays without a name on its
card, the WhatsApp messages are deleted at Twilio, and the same chat writing again is a new citizen.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiogram.types import BotCommandScopeAllPrivateChats
from sqlalchemy import func, select

from bot.delivery.telegram_send import NEUTRAL_JPEG
from storage.models import AuditEntry, Base, Citizen, Complaint, ComplaintFollower
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, body, choose, eventually, options, payloads, text_of
from tests.e2e.test_channels import JAMBI, summary_from, to_location_step

pytestmark = pytest.mark.e2e

KEPT = "Lampu jalan di gang Melati padam total sejak minggu lalu, gelap sekali"
WITHDRAWN = "Got mampet di belakang rumah Bu Ratna nomor tujuh, bau menyengat sekali"
CHAT = "Tolong kabari saya secepatnya ya pak, nomor rumah saya 17B"
NUMBER = "+6281377712345"


def _citizen(world: World, channel: str) -> tuple[Person | WhatsAppPerson, list[str]]:
    """A citizen whose name, username and id are unusual enough to be searched for in every column."""
    if channel == "whatsapp":
        wa = world.whatsapp_citizen("Kartini Wulandari", number=NUMBER)
        return wa, ["Kartini", "Wulandari", NUMBER.lstrip("+")]
    user = world.server.create_user("Kartini", last_name="Wulandari", username="kartini_wul")
    return Person(world.server, user), ["Kartini", "Wulandari", "kartini_wul", str(user.id)]


async def _file(citizen: Person | WhatsAppPerson, description: str, *, show_name: bool) -> str:
    """File a complaint the way the citizen does on their channel; returns its number."""
    await to_location_step(citizen, description=description)
    summary = await summary_from(citizen, await citizen.location(*JAMBI))
    def shown(text: str) -> bool:
        return "Nama Anda:" in text and "tidak ditampilkan" not in text

    if show_name != shown(text_of(summary)) and isinstance(citizen, Person):  # edited in place
        await citizen.tap("sum:name", summary)
        await eventually(lambda: show_name == shown(body(current_private(citizen, summary))))
    elif show_name != shown(text_of(summary)):
        summary = await choose(citizen, "nama saya")
        assert show_name == shown(text_of(summary)), text_of(summary)
    confirmation = text_of(await choose(citizen, "Kirim"))
    found = re.search(r"JMB-\d{4}-\d{6}", confirmation)
    assert found, confirmation
    return found.group(0)


def current_private(citizen: Person, message: Any) -> Any:
    return next(m for m in citizen.server.bot_messages(citizen.chat_id) if m.message_id == message.message_id)


async def _say(citizen: Person | WhatsAppPerson, telegram: str, whatsapp: str) -> Any:
    return await citizen.say(whatsapp if isinstance(citizen, WhatsAppPerson) else telegram)


async def _rows(world: World) -> list[tuple[str, str, str]]:
    """(table, column, value as text) of every non-empty text or JSON value in the database."""
    found: list[tuple[str, str, str]] = []
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        for table in Base.metadata.sorted_tables:
            for row in (await uow.session.execute(select(table))).mappings():
                for column, value in row.items():
                    if isinstance(value, str | dict | list) and value:
                        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
                        found.append((table.name, str(column), text))
    return found


def _hits(rows: list[tuple[str, str, str]], needles: list[str]) -> list[tuple[str, str, str]]:
    """Where any needle occurs (digits as a whole number, so a Telegram id is not found inside a hash)."""
    patterns = [re.compile(rf"(?<!\d){re.escape(n)}(?!\d)" if n.isdigit() else re.escape(n), re.IGNORECASE)
                for n in needles]
    return [(t, c, v[:120] + " … " + next((v[max(0, m.start() - 80):m.end() + 40] for p in patterns if (m := p.search(v))), "")) for t, c, v in rows if any(p.search(v) for p in patterns)]


async def test_erasure_leaves_nothing_of_the_citizen(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen, identity = _citizen(wa_world, channel)
    follower = wa_world.citizen("Darto")
    await follower.say("halo")

    # a complaint with the name shown, taken up by the agency
    kept = await _file(citizen, KEPT, show_name=True)
    card_kept = await staff[0].next_matching(kept)
    assert "Kartini" in body(card_kept)
    await outbox_settled(wa_world)
    accept = next(p for p in payloads(card_kept) if p.startswith("st:accept:"))
    await staff[0].tap(accept, card_kept)
    await citizen.next_matching(kept)
    # a complaint still new, followed by another citizen
    withdrawn = await _file(citizen, WITHDRAWN, show_name=False)
    card_withdrawn = await staff[0].next_matching(withdrawn)
    assert card_withdrawn.photo and "Got mampet" in body(card_withdrawn)
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaint = await uow.complaints.by_number(withdrawn)
        darto = (await uow.session.scalars(select(Citizen).where(Citizen.display_name == "Darto"))).one()
        assert complaint is not None and await uow.followers.add(complaint.id, darto.id)
        await uow.commit()
    await citizen.say(CHAT)
    await outbox_settled(wa_world)

    question = await _say(citizen, "/hapusdata", "hapus data saya")
    assert "Hapus data Anda?" in text_of(question) and "Yang tetap" in text_of(question)
    assert any("Ya, hapus data saya" in o for o in options(question))
    assert any("Tidak jadi" in o for o in options(question))
    done = await choose(citizen, "Ya, hapus")
    assert "Data Anda sudah dihapus" in text_of(done), text_of(done)
    assert withdrawn in text_of(done) and kept in text_of(done)

    told = await follower.next_matching(withdrawn)
    assert "ditarik" in text_of(told)
    await eventually(lambda: "Ditarik" in body(current(wa_world, card_withdrawn)))
    assert "mampet" not in body(current(wa_world, card_withdrawn))
    neutral = NEUTRAL_JPEG.read_bytes()
    await eventually(lambda: wa_world.server.state.files[
        current(wa_world, card_withdrawn).photo[-1]["file_id"]].data == neutral), "the photo is gone from the card"
    assert not payloads(current(wa_world, card_withdrawn)), "a withdrawn complaint's card has no buttons"
    await eventually(lambda: "Kartini" not in body(current(wa_world, card_kept)))
    assert "Lampu jalan" in body(current(wa_world, card_kept)), "the complaint in progress stays"
    await outbox_settled(wa_world, timeout=30)

    if isinstance(citizen, WhatsAppPerson):  # every message of the chat deleted at Twilio, the answer too
        twilio = wa_world.twilio
        assert twilio is not None
        await eventually(lambda: not twilio.stored_to(NUMBER) and not [
            p for p in twilio.received.values() if p.get("From") == f"whatsapp:{NUMBER}"], timeout=30)
        assert len(twilio.deleted) > 10
        await outbox_settled(wa_world, timeout=30)

    # the agency goes on with the complaint in progress: nobody is told, and the card warns of nothing
    heard = len(await citizen.quiet(0.1))
    await staff[0].tap(next(p for p in payloads(current(wa_world, card_kept)) if p.startswith("st:process:")),
                       current(wa_world, card_kept))
    await eventually(lambda: "Diproses" in body(current(wa_world, card_kept)))
    await outbox_settled(wa_world, timeout=30)
    assert not await citizen.quiet(0.3) and heard == 0, "an erased citizen hears nothing more"
    assert "tidak terkirim" not in body(current(wa_world, card_kept))

    rows = await _rows(wa_world)
    assert not _hits(rows, identity), _hits(rows, identity)
    assert not _hits(rows, [WITHDRAWN[:30], CHAT[:30]]), _hits(rows, [WITHDRAWN[:30], CHAT[:30]])
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        gone = await uow.complaints.by_number(withdrawn)
        stays = await uow.complaints.by_number(kept)
        assert gone is not None and stays is not None
        assert gone.status == "ditarik" and gone.photos == [] and gone.latitude is None
        assert stays.status == "diproses" and stays.reporter_name is None and stays.citizen_notice_error is None and stays.description == KEPT
        assert stays.photos, "the photos of a complaint in progress stay"
        erased = (await uow.session.scalars(select(Citizen).where(Citizen.erased_at.is_not(None)))).one()
        assert erased.display_name is None and erased.channel_user_id.startswith("#")
        audit = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "erasure"))).all()
        assert sorted(e.complaint_id or 0 for e in audit) == sorted([gone.id, stays.id])
        assert {(e.note, e.actor_kind, e.actor_id) for e in audit} == {(None, "citizen", None)}, "who, never what"
        assert not await uow.session.scalar(
            select(func.count()).select_from(ComplaintFollower).where(ComplaintFollower.citizen_id == erased.id))

    # the same chat writing again is somebody new
    greeting = await citizen.say("halo")
    assert any("Buat Pengaduan" in o for o in options(greeting)), text_of(greeting)
    mine = await _say(citizen, "/laporan", "laporan saya")
    assert kept not in text_of(mine) and withdrawn not in text_of(mine)
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        assert await uow.session.scalar(select(func.count()).select_from(Citizen)) == 3


async def test_changing_ones_mind_keeps_everything(wa_world: World, channel: str) -> None:
    await wa_world.agency_group("pupr")
    citizen, identity = _citizen(wa_world, channel)
    number = await _file(citizen, WITHDRAWN, show_name=False)
    await outbox_settled(wa_world)
    await _say(citizen, "/hapusdata", "hapus data saya")
    kept = await choose(citizen, "Tidak jadi")
    assert "Tidak jadi. Data Anda tetap tersimpan." in text_of(kept)
    await outbox_settled(wa_world)
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaint = await uow.complaints.by_number(number)
        assert complaint is not None and complaint.status == "baru" and complaint.description == WITHDRAWN
        citizen_row = await uow.citizens.get(complaint.citizen_id)
        assert citizen_row is not None and citizen_row.erased_at is None
        assert citizen_row.channel_user_id == identity[-1] or citizen_row.channel_user_id == NUMBER
        assert not (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "erasure"))).all()
    mine = await _say(citizen, "/laporan", "laporan saya")
    assert number in text_of(mine)


async def test_a_second_confirm_says_it_is_done_and_erases_once(world: World) -> None:
    assert world.app.bot is not None
    menu = await world.app.bot.get_my_commands(scope=BotCommandScopeAllPrivateChats())
    assert any(c.command == "hapusdata" and "Hapus data" in c.description for c in menu), "in the command menu"
    await world.agency_group("pupr")
    citizen, identity = _citizen(world, "telegram")
    assert isinstance(citizen, Person)
    number = await _file(citizen, WITHDRAWN, show_name=False)
    await outbox_settled(world)
    question = await citizen.say("/hapusdata")
    confirm = next(p for p in payloads(question) if p == "erase:yes")
    first = await citizen.tap_and_read(confirm, question)
    assert "Data Anda sudah dihapus" in body(first) and number in body(first)
    await outbox_settled(world)
    second = await citizen.tap_and_read(confirm, question)  # the old button, pressed again
    assert "sudah dihapus sebelumnya" in body(second), body(second)
    await outbox_settled(world)
    rows = await _rows(world)
    assert not _hits(rows, identity), _hits(rows, identity)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        audit = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "erasure"))).all()
        assert len(audit) == 1, "erased once"
        complaint = (await uow.session.scalars(select(Complaint))).one()
        assert complaint.status == "ditarik"
        withdrawals = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.action == "withdraw"))).all()
        assert len(withdrawals) == 1


async def test_a_reassigned_complaint_loses_the_name_on_its_old_card_too(world: World) -> None:
    staff = await world.agency_group("pupr")
    dishub = await world.agency_group("dishub", ("Wati",))
    citizen, _identity = _citizen(world, "telegram")
    assert isinstance(citizen, Person)
    number = await _file(citizen, KEPT, show_name=True)
    card = await staff[0].next_matching(number)
    await outbox_settled(world)
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
    await eventually(lambda: not any(p.startswith("st:accept:") for p in payloads(current(world, card))))
    await outbox_settled(world)
    await staff[0].tap(next(p for p in payloads(current(world, card)) if p.startswith("st:reassign:")),
                       current(world, card))
    picker = await eventually(lambda: "ra:" in " ".join(payloads(current(world, card))) and current(world, card))
    await staff[0].tap(next(p for p in payloads(picker) if p.endswith(":dishub")), picker)
    fresh = await dishub[0].next_matching(number)
    assert "Kartini" in body(fresh)
    await eventually(lambda: "Dialihkan" in body(current(world, card)) and "Kartini" in body(current(world, card)))
    await outbox_settled(world)
    await dishub[0].tap(next(p for p in payloads(fresh) if p.startswith("st:accept:")), fresh)  # in progress there
    await eventually(lambda: "Diterima" in body(current(world, fresh)))
    await outbox_settled(world)
    citizen.user.send_text("/hapusdata")
    await citizen.next_matching("Hapus data Anda?")
    await choose(citizen, "Ya, hapus")
    await eventually(lambda: "Kartini" not in body(current(world, fresh)))
    await eventually(lambda: "Kartini" not in body(current(world, card)))
    assert "Dialihkan" in body(current(world, card)) and "Lampu jalan" in body(current(world, fresh))
    # an alias of this complaint alone, never the stable "Warga #…" that would link the person's complaints
    assert "Anonim #" in body(current(world, fresh)) and "Warga #" not in body(current(world, fresh))


async def test_deleting_at_twilio_is_retried_and_never_holds_the_erasure_up(wa_world: World) -> None:
    twilio = wa_world.twilio
    assert twilio is not None
    citizen = wa_world.whatsapp_citizen("Kartini Wulandari", number=NUMBER)
    await citizen.say("halo")
    await citizen.say(CHAT)
    await outbox_settled(wa_world)
    await citizen.say("hapus data saya")
    twilio.fail_network(2)  # the first calls after the confirmation do not get through
    done = await choose(citizen, "Ya, hapus")
    assert "Data Anda sudah dihapus" in text_of(done), "the erasure does not wait for Twilio"
    twilio.inject_rate_limit(3)  # then Twilio is busy for a while: 429
    await eventually(lambda: not twilio.stored_to(NUMBER) and not [
        p for p in twilio.received.values() if p.get("From") == f"whatsapp:{NUMBER}"], timeout=40)
    assert twilio.rate_limited == 0 and twilio.network_failures == 0, "the faults were met and retried"
    await outbox_settled(wa_world, timeout=30)
    rows = await _rows(wa_world)
    assert not _hits(rows, ["Kartini", "Wulandari", NUMBER.lstrip("+"), CHAT[:30]])
