"""The Redis limiter (one Lua script, shared by every process) keeps every limit in every sliding window,
and decides exactly as the in-memory limiter does; against the real Redis at 127.0.0.1:6379.

Replayed schedules count on a simulated clock (the script's ``at``), so they are exact and fast; one test
lets three "processes" race on Redis's own clock, as production does.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.delivery.ratelimit import RateLimiter, RateLimits
from bot.delivery.shared_limits import SharedRateLimiter
from tests.delivery.limits_oracle import (
    GROUPS,
    PRIVATE_CHATS,
    Attempt,
    Sent,
    attempts_strategy,
    largest_cost,
    limits_strategy,
    over_limit,
    raw_windows,
    violations,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
T = TypeVar("T")


def _redis_up() -> bool:
    async def ping() -> bool:
        client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        try:
            return bool(await client.ping())
        except (RedisError, OSError):
            return False
        finally:
            await client.aclose()

    return asyncio.run(ping())


pytestmark = pytest.mark.skipif(not _redis_up(), reason="Redis is not running on 127.0.0.1:6379")


def with_processes(limits: RateLimits, count: int,
                   body: Callable[[list[SharedRateLimiter]], Awaitable[T]]) -> T:
    """Run ``body`` with ``count`` limiters of one bot (own connections, one fresh namespace), then clean up."""

    async def run() -> T:
        namespace = f"test-{secrets.token_hex(6)}"
        # generous timeouts: a loaded test machine may be slow to accept a race's connections
        made = [SharedRateLimiter(Redis.from_url(REDIS_URL, socket_timeout=10, socket_connect_timeout=10), limits,
                                  namespace=namespace) for _ in range(count)]
        try:
            return await body(made)
        finally:
            cleanup = Redis.from_url(REDIS_URL)
            keys = [key async for key in cleanup.scan_iter(match=f"sikesal:{namespace}:*")]
            if keys:
                await cleanup.delete(*keys)
            await cleanup.aclose()
            for limiter in made:
                await limiter.close()

    return asyncio.run(run())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits=limits_strategy, attempts=attempts_strategy)
def test_two_processes_in_redis_keep_every_window_and_agree_with_the_local_limiter(
        limits: RateLimits, attempts: list[Attempt]) -> None:
    local = RateLimiter(limits)

    async def body(processes: list[SharedRateLimiter]) -> list[Sent]:
        now = 0.0
        sent: list[Sent] = []
        for i, attempt in enumerate(attempts):
            now += attempt.after
            shared = processes[i % 2]
            cost = min(attempt.cost, largest_cost(limits, attempt.chat))
            wait = await shared.acquire(attempt.chat, cost=cost, edit=attempt.edit, at=now)
            expected = local.acquire(attempt.chat, now, cost=cost, edit=attempt.edit)
            assert wait == pytest.approx(expected, abs=1e-9), f"attempt {i}: Redis and memory disagree"
            if wait > 0 and attempt.retry:
                now += wait
                wait = await processes[1 - i % 2].acquire(attempt.chat, cost=cost, edit=attempt.edit, at=now)
                assert wait == local.acquire(attempt.chat, now, cost=cost, edit=attempt.edit)
            if wait == 0:
                sent.append(Sent(now, attempt.chat, cost, attempt.edit))
        return sent

    sent = with_processes(limits, 2, body)
    assert violations(limits, sent) == []


@settings(max_examples=15, deadline=None)
@given(attempts=attempts_strategy, pauses=st.lists(st.tuples(st.sampled_from([None, 11, -21]),
                                                             st.integers(1, 200).map(lambda n: n / 64)),
                                                   max_size=3))
def test_a_pause_in_redis_holds_its_chat_for_every_process(attempts: list[Attempt],
                                                           pauses: list[tuple[int | None, float]]) -> None:
    async def body(processes: list[SharedRateLimiter]) -> list[Sent]:
        for chat, seconds in pauses:
            await processes[0].pause(chat, seconds, at=0.0)
        now = 0.0
        sent: list[Sent] = []
        for i, attempt in enumerate(attempts):
            now += attempt.after
            if await processes[i % 2].acquire(attempt.chat, at=now) == 0:
                sent.append(Sent(now, attempt.chat, 1, False))
        return sent

    sent = with_processes(RateLimits(), 2, body)
    for chat, until in pauses:
        assert [s for s in sent if (chat is None or s.chat == chat) and s.at < until] == []


def test_three_processes_racing_on_redis_clock_keep_every_window() -> None:
    """Tasks in three "processes" send to private chats and groups as fast as they are allowed, for about
    two seconds of Redis's clock; the send times Redis recorded are judged window by window. (Each log is
    trimmed to its longest window, so each is copied right after every send, while that send is in it.)"""
    limits = RateLimits(global_per_second=30, group_per_minute=5, group_window=1.0, margin=0.0)
    chats = list(range(100, 124)) + list(PRIVATE_CHATS) * 2 + list(GROUPS) * 3  # 27 private chats, 2 groups

    async def body(processes: list[SharedRateLimiter]) -> dict[str, dict[bytes, float]]:
        redis = processes[0].redis
        prefix = processes[0].prefix
        seen: dict[str, dict[bytes, float]] = {}
        loop = asyncio.get_running_loop()
        stop = loop.time() + 2.0

        async def sender(shared: SharedRateLimiter, chat: int) -> None:
            scope = f"group:{chat}" if chat < 0 else f"chat:{chat}"
            while loop.time() < stop:
                wait = await shared.acquire(chat)
                if wait > 0:
                    await asyncio.sleep(min(wait, 0.2))
                    continue
                async with redis.pipeline(transaction=False) as pipe:
                    pipe.zrange(f"{prefix}:global", 0, -1, withscores=True)
                    pipe.zrange(f"{prefix}:{scope}", 0, -1, withscores=True)
                    overall, mine = await pipe.execute()
                seen.setdefault("overall", {}).update(overall)
                seen.setdefault(scope, {}).update(mine)

        await asyncio.gather(*(sender(processes[i % 3], chat) for i, chat in enumerate(chats)))
        return seen

    seen = with_processes(limits, 3, body)
    windows = raw_windows(limits)
    assert "overall" in seen, "something was sent"
    for scope, members in seen.items():
        kind = scope.split(":")[0]
        rules = windows[{"overall": "overall", "group": "group", "chat": "private"}[kind]]
        assert over_limit(scope, [(at, 1) for at in members.values()], rules) == []
