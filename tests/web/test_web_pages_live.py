"""The read pages in the real app (tests/web/webkit.py: the SikesalApp, the local Telegram server, the real
sign-in), on SQLite and PostgreSQL, with complaints filed through the Telegram flow.

What it proves, per role: the command centre sees both agencies' complaints (list, overview, complaint page
with its photo); an agency account sees only its agency's, gets a 404 for the other agency's complaint by
URL and for its photo, and gets the action forms on its own complaint; a viewer reads everything and gets no
action form; nobody signed in is sent to the login page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from storage.models import Complaint, ComplaintPhoto
from storage.uow import UnitOfWork
from tests.e2e.conftest import outbox_settled
from tests.e2e.test_filing import file_complaint
from tests.web.webkit import WebWorld, browser, signed_in

pytestmark = pytest.mark.e2e


async def _filed(world: WebWorld) -> dict[str, tuple[str, int]]:
    """A road complaint (PUPR, its group linked) and a rubbish one (DLH); agency -> (number, photo id)."""
    await world.agency_group("pupr")
    await file_complaint(world, world.citizen(), category="jalan")
    await file_complaint(world, world.citizen(), category="sampah")
    await outbox_settled(world)
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        rows = (await uow.session.execute(select(Complaint.agency, Complaint.number, Complaint.id))).all()
        photos = dict((await uow.session.execute(
            select(ComplaintPhoto.complaint_id, ComplaintPhoto.id))).all())
    return {agency: (number, photos[cid]) for agency, number, cid in rows}


def _listed(html: str) -> list[str]:
    return re.findall(r'<a href="/dashboard/complaints/(JMB-\d{4}-\d+)">', html)


async def test_pages_by_role(web_world: WebWorld) -> None:
    world = web_world
    filed = await _filed(world)
    assert set(filed) == {"pupr", "dlh"}
    (road, road_photo), (rubbish, rubbish_photo) = filed["pupr"], filed["dlh"]

    anonymous = browser(world)
    async with anonymous.get(world.url("/dashboard/complaints"), allow_redirects=False) as page:
        assert page.status == 302 and "/dashboard/login" in page.headers["Location"]

    command = await signed_in(world, role="command")
    async with command.get(world.url("/dashboard/complaints")) as page:
        assert page.status == 200 and sorted(_listed(await page.text())) == sorted([road, rubbish])
    async with command.get(world.dashboard_url) as page:
        html = await page.text()
        assert 'data-agency="pupr"' in html and 'data-agency="dlh"' in html and "<svg" in html
    async with command.get(world.url(f"/dashboard/complaints/{road}")) as page:
        html = await page.text()
        assert page.status == 200 and f"/dashboard/photos/{road_photo}" in html
    async with command.get(world.url(f"/dashboard/photos/{road_photo}")) as photo:
        assert photo.status == 200 and (await photo.read()).startswith(b"\xff\xd8")
    async with command.get(world.url("/dashboard/agencies")) as page:
        assert page.status == 200

    pupr = await signed_in(world, role="agency:pupr")
    async with pupr.get(world.url(f"/dashboard/complaints?agency=dlh&q={rubbish}")) as page:
        assert _listed(await page.text()) == []
    async with pupr.get(world.url("/dashboard/complaints")) as page:
        assert _listed(await page.text()) == [road]
    async with pupr.get(world.url(f"/dashboard/complaints/{rubbish}")) as page:
        assert page.status == 404 and rubbish in await page.text()  # the number typed, nothing else
    async with pupr.get(world.url(f"/dashboard/photos/{rubbish_photo}")) as photo:
        assert photo.status == 404
    async with pupr.get(world.url(f"/dashboard/complaints/{road}")) as page:
        html = await page.text()
        assert page.status == 200 and 'name="action" value="accept"' in html

    viewer = await signed_in(world, role="viewer")
    async with viewer.get(world.url(f"/dashboard/complaints/{rubbish}")) as page:
        html = await page.text()
        assert page.status == 200 and 'name="action"' not in html and "action-form" not in html
    async with viewer.get(world.url("/dashboard/complaints")) as page:
        assert sorted(_listed(await page.text())) == sorted([road, rubbish])
