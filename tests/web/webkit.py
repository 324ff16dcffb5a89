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

The stand-in kit (for tests of one dashboard module's routes without the real sign-in):

* ``runtime`` (fixture): a Runtime on the shared ``sessionmaker`` with the sample config whose clock stands at
  :data:`NOW`; ``sample_citizen()`` and ``sample_complaint(n, citizen_id, **fields)`` for the seeds.
* ``stand_in_clients(runtime, *routes, ...)``: an async context manager giving a :class:`StandIn`, which makes
  ``TestClient``s of an app with those routes behind a stand-in for the sign-in middleware
  (``await make("agency:pupr")``, ``None``: nobody signed in) and closes them on exit; a module's
  ``client_for`` fixture is ``async with stand_in_clients(...) as make: yield make``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import aiohttp_jinja2
import aiohttp_session
import jinja2
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import SikesalApp
from bot.config import AppConfig, load_config
from bot.services.runtime import Runtime
from bot.web import TEMPLATES_DIR
from bot.web.context import ACCOUNT, CSRF_TOKEN, LANG, WEB, WebContext
from bot.web.passwords import hash_password_async
from handlers.web_roles import Account, parse_role
from localapi.telegram import TelegramServer
from storage.accounts import WebAccountRepo
from storage.media import MediaStore
from storage.models import Citizen, Complaint
from storage.uow import UnitOfWork
from tests.clocks import ShiftedClock as Clock
from tests.e2e.conftest import FAST, TOKEN, World, free_port

DEFAULT_PASSWORD = "kata-sandi-rahasia-123"
_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
ROOT = Path(__file__).resolve().parents[2]
#: the stand-in tests' clock (the ``runtime`` fixture's): 12:00 in Jambi
NOW = datetime(2026, 11, 20, 5, 0, tzinfo=UTC)
#: the seeded citizen's name and Telegram id (which no page or export may show)
NAME = "Siti Rahmawati"
CHANNEL_ID = "987654321"


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


# -- the stand-in kit: one module's routes behind a stand-in sign-in ------------------------------------

WebClient = TestClient[web.Request, web.Application]


@pytest_asyncio.fixture
async def runtime(sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path) -> Runtime:
    rt = Runtime(config=load_config(ROOT / "config.yaml"), sessionmaker=sessionmaker,
                 media=MediaStore(tmp_path / "media"))
    rt.clock = lambda: NOW
    return rt


def sample_citizen() -> Citizen:
    """The seeds' citizen: named :data:`NAME`, sharing the name, on Telegram as :data:`CHANNEL_ID`."""
    return Citizen(channel="telegram", channel_user_id=CHANNEL_ID, display_name=NAME, share_name=True)


def sample_complaint(n: int, citizen_id: int, **fields: object) -> Complaint:
    """Complaint ``JMB-2026-<n>``: a new pupr "jalan" one with a pin in Telanaipura, filed three days before
    :data:`NOW`, due a day after it, by :data:`NAME`; ``fields`` override any column."""
    values: dict[str, object] = dict(
        number=f"JMB-2026-{n:06d}", citizen_id=citizen_id, category="jalan", agency="pupr",
        description=f"Jalan berlubang nomor {n}", latitude=-1.61, longitude=103.61, address="Jl. Sudirman",
        kecamatan="Telanaipura", kelurahan="Simpang IV Sipin", status="baru",
        created_at=NOW - timedelta(days=3), updated_at=NOW - timedelta(days=2),
        due_at=NOW + timedelta(days=1), reporter_name=NAME,
    )
    values.update(fields)
    return Complaint(**values)


def setup_templates(app: web.Application) -> None:
    """The dashboard's templates, as bot.web sets them up."""
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                         autoescape=jinja2.select_autoescape(default=True), undefined=jinja2.StrictUndefined)


class StandIn:
    """Makes clients of apps with ``routes`` behind a stand-in for the sign-in middleware, which puts
    ``role``'s account (``None``: none) and the language in the request; closes them with :meth:`close`.

    Options: ``lang_from_query`` (``?lang=`` wins over the client's language), ``csrf`` (the request's CSRF
    token), ``templates`` (the dashboard's), ``session`` (a plain cookie session, outermost) and
    ``middlewares`` (inside the stand-in)."""

    def __init__(
        self, runtime: Runtime, routes: Sequence[Iterable[web.AbstractRouteDef]], *, lang_from_query: bool = False,
        csrf: str | None = None, templates: bool = False, session: bool = False,
        middlewares: Sequence[Middleware] = (),
    ) -> None:
        self.runtime = runtime
        self.routes = routes
        self.lang_from_query = lang_from_query
        self.csrf = csrf
        self.templates = templates
        self.session = session
        self.middlewares = middlewares
        self.clients: list[WebClient] = []

    def app(self, role: str | None, lang: str = "id") -> web.Application:
        lang_from_query, csrf = self.lang_from_query, self.csrf

        @web.middleware
        async def signed_in(request: web.Request, handler: Handler) -> web.StreamResponse:
            if role is not None:
                request[ACCOUNT] = Account(1, "tester", parse_role(role), 1)
            request[LANG] = request.query.get("lang", lang) if lang_from_query else lang
            if csrf is not None:
                request[CSRF_TOKEN] = csrf
            return await handler(request)

        app = web.Application()
        if self.session:
            aiohttp_session.setup(app, aiohttp_session.SimpleCookieStorage())
        app.middlewares.extend([signed_in, *self.middlewares])
        app[WEB] = WebContext(self.runtime, secret_key=b"k" * 32)
        if self.templates:
            setup_templates(app)
        for table in self.routes:
            app.add_routes(table)
        return app

    async def __call__(self, role: str | None, lang: str = "id") -> WebClient:
        """A started client of a new app, signed in as ``role``, in ``lang``."""
        client = TestClient(TestServer(self.app(role, lang)))
        await client.start_server()
        self.clients.append(client)
        return client

    async def close(self) -> None:
        for client in self.clients:
            await client.close()
        self.clients.clear()


@asynccontextmanager
async def stand_in_clients(
    runtime: Runtime, *routes: Iterable[web.AbstractRouteDef], lang_from_query: bool = False,
    csrf: str | None = None, templates: bool = False, session: bool = False,
    middlewares: Sequence[Middleware] = (),
) -> AsyncIterator[StandIn]:
    """A :class:`StandIn` whose clients are closed on the way out (see its options)."""
    make = StandIn(runtime, routes, lang_from_query=lang_from_query, csrf=csrf, templates=templates,
                   session=session, middlewares=middlewares)
    try:
        yield make
    finally:
        await make.close()


__all__ = [
    "CHANNEL_ID",
    "DEFAULT_PASSWORD",
    "NAME",
    "NOW",
    "Clock",
    "StandIn",
    "WebClient",
    "WebWorld",
    "browser",
    "create_account",
    "csrf_of",
    "log_in",
    "runtime",
    "sample_citizen",
    "sample_complaint",
    "session_token",
    "setup_templates",
    "signed_in",
    "stand_in_clients",
    "start_web_app",
    "web_world",
]
