"""Telegram's limits counted once for several processes, in the real Redis (127.0.0.1:6379)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.delivery.ratelimit import RateLimits
from bot.delivery.shared_limits import SharedRateLimiter

REDIS_URL = "redis://127.0.0.1:6379/0"
LIMITS = RateLimits(global_per_second=30, private_per_second=1, group_per_minute=20, private_burst=3)


async def _redis_up() -> bool:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except (RedisError, OSError):
        return False
    finally:
        await client.aclose()


@pytest_asyncio.fixture
async def processes() -> AsyncIterator[Callable[[], SharedRateLimiter]]:
    """Limiters as two processes of one bot would have them (own connections, one namespace)."""
    if not await _redis_up():
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    namespace = f"test-{secrets.token_hex(6)}"
    made: list[SharedRateLimiter] = []

    def make() -> SharedRateLimiter:
        limiter = SharedRateLimiter.from_url(REDIS_URL, LIMITS, namespace=namespace)
        made.append(limiter)
        return limiter

    yield make
    cleanup = Redis.from_url(REDIS_URL)
    keys = [key async for key in cleanup.scan_iter(match=f"sikesal:{namespace}:*")]
    if keys:
        await cleanup.delete(*keys)
    await cleanup.aclose()
    for limiter in made:
        await limiter.close()


async def test_a_group_gets_twenty_a_minute_from_all_processes_together(processes: Callable[[], SharedRateLimiter]) -> None:
    first, second = processes(), processes()
    waits = [await (first if i % 2 else second).acquire(-100123) for i in range(20)]
    assert waits == [0.0] * 20, "20 messages a minute to one group, whoever sends them"
    for limiter in (first, second):
        wait = await limiter.acquire(-100123)
        assert 55 < wait <= 61, "the 21st waits until the first leaves the minute window"
    # another group has its own window, and the overall second still has room
    assert await first.acquire(-100999) == 0.0


async def test_edits_count_in_a_group_but_not_against_the_global_rate(processes: Callable[[], SharedRateLimiter]) -> None:
    limiter = processes()
    for _ in range(20):
        assert await limiter.acquire(-555, edit=True) == 0.0
    assert await limiter.acquire(-555, edit=True) > 50


async def test_a_private_chat_gets_a_short_burst_then_one_a_second(processes: Callable[[], SharedRateLimiter]) -> None:
    first, second = processes(), processes()
    assert [await first.acquire(4242), await second.acquire(4242), await first.acquire(4242)] == [0.0] * 3
    wait = await second.acquire(4242)
    assert 0.5 < wait <= 1.1, "the 4th waits until the answer has left its second (and the margin)"
    await asyncio.sleep(wait)
    assert await second.acquire(4242) == 0.0


async def test_the_whole_bot_stays_under_its_overall_second(processes: Callable[[], SharedRateLimiter]) -> None:
    first, second = processes(), processes()
    granted = 0
    started = time.monotonic()
    for chat in range(1, 41):
        if await (first if chat % 2 else second).acquire(chat) == 0.0:
            granted += 1
    elapsed = time.monotonic() - started
    # 40 different chats at once: 30 go within the (1.1-second) window, the rest wait for it to slide
    assert granted == 30 or elapsed > 1.0, (granted, elapsed)


async def test_a_429_pauses_the_chat_for_every_process(processes: Callable[[], SharedRateLimiter]) -> None:
    first, second = processes(), processes()
    await first.pause(777, 3)
    wait = await second.acquire(777)
    assert 2 < wait <= 3
    assert await second.acquire(778) == 0.0
    await first.pause(None, 2)
    assert 1 < await second.acquire(779) <= 2, "a bot-wide pause holds every chat"


async def test_an_unreachable_redis_raises_for_the_sender_to_fall_back() -> None:
    limiter = SharedRateLimiter.from_url("redis://127.0.0.1:1/0", LIMITS, namespace="nowhere")
    with pytest.raises((RedisError, OSError)):
        await limiter.acquire(1)
    await limiter.close()
