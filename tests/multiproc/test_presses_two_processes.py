"""Two staff press "Terima" on the same card at the same moment and the round-robin proxy hands the two
presses to two different ``sikesal run`` processes: exactly one moves the complaint (the status change is
a conditional UPDATE in PostgreSQL, whichever process runs it), the other gets the bot's polite alert, and
the citizen hears about it once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.services import citizen as citizen_service
from bot.services.runtime import Runtime
from handlers.state import Draft
from localapi.telegram import TelegramServer, make_jpeg
from storage.db import make_sessionmaker
from storage.media import MediaStore
from storage.models import AuditEntry, Complaint
from storage.uow import UnitOfWork
from tests.multiproc.procs import (
    CATEGORY_AGENCY,
    TOKEN,
    Cluster,
    Filing,
    body,
    link_groups,
    make_filings,
    payloads,
    write_config,
)
from tests.multiproc.test_several_processes import code_maker, settled

pytestmark = [pytest.mark.multiproc, pytest.mark.postgres]


async def _file(server: TelegramServer, runtime: Runtime, filing: Filing) -> str:
    """The citizen says hello (so the bot may write to them), then their complaint is filed by the
    citizen service's own filing step, as at "Kirim" (the conversation has its own tests)."""
    filing.user.send_text("/start")
    await server.wait_for_message(filing.user.id, timeout=60, new_only=False)
    draft = Draft(category=filing.category, description="Jalan berlubang besar di depan pasar, berbahaya",
                  latitude=filing.place[0], longitude=filing.place[1])
    async with UnitOfWork(runtime.sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("telegram", str(filing.user.id), language="id")
        complaint = await citizen_service.file_draft(runtime, uow, citizen, draft)
        await uow.commit()
    return complaint.number

#: complaints raced on, one pair of presses each (each pair lands on both processes)
RACES = 3


async def test_two_presses_in_two_processes_move_the_complaint_once(
    pg_url: str, pg_engine: AsyncEngine, fresh_redis: Any, tmp_path: Path
) -> None:
    redis_url = await fresh_redis(9)
    config = write_config(tmp_path / "config.yaml")
    async with TelegramServer(TOKEN, rate_limits=True) as server:
        cluster = Cluster(2, server, pg_url, tmp_path, tmp_path / "config.yaml", redis_url)
        try:
            await cluster.start()
            groups = await link_groups(server, config, code_maker(config, pg_engine, tmp_path / "data" / "media"))
            pool = make_filings(server, 40, 0, photos=[make_jpeg()])  # citizens far apart, categories in turn
            agency = CATEGORY_AGENCY[pool[0].category]
            filings = [f for f in pool if CATEGORY_AGENCY[f.category] == agency][:RACES]
            group_id, first = groups[CATEGORY_AGENCY[filings[0].category]]
            second = server.create_user("Staf kedua")
            server.add_member(group_id, second)
            runtime = Runtime(config=config, sessionmaker=make_sessionmaker(pg_engine),
                              media=MediaStore(tmp_path / "data" / "media"))
            for filing in filings:
                filing.number = await _file(server, runtime, filing)
            answers: list[dict[str, Any]] = []
            for filing in filings:
                number = filing.number or ""
                card = await server.wait_for_message(
                    group_id, lambda m, n=number: n in body(m) and any(p.startswith("st:accept:") for p in payloads(m)),
                    timeout=60, new_only=False,
                )
                await settled(pg_engine)  # the card's message id is recorded, as when a person reads it
                accept = next(p for p in payloads(card) if p.startswith("st:accept:"))
                queries = [staff.press_button(card.message_id, accept, chat=group_id) for staff in (first, second)]
                pair = [await server.wait_callback_answer(q, timeout=60) for q in queries]
                assert sum(not a.get("show_alert") for a in pair) == 1, pair
                answers += pair
            await settled(pg_engine)
        finally:
            exit_codes = await cluster.stop()
    assert all(n > 0 for n in cluster.proxy.answered.values()) and len(cluster.proxy.answered) == 2
    refused = [a["text"] for a in answers if a.get("show_alert")]
    assert len(refused) == RACES
    assert all("sudah diterima" in t or "baru saja diubah" in t for t in refused), refused
    async with make_sessionmaker(pg_engine)() as session:
        complaints = (await session.scalars(select(Complaint))).all()
        assert sorted(c.status for c in complaints) == ["diterima"] * RACES
        moves = (await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "accept", AuditEntry.refused.is_(False))
        )).all()
        assert sorted(m.complaint_id for m in moves) == sorted(c.id for c in complaints)
    for filing in filings:
        notices = [m for m in server.bot_messages(filing.user.id) if "diterima" in body(m) and filing.number in body(m)]
        assert len(notices) == 1, [body(m) for m in notices]
    assert exit_codes == [0, 0]
