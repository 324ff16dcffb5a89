"""Test kit for the dashboard: the real app (like tests/e2e's ``world``) plus signed-in web sessions.

* ``web_world`` (fixture, in tests/web/conftest.py): a :class:`WebWorld` -- the real SikesalApp against the
  local Telegram server, on SQLite and PostgreSQL (the shared ``database_url`` fixture), with a movable
  clock (``world.clock.advance(hours=13)``). The dashboard is at ``world.dashboard_url`` (= ``world.app.http_url
  + "/dashboard/"``).
* ``await signed_in(world, role="command"|"agency:pupr"|"viewer", username=None, password=...)``: creates the
  account (storage.accounts, argon2 like ``sikesal user add``), signs in through the real login form and
  returns an ``aiohttp.ClientSession`` holding the session cookie (closed with the world). Its
  ``headers`` are empty; POST with ``data={"csrf_token": csrf_of(html), ...}`` or the header
  ``X-CSRF-Token``.
* ``csrf_of(html)``: the CSRF token of a dashboard page (any page with a form or the logout button).
* ``start_web_app(...)``: the app with options ``web_world`` does not set (trusted proxies, a config).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest_asyncio

from bot.app import SikesalApp
from bot.config import AppConfig
from bot.web.passwords import hash_password_async
from handlers.web_roles import parse_role
from localapi.telegram import TelegramServer
from storage.accounts import WebAccountRepo
from storage.uow import UnitOfWork
from tests.e2e.conftest import FAST, TOKEN, World, free_port

DEFAULT_PASSWORD = "kata-sandi-rahasia-123"
_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


class Clock:
    """The app's clock: real time plus whatever the test moved it forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


@dataclass
class WebWorld(World):
    clock: Clock = field(default_factory=Clock)
    #: web sessions opened by :func:`signed_in` / :func:`browser`, closed with the world
    clients: list[aiohttp.ClientSession] = field(default_factory=list)

    @property
    def dashboard_url(self) -> str:
        return self.app.http_url + "/dashboard/"

    def url(self, path: str) -> str:
        """``/dashboard/...`` (or any app path) as an absolute URL."""
        return self.app.http_url + path

    async def close_clients(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()


async def start_web_app(
    tmp: Path,
    server: TelegramServer,
    config: AppConfig,
    database_url: str,
    *,
    clock: Callable[[], datetime] | None = None,
    trusted_proxies: tuple[str, ...] = (),
    secret_key: bytes | None = None,
) -> SikesalApp:
    """The real app against the local Telegram server (as tests/e2e's ``start_app``), with the dashboard's
    own options."""
    port = free_port()
    app = SikesalApp(
        config,
        database_url=database_url,
        media_dir=tmp / "media",
        token=TOKEN,
        api_base=server.base_url,
        clock=clock,
        polling_timeout=1,
        rate_limits=FAST,
        sweep_interval=3600,
        http_host="127.0.0.1",
        http_port=port,
        public_url=f"http://127.0.0.1:{port}",
        secret_key=secret_key or secrets.token_bytes(32),
        trusted_proxies=trusted_proxies,
    )
    await app.start()
    return app


@pytest_asyncio.fixture
async def web_world(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path
) -> AsyncIterator[WebWorld]:
    clock = Clock()
    app = await start_web_app(tmp_path, server, config, database_url, clock=clock)
    world = WebWorld(server=server, app=app, config=config, tmp=tmp_path, clock=clock)
    try:
        yield world
    finally:
        await world.close_clients()
        await app.stop()


def csrf_of(html: str) -> str:
    """The CSRF token in a dashboard page's forms."""
    found = _CSRF.search(html)
    assert found is not None, "no csrf_token field in the page"
    return found.group(1)


def browser(world: WebWorld, **headers: str) -> aiohttp.ClientSession:
    """A fresh cookie-keeping client (not signed in), closed with the world. Redirects are not followed
    unless a request asks for it (``allow_redirects=True``)."""
    client = aiohttp.ClientSession(
        cookie_jar=aiohttp.CookieJar(unsafe=True),  # the app listens on 127.0.0.1: an IP host
        headers=headers or None,
    )
    world.clients.append(client)
    return client


async def create_account(world: World, username: str, password: str = DEFAULT_PASSWORD, role: str = "command") -> int:
    """A dashboard account, stored as ``sikesal user add`` stores it; returns its id."""
    assert world.app.runtime is not None
    parse_role(role, set(world.config.agencies))
    password_hash = await hash_password_async(password)
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        account = await WebAccountRepo(uow.session).add(
            username, password_hash, role, world.app.runtime.clock()
        )
        await uow.commit()
        return account.id


async def log_in(
    client: aiohttp.ClientSession, world: WebWorld, username: str, password: str, *, next_path: str | None = None,
    headers: dict[str, str] | None = None,
) -> aiohttp.ClientResponse:
    """Open the login page, post the form (with its token); the response is not followed (302 on success)."""
    async with client.get(world.url("/dashboard/login"), headers=headers) as page:
        assert page.status == 200, page.status
        token = csrf_of(await page.text())
    form = {"csrf_token": token, "username": username, "password": password}
    if next_path is not None:
        form["next"] = next_path
    response = await client.post(
        world.url("/dashboard/login"), data=form, allow_redirects=False, headers=headers
    )
    await response.read()
    return response


async def session_token(client: aiohttp.ClientSession, world: WebWorld) -> str:
    """The signed-in session's CSRF token, read from a page of the auth module's own (a refused POST shows
    the frame with its logout form), so it does not depend on any other page existing."""
    async with client.post(world.url("/dashboard/logout"), allow_redirects=False) as refused:
        assert refused.status == 403, refused.status
        return csrf_of(await refused.text())


async def signed_in(
    world: WebWorld, role: str = "command", username: str | None = None, password: str = DEFAULT_PASSWORD,
) -> aiohttp.ClientSession:
    """A client signed in as a new account with ``role`` (a name made up from the role unless given)."""
    name = username or f"{role.replace(':', '-')}-{secrets.token_hex(3)}"
    await create_account(world, name, password, role)
    client = browser(world)
    response = await log_in(client, world, name, password)
    assert response.status == 302, f"sign-in failed: {response.status}"
    async with client.get(world.dashboard_url, allow_redirects=False) as home:
        assert home.status != 302 or "/login" not in home.headers.get("Location", ""), "not signed in"
    return client


__all__ = [
    "DEFAULT_PASSWORD",
    "Clock",
    "WebWorld",
    "browser",
    "create_account",
    "csrf_of",
    "log_in",
    "session_token",
    "signed_in",
    "start_web_app",
    "web_world",
]
