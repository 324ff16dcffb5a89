"""Agency staff move complaints through their lifecycle from the group; citizens hear about it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services.staff import StaffActor, handle_staff_button
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads
from tests.e2e.proof_steps import PROMPT_WORDS, resolve_with_proof
from tests.e2e.test_filing import file_complaint

pytestmark = pytest.mark.e2e


async def filed(world: World, agency: str = "pupr", category: str = "jalan") -> tuple[Person, list[Person], StoredMessage]:
    staff = await world.agency_group(agency)
    citizen = world.citizen()
    await file_complaint(world, citizen, category=category)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)  # the card's message id is recorded before anyone replies to it
    return citizen, staff, card


def button(card: StoredMessage, action: str) -> str:
    return next(p for p in payloads(card) if p.startswith(f"st:{action}:"))



async def test_accept_process_resolve_edits_the_card_and_tells_the_citizen(world: World) -> None:
    citizen, staff, card = await filed(world)
    for action, status in (("accept", "diterima"), ("process", "diproses"), ("resolve", "selesai")):
        fresh = current(world, card)
        if action == "resolve":  # Selesai asks for the after photo first (jalan: required)
            await resolve_with_proof(world, staff[0], card)
        else:
            answer = await staff[0].tap(button(fresh, action), fresh)
            assert not answer.get("show_alert"), answer
        await eventually(lambda s=status: s in body(current(world, card)).lower())
        notice = await citizen.next()
        assert "JMB-" in body(notice)
    final = current(world, card)
    assert payloads(final) == [], "a resolved complaint has no more buttons"
    assert final.edited
    cards_posted = [m for m in world.server.bot_messages(card.chat_id) if "JMB-" in body(m) and PROMPT_WORDS not in body(m)]
    assert len(cards_posted) == 1, "edited, not reposted (the other message is the proof prompt)"
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        entries = (await uow.session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all()
        moves = [(e.action, e.from_status, e.to_status, e.actor_name) for e in entries if e.actor_kind == "staff"]
    assert moves == [
        ("accept", "baru", "diterima", "Budi"),
        ("process", "diterima", "diproses", "Budi"),
        ("resolve", "diproses", "selesai", "Budi"),
    ]


async def test_illegal_transition_is_refused_with_an_alert(world: World) -> None:
    citizen, staff, card = await filed(world)
    accept = button(card, "accept")
    await staff[0].tap(accept, card)
    await citizen.next()
    await eventually(lambda: not any(p.startswith("st:accept:") for p in payloads(current(world, card))))
    # a second "accept" (e.g. a colleague's client still showing the old buttons) is refused
    assert world.app.runtime is not None
    result = await handle_staff_button(
        world.app.runtime,
        chat_id=card.chat_id,
        actor=StaffActor(user_id=str(staff[1].user.id), name="Rina"),
        payload=accept,
        update_key=None,
    )
    assert result.alert is not None and result.alert.show_alert
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        assert complaint.status == "diterima"
        refused = (await uow.session.execute(select(AuditEntry).where(AuditEntry.refused.is_(True)))).scalars().all()
        assert [(e.action, e.actor_name) for e in refused] == [("accept", "Rina")]


async def test_reject_needs_a_reason_given_as_a_reply(world: World) -> None:
    citizen, staff, card = await filed(world)
    answer = await staff[0].tap(button(card, "reject"), card)
    assert answer.get("text")
    prompt = await staff[0].next()
    assert (prompt.reply_markup or {}).get("force_reply")
    await outbox_settled(world)
    staff[0].user.send_text("Lokasi di luar wilayah kota", chat=card.chat_id, reply_to=prompt.message_id)
    await eventually(lambda: "ditolak" in body(current(world, card)).lower())
    notice = await citizen.next()
    assert "Lokasi di luar wilayah kota" in body(notice)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        assert complaint.status == "ditolak" and complaint.reject_reason == "Lokasi di luar wilayah kota"


async def test_reassign_posts_a_fresh_card_and_the_old_one_says_where_it_went(world: World) -> None:
    citizen, staff, card = await filed(world)
    dishub = await world.agency_group("dishub", ("Dewi",))
    await staff[0].tap(button(card, "reassign"), card)
    picker = await eventually(lambda: "ra:" in " ".join(payloads(current(world, card))) and current(world, card))
    target = next(p for p in payloads(picker) if p.endswith(":dishub"))
    await staff[0].tap(target, picker)
    new_card = await dishub[0].next_matching("JMB-")
    assert any(p.startswith("st:accept:") for p in payloads(new_card))
    old = await eventually(lambda: payloads(current(world, card)) == [] and current(world, card))
    assert "Perhubungan" in body(old) or "Dishub" in body(old)
    notice = await citizen.next()
    assert "Perhubungan" in body(notice) or "Dishub" in body(notice)


async def test_outsider_button_press_is_refused(world: World) -> None:
    citizen, staff, card = await filed(world)
    outsider = world.server.create_user("Orang Luar")
    world.server.add_member(card.chat_id, outsider)
    world.server.remove_member(card.chat_id, outsider)  # left the group, still sees the old message
    query = outsider.press_button(card.message_id, button(card, "accept"), chat=card.chat_id)
    answer = await world.server.wait_callback_answer(query)
    assert answer.get("show_alert")
    assert "baru" in body(current(world, card)).lower()


async def test_reply_relay_both_ways(world: World) -> None:
    citizen, staff, card = await filed(world)
    staff[0].user.send_text("Mohon kirim patokan lokasi yang lebih jelas", chat=card.chat_id, reply_to=card.message_id)
    relayed = await citizen.next()
    assert "patokan lokasi" in body(relayed)
    await outbox_settled(world)
    citizen.user.send_text("Di depan Masjid Agung <b>Al-Falah</b>", reply_to=relayed.message_id)
    in_group = await staff[0].next_matching("Masjid Agung")
    assert in_group.reply_to_message_id == card.message_id
    assert "<b>" in body(in_group), "citizen text is escaped, shown literally"
    confirmation = await citizen.next()
    assert confirmation.text


async def test_blocked_citizen_is_recorded_not_retried_forever(world: World) -> None:
    citizen, staff, card = await filed(world)
    world.server.block_bot(citizen.user)
    await staff[0].tap(button(card, "accept"), card)
    from storage.models import Citizen, OutboxMessage

    async def failed() -> bool:
        async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
            rows = (await uow.session.execute(select(OutboxMessage).where(OutboxMessage.status == "failed"))).scalars().all()
            person = (await uow.session.execute(select(Citizen))).scalar_one()
            return bool(rows) and person.blocked_bot and "blocked" in (rows[0].last_error or "")

    for _ in range(100):
        if await failed():
            break
        import asyncio

        await asyncio.sleep(0.05)
    assert await failed()
    # staff see that the citizen was not told
    await eventually(lambda: "memblokir" in body(current(world, card)))
    # the citizen comes back: the next notice arrives and the warning goes away
    await citizen.say("/start")
    await staff[0].tap(button(current(world, card), "process"), current(world, card))
    await citizen.next_matching("JMB-")
    await eventually(lambda: "memblokir" not in body(current(world, card)))


async def test_group_migrated_to_supergroup_keeps_working(world: World) -> None:
    citizen, staff, card = await filed(world)
    new_id = world.server.migrate_to_supergroup(card.chat_id)
    await eventually(lambda: True)
    import asyncio

    await asyncio.sleep(0.3)  # the service message reaches the bot
    await file_complaint(world, citizen)
    second = await world.server.wait_for_message(new_id, lambda m: "JMB-" in body(m) and "000002" in body(m))
    assert second.chat_id == new_id


async def test_429_storm_delivers_everything_exactly_once(world: World) -> None:
    staff = await world.agency_group("pupr")
    world.server.inject_flood(retry_after=1, count=5)
    citizen = world.citizen()
    await file_complaint(world, citizen)
    card = await staff[0].next_matching("JMB-")
    assert card.photo
    await staff[0].quiet(0.3)
    cards = [m for m in world.server.bot_messages(card.chat_id) if "JMB-" in body(m)]
    assert len(cards) == 1
