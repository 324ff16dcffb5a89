"""Two staff pressing the same button at the same moment: exactly one moves the complaint, the other
gets the bot's polite alert. The status change is guarded in the database (a conditional UPDATE on
the status the press read), so this holds in one process or in two; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.services.staff import StaffActor, StaffResult, handle_staff_button
from storage.models import AuditEntry, Complaint
from storage.repositories import ComplaintRepo
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import body, eventually, payloads
from tests.e2e.test_staff_exact import seed

pytestmark = pytest.mark.e2e


async def _accepts(world: World, complaint_id: int) -> tuple[list[str], str]:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        rows = (await uow.session.scalars(
            select(AuditEntry).where(AuditEntry.complaint_id == complaint_id, AuditEntry.refused.is_(False))
        )).all()
        status = (await uow.session.get(Complaint, complaint_id)).status  # type: ignore[union-attr]
        return [r.action for r in rows if r.action != "submit"], status


async def test_two_presses_on_accept_at_once_through_telegram(world: World) -> None:
    staff = await world.agency_group("pupr")
    siti = world.citizen("Siti")
    number = await seed(world, siti)
    card = await staff[0].next_matching(number)
    await outbox_settled(world)
    accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
    queries = [person.user.press_button(card.message_id, accept, chat=card.chat_id) for person in staff]
    answers = [await world.server.wait_callback_answer(q) for q in queries]
    texts = sorted(str((a or {}).get("text", "")) for a in answers)
    assert sum("Status diubah" in t for t in texts) == 1, texts
    loser = next(a for a in answers if "Status diubah" not in str((a or {}).get("text", "")))
    assert loser is not None and loser.get("show_alert")
    assert "sudah diterima" in loser["text"] or "baru saja diubah" in loser["text"]
    actions, status = await _accepts(world, int(accept.rsplit(":", 1)[1]))
    assert (actions, status) == (["accept"], "diterima")
    await eventually(lambda: "📥 Diterima" in body(current(world, card)))
    notices = [m for m in await siti.quiet(0.5) if "diterima" in body(m)]
    assert len(notices) == 1, "the citizen is told once"


async def _race(
    world: World, complaint_id: int, payload: str, *, both_read_first: bool
) -> list[StaffResult]:
    """Two service calls at once, each in its own session (as two processes would be). With
    ``both_read_first`` (PostgreSQL) each reads the complaint before either writes, without the row
    lock, so only the conditional UPDATE can stop the second."""
    rt = world.app.runtime
    assert rt is not None
    read = asyncio.Barrier(2)
    original: Callable[..., Awaitable[Any]] = ComplaintRepo.get_for_update

    async def read_then_wait(self: ComplaintRepo, cid: int) -> Complaint | None:
        found = await self.get(cid)
        await read.wait()  # both presses have read "baru" before either writes
        return found

    chat_id = await _group_of(world, complaint_id)
    calls = [
        handle_staff_button(rt, chat_id=chat_id, actor=StaffActor(str(900 + i), f"Petugas {i}"), payload=payload,
                            update_key=f"race:{payload}:{i}")
        for i in range(2)
    ]
    if both_read_first:
        ComplaintRepo.get_for_update = read_then_wait  # type: ignore[method-assign]
    try:
        return list(await asyncio.gather(*calls))
    finally:
        ComplaintRepo.get_for_update = original  # type: ignore[method-assign]


async def _group_of(world: World, complaint_id: int) -> int:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        card = await uow.cards.active_for(complaint_id)
        assert card is not None
        return card.chat_id


@pytest.mark.parametrize("action", ["accept", "reassign-to"])
async def test_two_concurrent_service_calls_move_the_complaint_once(world: World, database_url: str, action: str) -> None:
    await world.agency_group("pupr")
    await world.agency_group("dlh", ("Dewi",))
    number = await seed(world, world.citizen("Siti"))
    await outbox_settled(world)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        found = await uow.complaints.by_number(number)
        assert found is not None
        complaint_id = found.id
    payload = f"st:accept:{complaint_id}" if action == "accept" else f"ra:{complaint_id}:dlh"
    both_read_first = database_url.startswith("postgresql")
    results = await _race(world, complaint_id, payload, both_read_first=both_read_first)
    alerts = [r.alert for r in results]
    assert all(a is not None for a in alerts)
    winners = [a for a in alerts if a is not None and not a.show_alert]
    losers = [a for a in alerts if a is not None and a.show_alert]
    assert len(winners) == 1 and len(losers) == 1, alerts
    if both_read_first:  # both read "baru": only the database's conditional UPDATE told them apart
        assert "baru saja diubah oleh petugas lain" in losers[0].text
    else:  # SQLite runs the two transactions one after the other: the second reads the first's result
        assert "sudah" in losers[0].text
    actions, status = await _accepts(world, complaint_id)
    assert actions == (["accept"] if action == "accept" else ["reassign"])
    assert status == ("diterima" if action == "accept" else "baru")


async def test_the_guard_refuses_a_change_read_before_another_committed(world: World) -> None:
    """The database guard itself: a press that read "baru" before another press committed
    "diterima" does not overwrite it, and sees the status the other left."""
    await world.agency_group("pupr")
    number = await seed(world, world.citizen("Siti"))
    rt = world.app.runtime
    assert rt is not None
    async with UnitOfWork(rt.sessionmaker) as uow:
        stale = await uow.complaints.by_number(number)
        assert stale is not None and stale.status == "baru"
        await uow.commit()  # end the read (SQLite: release the lock) with the object still in hand
        async with UnitOfWork(rt.sessionmaker) as other:
            fresh = await other.complaints.by_number(number)
            assert fresh is not None
            assert await other.complaints.move(fresh, expected_status="baru", status="diterima", now=rt.clock())
            await other.commit()
        assert not await uow.complaints.move(stale, expected_status="baru", status="ditolak", now=rt.clock())
        assert stale.status == "diterima"
        await uow.commit()
    async with UnitOfWork(rt.sessionmaker) as uow:
        final = await uow.complaints.by_number(number)
        assert final is not None and final.status == "diterima"
