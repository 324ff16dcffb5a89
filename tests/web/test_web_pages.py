"""The dashboard's read pages (bot.web.pages) through their real routes and templates on SQLite and
PostgreSQL, with the signed-in account put in place by a stand-in for the sign-in middleware
(tests/web/test_web_pages_live.py goes through the real sign-in and the real app).

What it proves: the overview's cards, per-agency table and inline SVG trend; an agency account sees only its
agency everywhere (list, overview, agencies) and gets the same 404 for another agency's complaint (and its
photos) as for one that does not exist; the list's filters (status, category, number and words, dates,
overdue), sorting and pagination keeping the filter; citizen text is escaped; an Anonim complaint shows its
alias and never the name; a Rahasia one is marked; photos before/after, audit trail (refused, via web),
messages (a purged one says so); English with ``lang``."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient
from PIL import Image

from bot.services.runtime import Runtime
from bot.web import pages
from storage.models import (
    AgencyGroup,
    AuditEntry,
    Complaint,
    ComplaintPhoto,
    MediaFile,
    OutboxMessage,
)
from tests.web import webkit
from tests.web.webkit import CHANNEL_ID, NAME, NOW, StandIn, runtime, stand_in_clients

__all__ = ["NOW", "client_for", "runtime"]  # the stand-in kit's, used here and by tests/web/test_web_clerk.py

ALIAS = "Anonim #K7QF2M"
SCRIPT = "<script>alert('x')</script> jalan rusak parah"

Client = StandIn


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


async def seed(runtime: Runtime, extra: int = 0) -> dict[str, int]:
    """A named citizen and complaints: 1 plain pupr (resolved, with before/after photos, audit and
    messages), 2 Anonim dlh, 3 Rahasia pupr, 4 pupr overdue with a <script> description, plus ``extra`` dlh
    ones filed a day apart."""
    stored = await runtime.media.put(_jpeg())
    async with runtime.sessionmaker() as session, session.begin():
        citizen = webkit.sample_citizen()
        session.add(citizen)
        session.add(MediaFile(sha256=stored.sha256, path=stored.path, mime_type="image/jpeg", size=stored.size))
        session.add(AgencyGroup(agency="pupr", chat_id=-1001, title="Grup PUPR Kota", linked_at=NOW - timedelta(days=40),
                                bot_status="administrator"))
        session.add(AgencyGroup(agency="dlh", chat_id=-1002, title="Grup DLH", linked_at=NOW - timedelta(days=30),
                                bot_status="kicked", broken_reason="bot was kicked", broken_at=NOW - timedelta(days=2)))
        await session.flush()

        def complaint(n: int, **fields: object) -> Complaint:
            return webkit.sample_complaint(n, citizen.id, **fields)

        made = [
            complaint(1, rating=4, status="selesai", resolved_at=NOW - timedelta(days=1)),
            complaint(2, agency="dlh", category="sampah", privacy="anonim", anon_alias=ALIAS, reporter_name=None,
                      description="Sampah di pasar", kecamatan="Pasar Jambi", created_at=NOW - timedelta(hours=1)),
            complaint(3, privacy="rahasia", description="Pungutan liar di kelurahan", reporter_name=None),
            complaint(4, description=SCRIPT, due_at=NOW - timedelta(hours=2), status="diterima",
                      created_at=NOW - timedelta(days=5)),
            *(complaint(100 + i, agency="dlh", category="sampah", created_at=NOW - timedelta(days=10 + i))
              for i in range(extra)),
        ]
        session.add_all(made)
        await session.flush()
        first = made[0]
        session.add_all([
            ComplaintPhoto(complaint_id=first.id, position=0, sha256=stored.sha256, kind="report"),
            ComplaintPhoto(complaint_id=first.id, position=1, sha256=stored.sha256, kind="proof"),
            ComplaintPhoto(complaint_id=made[1].id, position=0, sha256=stored.sha256, kind="report"),
            AuditEntry(complaint_id=first.id, at=NOW - timedelta(days=3), actor_kind="citizen", actor_name="Warga #0001",
                       action="submit", to_status="baru"),
            AuditEntry(complaint_id=first.id, at=NOW - timedelta(days=2, hours=20), actor_kind="web",
                       actor_name="Budi (web)", action="accept", from_status="baru", to_status="diterima"),
            AuditEntry(complaint_id=first.id, at=NOW - timedelta(days=2, hours=19), actor_kind="staff",
                       actor_name="Ani", action="resolve", from_status="baru", to_status="selesai", refused=True,
                       note="refused-note"),
            OutboxMessage(channel="telegram", chat_id=CHANNEL_ID, payload={"text": "<b>JMB</b> status &amp; kabar"},
                          complaint_id=first.id, link_role="notification", created_at=NOW - timedelta(days=2)),
            OutboxMessage(channel="telegram", chat_id="-1001", payload={"text": "Warga: <i>kapan diperbaiki?</i>"},
                          complaint_id=first.id, link_role="relay", created_at=NOW - timedelta(days=1, hours=5)),
            OutboxMessage(channel="telegram", chat_id=CHANNEL_ID, payload={}, purged_at=NOW,
                          complaint_id=first.id, link_role="staff_reply", created_at=NOW - timedelta(days=1)),
            OutboxMessage(channel="telegram", chat_id="-1001", payload={"text": "card"}, complaint_id=first.id,
                          link_role="card", created_at=NOW - timedelta(days=1)),
        ])
        await session.flush()
        photos = {p.kind + str(p.complaint_id): p.id for p in (await session.execute(
            ComplaintPhoto.__table__.select())).all()}  # type: ignore[attr-defined]
    return {"citizen": citizen.id, "dlh_photo": photos[f"report{made[1].id}"], "pupr_photo": photos[f"report{first.id}"]}


@pytest_asyncio.fixture
async def client_for(runtime: Runtime) -> AsyncIterator[Client]:
    """A client of an app with the pages' routes and templates, signed in as ``role`` (``?lang=`` wins over
    ``lang``)."""
    async with stand_in_clients(runtime, pages.routes(), lang_from_query=True, csrf="tok", templates=True,
                                session=True) as make:
        yield make


def numbers(html: str) -> list[str]:
    """The tracking numbers linked from a list page, in order."""
    return re.findall(r'<a href="/dashboard/complaints/(JMB-2026-\d+)">', html)


async def get(client: TestClient[web.Request, web.Application], path: str, status: int = 200) -> str:
    response = await client.get(path)
    text = await response.text()
    assert response.status == status, (response.status, text[:2000])
    return text


async def test_overview_for_command_and_for_an_agency(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    html = await get(await client_for("command"), "/")
    assert re.search(r'id="open-now">3<', html)  # 2, 3, 4
    assert re.search(r'id="overdue-now">1<', html)  # 4
    assert re.search(r'id="new-today">1<', html)  # 2, an hour ago
    assert 'data-agency="pupr"' in html and 'data-agency="dlh"' in html
    assert "<svg" in html and "<polyline" in html and "<script" not in html.split("<main>")[1]
    assert "Ringkasan" in html and "Selesai tepat waktu" in html
    mine = await get(await client_for("agency:pupr"), "/")
    assert 'data-agency="pupr"' in mine and 'data-agency="dlh"' not in mine
    assert re.search(r'id="open-now">2<', mine) and re.search(r'id="new-today">0<', mine)
    english = await get(await client_for("viewer"), "/?lang=en")
    assert "Overview" in english and "Resolved on time" in english


async def test_list_filters_and_visibility(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    command = await client_for("command")
    assert numbers(await get(command, "/complaints")) == ["JMB-2026-000002", "JMB-2026-000003", "JMB-2026-000001",
                                                          "JMB-2026-000004"]  # same time: newest id first
    assert numbers(await get(command, "/complaints?status=diterima&status=selesai&sort=created&dir=asc")) == [
        "JMB-2026-000004", "JMB-2026-000001"]
    assert numbers(await get(command, "/complaints?category=sampah")) == ["JMB-2026-000002"]
    assert numbers(await get(command, "/complaints?kecamatan=Pasar+Jambi")) == ["JMB-2026-000002"]
    assert numbers(await get(command, "/complaints?q=jmb-2026-3")) == ["JMB-2026-000003"]
    assert numbers(await get(command, "/complaints?q=JMB-2026-000004")) == ["JMB-2026-000004"]
    assert numbers(await get(command, "/complaints?q=PUNGUTAN+liar")) == ["JMB-2026-000003"]
    assert numbers(await get(command, "/complaints?overdue=1")) == ["JMB-2026-000004"]
    # city dates: the 17th (3 days ago) holds 1 and 3; the 15th holds 4
    assert numbers(await get(command, "/complaints?from=2026-11-17&to=2026-11-17")) == ["JMB-2026-000003",
                                                                                       "JMB-2026-000001"]
    assert numbers(await get(command, "/complaints?to=2026-11-16")) == ["JMB-2026-000004"]
    pupr = await client_for("agency:pupr")
    assert numbers(await get(pupr, "/complaints")) == ["JMB-2026-000003", "JMB-2026-000001", "JMB-2026-000004"]
    assert numbers(await get(pupr, "/complaints?agency=dlh")) == ["JMB-2026-000003", "JMB-2026-000001",
                                                                 "JMB-2026-000004"]
    html = await get(command, "/complaints")
    assert SCRIPT not in html and "&lt;script&gt;" in html  # escaped, never run
    assert NAME not in html and CHANNEL_ID not in html
    assert "🔒 Rahasia" in html and "🕶️ Anonim" in html  # marked as on the cards


async def test_pagination_keeps_the_filter(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime, extra=60)
    command = await client_for("command")
    first = await get(command, "/complaints?category=sampah")  # page size 50 (config.yaml default)
    assert "61 pengaduan" in first and len(numbers(first)) == 50
    assert 'href="/dashboard/complaints?category=sampah&amp;page=2" rel="next"' in first
    second = await get(command, "/complaints?category=sampah&page=2")
    assert len(numbers(second)) == 11 and not set(numbers(first)) & set(numbers(second))
    assert "Halaman 2 dari 2" in second


async def test_complaint_page(runtime: Runtime, client_for: Client) -> None:
    ids = await seed(runtime)
    command = await client_for("command")
    html = await get(command, "/complaints/JMB-2026-000001")
    assert "JMB-2026-000001" in html and NAME in html  # the citizen agreed to share their name here
    assert CHANNEL_ID not in html
    assert html.count(f'src="/dashboard/photos/{ids["pupr_photo"]}"') == 1 and html.count('src="/dashboard/photos/') == 2
    before, after = html.split("Foto sesudah")
    assert "/dashboard/photos/" in before and "/dashboard/photos/" in after
    # audit trail with the refused entry and the web one; messages with the purged one
    assert "refused-note" in html and "lewat web" in html and "Budi (web)" in html
    assert "JMB status &amp; kabar" in html and "kapan diperbaiki?" in html and "<i>kapan" not in html
    assert "Dihapus sesuai masa simpan data." in html and ">card<" not in html
    anonim = await get(command, "/complaints/JMB-2026-000002")
    assert ALIAS in anonim and NAME not in anonim
    secret = await get(command, "/complaints/jmb-2026-000003")
    assert "Rahasia" in secret and NAME not in secret
    script = await get(command, "/complaints/JMB-2026-000004")
    assert SCRIPT not in script and "&lt;script&gt;alert" in script
    english = await get(command, "/complaints/JMB-2026-000001?lang=en")
    assert "History and audit trail" in english and "via web" in english


async def test_another_agencys_complaint_and_photo_are_404(runtime: Runtime, client_for: Client) -> None:
    ids = await seed(runtime)
    pupr = await client_for("agency:pupr")
    missing = await get(pupr, "/complaints/JMB-2026-000002", status=404)
    unknown = await get(pupr, "/complaints/JMB-2026-999999", status=404)
    assert "Sampah di pasar" not in missing and ALIAS not in missing
    assert missing.replace("000002", "X") == unknown.replace("999999", "X")  # indistinguishable
    assert (await pupr.get(f"/photos/{ids['dlh_photo']}")).status == 404
    mine = await pupr.get(f"/photos/{ids['pupr_photo']}")
    assert mine.status == 200 and mine.headers["Content-Type"] == "image/jpeg"
    assert (await mine.read()).startswith(b"\xff\xd8")
    viewer = await client_for("viewer")
    assert (await viewer.get(f"/photos/{ids['dlh_photo']}")).status == 200
    assert (await viewer.get("/photos/999999")).status == 404


async def test_agencies_page(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    html = await get(await client_for("command"), "/agencies")
    assert "Grup PUPR Kota" in html and "Grup DLH" in html and "bot was kicked" in html
    assert 'class="overdue bot-broken"' in html and 'class="bot-ok"' in html
    assert "Belum ditautkan" in html  # an agency of config.yaml without a group
    mine = await get(await client_for("agency:pupr"), "/agencies")
    assert "Grup PUPR Kota" in mine and "Grup DLH" not in mine
