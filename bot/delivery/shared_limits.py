"""Telegram's limits counted once for the whole bot, however many processes send: in Redis.

Telegram limits a *bot* (about 30 messages a second overall, about one a second per private chat with
short bursts, 20 a minute per group), not a process. Two processes with their own in-memory
:class:`~bot.delivery.ratelimit.RateLimiter` would together send twice as fast and earn 429s. Here the
same model (token buckets overall and per private chat, a sliding window per group, pauses after a 429)
lives in Redis and is checked and recorded by one Lua script, atomically, on Redis's clock (so the
processes' clocks do not matter). Why Redis and not PostgreSQL: a few hundred checks a second at sub-
millisecond cost, with keys that expire by themselves.

If Redis cannot be reached, the sender falls back to its process-local limiter (and logs it): messages
keep flowing, limits are then counted per process until Redis is back.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.delivery.ratelimit import RateLimits, is_group_chat

log = logging.getLogger("sikesal.delivery.limits")

#: KEYS: global bucket, chat bucket or window, global pause, chat pause
#: ARGV: is_group, cost, edit, global rate, global burst, private rate, private burst, group limit,
#: group window (s, margin included), member prefix (unique per call)
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local is_group = ARGV[1] == '1'
local cost = tonumber(ARGV[2])
local edit = ARGV[3] == '1'
local g_rate, g_burst = tonumber(ARGV[4]), tonumber(ARGV[5])
local p_rate, p_burst = tonumber(ARGV[6]), tonumber(ARGV[7])
local group_limit, window = tonumber(ARGV[8]), tonumber(ARGV[9])

local function bucket(key, rate, burst)
  local v = redis.call('HMGET', key, 'tokens', 'stamp')
  local tokens = tonumber(v[1]) or burst
  local stamp = tonumber(v[2]) or now
  if now > stamp then tokens = math.min(burst, tokens + (now - stamp) * rate); stamp = now end
  local need = math.min(cost, burst)
  local wait = 0
  if tokens < need then wait = (need - tokens) / rate end
  return tokens, need, wait
end

local wait = 0
local gp = tonumber(redis.call('GET', KEYS[3]) or '0')
local cp = tonumber(redis.call('GET', KEYS[4]) or '0')
wait = math.max(wait, gp - now, cp - now)
local g_tokens, g_need, p_tokens, p_need
if not edit then
  local w
  g_tokens, g_need, w = bucket(KEYS[1], g_rate, g_burst)
  wait = math.max(wait, w)
end
local g_cost = math.min(cost, group_limit)
if is_group then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[2])
  local excess = count + g_cost - group_limit
  if excess > 0 then
    local oldest = redis.call('ZRANGE', KEYS[2], excess - 1, excess - 1, 'WITHSCORES')
    wait = math.max(wait, tonumber(oldest[2]) + window - now)
  end
elseif not edit then
  local w
  p_tokens, p_need, w = bucket(KEYS[2], p_rate, p_burst)
  wait = math.max(wait, w)
end
if wait > 0 then return tostring(wait) end
if not edit then
  redis.call('HSET', KEYS[1], 'tokens', g_tokens - g_need, 'stamp', now)
  redis.call('EXPIRE', KEYS[1], 3600)
end
if is_group then
  for i = 1, g_cost do redis.call('ZADD', KEYS[2], now, ARGV[10] .. ':' .. i) end
  redis.call('EXPIRE', KEYS[2], math.ceil(window) + 5)
elseif not edit then
  redis.call('HSET', KEYS[2], 'tokens', p_tokens - p_need, 'stamp', now)
  redis.call('EXPIRE', KEYS[2], 3600)
end
return '0'
"""

#: KEYS: the pause key. ARGV: seconds. Keeps the later of the existing and the new pause.
_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then redis.call('SET', KEYS[1], tostring(untl), 'EX', math.ceil(tonumber(ARGV[1])) + 5) end
return tostring(untl)
"""


class SharedRateLimiter:
    """The bot's limits in Redis. ``namespace`` separates bots (and tests) on one Redis."""

    def __init__(self, redis: Redis, limits: RateLimits, *, namespace: str) -> None:
        self.redis = redis
        self.limits = limits
        self.prefix = f"sikesal:{namespace}:limits"
        self._acquire = redis.register_script(_ACQUIRE)
        self._pause = redis.register_script(_PAUSE)
        self._calls = 0

    @classmethod
    def from_url(cls, url: str, limits: RateLimits, *, namespace: str) -> SharedRateLimiter:
        return cls(Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2), limits, namespace=namespace)

    def _keys(self, chat_id: str) -> list[str]:
        kind = "group" if is_group_chat(chat_id) else "chat"
        return [f"{self.prefix}:global", f"{self.prefix}:{kind}:{chat_id}", f"{self.prefix}:pause",
                f"{self.prefix}:pause:{chat_id}"]

    async def acquire(self, chat_id: int | str, *, cost: int = 1, edit: bool = False) -> float:
        """Seconds to wait (0: the send is counted now and may go). Raises RedisError when unreachable."""
        key = str(chat_id)
        limits = self.limits
        self._calls += 1
        args: list[Any] = [
            "1" if is_group_chat(key) else "0", cost, "1" if edit else "0",
            limits.global_per_second, limits.global_burst, limits.private_per_second, limits.private_burst,
            max(1, int(limits.group_per_minute)), limits.group_window + limits.margin,
            f"{id(self):x}:{self._calls}",
        ]
        result = await self._acquire(keys=self._keys(key), args=args)
        return float(result.decode() if isinstance(result, bytes) else result)

    async def pause(self, chat_id: int | str | None, seconds: float) -> None:
        """Nothing to ``chat_id`` (everywhere, if None) for ``seconds``: Telegram's retry_after, for all."""
        key = f"{self.prefix}:pause" if chat_id is None else f"{self.prefix}:pause:{chat_id}"
        await self._pause(keys=[key], args=[max(0.0, seconds)])

    async def close(self) -> None:
        await self.redis.aclose()


__all__ = ["RedisError", "SharedRateLimiter"]
