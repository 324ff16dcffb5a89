"""Red-team probe: citizen and staff text with HTML in it (description, address, reject reason, proof note, the
reporter's name, a Telegram group's title and its broken reason, a kecamatan typed in the filter) is shown
escaped on every page and in the map's data, never as markup."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from storage.models import AgencyGroup, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import outbox_settled
from tests.e2e.test_filing import file_complaint
from tests.web.webkit import WebWorld, signed_in

pytestmark = pytest.mark.e2e

EVIL = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"
RAW = ("<script>alert(1)", "<img src=x", "onerror=alert(2)>")


async def test_html_in_text_is_escaped_everywhere(web_world: WebWorld) -> None:
    world = web_world
    await world.agency_group("pupr")
    await file_complaint(world, world.citizen(), category="jalan")
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        await uow.session.execute(update(Complaint).values(
            description="Lubang " + EVIL, address=EVIL, reject_reason=EVIL, proof_note=EVIL, reporter_name=EVIL,
            kecamatan=EVIL,
        ))
        await uow.session.execute(update(AgencyGroup).values(title=EVIL, broken_reason=EVIL))
        await uow.commit()
    command = await signed_in(world, role="command")
    number = "JMB-"
    async with command.get(world.url("/dashboard/complaints")) as page:
        html = await page.text()
        start = html.index('href="/dashboard/complaints/JMB-') + len('href="/dashboard/complaints/')
        number = html[start:html.index('"', start)]
    paths = ["/dashboard/", "/dashboard/complaints", f"/dashboard/complaints/{number}", "/dashboard/agencies",
             "/dashboard/map", "/dashboard/complaints?kecamatan=" + EVIL, "/dashboard/complaints?q=" + EVIL,
             "/dashboard/map?category=" + EVIL, "/dashboard/complaints/" + EVIL.replace("/", "")]
    for path in paths:
        async with command.get(world.url(path)) as page:
            html = await page.text()
            assert not [raw for raw in RAW if raw in html], path
    async with command.get(world.url("/dashboard/map/complaints.geojson?status=all&days=0")) as pins:
        assert pins.content_type == "application/json"
