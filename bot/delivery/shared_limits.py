"""Telegram's limits counted once for the whole bot, however many processes send: in Redis.

Telegram limits a *bot* (about 30 messages a second overall, about one a second per private chat with
short bursts, 20 a minute per group), not a process. Two processes with their own in-memory
:class:`~bot.delivery.ratelimit.RateLimiter` would together send twice as fast and earn 429s. Here the
same model -- sliding windows "at most N in any W seconds" overall, per private chat and per group (the
windows come from :class:`~bot.delivery.ratelimit.RateLimits`, so both limiters always agree), pauses
after a 429 -- lives in Redis: one sorted set of send times per scope (score = time, one member per
message, trimmed to the scope's longest window and expiring with it), checked and recorded by one Lua
script, atomically, on Redis's clock (so the processes' clocks do not matter). Why Redis and not
PostgreSQL: a few hundred checks a second at sub-millisecond cost, with keys that expire by themselves.

If Redis cannot be reached, the sender falls back to its process-local limiter (and logs it): messages
keep flowing, limits are then counted per process until Redis is back.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.delivery.ratelimit import RateLimits, Window, is_group_chat

log = logging.getLogger("sikesal.delivery.limits")

#: KEYS: overall log, chat log (private or group), global pause, chat pause
#: ARGV: cost, edit, member prefix (unique per call), now ('' = Redis's clock), is_group, then the overall
#: windows as n, count1, seconds1, ..., then the chat's windows the same way (each list longest last).
#: A window holds a send at time s while s > now - seconds; it is full when the sends inside plus
#: min(cost, count) exceed count, and then frees up when the ``excess``-th oldest send inside leaves.
#: Times go to Redis as %.17g strings, so the script decides exactly as the in-memory limiter does.
_ACQUIRE = """
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local cost = tonumber(ARGV[1])
local edit = ARGV[2] == '1'
local is_group = ARGV[5] == '1'
local function fmt(x) return string.format('%.17g', x) end
local function windows(at)
  local n = tonumber(ARGV[at])
  local list = {}
  for i = 1, n do list[i] = {tonumber(ARGV[at + 2 * i - 1]), tonumber(ARGV[at + 2 * i])} end
  return list, at + 2 * n + 1
end
local g_windows, chat_at = windows(6)
local c_windows = windows(chat_at)

local function wait_for(key, list)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', fmt(now - list[#list][2]))
  local wait = 0
  for _, w in ipairs(list) do
    local count, seconds = w[1], w[2]
    local cutoff = '(' .. fmt(now - seconds)
    local excess = redis.call('ZCOUNT', key, cutoff, '+inf') + math.min(cost, count) - count
    if excess > 0 then
      local oldest = redis.call('ZRANGEBYSCORE', key, cutoff, '+inf', 'WITHSCORES', 'LIMIT', excess - 1, 1)
      wait = math.max(wait, tonumber(oldest[2]) + seconds - now, 0.000001)
    end
  end
  return wait
end

local function add(key, list)
  local most = 0
  for _, w in ipairs(list) do most = math.max(most, w[1]) end
  local args = {}
  for i = 1, math.min(cost, most) do
    args[#args + 1] = fmt(now)
    args[#args + 1] = ARGV[3] .. ':' .. i
  end
  redis.call('ZADD', key, unpack(args))
  redis.call('PEXPIRE', key, math.ceil(list[#list][2] * 1000) + 1000)
end

local gp = tonumber(redis.call('GET', KEYS[3]) or '0')
local cp = tonumber(redis.call('GET', KEYS[4]) or '0')
local wait = math.max(0, gp - now, cp - now)
local chat_counts = is_group or not edit
if not edit then wait = math.max(wait, wait_for(KEYS[1], g_windows)) end
if chat_counts then wait = math.max(wait, wait_for(KEYS[2], c_windows)) end
if wait > 0 then return fmt(wait) end
if not edit then add(KEYS[1], g_windows) end
if chat_counts then add(KEYS[2], c_windows) end
return '0'
"""

#: KEYS: the pause key. ARGV: seconds, now ('' = Redis's clock). Keeps the later of the existing and the new
#: pause.
_PAUSE = """
local now
if ARGV[2] ~= '' then
  now = tonumber(ARGV[2])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then
  redis.call('SET', KEYS[1], string.format('%.17g', untl), 'EX', math.ceil(tonumber(ARGV[1])) + 5)
end
return string.format('%.17g', untl)
"""


def _window_args(windows: tuple[Window, ...]) -> list[str]:
    """A scope's windows as the script reads them: n, then count and seconds of each (longest last)."""
    args = [str(len(windows))]
    for window in windows:
        args += [str(window.count), repr(float(window.seconds))]
    return args


class SharedRateLimiter:
    """The bot's limits in Redis. ``namespace`` separates bots (and tests) on one Redis."""

    def __init__(self, redis: Redis, limits: RateLimits, *, namespace: str) -> None:
        self.redis = redis
        self.limits = limits
        self.prefix = f"sikesal:{namespace}:limits"
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)
        self._calls = 0
        #: members of the sorted sets must differ across processes (two processes may share an id())
        self._member = secrets.token_hex(6)
        self._global_args = _window_args(limits.global_windows())
        self._chat_args = {True: _window_args(limits.group_windows()),
                           False: _window_args(limits.private_windows())}

    @classmethod
    def from_url(cls, url: str, limits: RateLimits, *, namespace: str) -> SharedRateLimiter:
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), limits, namespace=namespace)

    def _keys(self, chat_id: str, group: bool) -> list[str]:
        kind = "group" if group else "chat"
        return [f"{self.prefix}:global", f"{self.prefix}:{kind}:{chat_id}", f"{self.prefix}:pause",
                f"{self.prefix}:pause:{chat_id}"]

    async def acquire(self, chat_id: int | str, *, cost: int = 1, edit: bool = False,
                      at: float | None = None) -> float:
        """Seconds to wait (0: the send is counted now and may go). Raises RedisError when unreachable.

        ``at``: the time to count with instead of Redis's clock -- only for tests replaying a schedule (every
        process must count on one clock, so production leaves it None).
        """
        key = str(chat_id)
        group = is_group_chat(key)
        self._calls += 1
        args: list[Any] = [cost, "1" if edit else "0", f"{self._member}:{self._calls}",
                           "" if at is None else repr(float(at)), "1" if group else "0",
                           *self._global_args, *self._chat_args[group]]
        result = await self._acquire(keys=self._keys(key, group), args=args)
        return float(result.decode() if isinstance(result, bytes) else result)

    async def pause(self, chat_id: int | str | None, seconds: float, *, at: float | None = None) -> None:
        """Nothing to ``chat_id`` (everywhere, if None) for ``seconds``: Telegram's retry_after, for all.
        ``at`` as for :meth:`acquire`."""
        key = f"{self.prefix}:pause" if chat_id is None else f"{self.prefix}:pause:{chat_id}"
        await self._pause(keys=[key], args=[repr(max(0.0, float(seconds))), "" if at is None else repr(float(at))])

    async def close(self) -> None:
        await self.redis.aclose()


__all__ = ["RedisError", "SharedRateLimiter"]
