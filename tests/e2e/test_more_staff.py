"""More of the agency side, end to end: linking with bad codes, presses on cards that moved or on
buttons a colleague's stale client still shows, and group chatter that must not reach citizens."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from localapi.telegram.simulation import SimUser
from localapi.telegram.state import CallbackRecord, StoredMessage
from storage.models import AuditEntry, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads
from tests.e2e.proof_steps import resolve_with_proof
from tests.e2e.test_more_conversation import current, draft_to_summary, send_summary

pytestmark = pytest.mark.e2e


# --- helpers --------------------------------------------------------------------------------------


def press_stale(world: World, user: SimUser, message: StoredMessage, payload: str) -> str:
    """A press of a button the message no longer shows (or never showed): what Telegram delivers
    when a colleague's client still displays an old version of the card. Returns the query id."""
    state = world.server.state
    query_id = str(secrets.randbits(63))
    state.callbacks[query_id] = CallbackRecord(
        id=query_id, user=user.record, message=message, data=payload, created=time.monotonic()
    )
    state.push_update(
        "callback_query",
        {
            "id": query_id,
            "from": user.to_dict(),
            "message": message.to_dict(),
            "chat_instance": str(abs(message.chat_id)),
            "data": payload,
        },
    )
    return query_id


def button(card: StoredMessage, action: str) -> str:
    return next(p for p in payloads(card) if p.startswith(f"st:{action}:"))


async def filed_in(world: World, agency: str = "pupr", category: str = "jalan") -> tuple[Person, list[Person], StoredMessage]:
    staff = await world.agency_group(agency)
    citizen = world.citizen()
    await draft_to_summary(citizen, category=category)
    number = await send_summary(citizen)
    card = await staff[0].next_matching(number)
    await outbox_settled(world)
    return citizen, staff, card


@dataclass(frozen=True)
class Audit:
    action: str
    actor_name: str | None
    from_status: str | None
    to_status: str | None
    refused: bool
    note: str | None


async def audit(world: World) -> list[Audit]:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        rows = (await uow.session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
        return [Audit(e.action, e.actor_name, e.from_status, e.to_status, e.refused, e.note) for e in rows]


async def complaint_state(world: World) -> tuple[str, str]:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        return complaint.status, complaint.agency


def new_group(world: World, title: str, names: tuple[str, ...] = ("Budi",)) -> list[Person]:
    users = [world.server.create_user(n) for n in names]
    group = world.server.create_group(title, users, admins=users[:1])
    return [Person(world.server, u, group.id) for u in users]


# --- /link ----------------------------------------------------------------------------------------


async def test_link_with_a_wrong_code_fails_politely(world: World) -> None:
    (admin,) = new_group(world, "Grup PUPR")
    welcome = await admin.next()
    assert "/link" in body(welcome), "the bot explains how to link when added"
    failed = await admin.say("/link ZZZZ2222")
    assert "tidak valid" in body(failed) or "kedaluwarsa" in body(failed)
    usage = await admin.say("/link")
    assert "/link KODE" in body(usage)
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        assert await uow.agencies.agency_for_chat(admin.chat_id) is None


async def test_link_with_an_expired_code_fails(world: World) -> None:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        code = await uow.agencies.create_link_code(
            "pupr", ttl=timedelta(minutes=60), now=datetime.now(UTC) - timedelta(minutes=61)
        )
        await uow.commit()
    (admin,) = new_group(world, "Grup PUPR")
    await admin.next()
    failed = await admin.say(f"/link {code}")
    assert "kedaluwarsa" in body(failed)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        assert await uow.agencies.group_for("pupr") is None


async def test_a_used_code_does_not_link_a_second_group(world: World) -> None:
    from bot.services.staff import create_link_code

    assert world.app.runtime is not None
    code = await create_link_code(world.app.runtime, "pupr")
    (first,) = new_group(world, "Grup PUPR")
    await first.next()
    linked = await first.say(f"/link {code}")
    assert "terhubung" in body(linked) and "Pekerjaan Umum" in body(linked)
    (second,) = new_group(world, "Grup lain", ("Tono",))
    await second.next()
    failed = await second.say(f"/link {code}")
    assert "tidak valid" in body(failed)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        group = await uow.agencies.group_for("pupr")
        assert group is not None and group.chat_id == first.chat_id
        assert await uow.agencies.agency_for_chat(second.chat_id) is None


# --- presses that must be refused -----------------------------------------------------------------


async def test_accept_on_the_old_card_after_reassignment_is_refused_and_audited(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    dishub = await world.agency_group("dishub", ("Dewi",))
    accept_on_old_card = button(card, "accept")
    await staff[0].tap(button(card, "reassign"), card)
    picker = await eventually(lambda: "ra:" in " ".join(payloads(current(world, card))) and current(world, card))
    await staff[0].tap(next(p for p in payloads(picker) if p.endswith(":dishub")), picker)
    new_card = await dishub[0].next_matching("JMB-")
    await eventually(lambda: payloads(current(world, card)) == [])
    await citizen.next()  # "moved to Dishub"

    # Rina's client still shows the old card with its buttons
    answer = await world.server.wait_callback_answer(press_stale(world, staff[1].user, card, accept_on_old_card))
    assert answer.get("show_alert")
    assert "dialihkan" in answer.get("text", "") and "Perhubungan" in answer.get("text", "")
    assert await complaint_state(world) == ("baru", "dishub")
    assert "baru" in body(current(world, new_card)).lower(), "the new card is untouched"
    refused = [e for e in await audit(world) if e.refused]
    assert [(e.action, e.actor_name, e.from_status) for e in refused] == [("accept", "Rina", "baru")]
    assert await citizen.quiet(0.3) == [], "a refused press tells the citizen nothing"

    # the new owner can act
    answer = await dishub[0].tap(button(new_card, "accept"), new_card)
    assert not answer.get("show_alert")
    await eventually(lambda: "diterima" in body(current(world, new_card)).lower())


async def test_resolving_a_new_complaint_is_refused_with_an_alert(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    assert not any(p.startswith("st:resolve:") for p in payloads(card)), "a new card has no resolve button"
    complaint_id = button(card, "accept").rsplit(":", 1)[1]
    for action in ("resolve", "process"):
        query = press_stale(world, staff[0].user, card, f"st:{action}:{complaint_id}")
        answer = await world.server.wait_callback_answer(query)
        assert answer.get("show_alert"), answer
        assert "dulu" in answer.get("text", ""), answer  # "process/accept it first"
    assert await complaint_state(world) == ("baru", "pupr")
    assert "baru" in body(current(world, card)).lower()
    refused = [(e.action, e.actor_name, e.from_status, e.to_status) for e in await audit(world) if e.refused]
    assert refused == [("resolve", "Budi", "baru", None), ("process", "Budi", "baru", None)]
    assert await citizen.quiet(0.3) == []


async def test_a_button_for_a_complaint_that_does_not_exist(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    answer = await world.server.wait_callback_answer(press_stale(world, staff[0].user, card, "st:accept:99999"))
    assert answer.get("show_alert") and "tidak ditemukan" in answer.get("text", "")
    garbage = await world.server.wait_callback_answer(press_stale(world, staff[0].user, card, "st:fly:1"))
    assert garbage.get("show_alert")
    assert await complaint_state(world) == ("baru", "pupr")


async def test_a_resolved_complaint_cannot_be_reopened(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    accept = button(card, "accept")
    for action, status in (("accept", "diterima"), ("process", "diproses"), ("resolve", "selesai")):
        fresh = current(world, card)
        if action == "resolve":  # Selesai asks for the after photo first (tests/e2e/proof_steps.py)
            await resolve_with_proof(world, staff[0], card)
        else:
            await staff[0].tap(button(fresh, action), fresh)
        await eventually(lambda s=status: s in body(current(world, card)).lower())
        await citizen.next()
    answer = await world.server.wait_callback_answer(press_stale(world, staff[1].user, card, accept))
    assert answer.get("show_alert") and "selesai" in answer.get("text", "")
    reject = accept.replace(":accept:", ":reject:")
    answer = await world.server.wait_callback_answer(press_stale(world, staff[1].user, card, reject))
    assert answer.get("show_alert")
    assert await staff[0].quiet(0.3) == [], "no rejection prompt for a closed complaint"
    assert (await complaint_state(world))[0] == "selesai"
    assert [e.action for e in await audit(world) if e.refused] == ["accept", "reject"]


# --- replies in the group -------------------------------------------------------------------------


async def test_staff_reply_to_an_unrelated_bot_message_is_not_relayed(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    confirmation = next(m for m in world.server.bot_messages(card.chat_id) if "terhubung" in body(m))
    staff[0].user.send_text("Siap, terima kasih botnya", chat=card.chat_id, reply_to=confirmation.message_id)
    ordinary = world.server.create_user("Tamu")
    world.server.add_member(card.chat_id, ordinary)
    ordinary.send_text("Halo semua", chat=card.chat_id)
    staff[1].user.send_text("Ini balasan ke pesan teman", chat=card.chat_id, reply_to=confirmation.message_id)
    assert await citizen.quiet(0.6) == [], "nothing reaches the citizen"
    assert await staff[0].quiet(0.1) == [], "and the bot says nothing in the group"
    assert not [e for e in await audit(world) if e.action == "staff_reply"]

    # a real reply to the card still works afterwards
    staff[0].user.send_text("Petugas menuju lokasi", chat=card.chat_id, reply_to=card.message_id)
    relayed = await citizen.next()
    assert "Petugas menuju lokasi" in body(relayed)


async def test_reply_to_the_relay_acknowledgement_is_not_relayed_again(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    staff[0].user.send_text("Mohon kirim patokan lokasi", chat=card.chat_id, reply_to=card.message_id)
    await citizen.next()
    ack = await staff[0].next_matching("diteruskan")
    await outbox_settled(world)
    staff[0].user.send_text("ok", chat=card.chat_id, reply_to=ack.message_id)
    assert await citizen.quiet(0.5) == []
    assert len([e for e in await audit(world) if e.action == "staff_reply"]) == 1


async def test_double_tap_on_accept_changes_the_status_once(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    accept = button(card, "accept")
    # Budi and Rina tap "accept" at the same moment, both still seeing the new card
    first = staff[0].user.press_button(card.message_id, accept, chat=card.chat_id)
    second = staff[1].user.press_button(card.message_id, accept, chat=card.chat_id)
    answers = [await world.server.wait_callback_answer(q, timeout=10) for q in (first, second)]
    assert [bool(a.get("show_alert")) for a in answers] == [False, True]
    notice = await citizen.next()
    assert "diterima" in body(notice).lower()
    assert await citizen.quiet(0.4) == [], "the citizen hears about it once"
    entries = await audit(world)
    assert [(e.action, e.refused) for e in entries if e.action == "accept"] == [("accept", False), ("accept", True)]
    assert await complaint_state(world) == ("diterima", "pupr")


async def test_reply_on_the_old_card_after_reassignment_is_refused_in_the_group(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    dishub = await world.agency_group("dishub", ("Dewi",))
    await staff[0].tap(button(card, "reassign"), card)
    picker = await eventually(lambda: "ra:" in " ".join(payloads(current(world, card))) and current(world, card))
    await staff[0].tap(next(p for p in payloads(picker) if p.endswith(":dishub")), picker)
    await dishub[0].next_matching("JMB-")
    await citizen.next()
    await outbox_settled(world)
    staff[0].user.send_text("Kami cek besok", chat=card.chat_id, reply_to=card.message_id)
    refusal = await staff[0].next_matching("dialihkan")
    assert refusal.reply_to_message_id is not None
    assert await citizen.quiet(0.4) == [], "the old agency cannot talk to the citizen any more"
    assert [e.action for e in await audit(world) if e.refused] == ["reply"]


async def test_a_second_reason_for_a_rejected_complaint_is_refused(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    await staff[0].tap(button(card, "reject"), card)
    prompt = await staff[0].next()
    assert (prompt.reply_markup or {}).get("force_reply")
    await outbox_settled(world)
    staff[0].user.send_text("Di luar wilayah kota", chat=card.chat_id, reply_to=prompt.message_id)
    await eventually(lambda: "ditolak" in body(current(world, card)).lower())
    notice = await citizen.next()
    assert "Di luar wilayah kota" in body(notice)
    await outbox_settled(world)
    staff[1].user.send_text("Bukan kewenangan kita", chat=card.chat_id, reply_to=prompt.message_id)
    refusal = await staff[1].next_matching("ditolak")
    assert "sudah ditolak" in body(refusal)
    assert await citizen.quiet(0.4) == []
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        assert complaint.reject_reason == "Di luar wilayah kota"


async def test_relinking_an_agency_to_a_new_group_moves_its_open_cards(world: World) -> None:
    """The agency's old group was abandoned (or compromised): the admin links a new group. The open
    complaints must be workable there, and the old group must lose its buttons."""
    from bot.services.staff import create_link_code

    citizen, old_staff, old_card = await filed_in(world)
    old_accept = button(old_card, "accept")
    assert world.app.runtime is not None
    (admin, colleague) = new_group(world, "PUPR baru", ("Sari", "Joko"))
    await admin.next()
    code = await create_link_code(world.app.runtime, "pupr")
    admin.user.send_text(f"/link {code}", chat=admin.chat_id)
    await admin.next_matching("terhubung")
    new_card = await admin.next_matching("JMB-")
    assert any(p.startswith("st:accept:") for p in payloads(new_card)), "the open complaint is here now"
    await eventually(lambda: payloads(current(world, old_card)) == [])
    assert "tidak aktif" in body(current(world, old_card))

    answer = await world.server.wait_callback_answer(
        press_stale(world, old_staff[0].user, old_card, old_accept)
    )
    assert answer.get("show_alert"), "the old group cannot act any more"
    assert await complaint_state(world) == ("baru", "pupr")
    await outbox_settled(world)
    old_staff[0].user.send_text("Masih bisa balas?", chat=old_card.chat_id, reply_to=old_card.message_id)
    await old_staff[0].next_matching("dialihkan")
    assert await citizen.quiet(0.3) == [], "nor talk to the citizen"

    await outbox_settled(world)
    answer = await admin.tap(button(new_card, "accept"), new_card)
    assert not answer.get("show_alert")
    await eventually(lambda: "diterima" in body(current(world, new_card)).lower())
    assert "diterima" in body(await citizen.next()).lower()


async def test_a_group_relinked_to_another_agency_loses_its_old_cards(world: World) -> None:
    """The PUPR group is re-linked to Dishub: Dishub's members must not act on PUPR's complaints."""
    from bot.services.staff import create_link_code

    _citizen, staff, card = await filed_in(world)
    assert world.app.runtime is not None
    code = await create_link_code(world.app.runtime, "dishub")
    staff[0].user.send_text(f"/link {code}", chat=card.chat_id)
    await staff[0].next_matching("Perhubungan")
    await outbox_settled(world)
    answer = await world.server.wait_callback_answer(press_stale(world, staff[0].user, card, button(card, "accept")))
    assert answer.get("show_alert")
    assert await complaint_state(world) == ("baru", "pupr")
    assert any(a.refused and a.action == "accept" for a in await audit(world))


async def test_a_sticker_under_the_rejection_prompt_asks_for_the_reason_again(world: World) -> None:
    citizen, staff, card = await filed_in(world)
    await staff[0].tap(button(card, "reject"), card)
    prompt = await staff[0].next()
    await outbox_settled(world)
    sticker = {"file_id": "CAACAgIAAxkBAAstk", "file_unique_id": "stk1", "type": "regular",
               "width": 512, "height": 512, "is_animated": False, "is_video": False}
    # a sticker sent as a reply to the prompt (the simulated client has no reply option for stickers)
    world.server.user_message(staff[0].user, card.chat_id, prompt.message_id, extra={"sticker": sticker})
    again = await staff[0].next()
    assert (again.reply_markup or {}).get("force_reply") and "alasan" in body(again).lower()
    assert await complaint_state(world) == ("baru", "pupr")
    assert await citizen.quiet(0.3) == []


async def test_a_photo_under_a_card_reaches_the_citizen_as_a_photo(world: World) -> None:
    """(More in tests/e2e/test_photo_replies.py: captions, WhatsApp, files, stickers.)"""
    citizen, staff, card = await filed_in(world)
    staff[0].user.send_photo(chat=card.chat_id, reply_to=card.message_id)
    relayed = await citizen.next()
    assert relayed.photo and "JMB-" in body(relayed)


async def test_a_rejection_reason_too_long_for_the_citizens_notice_is_refused_and_a_shorter_one_works(
    world: World,
) -> None:
    """The reason goes into the citizen's notice, one Telegram message (4096): a 4000-character reason
    would make that notice fail for good and the citizen would never hear. Refused with the limit named;
    the prompt stays open for a shorter reason."""
    citizen, staff, card = await filed_in(world)
    await staff[0].tap(button(card, "reject"), card)
    prompt = await staff[0].next()
    await outbox_settled(world)
    staff[0].user.send_text("Alasan panjang sekali. " * 180, chat=card.chat_id, reply_to=prompt.message_id)
    refusal = await staff[0].next_matching("terlalu panjang")
    assert "1000" in body(refusal)
    assert "baru" in body(current(world, card)).lower()
    assert await citizen.quiet(0.4) == []
    staff[0].user.send_text("Di luar wilayah kota", chat=card.chat_id, reply_to=prompt.message_id)
    await eventually(lambda: "ditolak" in body(current(world, card)).lower())
    notice = await citizen.next()
    assert "Di luar wilayah kota" in body(notice)
