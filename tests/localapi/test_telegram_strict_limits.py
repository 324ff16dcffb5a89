"""The local Telegram in strict mode counts Telegram's limits in sliding windows and answers 429 with
retry_after; the bot's own limiter, whatever the schedule, never sends what it would refuse."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramRetryAfter
from hypothesis import HealthCheck, given, settings

from bot.delivery.ratelimit import RateLimiter as BotLimiter
from bot.delivery.ratelimit import RateLimits as BotLimits
from localapi.telegram import STRICT, TelegramServer
from localapi.telegram.ratelimit import RateLimiter, RateLimits
from tests.delivery.limits_oracle import Attempt, attempts_strategy, largest_cost


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def strict(clock: Clock, limits: RateLimits = STRICT) -> RateLimiter:
    return RateLimiter(limits, clock=clock)


def test_overall_thirty_in_any_second() -> None:
    clock = Clock()
    limiter = strict(clock)
    assert [limiter.check(chat, is_group=False) for chat in range(1, 31)] == [0.0] * 30
    clock.now = 0.5
    assert limiter.check(99, is_group=False) == pytest.approx(0.5), "the 31st within the second is refused"
    clock.now = 1.0
    assert limiter.check(99, is_group=False) == 0.0, "a bucket would have let 15 more through at 0.5 s"


def test_private_three_at_once_then_ten_in_any_ten_seconds() -> None:
    clock = Clock()
    limiter = strict(clock)
    assert [limiter.check(7, is_group=False) for _ in range(3)] == [0.0] * 3
    assert limiter.check(7, is_group=False) == pytest.approx(1.0)
    granted = 3
    for step in range(1, 40):
        clock.now = step * 0.25
        granted += limiter.check(7, is_group=False) == 0.0
    assert granted == 10, "ten in the first ten seconds, however they are asked for"
    clock.now = 10.0
    assert limiter.check(7, is_group=False) == 0.0


def test_group_twenty_in_any_minute_edits_included() -> None:
    clock = Clock()
    limiter = strict(clock)
    assert [limiter.check(-5, is_group=True, edit=i % 2 == 0) for i in range(20)] == [0.0] * 20
    clock.now = 59.0
    assert limiter.check(-5, is_group=True, edit=True) == pytest.approx(1.0)
    clock.now = 60.0
    assert limiter.check(-5, is_group=True, cost=20) == 0.0, "the first twenty have left the minute"
    assert limiter.check(-5, is_group=True, edit=True) == pytest.approx(60.0)


def test_an_album_counts_each_photo() -> None:
    clock = Clock()
    limiter = strict(clock)
    assert limiter.check(-5, is_group=True, cost=10) == 0.0
    assert limiter.check(-5, is_group=True, cost=10) == 0.0
    assert limiter.check(-5, is_group=True) == pytest.approx(60.0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(attempts=attempts_strategy)
def test_the_bots_limiter_never_sends_what_the_strict_server_refuses(attempts: list[Attempt]) -> None:
    """Zero jitter: every send the bot's limiter (with its margins) lets out, the strict server accepts;
    and without margins the two decide exactly alike (one model, two implementations)."""
    clock, twin_clock = Clock(), Clock()
    server, twin = strict(clock), strict(twin_clock)
    bot = BotLimiter(BotLimits())
    exact = BotLimiter(BotLimits(margin=0.0, window_margin=0.0))
    for attempt in attempts:
        clock.now += attempt.after
        twin_clock.now = clock.now
        cost = min(attempt.cost, largest_cost(bot.limits, attempt.chat))
        is_group = attempt.chat < 0
        if attempt.retry:
            clock.now += bot.delay_for(attempt.chat, clock.now, cost=cost, edit=attempt.edit)
            twin_clock.now = clock.now
        if bot.acquire(attempt.chat, clock.now, cost=cost, edit=attempt.edit) == 0:
            assert server.check(attempt.chat, is_group=is_group, cost=cost, edit=attempt.edit) == 0.0, "a 429"
        mine = exact.acquire(attempt.chat, clock.now, cost=cost, edit=attempt.edit)
        theirs = twin.check(attempt.chat, is_group=is_group, cost=cost, edit=attempt.edit)
        assert mine == pytest.approx(theirs, abs=1e-6)


async def test_strict_server_answers_429_with_retry_after_and_counts_it() -> None:
    async with TelegramServer(rate_limits="strict") as tg:
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
        try:
            alice = tg.create_user("Alice")
            alice.send_text("hi")
            for i in range(3):
                await bot.send_message(alice.id, f"m{i}")
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(alice.id, "a fourth within the second")
            assert info.value.retry_after == 1
            assert info.value.message.endswith("Too Many Requests: retry after 1")
            assert tg.rate_limited == 1 and tg.rate_limited_calls == {"sendMessage": 1}
            async with aiohttp.ClientSession() as http, http.get(f"{tg.base_url}/_control/info") as resp:
                info_json = (await resp.json())["result"]
            assert (info_json["rate_limits"], info_json["rate_limited"]) == ("strict", 1)
            assert info_json["rate_limited_calls"] == {"sendMessage": 1}
            tg.reset()
            assert tg.rate_limited == 0
        finally:
            await bot.session.close()


async def test_lifted_limits_stay_lifted() -> None:
    async with TelegramServer(rate_limits=False) as tg:
        bot = Bot(tg.token, session=AiohttpSession(api=TelegramAPIServer.from_base(tg.base_url)))
        try:
            alice = tg.create_user("Alice")
            alice.send_text("hi")
            for i in range(10):
                await bot.send_message(alice.id, f"m{i}")
            assert tg.rate_limited == 0 and tg.limiter is None
        finally:
            await bot.session.close()
    with pytest.raises(ValueError):
        TelegramServer(rate_limits="lenient")
