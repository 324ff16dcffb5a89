"""Client-side flood control for the Telegram sender. Pure: the caller passes the clock (seconds, monotonic).

Why on our side: Telegram answers a bot that sends too fast with 429 "retry after N", and N can be long
(tens of seconds, more for repeat offenders). Staying under the documented limits is cheaper than
recovering: ~30 messages/s overall, ~1 message/s per private chat (short bursts tolerated), 20
messages/minute per group. A group card burst (30 complaints in a minute for one agency) must drain at 20
per minute with no 429 at all.

Model, mirroring how Telegram (and ``localapi.telegram``) count:

* overall: a token bucket (``global_per_second``, burst ``global_burst``), sends only;
* private chat (positive id): a token bucket per chat (``private_per_second``, burst ``private_burst``),
  sends only;
* group/supergroup/channel (negative id): a sliding window of ``group_per_minute`` actions per
  ``group_window`` seconds, counting edits too;
* an album of N photos costs N;
* :meth:`RateLimiter.pause` after a 429: nothing goes to that chat (or anywhere, for a global pause) until
  the given time.

Our numbers are a little under the server's so that network jitter (our stamp is taken before the
request leaves, the server's when it arrives) cannot push a send over the edge: hence ``margin``, added
to the group window, and a default global burst below Telegram's.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Tunable limits (config and tests tighten or loosen them; tests also shrink ``group_window``)."""

    global_per_second: float = 30.0
    private_per_second: float = 1.0
    group_per_minute: float = 20  # a count; config may hand a float, it is truncated
    #: tokens available at once overall (below Telegram's ~30 to leave room for jitter)
    global_burst: int = 20
    #: "small burst ok": an answer plus a follow-up keyboard go out together
    private_burst: int = 3
    #: the group window; 60 s in production, shortened only by time-scaled tests
    group_window: float = 60.0
    #: extra seconds added to the group window against the time between our count and Telegram's (a
    #: request waits for a connection, a busy process is scheduled late): 0.25 s still drew 429s on a
    #: loaded machine with three processes; a second costs a group 20 cards per 61 s instead of per 60
    margin: float = 1.0

    def __post_init__(self) -> None:
        if self.global_per_second <= 0 or self.private_per_second <= 0 or self.group_per_minute < 1:
            raise ValueError("rate limits must be positive")
        if self.global_burst < 1 or self.private_burst < 1 or self.group_window <= 0 or self.margin < 0:
            raise ValueError("bursts must be >= 1, the group window > 0, the margin >= 0")


def is_group_chat(chat_id: int | str) -> bool:
    """Telegram groups, supergroups and channels have negative ids (``@username`` targets are channels)."""
    try:
        return int(chat_id) < 0
    except (TypeError, ValueError):
        return True


class _Bucket:
    """Token bucket: ``capacity`` tokens, refilled at ``rate`` per second."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, rate: float, capacity: int, now: float) -> None:
        self.rate = rate
        self.capacity = float(capacity)
        self.tokens = float(capacity)
        self.stamp = now

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now

    def wait(self, now: float, cost: float) -> float:
        self._refill(now)
        cost = min(cost, self.capacity)  # a 10-photo album still goes once the bucket is full
        return 0.0 if self.tokens >= cost else (cost - self.tokens) / self.rate

    def take(self, now: float, cost: float) -> None:
        self._refill(now)
        self.tokens -= min(cost, self.capacity)

    def idle(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.capacity


class RateLimiter:
    """Answers "how long until I may send to this chat" and records what was sent.

    Not thread-safe, and needs no lock under asyncio as long as :meth:`delay_for` and :meth:`record` (or
    :meth:`acquire`) are called without an ``await`` in between.
    """

    #: forget idle per-chat state every this many records (the city has many citizens)
    _PRUNE_EVERY = 1000

    def __init__(self, limits: RateLimits | None = None, *, now: float = 0.0) -> None:
        self.limits = limits or RateLimits()
        self._group_limit = max(1, int(self.limits.group_per_minute))
        self._global = _Bucket(self.limits.global_per_second, self.limits.global_burst, now)
        self._private: dict[str, _Bucket] = {}
        self._groups: dict[str, deque[float]] = {}
        self._paused: dict[str, float] = {}
        self._global_pause = 0.0
        self._records = 0

    # ------------------------------------------------------------------ queries

    def _window(self) -> float:
        return self.limits.group_window + self.limits.margin

    def _group_wait(self, key: str, now: float, cost: int) -> float:
        stamps = self._groups.get(key)
        if not stamps:
            return 0.0
        window = self._window()
        while stamps and stamps[0] <= now - window:
            stamps.popleft()
        limit = self._group_limit
        cost = min(cost, limit)
        excess = len(stamps) + cost - limit
        if excess <= 0:
            return 0.0
        # the ``excess``-th oldest stamp must leave the window first
        return max(0.0, stamps[excess - 1] + window - now)

    def delay_for(self, chat_id: int | str, now: float, *, cost: int = 1, edit: bool = False) -> float:
        """Seconds to wait before sending ``cost`` messages to ``chat_id`` (0 = go now). Records nothing."""
        key = str(chat_id)
        waits = [0.0, self._global_pause - now, self._paused.get(key, 0.0) - now]
        if not edit:
            waits.append(self._global.wait(now, cost))
        if is_group_chat(key):
            waits.append(self._group_wait(key, now, cost))
        elif not edit:
            bucket = self._private.get(key)
            if bucket is not None:
                waits.append(bucket.wait(now, cost))
        return max(waits)

    # ------------------------------------------------------------------ updates

    def record(self, chat_id: int | str, now: float, *, cost: int = 1, edit: bool = False) -> None:
        """Count a send (or edit) to ``chat_id`` at ``now``; call it right before the request goes out."""
        key = str(chat_id)
        if not edit:
            self._global.take(now, cost)
        if is_group_chat(key):
            self._groups.setdefault(key, deque()).extend([now] * min(cost, self._group_limit))
        elif not edit:
            bucket = self._private.get(key)
            if bucket is None:
                bucket = self._private[key] = _Bucket(
                    self.limits.private_per_second, self.limits.private_burst, now
                )
            bucket.take(now, cost)
        self._records += 1
        if self._records % self._PRUNE_EVERY == 0:
            self.prune(now)

    def acquire(self, chat_id: int | str, now: float, *, cost: int = 1, edit: bool = False) -> float:
        """:meth:`delay_for` and, when it is 0, :meth:`record` in one step (no await can slip between)."""
        wait = self.delay_for(chat_id, now, cost=cost, edit=edit)
        if wait <= 0:
            self.record(chat_id, now, cost=cost, edit=edit)
            return 0.0
        return wait

    def pause(self, chat_id: int | str | None, until: float) -> None:
        """Stop sending to ``chat_id`` (everywhere, if None) until ``until`` -- Telegram's retry_after."""
        if chat_id is None:
            self._global_pause = max(self._global_pause, until)
        else:
            key = str(chat_id)
            self._paused[key] = max(self._paused.get(key, 0.0), until)

    def paused_until(self, chat_id: int | str | None = None) -> float:
        """When the pause on ``chat_id`` (or the global one) ends; 0 if none was ever set."""
        if chat_id is None:
            return self._global_pause
        return max(self._global_pause, self._paused.get(str(chat_id), 0.0))

    def prune(self, now: float) -> None:
        """Drop state that no longer constrains anything, so memory follows active chats only."""
        window = self._window()
        for key in [k for k, b in self._private.items() if b.idle(now)]:
            del self._private[key]
        for key in [k for k, s in self._groups.items() if not s or s[-1] <= now - window]:
            del self._groups[key]
        for key in [k for k, until in self._paused.items() if until <= now]:
            del self._paused[key]
