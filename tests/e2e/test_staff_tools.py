"""Staff tools in the agency group, end to end through the real aiogram client and the local Bot API server
(and, for a WhatsApp citizen, the real twilio client against the local Twilio server): ``/antrian`` and
``/terlambat`` with their clocks, ``/cari`` bringing a card back to the bottom, who may use them, and the
canned replies of *💬 Balasan cepat*."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.services.staff import create_link_code
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry, Citizen, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, body, payloads, text_of
from tests.e2e.test_channels import file_on

pytestmark = pytest.mark.e2e

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


# --- helpers --------------------------------------------------------------------------------------


async def seed(world: World, *rows: tuple[str, str, str, timedelta, timedelta | None, timedelta | None]) -> list[str]:
    """Complaints stored directly with known clocks: (number tail, agency, status, age, accept due in,
    due in) relative to now. Returns their numbers in the order given."""
    assert world.app.runtime is not None
    now = datetime.now(UTC)
    year = now.year
    numbers = []
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        citizen = Citizen(channel="telegram", channel_user_id="777000", display_name="Warga", language="id")
        uow.session.add(citizen)
        await uow.session.flush()
        for tail, agency, status, age, accept_in, due_in in rows:
            number = f"JMB-{year}-{tail}"
            numbers.append(number)
            category = {"pupr": "jalan", "dlh": "sampah"}[agency]
            uow.session.add(Complaint(
                number=number, citizen_id=citizen.id, category=category, agency=agency, status=status,
                description=f"Keluhan {tail} yang cukup panjang", created_at=now - age, updated_at=now - age,
                accept_due_at=now + accept_in if accept_in is not None else None,
                due_at=now + due_in if due_in is not None else None,
            ))
        await uow.commit()
    return numbers


def caught_up(world: World, *people: Person) -> None:
    """Everyone has read what the bot said so far (cards posted at /link, earlier answers)."""
    for person in people:
        person.cursor = max((m.message_id for m in world.server.bot_messages(person.chat_id)), default=0)


def line_of(text: str, number: str) -> str:
    return next(line for line in text.splitlines() if number in line)


async def supergroup(world: World, agency: str, names: tuple[str, ...] = ("Budi",)) -> list[Person]:
    """A linked supergroup (Telegram gives message links only into supergroups)."""
    users = [world.server.create_user(n) for n in names]
    group = world.server.create_group(f"Laporan {agency}", users, admins=users[:1], supergroup=True)
    staff = [Person(world.server, u, group.id) for u in users]
    assert world.app.runtime is not None
    code = await create_link_code(world.app.runtime, agency)
    await staff[0].next()  # how to link
    staff[0].user.send_text(f"/link {code}", chat=group.id)
    await staff[0].next_matching(world.config.agencies[agency].name["id"])
    return staff


async def file_card(world: World, staff: Person, citizen: Person | WhatsAppPerson) -> StoredMessage:
    await file_on(citizen)
    card = await staff.next_matching("JMB-")
    await outbox_settled(world)
    return card


def button(card: StoredMessage, prefix: str) -> str:
    return next(p for p in payloads(card) if p.startswith(prefix))


async def audit_rows(world: World) -> list[tuple[str, str | None, str | None]]:
    """(action, actor name, note) of every audit entry, oldest first."""
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        rows = (await uow.session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars()
        return [(a.action, a.actor_name, a.note) for a in rows]


# --- /antrian and /terlambat ----------------------------------------------------------------------


async def test_queue_lists_open_complaints_oldest_first_with_their_clocks(world: World) -> None:
    late, waiting, fresh, closed, other = await seed(
        world,
        ("000001", "pupr", "diproses", 3 * DAY, None, -DAY),  # past its resolve clock
        ("000002", "pupr", "baru", 2 * DAY, -HOUR, 2 * DAY),  # not accepted in time: the accept clock counts
        ("000003", "pupr", "baru", HOUR, 3 * HOUR, 2 * DAY),  # within its accept clock
        ("000004", "pupr", "selesai", 4 * DAY, None, -DAY),  # closed: not in the queue
        ("000005", "dlh", "baru", 5 * DAY, -DAY, -HOUR),  # another agency's
    )
    staff = await world.agency_group("pupr")  # linking posts the cards of the waiting complaints
    await outbox_settled(world)
    caught_up(world, *staff)

    queue = body(await staff[0].say("/antrian"))
    assert "3 pengaduan terbuka" in queue
    assert queue.index(late) < queue.index(waiting) < queue.index(fresh), queue
    assert closed not in queue and other not in queue
    assert "🔴 terlambat 24 jam" in line_of(queue, late) and "Diproses" in line_of(queue, late)
    assert "🔴 belum diterima, lewat 1 jam" in line_of(queue, waiting) and "Baru" in line_of(queue, waiting)
    assert "📥 terima sebelum" in line_of(queue, fresh) and "🔴" not in line_of(queue, fresh)

    caught_up(world, staff[1])
    overdue = body(await staff[1].say("/terlambat"))
    assert late in overdue and waiting in overdue and fresh not in overdue
    assert "2 pengaduan" in overdue

    # the command centre sees the whole city, each line naming the agency
    centre = await world.agency_group("jcoc", ("Andi",))
    city = body(await centre[0].say("/terlambat"))
    assert late in city and waiting in city and other in city and fresh not in city
    assert "DLH" in line_of(city, other) and "PUPR" in line_of(city, late)
    assert city.index(other) < city.index(late), "oldest first across agencies"


async def test_a_long_queue_stops_within_one_message_and_counts_the_rest(world: World) -> None:
    await seed(world, *[(f"{n:06d}", "pupr", "diterima", DAY + n * HOUR, None, DAY) for n in range(1, 81)])
    staff = await world.agency_group("pupr")
    await outbox_settled(world, timeout=30)
    caught_up(world, *staff)
    queue = body(await staff[0].say("/antrian"))
    assert "80 pengaduan terbuka" in queue
    shown = sum(1 for line in queue.splitlines() if "JMB-" in line)
    assert 20 < shown < 80
    assert f"dan {80 - shown} lainnya" in queue
    assert len(queue) <= 4096
    assert queue.index("000080") < queue.index("000079"), "oldest first: the highest number was filed first"


async def test_commands_work_with_the_bots_username_as_groups_send_them(world: World) -> None:
    (number,) = await seed(world, ("000007", "pupr", "diterima", DAY, None, DAY))
    staff = await world.agency_group("pupr")
    await outbox_settled(world)
    caught_up(world, *staff)
    queue = body(await staff[0].say("/antrian@sikesal_bot"))
    assert number in queue and "1 pengaduan terbuka" in queue
    # another bot's command is not ours
    staff[0].user.send_text("/antrian@other_bot", chat=staff[0].chat_id)
    assert await staff[0].quiet(0.8) == []


async def test_private_chats_and_unlinked_groups_are_refused_briefly(world: World) -> None:
    citizen = world.citizen()
    refused = body(await citizen.say("/antrian"))
    assert "hanya untuk grup instansi" in refused
    assert "grup instansi" in body(await citizen.say("/cari 1"))

    users = [world.server.create_user("Joko")]
    group = world.server.create_group("Grup Lain", users, admins=users)
    outsider = Person(world.server, users[0], group.id)
    await outsider.next()  # how to link, when the bot was added
    unlinked = body(await outsider.say("/terlambat"))
    assert "belum terhubung" in unlinked and "/link" in unlinked


# --- /cari ----------------------------------------------------------------------------------------


async def test_search_brings_the_card_down_and_the_old_card_links_to_it(world: World) -> None:
    staff = await supergroup(world, "pupr")
    citizen = world.citizen()
    old = await file_card(world, staff[0], citizen)
    number = body(old).split("JMB-", 1)[1].split()[0].rstrip("<")
    tail = str(int(number.rsplit("-", 1)[1]))  # "1": no prefix, no zeros

    fresh = await staff[0].say(f"/cari {tail}")
    assert fresh.message_id > old.message_id and f"JMB-{number}" in body(fresh)
    assert any(p.startswith("st:accept:") for p in payloads(fresh)), "the fresh card has the buttons"
    await outbox_settled(world)
    retired = current(world, old)
    assert body(retired).startswith("⬇️ Dipindah ke bawah")
    assert list(retired.buttons()) == []
    link = str(abs(staff[0].chat_id))[3:]
    assert f"https://t.me/c/{int(link)}/{fresh.message_id}" in str(retired.to_dict()), retired.to_dict()

    # the buttons work on the fresh card
    alert = await staff[0].tap(button(fresh, "st:accept:"), fresh)
    assert "Diterima" in alert.get("text", "")
    notice = await citizen.next_matching("JMB-")
    assert "diterima" in body(notice).lower()
    await outbox_settled(world)
    assert "Diterima" in body(current(world, fresh)).splitlines()[0]
    assert body(current(world, old)).startswith("⬇️"), "the old card stays retired"


async def test_search_in_a_basic_group_and_for_another_agencys_number(world: World) -> None:
    staff = await world.agency_group("pupr")
    old = await file_card(world, staff[0], world.citizen())
    number = "JMB-" + body(old).split("JMB-", 1)[1].split()[0].rstrip("<")
    (dlh_number,) = await seed(world, ("000099", "dlh", "baru", DAY, HOUR, DAY))

    fresh = await staff[0].say(f"/cari {number.lower()}")
    assert number in body(fresh) and fresh.message_id > old.message_id
    await outbox_settled(world)
    retired = body(current(world, old))
    assert retired.startswith("⬇️ Dipindah ke bawah") and "Kartu terbaru ada di bawah" in retired

    refused = body(await staff[0].say(f"/cari {dlh_number}"))
    assert "bukan pengaduan instansi ini" in refused and "Keluhan" not in refused
    assert "tidak ditemukan" in body(await staff[0].say("/cari 4242"))
    assert "/cari 12" in body(await staff[0].say("/cari"))

    # the command centre may look any number up: a view without buttons, the agency keeps its card
    centre = await world.agency_group("jcoc", ("Andi",))
    view = await centre[0].say(f"/cari {number}")
    assert number in body(view) and list(view.buttons()) == [] and "grup PUPR" in body(view)


# --- canned replies -------------------------------------------------------------------------------


async def test_a_canned_reply_reaches_the_citizen_and_is_audited(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.citizen_on(channel)
    card = await file_card(wa_world, staff[0], citizen)
    replies = wa_world.config.canned_for("pupr")

    alert = await staff[0].tap(button(card, "cr:"), card)
    assert "Pilih balasan" in alert.get("text", "")
    await outbox_settled(wa_world)
    picker = current(wa_world, card)
    assert "Pilih balasan untuk pelapor" in body(picker)
    choices = [p for p in payloads(picker) if p.count(":") == 3]
    assert len(choices) == len(replies) and all(len(p.encode()) <= 64 for p in payloads(picker))
    assert any(p.endswith(":-") for p in payloads(picker))

    sent = await staff[0].tap(choices[1], picker)
    assert "terkirim" in sent.get("text", "")
    heard = await citizen.next_matching(replies[1][:30])
    assert "JMB-" in text_of(heard)
    assert "diteruskan" in body(await staff[0].next_matching("diteruskan"))
    await outbox_settled(wa_world)
    restored = current(wa_world, card)
    assert any(p.startswith("st:accept:") for p in payloads(restored)) and "Pilih balasan" not in body(restored)
    reply = [(name, note) for action, name, note in await audit_rows(wa_world) if action == "staff_reply"]
    assert reply == [("Budi", replies[1])]


async def test_cancel_restores_the_card_and_sends_nothing(world: World) -> None:
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    card = await file_card(world, staff[0], citizen)
    await staff[0].tap(button(card, "cr:"), card)
    await outbox_settled(world)
    picker = current(world, card)
    cancel = next(p for p in payloads(picker) if p.endswith(":-"))
    alert = await staff[0].tap(cancel, picker)
    assert "dibatalkan" in alert.get("text", "")
    await outbox_settled(world)
    restored = current(world, card)
    assert any(p.startswith("st:accept:") for p in payloads(restored)) and "Pilih balasan" not in body(restored)
    assert not [row for row in await audit_rows(world) if row[0] == "staff_reply"]


async def test_a_clerk_who_left_the_group_cannot_send_a_canned_reply(world: World) -> None:
    budi, rina = await world.agency_group("pupr", bot_admin=True)
    citizen = world.citizen()
    card = await file_card(world, budi, citizen)
    await budi.tap(button(card, "cr:"), card)
    await outbox_settled(world)
    picker = current(world, card)
    choice = next(p for p in payloads(picker) if p.count(":") == 3)

    world.server.remove_member(card.chat_id, rina.user)
    await asyncio.sleep(0.1)
    answer = await rina.tap(choice, picker)
    assert answer.get("show_alert") and "anggota" in answer.get("text", ""), answer
    assert await citizen.quiet(0.3) == [], "nothing reaches the citizen"
    rows = await audit_rows(world)
    assert not [row for row in rows if row[0] == "staff_reply"]
    refusal = [note for _action, name, note in rows if name == "Rina"]
    assert len(refusal) == 1 and "anggota" in str(refusal[0]) and choice in str(refusal[0]), "audited once"


async def test_the_group_menu_lists_the_staff_commands(world: World) -> None:
    menus = [[c["command"] for c in commands] for key, commands in world.server.state.commands.items()
             if "all_group_chats" in key]
    assert menus == [["link", "antrian", "terlambat", "cari"]]


async def test_the_command_centre_brings_down_a_card_it_stands_in_for(world: World) -> None:
    """The PUPR group lost the bot: its open card stands in the command centre's group, which may
    /cari it to the bottom like its own (still explaining why it is there, with the agencies to pick)."""
    pupr = await world.agency_group("pupr")
    jcoc = await world.agency_group("jcoc", ("Dewi",))
    await file_card(world, pupr[0], world.citizen())
    world.server.kick_bot(pupr[0].chat_id)
    moved = await jcoc[0].next_matching("JMB-")
    await outbox_settled(world)
    number = "JMB-" + body(moved).split("JMB-", 1)[1].split()[0].rstrip("<")

    fresh = await jcoc[0].say(f"/cari {number}")
    assert number in body(fresh) and "tidak dapat dikirim" in body(fresh)
    assert any(p.startswith("ra:") for p in payloads(fresh)), "still the stand-in card, with the agencies"
    await outbox_settled(world)
    assert body(current(world, moved)).startswith("⬇️ Dipindah ke bawah")
