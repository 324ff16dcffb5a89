"""bot.web.snapshots: the overview's figures are served from a snapshot for ``ttl`` seconds, then served stale
while one background task refreshes them, and computed on the spot once older than ``max_age``; a failed
refresh keeps the old snapshot."""

from __future__ import annotations

import asyncio

from bot.web.snapshots import Snapshots


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_fresh_stale_and_too_old() -> None:
    clock = Clock()
    calls: list[int] = []

    async def compute() -> int:
        calls.append(1)
        return len(calls)

    snapshots: Snapshots[int] = Snapshots(60, max_age=600, clock=clock)
    assert await snapshots.get("*", compute) == 1
    clock.now = 59
    assert await snapshots.get("*", compute) == 1 and len(calls) == 1  # fresh: not computed again
    assert await snapshots.get("agency:pupr", compute) == 2  # another key, its own snapshot
    clock.now = 61
    assert await snapshots.get("*", compute) == 1  # stale: served at once, refreshed behind
    assert await snapshots.get("*", compute) == 1  # one refresh at a time
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert len(calls) == 3 and await snapshots.get("*", compute) == 3
    clock.now = 10_000
    assert await snapshots.get("*", compute) == 4  # too old to serve: computed now


async def test_a_failed_refresh_keeps_the_snapshot() -> None:
    clock = Clock()
    snapshots: Snapshots[str] = Snapshots(60, clock=clock)

    async def good() -> str:
        return "good"

    async def bad() -> str:
        raise RuntimeError("database gone")

    assert await snapshots.get("*", good) == "good"
    clock.now = 100
    assert await snapshots.get("*", bad) == "good"
    for _ in range(3):
        await asyncio.sleep(0)
    assert await snapshots.get("*", good) == "good"
