"""An independent judge of Telegram's limits for the limiter tests: schedules of send attempts and a
check of what was recorded against every sliding window.

The judge counts the way Telegram's documentation (and ``localapi.telegram`` in strict mode) describes the
limits, from the raw figures in :class:`~bot.delivery.ratelimit.RateLimits` and without its margins: overall
``floor(global_per_second)`` sends in any second (and ``global_burst`` in any ``global_burst / rate``
seconds when smaller), per private chat ``private_burst`` sends in any ``1 / private_per_second`` seconds
and ``floor(rate * private_window)`` in any ``private_window``, per group ``group_per_minute`` sends and
edits in any ``group_window``. A window ``(t - W, t]`` is checked at every recorded ``t``: no window holds
more than one ending at a record does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import strategies as st

from bot.delivery.ratelimit import RateLimits

PRIVATE_CHATS = (11, 12, 13)
GROUPS = (-21, -22)


@dataclass(frozen=True)
class Attempt:
    """One try to send: ``after`` seconds after the previous attempt; ``retry`` = come back when told."""

    after: float
    chat: int
    cost: int
    edit: bool
    retry: bool


@dataclass(frozen=True)
class Sent:
    at: float
    chat: int
    cost: int
    edit: bool


def raw_windows(limits: RateLimits) -> dict[str, list[tuple[int, float]]]:
    """Telegram's figures as (count, seconds) per scope, without our margins."""
    rate = limits.global_per_second
    second = max(1.0, 1 / rate)
    per_second = max(1, math.floor(rate * second + 1e-9))
    overall = [(per_second, second)]
    if limits.global_burst < per_second:
        overall.append((limits.global_burst, limits.global_burst / rate))
    p_rate = limits.private_per_second
    private = [(limits.private_burst, 1 / p_rate),
               (max(1, math.floor(p_rate * limits.private_window + 1e-9)), limits.private_window)]
    return {"overall": overall, "private": private,
            "group": [(max(1, int(limits.group_per_minute)), limits.group_window)]}


def largest_cost(limits: RateLimits, chat: int) -> int:
    """The biggest album the schedules try (larger ones are counted as filling a window; tested apart)."""
    scopes = raw_windows(limits)
    counts = [n for n, _ in scopes["overall"]] + [n for n, _ in scopes["group" if chat < 0 else "private"]]
    return max(1, min(counts))


def over_limit(name: str, stamps: list[tuple[float, int]], windows: list[tuple[int, float]]) -> list[str]:
    """The first window of each (count, seconds) that holds more than count; ``stamps``: (time, cost)."""
    stamps = sorted(stamps)
    found: list[str] = []
    for count, seconds in windows:
        for end, _ in stamps:
            inside = sum(cost for at, cost in stamps if end - seconds < at <= end)
            if inside > count:
                found.append(f"{name}: {inside} > {count} in ({end - seconds:.4f}, {end:.4f}]")
                break
    return found


def violations(limits: RateLimits, sent: list[Sent]) -> list[str]:
    """Every scope with a window (end, count, limit) that holds more than Telegram allows."""
    scopes = raw_windows(limits)
    found = over_limit("overall", [(s.at, s.cost) for s in sent if not s.edit], scopes["overall"])
    for chat in sorted({s.chat for s in sent}):
        mine = [s for s in sent if s.chat == chat]
        if chat < 0:
            found += over_limit(f"group {chat}", [(s.at, s.cost) for s in mine], scopes["group"])
        else:
            found += over_limit(f"private {chat}", [(s.at, s.cost) for s in mine if not s.edit], scopes["private"])
    return found


#: limits small enough that short schedules reach every window (time-scaled groups), loose and tight
limits_strategy = st.builds(
    RateLimits,
    global_per_second=st.sampled_from([4.0, 10.0, 30.0]),
    global_burst=st.integers(2, 30),
    private_per_second=st.sampled_from([1.0, 2.0]),
    private_burst=st.integers(1, 4),
    group_per_minute=st.integers(2, 20),
    group_window=st.sampled_from([3.0, 60.0]),
    margin=st.sampled_from([0.0, 0.25, 1.0]),
    window_margin=st.sampled_from([0.0, 0.1]),
    private_window=st.sampled_from([4.0, 10.0]),
)

#: times on a 1/64 s grid: exact in binary, so a judge and a limiter never disagree by a rounding
attempts_strategy = st.lists(
    st.builds(
        Attempt,
        after=st.integers(0, 96).map(lambda n: n / 64),
        chat=st.sampled_from(PRIVATE_CHATS + GROUPS),
        cost=st.integers(1, 10),
        edit=st.booleans(),
        retry=st.booleans(),
    ),
    min_size=1,
    max_size=120,
)
