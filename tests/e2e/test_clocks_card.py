"""The clocks as staff read them, end to end (real aiogram client against the local Telegram server, SQLite
and PostgreSQL): a new card names its deadline in its first line and the accept clock under it; Terima
takes the accept clock off; Alihkan gives the new agency's card a fresh accept clock with the same
resolve deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from handlers.views import to_local
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import body, eventually, payloads
from tests.e2e.test_staff_exact import seed

pytestmark = pytest.mark.e2e

MONTHS = "Jan Feb Mar Apr Mei Jun Jul Agu Sep Okt Nov Des".split()


def _short(at: object) -> str:
    local = to_local(at, "Asia/Jakarta")  # type: ignore[arg-type]
    return f"{local.day} {MONTHS[local.month - 1]} {local.hour:02d}:{local.minute:02d}"


async def _clocks(world: World, number: str) -> tuple[int, object, object]:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        found = await uow.complaints.by_number(number)
        assert found is not None
        return found.id, found.accept_due_at, found.due_at


async def test_the_card_shows_its_clocks_and_accepting_stops_one(world: World) -> None:
    pupr = await world.agency_group("pupr")
    await world.agency_group("dlh", ("Dewi",))
    number = await seed(world, world.citizen("Siti"))
    complaint_id, accept_due, due = await _clocks(world, number)
    assert accept_due is not None and due is not None and due - accept_due == timedelta(hours=68)  # 72 h, 4 h
    card = await pupr[0].next_matching(number)
    first = body(card).splitlines()[0]
    assert first.startswith("🆕 Baru") and first.endswith(f"· ⏳ batas {_short(due)}")
    assert f"📥 terima sebelum {_short(accept_due)}" in body(card)
    await outbox_settled(world)
    await pupr[0].tap(f"st:accept:{complaint_id}", card)
    await eventually(lambda: "📥 Diterima" in body(current(world, card)))
    accepted = body(current(world, card))
    assert "terima sebelum" not in accepted and accepted.splitlines()[0].endswith(f"· ⏳ batas {_short(due)}")


async def test_reassigning_gives_the_new_agency_a_fresh_accept_clock(world: World) -> None:
    pupr = await world.agency_group("pupr")
    dlh = await world.agency_group("dlh", ("Dewi",))
    number = await seed(world, world.citizen("Siti"))
    complaint_id, first_accept, due = await _clocks(world, number)
    card = await pupr[0].next_matching(number)
    await outbox_settled(world)
    await pupr[0].tap(next(p for p in payloads(card) if p.startswith("st:reassign:")), card)
    picker = await eventually(lambda: any(p.endswith(":dlh") for p in payloads(current(world, card))) and current(world, card))
    await pupr[0].tap(f"ra:{complaint_id}:dlh", picker)
    fresh = await dlh[0].next_matching(number)
    _, second_accept, same_due = await _clocks(world, number)
    assert same_due == due and second_accept is not None and first_accept is not None
    assert second_accept > first_accept  # restarted at the reassignment, 4 h from then
    assert body(fresh).splitlines()[0].endswith(f"· ⏳ batas {_short(due)}")
    assert f"📥 terima sebelum {_short(second_accept)}" in body(fresh)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        accepts = [(t.round, t.fired_at) for t in await uow.timers.for_complaint(complaint_id) if t.kind == "accept"]
    assert accepts == [(1, None)]  # the first agency's unfired reminder is gone
