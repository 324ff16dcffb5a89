"""Client-side flood control for the Telegram sender. Pure: the caller passes the clock (seconds, monotonic).

Why on our side: Telegram answers a bot that sends too fast with 429 "retry after N", and N can be long
(tens of seconds, more for repeat offenders). Staying under the documented limits is cheaper than
recovering: ~30 messages/s overall, ~1 message/s per private chat (short bursts tolerated), 20
messages/minute per group. A group card burst (30 complaints in a minute for one agency) must drain at 20
per minute with no 429 at all.

Model: every limit is a set of sliding windows, "at most ``count`` actions in ANY ``seconds``-long window"
(a sliding log of send times), because that is how Telegram (and ``localapi.telegram`` in strict mode)
count. A token bucket is not enough: refilling while a burst is still inside the server's window lets a
bucket with burst 20 at 30/s send 50 within one second, and ~40 to a group within its minute.

* overall (sends only): ``floor(global_per_second)`` in any second (Telegram's own window), and, when
  ``global_burst`` is smaller, also ``global_burst`` in any ``global_burst / global_per_second`` seconds;
* private chat (positive id, sends only): ``private_burst`` in any ``1 / private_per_second`` seconds and
  ``floor(private_per_second * private_window)`` in any ``private_window`` seconds -- with the defaults at
  most 3 in any second (a whole answer of up to 3 messages goes at once, the 4th waits) and at most 10 in
  any 10 s (the chat's rate stays at 1/s, measured over every 10 s). Why not one window such as 3 in any
  3 s: a citizen acting every 1-3 s with 1-3 messages per answer would wait for the whole 3 s far more
  often (simulated: p99 of the whole answer 2.4 s instead of 1.0 s); a longer sustained window absorbs the
  pace of a person while still holding the rate to 1/s;
* group/supergroup/channel (negative id, edits count too): ``group_per_minute`` in any ``group_window``;
* an album of N photos costs N (a window smaller than the album counts it as full: it cannot be split);
* :meth:`RateLimiter.pause` after a 429: nothing goes to that chat (or anywhere, for a global pause) until
  the given time.

Each window is padded so that network jitter (our stamp is taken before the request leaves, the server's
when it arrives) cannot bunch sends into one server window: the overall and private windows by
``window_margin`` (0.1 s: 30 per 1.1 s is 27.3/s, above the 24/s the bot must reach when saturated; a
delay spread up to the margin provably cannot push a server window over), never by more than a tenth of
the window (so lifted limits of thousands a second are not throttled by it); the group window by
``margin`` (a second, see its note).

Per call the work is a few bisects in deques no longer than a window's count; per-chat state disappears
once its last send has left its windows (:meth:`RateLimiter.prune`), so memory follows active chats only.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from dataclasses import dataclass

#: the shortest wait reported when a window is full (float rounding can make "until the oldest leaves" 0)
_TICK = 1e-6


@dataclass(frozen=True, slots=True)
class Window:
    """At most ``count`` actions in any ``seconds``-long window."""

    count: int
    seconds: float


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Tunable limits (config and tests tighten or loosen them; tests also shrink ``group_window``)."""

    global_per_second: float = 30.0
    private_per_second: float = 1.0
    group_per_minute: float = 20  # a count; config may hand a float, it is truncated
    #: most sends at once overall; a second never holds more than ``floor(global_per_second)`` anyway, so
    #: a burst at or above the rate adds no window (the default: Telegram's own second is the only one)
    global_burst: int = 30
    #: "small burst ok": a whole answer (text, keyboard, follow-up) goes out together: at most this many
    #: in any ``1 / private_per_second`` seconds
    private_burst: int = 3
    #: the group window; 60 s in production, shortened only by time-scaled tests
    group_window: float = 60.0
    #: extra seconds added to the group window against the time between our count and Telegram's (a
    #: request waits for a connection, a busy process is scheduled late): 0.25 s still drew 429s on a
    #: loaded machine with three processes; a second costs a group 20 cards per 61 s instead of per 60
    margin: float = 1.0
    #: extra seconds added to the overall and private windows (at most a tenth of the window), see above
    window_margin: float = 0.1
    #: the private chat's sustained window: ``floor(private_per_second * private_window)`` in any of it
    private_window: float = 10.0

    def __post_init__(self) -> None:
        if self.global_per_second <= 0 or self.private_per_second <= 0 or self.group_per_minute < 1:
            raise ValueError("rate limits must be positive")
        if self.global_burst < 1 or self.private_burst < 1 or self.group_window <= 0 or self.margin < 0:
            raise ValueError("bursts must be >= 1, the group window > 0, the margin >= 0")
        if self.window_margin < 0 or self.private_window <= 0:
            raise ValueError("the window margin must be >= 0, the private window > 0")

    def _padded(self, count: int, seconds: float) -> Window:
        return Window(count, seconds + min(self.window_margin, seconds / 10))

    def global_windows(self) -> tuple[Window, ...]:
        """The overall windows (sends only), padded, the longest last."""
        rate = self.global_per_second
        second = max(1.0, 1 / rate)  # Telegram's second (a rate below 1/s: the time one send is due)
        per_second = max(1, math.floor(rate * second + 1e-9))
        windows = [self._padded(per_second, second)]
        if self.global_burst < per_second:
            windows.append(self._padded(self.global_burst, self.global_burst / rate))
        return _by_length(windows)

    def private_windows(self) -> tuple[Window, ...]:
        """The windows of one private chat (sends only), padded, the longest last."""
        rate = self.private_per_second
        sustained = max(1, math.floor(rate * self.private_window + 1e-9))
        return _by_length([self._padded(self.private_burst, 1 / rate),
                           self._padded(sustained, self.private_window)])

    def group_windows(self) -> tuple[Window, ...]:
        """The window of one group (sends and edits), padded by ``margin``."""
        return (Window(max(1, int(self.group_per_minute)), self.group_window + self.margin),)


def _by_length(windows: list[Window]) -> tuple[Window, ...]:
    """Shortest first: the log of a scope keeps its stamps for the last (longest) window."""
    return tuple(sorted(windows, key=lambda w: w.seconds))


def is_group_chat(chat_id: int | str) -> bool:
    """Telegram groups, supergroups and channels have negative ids (``@username`` targets are channels)."""
    try:
        return int(chat_id) < 0
    except (TypeError, ValueError):
        return True


class _Log:
    """Send times of one scope (the bot, a chat), oldest first, kept for the scope's longest window."""

    __slots__ = ("stamps",)

    def __init__(self) -> None:
        self.stamps: deque[float] = deque()

    def wait(self, now: float, windows: tuple[Window, ...], cost: int) -> float:
        """Seconds until ``cost`` more actions fit in every window (0: now)."""
        stamps = self.stamps
        span = windows[-1].seconds
        while stamps and stamps[0] <= now - span:
            stamps.popleft()
        wait = 0.0
        for window in windows:
            first = bisect_right(stamps, now - window.seconds)  # stamps[first:] are inside the window
            excess = len(stamps) - first + min(cost, window.count) - window.count
            if excess > 0:  # the ``excess``-th oldest stamp inside must leave the window first
                wait = max(wait, stamps[first + excess - 1] + window.seconds - now, _TICK)
        return wait

    def add(self, now: float, windows: tuple[Window, ...], cost: int) -> None:
        count = min(cost, max(w.count for w in windows))
        if not self.stamps or now >= self.stamps[-1]:
            self.stamps.extend([now] * count)
        else:  # a caller's clock went back a little: keep the log sorted
            for _ in range(count):
                insort(self.stamps, now)

    def move(self, stamped: float, done: float, windows: tuple[Window, ...], cost: int) -> None:
        """The ``cost`` actions counted at ``stamped`` are counted at ``done`` instead (later, never earlier);
        an action the log already forgot is counted again at ``done``."""
        count = min(cost, max(w.count for w in windows))
        stamps = self.stamps
        for _ in range(count):
            index = bisect_left(stamps, stamped)
            if index < len(stamps) and stamps[index] == stamped:
                del stamps[index]
            insort(stamps, done)

    def idle(self, now: float, windows: tuple[Window, ...]) -> bool:
        return not self.stamps or self.stamps[-1] <= now - windows[-1].seconds


class RateLimiter:
    """Answers "how long until I may send to this chat" and records what was sent.

    Not thread-safe, and needs no lock under asyncio as long as :meth:`delay_for` and :meth:`record` (or
    :meth:`acquire`) are called without an ``await`` in between.
    """

    #: forget idle per-chat state every this many records (the city has many citizens)
    _PRUNE_EVERY = 1000

    def __init__(self, limits: RateLimits | None = None, *, now: float = 0.0) -> None:
        self.limits = limits or RateLimits()
        self._global_windows = self.limits.global_windows()
        self._private_windows = self.limits.private_windows()
        self._group_windows = self.limits.group_windows()
        self._global = _Log()
        self._private: dict[str, _Log] = {}
        self._groups: dict[str, _Log] = {}
        self._paused: dict[str, float] = {}
        self._global_pause = 0.0
        self._records = 0
        del now  # a log needs no start time (kept: callers pass their clock's now)

    # ------------------------------------------------------------------ queries

    def delay_for(self, chat_id: int | str, now: float, *, cost: int = 1, edit: bool = False) -> float:
        """Seconds to wait before sending ``cost`` messages to ``chat_id`` (0 = go now). Records nothing."""
        key = str(chat_id)
        wait = max(0.0, self._global_pause - now, self._paused.get(key, 0.0) - now)
        if not edit:
            wait = max(wait, self._global.wait(now, self._global_windows, cost))
        if is_group_chat(key):
            log = self._groups.get(key)
            if log is not None:
                wait = max(wait, log.wait(now, self._group_windows, cost))
        elif not edit:
            log = self._private.get(key)
            if log is not None:
                wait = max(wait, log.wait(now, self._private_windows, cost))
        return wait

    # ------------------------------------------------------------------ updates

    def record(self, chat_id: int | str, now: float, *, cost: int = 1, edit: bool = False) -> None:
        """Count a send (or edit) to ``chat_id`` at ``now``; call it right before the request goes out."""
        key = str(chat_id)
        if not edit:
            self._global.add(now, self._global_windows, cost)
        if is_group_chat(key):
            log = self._groups.get(key)
            if log is None:
                log = self._groups[key] = _Log()
            log.add(now, self._group_windows, cost)
        elif not edit:
            log = self._private.get(key)
            if log is None:
                log = self._private[key] = _Log()
            log.add(now, self._private_windows, cost)
        self._records += 1
        if self._records % self._PRUNE_EVERY == 0:
            self.prune(now)

    def settle(self, chat_id: int | str, stamped: float, done: float, *, cost: int = 1, edit: bool = False) -> None:
        """The request counted at ``stamped`` has been answered at ``done``: count it at ``done`` instead.

        Why: we count a send right before the request leaves, Telegram when it arrives. A request that left
        late (a busy process, a slow connection) arrives closer to the next ones than we counted, and a window
        that holds exactly the limit by our count then holds one more by Telegram's (the saturated benchmark
        drew 429s on the overall second this way). The answer comes after the arrival, so a send counted at
        its answer is never counted earlier than Telegram counted it; a send still in flight keeps its stamp.
        """
        if done <= stamped:
            return
        key = str(chat_id)
        if not edit:
            self._global.move(stamped, done, self._global_windows, cost)
        if is_group_chat(key):
            log = self._groups.get(key)
            if log is not None:
                log.move(stamped, done, self._group_windows, cost)
        elif not edit:
            log = self._private.get(key)
            if log is not None:
                log.move(stamped, done, self._private_windows, cost)

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
        for key in [k for k, log in self._private.items() if log.idle(now, self._private_windows)]:
            del self._private[key]
        for key in [k for k, log in self._groups.items() if log.idle(now, self._group_windows)]:
            del self._groups[key]
        for key in [k for k, until in self._paused.items() if until <= now]:
            del self._paused[key]
