"""``sikesal backup``: an SQLite copy made through the online backup API while the bot writes, plus the
media files; PostgreSQL is refused with the pg_dump commands."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from datetime import datetime
from pathlib import Path

import pytest

from bot import cli
from storage.backup import BackupError, backup_sqlite, sqlite_database
from storage.db import default_database_url, make_engine, upgrade_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A migrated SQLite database in WAL mode and a media directory, as a running bot leaves them."""
    data = tmp_path / "data"

    async def migrate() -> None:
        engine = make_engine(default_database_url(data))
        try:
            await upgrade_database(engine)
        finally:
            await engine.dispose()

    asyncio.run(migrate())
    media = data / "media"
    (media / "ab" / "cd").mkdir(parents=True)
    (media / "ab" / "cd" / "abcd1234.jpg").write_bytes(b"\xff\xd8photo" * 100)
    (media / "ab" / "cd" / "abcd5678.png").write_bytes(b"\x89PNG" * 10)
    (media / "ab" / "cd" / ".tmp-half-written.jpg").write_bytes(b"partial")
    return data


class Writer(threading.Thread):
    """Another connection inserting and committing rows one by one, like the bot's unit of work."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.committed = 0
        self.error: BaseException | None = None
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            db.execute("PRAGMA busy_timeout = 10000")
            try:
                while not self.stop.is_set():
                    db.execute("BEGIN IMMEDIATE")
                    db.execute("INSERT INTO processed_updates (key, processed_at) VALUES (?, '2026-12-01 08:00:00')",
                               (f"tg:{self.committed}",))
                    db.execute("COMMIT")
                    self.committed += 1
            finally:
                db.close()
        except BaseException as exc:
            self.error = exc


def test_backup_while_a_writer_commits(data_dir: Path, tmp_path: Path) -> None:
    database = data_dir / "sikesal.db"
    with sqlite3.connect(database) as db:  # some bulk, so the copy takes a moment
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.execute("CREATE TABLE padding (blob BLOB)")
        db.executemany("INSERT INTO padding VALUES (?)", [(b"x" * 4000,) for _ in range(3000)])
    writer = Writer(database)
    writer.start()
    try:
        while writer.committed < 200 and writer.is_alive():
            threading.Event().wait(0.005)
        committed_before = writer.committed
        result = backup_sqlite(database, data_dir / "media", tmp_path / "backups", now=datetime(2026, 12, 1, 15, 0, 0))
        committed_after = writer.committed
    finally:
        writer.stop.set()
        writer.join(10)
    assert writer.error is None, f"the writer was disturbed: {writer.error!r}"
    assert committed_before >= 200

    assert result.folder == tmp_path / "backups" / "sikesal-20261201-150000"
    assert sorted(p.name for p in result.folder.iterdir()) == ["RESTORE.txt", "media", "sikesal.db"]
    assert not list((tmp_path / "backups").glob("*.partial"))
    copy = sqlite3.connect(result.database)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete", "one self-contained file"
        keys = {row[0] for row in copy.execute("SELECT key FROM processed_updates")}
        assert copy.execute("SELECT count(*) FROM padding").fetchone()[0] == 3000
    finally:
        copy.close()
    assert {f"tg:{i}" for i in range(committed_before)} <= keys, "every row committed before the backup is in it"
    assert len(keys) <= committed_after + 1, "and nothing that was never committed"
    assert result.revision is not None and re.fullmatch(r"\d{4}", result.revision), "the schema revision of the copy"

    assert result.media_files == 2
    assert (result.folder / "media" / "ab" / "cd" / "abcd1234.jpg").read_bytes() == b"\xff\xd8photo" * 100
    assert not (result.folder / "media" / "ab" / "cd" / ".tmp-half-written.jpg").exists()


def test_two_backups_in_the_same_second_get_two_folders(data_dir: Path, tmp_path: Path) -> None:
    at = datetime(2026, 12, 1, 15, 0, 0)
    first = backup_sqlite(data_dir / "sikesal.db", data_dir / "media", tmp_path / "b", now=at)
    second = backup_sqlite(data_dir / "sikesal.db", data_dir / "media", tmp_path / "b", now=at)
    assert first.folder != second.folder and second.folder.name == "sikesal-20261201-150000-2"


def test_a_missing_database_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no database at"):
        backup_sqlite(tmp_path / "nope.db", tmp_path / "media", tmp_path / "b")
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "b").exists()


def test_sqlite_database_names_the_file_and_refuses_others() -> None:
    assert sqlite_database("sqlite+aiosqlite:////srv/sikesal/data/sikesal.db") == Path("/srv/sikesal/data/sikesal.db")
    with pytest.raises(BackupError, match="PostgreSQL"):
        sqlite_database("postgresql+asyncpg://u:p@db/sikesal")
    with pytest.raises(BackupError):
        sqlite_database("sqlite+aiosqlite:///:memory:")


def test_the_cli_backs_up_and_says_what_it_wrote(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(data_dir))
    monkeypatch.setenv("SIKESAL_CONFIG", str(tmp_path / "missing.yaml"))  # a backup does not need config.yaml
    assert cli.main(["backup", str(tmp_path / "backups")]) == 0
    out = capsys.readouterr().out
    folder = re.search(r"written to (\S+)", out)
    assert folder and Path(folder.group(1)).is_dir()
    assert "integrity_check: ok" in out and "media/       2 files" in out
    assert (Path(folder.group(1)) / "sikesal.db").is_file()


def test_the_cli_refuses_postgresql_with_the_pg_dump_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://sikesal:s3cret-pw@db.internal:5432/sikesal")
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(tmp_path / "data"))
    assert cli.main(["backup", str(tmp_path / "backups")]) == cli.EXIT_FAILED
    err = capsys.readouterr().err
    assert "PostgreSQL" in err and "pg_dump --format=custom" in err
    assert "'postgresql://sikesal@db.internal:5432/sikesal'" in err and "s3cret-pw" not in err
    assert f"cp -a {(tmp_path / 'data' / 'media').resolve()}/." in err
    assert not (tmp_path / "backups").exists()
