"""Signed media links (bot.media_links): what a link names, how long it works, and what the web handler
answers for good, forged, expired and traversing requests, served from a real aiohttp server."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import yaml
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import ConfigError, Settings, load_config
from bot.media_links import PREFIX, MediaLinks, MediaServer, secret_for
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.media import MediaStore
from storage.uow import UnitOfWork

SECRET = secret_for("123456:TEST-token")
NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SHA = hashlib.sha256(PNG).hexdigest()


def links(public_url: str | None = "https://sikesal.example", now: datetime = NOW) -> MediaLinks:
    return MediaLinks(SECRET, public_url=public_url, ttl=timedelta(hours=1), clock=lambda: now)


def parts(url: str) -> tuple[str, str, str]:
    expires, signature, name = url.rsplit("/", 3)[-3:]
    return expires, signature, name


def test_a_link_names_one_file_until_one_moment() -> None:
    url = links().url(SHA, "image/png")
    assert url is not None and url.startswith(f"https://sikesal.example{PREFIX}/")
    expires, signature, name = parts(url)
    assert name == f"{SHA}.png" and int(expires) == int((NOW + timedelta(hours=1)).timestamp())
    assert len(signature) == 43
    assert links().check(SHA, expires, signature) == 200
    assert links(now=NOW + timedelta(minutes=59)).check(SHA, expires, signature) == 200
    assert links(now=NOW + timedelta(minutes=61)).check(SHA, expires, signature) == 410


@pytest.mark.parametrize("tamper", ["sha", "expires", "signature", "secret"])
def test_anything_changed_in_a_link_is_refused(tamper: str) -> None:
    expires, signature, _name = parts(links().url(SHA, "image/png") or "")
    sha = hashlib.sha256(b"other").hexdigest() if tamper == "sha" else SHA
    if tamper == "expires":
        expires = str(int(expires) + 86400)  # a longer life is not something the holder can give itself
    if tamper == "signature":
        signature = ("B" if signature[0] == "A" else "A") + signature[1:]
    checker = MediaLinks(secret_for("another-token")) if tamper == "secret" else links()
    assert checker.check(sha, expires, signature) == 403


def test_malformed_parts_are_refused_without_raising() -> None:
    assert links().check("../../etc/passwd", "1", "x" * 43) == 403
    assert links().check(SHA, "-5", "x" * 43) == 403
    assert links().check(SHA, "12", "short") == 403


def test_without_a_public_url_there_are_no_links_but_paths_are_checked() -> None:
    assert links(public_url=None).url(SHA, "image/png") is None
    path = links(public_url=None).path(SHA, "image/jpeg")
    assert path.startswith(f"{PREFIX}/") and path.endswith(".jpg")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError):
        MediaLinks(b"short")


@pytest_asyncio.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[str, MediaLinks]]:
    """A real web server with one stored PNG and the media route, on SQLite."""
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'media.db'}")
    await upgrade_database(engine)
    sessionmaker: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
    store = MediaStore(tmp_path / "media")
    # a file as an older version stored it (MediaStore.put re-encodes, as JPEG): served with its own type
    store.path_for(f"{SHA[:2]}/{SHA[2:4]}/{SHA}.png").parent.mkdir(parents=True)
    store.path_for(f"{SHA[:2]}/{SHA[2:4]}/{SHA}.png").write_bytes(PNG)
    async with UnitOfWork(sessionmaker) as uow:
        await uow.media.upsert(SHA, f"{SHA[:2]}/{SHA[2:4]}/{SHA}.png", "image/png", len(PNG))
        await uow.commit()
    app = web.Application()
    clock_links = MediaLinks(SECRET, ttl=timedelta(hours=1))  # the real clock
    app.add_routes(MediaServer(clock_links, sessionmaker, store).routes())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    base = f"http://127.0.0.1:{port}"
    try:
        yield base, MediaLinks(SECRET, public_url=base, ttl=timedelta(hours=1))
    finally:
        await runner.cleanup()
        await engine.dispose()


async def test_the_server_serves_a_good_link_and_refuses_the_rest(served: tuple[str, MediaLinks]) -> None:
    base, signer = served
    good = signer.url(SHA, "image/png")
    assert good is not None
    expires, signature, name = parts(good)
    missing = hashlib.sha256(b"not stored").hexdigest()
    async with aiohttp.ClientSession() as session:
        async with session.get(good) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "image/png"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert await response.read() == PNG
        async with session.head(good) as response:
            assert response.status == 200
        cases = {
            f"{base}{PREFIX}/{expires}/{'A' * 43}/{name}": 403,
            signer.url(SHA, "image/png", expires=1) or "": 410,
            signer.url(missing, "image/png", expires=1) or "": 410,  # expired: whether it exists is not said
            f"{base}{PREFIX}/{expires}/{'A' * 43}/{missing}.png": 403,
            signer.url(missing, "image/png") or "": 404,  # only a link we signed learns a file is gone
            f"{base}{PREFIX}/{expires}/{signature}/..%2F..%2Fmedia.db": 404,
            f"{base}{PREFIX}/{expires}/{signature}/../../media.db": 404,
            f"{base}{PREFIX}/": 404,
        }
        for url, status in cases.items():
            async with session.get(url) as response:
                assert response.status == status, url
                assert PNG not in await response.read()


# --- configuration ----------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]


def test_the_sample_configuration_names_the_window_and_the_link_life() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.relay.ask_window_hours > 0 and config.media_links.ttl_minutes == 60


@pytest.mark.parametrize(("section", "values", "named"), [
    ("relay", {"ask_window_hours": -1}, "relay.ask_window_hours"),
    ("relay", {"ask_window_hours": 24 * 30}, "relay.ask_window_hours"),
    ("media_links", {"ttl_minutes": 0}, "media_links.ttl_minutes"),
    ("relay", {"ask_window": 3}, "relay.ask_window"),
])
def test_bad_relay_and_link_settings_stop_the_start_naming_the_key(
    tmp_path: Path, section: str, values: dict[str, object], named: str
) -> None:
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw[section] = values
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        load_config(path)


def test_the_media_secret_comes_from_the_environment_and_must_be_long_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIKESAL_MEDIA_SECRET", "x" * 32)
    assert Settings(_env_file=None).media_secret == "x" * 32  # type: ignore[call-arg]
    monkeypatch.setenv("SIKESAL_MEDIA_SECRET", "short")
    with pytest.raises(ValidationError):
        Settings(_env_file=None)  # type: ignore[call-arg]
