"""Staff who leave the agency's group lose their power at once, and every refused attempt is audited.

With the bot an administrator, Telegram sends ``chat_member`` updates: a removal is recorded before the
removed clerk's next press is processed, and no getChatMember is needed. With the bot a plain member,
Telegram is asked (getChatMember) before every change.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from bot.services.staff import StaffActor, handle_non_member
from localapi.telegram.simulation import SimUser
from localapi.telegram.state import CallbackRecord, StoredMessage
from storage.membership import GroupMemberRepo
from storage.models import AuditEntry, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads
from tests.e2e.proof_steps import resolve_with_proof
from tests.e2e.test_channels import file_on

pytestmark = pytest.mark.e2e

GET_CHAT_MEMBER = "getChatMember"


@dataclass(frozen=True)
class Refused:
    action: str
    actor_name: str | None
    complaint_id: int | None
    note: str | None


def button(card: StoredMessage, action: str) -> str:
    return next(p for p in payloads(card) if p.startswith(f"st:{action}:"))


async def filed(world: World, *, bot_admin: bool) -> tuple[Person, list[Person], StoredMessage]:
    staff = await world.agency_group("pupr", bot_admin=bot_admin)
    citizen = world.citizen("Ani")
    await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)
    return citizen, staff, card


async def refused(world: World) -> list[Refused]:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        rows = (await uow.session.execute(select(AuditEntry).where(AuditEntry.refused.is_(True)).order_by(AuditEntry.id)))
        return [Refused(e.action, e.actor_name, e.complaint_id, e.note) for e in rows.scalars()]


@dataclass(frozen=True)
class Filed:
    id: int
    status: str


async def complaint(world: World) -> Filed:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        found = (await uow.session.execute(select(Complaint))).scalar_one()
        return Filed(found.id, found.status)


async def bot_status(world: World, chat_id: int) -> str | None:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        return await GroupMemberRepo(uow.session).bot_status(chat_id)


def asked(world: World) -> int:
    return world.server.calls[GET_CHAT_MEMBER]


def press_anyway(world: World, user: SimUser, message: StoredMessage, payload: str) -> str:
    """A press Telegram delivers whatever the message shows (an old client, a forged payload)."""
    query_id = str(secrets.randbits(63))
    world.server.state.callbacks[query_id] = CallbackRecord(
        id=query_id, user=user.record, message=message, data=payload, created=time.monotonic()
    )
    world.server.state.push_update("callback_query", {
        "id": query_id, "from": user.to_dict(), "message": message.to_dict(),
        "chat_instance": str(abs(message.chat_id)), "data": payload,
    })
    return query_id


def reply_from_outside(world: World, user: SimUser, card: StoredMessage, text: str) -> None:
    """A reply under the card from someone who is no longer in the group (e.g. it was sent as they were
    removed); the simulated app would not let them type, so the update is delivered directly."""
    chat = world.server.group(card.chat_id)
    message = world.server.state.add_message(chat, user.record, reply_to=card, text=text, html=text, entities=[])
    world.server.state.push_update("message", message.to_dict())


async def work(world: World, clerk: Person, card: StoredMessage, action: str, status: str) -> None:
    if action == "resolve":  # Selesai asks for the after photo first (tests/e2e/proof_steps.py)
        await resolve_with_proof(world, clerk, card)
        return
    fresh = current(world, card)
    answer = await clerk.tap(button(fresh, action), fresh)
    assert not answer.get("show_alert"), answer
    await eventually(lambda: status in body(current(world, card)).lower())


# --- (a) the bot is an administrator: a removal is known at once, without asking Telegram -------------


async def test_admin_bot_a_removed_clerk_is_refused_at_once_without_asking(world: World) -> None:
    citizen, (budi, rina), card = await filed(world, bot_admin=True)
    await work(world, rina, card, "accept", "diterima")  # Rina works; Telegram was asked about her once
    await citizen.next_matching("diterima")
    before = asked(world)

    world.server.remove_member(card.chat_id, rina.user)
    await asyncio.sleep(0.1)
    fresh = current(world, card)
    answer = await rina.tap(button(fresh, "process"), fresh)

    assert answer.get("show_alert") and "anggota" in answer.get("text", ""), answer
    assert asked(world) == before, "the chat_member update said it: no getChatMember"
    assert (await complaint(world)).status == "diterima"
    assert "diterima" in body(current(world, card)).lower()
    (entry,) = await refused(world)
    assert (entry.action, entry.actor_name, entry.complaint_id) == ("process", "Rina", (await complaint(world)).id)
    assert entry.note is not None and "anggota" in entry.note and str(card.chat_id) in entry.note
    assert await citizen.quiet(0.3) == [], "a refused press tells the citizen nothing"


# --- (b) the bot is a plain member: Telegram is asked before every change ------------------------------


async def test_member_bot_asks_telegram_before_a_removed_clerk_changes_anything(world: World) -> None:
    citizen, (budi, rina), card = await filed(world, bot_admin=False)
    await work(world, rina, card, "accept", "diterima")
    await citizen.next_matching("diterima")
    before = asked(world)

    world.server.remove_member(card.chat_id, rina.user)
    await asyncio.sleep(0.1)
    fresh = current(world, card)
    answer = await rina.tap(button(fresh, "process"), fresh)

    assert answer.get("show_alert") and "anggota" in answer.get("text", ""), answer
    assert asked(world) > before, "getChatMember was asked before the status change"
    assert (await complaint(world)).status == "diterima"
    assert [(e.action, e.actor_name) for e in await refused(world)] == [("process", "Rina")]

    # a member's change is asked about too, and goes through
    before = asked(world)
    await work(world, budi, card, "process", "diproses")
    assert asked(world) > before


# --- (c) two clerks: one removed, the other keeps working -----------------------------------------------


async def test_one_clerk_removed_the_other_keeps_working(world: World) -> None:
    citizen, (budi, rina), card = await filed(world, bot_admin=True)
    await work(world, budi, card, "accept", "diterima")
    await citizen.next_matching("diterima")
    world.server.remove_member(card.chat_id, rina.user)
    await asyncio.sleep(0.1)

    fresh = current(world, card)
    assert (await rina.tap(button(fresh, "process"), fresh)).get("show_alert")
    await work(world, budi, card, "process", "diproses")
    assert "sedang ditangani" in body(await citizen.next_matching("JMB-"))

    # her reply under the card does not reach the citizen either, and is audited with the complaint
    reply_from_outside(world, rina.user, current(world, card), "Saya masih di sini")
    # and a forged press names no complaint: audited all the same
    answer = await world.server.wait_callback_answer(press_anyway(world, rina.user, current(world, card), "st:fly:1"))
    assert answer.get("show_alert")
    assert await citizen.quiet(0.5) == []
    number = (await complaint(world)).id
    rows = await refused(world)
    assert [(e.action, e.actor_name, e.complaint_id) for e in rows] == [
        ("process", "Rina", number),
        ("reply", "Rina", number),
        ("unknown", "Rina", None),
    ]
    assert "st:fly:1" in (rows[-1].note or "")
    await work(world, budi, card, "resolve", "selesai")


async def test_a_redelivered_refusal_is_audited_once(world: World) -> None:
    citizen, (budi, rina), card = await filed(world, bot_admin=True)
    assert world.app.runtime is not None
    actor = StaffActor(user_id=str(rina.user.id), name="Rina")
    payload = button(card, "accept")
    for _ in range(2):
        await handle_non_member(world.app.runtime, chat_id=card.chat_id, actor=actor, payload=payload, update_key="tg:77")
    assert [(e.action, e.actor_name) for e in await refused(world)] == [("accept", "Rina")]


# --- (d) /link asks for the bot to be made an administrator ----------------------------------------------


async def test_link_asks_to_make_the_bot_an_administrator_unless_it_is_one(world: World) -> None:
    member_group = await world.agency_group("pupr")
    confirmation = next(m for m in world.server.bot_messages(member_group[0].chat_id) if "terhubung" in body(m))
    assert "admin" in body(confirmation) and "Satu langkah lagi" in body(confirmation), body(confirmation)
    assert await bot_status(world, member_group[0].chat_id) == "member"

    admin_group = await world.agency_group("dishub", ("Dewi",), bot_admin=True)
    confirmation = next(m for m in world.server.bot_messages(admin_group[0].chat_id) if "terhubung" in body(m))
    assert "semua siap" in body(confirmation) and "Satu langkah lagi" not in body(confirmation), body(confirmation)
    assert await bot_status(world, admin_group[0].chat_id) == "administrator"


# --- (e) the bot's own status follows my_chat_member -------------------------------------------------------


async def test_the_bots_status_is_recorded_from_my_chat_member(world: World) -> None:
    staff = await world.agency_group("pupr")
    chat = world.server.group(staff[0].chat_id)
    assert await bot_status(world, chat.id) == "member", "asked with getChatMember at /link"

    world.server._set_bot_status(chat, "administrator", staff[0].user.record)  # the group promotes the bot
    await until_bot_status(world, chat.id, "administrator")
    world.server.kick_bot(chat, by=staff[0].user)
    await until_bot_status(world, chat.id, "kicked")


async def until_bot_status(world: World, chat_id: int, expected: str, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while (found := await bot_status(world, chat_id)) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the bot's status is {found!r}, not {expected!r}")
        await asyncio.sleep(0.05)
