"""The command centre's dashboard inside the playground: a demo account and the dashboard on the page's port.

The real app serves the dashboard (``/dashboard/``), Open311 (``/open311/v2/``) and stored photos (``/media/``)
on its own web server, on a free port of 127.0.0.1 chosen at every start. The playground passes those paths
through from its own port (:func:`proxy_routes`), so the page's header links to ``/dashboard/`` on the same
address a visitor already has open, and the link survives a reset. The client's address goes along as
``X-Forwarded-For`` (the app trusts 127.0.0.1 as its proxy here), so one visitor's wrong passwords slow down
that visitor, not everyone.

At every start and reset (the database is new each time) the playground creates one command-centre account,
:data:`DEMO_USERNAME` with a random password made once per playground (:class:`DemoAccount`), printed by
``sikesal playground`` and shown on the page so a visitor can sign in.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from bot.app import SikesalApp
from bot.web.passwords import hash_password_async
from storage.accounts import WebAccountRepo
from storage.uow import UnitOfWork

#: the demo account's name: the Jambi Command Center (JCOC), whose dashboard this is
DEMO_USERNAME = "jcoc"
DEMO_ROLE = "command"
#: the app's paths the playground serves from its own port
PREFIXES = ("/dashboard", "/open311", "/media")
#: headers that belong to one connection, never forwarded
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "transfer-encoding", "upgrade", "host", "content-length"})
CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class DemoAccount:
    """The playground's command-centre account (the password lives as long as the playground process)."""

    username: str
    password: str
    role: str = DEMO_ROLE
    path: str = "/dashboard/"

    @classmethod
    def generate(cls) -> DemoAccount:
        return cls(DEMO_USERNAME, secrets.token_urlsafe(9))

    def to_dict(self) -> dict[str, str]:
        return {"url": self.path, "username": self.username, "password": self.password, "role": self.role}


async def create_demo_account(app: SikesalApp, account: DemoAccount) -> None:
    """Create (or re-key) the demo account in the app's database, as ``sikesal user add`` would."""
    assert app.runtime is not None, "the app is not started"
    password_hash = await hash_password_async(account.password)
    async with UnitOfWork(app.runtime.sessionmaker) as uow:
        accounts = WebAccountRepo(uow.session)
        row = await accounts.by_username(account.username)
        if row is None:
            await accounts.add(account.username, password_hash, account.role, app.runtime.clock())
        else:
            await accounts.set_password(row, password_hash)
        await uow.commit()


class DashboardProxy:
    """Passes ``/dashboard``, ``/open311`` and ``/media`` requests to the running app's web server."""

    def __init__(self, upstream: Callable[[], str | None]) -> None:
        #: the app's base URL now (None while a reset has no app running)
        self.upstream = upstream
        self._session: aiohttp.ClientSession | None = None

    def routes(self) -> list[web.RouteDef]:
        routes: list[web.RouteDef] = []
        for prefix in PREFIXES:
            routes.append(web.route("*", prefix, self.handle))
            routes.append(web.route("*", prefix + "/{tail:.*}", self.handle))
        return routes

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        base = self.upstream()
        if base is None:
            return web.Response(status=503, text="The bot is restarting (reset); try again in a moment.",
                                headers={"Retry-After": "2"})
        if self._session is None:
            # bytes pass through untouched (no decompression), redirects go back to the browser
            self._session = aiohttp.ClientSession(auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())
        headers = CIMultiDict((k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP)
        forwarded = request.headers.get("X-Forwarded-For")
        remote = request.remote or "127.0.0.1"
        headers["X-Forwarded-For"] = f"{forwarded}, {remote}" if forwarded else remote
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = request.host
        body = await request.read() if request.body_exists else None
        try:
            upstream = await self._session.request(request.method, base + request.rel_url.raw_path_qs,
                                                   headers=headers, data=body, allow_redirects=False)
        except aiohttp.ClientError:
            return web.Response(status=502, text="The bot's web server did not answer.")
        async with upstream:
            response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    response.headers.add(key, value)
            if upstream.headers.get("Content-Length") is not None:
                response.content_length = int(upstream.headers["Content-Length"])
            await response.prepare(request)
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
            await response.write_eof()
        return response


__all__ = ["DEMO_USERNAME", "DashboardProxy", "DemoAccount", "create_demo_account"]
