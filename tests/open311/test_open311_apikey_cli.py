"""``sikesal apikey add|revoke|list`` through the real command line: the key alone on the last line of
``add``, only its sha256 stored, ``revoke`` effective at once, ``list`` without keys."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import main
from storage.api_keys import ApiKeyRepo
from storage.db import make_engine, make_sessionmaker
from storage.models import ApiKey
from storage.uow import UnitOfWork


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def rows(url: str) -> list[tuple[str, str, bool]]:
    async def read() -> list[tuple[str, str, bool]]:
        engine = make_engine(url)
        try:
            async with UnitOfWork(make_sessionmaker(engine)) as uow:
                found = (await uow.session.execute(select(ApiKey).order_by(ApiKey.name))).scalars()
                return [(r.name, r.key_hash, r.revoked_at is not None) for r in found]
        finally:
            await engine.dispose()
    return asyncio.run(read())


def active(url: str, key: str) -> bool:
    async def read() -> bool:
        engine = make_engine(url)
        try:
            async with UnitOfWork(make_sessionmaker(engine)) as uow:
                return await ApiKeyRepo(uow.session).active_for(key) is not None
        finally:
            await engine.dispose()
    return asyncio.run(read())


def test_add_prints_the_key_alone_on_its_last_line_and_stores_only_its_hash(
    database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apikey", "add", "jaki-app"]) == 0
    out = capsys.readouterr().out
    key = out.rstrip("\n").splitlines()[-1]
    assert len(key) >= 40 and " " not in key
    [(name, key_hash, revoked)] = rows(database)
    assert name == "jaki-app" and not revoked
    assert key_hash == hashlib.sha256(key.encode()).hexdigest() and key not in key_hash
    assert active(database, key)

    assert main(["apikey", "add", "jaki-app"]) == 1  # the name is taken
    assert "exists" in capsys.readouterr().err

    assert main(["apikey", "list"]) == 0
    listing = capsys.readouterr().out
    assert "jaki-app" in listing and "active" in listing and key not in listing

    assert main(["apikey", "revoke", "jaki-app"]) == 0
    capsys.readouterr()
    assert not active(database, key)
    assert rows(database)[0][2] is True
    assert main(["apikey", "list"]) == 0
    assert "revoked" in capsys.readouterr().out

    assert main(["apikey", "revoke", "nobody"]) == 2
    assert "No application" in capsys.readouterr().err


def test_list_without_keys(database: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["apikey", "list"]) == 0
    assert "No API keys" in capsys.readouterr().out
