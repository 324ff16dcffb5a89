"""Composition root: database, runtime, Telegram bot, delivery loops, draft sweeper, and (when Twilio is
configured) the WhatsApp webhooks, inbox and sender.

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
from datetime import datetime
from pathlib import Path

import aiohttp
from aiogram import Bot
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.config import AppConfig, TwilioSettings
from bot.delivery.loop import FifoWorkLoop
from bot.delivery.ratelimit import RateLimits
from bot.delivery.telegram import TelegramSender
from bot.delivery.whatsapp import WhatsAppSender
from bot.services.drafts import run_draft_sweeper
from bot.services.receipts import record_notice_outcome
from bot.services.runtime import Runtime
from bot.telegram.client import create_bot
from bot.telegram.dispatcher import build_dispatcher, register_commands
from bot.whatsapp.inbox import InboxWorker
from bot.whatsapp.translate import MediaFetcher
from bot.whatsapp.webhook import TwilioWebhooks
from routing.geocode import Geocoder, GeocoderSettings
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.media import MediaStore

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
        self.http_app.router.add_get("/healthz", _healthz)
        self.geocoder_settings = geocoder
        self.geocoder: Geocoder | None = None
        self.whatsapp_sender: WhatsAppSender | None = None
        self.inbox: InboxWorker | None = None
        self.webhooks: TwilioWebhooks | None = None
        self._runner: web.AppRunner | None = None
        self._twilio_http: AsyncTwilioHttpClient | None = None
        self._http_session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self.engine = engine = make_engine(self.database_url)
        await upgrade_database(engine)
        sessionmaker = make_sessionmaker(engine)
        media = MediaStore(self.media_dir)
        runtime = Runtime(config=self.config, sessionmaker=sessionmaker, media=media)
        if self.clock is not None:
            runtime.clock = self.clock
        if self.geocoder_settings is not None:
            self.geocoder = runtime.geocoder = Geocoder(self.geocoder_settings)
        self.runtime = runtime
        bot = create_bot(self.token, self.api_base)
        self.bot = bot
        me = await bot.get_me()
        log.info("connected as @%s", me.username)
        await register_commands(bot, runtime)
        self.sender = TelegramSender(
            bot, sessionmaker, media, limits=self.rate_limits, clock=runtime.clock,
            on_notice_outcome=functools.partial(record_notice_outcome, runtime),
        )
        loops: list[FifoWorkLoop] = [self.sender]
        if self.twilio is not None:
            loops.extend(self._whatsapp(runtime, self.twilio))

        def wake_all() -> None:
            for loop in loops:
                loop.wake()

        runtime.on_enqueued = wake_all
        self.dispatcher = build_dispatcher(runtime)
        if self.telegram_webhook:
            path = self.config.telegram.webhook_path
            SimpleRequestHandler(
                dispatcher=self.dispatcher, bot=bot, secret_token=self.telegram_webhook_secret,
                handle_in_background=False,  # answer after the commit: Telegram redelivers what failed
            ).register(self.http_app, path=path)
        if self.telegram_webhook or self.twilio is not None:
            await self._serve_http()
        if self.telegram_webhook:
            await bot.set_webhook(
                f"{self.public_url}{self.config.telegram.webhook_path}",
                secret_token=self.telegram_webhook_secret,
                allowed_updates=self.dispatcher.resolve_used_update_types(),
                drop_pending_updates=False,
            )
            log.info("Telegram updates by webhook at %s%s", self.public_url, self.config.telegram.webhook_path)
            telegram_task = asyncio.create_task(self._until_stopped(), name="telegram-webhook")
        else:
            await bot.delete_webhook(drop_pending_updates=False)
            telegram_task = asyncio.create_task(self._poll(bot), name="telegram-polling")
        self._tasks = [
            telegram_task,
            *(asyncio.create_task(loop.run(self._stop), name=loop.name) for loop in loops),
            asyncio.create_task(run_draft_sweeper(runtime, self._stop, interval=self.sweep_interval), name="drafts"),
        ]

    async def _until_stopped(self) -> None:
        """Webhook mode has no polling task: the web server works until the app stops."""
        await self._stop.wait()

    async def _serve_http(self) -> None:
        """The one web server for every webhook (Telegram's, Twilio's) and /healthz."""
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
        self.inbox = InboxWorker(runtime, fetcher, clock=runtime.clock)
        status_callback = f"{twilio.public_url}{settings.status_path}" if twilio.public_url else None
        if status_callback is None:
            log.warning("SIKESAL_PUBLIC_URL is not set: no delivery receipts from Twilio, and webhook signatures"
                        " are checked against the URL this process sees (wrong behind a reverse proxy)")
        self.whatsapp_sender = WhatsAppSender(
            runtime, client, twilio, settings, status_callback=status_callback, clock=runtime.clock
        )
        self.webhooks = TwilioWebhooks(runtime, twilio, on_stored=self.inbox.wake)
        self.http_app.add_routes(self.webhooks.routes(settings.webhook_path, settings.status_path))
        log.info("WhatsApp webhooks at %s (status callbacks at %s)", settings.webhook_path, settings.status_path)
        return [self.inbox, self.whatsapp_sender]

    @property
    def http_url(self) -> str:
        """The webhook server's local base URL (what a local Twilio server posts to)."""
        return f"http://{self.http_host}:{self.http_port}"

    async def _poll(self, bot: Bot) -> None:
        await self.dispatcher.start_polling(
            bot,
            handle_signals=False,
            close_bot_session=False,
            polling_timeout=self.polling_timeout,
            allowed_updates=self.dispatcher.resolve_used_update_types(),
        )

    async def stop(self) -> None:
        """Stop everything that was started (safe after a failed ``start``)."""
        self._stop.set()
        if self._tasks and not self.telegram_webhook:
            with contextlib.suppress(RuntimeError):  # polling not started yet
                await self.dispatcher.stop_polling()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=15)
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


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})
