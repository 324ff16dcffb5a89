"""Telegram's flood limits (about 30 msg/s overall, ~1 msg/s per private chat, 20 msg/min per group).

Bots that ignore these get 429 "Too Many Requests: retry after N" in production; the local server enforces
the same shape of limits (tightenable in tests, switchable off for benchmarks) so retry logic is exercised.

Two ways of counting:

* the default (``strict=False``): token buckets overall and per private chat (a little lenient: a bucket
  lets a burst and its refill through within one second), a sliding 60-second window per group;
* strict (``strict=True``, :data:`STRICT`, ``TelegramServer(rate_limits="strict")``): every limit is a
  sliding window, "at most N in ANY W seconds", as Telegram documents them -- overall
  ``floor(global_per_second)`` sends in any second (and ``global_burst`` in any ``global_burst /
  global_per_second`` seconds when smaller); per private chat ``private_burst`` sends in any ``1 /
  private_per_second`` seconds and ``floor(private_per_second * private_window)`` in any
  ``private_window`` seconds (with :data:`STRICT`: 3 in any second, 10 in any 10 s -- "about one message
  per second, short bursts tolerated" made exact: a burst of 3, one a second over every 10 s); per group
  ``group_per_minute`` sends and edits in any 60 s. An album of N counts N (a window smaller than the
  album counts it as full). Edits count in groups only, as in Telegram.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RateLimits:
    """Limit settings; the defaults approximate what Telegram enforces on ordinary bots."""

    global_per_second: float = 30.0
    global_burst: int = 30
    private_per_second: float = 1.0
    private_burst: int = 4  # short bursts (e.g. an answer plus a keyboard) are tolerated
    group_per_minute: int = 20
    #: sliding windows instead of buckets (see the module's docstring)
    strict: bool = False
    #: strict only: the private chat's sustained window
    private_window: float = 10.0


class _TokenBucket:
    """Classic token bucket: ``capacity`` tokens, refilled at ``rate`` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.stamp = now

    def wait_time(self, now: float, cost: float) -> float:
        cost = min(cost, self.capacity)  # an album bigger than the bucket still goes through when full
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            return 0.0
        return (cost - self.tokens) / self.rate if self.rate > 0 else math.inf

    def take(self, cost: float) -> None:
        self.tokens -= min(cost, self.capacity)


def strict_windows(limits: RateLimits) -> dict[str, list[tuple[int, float]]]:
    """The strict mode's (count, seconds) windows per scope, the longest last."""
    rate = limits.global_per_second
    second = max(1.0, 1 / rate)
    per_second = max(1, math.floor(rate * second + 1e-9))
    overall = [(per_second, second)]
    if limits.global_burst < per_second:
        overall.append((limits.global_burst, limits.global_burst / rate))
    p_rate = limits.private_per_second
    private = [(limits.private_burst, 1 / p_rate),
               (max(1, math.floor(p_rate * limits.private_window + 1e-9)), limits.private_window)]
    return {"overall": sorted(overall, key=lambda w: w[1]), "private": sorted(private, key=lambda w: w[1]),
            "group": [(limits.group_per_minute, 60.0)]}


def _log_wait(stamps: deque[float], windows: list[tuple[int, float]], now: float, cost: int) -> float:
    """Seconds until ``cost`` more fit in every window of the log (0: now); forgets stamps past them all."""
    while stamps and stamps[0] <= now - windows[-1][1]:
        stamps.popleft()
    wait = 0.0
    for count, seconds in windows:
        first = bisect_right(stamps, now - seconds)
        excess = len(stamps) - first + min(cost, count) - count
        if excess > 0:
            wait = max(wait, stamps[first + excess - 1] + seconds - now, 1e-6)
    return wait


@dataclass
class _Window:
    """Sliding 60-second window of send timestamps for one group."""

    stamps: deque[float] = field(default_factory=deque)


class RateLimiter:
    """Decides whether a send/edit may go through now, or how many seconds the bot must wait."""

    def __init__(self, limits: RateLimits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        now = clock()
        self._global = _TokenBucket(limits.global_per_second, limits.global_burst, now)
        self._private: dict[int, _TokenBucket] = {}
        self._groups: dict[int, _Window] = {}
        self._windows = strict_windows(limits) if limits.strict else {}
        self._logs: dict[int | None, deque[float]] = {}  # strict: None = overall, else a chat
        self._granted = 0
        #: strict: which limit each refusal hit ("overall", "private", "group"), for the benchmark's report
        self.refused_by: Counter[str] = Counter()

    def _check_strict(self, chat_id: int, *, is_group: bool, cost: int, edit: bool) -> float:
        now = self._clock()
        scopes: list[tuple[int | None, list[tuple[int, float]]]] = []
        if not edit:
            scopes.append((None, self._windows["overall"]))
        if is_group:
            scopes.append((chat_id, self._windows["group"]))
        elif not edit:
            scopes.append((chat_id, self._windows["private"]))
        waits = [_log_wait(self._logs.setdefault(key, deque()), windows, now, cost) for key, windows in scopes]
        wait = max([0.0, *waits])
        if wait > 0:
            for (key, _windows), scope_wait in zip(scopes, waits, strict=True):
                if scope_wait > 0:
                    self.refused_by["overall" if key is None else "group" if is_group else "private"] += 1
            return wait
        for key, windows in scopes:
            self._logs[key].extend([now] * min(cost, max(count for count, _ in windows)))
        self._granted += 1
        if self._granted % 1000 == 0:  # memory follows active chats: forget logs past every window
            horizon = now - max(windows[-1][1] for windows in self._windows.values())
            for key in [k for k, log in self._logs.items() if k is not None and (not log or log[-1] <= horizon)]:
                del self._logs[key]
        return 0.0

    def check(self, chat_id: int, *, is_group: bool, cost: int = 1, edit: bool = False) -> float:
        """Return 0 and record the action if allowed, else the seconds to wait (nothing recorded).

        Edits only count toward the per-group limit, as in Telegram.
        """
        if self.limits.strict:
            return self._check_strict(chat_id, is_group=is_group, cost=cost, edit=edit)
        now = self._clock()
        waits = [0.0]
        private = None
        window = None
        if not edit:
            waits.append(self._global.wait_time(now, cost))
        if is_group:
            window = self._groups.setdefault(chat_id, _Window())
            while window.stamps and window.stamps[0] <= now - 60.0:
                window.stamps.popleft()
            cost = min(cost, self.limits.group_per_minute)
            excess = len(window.stamps) + cost - self.limits.group_per_minute
            if excess > 0:
                index = min(excess - 1, len(window.stamps) - 1)
                waits.append(window.stamps[index] + 60.0 - now if index >= 0 else 60.0)
        elif not edit:
            private = self._private.get(chat_id)
            if private is None:
                private = self._private[chat_id] = _TokenBucket(
                    self.limits.private_per_second, self.limits.private_burst, now
                )
            waits.append(private.wait_time(now, cost))
        wait = max(waits)
        if wait > 0:
            return wait
        if not edit:
            self._global.take(cost)
        if private is not None:
            private.take(cost)
        if window is not None:
            window.stamps.extend([now] * cost)
        return 0.0

    def reset(self) -> None:
        """Forget all history (used by the control API's reset)."""
        self.__init__(self.limits, self._clock)  # type: ignore[misc]


#: Telegram's limits counted strictly in sliding windows (the benchmark's limit-on mode): 30 in any second
#: overall, 3 in any second and 10 in any 10 s per private chat, 20 in any 60 s per group (edits too)
STRICT = RateLimits(global_per_second=30.0, global_burst=30, private_per_second=1.0, private_burst=3,
                    group_per_minute=20, strict=True, private_window=10.0)
