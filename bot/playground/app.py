"""The playground: the whole system in a browser, with no bot token and no internet.

One process, one port:

* ``/tg/...`` -- the local Telegram Bot API server (``localapi.telegram``); the real bot
  (:class:`bot.app.SikesalApp`) connects to it over HTTP exactly as to api.telegram.org
  (``api_base = <url>/tg``). Nothing inside the bot knows it is in a playground.
* ``/twilio-api/...`` -- the local Twilio Messages API (``localapi.twilio``) for WhatsApp citizens; the bot's
  twilio client uses it as api.twilio.com, and the bot's own webhook server (on a free port of 127.0.0.1,
  chosen at every start) receives the simulated citizens' signed webhooks and the status callbacks.
* ``/nominatim/...`` -- the local Nominatim (``localapi.nominatim``, approximate sample streets of Kota
  Jambi); the bot's geocoder (geopy's real client) uses it as nominatim.openstreetmap.org, so shared pins
  get street names and typed addresses at the location step are matched. Its control API is under
  ``/nominatim/_control/...``.
* ``/`` and ``/static/...`` -- the page (vanilla JS, no external assets).
* ``/dashboard/...``, ``/open311/...``, ``/media/...`` -- the real app's command-centre dashboard, Open311 API
  and photos, passed through to the bot's own web server (:mod:`.dashboard`); the page's header links to the
  dashboard, and a demo command-centre account (``jcoc`` with a random password) is created at every start and
  reset, printed by ``sikesal playground`` and shown on the page.
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
import secrets
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy.engine import make_url

from bot.app import SikesalApp
from bot.config import AppConfig, TwilioSettings
from bot.delivery.ratelimit import RateLimits
from bot.services.staff import create_link_code
from localapi.nominatim import NominatimServer
from localapi.telegram import RateLimits as ServerRateLimits
from localapi.telegram import SimUser, TelegramServer
from localapi.twilio import TwilioServer
from localapi.twilio.control import reset_server, wait_for_changes
from routing.geocode import KOTA_JAMBI_VIEWBOX, GeocoderSettings

from .clock import OffsetClock
from .dashboard import DashboardProxy, DemoAccount, create_demo_account
from .whatsapp import (
    TWILIO_FROM,
    TWILIO_SID,
    TWILIO_TOKEN,
    WaEntry,
    WhatsAppCitizen,
    next_entry_id,
    number_for,
)
from .world import DEFAULT_CITIZEN, STAFF_NAMES, AgencyGroup, Citizen, World

log = logging.getLogger("sikesal.playground")

#: the bot token of the simulated bot (only ever sent to the local server)
TOKEN = "123456:PLAYGROUND-local-token"
TELEGRAM_PREFIX = "/tg"
TWILIO_PREFIX = "/twilio-api"
NOMINATIM_PREFIX = "/nominatim"
#: the identifying User-Agent the bot's geocoder sends to the local Nominatim
GEOCODER_USER_AGENT = "SiKesal playground"
LINK_TIMEOUT = 30.0


class PlaygroundError(Exception):
    """A problem the operator can fix (e.g. the port is in use)."""


class Playground:
    """The local Telegram, Twilio and Nominatim, the real bot and the page, started and stopped together.

    ``rate_limits`` are the bot's own sending limits (default: ``config.delivery``, as in a real run);
    ``telegram_rate_limits`` makes the local server enforce Telegram's limits (default on).
    ``polling_timeout`` is the bot's getUpdates long-poll time (short values make reset faster).
    ``whatsapp_status_delay`` is the local Twilio's pause between status callbacks (sent, delivered, read),
    long enough by default to watch the ticks change; tests use 0.
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
        whatsapp_status_delay: float = 0.4,
    ) -> None:
        self.config = config
        self.database_url = database_url
        self.media_dir = Path(media_dir)
        self.host = host
        self.port = port
        self.rate_limits = rate_limits
        self.polling_timeout = polling_timeout
        self.server = TelegramServer(TOKEN, rate_limits=telegram_rate_limits)
        self.twilio = TwilioServer(TWILIO_SID, TWILIO_TOKEN, whatsapp_from=TWILIO_FROM,
                                   callback_delay=whatsapp_status_delay, read_receipts=True)
        #: the local Nominatim the bot's geocoder asks (street names for pins, matches for typed addresses)
        self.nominatim = NominatimServer()
        #: photos WhatsApp citizens uploaded from the page, served back to it by key
        self.whatsapp_files: dict[str, tuple[bytes, str]] = {}
        self.app: SikesalApp | None = None
        #: the bot's clock: real time plus what the page's ⏩ control added (back to real time at a reset)
        self.clock = OffsetClock()
        self.world = World()
        self.url = ""
        #: the command-centre account a visitor signs in to the dashboard with (same password after a reset)
        self.demo_account = DemoAccount.generate()
        #: the dashboard's session key, new for every playground (nothing is written to the data directory)
        self.secret_key = secrets.token_bytes(32)
        self.dashboard = DashboardProxy(lambda: self.app.http_url if self.app is not None else None)
        self._runner: web.AppRunner | None = None
        self._lock = asyncio.Lock()
        self._failed: asyncio.Future[None] | None = None
        self._watchers: list[asyncio.Task[None]] = []
        self._wa_watchers: list[asyncio.Task[None]] = []
        self._closing = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Serve the page and the local Telegram, start the bot, build the world (groups linked)."""
        from .api import build_web_app

        self._failed = asyncio.get_running_loop().create_future()
        self._closing.clear()
        web_app = build_web_app(self)
        web_app.add_routes(self.dashboard.routes())
        web_app.add_subapp(f"{TELEGRAM_PREFIX}/", self.server.make_app())
        web_app.add_subapp(f"{TWILIO_PREFIX}/", self.twilio.make_app())
        web_app.add_subapp(f"{NOMINATIM_PREFIX}/", self.nominatim.make_app())
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
        self.twilio.base_url = f"{self.url}{TWILIO_PREFIX}"  # also the base of the media URLs it hands out
        self.nominatim.base_url = f"{self.url}{NOMINATIM_PREFIX}"
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
        self._stop_whatsapp_watchers()
        await self._stop_bot()
        await self.twilio.stop()  # status callbacks in flight, its HTTP client
        await self.nominatim.stop()  # wakes answers held back by an injected delay (it has no runner of its own)
        await self.dashboard.close()
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
            self._stop_whatsapp_watchers()
            await self._stop_bot()
            self.server.reset()  # publishes {"type": "reset"}
            reset_server(self.twilio)
            self.nominatim.reset()  # recorded requests and injected faults; the streets stay
            self.whatsapp_files.clear()
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

    async def add_whatsapp_citizen(self, name: str) -> WhatsAppCitizen:
        """A new WhatsApp user (the next free +62 812 number) who has not written to the bot yet.

        WhatsApp has no language setting the bot could read, so the bot starts in its default language.
        """
        name = name.strip()[:64]
        if not name:
            raise ValueError("name is required")
        async with self._lock:
            index = len(self.world.whatsapp) + 1
            while number_for(index) in self.twilio.users:
                index += 1
            citizen = WhatsAppCitizen(self.twilio.create_whatsapp_user(number_for(index), name))
            self.world.whatsapp.append(citizen)
            self._wa_watchers.append(asyncio.create_task(self._watch_whatsapp(citizen), name="playground-wa"))
        self.server.state.publish({"type": "world"})
        return citizen

    @property
    def webhook_url(self) -> str:
        """Where simulated WhatsApp citizens post their messages: the bot's own webhook server."""
        assert self.app is not None, "the bot is not running"
        return self.app.http_url + self.config.whatsapp.webhook_path

    async def send_whatsapp(self, citizen: WhatsAppCitizen, entry: WaEntry, body: str | None = None,
                            **kwargs: Any) -> WaEntry:
        """Post ``citizen``'s message to the bot's webhook, shown first as ``entry`` (status ``sending``).

        The entry is in the transcript *before* the webhook is posted: the bot may answer before the
        webhook's HTTP answer arrives, and the page must show the question above the answer.
        """
        entry.date = self.twilio.now()
        citizen.add(entry)
        self.publish_whatsapp(citizen, entry)
        try:
            delivery = await citizen.user.send(self.webhook_url, body, **kwargs)
        except (OSError, aiohttp.ClientError) as exc:  # the bot's webhook server is down (a reset in progress)
            entry.status, entry.error_message = "failed", str(exc)
        else:
            entry.sid = delivery.params.get("MessageSid")
            if entry.sid:
                citizen.by_sid[entry.sid] = entry
            ok = 200 <= delivery.status < 300
            entry.status = "sent" if ok else "failed"
            if not ok:
                entry.error_code, entry.error_message = delivery.status, delivery.text[:200]
        self.publish_whatsapp(citizen, entry)
        return entry

    def publish_whatsapp(self, citizen: WhatsAppCitizen, entry: WaEntry) -> None:
        """Tell the page's event streams about a new or changed WhatsApp bubble."""
        self.server.state.publish({"type": "wa_message", "chat_id": citizen.chat_id, "message": entry.to_dict(),
                                   "window": self.whatsapp_window(citizen)})

    def whatsapp_window(self, citizen: WhatsAppCitizen) -> dict[str, Any]:
        """The 24-hour customer-service window as the Twilio server judges it (hours left, None: never wrote)."""
        last = self.twilio.last_inbound.get(citizen.number)
        if last is None:
            return {"open": False, "hours_left": None}
        left = 24 - (self.twilio.now() - last) / 3600
        return {"open": left > 0, "hours_left": round(max(0.0, left), 1)}

    async def advance_whatsapp_clock(self, hours: float, *, database: bool = True) -> dict[str, Any]:
        """Demo control: let ``hours`` pass for WhatsApp's 24-hour window.

        The local Twilio's clock moves (it then refuses free-form messages with error 63016). The bot
        judges the window by each citizen's ``last_inbound_at`` in its database and by the real clock; with
        ``database`` those timestamps of every WhatsApp citizen move back by ``hours`` too, which to the bot
        is the same as ``hours`` having passed (it then holds status news until the citizen writes again).
        Without it the two disagree, which shows what Twilio does when a bot gets the window wrong.
        """
        from sqlalchemy import select

        from storage.models import Citizen as CitizenRow
        from storage.uow import UnitOfWork

        self.twilio.advance(hours)
        shifted = 0
        if database and self.app is not None and self.app.runtime is not None:
            async with UnitOfWork(self.app.runtime.sessionmaker) as uow:
                rows = (await uow.session.execute(
                    select(CitizenRow).where(CitizenRow.channel == "whatsapp",
                                             CitizenRow.last_inbound_at.is_not(None)))).scalars().all()
                for row in rows:
                    assert row.last_inbound_at is not None
                    row.last_inbound_at = row.last_inbound_at - timedelta(hours=hours)
                    shifted += 1
                await uow.commit()
        for citizen in self.world.whatsapp:
            note = WaEntry(id=next_entry_id(), from_bot=False, date=self.twilio.now(), kind="clock",
                           body=f"{hours:g}", status="database" if database else "twilio")
            citizen.add(note)
            self.publish_whatsapp(citizen, note)
        return {"hours": hours, "database": database, "citizens_shifted": shifted,
                "twilio_offset_hours": round((self.twilio.now() - time.time()) / 3600, 2)}

    def clock_state(self) -> dict[str, Any]:
        """The bot's time as the page shows it (``now`` ISO UTC, ``local`` in the city's zone, ``offset_hours``)."""
        return self.clock.state(self.config.city.timezone)

    async def advance_clock(self, hours: float) -> dict[str, Any]:
        """Demo control: ``hours`` pass for the bot, so its reminders, escalations and questions come due.

        The bot's own clock moves (everything it schedules is judged by it); the local Twilio's clock moves
        by as much, so WhatsApp's 24-hour window closes for both alike (the bot judges it by its clock and
        the citizen's last message time, Twilio by its own clock). Then the bot's loops that wait for time
        look at once instead of at their next poll. Raises ``ValueError`` for a step out of range.
        """
        self.clock.advance(hours)
        self.twilio.advance(hours)
        if self.app is not None:
            self.app.wake_timers()
        for citizen in self.world.whatsapp:
            note = WaEntry(id=next_entry_id(), from_bot=False, date=self.twilio.now(), kind="clock",
                           body=f"{hours:g}", status="bot")
            citizen.add(note)
            self.publish_whatsapp(citizen, note)
        state = self.clock_state()
        self.server.state.publish({"type": "clock", **state})
        return state

    async def _watch_whatsapp(self, citizen: WhatsAppCitizen) -> None:
        """Follow the bot's messages to ``citizen`` on the Twilio server (new ones, status changes)."""
        while not self._closing.is_set():
            for record in await wait_for_changes(self.twilio, citizen.number, citizen.seen):
                self.publish_whatsapp(citizen, citizen.apply(record))

    def _stop_whatsapp_watchers(self) -> None:
        for task in self._wa_watchers:
            task.cancel()
        self._wa_watchers.clear()

    async def _start_world(self) -> None:
        self.world = World()
        self.clock.reset()  # a fresh database: the bot starts at real time again
        await wipe_database(self.database_url)
        http_port = _free_port()
        twilio = TwilioSettings(account_sid=self.twilio.account_sid, auth_token=self.twilio.auth_token,
                                whatsapp_from=self.twilio.whatsapp_from, api_base=self.twilio.base_url,
                                public_url=f"http://127.0.0.1:{http_port}")  # signatures are checked against it
        app = SikesalApp(
            self.config,
            database_url=self.database_url,
            media_dir=self.media_dir,
            token=TOKEN,
            api_base=self.server.base_url,
            clock=self.clock,
            polling_timeout=self.polling_timeout,
            rate_limits=self.rate_limits,
            twilio=twilio,
            http_host="127.0.0.1",
            http_port=http_port,
            geocoder=self.geocoder_settings(),
            secret_key=self.secret_key,
            trusted_proxies=("127.0.0.1",),  # the page's server passes the dashboard through (X-Forwarded-For)
        )
        self.app = app
        try:
            await app.start()
        except BaseException:
            await app.stop()
            self.app = None
            raise
        self._watchers.append(asyncio.create_task(self._watch(app), name="playground-watch"))
        await create_demo_account(app, self.demo_account)
        self.world.citizens.append(Citizen(self.server.create_user(DEFAULT_CITIZEN, language_code="id")))
        for index, (agency, agency_config) in enumerate(self.config.agencies.items()):
            names = STAFF_NAMES[index % len(STAFF_NAMES)]
            short = agency_config.short or agency.upper()
            staff = [self.server.create_user(f"{name} ({short})", language_code="id") for name in names]
            title = f"Laporan {short}"
            chat = self.server.create_group(title, staff, admins=staff[:1], bot_admin=True)  # as the README asks
            self.world.groups.append(AgencyGroup(agency=agency, chat_id=chat.id, title=title, short=short,
                                                 names=dict(agency_config.name), staff=staff))
        self.server.state.publish({"type": "world"})
        await asyncio.gather(*(self._link(group) for group in self.world.groups))
        self.world.ready = True
        self.server.state.publish({"type": "world"})

    def geocoder_settings(self) -> GeocoderSettings:
        """The bot's geocoder: the local Nominatim, politely paced, searches bounded to Kota Jambi."""
        return GeocoderSettings.from_url(self.nominatim.base_url, user_agent=GEOCODER_USER_AGENT,
                                         min_delay_seconds=0.2, timeout=2.0, viewbox=KOTA_JAMBI_VIEWBOX)

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


def _free_port() -> int:
    """A free local port for the bot's webhook server (a tiny race with other programs is acceptable here)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
    dashboard: Callable[[str, DemoAccount], None] | None = None,
) -> None:
    """Run the playground until ``stop`` is set (or the task is cancelled, e.g. Ctrl+C).

    ``ready(url)`` is called once the page is served and every agency group is linked; then
    ``dashboard(url, account)`` with the dashboard's address and the demo command-centre account.
    Raises :class:`PlaygroundError` when the port is taken, and the bot's error if it crashes.
    """
    playground = Playground(config, database_url=database_url, media_dir=media_dir, host=host, port=port)
    await playground.start()
    try:
        if ready is not None:
            ready(playground.url)
        if dashboard is not None:
            dashboard(playground.url + playground.demo_account.path, playground.demo_account)
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
