"""Proof of fix, end to end through the real aiogram client (and the real twilio client for a WhatsApp
citizen): *✔️ Selesai* asks the clerk for the "after" photo and a note, per category
(config.yaml: jalan ``required``, lampu ``optional``, layanan ``off``), and the citizen gets them with
the resolution notice, in ``/status``, and the card's history says the fix came with a photo.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import aiohttp
import pytest
from sqlalchemy import select

from localapi.telegram import make_jpeg
from localapi.telegram.state import StoredMessage
from storage.models import AuditEntry, Complaint, ComplaintPhoto
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, body, eventually, payloads, text_of
from tests.e2e.photo_checks import assert_clean, cleaned, phone_photo
from tests.e2e.proof_steps import PROMPT_WORDS, press_resolve, status_button
from tests.e2e.test_channels import file_on
from tests.e2e.test_filing import file_complaint

pytestmark = pytest.mark.e2e

AFTER = phone_photo(gray=230)  # the clerk's phone writes EXIF (GPS, serial): the citizen must not get it


async def in_progress(
    world: World, agency: str = "pupr", category: str = "jalan"
) -> tuple[Person, list[Person], StoredMessage]:
    """A Telegram citizen's complaint, accepted and in progress at ``agency``; the citizen has read
    the notices so far."""
    staff = await world.agency_group(agency)
    citizen = world.citizen()
    await file_complaint(world, citizen, category=category)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)
    await walk_to_process(world, citizen, staff, card)
    return citizen, staff, card


async def walk_to_process(world: World, citizen: Person | WhatsAppPerson, staff: list[Person], card: StoredMessage) -> None:
    for action, status in (("accept", "diterima"), ("process", "diproses")):
        fresh = current(world, card)
        await staff[0].tap(status_button(fresh, action), fresh)
        await eventually(lambda s=status: s in body(current(world, card)).lower())
        await citizen.next_matching("JMB-")
    await outbox_settled(world)


def first_line(world: World, card: StoredMessage) -> str:
    return body(current(world, card)).split("\n", 1)[0].lower()


@dataclass(frozen=True)
class Stored:
    status: str
    number: str
    proof_note: str | None


@dataclass(frozen=True)
class Entry:
    action: str
    actor_name: str | None
    note: str | None
    refused: bool
    media_sha256: str | None


async def stored(world: World) -> tuple[Stored, list[tuple[str, str]], list[Entry]]:
    """The complaint, its photos (kind, sha256) and its staff audit entries, as read now."""
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        c = (await uow.session.execute(select(Complaint))).scalar_one()
        photos = (await uow.session.execute(
            select(ComplaintPhoto.kind, ComplaintPhoto.sha256).order_by(ComplaintPhoto.position))).all()
        entries = (await uow.session.execute(
            select(AuditEntry).where(AuditEntry.actor_kind == "staff").order_by(AuditEntry.id))).scalars().all()
        return (
            Stored(c.status, c.number, c.proof_note),
            [(k, s) for k, s in photos],
            [Entry(e.action, e.actor_name, e.note, e.refused, e.media_sha256) for e in entries],
        )


def photo_bytes(world: World, message: StoredMessage) -> bytes:
    assert message.photo, "a photo, not a text"
    return bytes(world.server.state.files[message.photo[-1]["file_id"]].data)


# --- required ---------------------------------------------------------------------------------------


async def test_required_proof_refuses_text_once_then_a_photo_resolves(world: World) -> None:
    citizen, (budi, rina), card = await in_progress(world)
    prompt = await press_resolve(world, budi, card)
    assert prompt is not None and prompt.reply_markup and prompt.reply_markup.get("force_reply")
    assert "wajib" in body(prompt).lower() and "Budi" in body(prompt)
    waiting = current(world, card)
    assert "Menunggu foto bukti dari Budi" in body(waiting)
    assert [p.split(":")[:2] for p in payloads(waiting)] == [["pf", "cancel"]], "only ✖️ Batal while waiting"
    assert "diproses" in first_line(world, card), "nothing resolved yet"

    # text alone: one clear error (as a fresh prompt); a second try under the same prompt adds nothing
    budi.user.send_text("Sudah beres pak", chat=card.chat_id, reply_to=prompt.message_id)
    error = await budi.next_matching("wajib")
    assert "foto" in body(error).lower() and error.reply_markup and error.reply_markup.get("force_reply")
    await outbox_settled(world)
    budi.user.send_text("Sudah beres", chat=card.chat_id, reply_to=prompt.message_id)
    assert await budi.quiet(0.4) == [], "one error per prompt"
    assert "diproses" in first_line(world, card)
    assert await citizen.quiet(0.2) == [], "the citizen hears nothing until it is resolved"

    # a colleague answers the fresh prompt with the photo: resolved, with the caption as the note
    rina.user.send_photo(AFTER, caption="Lubang sudah ditambal & diaspal", chat=card.chat_id,
                         reply_to=error.message_id)
    await eventually(lambda: "selesai" in first_line(world, card))
    notice = await citizen.next_matching("selesai")
    assert photo_bytes(world, notice) == cleaned(AFTER), "the after photo comes with the resolution notice"
    assert_clean(photo_bytes(world, notice))  # without the clerk's phone's metadata
    assert "Lubang sudah ditambal &amp; diaspal" not in body(notice) and "Lubang sudah ditambal & diaspal" in body(notice)
    assert "JMB-" in body(notice)

    final = current(world, card)
    assert payloads(final) == [], "a resolved complaint has no more buttons"
    assert "dengan foto bukti" in body(final), body(final)
    assert photo_bytes(world, final) != AFTER, "the card keeps the citizen's photo"

    complaint, photos, entries = await stored(world)
    assert complaint.status == "selesai" and complaint.proof_note == "Lubang sudah ditambal & diaspal"
    assert [k for k, _ in photos] == ["report", "proof"]
    assert photos[1][1] == hashlib.sha256(cleaned(AFTER)).hexdigest()
    resolve = [e for e in entries if e.action == "resolve" and not e.refused]
    assert len(resolve) == 1
    assert (resolve[0].actor_name, resolve[0].note, resolve[0].media_sha256) == (
        "Rina", "Lubang sudah ditambal & diaspal", photos[1][1])
    assert [e.action for e in entries if e.refused] == ["resolve", "resolve"], "both text tries are audited"

    # Budi's late reply to his first prompt changes nothing and says so once
    await outbox_settled(world)
    budi.user.send_photo(make_jpeg(gray=20), chat=card.chat_id, reply_to=prompt.message_id)
    said = await budi.next_matching("sudah selesai")
    assert "tidak bisa diubah" in body(said)
    _, photos_after, _ = await stored(world)
    assert len(photos_after) == 2, "a late photo is not kept"

    # /status shows the proof: the note in words, the photo along
    citizen.user.send_text(f"/status {complaint.number}")
    view = await citizen.next_matching("Bukti penyelesaian")  # after the follow-up question, if asked
    assert "Bukti penyelesaian: Lubang sudah ditambal" in body(view)
    assert photo_bytes(world, view) == cleaned(AFTER)
    assert "dengan foto bukti" in body(view)


async def test_cancel_restores_the_card_and_a_late_reply_changes_nothing(world: World) -> None:
    citizen, (budi, _rina), card = await in_progress(world)
    prompt = await press_resolve(world, budi, card)
    assert prompt is not None
    waiting = current(world, card)
    cancel = next(p for p in payloads(waiting) if p.startswith("pf:cancel:"))
    answer = await budi.tap(cancel, waiting)
    assert "Dibatalkan" in answer.get("text", "")
    await eventually(lambda: any(p.startswith("st:resolve:") for p in payloads(current(world, card))))
    assert "Menunggu" not in body(current(world, card))
    await outbox_settled(world)
    budi.user.send_photo(AFTER, caption="Sudah", chat=card.chat_id, reply_to=prompt.message_id)
    said = await budi.next_matching("dibatalkan")
    assert "tidak ada yang diubah" in body(said)
    budi.user.send_photo(AFTER, caption="Sudah", chat=card.chat_id, reply_to=prompt.message_id)
    assert await budi.quiet(0.4) == [], "said once"
    complaint, photos, _ = await stored(world)
    assert complaint.status == "diproses" and complaint.proof_note is None
    assert [k for k, _ in photos] == ["report"]
    assert await citizen.quiet(0.2) == []


# --- optional and off -----------------------------------------------------------------------------------


async def test_optional_proof_a_text_note_alone_resolves(world: World) -> None:
    citizen, (budi, _rina), card = await in_progress(world, "dishub", "lampu")
    prompt = await press_resolve(world, budi, card)
    assert prompt is not None and "wajib" not in body(prompt).lower()
    waiting = current(world, card)
    assert [p.split(":")[:2] for p in payloads(waiting)] == [["pf", "skip"], ["pf", "cancel"]]
    assert "Selesai tanpa foto" in " ".join(b["text"] for b in waiting.buttons())
    budi.user.send_text("Lampu sudah diganti dengan LED baru", chat=card.chat_id, reply_to=prompt.message_id)
    await eventually(lambda: "selesai" in first_line(world, card))
    notice = await citizen.next_matching("selesai")
    assert not notice.photo and "Lampu sudah diganti dengan LED baru" in body(notice)
    assert "dengan foto bukti" not in body(current(world, card))
    complaint, photos, entries = await stored(world)
    assert complaint.proof_note == "Lampu sudah diganti dengan LED baru" and [k for k, _ in photos] == ["report"]
    resolve = next(e for e in entries if e.action == "resolve")
    assert resolve.note == "Lampu sudah diganti dengan LED baru" and resolve.media_sha256 is None
    citizen.user.send_text(f"/status {complaint.number}")
    view = await citizen.next_matching("Bukti penyelesaian")
    assert "Bukti penyelesaian: Lampu sudah diganti" in body(view) and not view.photo


async def test_optional_proof_can_be_skipped_from_the_card(world: World) -> None:
    citizen, (budi, rina), card = await in_progress(world, "dishub", "lampu")
    prompt = await press_resolve(world, budi, card)
    assert prompt is not None
    waiting = current(world, card)
    skip = next(p for p in payloads(waiting) if p.startswith("pf:skip:"))
    answer = await rina.tap(skip, waiting)
    assert not answer.get("show_alert"), answer
    await eventually(lambda: "selesai" in first_line(world, card))
    notice = await citizen.next_matching("selesai")
    assert not notice.photo and "Catatan" not in body(notice)
    # a double tap (a stale card) resolves nothing twice
    again = await rina.tap(skip, waiting)
    assert again.get("show_alert")
    await outbox_settled(world)
    budi.user.send_text("Sudah", chat=card.chat_id, reply_to=prompt.message_id)
    assert "tidak bisa diubah" in body(await budi.next_matching("sudah selesai"))
    complaint, photos, entries = await stored(world)
    assert complaint.status == "selesai" and complaint.proof_note is None
    assert [(e.action, e.actor_name, e.refused) for e in entries if e.action == "resolve"] == [
        ("resolve", "Rina", False), ("resolve", "Rina", True)]
    assert [m for m in await citizen.quiet(0.3) if "selesai" in body(m).lower()] == [], "told once"


async def test_a_dash_reply_resolves_without_photo_where_it_is_optional(world: World) -> None:
    citizen, (budi, _rina), card = await in_progress(world, "dishub", "lampu")
    prompt = await press_resolve(world, budi, card)
    assert prompt is not None
    budi.user.send_text("-", chat=card.chat_id, reply_to=prompt.message_id)
    await eventually(lambda: "selesai" in first_line(world, card))
    complaint, _, _ = await stored(world)
    assert complaint.proof_note is None


async def test_proof_off_resolves_at_once(world: World) -> None:
    citizen, (budi, _rina), card = await in_progress(world, "jcoc", "layanan")
    fresh = current(world, card)
    answer = await budi.tap(status_button(fresh, "resolve"), fresh)
    assert "Selesai" in answer.get("text", "")
    await eventually(lambda: "selesai" in first_line(world, card))
    assert not [m for m in await budi.quiet(0.3) if PROMPT_WORDS in body(m)], "no prompt"
    notice = await citizen.next_matching("selesai")
    assert not notice.photo


# --- a WhatsApp citizen -----------------------------------------------------------------------------------


async def test_a_whatsapp_citizen_gets_the_proof_photo_as_media(wa_world: World) -> None:
    staff = await wa_world.agency_group("pupr")
    citizen = wa_world.whatsapp_citizen()
    assert "JMB-" in await file_on(citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(wa_world)
    await walk_to_process(wa_world, citizen, staff, card)
    prompt = await press_resolve(wa_world, staff[0], card)
    assert prompt is not None
    staff[0].user.send_photo(AFTER, caption="Sudah ditambal", chat=card.chat_id, reply_to=prompt.message_id)
    notice = await citizen.next_matching("Sudah ditambal")
    assert "selesai" in text_of(notice).lower()
    assert len(notice.media_urls) == 1, "the photo goes with the notice, in one WhatsApp message"
    async with aiohttp.ClientSession() as session, session.get(notice.media_urls[0]) as response:
        assert response.status == 200 and await response.read() == cleaned(AFTER)  # what Twilio fetches
        assert_clean(cleaned(AFTER))
    complaint, _, _ = await stored(wa_world)
    await outbox_settled(wa_world)
    await citizen.send(f"STATUS {complaint.number}")
    view = await citizen.next_matching("Bukti penyelesaian")
    assert "Bukti penyelesaian: Sudah ditambal" in text_of(view)
    assert len(view.media_urls) == 1


# --- double taps, and a prompt answered after the complaint moved on -------------------------------------


async def test_a_double_tap_asks_once_and_a_reassigned_complaint_ignores_the_late_photo(world: World) -> None:
    citizen, (budi, rina), card = await in_progress(world)
    fresh = current(world, card)
    resolve = status_button(fresh, "resolve")
    first = await budi.tap(resolve, fresh)
    second = await rina.tap(resolve, fresh)  # her client still shows ✔️ Selesai
    assert "balas" in first.get("text", "") and "sudah diminta" in second.get("text", "")
    prompt = await budi.next_matching(PROMPT_WORDS)
    await outbox_settled(world)
    assert not [m for m in await budi.quiet(0.4) if PROMPT_WORDS in body(m)], "one prompt"

    # meanwhile the complaint is reassigned (from a client still showing Alihkan)
    complaint_id = resolve.rsplit(":", 1)[1]
    await rina.tap(f"st:reassign:{complaint_id}", fresh)
    picker = await eventually(lambda: next((p for p in payloads(current(world, card)) if p.endswith(":dishub")), None))
    await rina.tap(picker, current(world, card))
    await eventually(lambda: "dialihkan" in first_line(world, card))
    await outbox_settled(world)
    budi.user.send_photo(AFTER, caption="Sudah", chat=card.chat_id, reply_to=prompt.message_id)
    said = await budi.next_matching("Dinas Perhubungan")
    assert "tidak" in body(said).lower() or "dialihkan" in body(said).lower()
    budi.user.send_photo(AFTER, caption="Sudah", chat=card.chat_id, reply_to=prompt.message_id)
    assert await budi.quiet(0.4) == [], "said once"
    complaint, photos, _ = await stored(world)
    assert complaint.status == "baru" and [k for k, _ in photos] == ["report"] and complaint.proof_note is None
