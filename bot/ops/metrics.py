"""Prometheus metrics for one SiKesal process, and the small web server that exposes them.

Why prometheus-client: it is the reference implementation of the exposition format (text and
OpenMetrics, content negotiation included) and brings the standard process metrics (CPU, memory, open
files) for free; writing the format by hand would be a second, untested copy of it.

Every :class:`Metrics` owns its own ``CollectorRegistry`` instead of the library's global one, so tests
and several apps in one process (the playground, the e2e tests) never clash over metric names.

The hot path only touches counters (``metrics.update_in("telegram")``, ``metrics.message_out("telegram",
"sent")``): a dictionary lookup and a locked add, no I/O. The queue gauges (outbox depth and oldest age,
inbox depth) are read from the database at scrape time by :meth:`Metrics.refresh`, in two grouped queries
on the pending rows only, bounded by a short timeout so a stuck database never hangs a scrape.

The server listens on its own address (``SIKESAL_METRICS_HOST``:``SIKESAL_METRICS_PORT``, localhost by
default), never on the public webhook server: the reverse proxy does not see it. Each process has its own;
Prometheus scrapes all of them (see docs/deploy/prometheus.yml).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.exposition import choose_encoder
from sqlalchemy import func, select

from storage.models import InboundMessage, OutboxMessage, utcnow

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

log = logging.getLogger("sikesal.metrics")

#: channels whose series exist from the start (at 0), so a dashboard shows them before the first message
CHANNELS = ("telegram", "whatsapp")

#: outcomes of one delivery attempt (see :meth:`Metrics.message_out`)
SENT = "sent"
FAILED = "failed"
RETRY = "retry"
FLOOD = "flood"
RESULTS = (SENT, FAILED, RETRY, FLOOD)

#: the scheduler's timer kinds (bot.services.scheduler), whose ``error`` series exist from the start
TIMER_KINDS = ("accept", "resolve_soon", "overdue", "escalate", "digest", "confirm_close")

#: a scrape waits at most this long for the queue gauges; then it serves the last known values
REFRESH_TIMEOUT = 2.0


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


class Metrics:
    """The metrics of one process. Cheap to call from anywhere; see the module docstring."""

    def __init__(self, *, channels: Iterable[str] = CHANNELS, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_metrics:
            # process_* (CPU, memory, file descriptors), python_info, python_gc_*: on this registry only
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        r = self.registry
        self.updates_in = Counter(
            "sikesal_updates_in", "Inbound updates accepted (Telegram updates, WhatsApp webhooks)",
            ["channel"], registry=r,
        )
        self.messages_out = Counter(
            "sikesal_messages_out", "Delivery attempts of outbox messages by outcome"
            " (sent; retry: transient error, tried again later; flood: 429, waiting retry_after;"
            " failed: given up for good)",
            ["channel", "result"], registry=r,
        )
        self.rate_limited_total = Counter(
            "sikesal_rate_limited", "429 Too Many Requests answers from the channel's API", ["channel"], registry=r,
        )
        self.retries = Counter(
            "sikesal_retries", "Outbox messages scheduled for another attempt (transient errors and 429s)",
            ["channel"], registry=r,
        )
        self.failed_for_good_total = Counter(
            "sikesal_failed_for_good", "Outbox messages given up for good (status failed)", ["channel"], registry=r,
        )
        self.outbox_depth = Gauge(
            "sikesal_outbox_depth", "Pending outbox messages (due or waiting for a retry), whole database",
            ["channel"], registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "sikesal_outbox_oldest_age_seconds", "Age of the oldest pending outbox message (0 when none)",
            ["channel"], registry=r,
        )
        self.inbox_depth = Gauge(
            "sikesal_inbox_depth", "Pending inbound messages not processed yet, whole database", ["channel"], registry=r,
        )
        self.timers_fired = Counter(
            "sikesal_timers_fired", "Timers the scheduler handled, by kind (accept, resolve_soon, overdue, escalate,"
            " digest, confirm_close) and outcome (reminded, folded, no_card, stale, deferred, done, missing, error)",
            ["kind", "outcome"], registry=r,
        )
        for kind in TIMER_KINDS:  # at 0 from the start, so the "given up" alert works from the first scrape
            self.timers_fired.labels(kind, "error")
        self.scheduler_leader = Gauge(
            "sikesal_scheduler_leader", "1 while this process holds the scheduler's lease (one process fires timers)",
            registry=r,
        )
        self.refresh_failures = Counter(
            "sikesal_metrics_refresh_failures", "Scrapes whose queue gauges could not be read in time", registry=r,
        )
        self.last_refresh = Gauge(
            "sikesal_metrics_last_refresh_timestamp_seconds", "When the queue gauges were last read", registry=r,
        )
        #: channels that have queue gauges: a channel whose queue emptied is set back to 0, not left stale
        self._gauge_channels: set[str] = set()
        for channel in channels:
            self._touch(channel)

    def _touch(self, channel: str) -> None:
        """Create every series of ``channel`` at 0, so rates and alerts work from the first scrape."""
        self.updates_in.labels(channel)
        for result in RESULTS:
            self.messages_out.labels(channel, result)
        self.rate_limited_total.labels(channel)
        self.retries.labels(channel)
        self.failed_for_good_total.labels(channel)
        self._gauge_channels.add(channel)
        self.outbox_depth.labels(channel)
        self.outbox_oldest_age.labels(channel)
        self.inbox_depth.labels(channel)

    # ------------------------------------------------------------------ the hot path

    def update_in(self, channel: str) -> None:
        """One inbound update was accepted (stored or handled) on ``channel``."""
        self.updates_in.labels(channel).inc()

    def message_out(self, channel: str, result: str) -> None:
        """The outcome of one delivery attempt of an outbox row.

        ``sent``: the channel accepted it. ``retry``: a transient error, tried again later (also counts
        ``sikesal_retries_total``). ``flood``: a 429, waiting ``retry_after`` (also counts
        ``sikesal_rate_limited_total`` and ``sikesal_retries_total``). ``failed``: given up for good (also
        counts ``sikesal_failed_for_good_total``). One call per outcome: do not also call the others.
        """
        if result not in RESULTS:
            raise ValueError(f"unknown delivery result {result!r} (one of {', '.join(RESULTS)})")
        self.messages_out.labels(channel, result).inc()
        if result == RETRY:
            self.retries.labels(channel).inc()
        elif result == FLOOD:
            self.rate_limited_total.labels(channel).inc()
            self.retries.labels(channel).inc()
        elif result == FAILED:
            self.failed_for_good_total.labels(channel).inc()

    def rate_limited(self, channel: str) -> None:
        """A 429 outside the outbox (answerCallbackQuery, getFile, a media download). A 429 on an outbox
        send is counted by ``message_out(channel, "flood")`` already."""
        self.rate_limited_total.labels(channel).inc()

    # ------------------------------------------------------------------ the queue gauges

    async def refresh(self, sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime | None = None) -> None:
        """Set the outbox and inbox gauges from the database (two grouped queries on pending rows)."""
        async with sessionmaker() as session:
            outbox = (
                await session.execute(
                    select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.created_at))
                    .where(OutboxMessage.status == "pending")
                    .group_by(OutboxMessage.channel)
                )
            ).all()
            inbox = (
                await session.execute(
                    select(InboundMessage.channel, func.count())
                    .where(InboundMessage.status == "pending")
                    .group_by(InboundMessage.channel)
                )
            ).all()
        at = now or utcnow()
        depth: dict[str, float] = {}
        age: dict[str, float] = {}
        for channel, count, oldest in outbox:
            depth[str(channel)] = float(count)
            age[str(channel)] = max(0.0, (at - _as_utc(oldest)).total_seconds()) if oldest is not None else 0.0
        waiting = {str(channel): float(count) for channel, count in inbox}
        for channel in set(depth) | set(waiting):
            if channel not in self._gauge_channels:
                self._touch(channel)
        for channel in self._gauge_channels:
            self.outbox_depth.labels(channel).set(depth.get(channel, 0.0))
            self.outbox_oldest_age.labels(channel).set(age.get(channel, 0.0))
            self.inbox_depth.labels(channel).set(waiting.get(channel, 0.0))
        self.last_refresh.set(time.time())

    # ------------------------------------------------------------------ exposition

    def exposition(self, accept: str | None = None) -> tuple[bytes, str]:
        """The registry in the format the scraper asked for (``Accept``): ``(body, content type)``."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


class MetricsPortError(OSError):
    """The metrics server cannot listen (the port is taken, the host is not ours); the message says what to set."""


class MetricsServer:
    """``GET /metrics`` (and any extra routes, e.g. the health checks) on its own address.

    ``port=0`` picks a free port; :attr:`port` is the real one after :meth:`start`. With a
    ``sessionmaker`` every scrape first refreshes the queue gauges, waiting at most ``refresh_timeout``
    seconds (then the last known values are served and ``sikesal_metrics_refresh_failures_total`` grows).
    """

    def __init__(
        self,
        metrics: Metrics,
        *,
        host: str = "127.0.0.1",
        port: int = 9464,
        sessionmaker: async_sessionmaker[AsyncSession] | None = None,
        refresh_timeout: float = REFRESH_TIMEOUT,
        routes: Iterable[web.AbstractRouteDef] = (),
    ) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.sessionmaker = sessionmaker
        self.refresh_timeout = refresh_timeout
        self.app = web.Application()
        self.app.router.add_get("/metrics", self._metrics)
        self.app.add_routes(list(routes))
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """``http://host:port`` (the real port once started)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen; raises :class:`MetricsPortError` (an ``OSError``) when the address cannot be served."""
        runner = web.AppRunner(self.app, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise MetricsPortError(
                f"Cannot serve metrics on {self.host}:{self.port}: {exc.strerror or exc}."
                " Set SIKESAL_METRICS_PORT to a free port (or off) and SIKESAL_METRICS_HOST to an address of this host."
            ) from exc
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        if runner.addresses:
            self.port = int(runner.addresses[0][1])
        log.info("metrics on %s/metrics", self.url)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _metrics(self, request: web.Request) -> web.Response:
        if self.sessionmaker is not None:
            try:
                await asyncio.wait_for(self.metrics.refresh(self.sessionmaker), timeout=self.refresh_timeout)
            except TimeoutError:  # a scrape must answer: serve the last known gauges
                self.metrics.refresh_failures.inc()
                log.warning("metrics: the database did not answer within %.1fs; queue gauges not refreshed",
                            self.refresh_timeout)
            except Exception as exc:
                self.metrics.refresh_failures.inc()
                log.warning("metrics: queue gauges not refreshed: %s: %s", type(exc).__name__, exc)
        body, content_type = self.metrics.exposition(request.headers.get("Accept"))
        return web.Response(body=body, headers={"Content-Type": content_type})
