"""The playground: the whole system in a browser, with no bot token and no internet.

One process, one port:

* ``/tg/...`` -- the local Telegram Bot API server (``localapi.telegram``); the real bot
  (:class:`bot.app.SikesalApp`) connects to it over HTTP exactly as to api.telegram.org
  (``api_base = <url>/tg``). Nothing inside the bot knows it is in a playground.
* ``/`` and ``/static/...`` -- the page (vanilla JS, no external assets).
* ``/api/...`` -- the page's JSON API and a server-sent event stream (documented in :mod:`.api`).

At start (and on reset) the playground builds its world like an agency admin would: one citizen
("Siti"), and for every agency in the configuration a Telegram group with two staff members and the
bot, linked with a one-time code (``create_link_code`` + ``/link CODE`` sent by the group's admin).

The database is the playground's own throwaway: it is **emptied at every start and reset**, because
the simulated Telegram lives in memory and a database that outlived it would point at chats that no
longer exist.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy.engine import make_url

from bot.app import SikesalApp
from bot.config import AppConfig
from bot.delivery.ratelimit import RateLimits
from bot.services.staff import create_link_code
from localapi.telegram import RateLimits as ServerRateLimits
from localapi.telegram import SimUser, TelegramServer

from .world import DEFAULT_CITIZEN, STAFF_NAMES, AgencyGroup, Citizen, World

log = logging.getLogger("sikesal.playground")

#: the bot token of the simulated bot (only ever sent to the local server)
TOKEN = "123456:PLAYGROUND-local-token"
TELEGRAM_PREFIX = "/tg"
LINK_TIMEOUT = 30.0


class PlaygroundError(Exception):
    """A problem the operator can fix (e.g. the port is in use)."""


class Playground:
    """The local Telegram, the real bot and the page, started and stopped together.

    ``rate_limits`` are the bot's own sending limits (default: ``config.delivery``, as in a real run);
    ``telegram_rate_limits`` makes the local server enforce Telegram's limits (default on).
    ``polling_timeout`` is the bot's getUpdates long-poll time (short values make reset faster).
    """

    def __init__(
        self,
        config: AppConfig,
        *,
        database_url: str,
        media_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        rate_limits: RateLimits | None = None,
        telegram_rate_limits: bool | ServerRateLimits = True,
        polling_timeout: int = 5,
    ) -> None:
        self.config = config
        self.database_url = database_url
        self.media_dir = Path(media_dir)
        self.host = host
        self.port = port
        self.rate_limits = rate_limits
        self.polling_timeout = polling_timeout
        self.server = TelegramServer(TOKEN, rate_limits=telegram_rate_limits)
        self.app: SikesalApp | None = None
        self.world = World()
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()
        self._failed: asyncio.Future[None] | None = None
        self._watchers: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve the page and the local Telegram, start the bot, build the world (groups linked)."""
        from .api import build_web_app

        self._failed = asyncio.get_running_loop().create_future()
        self._closing.clear()
        web_app = build_web_app(self)
        web_app.add_subapp(f"{TELEGRAM_PREFIX}/", self.server.make_app())
        self._runner = web.AppRunner(web_app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, self.host, self.port).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise PlaygroundError(
                f"cannot listen on {self.host}:{self.port} ({exc.strerror or exc}); "
                "is another playground running? Choose another port."
            ) from exc
        port = self._runner.addresses[0][1] if self._runner.addresses else self.port
        self.url = f"http://{_client_host(self.host)}:{port}"
        self.server.base_url = f"{self.url}{TELEGRAM_PREFIX}"
        try:
            async with self._lock:
                await self._start_world()
        except BaseException:
            await self.stop()
            raise
        log.info("playground ready at %s", self.url)

    async def stop(self) -> None:
        """Stop the bot, then the web server (safe to call twice or after a failed start)."""
        self._closing.set()
        for task in self._watchers:
            task.cancel()
        self._watchers.clear()
        await self._stop_bot()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait(self) -> None:
        """Return when the bot crashes (raising its error); resets do not count."""
        assert self._failed is not None, "start() first"
        await asyncio.shield(self._failed)

    async def __aenter__(self) -> Playground:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def closing(self) -> asyncio.Event:
        """Set when the playground stops (event streams end)."""
        return self._closing

    # -- world --------------------------------------------------------------------------------------------------

    async def reset(self) -> None:
        """Clear every chat and the database, then rebuild the world (fresh citizen, groups re-linked)."""
        async with self._lock:
            await self._stop_bot()
            self.server.reset()  # publishes {"type": "reset"}
            await self._start_world()

    async def add_citizen(self, name: str, language_code: str = "id") -> Citizen:
        """A new Telegram user who has not written to the bot yet."""
        name = name.strip()[:64]
        if not name:
            raise ValueError("name is required")
        async with self._lock:  # not into a world that a reset is replacing
            citizen = Citizen(self.server.create_user(name, language_code=language_code))
            self.world.citizens.append(citizen)
        self.server.state.publish({"type": "world"})
        return citizen

    async def _start_world(self) -> None:
        self.world = World()
        await wipe_database(self.database_url)
        app = SikesalApp(
            self.config,
            database_url=self.database_url,
            media_dir=self.media_dir,
            token=TOKEN,
            api_base=self.server.base_url,
            polling_timeout=self.polling_timeout,
            rate_limits=self.rate_limits,
        )
        self.app = app
        try:
            await app.start()
        except BaseException:
            await app.stop()
            self.app = None
            raise
        self._watchers.append(asyncio.create_task(self._watch(app), name="playground-watch"))
        self.world.citizens.append(Citizen(self.server.create_user(DEFAULT_CITIZEN, language_code="id")))
        for index, (agency, agency_config) in enumerate(self.config.agencies.items()):
            names = STAFF_NAMES[index % len(STAFF_NAMES)]
            short = agency_config.short or agency.upper()
            staff = [self.server.create_user(f"{name} ({short})", language_code="id") for name in names]
            title = f"Laporan {short}"
            chat = self.server.create_group(title, staff, admins=staff[:1])
            self.world.groups.append(AgencyGroup(agency=agency, chat_id=chat.id, title=title, short=short,
                                                 names=dict(agency_config.name), staff=staff))
        self.server.state.publish({"type": "world"})
        await asyncio.gather(*(self._link(group) for group in self.world.groups))
        self.world.ready = True
        self.server.state.publish({"type": "world"})

    async def _link(self, group: AgencyGroup) -> None:
        """What an agency admin does: get a one-time code, send ``/link CODE`` in the group."""
        assert self.app is not None and self.app.runtime is not None
        code = await create_link_code(self.app.runtime, group.agency)
        # the bot explains /link when it is added; wait for it so the transcript reads naturally
        await self.server.wait_for_message(group.chat_id, lambda m: "/link" in (m.text or ""),
                                           timeout=LINK_TIMEOUT)
        admin: SimUser = group.staff[0]
        admin.send_text(f"/link {code}", chat=group.chat_id)
        name = group.names.get("id") or group.agency
        await self.server.wait_for_message(group.chat_id, lambda m: name in (m.text or ""), timeout=LINK_TIMEOUT)
        group.linked = True

    async def _watch(self, app: SikesalApp) -> None:
        try:
            await app.wait()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if app is self.app and self._failed is not None and not self._failed.done():
                log.exception("the bot stopped with an error")
                self._failed.set_exception(exc)

    async def _stop_bot(self) -> None:
        app, self.app = self.app, None
        if app is not None:
            await app.stop()


async def wipe_database(database_url: str) -> None:
    """Empty the playground database: delete a SQLite file, or delete every row elsewhere."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        database = url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            await asyncio.to_thread(_delete_sqlite_files, database)
        return
    from sqlalchemy import delete

    from storage.db import make_engine, upgrade_database
    from storage.models import Base

    engine = make_engine(database_url)
    try:
        await upgrade_database(engine)
        async with engine.begin() as connection:
            for table in reversed(Base.metadata.sorted_tables):
                await connection.execute(delete(table))
    finally:
        await engine.dispose()


def _delete_sqlite_files(database: str) -> None:
    path = Path(database).expanduser()
    for suffix in ("", "-wal", "-shm", "-journal"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _client_host(host: str) -> str:
    """The address a browser on this machine uses for a bind address."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


async def run_playground(
    config: AppConfig,
    *,
    database_url: str,
    media_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    ready: Callable[[str], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the playground until ``stop`` is set (or the task is cancelled, e.g. Ctrl+C).

    ``ready(url)`` is called once the page is served and every agency group is linked.
    Raises :class:`PlaygroundError` when the port is taken, and the bot's error if it crashes.
    """
    playground = Playground(config, database_url=database_url, media_dir=media_dir, host=host, port=port)
    await playground.start()
    try:
        if ready is not None:
            ready(playground.url)
        waiters: set[asyncio.Task[Any]] = {asyncio.create_task(playground.wait())}
        if stop is not None:
            waiters.add(asyncio.create_task(stop.wait()))
        try:
            done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waiters:
                task.cancel()
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        await playground.stop()
