"""Engines, sessions and migrations.

SQLite (aiosqlite) is the embedded default, PostgreSQL (asyncpg) the server option; both get the
same schema from the same Alembic migrations. Everything here is explicit (no global engine or
session) so tests and the bot can run several databases side by side.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

#: the Alembic scripts ship inside the package, so migrations work from a wheel and from any cwd
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

#: how long a SQLite connection waits for another writer before "database is locked"
SQLITE_BUSY_TIMEOUT_MS = 5000
#: prepared statements asyncpg keeps per PostgreSQL connection (``?prepared_statement_cache_size=`` in
#: ``DATABASE_URL`` overrides it; 0 switches the cache off, e.g. behind pgbouncer in transaction mode)
PG_PREPARED_STATEMENTS = 500
#: a pooled PostgreSQL connection idle this long is checked (one round trip) before it is used again
PG_PING_AFTER_IDLE_S = 10.0
_IDLE_SINCE = "sikesal_idle_since"


def default_database_url(data_dir: Path) -> str:
    """The embedded SQLite database inside the data directory (absolute, so cwd does not matter)."""
    return f"sqlite+aiosqlite:///{(Path(data_dir).expanduser().resolve() / 'sikesal.db').as_posix()}"


def _sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for in-memory databases."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


class DatabaseInUse(RuntimeError):
    """Another SiKesal process already runs on this SQLite database."""


class SingleProcessLock:
    """An exclusive ``flock`` on ``<database>.lock`` held for the life of the bot process.

    Why: SQLite has one writer, and SiKesal's delivery on SQLite relies on being the only process (rows are
    not leased). Two bots on one file would send messages twice. The operating system drops the lock when
    the process dies, even on ``kill -9``, so a crashed bot never leaves a stale lock behind.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_url(cls, url: str) -> SingleProcessLock | None:
        """The lock for a SQLite file URL (None for ``:memory:`` and other backends)."""
        path = _sqlite_file(url)
        return cls(path.expanduser().with_name(path.name + ".lock")) if path is not None else None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise DatabaseInUse(
                f"another SiKesal process is already running on the SQLite database next to {self.path}. "
                "SQLite serves one process only: stop the other one, or use PostgreSQL (DATABASE_URL="
                "postgresql+asyncpg://...) to run several processes."
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create the async engine for ``url`` with the per-backend settings SiKesal relies on.

    SQLite: the parent directory is created; every connection gets WAL (readers never block the
    writer), ``foreign_keys=ON`` (off by default in SQLite, and our cascades depend on it), a busy
    timeout and ``synchronous=NORMAL`` (safe with WAL, far fewer fsyncs). SQLAlchemy, not the
    sqlite3 driver, emits ``BEGIN IMMEDIATE`` for every transaction: the driver's legacy mode does
    not BEGIN before SELECT/SAVEPOINT (which breaks ``begin_nested`` and repeatable reads), and a
    deferred transaction that reads and then writes fails at once with "database is locked" when
    another connection wrote in between -- busy_timeout does not help there. Taking the write lock
    up front serialises writers, which waits (up to the busy timeout) instead of failing. Keep
    transactions short: no network I/O inside a unit of work (that is what the outbox is for).

    PostgreSQL: a pool of 10 (+10 overflow) with recycling, a connection checked before use when it sat
    idle (the bot runs for months; connections get dropped by firewalls and server restarts; see
    :func:`_install_idle_ping`) and asyncpg's prepared-statement cache sized for the bot's statements.
    Extra ``kwargs`` go to ``create_async_engine``.
    """
    sa_url = make_url(url)
    backend = sa_url.get_backend_name()
    # a database error's message would otherwise quote the statement's values (a citizen's words, name or
    # number) into the log: logs never hold personal data (see bot.logs, the README's erasure section)
    kwargs.setdefault("hide_parameters", True)
    if backend == "sqlite":
        path = _sqlite_file(url)
        if path is not None:
            path.expanduser().parent.mkdir(parents=True, exist_ok=True)
        options = dict(kwargs)
        if path is not None and "poolclass" not in kwargs:
            # one connection: SQLite has one writer anyway, and queueing in the pool is fair and cheap,
            # where several connections would poll SQLite's busy handler and can time out under load
            options.setdefault("pool_size", 1)
            options.setdefault("max_overflow", 0)
            options.setdefault("pool_timeout", 60)
        engine = create_async_engine(url, **options)
        _install_sqlite_hooks(engine, wal=path is not None)
        return engine
    if backend == "postgresql":
        pg_options: dict[str, Any] = {}
        if "poolclass" not in kwargs:  # sizing only applies to the default QueuePool
            pg_options.update(pool_size=10, max_overflow=10, pool_timeout=30, pool_recycle=1800)
        if sa_url.get_driver_name() == "asyncpg" and "prepared_statement_cache_size" not in sa_url.query:
            # asyncpg prepares every statement; the bot runs a few hundred distinct ones, and the default
            # cache of 100 per connection would evict and re-prepare (a round trip) in the hot paths
            pg_options["connect_args"] = {"prepared_statement_cache_size": PG_PREPARED_STATEMENTS}
        pg_options.update(kwargs)
        engine = create_async_engine(url, **pg_options)
        if not pg_options.get("pool_pre_ping"):
            _install_idle_ping(engine, PG_PING_AFTER_IDLE_S)
        return engine
    return create_async_engine(url, **kwargs)


def _install_idle_ping(engine: AsyncEngine, idle_s: float) -> None:
    """Check a pooled connection before use only when it sat idle ``idle_s`` seconds or more.

    Why not ``pool_pre_ping``: with asyncpg it costs three round trips (BEGIN, ``;``, ROLLBACK) on every
    checkout, that is on every transaction, while the connections it protects against (dropped by a
    firewall or a server restart) are the ones that sat idle. A connection that fails the check is
    replaced (``DisconnectionError`` makes the pool connect afresh), as with pre-ping."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
        record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry, _proxy: Any) -> None:
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            dbapi_connection.ping()  # type: ignore[attr-defined]
        except Exception as exc:  # whatever the driver raises, the connection is unusable: take another
            raise DisconnectionError(f"pooled connection failed its check after {idle_s:.0f}s idle") from exc


def _install_sqlite_hooks(engine: AsyncEngine, *, wal: bool) -> None:
    """Connection pragmas and SQLAlchemy-controlled BEGIN IMMEDIATE (see :func:`make_engine`)."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        # stop the driver from emitting its own (deferred, SELECT-skipping) BEGIN
        dbapi_connection.isolation_level = None  # type: ignore[attr-defined]
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded attributes after commit: handlers read objects after the unit of
    work committed, and lazy refreshes cannot happen implicitly under asyncio."""
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str | None = None) -> Config:
    """An Alembic configuration without alembic.ini: script_location is the packaged migrations
    directory. ``url`` is only needed when Alembic should open its own connection (CLI-like use);
    :func:`upgrade_database` hands it a connection instead."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        # ConfigParser interpolation: a literal % in a password must be doubled
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _run_alembic(connection: Connection, revision: str, *, downgrade: bool) -> None:
    """Run ``alembic upgrade/downgrade <revision>`` on a synchronous connection (inside run_sync).

    On SQLite, foreign keys are switched off for the migration: Alembic's batch mode rebuilds a
    table by copy+drop+rename, and with foreign keys on, dropping ``citizens`` would cascade-delete
    every conversation. The pragma is ignored inside a transaction, so it is set on the raw
    connection before SQLAlchemy begins, and ``PRAGMA foreign_key_check`` verifies the result
    before commit.
    """
    config = alembic_config()
    config.attributes["connection"] = connection
    is_sqlite = connection.dialect.name == "sqlite"
    if is_sqlite:
        if connection.in_transaction():
            connection.commit()
        _raw_sqlite_pragma(connection, "PRAGMA foreign_keys = OFF")
    try:
        with connection.begin():
            if downgrade:
                command.downgrade(config, revision)
            else:
                command.upgrade(config, revision)
            if is_sqlite:
                problems = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if problems:
                    raise RuntimeError(f"migration left foreign key violations: {problems[:10]}")
    finally:
        if is_sqlite:
            _raw_sqlite_pragma(connection, "PRAGMA foreign_keys = ON")


def _raw_sqlite_pragma(connection: Connection, sql: str) -> None:
    """Execute a pragma on the DBAPI connection, bypassing SQLAlchemy's autobegin."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


async def upgrade_database(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (default: latest) from inside a running event loop.

    Alembic is synchronous; ``run_sync`` gives it a sync facade over our async connection, and
    env.py picks that connection up from ``config.attributes`` instead of creating an engine (or
    calling ``asyncio.run``, which would fail inside a running loop).
    """
    async with engine.connect() as conn:
        await conn.run_sync(_run_alembic, revision, downgrade=False)
    log.info("database schema at %s", revision)


async def downgrade_database(engine: AsyncEngine, revision: str) -> None:
    """Downgrade the schema to ``revision`` (``"base"`` drops everything). For tests and rollbacks."""
    async with engine.connect() as conn:
        await conn.run_sync(_run_alembic, revision, downgrade=True)
