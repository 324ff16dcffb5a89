"""A second report of the same pothole is offered as "the same problem" (both channels)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from handlers.views import reporter_alias
from storage.models import Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import WhatsAppPerson, body, choose, eventually, options, payloads, text_of
from tests.e2e.test_channels import DESCRIPTION, JAMBI, file_on, summary_from, to_location_step

pytestmark = pytest.mark.e2e

#: about 20 m from JAMBI
CLOSE_BY = (JAMBI[0] + 0.00018, JAMBI[1])



async def _to_send(citizen: Any, point: tuple[float, float]) -> Any:
    await to_location_step(citizen, description="Lubang besar lagi di jalan depan pasar, motor hampir jatuh tadi pagi")
    return await summary_from(citizen, await citizen.location(*point))


async def _count(world: World) -> int:
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        return int(await uow.session.scalar(select(func.count()).select_from(Complaint)) or 0)



async def test_same_problem_follows_the_first_report(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("pupr")
    first = wa_world.citizen("Ani")
    await file_on(first)
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(wa_world)

    second = wa_world.citizen_on(channel, "Budi")
    await _to_send(second, CLOSE_BY)
    offer = await choose(second, "Kirim")
    assert "1 laporan serupa" in text_of(offer)
    nearby_card = await second.next()
    assert "JMB-" in text_of(nearby_card) and "m dari lokasi" in text_of(nearby_card) and DESCRIPTION[:20] in text_of(nearby_card)
    question = await second.next()
    assert any("Sama dengan JMB-" in o for o in options(question)) and any("Masalah lain" in o for o in options(question))
    joined = await choose(second, "Sama dengan")
    assert "gabungkan" in text_of(joined)
    assert await _count(wa_world) == 1, "no second complaint was filed"
    await eventually(lambda: "Juga dilaporkan oleh 1 warga" in body(current(wa_world, card)))
    assert "Budi" not in body(current(wa_world, card))

    accept = next(p for p in payloads(current(wa_world, card)) if p.startswith("st:accept:"))
    await staff[0].tap(accept, current(wa_world, card))
    assert "diterima" in text_of(await first.next_matching("JMB-")).lower()
    notice = await second.next_matching("JMB-")
    assert "diterima" in text_of(notice).lower(), "followers hear about it too"
    await outbox_settled(wa_world)
    # the follower answers the notice: it reaches the group under the follower's own alias
    if isinstance(second, WhatsAppPerson):
        await second.send("Lubangnya makin besar", reply_to=notice.sid)
    else:
        second.user.send_text("Lubangnya makin besar", reply_to=notice.message_id)
    relayed = await staff[0].next_matching("makin besar")
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        original = await uow.complaints.by_number("JMB-2026-000001")
        assert original is not None
        first_alias = reporter_alias(original.citizen_id)
    assert first_alias not in body(relayed), "not signed as the first reporter"
    assert "Budi" not in body(relayed)
    # staff answer the follower's message: the answer goes to the follower, not to the reporter
    await outbox_settled(wa_world)
    staff[0].user.send_text("Terima kasih, tim sudah dijadwalkan", chat=relayed.chat_id, reply_to=relayed.message_id)
    assert "dijadwalkan" in text_of(await second.next_matching("dijadwalkan"))
    assert not [m for m in await first.quiet(0.5) if "dijadwalkan" in text_of(m)]


async def test_a_different_problem_is_filed_as_new(wa_world: World, channel: str) -> None:
    await wa_world.agency_group("pupr")
    await file_on(wa_world.citizen("Ani"))
    second = wa_world.citizen_on(channel, "Budi")
    await _to_send(second, CLOSE_BY)
    assert "serupa" in text_of(await choose(second, "Kirim"))
    await second.next_matching("Apakah masalah")
    filed = await choose(second, "Masalah lain")
    assert "JMB-" in text_of(filed)
    assert await _count(wa_world) == 2


async def test_far_away_or_own_reports_are_not_offered(wa_world: World) -> None:
    await wa_world.agency_group("pupr")
    citizen = wa_world.citizen("Ani")
    await file_on(citizen)
    await _to_send(citizen, CLOSE_BY)  # the same citizen again: their own report is not "someone else's"
    confirmation = await choose(citizen, "Kirim")
    assert "JMB-" in text_of(confirmation) and "serupa" not in text_of(confirmation)
    assert await _count(wa_world) == 2


async def test_staff_mark_a_duplicate_and_its_reporter_follows_the_original(wa_world: World) -> None:
    staff = await wa_world.agency_group("pupr")
    ani, budi = wa_world.citizen("Ani"), wa_world.whatsapp_citizen("Budi")
    await file_on(ani)
    first = await staff[0].next_matching("JMB-2026-000001")
    await _to_send(budi, (JAMBI[0] - 0.01, JAMBI[1]))  # a kilometre away: not offered as nearby
    await choose(budi, "Kirim")
    second = await staff[0].next_matching("JMB-2026-000002")
    await outbox_settled(wa_world)

    duplicate = next(p for p in payloads(second) if p.startswith("st:duplicate:"))
    await staff[0].tap(duplicate, second)
    prompt = await staff[0].next_matching("nomor pengaduan asli")
    await outbox_settled(wa_world)
    staff[0].user.send_text("JMB-2026-000999", chat=prompt.chat_id, reply_to=prompt.message_id)
    assert "tidak ditemukan" in body(await staff[0].next_matching("JMB-2026-000999"))
    staff[0].user.send_text("jmb 2026 000001", chat=prompt.chat_id, reply_to=prompt.message_id)

    told = await budi.next_matching("JMB-2026-000002")
    assert "ternyata sama" in text_of(told) and "JMB-2026-000001" in text_of(told)
    await eventually(lambda: "Duplikat" in body(current(wa_world, second)) and not payloads(current(wa_world, second)))
    await eventually(lambda: "Juga dilaporkan oleh 1 warga" in body(current(wa_world, first)))
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        marked = await uow.complaints.by_number("JMB-2026-000002")
        original = await uow.complaints.by_number("JMB-2026-000001")
        assert marked is not None and original is not None and marked.duplicate_of == original.id

    fresh = current(wa_world, first)
    await staff[0].tap(next(p for p in payloads(fresh) if p.startswith("st:accept:")), fresh)
    assert "diterima" in text_of(await ani.next_matching("JMB-2026-000001")).lower()
    assert "diterima" in text_of(await budi.next_matching("JMB-2026-000001")).lower()
