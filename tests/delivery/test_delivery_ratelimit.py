"""The client-side flood limiter, on a fake clock (no sleeping)."""

from __future__ import annotations

import pytest

from bot.delivery.ratelimit import RateLimiter, RateLimits, is_group_chat

GROUP = -1001234
PRIVATE = 4242


def send_all(limiter: RateLimiter, chat_id: int, count: int, start: float = 0.0, **kw: int) -> list[float]:
    """Send ``count`` messages as early as the limiter allows; return the send times."""
    now = start
    times: list[float] = []
    for _ in range(count):
        wait = limiter.delay_for(chat_id, now, **kw)
        assert wait >= 0
        now += wait
        assert limiter.delay_for(chat_id, now, **kw) == pytest.approx(0, abs=1e-9)
        limiter.record(chat_id, now, **kw)
        times.append(now)
    return times


def test_group_twenty_per_minute_then_the_21st_waits_a_minute() -> None:
    limiter = RateLimiter(RateLimits(margin=0.0))
    times = send_all(limiter, GROUP, 21)
    assert all(t < 1.0 for t in times[:20])  # the first 20 go at once (global burst allows it)
    assert times[20] == pytest.approx(times[0] + 60.0, abs=0.01)


def test_group_window_never_exceeds_the_limit() -> None:
    limits = RateLimits(margin=0.25)
    limiter = RateLimiter(limits)
    times = send_all(limiter, GROUP, 75)
    for i, t in enumerate(times):
        in_window = [u for u in times[: i + 1] if u > t - 60.0]
        assert len(in_window) <= 20
    assert times[-1] >= 180.0  # 75 messages need at least three full windows


def test_private_chat_answer_of_three_goes_at_once_the_fourth_waits() -> None:
    limiter = RateLimiter(RateLimits(window_margin=0.0))
    times = send_all(limiter, PRIVATE, 4)
    assert times[:3] == pytest.approx([0.0, 0.0, 0.0]), "a whole answer of three messages goes together"
    assert times[3] == pytest.approx(1.0), "the fourth waits until the burst has left its second"


def test_private_chat_sustained_one_per_second_over_ten_seconds() -> None:
    limiter = RateLimiter(RateLimits(window_margin=0.0))
    times = send_all(limiter, PRIVATE, 25)
    assert times[:10] == pytest.approx([0, 0, 0, 1, 1, 1, 2, 2, 2, 3]), "bursts of three, one second apart"
    assert times[10] == pytest.approx(10.0), "then the ten-second window holds the chat to 1/s"
    for t in times:
        assert sum(1 for u in times if t - 10.0 < u <= t) <= 10
        assert sum(1 for u in times if t - 1.0 < u <= t) <= 3
    assert times[-1] >= 20.0


def test_global_thirty_in_any_second_across_chats() -> None:
    limiter = RateLimiter(RateLimits(window_margin=0.0))
    now = 0.0
    times = []
    for user in range(1, 91):  # 90 different private chats: only the overall limit applies
        now += limiter.delay_for(user, now)
        limiter.record(user, now)
        times.append(now)
    assert times[:30] == pytest.approx([0.0] * 30), "30 at once"
    assert times[30:60] == pytest.approx([1.0] * 30) and times[60:] == pytest.approx([2.0] * 30)


def test_global_margin_pads_the_second() -> None:
    limiter = RateLimiter(RateLimits())  # the default window margin: 0.1 s
    now = 0.0
    times = []
    for user in range(1, 61):
        now += limiter.delay_for(user, now)
        limiter.record(user, now)
        times.append(now)
    assert times[30] == pytest.approx(1.1), "30 per 1.1 s: jitter up to 0.1 s cannot bunch 31 into a second"


def test_a_smaller_global_burst_adds_its_own_window() -> None:
    limiter = RateLimiter(RateLimits(global_burst=10, window_margin=0.0))
    now = 0.0
    times = []
    for user in range(1, 41):
        now += limiter.delay_for(user, now)
        limiter.record(user, now)
        times.append(now)
    assert times[:10] == pytest.approx([0.0] * 10) and times[10] == pytest.approx(1 / 3)
    for t in times:
        assert sum(1 for u in times if t - 1.0 < u <= t) <= 30


def test_chats_do_not_share_their_budgets() -> None:
    limiter = RateLimiter(RateLimits(private_burst=1, margin=0.0, window_margin=0.0))
    send_all(limiter, GROUP, 20)
    assert limiter.delay_for(GROUP, 0.0) > 59
    assert limiter.delay_for(-999, 0.0) == 0
    limiter.record(PRIVATE, 0.0)
    assert limiter.delay_for(PRIVATE, 0.0) == pytest.approx(1.0)
    assert limiter.delay_for(PRIVATE + 1, 0.0) == 0


def test_edits_count_in_groups_only() -> None:
    limiter = RateLimiter(RateLimits(private_burst=1, margin=0.0))
    for _ in range(20):
        limiter.record(GROUP, 0.0, edit=True)
    assert limiter.delay_for(GROUP, 1.0) == pytest.approx(59.0)
    limiter.record(PRIVATE, 0.0)
    assert limiter.delay_for(PRIVATE, 0.0, edit=True) == 0  # editing a private message is free


def test_album_costs_one_per_photo() -> None:
    limiter = RateLimiter(RateLimits(margin=0.0))
    limiter.record(GROUP, 0.0, cost=10)
    limiter.record(GROUP, 0.0, cost=5)
    assert limiter.delay_for(GROUP, 0.0, cost=5) == 0
    assert limiter.delay_for(GROUP, 0.0, cost=6) == pytest.approx(60.0)


def test_pause_after_429_per_chat_and_global() -> None:
    limiter = RateLimiter()
    limiter.pause(PRIVATE, 10.0)
    assert limiter.delay_for(PRIVATE, 4.0) == pytest.approx(6.0)
    assert limiter.delay_for(PRIVATE + 1, 4.0) == 0
    limiter.pause(None, 20.0)
    assert limiter.delay_for(PRIVATE + 1, 5.0) == pytest.approx(15.0)
    assert limiter.delay_for(GROUP, 20.0) == 0
    assert limiter.paused_until(PRIVATE) == 20.0


def test_acquire_records_only_when_allowed() -> None:
    limiter = RateLimiter(RateLimits(private_burst=1, window_margin=0.0))
    assert limiter.acquire(PRIVATE, 0.0) == 0
    assert limiter.acquire(PRIVATE, 0.5) == pytest.approx(0.5)
    assert limiter.acquire(PRIVATE, 1.0) == 0


def test_an_album_larger_than_a_window_goes_alone_once_the_window_is_empty() -> None:
    limiter = RateLimiter(RateLimits(window_margin=0.0))
    limiter.record(PRIVATE, 0.0)
    assert limiter.delay_for(PRIVATE, 0.0, cost=5) == pytest.approx(1.0), "five never fit in a second of three"
    assert limiter.acquire(PRIVATE, 1.0, cost=5) == 0, "so they go (unsplit) once the second is empty"
    assert limiter.delay_for(PRIVATE, 1.0) == pytest.approx(1.0), "and fill the chat's second"
    assert limiter.delay_for(PRIVATE, 2.0, cost=5) == pytest.approx(8.0), "six of ten in the 10 s window"


def test_prune_forgets_idle_chats() -> None:
    limiter = RateLimiter(RateLimits(private_burst=1, margin=0.0))
    limiter.record(PRIVATE, 0.0)
    limiter.record(GROUP, 0.0)
    limiter.pause(-5, 1.0)
    limiter.prune(100.0)
    assert not limiter._private and not limiter._groups and not limiter._paused


def test_time_scaled_group_window() -> None:
    limiter = RateLimiter(RateLimits(group_per_minute=3, group_window=0.6, margin=0.0))
    times = send_all(limiter, GROUP, 7)
    assert times == pytest.approx([0, 0, 0, 0.6, 0.6, 0.6, 1.2])


def test_chat_kind_and_validation() -> None:
    assert is_group_chat(-1) and is_group_chat("-100123") and is_group_chat("@channel")
    assert not is_group_chat(1) and not is_group_chat("77")
    with pytest.raises(ValueError):
        RateLimits(group_per_minute=0)
    with pytest.raises(ValueError):
        RateLimits(private_burst=0)


def test_a_send_is_counted_from_its_answer_so_a_late_request_cannot_crowd_the_next_second() -> None:
    """Thirty requests counted at 0 but answered (so arrived at Telegram) up to 0.5 s later: a 31st counted
    only 1.1 s after 0 could reach Telegram within one second of the late ones. Counted from the answers,
    the 31st waits until the last of them has left the window."""
    limiter = RateLimiter(RateLimits())
    window = limiter.limits.global_windows()[0].seconds
    for chat in range(30):
        assert limiter.acquire(PRIVATE + chat, 0.0) == 0
    for chat in range(30):
        limiter.settle(PRIVATE + chat, 0.0, 0.5 * (chat + 1) / 30)
    assert limiter.delay_for(PRIVATE + 99, window) > 0
    assert limiter.delay_for(PRIVATE + 99, 0.5 + window) == pytest.approx(0, abs=1e-9)


def test_settle_only_ever_counts_later_and_leaves_requests_in_flight_alone() -> None:
    limiter = RateLimiter(RateLimits())
    for _ in range(3):
        limiter.acquire(PRIVATE, 0.0)
    limiter.settle(PRIVATE, 0.0, 0.0)  # answered at once: nothing changes
    limiter.settle(PRIVATE, 0.0, -1.0)  # a clock that went back: ignored
    burst = limiter.limits.private_windows()[0].seconds
    assert limiter.delay_for(PRIVATE, 0.5) == pytest.approx(burst - 0.5)
    for _ in range(3):  # the three answered late: the fourth waits until the first of them leaves the window
        limiter.settle(PRIVATE, 0.0, 0.4)
    assert limiter.delay_for(PRIVATE, 0.5) == pytest.approx(0.4 + burst - 0.5)
    edit_group = GROUP
    limiter.acquire(edit_group, 0.0, edit=True)
    limiter.settle(edit_group, 0.0, 2.0, edit=True)  # a group's edit counts in the group's window only
    assert limiter.delay_for(edit_group, 0.0) == 0
