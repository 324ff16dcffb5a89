"""Privacy and escaping, end to end: what citizens type is shown literally everywhere (never parsed
as HTML), and agency staff never learn who the reporter is on Telegram."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from localapi.telegram import make_jpeg
from storage.models import AuditEntry
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads
from tests.e2e.test_more_conversation import current, draft_to_summary, send_summary, start_draft

pytestmark = pytest.mark.e2e

HOSTILE = "Lubang besar <b>hack</b> & <script>alert(1)</script> di Jl. Gatot Subroto"
ESCAPED = "Lubang besar &lt;b&gt;hack&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt; di Jl. Gatot Subroto"


def identifiable_citizen(world: World) -> Person:
    user = world.server.create_user("Siti", last_name="Rahmawati", username="siti_jambi88", language_code="id")
    return Person(world.server, user)


def leaks(text: str, person: Person) -> list[str]:
    """Whatever in ``text`` would identify the person on Telegram."""
    found = [s for s in ("Siti", "Rahmawati", "siti_jambi88", str(person.user.id)) if s in text]
    return found


async def test_html_in_the_description_is_shown_literally_on_the_card(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    summary = await draft_to_summary(citizen, description=HOSTILE)
    assert HOSTILE in body(summary), "the citizen's summary shows exactly what they typed"
    assert ESCAPED in (summary.html or "")
    number = await send_summary(citizen)
    card = await staff[0].next_matching(number)
    assert card.photo
    assert HOSTILE in (card.caption or ""), "staff read the text as typed"
    assert ESCAPED in (card.caption_html or ""), "and it was escaped, not parsed"
    assert not any(e.get("type") == "bold" and "hack" in (card.caption or "")[e["offset"] : e["offset"] + e["length"]]
                   for e in card.caption_entities)

    # still escaped after the card is edited in place
    await outbox_settled(world)
    accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
    await staff[0].tap(accept, card)
    edited = await eventually(lambda: "diterima" in body(current(world, card)).lower() and current(world, card))
    assert ESCAPED in (edited.caption_html or "") and HOSTILE in (edited.caption or "")

    # a staff reply with markup reaches the citizen literally as well
    staff[0].user.send_text("Sudah <b>dicek</b> & dicatat", chat=card.chat_id, reply_to=card.message_id)
    relayed = await citizen.next_matching("dicatat")
    assert "Sudah <b>dicek</b> & dicatat" in body(relayed)
    assert "&lt;b&gt;dicek&lt;/b&gt; &amp;" in (relayed.html or "")


async def test_the_card_never_identifies_the_reporter(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = identifiable_citizen(world)
    greeting = await citizen.say("/start")
    assert "Siti" in body(greeting), "the bot itself may greet them by name"
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor")
    await citizen.photo(make_jpeg())
    await citizen.tap_and_read("photo:done")
    await citizen.location(-1.6101, 103.6131)  # "📍 Lokasi diterima." and the summary: one message
    number = await send_summary(citizen)
    card = await staff[0].next_matching(number)
    assert "Warga #" in body(card), "a pseudonym instead"
    assert leaks(body(card), citizen) == [] and leaks(card.caption_html or "", citizen) == []

    # the citizen's reply relayed into the group is signed with the pseudonym too
    await outbox_settled(world)
    staff[0].user.send_text("Bisa kirim patokan?", chat=card.chat_id, reply_to=card.message_id)
    relayed = await citizen.next()
    await outbox_settled(world)
    citizen.user.send_text("Depan toko emas, dekat lampu merah", reply_to=relayed.message_id)
    in_group = await staff[0].next_matching("toko emas")
    assert "Warga #" in body(in_group) and leaks(body(in_group), citizen) == []

    for message in world.server.bot_messages(card.chat_id):
        assert leaks(body(message), citizen) == [], body(message)
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        names = [e.actor_name or "" for e in (await uow.session.execute(select(AuditEntry))).scalars().all()]
    assert all(leaks(n, citizen) == [] for n in names), names


async def test_a_display_name_with_html_is_greeted_literally(world: World) -> None:
    user = world.server.create_user("<i>Andi</i> & co")
    citizen = Person(world.server, user)
    greeting = await citizen.say("/start")
    assert "<i>Andi</i> & co" in body(greeting)
    assert not any(e.get("type") == "italic" for e in greeting.entities)


async def test_html_in_a_typed_address_is_escaped_on_the_card(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    await start_draft(citizen)
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor")
    await citizen.photo(make_jpeg())
    await citizen.tap_and_read("photo:done")
    summary = await citizen.say('Jl. <a href="http://evil">Sudirman</a> No. 5')  # acknowledged with the summary
    assert '<a href="http://evil">' in body(summary)
    number = await send_summary(citizen)
    card = await staff[0].next_matching(number)
    assert '<a href="http://evil">Sudirman</a>' in (card.caption or "")
    assert not any(e.get("type") == "text_link" and "evil" in e.get("url", "") for e in card.caption_entities)


async def test_the_name_is_shown_on_the_card_only_when_the_citizen_agreed(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen("Siti Aminah")
    summary = await draft_to_summary(citizen)
    assert "sum:name" in payloads(summary)
    await citizen.tap("sum:name", summary)
    await outbox_settled(world)
    assert "ditampilkan</b>" in (summary.html or "") and "sum:send" in payloads(summary), "changed in place"
    assert await citizen.quiet(0.2) == [], "no second summary"
    number = await send_summary(citizen)
    card = await staff[0].next_matching(number)
    assert "Siti Aminah" in body(card)
    assert str(citizen.user.id) not in body(card)

    other = world.citizen("Budi Santoso")
    await draft_to_summary(other, category="drainase")  # another problem (the same one would be offered as such)
    second = await send_summary(other)
    card = await staff[0].next_matching(second)
    assert "Budi Santoso" not in body(card) and "Warga #" in body(card), "no consent: the alias only"
