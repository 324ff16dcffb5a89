"""Composition root: database, runtime, Telegram bot, the Telegram intake (long polling or webhook into
the inbox), the inbox and delivery loops, draft sweeper, the scheduler (timers), the web server (webhooks,
/healthz, /readyz), the metrics server, and (when Twilio is configured) the WhatsApp webhooks, inbox and sender.

``SikesalApp`` is what ``sikesal run`` starts and what the end-to-end tests and the benchmark
start in-process against the local Bot API server, so tests run the real wiring.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiogram import Bot
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.config import AppConfig, TwilioSettings
from bot.delivery.group_flood import GroupFloodHook
from bot.delivery.loop import FifoWorkLoop
from bot.delivery.ratelimit import RateLimits
from bot.delivery.shared_limits import SharedRateLimiter
from bot.delivery.telegram import TelegramSender
from bot.delivery.whatsapp import WhatsAppSender
from bot.export_links import ExportLinks, ExportServer
from bot.media_links import MediaLinks, MediaServer
from bot.media_links import secret_for as media_secret_for
from bot.ops.health import Health, Ticking
from bot.ops.metrics import Metrics, MetricsServer
from bot.services.drafts import run_draft_sweeper
from bot.services.group_flood import refresh_group
from bot.services.receipts import record_notice_outcome
from bot.services.reroute import group_unreachable, render_card_now
from bot.services.rights import build_for_link
from bot.services.runtime import Runtime
from bot.services.scheduler import Scheduler
from bot.services.staff_tools import render_edit_now
from bot.telegram.client import create_bot
from bot.telegram.dispatcher import build_dispatcher, register_commands
from bot.telegram.intake import TelegramInbox, TelegramPoller, TelegramWebhook, allowed_updates
from bot.web import setup_web
from bot.web.context import WebContext
from bot.web.secret import load_or_create
from bot.whatsapp.inbox import InboxWorker
from bot.whatsapp.translate import MediaFetcher
from bot.whatsapp.webhook import TwilioWebhooks
from routing.geocode import Geocoder, GeocoderSettings
from storage import leases
from storage.db import SingleProcessLock, make_engine, make_sessionmaker, upgrade_database
from storage.media import MediaStore
from storage.models import InboundMessage, OutboxMessage

log = logging.getLogger("sikesal.app")

#: twilio's http client logs every request at INFO; ours say what matters
_TWILIO_HTTP_LOG = logging.getLogger("sikesal.twilio.http")
_TWILIO_HTTP_LOG.setLevel(logging.WARNING)


class SikesalApp:
    """Everything one bot process runs, started and stopped together."""

    def __init__(
        self,
        config: AppConfig,
        *,
        database_url: str,
        media_dir: Path,
        token: str,
        api_base: str | None = None,
        clock: Callable[[], datetime] | None = None,
        sweep_interval: float = 60.0,
        polling_timeout: int = 10,
        rate_limits: RateLimits | None = None,
        twilio: TwilioSettings | None = None,
        http_host: str = "127.0.0.1",
        http_port: int = 8080,
        telegram_webhook: bool = False,
        public_url: str | None = None,
        telegram_webhook_secret: str | None = None,
        geocoder: GeocoderSettings | None = None,
        metrics_host: str = "127.0.0.1",
        metrics_port: int | None = None,
        lease_ttl: float = 30.0,
        scheduler_poll: float = 2.0,
        redis_url: str | None = None,
        media_secret: str | None = None,
        secret_key: bytes | None = None,
        trusted_proxies: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.database_url = database_url
        self.media_dir = media_dir
        self.token = token
        self.api_base = api_base
        self.clock = clock
        self.sweep_interval = sweep_interval
        self.polling_timeout = polling_timeout
        self.rate_limits = rate_limits or RateLimits(
            global_per_second=config.delivery.global_per_second,
            private_per_second=config.delivery.private_per_second,
            group_per_minute=config.delivery.group_per_minute,
        )
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.bot: Bot | None = None
        self.runtime: Runtime | None = None
        self.sender: TelegramSender | None = None
        self.engine: AsyncEngine | None = None
        self.twilio = twilio
        self.http_host = http_host
        #: the port the webhook server listens on (the real one once started, when 0 was asked for)
        self.http_port = http_port
        #: Telegram posts updates to ``public_url + telegram.webhook_path`` instead of being polled
        self.telegram_webhook = telegram_webhook
        self.public_url = public_url.rstrip("/") if public_url else None
        self.telegram_webhook_secret = telegram_webhook_secret or webhook_secret_for(token)
        if telegram_webhook and not self.public_url:
            raise ValueError("the Telegram webhook needs SIKESAL_PUBLIC_URL (the https address Telegram posts to)")
        self.http_app = web.Application(client_max_size=256 * 1024)  # Twilio forms and Telegram updates are small
        #: Prometheus metrics of this process, served on their own address (None: no metrics server)
        self.metrics = Metrics()
        self.metrics_host = metrics_host
        self.metrics_port = metrics_port
        self.metrics_server: MetricsServer | None = None
        #: several processes may share a PostgreSQL database: rows are then claimed under this name
        self.lease_owner: str | None = None
        self.lease_ttl = lease_ttl
        #: the scheduler looks at timers at least this often (seconds) and sooner when one is due
        self.scheduler_poll = scheduler_poll
        self.scheduler: Scheduler | None = None
        self._single_process: SingleProcessLock | None = None
        #: Telegram's limits counted once for the bot in Redis (``SIKESAL_REDIS_URL``), else per process
        self.redis_url = redis_url
        self.shared_limiter: SharedRateLimiter | None = None
        self.poller: TelegramPoller | None = None
        self.telegram_inbox: TelegramInbox | None = None
        self.telegram_webhook_handler: TelegramWebhook | None = None
        self.geocoder_settings = geocoder
        self.geocoder: Geocoder | None = None
        self.whatsapp_sender: WhatsAppSender | None = None
        self.inbox: InboxWorker | None = None
        self.webhooks: TwilioWebhooks | None = None
        self._runner: web.AppRunner | None = None
        self._twilio_http: AsyncTwilioHttpClient | None = None
        self._http_session: aiohttp.ClientSession | None = None
        #: signs the expiring links under which stored photos are served (``/media/...``); the secret
        #: is ``SIKESAL_MEDIA_SECRET`` or derived from the bot token, the same in every process
        self.media_secret = media_secret.encode() if media_secret else media_secret_for(token)
        self.media_links: MediaLinks | None = None
        #: the dashboard's session key (``SIKESAL_SECRET_KEY``); None: kept in the data directory (one process)
        self.secret_key = secret_key
        #: reverse proxies whose X-Forwarded-For the dashboard believes (its login throttle counts addresses)
        self.trusted_proxies = trusted_proxies
        #: what looks at due reminders and timers: :meth:`wake_timers` calls each (a loop adds its own)
        self._drafts_wake = asyncio.Event()
        self.timer_wakers: list[Callable[[], None]] = [self._drafts_wake.set]

    async def start(self) -> None:
        self.engine = engine = make_engine(self.database_url)
        await self._claim_database(engine)
        await upgrade_database(engine)
        sessionmaker = make_sessionmaker(engine)
        if self.lease_owner is None:
            await _release_leases(sessionmaker)  # this process alone: rows a killed predecessor held are free
        media = MediaStore(self.media_dir)
        runtime = Runtime(config=self.config, sessionmaker=sessionmaker, media=media, secret=self.media_secret)
        if self.clock is not None:
            runtime.clock = self.clock
        if self.geocoder_settings is not None:
            self.geocoder = runtime.geocoder = Geocoder(self.geocoder_settings)
        self.runtime = runtime
        # the deployment's public address; the WhatsApp settings carry the same one (the playground sets only those)
        public_url = self.public_url or (self.twilio.public_url if self.twilio is not None else None)
        self.media_links = MediaLinks(
            self.media_secret, public_url=public_url,
            ttl=timedelta(minutes=self.config.media_links.ttl_minutes), clock=runtime.clock,
        )
        self.http_app.add_routes(MediaServer(self.media_links, sessionmaker, media).routes())
        # /dataku on WhatsApp: a signed link to the citizen's JSON, built when opened (bot.export_links)
        runtime.exports = ExportLinks.from_media_secret(
            self.media_secret, public_url=public_url,
            ttl=timedelta(minutes=self.config.media_links.ttl_minutes), clock=runtime.clock,
        )
        self.http_app.add_routes(
            ExportServer(runtime.exports, functools.partial(build_for_link, runtime)).routes()
        )
        # the command centre's dashboard and Open311 (bot.web, bot.open311)
        secret_key = self.secret_key or load_or_create(self.media_dir.parent)
        setup_web(self.http_app, WebContext(
            runtime, secret_key=secret_key, trusted_proxies=self.trusted_proxies, public_url=public_url,
        ))
        bot = create_bot(self.token, self.api_base)
        self.bot = bot
        me = await bot.get_me()
        log.info("connected as @%s", me.username)
        await register_commands(bot, runtime)
        if self.redis_url:
            # the namespace is the bot's id (public), never the token: several bots may share one Redis
            self.shared_limiter = SharedRateLimiter.from_url(
                self.redis_url, self.rate_limits, namespace=f"bot{me.id}"
            )
        self.sender = TelegramSender(
            bot, sessionmaker, media, limits=self.rate_limits, clock=runtime.clock,
            on_notice_outcome=functools.partial(record_notice_outcome, runtime), lease_owner=self.lease_owner,
            render_card=functools.partial(render_card_now, runtime),
            render_edit=functools.partial(render_edit_now, runtime),
            on_group_unreachable=functools.partial(_group_unreachable, runtime),
            shared_limiter=self.shared_limiter, **self._retry_settings(),
        )
        self.sender.metrics = self.metrics
        # floods in agency groups: digests and cards on demand ahead of the queued cards (issue 14)
        self.sender.group_flood = GroupFloodHook(functools.partial(refresh_group, runtime, self.rate_limits))
        self.dispatcher = build_dispatcher(runtime)
        self.telegram_inbox = TelegramInbox(
            runtime, bot, self.dispatcher, clock=runtime.clock, lease_owner=self.lease_owner,
            on_update=functools.partial(self.metrics.update_in, "telegram"),
        )
        loops: list[FifoWorkLoop] = [self.telegram_inbox, self.sender]
        if self.twilio is not None:
            loops.extend(self._whatsapp(runtime, self.twilio))

        def wake_all() -> None:
            for loop in loops:
                loop.wake()

        runtime.on_enqueued = wake_all
        allowed = allowed_updates(self.dispatcher)
        ticking: list[Ticking] = [*loops]
        if self.telegram_webhook:
            self.telegram_webhook_handler = TelegramWebhook(
                runtime, self.telegram_webhook_secret, on_stored=self.telegram_inbox.wake
            )
            self.http_app.router.add_post(self.config.telegram.webhook_path, self.telegram_webhook_handler.handle)
        else:
            self.poller = TelegramPoller(
                runtime, bot, allowed=allowed, timeout=self.polling_timeout, on_stored=self.telegram_inbox.wake,
                lease_owner=self.lease_owner, lease_ttl=self.lease_ttl,
            )
            ticking.append(self.poller)
        self.health = Health(sessionmaker, ticking)
        self.http_app.add_routes(self.health.routes())
        await self._serve_http()
        if self.metrics_port is not None:
            self.metrics_server = MetricsServer(
                self.metrics, host=self.metrics_host, port=self.metrics_port, sessionmaker=sessionmaker,
            )
            await self.metrics_server.start()
        if self.telegram_webhook:
            await bot.set_webhook(
                f"{self.public_url}{self.config.telegram.webhook_path}",
                secret_token=self.telegram_webhook_secret,
                allowed_updates=allowed,
                drop_pending_updates=False,
            )
            log.info("Telegram updates by webhook at %s%s", self.public_url, self.config.telegram.webhook_path)
            telegram_task = asyncio.create_task(self._until_stopped(), name="telegram-webhook")
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            assert self.poller is not None
            telegram_task = asyncio.create_task(self.poller.run(self._stop), name="telegram-polling")
        # one scheduler fires timers: the lease holder on PostgreSQL, this process alone on SQLite
        self.scheduler = Scheduler(runtime, owner=self.lease_owner, lease_ttl=self.lease_ttl, poll=self.scheduler_poll)
        self.scheduler.metrics = self.metrics
        self.timer_wakers.append(self.scheduler.wake)
        ticking.append(self.scheduler)  # /readyz: a scheduler that stopped looking is a stalled loop
        self._tasks = [
            telegram_task,
            *(asyncio.create_task(loop.run(self._stop), name=loop.name) for loop in loops),
            asyncio.create_task(run_draft_sweeper(runtime, self._stop, interval=self.sweep_interval,
                                                  wake=self._drafts_wake), name="drafts"),
            asyncio.create_task(self.scheduler.run(self._stop), name="scheduler"),
        ]

    def _retry_settings(self) -> dict[str, Any]:
        """How long and how often the senders retry transient failures (``delivery`` in config.yaml)."""
        delivery = self.config.delivery
        return {
            "retry_for": timedelta(hours=delivery.retry_hours),
            "backoff_base": delivery.backoff_base_seconds,
            "backoff_cap": delivery.backoff_cap_seconds,
        }

    async def _claim_database(self, engine: AsyncEngine) -> None:
        """SQLite: this process alone (a second one is refused with a clear message). PostgreSQL: rows are
        claimed under a name of this process, so several processes can share the database."""
        if engine.dialect.name == "sqlite":
            self._single_process = SingleProcessLock.for_url(self.database_url)
            if self._single_process is not None:
                self._single_process.acquire()
            self.lease_owner = None
        else:
            self.lease_owner = leases.process_owner(self.http_port)

    async def _until_stopped(self) -> None:
        """Webhook mode has no polling task: the web server works until the app stops."""
        await self._stop.wait()

    async def _serve_http(self) -> None:
        """The one web server for every webhook (Telegram's, Twilio's), /healthz and /readyz."""
        self._runner = web.AppRunner(self.http_app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.http_host, self.http_port)
        await site.start()
        sockets = self._runner.addresses
        if sockets:
            self.http_port = int(sockets[0][1])
        log.info("web server on %s:%s", self.http_host, self.http_port)

    def _whatsapp(self, runtime: Runtime, twilio: TwilioSettings) -> list[FifoWorkLoop]:
        """The Twilio client, the webhook routes, the inbox worker and the WhatsApp sender."""
        settings = self.config.whatsapp
        self._twilio_http = AsyncTwilioHttpClient(timeout=15, logger=_TWILIO_HTTP_LOG)
        client = Client(twilio.account_sid, twilio.auth_token, http_client=self._twilio_http)
        if twilio.api_base:
            client.api.base_url = twilio.api_base
        self._http_session = aiohttp.ClientSession()
        fetcher = MediaFetcher(self._http_session, twilio.account_sid, twilio.auth_token, twilio.api_base)
        self.inbox = InboxWorker(runtime, fetcher, clock=runtime.clock, lease_owner=self.lease_owner)
        status_callback = f"{twilio.public_url}{settings.status_path}" if twilio.public_url else None
        if status_callback is None:
            log.warning("SIKESAL_PUBLIC_URL is not set: no delivery receipts from Twilio, and webhook signatures"
                        " are checked against the URL this process sees (wrong behind a reverse proxy)")
        self.whatsapp_sender = WhatsAppSender(
            runtime, client, twilio, settings, status_callback=status_callback, clock=runtime.clock,
            lease_owner=self.lease_owner, media_links=self.media_links, **self._retry_settings(),
        )
        self.whatsapp_sender.metrics = self.metrics
        inbox = self.inbox

        def stored() -> None:
            self.metrics.update_in("whatsapp")
            inbox.wake()

        self.webhooks = TwilioWebhooks(runtime, twilio, on_stored=stored)
        self.http_app.add_routes(self.webhooks.routes(settings.webhook_path, settings.status_path))
        log.info("WhatsApp webhooks at %s (status callbacks at %s)", settings.webhook_path, settings.status_path)
        return [self.inbox, self.whatsapp_sender]

    def wake_timers(self) -> None:
        """Look at due reminders and timers now instead of at the next poll: the clock jumped forward
        (the playground's ⏩ control moves an injected clock; tests may too)."""
        for wake in self.timer_wakers:
            wake()
        if self.runtime is not None:
            self.runtime.on_enqueued()  # the senders too: retries waiting for a later time may be due now

    @property
    def http_url(self) -> str:
        """The webhook server's local base URL (what a local Twilio server posts to)."""
        return f"http://{self.http_host}:{self.http_port}"

    async def stop(self) -> None:
        """Stop everything that was started (safe after a failed ``start``)."""
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=15)
        if self.poller is not None:
            await self.poller.release()
        if self.metrics_server is not None:
            await self.metrics_server.stop()
        if self.shared_limiter is not None:
            await self.shared_limiter.close()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._twilio_http is not None:
            await self._twilio_http.close()
        if self.geocoder is not None:
            await self.geocoder.close()
        if self._http_session is not None:
            await self._http_session.close()
        if self.bot is not None:
            await self.bot.session.close()
        if self.engine is not None:
            await self.engine.dispose()
        if self._single_process is not None:
            self._single_process.release()

    async def wait(self) -> None:
        """Run until a task ends (a crash surfaces here) or ``stop()`` is called."""
        done, _ = await asyncio.wait(self._tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def __aenter__(self) -> SikesalApp:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def webhook_secret_for(token: str) -> str:
    """A stable secret for Telegram's ``X-Telegram-Bot-Api-Secret-Token`` derived from the bot token, so a
    restart keeps accepting updates already on their way, and nobody without the token can forge one."""
    return hashlib.sha256(f"sikesal-webhook:{token}".encode()).hexdigest()


async def _group_unreachable(rt: Runtime, chat_id: int, reason: str, card_id: int | None) -> None:
    await group_unreachable(rt, chat_id=chat_id, reason=reason, card_id=card_id)


async def _release_leases(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as session, session.begin():
        for model in (OutboxMessage, InboundMessage):
            await leases.release_all(session, model)
