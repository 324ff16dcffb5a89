"""The dashboard's export (bot.web.export), served by its real routes on SQLite and PostgreSQL, with the
signed-in account put in place by a stand-in for the sign-in middleware (tests/web/test_web_export_live.py
goes through the real sign-in).

What it proves: the CSV has the documented header and the filter's rows; no personal data (the citizen's
name and channel id never appear, the alias does); a Rahasia complaint's words and pin stay out; formula
cells are escaped; the GeoJSON is a valid FeatureCollection; an agency account gets only its agency; the
body is streamed (chunked, no Content-Length) and read in chunks (more rows than one chunk)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
import pytest_asyncio
from aiohttp import web

from bot.services.runtime import Runtime
from bot.web import export
from bot.web.export_format import COLUMNS
from storage.models import Complaint
from tests.web import webkit
from tests.web.webkit import CHANNEL_ID, NAME, NOW, StandIn, runtime, stand_in_clients

__all__ = ["client_for", "runtime"]  # the stand-in kit's runtime, used here

SECRET_WORDS = "Pejabat kelurahan meminta uang pelicin"


async def seed(runtime: Runtime, extra: int = 0) -> dict[str, int]:
    """A citizen with a name, and complaints: plain (pupr), Anonim (dlh), Rahasia (pupr), a formula
    (pupr, overdue), plus ``extra`` plain dlh ones."""
    async with runtime.sessionmaker() as session, session.begin():
        citizen = webkit.sample_citizen()
        session.add(citizen)
        await session.flush()

        def complaint(n: int, **fields: object) -> Complaint:
            return webkit.sample_complaint(n, citizen.id, **fields)

        session.add_all([
            complaint(1, rating=4, status="selesai", resolved_at=NOW - timedelta(days=1)),
            complaint(2, agency="dlh", category="sampah", privacy="anonim", anon_alias="Anonim #K7QF2M",
                      reporter_name=None),
            complaint(3, privacy="rahasia", description=SECRET_WORDS, address="Rumah no. 5"),
            complaint(4, description="=HYPERLINK(\"http://evil\")", address="+62 jalan", due_at=NOW - timedelta(hours=2),
                      status="diterima"),
            *(complaint(100 + i, agency="dlh", category="sampah") for i in range(extra)),
        ])
    return {"citizen": citizen.id}


Client = StandIn


@pytest_asyncio.fixture
async def client_for(runtime: Runtime) -> AsyncIterator[Client]:
    """A client of an app with the export's routes, signed in as the given role (``None``: nobody)."""
    async with stand_in_clients(runtime, export.routes()) as make:
        yield make


def read_csv(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff"), "the BOM Excel needs"
    return list(csv.DictReader(io.StringIO(text[1:])))


async def test_csv_has_the_header_the_rows_and_no_personal_data(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    client = await client_for("command")
    response = await client.get("/complaints.csv")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.headers["Content-Disposition"] == 'attachment; filename="sikesal-2026-11-20.csv"'
    assert "Content-Length" not in response.headers and response.headers.get("Transfer-Encoding") == "chunked"
    body = await response.read()
    rows = read_csv(body)
    assert list(rows[0]) == list(COLUMNS)
    assert [r["number"] for r in rows] == ["JMB-2026-000001", "JMB-2026-000002", "JMB-2026-000003", "JMB-2026-000004"]
    text = body.decode("utf-8")
    assert NAME not in text and "Siti" not in text and CHANNEL_ID not in text
    plain, anonim, secret, formula = rows
    assert plain["reporter"].startswith("Warga #") and anonim["reporter"] == "Anonim #K7QF2M"
    assert plain["created_at"] == "2026-11-17T12:00:00+07:00"  # the city's time, with its offset
    assert plain["rating"] == "4" and plain["status"] == "selesai" and plain["overdue"] == "no"
    assert plain["latitude"] == "-1.61" and plain["longitude"] == "103.61"  # numbers are never quoted
    # Rahasia: the words, the address and the pin stay out; the district stays
    assert SECRET_WORDS not in text and "Rumah no. 5" not in text
    assert secret["description"] == "[Rahasia: isi laporan tidak diekspor]"
    assert secret["latitude"] == secret["longitude"] == secret["address"] == ""
    assert secret["kecamatan"] == "Telanaipura"
    # CSV injection
    assert formula["description"] == "'=HYPERLINK(\"http://evil\")" and formula["address"] == "'+62 jalan"
    assert formula["overdue"] == "yes"


async def test_csv_follows_the_filter_and_an_agency_sees_only_its_own(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    command = await client_for("command")
    rows = read_csv(await (await command.get("/complaints.csv", params={"agency": "dlh"})).read())
    assert [r["number"] for r in rows] == ["JMB-2026-000002"]
    rows = read_csv(await (await command.get("/complaints.csv", params={"status": "selesai"})).read())
    assert [r["number"] for r in rows] == ["JMB-2026-000001"]

    dlh = await client_for("agency:dlh")
    rows = read_csv(await (await dlh.get("/complaints.csv")).read())
    assert {r["agency"] for r in rows} == {"dlh"} and len(rows) == 1
    # asking for another agency's complaints still gives only its own
    rows = read_csv(await (await dlh.get("/complaints.csv", params={"agency": "pupr"})).read())
    assert [r["number"] for r in rows] == ["JMB-2026-000002"]
    # words in the description, and the overdue filter
    rows = read_csv(await (await command.get("/complaints.csv", params={"q": "nomor 1"})).read())
    assert [r["number"] for r in rows] == ["JMB-2026-000001"]
    rows = read_csv(await (await command.get("/complaints.csv", params={"overdue": "1"})).read())
    assert [r["number"] for r in rows] == ["JMB-2026-000004"]
    features = json.loads(await (await dlh.get("/complaints.geojson")).read())["features"]
    assert {f["properties"]["agency"] for f in features} == {"dlh"}


async def test_geojson_is_a_feature_collection_without_personal_data(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    client = await client_for("viewer")
    response = await client.get("/complaints.geojson")
    assert response.status == 200 and response.headers["Content-Type"] == "application/geo+json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="sikesal-2026-11-20.geojson"'
    assert "Content-Length" not in response.headers
    body = await response.read()
    data = json.loads(body)
    assert data["type"] == "FeatureCollection"
    numbers = [f["properties"]["number"] for f in data["features"]]
    assert numbers == ["JMB-2026-000001", "JMB-2026-000002", "JMB-2026-000004"]  # Rahasia has no pin here
    first = data["features"][0]
    assert first["type"] == "Feature" and first["geometry"] == {"type": "Point", "coordinates": [103.61, -1.61]}
    assert set(first["properties"]) == set(COLUMNS) - {"latitude", "longitude"}
    assert first["properties"]["overdue"] is False and data["features"][2]["properties"]["overdue"] is True
    text = body.decode("utf-8")
    assert NAME not in text and CHANNEL_ID not in text and SECRET_WORDS not in text
    assert data["features"][1]["properties"]["reporter"] == "Anonim #K7QF2M"


async def test_more_rows_than_one_chunk_all_come_in_order(runtime: Runtime, client_for: Client,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(export, "CHUNK", 7)
    await seed(runtime, extra=30)
    client = await client_for("command")
    rows = read_csv(await (await client.get("/complaints.csv")).read())
    assert len(rows) == 34 and len({r["number"] for r in rows}) == 34
    features = json.loads(await (await client.get("/complaints.geojson")).read())["features"]
    assert len(features) == 33


async def test_a_head_request_reads_no_rows(runtime: Runtime, client_for: Client,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    await seed(runtime)

    read: list[str] = []

    async def rows(request: web.Request, *_args: object) -> AsyncIterator[list[object]]:
        read.append(request.method)
        return
        yield

    monkeypatch.setattr(export, "_chunks", rows)
    client = await client_for("command")
    for path in ("/complaints.csv", "/complaints.geojson"):
        response = await client.head(path)
        assert response.status == 200 and response.headers["Content-Disposition"].startswith("attachment;")
    assert read == []
    await (await client.get("/complaints.csv")).read()
    assert read == ["GET"]


async def test_an_empty_export_is_still_valid(runtime: Runtime, client_for: Client) -> None:
    client = await client_for("command")
    assert read_csv(await (await client.get("/complaints.csv")).read()) == []
    assert json.loads(await (await client.get("/complaints.geojson")).read()) == {
        "type": "FeatureCollection", "features": []}


async def test_nobody_signed_in_is_sent_to_sign_in(runtime: Runtime, client_for: Client) -> None:
    await seed(runtime)
    client = await client_for(None)
    for path in ("/complaints.csv", "/complaints.geojson"):
        response = await client.get(path, allow_redirects=False)
        assert response.status == 302 and response.headers["Location"].startswith("/dashboard/login")
