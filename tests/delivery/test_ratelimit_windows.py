"""The in-memory limiter keeps every limit in EVERY sliding window, for any schedule of attempts; and it is
not needlessly slow: a whole answer goes at once, and a saturated bot sends at >= 0.8 of the overall limit.

Time is the caller's (the limiter is pure): schedules move a simulated clock, nothing sleeps.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.delivery.ratelimit import RateLimiter, RateLimits
from tests.delivery.limits_oracle import (
    Attempt,
    Sent,
    attempts_strategy,
    largest_cost,
    limits_strategy,
    violations,
)


def replay(limiter: RateLimiter, attempts: list[Attempt]) -> list[Sent]:
    """Run a schedule; an attempt told to wait comes back exactly then when it asks to retry, and must go."""
    now = 0.0
    sent: list[Sent] = []
    for attempt in attempts:
        now += attempt.after
        cost = min(attempt.cost, largest_cost(limiter.limits, attempt.chat))
        edit = attempt.edit
        wait = limiter.acquire(attempt.chat, now, cost=cost, edit=edit)
        if wait > 0 and attempt.retry:
            now += wait
            wait = limiter.acquire(attempt.chat, now, cost=cost, edit=edit)
            if wait > 0:  # only a float rounding may remain
                assert wait <= 1e-5, f"told to wait, waited, and told to wait {wait} more"
                now += wait
                wait = limiter.acquire(attempt.chat, now, cost=cost, edit=edit)
            assert wait == 0, "after the wait it was told, an attempt goes"
        if wait == 0:
            sent.append(Sent(now, attempt.chat, cost, edit))
    return sent


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(limits=limits_strategy, attempts=attempts_strategy)
def test_any_schedule_keeps_every_limit_in_every_window(limits: RateLimits, attempts: list[Attempt]) -> None:
    sent = replay(RateLimiter(limits), attempts)
    assert violations(limits, sent) == []


@settings(max_examples=150, deadline=None)
@given(limits=limits_strategy, attempts=attempts_strategy, prune_at=st.integers(0, 119))
def test_pruning_forgets_nothing_that_still_counts(limits: RateLimits, attempts: list[Attempt],
                                                   prune_at: int) -> None:
    """Pruning mid-schedule (memory follows active chats) changes no decision."""
    plain, pruned = RateLimiter(limits), RateLimiter(limits)
    now = 0.0
    for i, attempt in enumerate(attempts):
        now += attempt.after
        if i == prune_at:
            pruned.prune(now)
        cost = min(attempt.cost, largest_cost(limits, attempt.chat))
        assert plain.acquire(attempt.chat, now, cost=cost) == pruned.acquire(attempt.chat, now, cost=cost)


@settings(max_examples=100, deadline=None)
@given(attempts=attempts_strategy, pauses=st.lists(st.tuples(st.sampled_from([None, 11, -21]),
                                                             st.integers(1, 200).map(lambda n: n / 64)),
                                                   max_size=3))
def test_a_pause_holds_its_chat_until_it_ends(attempts: list[Attempt],
                                              pauses: list[tuple[int | None, float]]) -> None:
    limiter = RateLimiter(RateLimits())
    for chat, until in pauses:
        limiter.pause(chat, until)
    sent = replay(limiter, attempts)
    for chat, until in pauses:
        assert [s for s in sent if (chat is None or s.chat == chat) and s.at < until] == []
    assert violations(limiter.limits, sent) == []


def test_a_whole_answer_of_three_goes_at_once_and_the_fourth_waits() -> None:
    limiter = RateLimiter()
    assert [limiter.acquire(42, 5.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.acquire(42, 5.0)
    assert 1.0 <= wait <= 1.1, "one second (and the margin) after the answer"
    assert limiter.acquire(43, 5.0) == 0.0, "another citizen's answer does not wait for it"


def test_a_citizen_at_a_persons_pace_rarely_waits() -> None:
    """An action every 2 s answered by 1-3 messages (1,1,2,1,3,...): the 10-second window absorbs it."""
    limiter = RateLimiter()
    now, waited = 0.0, 0.0
    for action in range(40):
        start = now = action * 2.0
        for _ in range((1, 1, 2, 1, 3)[action % 5]):
            wait = limiter.delay_for(7, now)
            now += wait
            limiter.record(7, now)
        waited = max(waited, now - start)
    assert waited <= 0.1 + 1e-9, "0.8 messages a second in bursts of up to 3: at most the margin's wait"


def saturated_run(limiter: RateLimiter, seconds: float, chats: int = 500) -> list[Sent]:
    """Many chats with one message each waiting: send as soon as the limiter allows, for ``seconds``."""
    now, chat = 0.0, 1
    sent: list[Sent] = []
    while now < seconds:
        now += limiter.delay_for(chat, now)
        if now >= seconds:
            break
        limiter.record(chat, now)
        sent.append(Sent(now, chat, 1, False))
        chat = chat % chats + 1
    return sent


def test_saturated_the_bot_sends_at_least_eight_tenths_of_the_overall_limit() -> None:
    limits = RateLimits()
    sent = saturated_run(RateLimiter(limits), 10.0)
    assert len(sent) / 10.0 >= 0.8 * 30, f"{len(sent) / 10.0:.1f} messages a second"
    assert violations(limits, sent) == []
    busiest = max(sum(1 for t in sent if s.at - 1.0 < t.at <= s.at) for s in sent)
    assert busiest == 30, "a full second, never more"


def test_a_group_gets_twenty_at_once_then_never_twenty_one_in_a_minute_edits_included() -> None:
    limits = RateLimits()
    limiter = RateLimiter(limits)
    sent: list[Sent] = []
    now = 0.0
    for _ in range(20):  # 20 cards of a storm go at once
        assert limiter.acquire(-5, now) == 0
        sent.append(Sent(now, -5, 1, False))
    wait = limiter.acquire(-5, now, edit=True)
    assert 60.0 <= wait <= 61.0, "the 21st action, an edit, waits for the first to leave the window"
    # then cards and edits keep coming every second: each goes as soon as the window has room
    for step in range(200):
        now = max(now, step * 1.0)
        edit = step % 3 == 0
        now += limiter.delay_for(-5, now, edit=edit)
        limiter.record(-5, now, edit=edit)
        sent.append(Sent(now, -5, 1, edit))
    assert violations(limits, sent) == []
    first_minute = [s for s in sent if s.at < 61.0]
    assert len(first_minute) == 20
    in_last_minutes = [s for s in sent if sent[-1].at - 122.0 < s.at <= sent[-1].at]
    assert len(in_last_minutes) >= 39, "a busy group still gets 20 per (61 s) window"
