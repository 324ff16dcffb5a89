"""The dashboard as a clerk reads it (issue 13's clerk review): the complaint page says how long is left or
how late the complaint is, the header names an agency account's agency as people do ("PUPR"), and an
address the dashboard does not have gets a page in its frame and language with a way back (not aiohttp's
bare "404: Not Found"), while a visitor who is not signed in is still sent to the login page first.

The pages' own fixtures (tests/web/test_web_pages.py: the seeded complaints, a stand-in sign-in) on SQLite
and PostgreSQL; the 404 also through the real app (tests/web/webkit.py)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from html import unescape
from urllib.parse import urlencode

import pytest
import pytest_asyncio
from sqlalchemy import select

from bot.services.runtime import Runtime
from bot.web import TEMPLATES_DIR, errors, pages
from bot.web.deadline import deadline_line
from bot.web.labels import agency_short, web_actor
from storage.models import AuditEntry, Complaint
from tests.web.test_web_pages import NOW, Client, client_for, get, runtime, seed
from tests.web.webkit import WebClient, WebWorld, browser, signed_in, stand_in_clients

__all__ = ["client_for", "runtime"]  # the pages' fixtures, used here too


def _deadline(html: str) -> str:
    start = html.find('<p class="deadline')
    return html[start:html.find("</p>", start)] if start >= 0 else ""


async def test_the_complaint_page_says_how_long_is_left_or_how_late(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    command = await client_for("command")
    late = _deadline(await get(command, "/complaints/JMB-2026-000004"))  # diterima, deadline two hours ago
    assert "🔴 terlambat 2 jam" in late and "overdue" in late
    running = _deadline(await get(command, "/complaints/JMB-2026-000002"))  # baru, no accept clock: resolve's
    assert "⏳ sisa 24 jam (batas 21 Nov 12:00)" in running and "overdue" not in running
    english = _deadline(await get(command, "/complaints/JMB-2026-000002?lang=en"))
    assert "24 h left (deadline 21 Nov 12:00)" in english
    closed = _deadline(await get(command, "/complaints/JMB-2026-000001"))  # selesai: no clock runs
    assert "⏳" not in closed and "🔴" not in closed and "batas" not in closed


def test_the_accept_clock_is_counted_while_new(runtime: Runtime) -> None:
    ctx = runtime.ctx
    line = deadline_line("baru", NOW + timedelta(minutes=40), NOW + timedelta(days=3), NOW, "id", ctx)
    assert line == "📥 terima dalam 40 menit (sebelum 20 Nov 12:40)"
    late = deadline_line("baru", NOW - timedelta(hours=3), NOW + timedelta(days=3), NOW, "en", ctx)
    assert "3 h" in late and "🔴" in late
    assert deadline_line("diproses", None, NOW + timedelta(days=3), NOW, "id", ctx, duplicate=True) == ""
    assert deadline_line("ditolak", None, NOW - timedelta(days=3), NOW, "id", ctx) == ""


async def test_the_header_names_the_agency_as_people_do(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    html = await get(await client_for("agency:pupr"), "/complaints")
    header = html[html.find('<span class="account">'):html.find("</span>", html.find('<span class="account">'))]
    assert "Instansi PUPR" in header and "pupr" not in header


@pytest_asyncio.fixture
async def with_404(runtime: Runtime) -> AsyncIterator[Callable[[str], Awaitable[WebClient]]]:
    """The pages behind a stand-in sign-in and the dashboard's 404 middleware (as bot.web.build_dashboard)."""
    async with stand_in_clients(runtime, pages.routes(), csrf="tok", templates=True, session=True,
                                middlewares=[errors.not_found_page]) as make:
        yield lambda lang: make("command", lang)


async def test_an_unknown_address_gets_the_dashboards_404_page(
    runtime: Runtime, with_404: Callable[[str], Awaitable[WebClient]],
) -> None:
    indonesian = await get(await with_404("id"), "/nope", status=404)
    assert "Halaman tidak ditemukan" in indonesian and 'href="/dashboard/"' in indonesian
    assert "404: Not Found" not in indonesian
    english = await get(await with_404("en"), "/complaints/x/y", status=404)
    assert "Page not found" in english and 'href="/dashboard/"' in english
    client = await with_404("id")
    assert (await client.post("/nope")).status in (404, 405)  # a POST keeps aiohttp's own answer
    assert (await client.get("/photos/999999")).status == 404  # a handler's 404 too, in the frame
    assert "Halaman tidak ditemukan" in await (await client.get("/photos/999999")).text()


@pytest.mark.e2e
async def test_the_404_page_in_the_real_app(web_world: WebWorld) -> None:
    world = web_world
    anonymous = browser(world)
    async with anonymous.get(world.url("/dashboard/nope"), allow_redirects=False) as page:
        assert page.status == 302 and "/dashboard/login" in page.headers["Location"]  # sign-in first
    command = await signed_in(world, role="command")
    async with command.get(world.url("/dashboard/nope")) as page:
        html = await page.text()
        assert page.status == 404 and "Halaman tidak ditemukan" in html and 'href="/dashboard/"' in html
    async with command.get(world.url("/dashboard/static/nope.css")) as page:
        assert page.status == 404 and "Halaman tidak ditemukan" not in await page.text()


async def test_the_flash_after_an_action_is_under_the_title(runtime: Runtime, client_for: Client) -> None:
    """The page opens at its top after an action (303 back to it): the message is there, escaped, above the
    facts and the photos, not at the actions form further down."""
    await seed(runtime)
    pupr = await client_for("agency:pupr")
    flash = {"text": "<b>JMB-2026-000004</b> diproses.", "ok": True}
    pupr.session.cookie_jar.update_cookies(
        {"AIOHTTP_SESSION": json.dumps({"created": int(time.time()), "session": {"flash": flash}})})
    html = await get(pupr, "/complaints/JMB-2026-000004")
    shown = html.find('class="flash flash-ok"')
    assert 0 < html.find("</h1>") < shown < html.find('class="facts"') < html.find("Foto sebelum")
    assert "&lt;b&gt;JMB-2026-000004&lt;/b&gt; diproses." in html and "<b>JMB" not in html
    assert html.count('class="flash') == 1
    again = await get(pupr, "/complaints/JMB-2026-000004")
    assert 'class="flash' not in again  # shown once


async def test_the_agencies_page_says_the_bots_place_in_the_group_in_words(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)  # PUPR's group: the bot is an administrator
    html = await get(await client_for("command"), "/agencies")
    assert "(admin)" in html and "administrator" not in html
    english = await get(await client_for("command", lang="en"), "/agencies")
    assert "(admin)" in english


def test_the_overview_column_titles_may_wrap() -> None:
    """At 1280 px the per-agency table fits (the rating column was scrolled out of sight): titles wrap,
    figures do not."""
    css = (TEMPLATES_DIR.parent / "static" / "dashboard.css").read_text()
    assert "th.num { white-space: normal; }" in css and ".num { text-align: right; white-space: nowrap; }" in css
    # the trend chart is shrunk to a phone's width: its labels are drawn larger there (seen in screenshots)
    assert "@media (max-width: 640px) { figure.trend .label { font-size: 16px; } }" in css


async def test_the_number_as_a_clerk_types_it(runtime: Runtime, client_for: Client) -> None:
    """A citizen on the phone reads out "dua ribu dua puluh enam strip empat", or just "nomor empat"."""
    await seed(runtime)
    command = await client_for("command")
    for typed in ("JMB-2026-000004", "jmb-2026-4", "2026-4", "2026/4", "4", "#4", "JMB-4", " jmb 2026 000004 "):
        listed = re.findall(r'<a href="/dashboard/complaints/(JMB-2026-\d+)">', await get(
            command, "/complaints?" + urlencode({"q": typed})))
        assert "JMB-2026-000004" in listed, typed


async def test_the_filter_travels_with_pages_sorting_and_exports(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime, extra=60)
    command = await client_for("command")
    html = await get(command, "/complaints?agency=dlh&status=baru&q=jalan")
    links = [unescape(h) for h in re.findall(r'href="(/dashboard/complaints[^"]*)"', html)]
    exports = [h for h in links if ".csv" in h or ".geojson" in h]
    assert len(exports) == 2 and all("agency=dlh" in h and "status=baru" in h and "q=jalan" in h for h in exports)
    sorts = [h for h in links if "sort=" in h]
    assert sorts and all("agency=dlh" in h and "q=jalan" in h for h in sorts)
    pages_ = [h for h in links if "page=2" in h]
    assert pages_ and all("agency=dlh" in h and "status=baru" in h for h in pages_)


def test_shared_labels(runtime: Runtime) -> None:
    config = runtime.config
    assert agency_short(config, "pupr") == "PUPR" and agency_short(config, "gone") == "gone"
    assert web_actor("ani (via web)", runtime.ctx) == "ani" and web_actor("Budi", runtime.ctx) == "Budi"
    assert web_actor(" (via web)", runtime.ctx) == " (via web)"  # never an empty name


async def test_a_web_action_names_its_actor_once(runtime: Runtime, client_for: Client) -> None:
    """The audit row of an action from the dashboard: "ani (petugas, web) ... lewat web", not
    "ani (via web) (petugas, web) ... lewat web"."""
    await seed(runtime)
    html = await get(await client_for("command"), "/complaints/JMB-2026-000001")
    assert "Budi (web) <span" in html  # a name that is not the catalog's suffix stays as stored
    async with runtime.sessionmaker() as session, session.begin():
        complaint = (await session.execute(select(Complaint).where(Complaint.number == "JMB-2026-000001"))).scalar_one()
        session.add(AuditEntry(complaint_id=complaint.id, at=NOW, actor_kind="web", actor_name="ani (via web)",
                               action="cc_note", note="ditelepon"))
    html = await get(await client_for("command"), "/complaints/JMB-2026-000001")
    assert "ani (via web)" not in html and "ani <span" in html and "ditelepon" in html


async def test_the_page_points_a_clerk_at_the_actions(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    mine = await get(await client_for("agency:pupr"), "/complaints/JMB-2026-000004")
    assert 'href="#actions-title"' in mine and 'id="actions-title"' in mine and "Tindakan ↓" in mine
    viewer = await get(await client_for("viewer"), "/complaints/JMB-2026-000004")
    assert 'href="#actions-title"' not in viewer  # nothing to do: no link to nowhere


async def test_an_empty_list_says_why(runtime: Runtime, client_for: Client) -> None:
    command = await client_for("command")
    first_day = await get(command, "/complaints")
    assert "Belum ada pengaduan." in first_day and "Unduh CSV" not in first_day
    assert "Belum ada pengaduan." in await get(command, "/complaints?sort=due&dir=asc")
    assert "Belum ada pengaduan." in await get(await client_for("agency:pupr"), "/complaints")  # its agency: no filter
    await seed(runtime)
    nothing = await get(command, "/complaints?q=zzzz")
    assert "Tidak ada pengaduan yang cocok dengan filter ini." in nothing and "Unduh CSV" not in nothing
    assert "Unduh CSV" in await get(command, "/complaints")


async def test_the_pager_marks_skipped_pages(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime, extra=runtime.config.dashboard.page_size * 8)
    html = await get(await client_for("command"), "/complaints?page=5")
    pager = html[html.find('<nav class="pager"'):]
    assert pager.count('<span class="gap">…</span>') == 2  # 1 … 3 4 5 6 7 … 9


async def test_the_rating_count_is_explained(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    html = await get(await client_for("command"), "/")
    assert 'title="dari 1 penilaian warga (1–5)"' in html


def test_the_same_thing_has_the_same_name_across_pages(runtime: Runtime) -> None:
    """The filing time is "Masuk" / "Filed" on the list, the complaint page and the map's popup; the two
    on-time columns read alike."""
    ctx = runtime.ctx
    for lang in ("id", "en"):
        assert ctx.t(lang, "web.map.created") == ctx.t(lang, "web.pages.col.created")
    assert ctx.t("en", "web.pages.col.resolved_pct") == "Resolved on time"
    assert ctx.t("en", "web.pages.col.accepted_pct") == "Accepted on time"
    assert ctx.t("id", "web.role.command") == "Command Center"


@pytest.mark.e2e
async def test_typing_the_address_without_its_slash_keeps_the_clerk_signed_in(web_world: WebWorld) -> None:
    """The session cookie is scoped to /dashboard/: the browser does not send it to /dashboard, and a fresh
    session answered there replaced it (signed out by typing the address)."""
    world = web_world
    command = await signed_in(world, role="command")
    async with command.get(world.url("/dashboard?lang=en"), allow_redirects=False) as bare:
        assert bare.status == 302 and bare.headers["Location"] == "/dashboard/?lang=en"
        assert "Set-Cookie" not in bare.headers
    async with command.get(world.url("/dashboard/complaints"), allow_redirects=False) as page:
        assert page.status == 200, "still signed in"
    async with command.get(world.url("/dashboard/complaints/?status=baru"), allow_redirects=False) as slash:
        assert slash.status == 302 and slash.headers["Location"] == "/dashboard/complaints?status=baru"
    async with command.get(world.url("/dashboard/nope/")) as page:
        assert page.status == 404 and "Halaman tidak ditemukan" in await page.text()


async def test_the_new_today_card_opens_todays_list(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)  # complaint 2 filed an hour before NOW (12:00 in Jambi)
    command = await client_for("command")
    html = await get(command, "/")
    link = unescape(re.search(r'<a class="card card-link" href="([^"]+)">\s*<div class="n" id="new-today">', html)[1])
    assert link == "/dashboard/complaints?from=2026-11-20&to=2026-11-20"
    assert numbers_of(await get(command, link.removeprefix("/dashboard"))) == ["JMB-2026-000002"]


def numbers_of(html: str) -> list[str]:
    return re.findall(r'<a href="/dashboard/complaints/(JMB-2026-\d+)">', html)
