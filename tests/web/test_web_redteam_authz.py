"""Red-team sweep of who may reach what: every dashboard route without a session (GET: the login page, other
methods: 401), with a forged or garbled cookie (the same), and an agency account probing another agency's
complaint through every route that takes a number, a photo id or an agency filter."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from yarl import URL

from storage.models import Complaint, ComplaintPhoto
from storage.uow import UnitOfWork
from tests.e2e.conftest import outbox_settled
from tests.e2e.test_filing import file_complaint
from tests.web.webkit import WebWorld, browser, csrf_of, signed_in

pytestmark = pytest.mark.e2e

ROUTES = [
    "/dashboard/", "/dashboard/complaints", "/dashboard/complaints/JMB-2026-000001", "/dashboard/agencies",
    "/dashboard/photos/1", "/dashboard/map", "/dashboard/map/complaints.geojson", "/dashboard/map/areas.geojson",
    "/dashboard/complaints.csv", "/dashboard/complaints.geojson",
]


async def test_nothing_without_a_session(web_world: WebWorld) -> None:
    world = web_world
    await file_complaint(world, world.citizen(), category="sampah")
    await outbox_settled(world)
    for cookie in (None, "garbage", "gAAAAABl" + "A" * 120):
        client = browser(world)
        if cookie is not None:
            client.cookie_jar.update_cookies({"sikesal_session": cookie}, response_url=URL(world.dashboard_url))
        for path in ROUTES:
            async with client.get(world.url(path), allow_redirects=False) as r:
                assert r.status == 302 and r.headers["Location"].startswith("/dashboard/login"), (cookie, path)
            async with client.head(world.url(path), allow_redirects=False) as r:
                assert r.status == 302, (cookie, path)
        for path in ("/dashboard/static/..%2Fauth.py", "/dashboard/static/%2E%2E/auth.py",
                     "/dashboard/static/leaflet/..%2F..%2Fauth.py", "/dashboard/static/%2e%2e%5cauth.py"):
            async with client.get(world.url(path), allow_redirects=False) as r:
                assert r.status in (302, 403, 404) and "import" not in await r.text(), (path, r.status)
        for path in ("/dashboard/complaints/JMB-2026-000001/action", "/dashboard/logout"):
            async with client.post(world.url(path), data={"action": "accept"}, allow_redirects=False) as r:
                assert r.status in (401, 403), (cookie, path, r.status)


async def test_an_agency_reaches_nothing_of_another_agency(web_world: WebWorld) -> None:
    world = web_world
    await world.agency_group("dlh")
    await file_complaint(world, world.citizen(), category="sampah")  # DLH's
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        number, description = (await uow.session.execute(select(Complaint.number, Complaint.description))).one()
        photo_ids = list((await uow.session.execute(select(ComplaintPhoto.id))).scalars())
    words = " ".join(description.split())[:25]
    pupr = await signed_in(world, role="agency:pupr")
    for path in (f"/dashboard/complaints/{number}", f"/dashboard/complaints/{number.lower()}",
                 *(f"/dashboard/photos/{i}" for i in photo_ids)):
        async with pupr.get(world.url(path), allow_redirects=False) as r:
            assert r.status == 404, path
            assert words not in await r.text()
    for path in (f"/dashboard/complaints?agency=dlh&q={number}", "/dashboard/complaints?agency=dlh&status=baru",
                 "/dashboard/complaints.csv?agency=dlh", f"/dashboard/complaints.geojson?agency=dlh&q={number}",
                 "/dashboard/map/complaints.geojson?agency=dlh&status=all&days=0",
                 "/dashboard/map/complaints.geojson?status=all&days=0", "/dashboard/", "/dashboard/agencies"):
        async with pupr.get(world.url(path), allow_redirects=False) as r:
            text = await r.text()
            assert r.status == 200, path
            # the number typed is echoed in the search box; the complaint itself never appears
            assert f"/dashboard/complaints/{number}" not in text and f'"{number}"' not in text.replace(
                f'value="{number}"', "") and words not in text, path
            assert "q=" in path or number not in text, path
    async with pupr.get(world.url("/dashboard/map/areas.geojson?agency=dlh")) as r:
        areas = json.loads(await r.text())
        assert all(f["properties"]["open"] == 0 for f in areas["features"]) and areas["unplaced"] == 0
    async with pupr.get(world.url("/dashboard/complaints")) as page:
        token = csrf_of(await page.text())
    for form in ({"action": "accept"}, {"action": "reject", "reason": "bukan kami"}, {"action": "reply", "text": "x"},
                 {"action": "reassign", "agency": "pupr"}, {"action": "note", "note": "x"}):
        async with pupr.post(world.url(f"/dashboard/complaints/{number}/action"), data={"csrf_token": token, **form},
                             allow_redirects=False) as r:
            assert r.status == 404, form
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        assert (await uow.session.execute(select(Complaint.agency, Complaint.status))).one() == ("dlh", "baru")
