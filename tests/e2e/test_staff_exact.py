"""Staff texts are finished and exact, end to end (real aiogram client against the local Telegram
server, SQLite and PostgreSQL): a reassigned card says where it went in its first line, the district
is named once, history reads in words everywhere, a new card warns of an open complaint close by,
duplicates are marked with numbers typed the way staff type them (asked again politely, never one
error per try), Tolak and Duplikat can be cancelled, and a press on an outdated keyboard is refused
politely.

Complaints are filed through the citizen service's own filing step (the conversation that leads
there has its own tests), so these tests exercise the agency side only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.services import citizen as citizen_service
from handlers.state import Draft
from handlers.views import to_local
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads

pytestmark = pytest.mark.e2e

JAMBI = (-1.6101, 103.6131)
#: about 12 m north of JAMBI
TWELVE_M = (JAMBI[0] + 0.000108, JAMBI[1])
#: an internal identifier (``staff_reply``) anywhere in what people read
INTERNAL = re.compile(r"\b[a-z]+_[a-z_]+\b")


async def seed(world: World, person: Person, *, point: tuple[float, float] = JAMBI, category: str = "jalan",
               description: str = "Jalan berlubang besar di depan pasar, berbahaya bagi motor") -> str:
    """File a complaint for ``person`` the way the citizen service does at "Kirim", with the
    geocoder offline (the place is the district from the city's boundaries); returns its number."""
    person.user.send_text("/start")  # the bot may only write to someone who wrote first
    await person.next()
    rt = world.app.runtime
    assert rt is not None
    place = rt.area.place_at(*point)
    district = ", ".join(p for p in (f"Kel. {place.kelurahan}" if place.kelurahan else "",
                                     f"Kec. {place.kecamatan}" if place.kecamatan else "") if p)
    draft = Draft(category=category, description=description, latitude=point[0], longitude=point[1],
                  kecamatan=place.kecamatan, kelurahan=place.kelurahan, place=district or None)
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("telegram", str(person.user.id), language="id")
        complaint = await citizen_service.file_draft(rt, uow, citizen, draft)
        await uow.commit()
    rt.on_enqueued()
    return complaint.number


@dataclass(frozen=True)
class Stored:
    """A complaint's row as stored now (read in its own transaction)."""

    id: int
    status: str
    duplicate_of: int | None
    citizen_id: int


async def complaint(world: World, number: str) -> Stored:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        found = await uow.complaints.by_number(number)
        assert found is not None
        return Stored(found.id, found.status, found.duplicate_of, found.citizen_id)


def _button(message: StoredMessage, prefix: str) -> str:
    return next(p for p in payloads(message) if p.startswith(prefix))


def _no_internal_words(world: World, *chat_ids: int) -> None:
    for chat_id in chat_ids:
        for message in world.server.bot_messages(chat_id):
            assert not INTERNAL.search(body(message)), body(message)


async def _reply(world: World, person: Person, to: StoredMessage, text: str) -> None:
    await outbox_settled(world)  # the prompt's link is recorded, as when a person reads it first
    person.user.send_text(text, chat=to.chat_id, reply_to=to.message_id)


async def test_a_reassigned_card_says_where_and_history_reads_in_words(world: World) -> None:
    pupr = await world.agency_group("pupr")
    dlh = await world.agency_group("dlh", ("Dewi",))
    siti = world.citizen("Siti")
    number = await seed(world, siti)
    card = await pupr[0].next_matching(number)
    await outbox_settled(world)
    kecamatan = world.app.runtime.area.place_at(*JAMBI).kecamatan  # type: ignore[union-attr]
    assert body(card).count(f"Kec. {kecamatan}") == 1, "the district is named once (geocoder offline)"

    await pupr[0].tap(_button(card, "st:reassign:"), card)
    picker = await eventually(lambda: any(p.endswith(":dlh") for p in payloads(current(world, card))) and current(world, card))
    await pupr[0].tap(next(p for p in payloads(picker) if p.endswith(":dlh")), picker)
    old = await eventually(lambda: body(current(world, card)).startswith("↪️ Dialihkan ke DLH") and current(world, card))
    assert number in body(old).splitlines()[0] and not payloads(old)
    assert "🆕 Baru" not in body(old).splitlines()[0]

    new = await dlh[0].next_matching(number)
    assert body(new).startswith("🆕 Baru") and "↪️ Dialihkan:" in body(new)
    assert "Dinas Lingkungan Hidup" in body(await siti.next_matching("dialihkan"))
    await _reply(world, dlh[0], new, "Tim kami ke lokasi besok pagi")
    await siti.next_matching("besok pagi")

    siti.user.send_text(f"/status {number}")
    status = await siti.next_matching("Riwayat")
    assert "Pengaduan dibuat" in body(status) and "Dialihkan" in body(status) and "Pesan petugas" in body(status)
    _no_internal_words(world, siti.chat_id, pupr[0].chat_id, dlh[0].chat_id)


async def test_a_duplicate_is_marked_with_the_number_as_staff_type_it(world: World) -> None:
    staff = await world.agency_group("pupr")
    ani, budi = world.citizen("Ani"), world.citizen("Budi")
    first = await seed(world, ani)
    await staff[0].next_matching(first)
    second = await seed(world, budi, point=TWELVE_M, description="Lubang besar lagi di jalan depan pasar, hampir jatuh")
    card = await staff[0].next_matching(second)
    assert f"⚠️ 1 laporan terbuka ±12 m: {first}" in body(card), body(card)
    await outbox_settled(world)

    await staff[0].tap(_button(card, "st:duplicate:"), card)
    prompt = await staff[0].next_matching("nomor pengaduan asli")
    waiting = await eventually(lambda: "cx:duplicate:" in " ".join(payloads(current(world, card))) and current(world, card))
    assert "Menunggu nomor pengaduan asli dari Budi" in body(waiting)

    await _reply(world, staff[0], prompt, "yang kemarin")
    retry = await staff[0].next_matching("bukan nomor pengaduan")
    assert (retry.reply_markup or {}).get("force_reply"), "asked again as a proper reply prompt"
    assert "Batal" in body(retry)
    for wrong in ("xyz", "lagi salah"):  # more tries under the first prompt: no flood
        await _reply(world, staff[0], prompt, wrong)
    await _reply(world, staff[0], retry, "77")
    year = to_local(world.app.runtime.clock(), "Asia/Jakarta").year  # type: ignore[union-attr]
    retry_2 = await staff[0].next_matching("tidak ditemukan")
    assert f"JMB-{year}-000077" in body(retry_2)
    assert not [m for m in await staff[0].quiet(0.5) if "bukan nomor" in body(m)], "one answer per prompt"

    short = str(int(first.rsplit("-", 1)[1]))  # "1": this year's
    await _reply(world, staff[0], retry_2, short)
    told = await budi.next_matching(second)
    sentence = body(told).split("\n\n")[0]
    assert first in sentence and "Baru" in sentence, "the original's number and real status, in the sentence"
    assert "sudah ditangani" not in body(told)
    marked = await eventually(lambda: body(current(world, card)).startswith("🔁 Duplikat") and current(world, card))
    assert f"Duplikat dari {first}" in body(marked) and not payloads(marked)
    assert (await complaint(world, second)).duplicate_of == (await complaint(world, first)).id
    _no_internal_words(world, budi.chat_id, staff[0].chat_id)


@pytest.mark.parametrize("typed", ["JMB-{year}-{n}", "jmb-{year}-{n:06d}", "#{n}", "{n:06d}"])
async def test_every_way_of_typing_the_number_works(world: World, typed: str) -> None:
    staff = await world.agency_group("pupr")
    first = await seed(world, world.citizen("Ani"))
    second = await seed(world, world.citizen("Budi"), point=(JAMBI[0] - 0.01, JAMBI[1]))
    card = await staff[0].next_matching(second)
    await outbox_settled(world)
    await staff[0].tap(_button(card, "st:duplicate:"), card)
    prompt = await staff[0].next_matching("nomor pengaduan asli")
    year, n = first.split("-")[1], int(first.rsplit("-", 1)[1])
    await _reply(world, staff[0], prompt, typed.format(year=year, n=n))
    await eventually(lambda: body(current(world, card)).startswith("🔁 Duplikat"))


async def test_a_short_number_of_another_year_is_asked_about(world: World) -> None:
    staff = await world.agency_group("pupr")
    ani = world.citizen("Ani")
    this_year = await seed(world, ani)
    card = await staff[0].next_matching(this_year)
    await outbox_settled(world)
    rt = world.app.runtime
    assert rt is not None
    year = to_local(rt.clock(), rt.ctx.timezone).year
    async with UnitOfWork(rt.sessionmaker) as uow:  # last December's complaint number 5
        old = await uow.complaints.create(
            number=f"JMB-{year - 1}-000005", citizen_id=(await complaint(world, this_year)).citizen_id,
            category="jalan", description="Lubang lama", agency="pupr", now=rt.clock() - timedelta(days=40),
        )
        await uow.commit()
    await staff[0].tap(_button(card, "st:duplicate:"), card)
    prompt = await staff[0].next_matching("nomor pengaduan asli")
    await _reply(world, staff[0], prompt, "5")
    asked = await staff[0].next_matching("Maksud Anda")
    assert f"JMB-{year}-000005" in body(asked) and old.number in body(asked)
    await _reply(world, staff[0], asked, f"JMB-{year - 1}-5")
    await eventually(lambda: body(current(world, card)).startswith("🔁 Duplikat"))


@pytest.mark.parametrize("action", ["reject", "duplicate"])
async def test_tolak_and_duplikat_can_be_cancelled(world: World, action: str) -> None:
    staff = await world.agency_group("pupr")
    siti = world.citizen("Siti")
    number = await seed(world, siti)
    card = await staff[0].next_matching(number)
    await outbox_settled(world)
    await staff[0].tap(_button(card, f"st:{action}:"), card)
    prompt = await staff[0].next_matching("balas pesan ini" if action == "reject" else "nomor pengaduan asli")
    waiting = await eventually(lambda: any(p.startswith("cx:") for p in payloads(current(world, card))) and current(world, card))
    assert [b.get("text") for b in waiting.buttons()] == ["✖️ Batal"]

    answer = await staff[1].tap(_button(waiting, "cx:"), waiting)  # anyone in the group may cancel
    assert "Dibatalkan" in answer.get("text", "")
    restored = await eventually(lambda: any(p.startswith("st:accept:") for p in payloads(current(world, card))) and current(world, card))
    assert "Menunggu" not in body(restored)

    await _reply(world, staff[0], prompt, "Bukan wewenang kami" if action == "reject" else "1")
    said = await staff[0].next_matching("dibatalkan")
    assert "tidak ada yang diubah" in body(said)
    await _reply(world, staff[0], prompt, "sekali lagi")
    assert not await staff[0].quiet(0.5), "a cancelled prompt is told about once"
    assert (await complaint(world, number)).status == "baru"
    notices = [m for m in world.server.bot_messages(siti.chat_id) if "ditolak" in body(m).lower() or "sama dengan" in body(m)]
    assert not notices


async def test_presses_on_an_outdated_keyboard_are_refused_politely(world: World) -> None:
    staff = await world.agency_group("pupr")
    siti = world.citizen("Siti")
    number = await seed(world, siti)
    card = await staff[0].next_matching(number)
    await outbox_settled(world)
    accept = _button(card, "st:accept:")
    await staff[0].tap(accept, card)
    await siti.next_matching("diterima")
    await eventually(lambda: "st:process:" in " ".join(payloads(current(world, card))))

    # Rina's client still shows the first keyboard: Telegram delivers her press on "Terima"
    query = staff[1].user.press_button(card.message_id, accept, chat=card.chat_id, stale_ok=True)
    answer = await world.server.wait_callback_answer(query)
    assert answer is not None and answer.get("show_alert") and "sudah diterima" in answer.get("text", "")
    # and a cancel from a keyboard of a prompt long gone changes nothing
    await staff[0].tap(_button(current(world, card), "st:reject:"), current(world, card))
    prompt = await staff[0].next_matching("balas pesan ini")
    cancel = await eventually(lambda: next((p for p in payloads(current(world, card)) if p.startswith("cx:")), None))
    await _reply(world, staff[0], prompt, "Bukan wewenang kami")
    await eventually(lambda: body(current(world, card)).startswith("❌ Ditolak"))
    query = staff[1].user.press_button(card.message_id, cancel, chat=card.chat_id, stale_ok=True)
    answer = await world.server.wait_callback_answer(query)
    assert answer is not None and "tidak ada yang diubah" in answer.get("text", "")
    assert (await complaint(world, number)).status == "ditolak"
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        entries = (await uow.session.scalars(select(AuditEntry).where(AuditEntry.refused.is_(False)))).all()
        assert [e.action for e in entries if e.action in {"accept", "reject"}] == ["accept", "reject"]
    notices: list[Any] = [m for m in world.server.bot_messages(siti.chat_id) if "diterima" in body(m)]
    assert len(notices) == 1, "the outdated press told the citizen nothing"
