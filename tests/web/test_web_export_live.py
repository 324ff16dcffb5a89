"""The export through the real app (``web_world``: SikesalApp, the real sign-in, the local Telegram server):
a complaint filed through the Telegram flow comes out in the CSV and GeoJSON under its alias, never its
citizen's name or Telegram id; nobody signed in gets the login page; an agency account gets only its
agency; the body is streamed (chunked)."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select

from storage.models import Citizen, Complaint
from tests.e2e.test_filing import file_complaint
from tests.web.webkit import WebWorld, browser, signed_in

NAME = "Siti Nurhaliza"


async def _filed(world: WebWorld) -> tuple[Complaint, Citizen]:
    citizen = world.citizen(NAME)
    await file_complaint(world, citizen)
    assert world.app.runtime is not None
    async with world.app.runtime.sessionmaker() as session:
        complaint = (await session.execute(select(Complaint))).scalar_one()
        person = (await session.execute(select(Citizen))).scalar_one()
    return complaint, person


async def test_export_of_a_filed_complaint_names_its_alias_only(web_world: WebWorld) -> None:
    complaint, person = await _filed(web_world)
    client = await signed_in(web_world, role="command")
    async with client.get(web_world.url("/dashboard/complaints.csv"), allow_redirects=False) as response:
        assert response.status == 200
        assert "Content-Length" not in response.headers
        assert response.headers.get("Transfer-Encoding") == "chunked"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="sikesal-')
        assert response.headers["X-Frame-Options"] == "DENY" and response.headers["Cache-Control"] == "no-store"
        body = (await response.read()).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(body.removeprefix("\ufeff"))))
    assert [r["number"] for r in rows] == [complaint.number]
    assert rows[0]["reporter"] == f"Warga #{person.id:04d}" and rows[0]["agency"] == "pupr"
    assert rows[0]["description"].startswith("Jalan berlubang besar")
    assert NAME not in body and "Nurhaliza" not in body and person.channel_user_id not in body

    async with client.get(web_world.url("/dashboard/complaints.geojson")) as response:
        assert response.status == 200
        text = await response.text()
    data = json.loads(text)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 1
    assert data["features"][0]["properties"]["reporter"] == f"Warga #{person.id:04d}"
    assert NAME not in text and person.channel_user_id not in text


async def test_an_agency_exports_only_its_own_and_nobody_signed_in_gets_the_login(web_world: WebWorld) -> None:
    complaint, _ = await _filed(web_world)  # a road complaint: PUPR's
    dlh = await signed_in(web_world, role="agency:dlh")
    for path in ("/dashboard/complaints.csv", "/dashboard/complaints.csv?agency=pupr"):
        async with dlh.get(web_world.url(path)) as response:
            body = (await response.read()).decode("utf-8")
        assert response.status == 200 and complaint.number not in body
        assert len(list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))) == 1  # the header alone
    async with dlh.get(web_world.url("/dashboard/complaints.geojson?agency=pupr")) as response:
        assert json.loads(await response.read())["features"] == []
    pupr = await signed_in(web_world, role="agency:pupr")
    async with pupr.get(web_world.url("/dashboard/complaints.csv")) as response:
        assert complaint.number in (await response.read()).decode("utf-8")

    anonymous = browser(web_world)
    for path in ("/dashboard/complaints.csv", "/dashboard/complaints.geojson"):
        async with anonymous.get(web_world.url(path), allow_redirects=False) as response:
            assert response.status == 302 and "/dashboard/login" in response.headers["Location"]
            assert complaint.number not in await response.text()
