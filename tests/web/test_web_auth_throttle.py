"""Failed sign-ins slow down, per account and per client address, on the real app (SQLite and PostgreSQL).

What it proves: after three failures each further one blocks the next attempts for a growing time (2 s, 4 s,
8 s...), answered 429 with when to try again and without the password being checked (the right one waits
too); once the app's clock passes the block the right password works; the delay is capped (never a lock);
addresses are counted from the connection, and from X-Forwarded-For only behind a trusted proxy (where the
right-most untrusted address counts and a spoofed left part does not)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from bot.config import AppConfig
from localapi.telegram import TelegramServer
from storage.accounts import MAX_DELAY_S, delay_after
from tests.web.webkit import (
    DEFAULT_PASSWORD,
    Clock,
    WebWorld,
    browser,
    create_account,
    log_in,
    start_web_app,
)

pytestmark = pytest.mark.e2e

WRONG = "bukan-kata-sandinya"


async def attempt(world: WebWorld, username: str, password: str, **headers: str) -> aiohttp.ClientResponse:
    return await log_in(browser(world), world, username, password, headers=headers or None)


async def test_failures_slow_down_and_the_block_passes(web_world: WebWorld) -> None:
    web_world.clock.freeze()  # the delays are counted in seconds a loaded machine could eat between requests
    await create_account(web_world, "budi")
    for _ in range(4):
        assert (await attempt(web_world, "budi", WRONG)).status == 200
    blocked = await attempt(web_world, "budi", DEFAULT_PASSWORD)  # the right password waits too
    assert blocked.status == 429
    assert int(blocked.headers["Retry-After"]) == 2  # 2 s from the failure
    assert "Coba lagi pukul" in (await blocked.read()).decode()

    web_world.clock.advance(seconds=3)
    assert (await attempt(web_world, "budi", WRONG)).status == 200  # the fifth failure: 4 s
    blocked = await attempt(web_world, "budi", WRONG)
    assert blocked.status == 429 and 3 <= int(blocked.headers["Retry-After"]) <= 4
    web_world.clock.advance(seconds=5)
    assert (await attempt(web_world, "budi", DEFAULT_PASSWORD)).status == 302


async def test_the_delay_is_capped(web_world: WebWorld) -> None:
    web_world.clock.freeze()
    await create_account(web_world, "rina")
    for _ in range(14):
        assert (await attempt(web_world, "rina", WRONG)).status == 200
        web_world.clock.advance(seconds=MAX_DELAY_S + 1)
    assert (await attempt(web_world, "rina", WRONG)).status == 200
    blocked = await attempt(web_world, "rina", DEFAULT_PASSWORD)
    assert blocked.status == 429 and MAX_DELAY_S - 2 <= int(blocked.headers["Retry-After"]) <= MAX_DELAY_S
    web_world.clock.advance(seconds=MAX_DELAY_S + 1)
    assert (await attempt(web_world, "rina", DEFAULT_PASSWORD)).status == 302


async def test_parallel_guesses_cannot_outrun_the_counter(web_world: WebWorld) -> None:
    web_world.clock.freeze()
    await create_account(web_world, "sari")
    for _ in range(3):
        assert (await attempt(web_world, "sari", WRONG)).status == 200
    answers = await asyncio.gather(*(attempt(web_world, "sari", WRONG) for _ in range(8)))
    assert sorted(a.status for a in answers) == [200] + [429] * 7  # the fourth failure blocks the rest at once
    web_world.clock.advance(seconds=3)
    assert (await attempt(web_world, "sari", DEFAULT_PASSWORD)).status == 302


def test_delays() -> None:
    assert [delay_after(n) for n in range(0, 9)] == [0, 0, 0, 0, 2, 4, 8, 16, 32]
    assert delay_after(12) == 300 and delay_after(10_000) == MAX_DELAY_S


async def test_addresses_are_counted_and_an_untrusted_forwarded_for_is_ignored(web_world: WebWorld) -> None:
    web_world.clock.freeze()  # the 2-s delay after the fourth failure must not run out on a slow machine
    for n in range(4):  # four different names from one address
        assert (await attempt(web_world, f"nama{n}", WRONG, **{"X-Forwarded-For": f"203.0.113.{n}"})).status == 200
    blocked = await attempt(web_world, "orang-lain", WRONG, **{"X-Forwarded-For": "198.51.100.7"})
    assert blocked.status == 429


@pytest_asyncio.fixture
async def proxied_world(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path
) -> AsyncIterator[WebWorld]:
    """The app behind a reverse proxy on 127.0.0.1 (given as a network, as an operator may)."""
    clock = Clock()
    app = await start_web_app(tmp_path, server, config, database_url, clock=clock,
                              trusted_proxies=("127.0.0.0/8", "10.0.0.0/8"))
    world = WebWorld(server=server, app=app, config=config, tmp=tmp_path, clock=clock)
    try:
        yield world
    finally:
        await world.close_clients()
        await app.stop()


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(proxied_world: WebWorld) -> None:
    world = proxied_world
    world.clock.freeze()
    for n in range(4):
        # the client wrote a left part of its own; the proxies (10.x, then 127.0.0.1) appended the real address
        forwarded = f"192.0.2.{n}, 203.0.113.5, 10.1.2.3"
        assert (await attempt(world, f"nama{n}", WRONG, **{"X-Forwarded-For": forwarded})).status == 200
    assert (await attempt(world, "lain", WRONG, **{"X-Forwarded-For": "203.0.113.5"})).status == 429
    assert (await attempt(world, "lain", WRONG, **{"X-Forwarded-For": "198.51.100.7, 203.0.113.5"})).status == 429
    # another client behind the same proxy is not slowed down by the first one's failures
    assert (await attempt(world, "lain", WRONG, **{"X-Forwarded-For": "203.0.113.6"})).status == 200
    await create_account(world, "sari")
    assert (await attempt(world, "sari", DEFAULT_PASSWORD, **{"X-Forwarded-For": "203.0.113.7"})).status == 302
