"""The dashboard's map in the real app (tests/web/webkit.py's ``web_world``: real sign-in, middlewares, static
files), on SQLite and PostgreSQL; and, in Debian's Chromium, pins and kecamatan drawn with no tile server.

What it proves: the map page and its GeoJSON need a signed-in account; the vendored Leaflet, its images and
map.js are served under /dashboard/static/; the page's Content-Security-Policy allows the app's own scripts;
an agency account's pins are its agency's only; in a browser with every tile request failing, the polygons
and the pins are drawn, a popup shows the number and the description as text (markup in it stays text), and
no script error happens."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from storage.models import Citizen, Complaint
from tests.web.webkit import WebWorld, browser, signed_in

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MARKUP = '<img src=x onerror="window.hacked=1">Got ya'

pytestmark = pytest.mark.e2e


async def seed(world: WebWorld) -> None:
    runtime = world.app.runtime
    assert runtime is not None
    now = runtime.clock()
    async with runtime.sessionmaker() as session, session.begin():
        citizen = Citizen(channel="telegram", channel_user_id="555", display_name="Budi")
        session.add(citizen)
        await session.flush()
        session.add_all([
            Complaint(number="JMB-2026-000011", citizen_id=citizen.id, category="jalan", agency="pupr",
                      description=MARKUP, latitude=-1.6, longitude=103.6, kecamatan="Telanaipura", status="baru",
                      created_at=now - timedelta(hours=2), updated_at=now),
            Complaint(number="JMB-2026-000012", citizen_id=citizen.id, category="sampah", agency="dlh",
                      description="Sampah menumpuk di pasar", latitude=-1.62, longitude=103.62,
                      kecamatan="Jelutung", status="diterima", created_at=now - timedelta(hours=1), updated_at=now),
        ])


async def test_the_map_needs_sign_in_and_serves_its_files(web_world: WebWorld) -> None:
    world = web_world
    await seed(world)
    anonymous = browser(world)
    for path in ("/dashboard/map", "/dashboard/map/complaints.geojson", "/dashboard/map/areas.geojson"):
        async with anonymous.get(world.url(path), allow_redirects=False) as response:
            assert response.status in (302, 401), path
            assert "JMB-" not in await response.text()
    for path, kind in (("/dashboard/static/leaflet/leaflet.js", "javascript"),
                       ("/dashboard/static/leaflet/leaflet.css", "text/css"),
                       ("/dashboard/static/leaflet/images/layers.png", "image/png"),
                       ("/dashboard/static/map.js", "javascript"),
                       ("/dashboard/static/map.css", "text/css")):
        async with anonymous.get(world.url(path)) as response:
            assert response.status == 200, path
            assert kind in response.headers["Content-Type"], (path, response.headers["Content-Type"])

    command = await signed_in(world, "command")
    async with command.get(world.url("/dashboard/map"), allow_redirects=False) as page:
        assert page.status == 200
        html = await page.text()
        csp = page.headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp
    assert world.config.dashboard.map.tile_url in html
    assert "/dashboard/static/leaflet/leaflet.js" in html
    async with command.get(world.url("/dashboard/map/complaints.geojson")) as response:
        data = await response.json()
    assert sorted(f["properties"]["number"] for f in data["features"]) == ["JMB-2026-000011", "JMB-2026-000012"]

    agency = await signed_in(world, "agency:dlh")
    async with agency.get(world.url("/dashboard/map/complaints.geojson")) as response:
        data = await response.json()
    assert [f["properties"]["number"] for f in data["features"]] == ["JMB-2026-000012"]
    async with agency.get(world.url("/dashboard/map/areas.geojson")) as response:
        areas = await response.json()
    counts = {f["properties"]["name"]: f["properties"]["open"] for f in areas["features"]}
    assert counts["Jelutung"] == 1 and counts["Telanaipura"] == 0


@pytest.mark.skipif(not CHROMIUM.exists(), reason="browser test needs Debian's Chromium at /usr/bin/chromium")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="needs the playwright package")
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_browser_draws_areas_and_pins_without_tiles(web_world: WebWorld) -> None:
    from playwright.async_api import async_playwright

    world = web_world
    await seed(world)
    client = await signed_in(world, "command")
    cookies = [
        {"name": c.key, "value": c.value, "url": world.app.http_url}
        for c in client.cookie_jar  # the signed-in session, handed to the browser
    ]
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = await chromium.new_context(viewport={"width": 1000, "height": 800})
            await context.add_cookies(cookies)  # type: ignore[arg-type]
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            refused: list[str] = []  # Content-Security-Policy violations are reported on the console
            page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
            tiles: list[str] = []

            async def no_tiles(route: Any) -> None:  # offline: every tile request fails
                tiles.append(route.request.headers.get("referer", ""))
                await route.abort()

            await page.route("https://tile.openstreetmap.org/**", no_tiles)
            await page.goto(world.url("/dashboard/map?days=0"))
            await page.locator("#sikesal-map[data-ready='1']").wait_for(state="attached", timeout=20_000)
            assert await page.locator("#sikesal-map path.area").count() == len(world.app.runtime.area.district_names())  # type: ignore[union-attr]
            assert await page.locator("#sikesal-map path.pin").count() == 2
            assert await page.locator(".map-legend").count() == 2
            assert tiles, "the tile layer asked for tiles (and got none)"
            # OSM's usage policy wants a Referer: the site's origin, never the page's path
            assert set(tiles) == {world.app.http_url + "/"}, set(tiles)
            await page.locator("#sikesal-map path.pin-baru").click()
            popup = page.locator(".leaflet-popup-content .map-popup")
            await popup.wait_for(timeout=5_000)
            assert await popup.locator("a").get_attribute("href") == "/dashboard/complaints/JMB-2026-000011"
            assert MARKUP in await popup.locator("p.desc").inner_text()  # shown as text, not run as markup
            assert await page.evaluate("window.hacked === undefined")
            assert errors == [] and refused == []
            await page.wait_for_timeout(500)  # the popup fades in
            results = ROOT / "test-results" / "web"
            results.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=str(results / "map-offline.png"))
        finally:
            await chromium.close()
