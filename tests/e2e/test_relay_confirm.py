"""Answering staff without the reply gesture, end to end on both channels: plain text (or a photo) soon
after staff wrote is offered to the agency ("Kirim ke petugas untuk JMB-…? Ya / Bukan"); Ya relays it
under the card exactly like a reply, Bukan handles it as ordinary text; with several complaints the
citizen picks one; outside ``relay.ask_window_hours`` nothing is asked."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from localapi.telegram import make_jpeg
from localapi.telegram.state import StoredMessage
from storage.models import OutboxMessage
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, body, choose, options, text_of
from tests.e2e.test_channels import file_on

pytestmark = pytest.mark.e2e

ANSWER = "Lubangnya di depan masjid Al-Ikhlas, sebelah warung"
NUMBER = re.compile(r"JMB-\d{4}-\d{6}")


def tracking_number(text: str) -> str:
    found = NUMBER.search(text)
    assert found, text
    return found.group(0)


async def staff_wrote(
    world: World, channel: str, question: str = "Di sebelah mana tepatnya?"
) -> tuple[Person | WhatsAppPerson, list[Person], StoredMessage, str]:
    staff = await world.agency_group("pupr")
    citizen = world.citizen_on(channel)
    assert "JMB-" in await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    number = tracking_number(body(card))
    await outbox_settled(world)
    staff[0].user.send_text(question, chat=card.chat_id, reply_to=card.message_id)
    await citizen.next_matching(question)
    await staff[0].next_matching("diteruskan")
    await outbox_settled(world)
    return citizen, staff, card, number


async def test_plain_text_after_staff_wrote_is_sent_when_the_citizen_says_ya(wa_world: World, channel: str) -> None:
    citizen, staff, card, number = await staff_wrote(wa_world, channel)
    question = await citizen.say(ANSWER)  # typed into the chat, not as a reply
    assert number in text_of(question) and "petugas" in text_of(question)
    assert [o for o in options(question) if "Ya" in o] and [o for o in options(question) if "Bukan" in o]
    assert await staff[0].quiet(0.3) == [], "nothing reaches staff before the citizen says so"
    sent = await choose(citizen, "Ya")
    assert "diteruskan" in text_of(sent) and number in text_of(sent)
    relayed = await staff[0].next_matching(ANSWER)
    assert relayed.reply_to_message_id == card.message_id, "under the complaint's card, like a reply"
    # staff answer it as they answer any relayed message
    await outbox_settled(wa_world)
    staff[0].user.send_text("Baik, tim kami ke sana", chat=card.chat_id, reply_to=relayed.message_id)
    assert number in text_of(await citizen.next_matching("tim kami ke sana"))


async def test_typing_ya_works_too(wa_world: World) -> None:
    citizen, staff, _card, number = await staff_wrote(wa_world, "whatsapp")
    question = await citizen.say(ANSWER)
    assert "1." in text_of(question), "a numbered choice on WhatsApp"
    sent = await citizen.say("ya")
    assert "diteruskan" in text_of(sent) and number in text_of(sent)
    await staff[0].next_matching(ANSWER)


async def test_bukan_keeps_it_out_of_the_group(wa_world: World, channel: str) -> None:
    citizen, staff, _card, _number = await staff_wrote(wa_world, channel)
    await citizen.say("halo, mau tanya jam buka kantor")
    answer = await choose(citizen, "Bukan")
    assert "tidak dikirim" in text_of(answer)
    assert any("Buat Pengaduan" in o for o in options(answer)), "then what ordinary text gets: the menu"
    assert await staff[0].quiet(0.5) == []


async def test_with_several_complaints_the_citizen_picks_one(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.citizen_on(channel)
    cards = []
    for _ in range(2):
        assert "JMB-" in await file_on(citizen)
        cards.append(await staff[0].next_matching("JMB-"))
    await outbox_settled(wa_world)
    numbers = []
    for card, question in zip(cards, ("Foto lagi?", "Sudah ditambal?"), strict=True):
        staff[0].user.send_text(question, chat=card.chat_id, reply_to=card.message_id)
        notice = await citizen.next_matching(question)
        numbers.append(tracking_number(text_of(notice)))
        await staff[0].next_matching("diteruskan")
    await outbox_settled(wa_world)
    which = await citizen.say("Belum, masih berlubang")
    offered = options(which)
    assert any(numbers[0] in o for o in offered) and any(numbers[1] in o for o in offered)
    assert offered.index(next(o for o in offered if numbers[1] in o)) == 0, "the latest one first"
    await choose(citizen, numbers[0])
    relayed = await staff[0].next_matching("masih berlubang")
    assert relayed.reply_to_message_id == cards[0].message_id


async def test_a_photo_after_staff_wrote_can_be_sent_to_them(wa_world: World, channel: str) -> None:
    citizen, staff, card, _number = await staff_wrote(wa_world, channel, "Bisa kirim foto dari dekat?")
    question = await citizen.photo(make_jpeg(gray=40), caption="dari dekat")
    assert "foto ini" in text_of(question)
    await choose(citizen, "Ya")
    relayed = await staff[0].next_matching("dari dekat")
    assert relayed.photo and relayed.reply_to_message_id == card.message_id


async def test_nothing_is_asked_once_the_window_has_passed(wa_world: World, channel: str) -> None:
    citizen, staff, _card, _number = await staff_wrote(wa_world, channel)
    hours = wa_world.config.relay.ask_window_hours
    assert wa_world.app.runtime is not None
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # staff wrote longer ago than the window
        await uow.session.execute(
            update(OutboxMessage).where(OutboxMessage.link_role == "staff_reply")
            .values(created_at=wa_world.app.runtime.clock() - timedelta(hours=hours + 1))
        )
        await uow.commit()
    answer: Any = await citizen.say(ANSWER)
    assert "petugas" not in text_of(answer) or "Kirim" not in text_of(answer)
    assert not any("Ya" == o.strip("✅ ") for o in options(answer))
    assert await staff[0].quiet(0.3) == []
