"""Red-team regressions for the dashboard's actions: the longest text a form takes still reaches the
citizen (a Telegram message holds 4096 characters and the notice wraps the words in its own); a rejection
reason past :data:`bot.services.web_actions.REASON_MAX` is refused, not cut and not lost in delivery."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services.web_actions import REASON_MAX
from handlers.proof import NOTE_MAX
from localapi.telegram import make_jpeg
from storage.models import AuditEntry, Complaint, OutboxMessage
from storage.uow import UnitOfWork
from tests.e2e.conftest import outbox_settled
from tests.e2e.harness import body
from tests.web.test_web_actions import act, back_to, filed, status_of, upload
from tests.web.webkit import WebWorld, signed_in

pytestmark = pytest.mark.e2e

WORDS = ("Jalan ini akan kami perbaiki bulan depan. " * 200)[:5000]


async def _undelivered(world: WebWorld) -> list[str]:
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        rows = (await uow.session.execute(select(OutboxMessage))).scalars().all()
        return [f"{row.link_role} {row.status} {row.last_error}" for row in rows if row.status == "failed"]


async def test_a_long_reply_reaches_the_citizen(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    back_to(await act(ani, web_world, number, action="reply", text=WORDS), number)
    assert await _undelivered(web_world) == []
    assert number in body(await citizen.next_matching("Jalan ini akan kami perbaiki"))


async def test_a_too_long_reason_is_refused_and_the_longest_allowed_is_delivered(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    back_to(await act(ani, web_world, number, action="reject", reason=WORDS), number)
    assert await status_of(web_world) == "baru", "refused: the citizen would never have been told"
    async with UnitOfWork(web_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        refused = (await uow.session.execute(select(AuditEntry).where(AuditEntry.refused.is_(True)))).scalars().all()
        assert [e.action for e in refused] == ["reject"]
    async with ani.get(web_world.url(f"/dashboard/complaints/{number}")) as page:
        assert str(REASON_MAX) in await page.text()  # the flash says how long a reason may be
    back_to(await act(ani, web_world, number, action="reject", reason=WORDS[:REASON_MAX]), number)
    assert await status_of(web_world) == "ditolak"
    assert await _undelivered(web_world) == []
    assert number in body(await citizen.next_matching("Jalan ini akan kami perbaiki"))


async def test_a_long_proof_note_is_cut_as_in_the_group_and_delivered(web_world: WebWorld) -> None:
    citizen, staff, card, number = await filed(web_world)
    ani = await signed_in(web_world, "agency:pupr", username="ani")
    for action in ("accept", "process"):
        back_to(await act(ani, web_world, number, action=action), number)
    back_to(await upload(ani, web_world, number, make_jpeg(gray=60), text=WORDS), number)
    assert await status_of(web_world) == "selesai"
    assert await _undelivered(web_world) == []
    async with UnitOfWork(web_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        note = (await uow.session.execute(select(Complaint.proof_note))).scalar_one()
    assert note is not None and len(note) <= NOTE_MAX
