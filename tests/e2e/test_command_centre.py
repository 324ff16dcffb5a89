"""The command centre (JCOC) end to end, through the real aiogram client against the local Bot API server:
an overdue complaint's escalation card reaches the command centre's group; *Ingatkan instansi* posts a
reminder under the agency's card (and the agency's answer comes back); *Alihkan* moves the complaint as a
card's Alihkan does; *Beri catatan* sends a note to the agency's group; a press from outside the group is
refused; the daily digests count a seeded set of complaints right. The scheduler is not needed: the tests
call :func:`bot.services.command_centre.escalate` inside a unit of work, as the scheduler does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from bot.services import command_centre
from bot.services.command_centre_buttons import handle_button
from bot.services.staff_core import StaffActor
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry, Citizen, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads
from tests.e2e.test_membership import press_anyway
from tests.e2e.test_more_conversation import draft_to_summary, send_summary

pytestmark = pytest.mark.e2e

LATE = timedelta(days=1, hours=3, minutes=10)


@dataclass(frozen=True)
class Audit:
    action: str
    actor_kind: str
    actor_name: str | None
    refused: bool
    note: str | None
    to_agency: str | None


async def audit(world: World, *actions: str) -> list[Audit]:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if actions:
            query = query.where(AuditEntry.action.in_(actions))
        rows = (await uow.session.execute(query)).scalars().all()
        return [Audit(e.action, e.actor_kind, e.actor_name, e.refused, e.note, e.to_agency) for e in rows]


async def the_complaint(world: World) -> tuple[int, str, str]:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        found = (await uow.session.execute(select(Complaint))).scalar_one()
        return found.id, found.status, found.agency


async def make_overdue(world: World, complaint_id: int, late: timedelta = LATE) -> None:
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = await uow.complaints.get_for_update(complaint_id)
        assert complaint is not None
        complaint.due_at = rt.clock() - late
        await uow.commit()


async def escalate(world: World, complaint_id: int, level: int = 0) -> None:
    """What the scheduler does when the complaint reaches an escalation level."""
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = await uow.complaints.get_for_update(complaint_id)
        assert complaint is not None
        await command_centre.escalate(rt, uow, complaint, level, rt.clock())
        await uow.commit()
    rt.on_enqueued()


@dataclass
class Scene:
    citizen: Person
    agency: list[Person]
    centre: list[Person]
    card: StoredMessage
    number: str
    complaint_id: int


async def overdue_complaint(world: World, *, centre_linked: bool = True) -> Scene:
    """PUPR's and (unless told otherwise) the command centre's groups linked, a citizen's road complaint
    filed and overdue by a day and three hours."""
    agency = await world.agency_group("pupr", ("Budi", "Rina"))
    centre = await world.agency_group("jcoc", ("Kepala", "Wawan")) if centre_linked else []
    citizen = world.citizen("Siti")
    await draft_to_summary(citizen, category="jalan")
    number = await send_summary(citizen)
    card = await agency[0].next_matching(number)
    await outbox_settled(world)
    complaint_id, _status, _agency = await the_complaint(world)
    await make_overdue(world, complaint_id)
    return Scene(citizen, agency, centre, card, number, complaint_id)


async def escalation_card(world: World, scene: Scene) -> StoredMessage:
    await escalate(world, scene.complaint_id)
    card = await scene.centre[0].next_matching("Eskalasi")
    await outbox_settled(world)
    return card


# --- the card ---------------------------------------------------------------------------------------


async def test_an_overdue_complaint_reaches_the_command_centre_with_what_it_needs(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    text = body(card)
    for needed in (scene.number, "tingkat 1 dari 2", "Dinas Pekerjaan Umum", "Jalan rusak", "terlambat 1 hari 3 jam",
                   "Riwayat", "Pengaduan dibuat"):
        assert needed in text, (needed, text)
    assert payloads(card) == [f"cc:nudge:{scene.complaint_id}", f"cc:pick:{scene.complaint_id}",
                              f"cc:note:{scene.complaint_id}", f"blk:ask:{scene.complaint_id}"]
    assert card.chat_id == scene.centre[0].chat_id
    assert await scene.agency[0].quiet(0.3) == [], "the agency's group hears nothing of the escalation itself"
    assert await scene.citizen.quiet(0.1) == []
    (entry,) = await audit(world, "escalate")
    assert (entry.actor_kind, entry.refused) == ("system", False)
    assert entry.note is not None and "tingkat 1" in entry.note and "terlambat 1 hari 3 jam" in entry.note

    # the next level: a new card, and the older one loses its buttons (one card to act on)
    await escalate(world, scene.complaint_id, level=1)
    second = await scene.centre[0].next_matching("tingkat 2 dari 2")
    await eventually(lambda: not current(world, card).inline_keyboard)
    assert payloads(second)[0] == f"cc:nudge:{scene.complaint_id}"


async def test_without_a_command_centre_group_the_escalation_is_recorded_not_crashed(world: World) -> None:
    scene = await overdue_complaint(world, centre_linked=False)
    await escalate(world, scene.complaint_id)
    (entry,) = await audit(world, "escalate_failed", "escalate")
    assert entry.action == "escalate_failed" and entry.note is not None and "belum punya grup" in entry.note
    assert await scene.agency[0].quiet(0.3) == []
    # a notice for the command centre is not lost silently either
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        assert not await command_centre.notify(rt, uow, "Pengaduan dibuka kembali", complaint_id=scene.complaint_id)
        await uow.commit()
    assert [e.action for e in await audit(world, "cc_notice_lost")] == ["cc_notice_lost"]


# --- 🔔 Ingatkan instansi ------------------------------------------------------------------------------


async def test_remind_posts_under_the_agencys_card_and_its_answer_comes_back(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    answer = await scene.centre[1].tap(f"cc:nudge:{scene.complaint_id}", card)
    assert "Pengingat terkirim" in answer.get("text", "") and not answer.get("show_alert")

    nudge = await scene.agency[0].next_matching("Pengingat dari pusat komando")
    assert nudge.reply_to_message_id == scene.card.message_id, "one tap away: under the complaint's card"
    assert "JCOC" in body(nudge) and "terlambat 1 hari 3 jam" in body(nudge) and "Wawan" in body(nudge)
    (entry,) = await audit(world, "nudge")
    assert (entry.actor_kind, entry.actor_name, entry.refused, entry.note) == ("staff", "Wawan", False, "via pusat komando")
    await eventually(lambda: "pusat komando mengingatkan" in body(current(world, card)))
    await eventually(lambda: "pusat komando mengingatkan" in body(current(world, scene.card)))  # the card's history

    # the agency answers the reminder: it reaches the command centre, never the citizen
    await outbox_settled(world)
    said = await scene.agency[0].say("Tim sudah berangkat ke lokasi.", reply_to=nudge.message_id)
    assert "diteruskan ke pusat komando" in body(said)
    relayed = await scene.centre[0].next_matching("Tim sudah berangkat")
    assert "Jawaban PUPR" in body(relayed) and "Budi" in body(relayed)
    assert relayed.reply_to_message_id == card.message_id
    assert await scene.citizen.quiet(0.3) == [], "the citizen is not part of it"
    assert [e.actor_name for e in await audit(world, "cc_answer")] == ["Budi"]


async def test_a_redelivered_press_reminds_once(world: World) -> None:
    scene = await overdue_complaint(world)
    await escalation_card(world, scene)
    rt = world.app.runtime
    assert rt is not None
    chat_id = scene.centre[0].chat_id
    actor = StaffActor(user_id=str(scene.centre[0].user.id), name="Kepala")
    for _ in range(2):
        await handle_button(rt, chat_id=chat_id, actor=actor, payload=f"cc:nudge:{scene.complaint_id}",
                            update_key="tg:cc-nudge-1")
    await scene.agency[0].next_matching("Pengingat dari pusat komando")
    assert await scene.agency[0].quiet(0.5) == []
    assert len(await audit(world, "nudge")) == 1


# --- ↪️ Alihkan --------------------------------------------------------------------------------------------


async def test_reassign_moves_the_complaint_like_a_cards_alihkan(world: World) -> None:
    scene = await overdue_complaint(world)
    dlh = await world.agency_group("dlh", ("Dewi",))
    card = await escalation_card(world, scene)
    answer = await scene.centre[0].tap(f"cc:pick:{scene.complaint_id}", card)
    assert "Pilih instansi" in answer.get("text", "")
    picker = await eventually(lambda: f"cc:to:{scene.complaint_id}:dlh" in payloads(current(world, card))
                              and current(world, card))
    assert f"cc:to:{scene.complaint_id}:pupr" not in payloads(picker), "not the agency it is with"

    answer = await scene.centre[0].tap(f"cc:to:{scene.complaint_id}:dlh", picker)
    assert not answer.get("show_alert"), answer
    new_card = await dlh[0].next_matching(scene.number)
    assert any(p.startswith("st:accept:") for p in payloads(new_card)), "a working card at the new agency"
    notice = await scene.citizen.next_matching("Dinas Lingkungan Hidup")
    assert scene.number in body(notice)
    await eventually(lambda: body(current(world, scene.card)).startswith("↪️ Dialihkan ke DLH"))
    assert (await the_complaint(world))[1:] == ("baru", "dlh")
    (entry,) = await audit(world, "reassign")
    assert (entry.actor_name, entry.to_agency, entry.note) == ("Kepala", "dlh", "via pusat komando")
    # the escalation card is itself again, now naming the new agency
    await eventually(lambda: "Dinas Lingkungan Hidup" in body(current(world, card))
                     and f"cc:nudge:{scene.complaint_id}" in payloads(current(world, card)))


async def test_the_picker_can_be_cancelled(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    await scene.centre[0].tap(f"cc:pick:{scene.complaint_id}", card)
    picker = await eventually(lambda: f"cc:to:{scene.complaint_id}:-" in payloads(current(world, card))
                              and current(world, card))
    answer = await scene.centre[0].tap(f"cc:to:{scene.complaint_id}:-", picker)
    assert "dibatalkan" in answer.get("text", "")
    await eventually(lambda: f"cc:nudge:{scene.complaint_id}" in payloads(current(world, card)))
    assert (await the_complaint(world))[2] == "pupr"


# --- 📝 Beri catatan ------------------------------------------------------------------------------------


async def test_a_note_reaches_the_agency_under_its_card(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    answer = await scene.centre[0].tap(f"cc:note:{scene.complaint_id}", card)
    assert "Balas pesan" in answer.get("text", "")
    prompt = await scene.centre[0].next_matching("tulis catatan")
    assert (prompt.reply_markup or {}).get("force_reply") and prompt.reply_to_message_id == card.message_id
    await eventually(lambda: "Menunggu catatan dari Kepala" in body(current(world, card))
                     and payloads(current(world, card)) == [f"cc:nx:{scene.complaint_id}"])
    await outbox_settled(world)

    sent = await scene.centre[0].say("Mohon kirim tim <hari ini> & laporkan.", reply_to=prompt.message_id)
    assert "dikirim ke grup PUPR" in body(sent)
    note = await scene.agency[0].next_matching("Catatan dari pusat komando")
    assert note.reply_to_message_id == scene.card.message_id
    assert "Mohon kirim tim <hari ini> & laporkan." in body(note) and "Kepala" in body(note)
    (entry,) = await audit(world, "cc_note")
    assert entry.actor_kind == "staff" and entry.note == "via pusat komando: Mohon kirim tim <hari ini> & laporkan."
    await eventually(lambda: f"cc:nudge:{scene.complaint_id}" in payloads(current(world, card)))
    await eventually(lambda: "catatan dari pusat komando" in body(current(world, scene.card)))
    assert await scene.citizen.quiet(0.2) == [], "a note is between the command centre and the agency"

    # a second reply under the answered prompt changes nothing, and says so once
    await outbox_settled(world)
    over = await scene.centre[0].say("Satu lagi", reply_to=prompt.message_id)
    assert "sudah selesai atau dibatalkan" in body(over)
    scene.centre[0].user.send_text("Dan lagi", chat=scene.centre[0].chat_id, reply_to=prompt.message_id)
    assert await scene.centre[0].quiet(0.5) == []
    assert [e.refused for e in await audit(world, "cc_note")] == [False, True, True], "the late replies are refused"


async def test_a_note_prompt_can_be_cancelled(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    await scene.centre[0].tap(f"cc:note:{scene.complaint_id}", card)
    prompt = await scene.centre[0].next_matching("tulis catatan")
    waiting = await eventually(lambda: f"cc:nx:{scene.complaint_id}" in payloads(current(world, card))
                               and current(world, card))
    answer = await scene.centre[0].tap(f"cc:nx:{scene.complaint_id}", waiting)
    assert "dibatalkan" in answer.get("text", "")
    await eventually(lambda: f"cc:note:{scene.complaint_id}" in payloads(current(world, card)))
    await outbox_settled(world)
    late = await scene.centre[0].say("Terlambat", reply_to=prompt.message_id)
    assert "dibatalkan" in body(late)
    assert await scene.agency[0].quiet(0.3) == []


# --- who may press, and when there is nothing left to do ---------------------------------------------------


async def test_a_press_from_outside_the_command_centre_is_refused(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    outsider = scene.agency[0].user  # a PUPR officer, not in the command centre's group
    answer = await world.server.wait_callback_answer(
        press_anyway(world, outsider, card, f"cc:nudge:{scene.complaint_id}")
    )
    assert answer.get("show_alert") and "anggota" in answer.get("text", ""), answer
    assert await scene.agency[0].quiet(0.4) == [], "no reminder"
    assert await audit(world, "nudge") == []
    # and a cc button pressed in an agency's own group does nothing either
    answer = await world.server.wait_callback_answer(
        press_anyway(world, outsider, scene.card, f"cc:nudge:{scene.complaint_id}")
    )
    assert answer.get("show_alert") and "pusat komando" in answer.get("text", ""), answer
    assert [(e.action, e.refused) for e in await audit(world, "nudge")] == [("nudge", True)]


async def test_a_press_on_a_closed_complaint_gets_a_short_answer(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = await uow.complaints.get_for_update(scene.complaint_id)
        assert complaint is not None
        complaint.status = "selesai"
        await uow.commit()
    answer = await scene.centre[0].tap(f"cc:nudge:{scene.complaint_id}", card)
    assert "sudah Selesai" in answer.get("text", "") and "tidak perlu tindakan" in answer.get("text", "")
    await eventually(lambda: not current(world, card).inline_keyboard)
    assert "tidak perlu tindakan lagi" in body(current(world, card))
    assert await scene.agency[0].quiet(0.3) == []


async def test_the_escalation_card_follows_the_agencys_status_changes(world: World) -> None:
    scene = await overdue_complaint(world)
    card = await escalation_card(world, scene)
    answer = await scene.agency[0].tap(f"st:accept:{scene.complaint_id}", current(world, scene.card))
    assert not answer.get("show_alert"), answer
    await eventually(lambda: "📥 Diterima" in body(current(world, card)))
    assert f"cc:nudge:{scene.complaint_id}" in payloads(current(world, card)), "still overdue: still to act on"
    await outbox_settled(world)
    await scene.agency[0].tap(f"st:reject:{scene.complaint_id}", current(world, scene.card))
    prompt = await scene.agency[0].next_matching("alasan")
    await outbox_settled(world)
    scene.agency[0].user.send_text("Bukan wewenang PUPR.", chat=scene.agency[0].chat_id, reply_to=prompt.message_id)
    await eventually(lambda: "tidak perlu tindakan lagi" in body(current(world, card))
                     and not current(world, card).inline_keyboard)


# --- the daily digests -------------------------------------------------------------------------------------


async def seed(world: World, now: datetime) -> None:
    """PUPR: 2 filed in the last 24 hours (1 still baru), 1 in progress and 5 hours overdue, 1 resolved;
    DLH: 1 accepted and 2 days 1 hour overdue, 1 rejected today; PDAM: nothing."""
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizen = Citizen(channel="telegram", channel_user_id="555", language="id")
        uow.session.add(citizen)
        await uow.session.flush()
        rows = [
            ("JMB-2026-000101", "pupr", "baru", now - timedelta(hours=2), now + timedelta(hours=70)),
            ("JMB-2026-000102", "pupr", "diterima", now - timedelta(hours=20), now + timedelta(hours=52)),
            ("JMB-2026-000103", "pupr", "diproses", now - timedelta(days=3, hours=5), now - timedelta(hours=5)),
            ("JMB-2026-000104", "pupr", "selesai", now - timedelta(days=4), now - timedelta(days=1)),
            ("JMB-2026-000105", "dlh", "diterima", now - timedelta(days=4), now - timedelta(days=2, hours=1)),
            ("JMB-2026-000106", "dlh", "ditolak", now - timedelta(hours=3), now + timedelta(hours=45)),
        ]
        for number, agency, status, created, due in rows:
            await uow.complaints.create(number=number, citizen_id=citizen.id, category="jalan", description="seeded",
                                        agency=agency, status=status, due_at=due, now=created)
        await uow.commit()


async def test_digests_count_a_seeded_set_of_complaints(world: World) -> None:
    pupr = await world.agency_group("pupr", ("Budi",))
    dlh = await world.agency_group("dlh", ("Dewi",))
    pdam = await world.agency_group("pdam", ("Agus",))
    centre = await world.agency_group("jcoc", ("Kepala",))
    rt = world.app.runtime
    assert rt is not None
    now = rt.clock()
    await seed(world, now)
    async with UnitOfWork(rt.sessionmaker) as uow:
        await command_centre.send_digests(rt, uow, now)
        await uow.commit()
    rt.on_enqueued()

    digest = body(await pupr[0].next_matching("Ringkasan harian"))
    for needed in ("Ringkasan harian PUPR", "Masuk 24 jam terakhir: 2", "Terbuka: 3 (1 belum diterima)",
                   "Terlambat: 1", "JMB-2026-000103 · terlambat 5 jam"):
        assert needed in digest, (needed, digest)
    digest = body(await dlh[0].next_matching("Ringkasan harian"))
    for needed in ("Masuk 24 jam terakhir: 1", "Terbuka: 1 (0 belum diterima)", "Terlambat: 1",
                   "JMB-2026-000105 · terlambat 2 hari 1 jam"):
        assert needed in digest, (needed, digest)
    city = body(await centre[0].next_matching("Ringkasan harian Kota Jambi"))
    for needed in ("PUPR: 2 · 3 · 1", "DLH: 1 · 1 · 1", "Total: 3 · 4 · 2",
                   "JMB-2026-000105 (DLH) · terlambat 2 hari 1 jam", "JMB-2026-000103 (PUPR) · terlambat 5 jam"):
        assert needed in city, (needed, city)
    assert city.index("JMB-2026-000105") < city.index("JMB-2026-000103"), "the longest overdue first"
    assert "PDAM" not in city
    assert await pdam[0].quiet(0.3) == [], "a group with nothing open is not woken for zeros"
    assert [m for m in await centre[0].quiet(0.2) if "Ringkasan harian JCOC" in body(m)] == []
