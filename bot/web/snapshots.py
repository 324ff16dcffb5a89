"""Figures that are expensive to compute and fine to be a minute old (the dashboard's overview), kept per key
(who may see what) and refreshed in the background.

Why: the overview aggregates the last 30 days of complaints; at 100k stored complaints that is hundreds of
milliseconds of SQL, while the command centre keeps the page open all day. A snapshot is served for
``ttl`` seconds; after that the next request still gets it at once while one background task computes the
next one (so a page view never waits, except the very first, or after ``max_age`` without any view). Each
process keeps its own snapshots: nothing to invalidate across processes, and the page says when its figures
were computed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger("sikesal.web.snapshots")

T = TypeVar("T")


@dataclass(slots=True)
class _Entry(Generic[T]):
    value: T
    at: float


class Snapshots(Generic[T]):
    def __init__(
        self, ttl: float = 60.0, *, max_age: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        #: older than this, a snapshot is not served: the request computes a fresh one
        self.max_age = max_age if max_age is not None else ttl * 10
        self.clock = clock
        self._entries: dict[Hashable, _Entry[T]] = {}
        self._refreshing: dict[Hashable, asyncio.Task[None]] = {}

    async def get(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> T:
        """The snapshot of ``key``: cached while fresh, stale (with a refresh started) while not too old,
        else computed now."""
        entry = self._entries.get(key)
        now = self.clock()
        if entry is not None and now - entry.at < self.ttl:
            return entry.value
        if entry is not None and now - entry.at < self.max_age:
            if key not in self._refreshing:
                task = asyncio.create_task(self._refresh(key, compute))
                self._refreshing[key] = task
            return entry.value
        value = await compute()
        self._entries[key] = _Entry(value, self.clock())
        return value

    async def _refresh(self, key: Hashable, compute: Callable[[], Awaitable[T]]) -> None:
        try:
            value = await compute()
            self._entries[key] = _Entry(value, self.clock())
        except Exception:  # the stale snapshot stays; the next view tries again
            log.exception("refreshing the dashboard snapshot %r failed", key)
        finally:
            self._refreshing.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


__all__ = ["Snapshots"]
