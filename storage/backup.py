"""``sikesal backup <dir>``: a consistent copy of an SQLite database and the media files, safe while the bot runs.

The database is copied with SQLite's online backup API (``sqlite3.Connection.backup``), not with ``cp``:
a file copy of a live WAL database can mix pages from before and after a commit (or miss the commits still
in ``sikesal.db-wal``) and gives a corrupt or stale copy. The backup API copies a consistent snapshot
through an ordinary read transaction, which in WAL mode never blocks the bot's writer. The copy is
switched to a self-contained rollback journal (one file, no ``-wal``/``-shm`` needed) and checked with
``PRAGMA integrity_check`` before the folder gets its final name.

The media directory is copied *after* the database: photos are written (atomically, by content hash)
before the rows that refer to them commit, so every photo the database copy names is in the media copy.
Temporary files of writes in progress (``.tmp-*``) are skipped.

Layout: ``<dir>/sikesal-YYYYmmdd-HHMMSS/`` (local time) with ``sikesal.db``, ``media/`` and
``RESTORE.txt``; it is written as ``<name>.partial`` and renamed when complete, so a folder without that
suffix is always a whole backup.

PostgreSQL is not handled here: ``pg_dump`` does the database (consistently, while the bot runs) and the
media directory is copied the same way; :func:`postgres_instructions` says how (also in the README).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url


class BackupError(Exception):
    """Raised with a message meant for the operator."""


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What was written."""

    folder: Path
    database: Path
    database_bytes: int
    #: the schema revision (Alembic) of the copy
    revision: str | None
    #: the copy of the media directory (None when the bot has stored no file yet)
    media: Path | None
    media_files: int
    media_bytes: int


def sqlite_database(url: str) -> Path:
    """The file behind an SQLite database URL; :class:`BackupError` for anything else."""
    sa_url = make_url(url)
    backend = sa_url.get_backend_name()
    if backend == "postgresql":
        raise BackupError("the database is PostgreSQL: back it up with pg_dump (see below)")
    if backend != "sqlite":
        raise BackupError(f"cannot back up a {backend} database")
    database = sa_url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise BackupError(f"{url!r} is not an SQLite database file")
    return Path(database).expanduser()


def postgres_instructions(url: str, target: Path, media_dir: Path) -> str:
    """The commands an operator runs instead (the password left out: pg_dump reads ~/.pgpass or PGPASSWORD)."""
    u = make_url(url)
    libpq = URL.create(
        "postgresql", username=u.username, host=u.host, port=u.port, database=u.database, query=u.query
    ).render_as_string(hide_password=False)
    return (
        "Back up PostgreSQL with pg_dump (a consistent snapshot while the bot runs), then copy the media directory:\n"
        f"    dest={target}/sikesal-$(date +%Y%m%d-%H%M%S) && mkdir -p \"$dest\"\n"
        f"    pg_dump --format=custom --no-owner --file=\"$dest/sikesal.dump\" '{libpq}'\n"
        f"    cp -a {media_dir}/. \"$dest/media/\"\n"
        "pg_dump takes the password from ~/.pgpass or PGPASSWORD. Restore into an empty database with:\n"
        "    pg_restore --no-owner --dbname='postgresql://user@host/sikesal' \"$dest/sikesal.dump\""
    )


def _folder(target: Path, now: datetime) -> Path:
    base = target / f"sikesal-{now:%Y%m%d-%H%M%S}"
    folder, n = base, 1
    while folder.exists() or folder.with_name(folder.name + ".partial").exists():
        n += 1
        folder = base.with_name(f"{base.name}-{n}")
    return folder


def _copy_database(source: Path, destination: Path) -> str | None:
    """Online backup of ``source`` into ``destination``, verified; returns the schema revision."""
    # mode=rw never creates a missing file; the busy timeout covers a database not in WAL mode
    src = sqlite3.connect(source.resolve().as_uri() + "?mode=rw", uri=True, timeout=30)
    try:
        dst = sqlite3.connect(destination)
        try:
            src.backup(dst)  # all pages in one step: one consistent snapshot
            dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
            problems = [row[0] for row in dst.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise BackupError(
                    f"the copy failed PRAGMA integrity_check ({'; '.join(problems[:5])}): check the database itself"
                    f" with: sqlite3 {source} 'PRAGMA integrity_check'"
                )
            try:
                row = dst.execute("SELECT version_num FROM alembic_version").fetchone()
            except sqlite3.DatabaseError:
                row = None
            return str(row[0]) if row else None
        finally:
            dst.close()
    finally:
        src.close()


def _copy_media(source: Path, destination: Path) -> tuple[int, int]:
    files = size = 0

    def copy(src: str, dst: str) -> object:
        nonlocal files, size
        files += 1
        size += os.path.getsize(src)
        return shutil.copy2(src, dst)

    shutil.copytree(source, destination, ignore=shutil.ignore_patterns(".tmp-*"), copy_function=copy)
    return files, size


def _restore_note(folder: Path) -> str:
    return (
        f"SiKesal backup {folder.name}\n\n"
        "Restore (SQLite):\n"
        "  1. stop the bot (systemctl stop sikesal)\n"
        "  2. in SIKESAL_DATA_DIR: remove sikesal.db, sikesal.db-wal and sikesal.db-shm\n"
        "  3. copy sikesal.db and the media/ folder of this backup into SIKESAL_DATA_DIR\n"
        "  4. start the bot; it upgrades the schema if the code is newer\n"
    )


def backup_sqlite(database: Path, media_dir: Path, target: Path, *, now: datetime | None = None) -> BackupResult:
    """Copy the live SQLite ``database`` and ``media_dir`` into a new folder under ``target`` (blocking:
    call it in a thread from async code, see :func:`run_backup`)."""
    if not database.is_file():
        raise BackupError(f"no database at {database} (check DATABASE_URL / SIKESAL_DATA_DIR)")
    folder = _folder(target, now or datetime.now())
    partial = folder.with_name(folder.name + ".partial")
    try:
        partial.mkdir(parents=True)
    except OSError as exc:
        raise BackupError(f"cannot create {partial}: {exc.strerror or exc}") from exc
    media_files = media_bytes = 0
    has_media = media_dir.is_dir()
    try:
        revision = _copy_database(database, partial / "sikesal.db")
        if has_media:
            media_files, media_bytes = _copy_media(media_dir, partial / "media")
        (partial / "RESTORE.txt").write_text(_restore_note(folder), encoding="utf-8")
        partial.rename(folder)
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)  # no half backup left behind to be mistaken for one
        if isinstance(exc, sqlite3.Error):
            raise BackupError(f"backing up {database} failed: {exc}") from exc
        if isinstance(exc, shutil.Error | OSError):
            raise BackupError(f"writing the backup under {target} failed: {exc}") from exc
        raise
    return BackupResult(
        folder=folder,
        database=folder / "sikesal.db",
        database_bytes=(folder / "sikesal.db").stat().st_size,
        revision=revision,
        media=folder / "media" if has_media else None,
        media_files=media_files,
        media_bytes=media_bytes,
    )


async def run_backup(database: Path, media_dir: Path, target: Path, *, now: datetime | None = None) -> BackupResult:
    """:func:`backup_sqlite` in a worker thread, so an event loop keeps serving while it copies."""
    return await asyncio.to_thread(backup_sqlite, database, media_dir, target, now=now)
