"""Fixtures for the several-processes tests: a fresh PostgreSQL database per test (migrated once, before
any process starts, as ``sikesal migrate`` is run once before restarting the processes) and a fresh Redis
database number shared by the processes of one test."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage.db import make_engine, upgrade_database
from tests.conftest import POSTGRES_ENV, POSTGRES_URL, create_postgres_database, drop_postgres_database
from tests.multiproc.procs import flush_redis, redis_reachable

#: the Redis server the processes share their Telegram limits through; each test takes its own db number
REDIS_BASE = os.environ.get("SIKESAL_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")


@pytest_asyncio.fixture
async def pg_url() -> AsyncIterator[str]:
    if not POSTGRES_URL:
        pytest.skip(f"several processes need PostgreSQL: set {POSTGRES_ENV}")
    url = await create_postgres_database()
    try:
        engine = make_engine(url, poolclass=NullPool)
        try:
            await upgrade_database(engine)
        finally:
            await engine.dispose()
        yield url
    finally:
        await drop_postgres_database(url)


@pytest_asyncio.fixture
async def pg_engine(pg_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(pg_url, poolclass=NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest_asyncio.fixture
async def fresh_redis() -> AsyncIterator[Callable[[int], Awaitable[str]]]:
    """``await fresh_redis(n)``: the URL of Redis database ``n``, emptied (and emptied again after the test);
    each test takes its own number so that tests running side by side never share limits."""
    used: list[str] = []

    async def make(db: int) -> str:
        url = f"{REDIS_BASE}/{db}"
        if not await redis_reachable(url):
            pytest.skip(f"several processes share Telegram's limits through Redis: {REDIS_BASE} is unreachable")
        await flush_redis(url)
        used.append(url)
        return url

    yield make
    for url in used:
        await flush_redis(url)
