"""Prometheus metrics: the counters the senders and intake call, the queue gauges read from the database at
scrape time, and the /metrics server on its own port (which must answer even when the database does not)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ops.metrics import Metrics, MetricsPortError, MetricsServer
from storage.db import make_engine, make_sessionmaker
from storage.models import InboundMessage, OutboxMessage

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the text exposition, by (name, sorted labels)."""
    body, _ = metrics.exposition()
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, tuple(sorted(labels.items())))]


def test_every_metric_is_exposed_at_zero_for_both_channels_before_anything_happens() -> None:
    metrics = Metrics()
    for channel in ("telegram", "whatsapp"):
        assert value(metrics, "sikesal_updates_in_total", channel=channel) == 0
        for result in ("sent", "failed", "retry", "flood"):
            assert value(metrics, "sikesal_messages_out_total", channel=channel, result=result) == 0
        for name in ("sikesal_rate_limited_total", "sikesal_retries_total", "sikesal_failed_for_good_total",
                     "sikesal_outbox_depth", "sikesal_outbox_oldest_age_seconds", "sikesal_inbox_depth"):
            assert value(metrics, name, channel=channel) == 0
    names = {name for name, _ in samples(metrics)}
    assert "process_resident_memory_bytes" in names and "python_info" in names, "process metrics are there"


def test_the_hot_path_calls_count_what_they_say() -> None:
    metrics = Metrics()
    metrics.update_in("telegram")
    metrics.update_in("telegram")
    metrics.update_in("whatsapp")
    metrics.message_out("telegram", "sent")
    metrics.message_out("telegram", "retry")
    metrics.message_out("telegram", "flood")
    metrics.message_out("whatsapp", "failed")
    metrics.rate_limited("telegram")  # a 429 on answerCallbackQuery, outside the outbox
    assert value(metrics, "sikesal_updates_in_total", channel="telegram") == 2
    assert value(metrics, "sikesal_updates_in_total", channel="whatsapp") == 1
    assert value(metrics, "sikesal_messages_out_total", channel="telegram", result="sent") == 1
    assert value(metrics, "sikesal_messages_out_total", channel="telegram", result="flood") == 1
    assert value(metrics, "sikesal_retries_total", channel="telegram") == 2, "a retry and a 429"
    assert value(metrics, "sikesal_rate_limited_total", channel="telegram") == 2, "the flood and the other 429"
    assert value(metrics, "sikesal_failed_for_good_total", channel="whatsapp") == 1
    assert value(metrics, "sikesal_failed_for_good_total", channel="telegram") == 0


def test_an_unknown_result_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="sent, failed, retry, flood"):
        Metrics().message_out("telegram", "ok")


def test_two_instances_in_one_process_do_not_clash() -> None:
    first, second = Metrics(), Metrics()
    first.update_in("telegram")
    assert value(first, "sikesal_updates_in_total", channel="telegram") == 1
    assert value(second, "sikesal_updates_in_total", channel="telegram") == 0


def _outbox(channel: str, chat: str, status: str, created: datetime) -> OutboxMessage:
    return OutboxMessage(channel=channel, chat_id=chat, kind="send", payload={"text": "x"}, status=status,
                         attempts=0, next_attempt_at=created, created_at=created)


def _inbound(key: str, channel: str, status: str) -> InboundMessage:
    return InboundMessage(key=key, channel=channel, sender="+62811", payload={}, status=status,
                          received_at=NOW, next_attempt_at=NOW)


async def test_refresh_sets_the_queue_gauges_from_the_database(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        session.add_all([
            _outbox("telegram", "1", "pending", NOW - timedelta(minutes=5)),
            _outbox("telegram", "2", "pending", NOW - timedelta(minutes=1)),
            _outbox("telegram", "3", "sent", NOW - timedelta(hours=5)),
            _outbox("telegram", "4", "failed", NOW - timedelta(hours=6)),
            _outbox("whatsapp", "+62811", "pending", NOW - timedelta(seconds=30)),
            _inbound("wa:1", "whatsapp", "pending"),
            _inbound("wa:2", "whatsapp", "pending"),
            _inbound("wa:3", "whatsapp", "done"),
            _inbound("tg:9", "telegram", "pending"),
        ])
        await session.commit()
    metrics = Metrics()
    await metrics.refresh(sessionmaker, now=NOW)
    assert value(metrics, "sikesal_outbox_depth", channel="telegram") == 2
    assert value(metrics, "sikesal_outbox_oldest_age_seconds", channel="telegram") == pytest.approx(300)
    assert value(metrics, "sikesal_outbox_depth", channel="whatsapp") == 1
    assert value(metrics, "sikesal_outbox_oldest_age_seconds", channel="whatsapp") == pytest.approx(30)
    assert value(metrics, "sikesal_inbox_depth", channel="whatsapp") == 2
    assert value(metrics, "sikesal_inbox_depth", channel="telegram") == 1

    async with sessionmaker() as session:  # the queue empties: the gauges go back to 0, not stale
        await session.execute(OutboxMessage.__table__.update().values(status="sent"))
        await session.commit()
    await metrics.refresh(sessionmaker, now=NOW)
    assert value(metrics, "sikesal_outbox_depth", channel="telegram") == 0
    assert value(metrics, "sikesal_outbox_oldest_age_seconds", channel="telegram") == 0


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections and never says anything (a hung database server)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def test_the_server_serves_metrics_on_a_free_port(
    sessionmaker: async_sessionmaker[AsyncSession], client: aiohttp.ClientSession
) -> None:
    async with sessionmaker() as session:
        session.add(_outbox("telegram", "1", "pending", datetime.now(UTC) - timedelta(seconds=90)))
        await session.commit()
    metrics = Metrics()
    metrics.update_in("telegram")
    server = MetricsServer(metrics, host="127.0.0.1", port=0, sessionmaker=sessionmaker)
    await server.start()
    try:
        assert server.port != 0
        async with client.get(f"{server.url}/metrics") as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            body = await response.text()
        assert 'sikesal_updates_in_total{channel="telegram"} 1.0' in body
        assert 'sikesal_outbox_depth{channel="telegram"} 1.0' in body, "refreshed at scrape time"
        age = value(metrics, "sikesal_outbox_oldest_age_seconds", channel="telegram")
        assert 89 <= age < 200
        async with client.get(f"{server.url}/metrics",
                              headers={"Accept": "application/openmetrics-text; version=1.0.0"}) as response:
            assert response.headers["Content-Type"].startswith("application/openmetrics-text")
            assert (await response.text()).rstrip().endswith("# EOF")
    finally:
        await server.stop()


async def test_a_hung_database_does_not_hang_the_scrape(silent_port: int, client: aiohttp.ClientSession) -> None:
    engine = make_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{silent_port}/sikesal")
    metrics = Metrics()
    metrics.update_in("whatsapp")
    server = MetricsServer(metrics, port=0, sessionmaker=make_sessionmaker(engine), refresh_timeout=0.3)
    await server.start()
    try:
        started = asyncio.get_running_loop().time()
        async with client.get(f"{server.url}/metrics") as response:
            assert response.status == 200
            body = await response.text()
        assert asyncio.get_running_loop().time() - started < 3
        assert 'sikesal_updates_in_total{channel="whatsapp"} 1.0' in body, "the counters are served anyway"
        assert "sikesal_metrics_refresh_failures_total 1.0" in body
    finally:
        await server.stop()
        await engine.dispose()


async def test_a_taken_port_is_an_oserror_naming_the_setting(client: aiohttp.ClientSession) -> None:
    first = MetricsServer(Metrics(), port=0)
    await first.start()
    try:
        with pytest.raises(MetricsPortError, match=f"127.0.0.1:{first.port}.*SIKESAL_METRICS_PORT") as caught:
            await MetricsServer(Metrics(), port=first.port).start()
        assert isinstance(caught.value, OSError)
    finally:
        await first.stop()


async def test_extra_routes_are_served_beside_metrics(client: aiohttp.ClientSession) -> None:
    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    server = MetricsServer(Metrics(), port=0, routes=[web.get("/hello", hello)])
    await server.start()
    try:
        async with client.get(f"{server.url}/hello") as response:
            assert await response.text() == "hi"
    finally:
        await server.stop()
