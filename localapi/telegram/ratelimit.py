"""Telegram's flood limits (about 30 msg/s overall, ~1 msg/s per private chat, 20 msg/min per group).

Bots that ignore these get 429 "Too Many Requests: retry after N" in production; the local server enforces
the same shape of limits (tightenable in tests, switchable off for benchmarks) so retry logic is exercised.
"""

from __future__ import annotations

import math
import time
from collections import deque
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

    def check(self, chat_id: int, *, is_group: bool, cost: int = 1, edit: bool = False) -> float:
        """Return 0 and record the action if allowed, else the seconds to wait (nothing recorded).

        Edits only count toward the per-group limit, as in Telegram.
        """
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
