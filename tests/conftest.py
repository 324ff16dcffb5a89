"""Shared fixtures: every database test runs on SQLite and, when configured, on PostgreSQL.

* ``database_url`` -- parametrised ``sqlite`` / ``postgres``: the URL of an empty database. SQLite
  is a fresh file under ``tmp_path``; PostgreSQL is a per-session database (``sikesal_test_*``,
  created from ``SIKESAL_TEST_POSTGRES_URL`` and dropped at the end) whose tables are emptied
  before each test. The postgres param carries ``pytest.mark.postgres`` and is skipped, with the
  reason shown, when the variable is unset. Always run ``upgrade_database`` on it (idempotent).
* ``engine`` -- an ``AsyncEngine`` on ``database_url`` with migrations applied, disposed after.
* ``sessionmaker`` -- ``make_sessionmaker(engine)``.
* ``empty_database_url`` -- same parametrisation, a brand-new database without any table (a new
  SQLite file / a new PostgreSQL database dropped after the test): for migration tests.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

# Make the project root importable even when the project is not installed (bare .venv/bin/pytest),
# and -- more subtly -- so that ``import storage`` finds the real package: pytest puts tests/ on
# sys.path, where the tests/storage directory would otherwise be picked up as a namespace package
# (an editable install's import hook comes too late to prevent that).
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from storage.db import default_database_url, make_engine, make_sessionmaker, upgrade_database  # noqa: E402

POSTGRES_ENV = "SIKESAL_TEST_POSTGRES_URL"
POSTGRES_URL = os.environ.get(POSTGRES_ENV, "")
#: test databases are named sikesal_test_<unix time>_<random>; older ones are leftovers of
#: crashed runs and are dropped, younger ones may belong to a parallel run and are left alone
TEST_DB_PREFIX = "sikesal_test_"
STALE_AFTER_S = 6 * 3600

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param(
        "postgres",
        id="postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(
                not POSTGRES_URL,
                reason=f"PostgreSQL tests need {POSTGRES_ENV}, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test",
            ),
        ],
    ),
]

T = TypeVar("T")


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine from synchronous (fixture) code in its own thread and loop, so it never
    touches the event loop pytest-asyncio manages for the tests."""

    async def main() -> T:
        return await factory()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, main()).result()


def _admin_engine() -> AsyncEngine:
    """A connection to the maintenance database named in SIKESAL_TEST_POSTGRES_URL, in
    autocommit (CREATE/DROP DATABASE cannot run in a transaction)."""
    return create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)


async def create_postgres_database() -> str:
    """Create an empty uniquely named database; returns its URL. Drops stale test databases."""
    name = f"{TEST_DB_PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
    admin = _admin_engine()
    try:
        async with admin.connect() as conn:
            rows = await conn.execute(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": f"{TEST_DB_PREFIX}%"}
            )
            for (old,) in rows:
                stamp = old.removeprefix(TEST_DB_PREFIX).split("_", 1)[0]
                if stamp.isdigit() and time.time() - int(stamp) > STALE_AFTER_S:
                    await conn.execute(text(f'DROP DATABASE IF EXISTS "{old}" WITH (FORCE)'))
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await admin.dispose()
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    assert name and name.startswith(TEST_DB_PREFIX), name
    admin = _admin_engine()
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def _migrate(url: str) -> None:
    engine = make_engine(url, poolclass=NullPool)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()


async def _empty_tables(url: str) -> None:
    from storage.models import Base

    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the whole test session (per xdist worker)."""
    if not POSTGRES_URL:
        pytest.skip(f"{POSTGRES_ENV} is not set")
    url = run_async(create_postgres_database)
    try:
        run_async(lambda: _migrate(url))
        yield url
    finally:
        run_async(lambda: drop_postgres_database(url))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (see the module docstring)."""
    if request.param == "sqlite":
        return default_database_url(tmp_path / "data")
    url: str = request.getfixturevalue("postgres_database_url")
    run_async(lambda: _empty_tables(url))
    return url


@pytest_asyncio.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """A migrated engine on ``database_url``."""
    eng = make_engine(database_url)
    try:
        await upgrade_database(eng)
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest_asyncio.fixture(params=BACKENDS)
async def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database with no tables at all (not even alembic_version)."""
    if request.param == "sqlite":
        yield default_database_url(tmp_path / "fresh")
        return
    url = await create_postgres_database()
    try:
        yield url
    finally:
        await drop_postgres_database(url)
