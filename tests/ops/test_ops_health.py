"""/healthz and /readyz: ready means the database answers SELECT 1 quickly and no work loop is stalled."""

from __future__ import annotations

import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ops.health import Health
from storage.db import make_engine, make_sessionmaker


@dataclass
class FakeLoop:
    name: str
    last_tick: float = 0.0


async def serve(health: Health) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.add_routes(health.routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


@pytest.fixture
async def get() -> AsyncIterator[Any]:
    runners: list[web.AppRunner] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as client:

        async def fetch(health: Health, path: str) -> tuple[int, dict[str, Any]]:
            runner, url = await serve(health)
            runners.append(runner)
            async with client.get(url + path) as response:
                return response.status, await response.json()

        yield fetch
    for runner in runners:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_healthz_answers_while_the_process_runs(sessionmaker: async_sessionmaker[AsyncSession], get: Any) -> None:
    assert await get(Health(sessionmaker), "/healthz") == (200, {"ok": True})


async def test_readyz_is_200_on_a_good_database_with_ticking_loops(
    sessionmaker: async_sessionmaker[AsyncSession], get: Any
) -> None:
    loops = [FakeLoop("telegram-sender", time.monotonic() - 1), FakeLoop("inbox")]  # the inbox has not started
    status, body = await get(Health(sessionmaker, loops), "/readyz")
    assert status == 200, body
    assert body["ok"] is True and body["failed"] == [] and body["database"] == "ok"
    assert body["loops"]["inbox"] is None and 0 <= body["loops"]["telegram-sender"] < 5


async def test_readyz_is_503_when_the_database_is_down(get: Any) -> None:
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/sikesal")
    try:
        status, body = await get(Health(make_sessionmaker(engine)), "/readyz")
    finally:
        await engine.dispose()
    assert status == 503
    assert body["ok"] is False
    assert len(body["failed"]) == 1 and body["failed"][0].startswith("database: ")
    assert "Connect" in body["database"] or "OSError" in body["database"], body


async def test_readyz_is_503_when_the_database_hangs(get: Any) -> None:
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{silent.getsockname()[1]}/sikesal")
        try:
            started = time.monotonic()
            status, body = await get(Health(make_sessionmaker(engine), db_timeout=0.3), "/readyz")
            assert time.monotonic() - started < 3
        finally:
            await engine.dispose()
    assert status == 503
    assert body["failed"] == ["database: TimeoutError: no answer within 0.3 s"]


async def test_readyz_is_503_when_a_loop_has_stalled(sessionmaker: async_sessionmaker[AsyncSession], get: Any) -> None:
    loops: list[FakeLoop] = []
    health = Health(sessionmaker, loops, stall_after=60)
    loops.append(FakeLoop("whatsapp-sender", time.monotonic() - 75))  # added after the routes: still seen
    loops.append(FakeLoop("telegram-sender", time.monotonic()))
    status, body = await get(health, "/readyz")
    assert status == 503
    assert body["database"] == "ok"
    assert len(body["failed"]) == 1
    assert body["failed"][0].startswith("whatsapp-sender: stalled, no poll for 75 s")
    loops[0].last_tick = time.monotonic()  # it recovered
    assert (await get(health, "/readyz"))[0] == 200
