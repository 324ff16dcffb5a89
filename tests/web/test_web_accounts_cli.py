"""``sikesal user add|passwd|list|disable|enable`` through ``bot.cli.main`` on SQLite and PostgreSQL.

What it proves: an account is stored with an argon2id hash (never printed), with the password from one line
of stdin or typed twice; short passwords, a mistyped repeat, unknown agencies (the known ones are named),
bad names, taken names and unknown users are refused with a clear message and a non-zero exit; passwd and
disable bump the account's version (which ends its sessions: tests/web/test_web_auth_sessions.py)."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import pytest

from bot import cli
from bot.web.passwords import verify
from storage.db import make_engine, make_sessionmaker
from storage.models import WebAccount

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "sandi-yang-panjang-1"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SIKESAL_CONFIG", str(ROOT / "config.yaml"))
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(tmp_path / "data"))
    return database_url


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return cli.main(["user", *argv])


def account(database_url: str, username: str) -> WebAccount | None:
    async def read() -> WebAccount | None:
        engine = make_engine(database_url)
        try:
            async with make_sessionmaker(engine)() as session:
                from sqlalchemy import select

                found = await session.execute(select(WebAccount).where(WebAccount.username == username))
                return found.scalar_one_or_none()
        finally:
            await engine.dispose()

    return asyncio.run(read())


def test_add_list_passwd_disable(env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(monkeypatch, "add", "JCOC", "--role", "command", "--password-stdin", stdin=PASSWORD + "\n") == 0
    assert "'jcoc' created" in capsys.readouterr().out
    row = account(env, "jcoc")
    assert row is not None and row.role == "command" and row.version == 1
    assert row.password_hash.startswith("$argon2id$") and verify(row.password_hash, PASSWORD)

    assert run(monkeypatch, "add", "pupr-kabid", "--role", "agency:pupr", "--password-stdin",
               stdin=PASSWORD + "\r\n") == 0
    assert run(monkeypatch, "add", "pemantau", "--role", "viewer", "--password-stdin", stdin=PASSWORD) == 0
    capsys.readouterr()
    assert run(monkeypatch, "list") == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "username\trole\tcreated\tlast sign-in\tdisabled"
    assert "jcoc\tcommand" in out and "pupr-kabid\tagency:pupr" in out and "pemantau\tviewer" in out
    assert "argon2" not in out and PASSWORD not in out

    assert run(monkeypatch, "passwd", "jcoc", "--password-stdin", stdin="sandi-baru-yang-panjang\n") == 0
    row = account(env, "jcoc")
    assert row is not None and row.version == 2 and verify(row.password_hash, "sandi-baru-yang-panjang")

    assert run(monkeypatch, "disable", "jcoc") == 0
    row = account(env, "jcoc")
    assert row is not None and row.version == 3 and row.disabled_at is not None
    capsys.readouterr()
    assert run(monkeypatch, "list") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("jcoc"))
    assert line.split("\t")[-1] != "-"
    assert run(monkeypatch, "enable", "jcoc") == 0
    row = account(env, "jcoc")
    assert row is not None and row.disabled_at is None


def test_password_typed_twice(env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter([PASSWORD, PASSWORD + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert run(monkeypatch, "add", "rina", "--role", "viewer") == 1
    assert "differ" in capsys.readouterr().err
    assert account(env, "rina") is None
    answers = iter([PASSWORD, PASSWORD])
    assert run(monkeypatch, "add", "rina", "--role", "viewer") == 0
    assert account(env, "rina") is not None


def test_refusals(env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(monkeypatch, "add", "budi", "--role", "agency:pdam-x", "--password-stdin", stdin=PASSWORD) == 2
    err = capsys.readouterr().err
    assert "unknown agency 'pdam-x'" in err and "pupr" in err and "dishub" in err

    assert run(monkeypatch, "add", "budi", "--role", "admin", "--password-stdin", stdin=PASSWORD) == 2
    assert "command, viewer or agency:<key>" in capsys.readouterr().err

    assert run(monkeypatch, "add", "budi", "--role", "viewer", "--password-stdin", stdin="pendek\n") == 1
    assert "at least 10 characters" in capsys.readouterr().err
    assert account(env, "budi") is None

    assert run(monkeypatch, "add", "bu di", "--role", "viewer", "--password-stdin", stdin=PASSWORD) == 1
    assert "username" in capsys.readouterr().err

    assert run(monkeypatch, "add", "budi", "--role", "viewer", "--password-stdin", stdin=PASSWORD) == 0
    assert run(monkeypatch, "add", "Budi", "--role", "command", "--password-stdin", stdin=PASSWORD) == 1
    assert "exists already" in capsys.readouterr().err

    assert run(monkeypatch, "passwd", "siapa", "--password-stdin", stdin=PASSWORD) == 2
    assert "No account named 'siapa'" in capsys.readouterr().err
    assert run(monkeypatch, "disable", "siapa") == 2
    assert "No account named 'siapa'" in capsys.readouterr().err
    assert run(monkeypatch, "passwd", "budi", "--password-stdin", stdin="short\n") == 1
    row = account(env, "budi")
    assert row is not None and row.version == 1 and verify(row.password_hash, PASSWORD)


def test_the_session_key_is_required_with_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.config import Settings
    from bot.web.secret import generate

    monkeypatch.delenv("SIKESAL_SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://sikesal@127.0.0.1/sikesal")
    with pytest.raises(SystemExit) as missing:
        cli._secret_key(Settings())
    assert "SIKESAL_SECRET_KEY" in str(missing.value) and "URL-safe base64" in str(missing.value)
    monkeypatch.setenv("SIKESAL_SECRET_KEY", "too-short")
    with pytest.raises(SystemExit) as bad:
        cli._secret_key(Settings())
    assert "32 random bytes" in str(bad.value) and "too-short" not in str(bad.value)
    key = generate()
    monkeypatch.setenv("SIKESAL_SECRET_KEY", key)
    assert cli._secret_key(Settings()) is not None
    assert key not in repr(Settings())
    monkeypatch.delenv("SIKESAL_SECRET_KEY")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///data/sikesal.db")
    assert cli._secret_key(Settings()) is None  # one process: the key is kept in the data directory
