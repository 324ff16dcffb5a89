"""The playground shows the command-centre dashboard: a header link, a demo account made at start (and again
after a reset, which empties the database), the dashboard served on the playground's own port."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
import pytest

from bot.config import AppConfig
from bot.playground import Playground, run_playground
from bot.playground.dashboard import DEMO_USERNAME, DemoAccount
from tests.playground.conftest import Client

pytestmark = pytest.mark.e2e

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(base: str, username: str, password: str) -> tuple[aiohttp.ClientSession, aiohttp.ClientResponse]:
    """A browser-like session (cookies for 127.0.0.1 kept) that posted the login form through the playground."""
    session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.get(base + "/dashboard/login") as response:
        assert response.status == 200
        form = await response.text()
    token = CSRF.search(form)
    assert token, form
    response = await session.post(base + "/dashboard/login", allow_redirects=False, data={
        "csrf_token": token.group(1), "username": username, "password": password, "next": "/dashboard/"})
    await response.read()
    return session, response


async def test_the_demo_account_signs_in_through_the_playground_port(
    client: Client, playground: Playground
) -> None:
    world = await client.get("/api/world")
    account = world["dashboard"]
    assert account["username"] == DEMO_USERNAME and account["role"] == "command"
    assert account["url"] == "/dashboard/" and len(account["password"]) >= 10
    async with client.session.get(client.base + "/") as response:
        page = await response.text()
    assert 'href="/dashboard/"' in page and "/static/dashboard.js" in page

    session, response = await sign_in(playground.url, account["username"], account["password"])
    async with session:
        assert response.status in (302, 303), "a good password is sent on to the dashboard"
        assert response.headers["Location"].startswith("/dashboard/")
        async with session.get(playground.url + "/dashboard/", allow_redirects=False) as overview:
            assert overview.status == 200, "signed in: the overview"
            assert "jcoc" in await overview.text()

    wrong, response = await sign_in(playground.url, account["username"], "not-the-password")
    async with wrong:
        assert response.status in (200, 401, 403), "a wrong password is refused"
        async with wrong.get(playground.url + "/dashboard/", allow_redirects=False) as overview:
            assert overview.status in (302, 303)

    await client.post("/api/reset")
    assert (await client.get("/api/world"))["dashboard"] == account, "a reset keeps the account and password"
    session, response = await sign_in(playground.url, account["username"], account["password"])
    async with session:
        assert response.status in (302, 303), "the new database has the demo account again"


async def test_run_playground_tells_the_dashboard_address_and_account(config: AppConfig, tmp_path: Path) -> None:
    told: list[tuple[str, DemoAccount]] = []
    stop = asyncio.Event()

    def dashboard(url: str, account: DemoAccount) -> None:
        told.append((url, account))
        stop.set()

    await asyncio.wait_for(run_playground(config, database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
                                          media_dir=tmp_path / "media", port=0, dashboard=dashboard, stop=stop), 60)
    assert len(told) == 1
    url, account = told[0]
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/dashboard/", url)
    assert account.username == DEMO_USERNAME and account.role == "command"
