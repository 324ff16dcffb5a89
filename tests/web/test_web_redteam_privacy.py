"""Red-team regression: a Rahasia complaint's words and photos are for the handling agency and the command
centre only (handlers.privacy); the map already hid them from a viewer, the list, the complaint page and the
photo route did not. The viewer still sees that the complaint exists and where it stands."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from storage.models import Complaint, ComplaintPhoto
from storage.uow import UnitOfWork
from tests.e2e.conftest import outbox_settled
from tests.e2e.test_filing import file_complaint
from tests.web.webkit import WebWorld, signed_in

pytestmark = pytest.mark.e2e


async def test_a_viewer_does_not_read_a_rahasia_complaint(web_world: WebWorld) -> None:
    world = web_world
    await world.agency_group("pupr")
    await file_complaint(world, world.citizen(), category="jalan")
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        await uow.session.execute(update(Complaint).values(privacy="rahasia"))
        number, description = (await uow.session.execute(select(Complaint.number, Complaint.description))).one()
        photo_id = (await uow.session.execute(select(ComplaintPhoto.id))).scalars().first()
        await uow.commit()
    words = " ".join(description.split())[:30]
    assert photo_id is not None

    viewer = await signed_in(world, role="viewer")
    async with viewer.get(world.url("/dashboard/complaints")) as page:
        html = await page.text()
        assert number in html and words not in html
    async with viewer.get(world.url(f"/dashboard/complaints/{number}")) as page:
        html = await page.text()
        assert page.status == 200 and number in html
        assert words not in html and f"/dashboard/photos/{photo_id}" not in html
    async with viewer.get(world.url(f"/dashboard/photos/{photo_id}")) as photo:
        assert photo.status == 404
    async with viewer.get(world.url("/dashboard/map/complaints.geojson?status=all&days=0")) as pins:
        assert words not in await pins.text()

    for role in ("command", "agency:pupr"):  # the handling agency and the command centre read it all
        client = await signed_in(world, role=role)
        async with client.get(world.url(f"/dashboard/complaints/{number}")) as page:
            html = await page.text()
            assert words in re.sub(r"\s+", " ", html) and f"/dashboard/photos/{photo_id}" in html
        async with client.get(world.url(f"/dashboard/photos/{photo_id}")) as photo:
            assert photo.status == 200


async def test_a_viewer_cannot_search_a_rahasia_complaint_by_its_words(web_world: WebWorld) -> None:
    world = web_world
    await world.agency_group("pupr")
    await file_complaint(world, world.citizen(), category="jalan")
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        await uow.session.execute(update(Complaint).values(privacy="rahasia"))
        number, description = (await uow.session.execute(select(Complaint.number, Complaint.description))).one()
        await uow.commit()
    word = max(description.split(), key=len)
    link = f"/dashboard/complaints/{number}"
    viewer = await signed_in(world, role="viewer")
    for path in (f"/dashboard/complaints?q={word}", f"/dashboard/complaints.csv?q={word}"):
        async with viewer.get(world.url(path)) as page:
            text = await page.text()
            assert link not in text and number not in text.replace(f'value="{word}"', ""), path
    async with viewer.get(world.url(f"/dashboard/complaints?q={number}")) as page:
        assert link in await page.text(), "its number still finds it"
    command = await signed_in(world, role="command")
    async with command.get(world.url(f"/dashboard/complaints?q={word}")) as page:
        assert link in await page.text()
