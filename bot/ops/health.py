"""``/healthz`` and ``/readyz`` for load balancers, systemd watchdogs and monitoring.

* ``GET /healthz``: 200 ``{"ok": true}`` as long as the process answers HTTP at all (liveness: restart
  the process when it stops answering).
* ``GET /readyz``: 200 when the database answers ``SELECT 1`` within ``db_timeout`` seconds and no work
  loop (the senders, the inbox) is stalled; 503 otherwise, with a JSON body naming what failed, e.g.
  ``{"ok": false, "failed": ["database: TimeoutError: no answer within 2.0 s"], ...}`` (readiness: take
  the process out of the proxy's rotation, alert).

A loop is anything with ``name: str`` and ``last_tick: float``, the ``time.monotonic()`` of its last poll
(``bot.delivery.loop.FifoWorkLoop`` sets it each time round). A loop with ``last_tick <= 0`` has not
started yet and is not judged; one whose last tick is older than ``stall_after`` seconds is stalled (it
polls at least every ``poll_interval``, one second by default, so a minute means it hangs). The sequence
of loops is read at every check, so a list filled in after the routes were added is fine.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web
from sqlalchemy import text

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

#: a database that takes longer than this for SELECT 1 is not ready
DB_TIMEOUT = 2.0
#: a work loop that has not polled for this long is stalled
STALL_AFTER = 60.0


class Ticking(Protocol):
    """A work loop as the readiness check sees it."""

    @property
    def name(self) -> str: ...

    @property
    def last_tick(self) -> float: ...


class Health:
    """The two endpoints; add them to a web app with ``app.add_routes(health.routes())``."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        loops: Sequence[Ticking] = (),
        *,
        stall_after: float = STALL_AFTER,
        db_timeout: float = DB_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.loops = loops
        self.stall_after = stall_after
        self.db_timeout = db_timeout
        self.clock = clock

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/healthz", self.healthz), web.get("/readyz", self.readyz)]

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def readyz(self, request: web.Request) -> web.Response:
        report = await self.check()
        return web.json_response(report, status=200 if report["ok"] else 503)

    async def check(self) -> dict[str, Any]:
        """``{"ok": bool, "failed": [what failed, ...], "database": "ok" | why, "loops": {name: seconds}}``."""
        failed: list[str] = []
        database = await self._database()
        if database != "ok":
            failed.append(f"database: {database}")
        now = self.clock()
        loops: dict[str, float | None] = {}
        for loop in self.loops:
            tick = loop.last_tick
            if not tick or tick <= 0:
                loops[loop.name] = None  # not started yet
                continue
            age = max(0.0, now - tick)
            loops[loop.name] = round(age, 1)
            if age > self.stall_after:
                failed.append(f"{loop.name}: stalled, no poll for {age:.0f} s (limit {self.stall_after:.0f} s)")
        return {"ok": not failed, "failed": failed, "database": database, "loops": loops}

    async def _database(self) -> str:
        """``ok``, or why the database is not usable (the exception's type and a short message)."""
        try:
            await asyncio.wait_for(self._select_one(), timeout=self.db_timeout)
        except TimeoutError:
            return f"TimeoutError: no answer within {self.db_timeout:.1f} s"
        except Exception as exc:  # any driver error means "not ready"; say which
            message = str(exc).splitlines()[0][:200] if str(exc) else ""
            return f"{type(exc).__name__}: {message}".rstrip(": ")
        return "ok"

    async def _select_one(self) -> None:
        async with self.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
