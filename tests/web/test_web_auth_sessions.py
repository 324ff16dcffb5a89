"""Sessions of the dashboard on the real app (SQLite and PostgreSQL): CSRF, the ``next`` parameter, the
language, and the ways a session ends.

What it proves: a POST without the session's CSRF token (form field, header or query parameter), or with a
wrong one, is refused with 403 and a friendly page, the login form included; ``next`` brings you back to a
dashboard path and never to another site; ``sikesal user passwd`` and ``disable`` end an open session on its
next request; a session ends ``session_hours`` after sign-in (the app's clock moved); ``?lang=en`` switches the
pages to English and is remembered."""

from __future__ import annotations

import sys
from io import StringIO

import aiohttp
import pytest

from bot.ops import accounts_cli
from tests.web.webkit import (
    DEFAULT_PASSWORD,
    WebWorld,
    browser,
    create_account,
    csrf_of,
    log_in,
    session_token,
    signed_in,
)

pytestmark = pytest.mark.e2e


async def is_signed_in(client: aiohttp.ClientSession, world: WebWorld) -> bool:
    async with client.get(world.url("/dashboard/complaints"), allow_redirects=False) as page:
        return not (page.status == 302 and page.headers["Location"].startswith("/dashboard/login"))


async def test_csrf_token_is_required_on_every_post(web_world: WebWorld) -> None:
    anonymous = browser(web_world)
    async with anonymous.post(web_world.url("/dashboard/login"),
                              data={"username": "x", "password": DEFAULT_PASSWORD}) as refused:
        assert refused.status == 403
        assert "Formulir kedaluwarsa" in await refused.text()

    client = await signed_in(web_world)
    token = await session_token(client, web_world)
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": token + "x"}):
        async with client.post(web_world.url("/dashboard/logout"), data=data, allow_redirects=False) as refused:
            assert refused.status == 403, data
    async with client.post(web_world.url("/dashboard/logout"), headers={"X-CSRF-Token": "nope"},
                           allow_redirects=False) as refused:
        assert refused.status == 403
    assert await is_signed_in(client, web_world)
    # the token in a header (scripts) or the query (multipart forms) is accepted as well as in the form
    async with client.post(web_world.url("/dashboard/logout"), headers={"X-CSRF-Token": token},
                           allow_redirects=False) as out:
        assert out.status == 302
    assert not await is_signed_in(client, web_world)

    client = await signed_in(web_world)
    token = await session_token(client, web_world)
    body = aiohttp.FormData()
    body.add_field("photo", b"\xff\xd8\xff", filename="a.jpg", content_type="image/jpeg")
    async with client.post(web_world.url(f"/dashboard/logout?csrf_token={token}"), data=body,
                           allow_redirects=False) as out:
        assert out.status == 302
    assert not await is_signed_in(client, web_world)


async def test_a_post_without_a_session_is_401(web_world: WebWorld) -> None:
    anonymous = browser(web_world)
    async with anonymous.post(web_world.url("/dashboard/complaints/1/actions"), data={"csrf_token": "x"},
                              allow_redirects=False) as refused:
        assert refused.status == 401
        assert "Perlu masuk" in await refused.text()


async def test_next_only_leads_to_dashboard_paths(web_world: WebWorld) -> None:
    await create_account(web_world, "rina")
    anonymous = browser(web_world)
    async with anonymous.get(web_world.url("/dashboard/complaints?status=open"), allow_redirects=False) as page:
        assert page.status == 302
        assert page.headers["Location"] == "/dashboard/login?next=/dashboard/complaints?status%3Dopen"
    for evil in ("https://evil.example/dashboard/", "//evil.example/dashboard/", "/\\evil.example",
                 "/dashboard/../../evil", "javascript:alert(1)", "/dashboard\r\nSet-Cookie: x=1"):
        client = browser(web_world)
        response = await log_in(client, web_world, "rina", DEFAULT_PASSWORD, next_path=evil)
        assert response.status == 302
        assert response.headers["Location"] == "/dashboard/", evil
    client = browser(web_world)
    response = await log_in(client, web_world, "rina", DEFAULT_PASSWORD, next_path="/dashboard/complaints?status=open")
    assert response.headers["Location"] == "/dashboard/complaints?status=open"


async def test_passwd_and_disable_end_open_sessions(web_world: WebWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    assert web_world.app.runtime is not None
    sessionmaker = web_world.app.runtime.sessionmaker
    first = await signed_in(web_world, username="budi")
    second = await signed_in(web_world, role="viewer", username="sari")
    assert await is_signed_in(first, web_world) and await is_signed_in(second, web_world)

    monkeypatch.setattr(sys, "stdin", StringIO("sandi-yang-baru-sekali\n"))
    assert (await accounts_cli.passwd(sessionmaker, "budi", True))[0] == 0
    async with first.get(web_world.url("/dashboard/complaints"), allow_redirects=False) as page:
        assert page.status == 302
        assert page.headers["Location"].startswith("/dashboard/login?")
        assert "ended=1" in page.headers["Location"]
    async with first.get(web_world.url("/dashboard/login?ended=1")) as login:
        assert "Sesi Anda telah berakhir" in await login.text()
    assert await is_signed_in(second, web_world)
    assert (await log_in(first, web_world, "budi", DEFAULT_PASSWORD)).status == 200  # the old password is gone
    assert (await log_in(first, web_world, "budi", "sandi-yang-baru-sekali")).status == 302

    assert (await accounts_cli.set_disabled(sessionmaker, "sari", disabled=True, now=web_world.clock()))[0] == 0
    assert not await is_signed_in(second, web_world)
    refused = await log_in(second, web_world, "sari", DEFAULT_PASSWORD)
    assert refused.status == 200
    assert "Nama pengguna atau kata sandi salah." in (await refused.read()).decode()
    assert await is_signed_in(first, web_world)


async def test_a_session_expires_after_session_hours(web_world: WebWorld) -> None:
    client = await signed_in(web_world)
    web_world.clock.advance(hours=web_world.config.dashboard.session_hours - 0.1)
    assert await is_signed_in(client, web_world)
    web_world.clock.advance(hours=0.2)
    assert not await is_signed_in(client, web_world)


async def test_language_switch_is_remembered(web_world: WebWorld) -> None:
    client = browser(web_world)
    async with client.get(web_world.url("/dashboard/login")) as page:
        assert "Masuk ke dasbor" in await page.text()
    async with client.get(web_world.url("/dashboard/login?lang=en")) as page:
        assert "Sign in to the dashboard" in await page.text()
    async with client.get(web_world.url("/dashboard/login")) as page:
        html = await page.text()
        assert "Sign in to the dashboard" in html and '<html lang="en">' in html
    await create_account(web_world, "lina")
    wrong = await log_in(client, web_world, "lina", "salah-salah-salah")
    assert "Wrong username or password." in (await wrong.read()).decode()
    assert csrf_of((await wrong.read()).decode())
