"""Acting on a complaint from the dashboard: the real app, the local Telegram server, SQLite and PostgreSQL.

What it proves: an action from the web goes through the same services as the group's buttons -- the
citizen's Telegram chat gets the status notice, the group's card is edited, the audit entry is marked
"via web" (actor_kind web, actor_id web:<username>); a double submit changes the complaint once; a
rejection needs a reason; resolving takes the uploaded "after" photo as the proof (required for roads),
refuses an oversized or non-image file; a reply reaches the citizen and shows in the group; the command
centre reassigns (a fresh card in the other group), nudges (a reminder in the group) and notes (audit
only, nothing to the citizen); a viewer's POST is a 403, another agency's complaint a 404, a POST without
the CSRF token a 403.
"""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import pytest
from sqlalchemy import select

from localapi.telegram import make_jpeg
from localapi.telegram.state import StoredMessage
from storage.images import reencode_jpeg
from storage.models import AuditEntry, Complaint, ComplaintPhoto
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled, twilio, wa_world
from tests.e2e.harness import Person, body, eventually, payloads, text_of
from tests.e2e.test_filing import file_complaint
from tests.web.webkit import WebWorld, session_token, signed_in

pytestmark = pytest.mark.e2e
__all__ = ["twilio", "wa_world"]  # fixtures for the WhatsApp reply


async def filed(world: WebWorld) -> tuple[Person, list[Person], StoredMessage, str]:
    """A road complaint filed on Telegram, its card in PUPR's group; returns its number too."""
    staff = await world.agency_group("pupr")
    citizen = world.citizen()
    await file_complaint(world, citizen)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        number = (await uow.session.execute(select(Complaint.number))).scalar_one()
    return citizen, staff, card, number


async def act(
    client: aiohttp.ClientSession, world: WebWorld, number: str, *, token: str | None = None, **fields: str
) -> aiohttp.ClientResponse:
    """POST a form to the complaint's action URL (the session's token unless given; "" sends none)."""
    token = await session_token(client, world) if token is None else token
    data = {"csrf_token": token, **fields} if token else dict(fields)
    response = await client.post(world.url(f"/dashboard/complaints/{number}/action"), data=data, allow_redirects=False)
    await response.read()
    return response


async def upload(
    client: aiohttp.ClientSession, world: WebWorld, number: str, photo: bytes | None, *, text: str = "",
    filename: str = "after.jpg",
) -> aiohttp.ClientResponse:
    """The resolve form: multipart with the photo, the token in the URL."""
    token = await session_token(client, world)
    form = aiohttp.FormData()
    form.add_field("action", "resolve")
    form.add_field("text", text)
    form.add_field("photo", photo or b"", filename=filename if photo else "", content_type="image/jpeg")
    response = await client.post(
        world.url(f"/dashboard/complaints/{number}/action?csrf_token={token}"), data=form, allow_redirects=False
    )
    await response.read()
    return response


async def status_of(world: WebWorld) -> str:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        return (await uow.session.execute(select(Complaint.status))).scalar_one()


async def audit(world: WebWorld) -> list[AuditEntry]:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        entries = list((await uow.session.execute(select(AuditEntry).order_by(AuditEntry.id))).scalars().all())
        uow.session.expunge_all()  # read after the unit of work ends
        return entries


def back_to(response: aiohttp.ClientResponse, number: str) -> None:
    assert response.status == 303, response.status
    assert response.headers["Location"] == f"/dashboard/complaints/{number}"


async def test_agency_accepts_and_processes_from_the_web(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    back_to(await act(ani, web_world, number, action="accept"), number)
    notice = await citizen.next()
    assert number in body(notice) and "diterima" in body(notice).lower()
    edited = await eventually(lambda: "diterima" in body(current(web_world, card)).lower() and current(web_world, card))
    assert edited.edited and any(p.startswith("st:process:") for p in payloads(edited))
    page = web_world.url(f"/dashboard/complaints/{number}")
    async with ani.get(page) as shown:
        html = await shown.text()
    assert f"{number} diterima. Pelapor sudah diberi tahu." in html, "the flash, on the page it went back to"
    assert 'name="action" value="process"' in html and 'value="accept"' not in html, "what the status allows now"
    async with ani.get(page) as again:
        assert "Pelapor sudah diberi tahu." not in await again.text(), "shown once"
    viewer = await signed_in(web_world, "viewer", username="vera")
    async with viewer.get(page) as read_only:
        assert read_only.status == 200 and 'name="action"' not in await read_only.text()
    # a double submit: both forms posted at once, one change
    token = await session_token(ani, web_world)
    first, second = await asyncio.gather(
        act(ani, web_world, number, token=token, action="process"),
        act(ani, web_world, number, token=token, action="process"),
    )
    back_to(first, number)
    back_to(second, number)
    await eventually(lambda: "diproses" in body(current(web_world, card)).lower())
    assert await status_of(web_world) == "diproses"
    entries = [e for e in await audit(web_world) if e.actor_kind == "web"]
    moves = [(e.action, e.from_status, e.to_status, e.actor_id, e.actor_name) for e in entries if not e.refused]
    assert moves == [
        ("accept", "baru", "diterima", "web:ani", "ani (via web)"),
        ("process", "diterima", "diproses", "web:ani", "ani (via web)"),
    ]
    assert [(e.action, e.refused) for e in entries if e.refused] == [("process", True)], "the second click"
    await citizen.next_matching("ditangani")
    # in English, a refusal reads in English too (the group reads it in Bahasa Indonesia)
    async with ani.get(page + "?lang=en") as english:
        assert english.status == 200
    back_to(await act(ani, web_world, number, action="accept"), number)
    async with ani.get(page) as shown:
        html = await shown.text()
    assert "Not done: " in html and "already" in html, html[html.find("flash"):][:300]


async def test_reject_needs_a_reason_and_tells_the_citizen(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    back_to(await act(ani, web_world, number, action="reject", reason="   "), number)
    assert await status_of(web_world) == "baru"
    refused = [e for e in await audit(web_world) if e.refused]
    assert [(e.action, e.actor_kind, e.note) for e in refused] == [("reject", "web", "Alasan penolakan wajib diisi.")]
    back_to(await act(ani, web_world, number, action="reject", reason="Di luar wilayah kota"), number)
    notice = await citizen.next()
    assert "Di luar wilayah kota" in body(notice)
    await eventually(lambda: "ditolak" in body(current(web_world, card)).lower())
    async with UnitOfWork(web_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        assert complaint.status == "ditolak" and complaint.reject_reason == "Di luar wilayah kota"


async def test_resolve_with_an_uploaded_photo_records_the_proof(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    for action in ("accept", "process"):
        back_to(await act(ani, web_world, number, action=action), number)
    await citizen.next_matching("ditangani")
    back_to(await upload(ani, web_world, number, None), number)  # roads require the photo
    too_big = b"\xff\xd8\xff" + b"\0" * (10 * 1024 * 1024 + 10)
    back_to(await upload(ani, web_world, number, too_big), number)
    back_to(await upload(ani, web_world, number, b"GIF89a" + b"\0" * 100, filename="x.gif"), number)
    assert await status_of(web_world) == "diproses"
    photo = make_jpeg(gray=60)
    back_to(await upload(ani, web_world, number, photo, text="Sudah ditambal"), number)
    notice = await citizen.next_matching("selesai")
    assert notice.photo, "the resolution notice carries the proof photo"
    await eventually(lambda: "selesai" in body(current(web_world, card)).lower().split("\n", 1)[0])
    cleaned = reencode_jpeg(photo)
    assert cleaned is not None
    sha = hashlib.sha256(cleaned).hexdigest()
    async with UnitOfWork(web_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        proofs = (await uow.session.execute(select(ComplaintPhoto).where(ComplaintPhoto.kind == "proof"))).scalars().all()
        complaint = (await uow.session.execute(select(Complaint))).scalar_one()
        uow.session.expunge_all()
    assert [p.sha256 for p in proofs] == [sha]
    assert complaint.proof_note == "Sudah ditambal"
    resolve = [e for e in await audit(web_world) if e.action == "resolve" and not e.refused]
    assert [(e.actor_kind, e.actor_name, e.media_sha256) for e in resolve] == [("web", "ani (via web)", sha)]
    refusals = [e for e in await audit(web_world) if e.action == "resolve" and e.refused]
    assert len(refusals) == 1, "the missing photo is audited; the rejected files never reach the service"


async def test_reply_reaches_the_citizen_and_shows_in_the_group(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    back_to(await act(ani, web_world, number, action="reply", text="Petugas datang besok pagi"), number)
    message = await citizen.next_matching("Petugas datang besok pagi")
    assert number in body(message)
    echo = await staff[0].next_matching("Petugas datang besok pagi")
    assert "ani (via web)" in body(echo)
    back_to(await act(ani, web_world, number, action="reply", text="  "), number)  # empty: refused
    replies = [e for e in await audit(web_world) if e.action == "staff_reply"]
    assert [(e.actor_kind, e.actor_id, e.note) for e in replies] == [("web", "web:ani", "Petugas datang besok pagi")]


async def test_command_nudges_notes_and_reassigns(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    dishub = await web_world.agency_group("dishub", ("Dewi",))
    jcoc = await signed_in(web_world, "command", username="jcoc")
    assert (await act(jcoc, web_world, number, action="accept")).status == 403, "not the command centre's to do"
    back_to(await act(jcoc, web_world, number, action="nudge"), number)
    reminder = await staff[0].next_matching(number)
    assert "jcoc (via web)" in body(reminder)
    back_to(await act(jcoc, web_world, number, action="note", note="Sudah ditelepon, minta segera"), number)
    await outbox_settled(web_world)
    back_to(await act(jcoc, web_world, number, action="reassign", agency="dishub"), number)
    new_card = await dishub[0].next_matching(number)
    assert any(p.startswith("st:accept:") for p in payloads(new_card))
    await eventually(lambda: payloads(current(web_world, card)) == [])
    notice = await citizen.next()
    assert "Perhubungan" in body(notice) or "Dishub" in body(notice)
    assert not [m for m in await citizen.quiet(0.5) if "ditelepon" in body(m)], "a note never reaches the citizen"
    assert await status_of(web_world) == "baru"
    entries = [(e.action, e.actor_kind, e.actor_name, e.note) for e in await audit(web_world) if e.actor_kind == "web"]
    assert ("cc_note", "web", "jcoc (via web)", "Sudah ditelepon, minta segera") in entries
    assert [a for a, *_ in entries] == ["accept", "nudge", "cc_note", "reassign"]  # the refused accept first
    async with UnitOfWork(web_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        assert (await uow.session.execute(select(Complaint.agency))).scalar_one() == "dishub"


async def test_who_may_not_act_is_refused(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    viewer = await signed_in(web_world, "viewer", username="vera")
    assert (await act(viewer, web_world, number, action="accept")).status == 403
    dlh = await signed_in(web_world, "agency:dlh", username="dedi")
    assert (await act(dlh, web_world, number, action="accept")).status == 404
    assert (await act(dlh, web_world, "JMB-2026-999999", action="accept")).status == 404
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    assert (await act(ani, web_world, number, token="", action="accept")).status == 403, "no CSRF token"
    assert (await act(ani, web_world, number, token="wrong-token-wrong-token", action="accept")).status == 403
    assert (await act(ani, web_world, number, action="launch")).status == 403, "not an action"
    assert await status_of(web_world) == "baru"
    assert not [m for m in await citizen.quiet(0.3) if number in body(m)]


async def test_reply_goes_out_on_whatsapp_for_a_whatsapp_citizen(wa_world: World) -> None:
    from tests.e2e.test_channels import file_on

    world = WebWorld(server=wa_world.server, app=wa_world.app, config=wa_world.config, tmp=wa_world.tmp,
                     twilio=wa_world.twilio)
    try:
        staff = await world.agency_group("pupr")
        citizen = world.whatsapp_citizen()
        assert "JMB-" in await file_on(citizen)
        await staff[0].next_matching("JMB-")
        await outbox_settled(world)
        async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
            number = (await uow.session.execute(select(Complaint.number))).scalar_one()
        ani = await signed_in(world, "agency:pupr", username="ani")
        back_to(await act(ani, world, number, action="reply", text="Petugas datang besok pagi"), number)
        message = await citizen.next_matching("Petugas datang besok pagi")
        assert number in text_of(message)
        back_to(await act(ani, world, number, action="accept"), number)
        assert number in text_of(await citizen.next_matching("diterima"))
    finally:
        await world.close_clients()
