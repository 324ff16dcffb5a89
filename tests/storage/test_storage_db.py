"""Engine settings and migrations, on both backends."""

from __future__ import annotations

import asyncio
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import (
    MIGRATIONS_DIR,
    alembic_config,
    default_database_url,
    downgrade_database,
    make_engine,
    make_sessionmaker,
    upgrade_database,
)
from storage.models import Base

#: the newest revision: migrations are numbered 0001, 0002, ... and chained in that order
HEAD = max(path.name.split("_", 1)[0] for path in (MIGRATIONS_DIR / "versions").glob("[0-9]*_*.py"))


def _diff(sync_conn: Connection) -> list[Any]:
    context = MigrationContext.configure(sync_conn, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


def _tables(sync_conn: Connection) -> set[str]:
    return set(inspect(sync_conn).get_table_names())


async def _revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_revision())


def test_default_database_url_is_absolute(tmp_path: Path) -> None:
    url = default_database_url(tmp_path / "data")
    assert url == f"sqlite+aiosqlite:///{tmp_path}/data/sikesal.db"


def test_migrations_are_packaged() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert list((MIGRATIONS_DIR / "versions").glob("0001_*.py"))


async def test_initial_migration_matches_models(
    empty_database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The migrated schema is exactly Base.metadata: no missing/extra table, column, type,
    nullability, index, unique constraint or foreign key. Runs from an unrelated cwd."""
    monkeypatch.chdir(tmp_path)
    engine = make_engine(empty_database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == set()
        await upgrade_database(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
            assert await conn.run_sync(_tables) == set(Base.metadata.tables) | {"alembic_version"}
        assert await _revision(engine) == HEAD

        await upgrade_database(engine)  # idempotent at head
        assert await _revision(engine) == HEAD

        await downgrade_database(engine, "base")
        async with engine.connect() as conn:
            assert await conn.run_sync(_tables) == {"alembic_version"}
        await upgrade_database(engine)
        async with engine.connect() as conn:
            assert await conn.run_sync(_diff) == []
    finally:
        await engine.dispose()


async def test_upgrade_runs_inside_running_loop_and_engine_is_usable(engine: AsyncEngine) -> None:
    """upgrade_database did not close/poison the engine's pool or leave a transaction open."""
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        assert (await session.execute(text("SELECT count(*) FROM citizens"))).scalar_one() == 0


async def test_sqlite_connection_settings(tmp_path: Path) -> None:
    url = default_database_url(tmp_path / "nested" / "dir")
    engine = make_engine(url)
    try:
        assert (tmp_path / "nested" / "dir").is_dir()
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar_one() == 1
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar_one() == 5000
            assert (await conn.exec_driver_sql("PRAGMA synchronous")).scalar_one() == 1  # NORMAL
    finally:
        await engine.dispose()


async def test_sqlite_foreign_keys_enforced(engine: AsyncEngine) -> None:
    """Both backends reject a complaint for a citizen that does not exist."""
    from sqlalchemy.exc import IntegrityError

    from storage.models import Complaint, utcnow

    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        session.add(
            Complaint(
                number="X-1", citizen_id=999, category="c", description="d", agency="a", created_at=utcnow()
            )
        )
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_savepoint_rollback_keeps_outer_transaction(engine: AsyncEngine) -> None:
    """begin_nested really is a SAVEPOINT inside the transaction (the sqlite3 driver's legacy
    transaction mode would silently break this)."""
    from storage.models import Counter

    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session:
        session.add(Counter(name="outer", value=1))
        await session.flush()
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                session.add(Counter(name="inner", value=1))
                await session.flush()
                raise RuntimeError("roll back the savepoint only")
        await session.commit()
    async with sessionmaker() as session:
        names = (await session.execute(text("SELECT name FROM counters"))).scalars().all()
    assert names == ["outer"]

    async with sessionmaker() as session:
        async with session.begin_nested():
            session.add(Counter(name="released", value=1))
        await session.rollback()
    async with sessionmaker() as session:
        names = (await session.execute(text("SELECT name FROM counters ORDER BY name"))).scalars().all()
    assert names == ["outer"]  # a released savepoint is still undone by the outer rollback


def test_alembic_offline_sql(monkeypatch: pytest.MonkeyPatch) -> None:
    """CLI-style offline mode renders DDL for both dialects without connecting."""
    for url in ("sqlite+aiosqlite:///unused.db", "postgresql+asyncpg://u@nowhere/db"):
        monkeypatch.setenv("DATABASE_URL", url)
        config = alembic_config()
        buffer = io.StringIO()
        config.output_buffer = buffer
        command.upgrade(config, "head", sql=True)
        sql = buffer.getvalue()
        assert "CREATE TABLE citizens" in sql
        assert "CREATE TABLE outbox" in sql


def test_alembic_cli_online_with_database_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``DATABASE_URL=... alembic upgrade head`` (no running loop: env.py drives asyncio itself)."""
    url = default_database_url(tmp_path)
    monkeypatch.setenv("DATABASE_URL", url)

    async def check() -> list[Any]:
        engine = make_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(_diff)
        finally:
            await engine.dispose()

    def cli_then_check() -> list[Any]:
        command.upgrade(alembic_config(), "head")
        return asyncio.run(check())

    # a thread of its own, so env.py's asyncio.run never meets pytest-asyncio's loop
    with ThreadPoolExecutor(max_workers=1) as pool:
        assert pool.submit(cli_then_check).result() == []


def test_alembic_ini_for_developers() -> None:
    """storage/alembic.ini points at the packaged scripts (for `alembic -c storage/alembic.ini`)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    ini = Path(__file__).resolve().parents[2] / "storage" / "alembic.ini"
    script = ScriptDirectory.from_config(Config(str(ini)))
    assert script.get_current_head() == HEAD
