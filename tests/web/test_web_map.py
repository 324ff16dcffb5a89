"""The dashboard's map (bot.web.map, bot.web.map_data), served by its real routes and templates on SQLite and
PostgreSQL, with the signed-in account put in place by a stand-in for the sign-in middleware
(tests/web/test_web_map_live.py goes through the real sign-in and static files).

What it proves: pins are GeoJSON points for complaints with a location (open ones of the last 30 days by
default; the filters work and unknown values are a 400); an agency account gets only its agency (another
agency in the filter is an empty map); no property names or carries personal data; a Rahasia complaint's
words reach the command centre and its agency but not a viewer; the kecamatan carry their open counts; the
cap keeps the newest and says how many were left out; the page carries the tile settings, the vendored
Leaflet paths and no inline script; the complaint-page partial shows a map or "no location"."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from html import unescape
from typing import Any

import aiohttp_jinja2
import jinja2
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.services.runtime import Runtime
from bot.web import STATIC_DIR, TEMPLATES_DIR, map_data
from bot.web import map as web_map
from bot.web.context import WEB, WebContext, render
from bot.web.map_data import PIN_PROPERTIES
from storage.models import Complaint
from tests.web import webkit
from tests.web.webkit import CHANNEL_ID, NAME, NOW, StandIn, runtime, stand_in_clients

__all__ = ["client_for", "runtime"]  # the stand-in kit's runtime, used here

ALIAS = "Anonim #K7QF2M"
SECRET_WORDS = "Pejabat kelurahan meminta uang pelicin"
LONG_WORDS = "Lampu jalan mati sejak seminggu " * 8


async def seed(runtime: Runtime, extra: int = 0) -> None:
    """One citizen (named, sharing the name) and complaints: 1 open pupr in Telanaipura (long text),
    2 Anonim dlh in Jelutung, 3 Rahasia pupr in Telanaipura, 4 closed pupr, 5 open pupr without a pin,
    6 open pupr filed 40 days ago in Kota Baru, plus ``extra`` open dlh ones in Jelutung (newest last)."""
    async with runtime.sessionmaker() as session, session.begin():
        citizen = webkit.sample_citizen()
        session.add(citizen)
        await session.flush()

        def complaint(n: int, **fields: object) -> Complaint:
            return webkit.sample_complaint(n, citizen.id, **{"created_at": NOW - timedelta(days=3, minutes=n), **fields})

        session.add_all([
            complaint(1, description=LONG_WORDS, status="diterima"),
            complaint(2, agency="dlh", category="sampah", privacy="anonim", anon_alias=ALIAS, reporter_name=None,
                      kecamatan="Jelutung", latitude=-1.62, longitude=103.62),
            complaint(3, privacy="rahasia", description=SECRET_WORDS),
            complaint(4, status="selesai", resolved_at=NOW - timedelta(days=1)),
            complaint(5, latitude=None, longitude=None, kecamatan=None),
            complaint(6, created_at=NOW - timedelta(days=40), kecamatan="Kota Baru"),
            *(complaint(100 + i, agency="dlh", category="sampah", kecamatan="Jelutung",
                        created_at=NOW - timedelta(hours=1, seconds=-i)) for i in range(extra)),
        ])


Client = StandIn


@pytest_asyncio.fixture
async def client_for(runtime: Runtime) -> AsyncIterator[Client]:
    """A client of an app with the map's routes and templates, signed in as ``role`` (``None``: nobody)."""
    async with stand_in_clients(runtime, web_map.routes(), templates=True) as make:
        yield make


async def pins(client: TestClient[web.Request, web.Application], query: str = "") -> dict[str, Any]:
    response = await client.get("/map/complaints.geojson" + query)
    assert response.status == 200, await response.text()
    assert response.headers["Cache-Control"] == "no-store"
    data: dict[str, Any] = await response.json()
    assert data["type"] == "FeatureCollection"
    return data


def numbers(data: dict[str, Any]) -> list[str]:
    return [f["properties"]["number"] for f in data["features"]]


async def test_pins_are_open_located_complaints_of_the_last_30_days(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    client = await client_for("command")
    data = await pins(client)
    # newest first; closed (4), without a pin (5) and older than 30 days (6) are left out
    assert numbers(data) == ["JMB-2026-000001", "JMB-2026-000002", "JMB-2026-000003"]
    assert (data["total"], data["shown"], data["omitted"]) == (3, 3, 0)
    first = data["features"][0]
    assert first["type"] == "Feature"
    assert first["geometry"] == {"type": "Point", "coordinates": [103.61, -1.61]}  # GeoJSON: lon, lat
    props = first["properties"]
    assert props["url"] == "/dashboard/complaints/JMB-2026-000001"
    assert props["status"] == "diterima" and props["status_label"] == "Diterima"
    assert props["category"] == "jalan" and props["agency"] == "pupr" and props["kecamatan"] == "Telanaipura"
    assert props["created"] == "2026-11-17"  # the city's date
    assert props["confidential"] is False
    # the popup's first 80 characters, not the whole text
    assert props["description"] == LONG_WORDS[:80].rstrip() + "…" and len(props["description"]) <= 81

    assert numbers(await pins(client, "?days=0")) == [
        "JMB-2026-000001", "JMB-2026-000002", "JMB-2026-000003", "JMB-2026-000006"]
    assert numbers(await pins(client, "?status=all&days=0")) == [
        "JMB-2026-000001", "JMB-2026-000002", "JMB-2026-000003", "JMB-2026-000004", "JMB-2026-000006"]
    assert numbers(await pins(client, "?status=selesai")) == ["JMB-2026-000004"]
    assert numbers(await pins(client, "?status=baru,diterima&category=jalan")) == [
        "JMB-2026-000001", "JMB-2026-000003"]
    assert numbers(await pins(client, "?agency=dlh")) == ["JMB-2026-000002"]


@pytest.mark.parametrize("query", ["?status=open2", "?category=nope", "?agency=nope", "?days=x", "?days=-1"])
async def test_unknown_filters_are_refused(runtime: Runtime, client_for: Client, query: str) -> None:
    client = await client_for("command")
    for path in ("/map/complaints.geojson", "/map/areas.geojson"):
        response = await client.get(path + query)
        assert response.status == 400
        assert "error" in await response.json()


async def test_an_agency_account_sees_only_its_agency(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    dlh = await client_for("agency:dlh")
    assert numbers(await pins(dlh)) == ["JMB-2026-000002"]
    # asking for another agency gives an empty map, not that agency's pins
    other = await pins(dlh, "?agency=pupr")
    assert other["features"] == [] and other["total"] == 0
    areas = await (await dlh.get("/map/areas.geojson")).json()
    counts = {f["properties"]["name"]: f["properties"]["open"] for f in areas["features"]}
    assert counts["Jelutung"] == 1 and counts["Telanaipura"] == 0
    assert (await (await dlh.get("/map/areas.geojson?agency=pupr")).json())["max"] == 0

    pupr = await client_for("agency:pupr")
    assert numbers(await pins(pupr)) == ["JMB-2026-000001", "JMB-2026-000003"]


async def test_no_personal_data_and_rahasia_words_not_for_viewers(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    for role in ("command", "agency:pupr", "viewer"):
        client = await client_for(role)
        response = await client.get("/map/complaints.geojson?status=all&days=0")
        text = await response.text()
        data = json.loads(text)
        for feature in data["features"]:
            assert set(feature["properties"]) <= PIN_PROPERTIES
        assert NAME not in text and "Siti" not in text and CHANNEL_ID not in text and ALIAS not in text
        assert "Jl. Sudirman" not in text  # the address stays on the complaint page
        secret = next(f["properties"] for f in data["features"] if f["properties"]["number"] == "JMB-2026-000003")
        assert secret["confidential"] is True
        if role == "viewer":
            assert secret["description"] is None and SECRET_WORDS not in text
        else:
            assert secret["description"] == SECRET_WORDS
    forbidden = {"name", "reporter", "reporter_name", "alias", "anon_alias", "phone", "citizen", "citizen_id",
                 "channel", "channel_user_id", "display_name", "address"}
    assert not (PIN_PROPERTIES & forbidden)


async def test_areas_carry_open_counts(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    client = await client_for("viewer")
    response = await client.get("/map/areas.geojson")
    assert response.status == 200
    data = await response.json()
    assert data["type"] == "FeatureCollection"
    names = [f["properties"]["name"] for f in data["features"]]
    assert names == list(runtime.area.district_names())
    counts = {f["properties"]["name"]: f["properties"]["open"] for f in data["features"]}
    # open ones of any age: 1, 3 (Telanaipura), 2 (Jelutung), 6 (Kota Baru, 40 days old); 5 has no kecamatan
    assert counts["Telanaipura"] == 2 and counts["Jelutung"] == 1 and counts["Kota Baru"] == 1
    assert sum(counts.values()) == 4 and data["max"] == 2 and data["unplaced"] == 1
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in data["features"])
    assert set(data["features"][0]["properties"]) == {"name", "open"}
    jalan = await (await client.get("/map/areas.geojson?category=sampah")).json()
    assert {f["properties"]["name"]: f["properties"]["open"] for f in jalan["features"]}["Jelutung"] == 1
    assert jalan["max"] == 1
    shapes = await (await client.get("/map/areas.geojson?counts=0")).json()  # the complaint page's outlines
    assert len(shapes["features"]) == len(names) and shapes["max"] == 0


async def test_the_cap_keeps_the_newest_and_says_how_many_were_left_out(
    runtime: Runtime, client_for: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed(runtime, extra=7)
    monkeypatch.setattr(map_data, "PIN_LIMIT", 5)
    client = await client_for("command")
    data = await pins(client)
    assert (data["total"], data["shown"], data["omitted"], data["limit"]) == (10, 5, 5, 5)
    assert numbers(data) == [f"JMB-2026-{106 - i:06d}" for i in range(5)]


async def test_without_an_account_nothing_is_answered(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    client = await client_for(None)
    for path in ("/map/complaints.geojson", "/map/areas.geojson"):
        response = await client.get(path)
        assert response.status == 401
        assert "JMB-" not in await response.text()
    page = await client.get("/map", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"].startswith("/dashboard/login")


def data_attr(html: str, name: str) -> str:
    found = re.search(rf"{name}='([^']*)'" if name in ("data-settings", "data-words") else rf'{name}="([^"]*)"', html)
    assert found, name
    return unescape(found.group(1))


async def test_the_page_carries_tiles_leaflet_and_no_inline_script(runtime: Runtime, client_for: Client) -> None:
    config = runtime.config.dashboard.map
    client = await client_for("agency:pupr")
    response = await client.get("/map?status=baru&category=jalan&days=7")
    assert response.status == 200
    html = await response.text()
    assert data_attr(html, "data-tile-url") == config.tile_url
    assert data_attr(html, "data-attribution") == config.attribution
    assert data_attr(html, "data-max-zoom") == str(config.max_zoom)
    assert '<script src="/dashboard/static/leaflet/leaflet.js"></script>' in html
    assert '<script src="/dashboard/static/map.js"></script>' in html
    assert 'href="/dashboard/static/leaflet/leaflet.css"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script (the CSP would block it)"
    assert "unpkg" not in html and "cdn" not in html.lower()
    settings = json.loads(data_attr(html, "data-settings"))
    assert settings["pins"] == "/dashboard/map/complaints.geojson?status=baru&category=jalan&days=7"
    assert settings["areas"].startswith("/dashboard/map/areas.geojson?")
    (min_lat, min_lon), (max_lat, max_lon) = settings["bounds"]
    assert min_lat < -1.6 < max_lat and min_lon < 103.6 < max_lon
    assert {c["status"] for c in settings["colours"]} >= {"baru", "diterima", "diproses", "selesai"}
    words = json.loads(data_attr(html, "data-words"))
    assert "{n}" in words["omitted"] and words["confidential"].startswith("Rahasia")
    # an agency account is not offered other agencies
    assert 'name="agency"' not in html
    command = await client_for("command")
    assert 'name="agency"' in await (await command.get("/map")).text()
    # a bad filter: the page still renders, with the default filter and a note
    bad = await command.get("/map?status=bogus")
    assert bad.status == 200 and 'class="error"' in await bad.text()


def test_the_vendored_leaflet_is_complete() -> None:
    leaflet = STATIC_DIR / "leaflet"
    assert "Leaflet 1.9.4" in (leaflet / "leaflet.js").read_text(encoding="utf-8")[:300]
    assert (leaflet / "leaflet.css").is_file()
    assert {p.name for p in (leaflet / "images").iterdir()} >= {"layers.png", "marker-icon.png", "marker-shadow.png"}
    assert "BSD 2-Clause" in (leaflet / "LICENSE").read_text(encoding="utf-8")
    readme = (leaflet / "README.md").read_text(encoding="utf-8")
    assert "leaflet@1.9.4" in readme and "sha512-" in readme and "BSD-2-Clause" in readme
    script = (STATIC_DIR / "map.js").read_text(encoding="utf-8")
    assert "innerHTML" not in script  # citizen text goes in with textContent only


async def test_the_complaint_partial_shows_a_map_or_no_location(runtime: Runtime) -> None:
    app = web.Application()
    app[WEB] = WebContext(runtime, secret_key=b"k" * 32)
    webkit.setup_templates(app)
    env = aiohttp_jinja2.get_env(app)
    env.loader = jinja2.ChoiceLoader([
        jinja2.DictLoader({"page.html": '{% include "_complaint_map.html" %}'}), jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
    ])

    async def page(request: web.Request) -> web.Response:
        lat = float(request.query["lat"]) if "lat" in request.query else None
        lon = float(request.query["lon"]) if "lon" in request.query else None
        return render(request, "page.html", {"lat": lat, "lon": lon})

    app.router.add_get("/page", page)
    async with TestClient(TestServer(app)) as client:
        html = await (await client.get("/page?lat=-1.61&lon=103.61")).text()
        assert 'data-mode="single"' in html and 'data-lat="-1.61"' in html and 'data-lon="103.61"' in html
        assert data_attr(html, "data-tile-url") == runtime.config.dashboard.map.tile_url
        assert data_attr(html, "data-areas") == "/dashboard/map/areas.geojson?counts=0"
        assert '<script src="/dashboard/static/leaflet/leaflet.js"></script>' in html
        none = await (await client.get("/page")).text()
        assert "sikesal-map" not in none and "lokasi" in none.lower()
