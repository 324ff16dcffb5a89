"""Sign-in, sessions, CSRF and login throttling for the dashboard (issue 13).

* **Sessions** live in an encrypted, signed cookie (``sikesal_session``; aiohttp-session's
  ``EncryptedCookieStorage`` keyed with ``SIKESAL_SECRET_KEY``, :mod:`bot.web.secret`), HttpOnly, SameSite=Lax,
  Secure when the public address is https, scoped to ``/dashboard/``. It holds the account id and the
  account's ``version``, the sign-in time (the runtime clock), the CSRF token and the language. On every
  request the account row is read (one small query): a different version (``sikesal user passwd`` /
  ``disable`` bump it), a disabled account, or a sign-in older than ``dashboard.session_hours`` ends the
  session at once.
* **Sign-in is required** for every ``/dashboard/*`` path except the login page and the static files: a
  GET goes to the login page (``?next=`` brings the person back, for local ``/dashboard/`` paths only), any
  other method gets 401.
* **CSRF**: every POST (the login form too, with a token kept in the anonymous session) must carry the
  session's token in the form field ``csrf_token`` (urlencoded forms), the header ``X-CSRF-Token``, or the
  query parameter ``csrf_token`` (multipart forms, whose body is not read here); else 403.
* **Throttling** (:mod:`storage.accounts`): failures are counted per account name and per client address
  (:mod:`bot.web.client_address`); a blocked attempt gets 429 without its password being looked at. A
  browser that has signed in as the account before (the names are kept in its encrypted cookie) is not held
  by the account's counter, only by its address's: strangers' failures cannot keep the account out.
* **Security headers** on every dashboard response (frames denied, a strict Content-Security-Policy).

Passwords, hashes, the key and cookies are never logged.
"""

from __future__ import annotations

import functools
import hmac
import logging
import math
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp_session import Session, get_session, new_session, session_middleware
from aiohttp_session.cookie_storage import EncryptedCookieStorage
from yarl import URL

from bot.web import passwords
from bot.web.client_address import client_address
from bot.web.context import (
    ACCOUNT,
    CSRF_TOKEN,
    LANG,
    LANGUAGES,
    WEB,
    WebContext,
    account_of,
    language_of,
    render,
    t,
    web_context,
)
from handlers.web_roles import Account, RoleError, parse_role
from storage.accounts import LoginThrottleRepo, WebAccountRepo, address_key, user_key
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.web.auth")

COOKIE_NAME = "sikesal_session"
PREFIX = "/dashboard/"
LOGIN_PATH = "/dashboard/login"
LOGOUT_PATH = "/dashboard/logout"
STATIC_PREFIX = "/dashboard/static/"
HOME = "/dashboard/"
#: paths a visitor without an account may open (the static files are outside the session altogether)
PUBLIC_PATHS = frozenset({LOGIN_PATH, LOGOUT_PATH})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MAX_USERNAME = 64

# session keys
S_ACCOUNT = "account"
S_VERSION = "version"
S_SIGNED_IN = "signed_in"
S_CSRF = "csrf"
S_LANG = "lang"
#: the account names this browser has signed in as (kept through logout and expiry; the cookie is encrypted)
S_KNOWN = "known"
#: how many names a browser remembers
KNOWN_MAX = 5

#: script and style from the app only (no inline script), images also from data: URLs and https map tiles
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@functools.cache
def content_security_policy(tile_url: str) -> str:
    """:data:`CONTENT_SECURITY_POLICY`, plus the tile server's origin when it is plain http (a city's own
    tile server on its LAN): https tiles are already allowed, an http one would be blocked by ``https:``."""
    parts = urllib.parse.urlsplit(tile_url)
    if parts.scheme != "http" or not parts.netloc:
        return CONTENT_SECURITY_POLICY
    origin = f"http://{parts.netloc}"
    return CONTENT_SECURITY_POLICY.replace("img-src 'self' data: https:", f"img-src 'self' data: https: {origin}")


def _add_security_headers(headers: Any, policy: str = CONTENT_SECURITY_POLICY) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers[name] = value
    headers.setdefault("Content-Security-Policy", policy)


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The headers every dashboard response carries (also errors and redirects)."""
    policy = content_security_policy(request.config_dict[WEB].runtime.config.dashboard.map.tile_url)
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        _add_security_headers(exc.headers, policy)
        raise
    if not response.prepared:  # a streamed export set its headers before its first byte
        _add_security_headers(response.headers, policy)
    return response


def new_token() -> str:
    return secrets.token_urlsafe(32)


def safe_next(value: object) -> str:
    """``value`` when it is a path of this dashboard (never another host: no open redirect), else home."""
    if not isinstance(value, str) or not value.startswith(PREFIX) or len(value) > 2000:
        return HOME
    if "\\" in value or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return HOME
    try:
        url = URL(value)
    except ValueError:
        return HOME
    if url.is_absolute() or url.scheme or not url.path.startswith(PREFIX) or ".." in url.path.split("/"):
        return HOME
    if url.path in PUBLIC_PATHS:
        return HOME
    return value


def _now(ctx: WebContext) -> datetime:
    return ctx.runtime.clock()


def _session_seconds(ctx: WebContext) -> float:
    return float(ctx.runtime.config.dashboard.session_hours) * 3600


async def _current_account(ctx: WebContext, session: Session) -> Account | None:
    """The session's account when the session is still good (version, not disabled, not expired)."""
    account_id, version, signed_in = session.get(S_ACCOUNT), session.get(S_VERSION), session.get(S_SIGNED_IN)
    if not isinstance(account_id, int) or not isinstance(version, int) or not isinstance(signed_in, int | float):
        return None
    if _now(ctx).timestamp() - signed_in > _session_seconds(ctx):
        return None
    async with UnitOfWork(ctx.runtime.sessionmaker) as uow:
        row = await WebAccountRepo(uow.session).get(account_id)
        if row is None or row.disabled_at is not None or row.version != version:
            return None
        try:
            role = parse_role(row.role)
        except RoleError:
            return None
        return Account(id=row.id, username=row.username, role=role, version=row.version)


def _known_names(session: Session) -> list[str]:
    found = session.get(S_KNOWN)
    return [name for name in found if isinstance(name, str)][-KNOWN_MAX:] if isinstance(found, list) else []


def _end_session(session: Session) -> None:
    """Forget the account (the language, the CSRF token and the names signed in from here stay, so an open
    login form still works and a known browser is not slowed by strangers' failures)."""
    lang, token, known = session.get(S_LANG), session.get(S_CSRF), _known_names(session)
    session.clear()
    if lang in LANGUAGES:
        session[S_LANG] = lang
    if known:
        session[S_KNOWN] = known
    session[S_CSRF] = token if isinstance(token, str) and token else new_token()


async def _sent_token(request: web.Request) -> str:
    """The CSRF token the request carries (header, query, or urlencoded form field), or ''."""
    sent = request.headers.get(CSRF_HEADER) or request.query.get(CSRF_FIELD)
    if sent:
        return sent
    if request.content_type == "application/x-www-form-urlencoded":
        form = await request.post()  # cached: the handler reads the same form again
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def _message_page(request: web.Request, title: str, body: str, status: int) -> web.Response:
    return render(
        request, "auth_message.html",
        {"title": t(request, title), "body": t(request, body)},
        status=status,
    )


def _login_url(next_path: str | None = None, **params: str) -> str:
    query = dict(params)
    if next_path and next_path != HOME:
        query["next"] = next_path
    return str(URL(LOGIN_PATH).with_query(query)) if query else LOGIN_PATH


@web.middleware
async def sign_in_and_csrf(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The session's language, CSRF token and account on ``request``; sign-in and CSRF enforced."""
    if request.path.startswith(STATIC_PREFIX):
        return await handler(request)
    ctx = web_context(request)
    session = await get_session(request)
    chosen = request.query.get("lang")
    if chosen in LANGUAGES and session.get(S_LANG) != chosen:
        session[S_LANG] = chosen
    lang = session.get(S_LANG)
    request[LANG] = lang if lang in LANGUAGES else "id"
    token = session.get(S_CSRF)
    if not isinstance(token, str) or len(token) < 20:
        token = session[S_CSRF] = new_token()
    request[CSRF_TOKEN] = token
    ended = False
    if S_ACCOUNT in session:
        account = await _current_account(ctx, session)
        if account is None:
            _end_session(session)
            ended = True
        else:
            request[ACCOUNT] = account
    public = request.path in PUBLIC_PATHS
    safe = request.method in SAFE_METHODS
    if not public and ACCOUNT not in request:
        if safe:
            params = {"ended": "1"} if ended else {}
            raise web.HTTPFound(_login_url(request.path_qs, **params))
        return _message_page(request, "web.auth.signin_needed.title", "web.auth.signin_needed.body", 401)
    if not safe:
        sent = await _sent_token(request)
        if not sent or not hmac.compare_digest(sent.encode("utf-8", "replace"), token.encode("utf-8")):
            log.info("dashboard: %s %s refused, CSRF token missing or wrong", request.method, request.path)
            return _message_page(request, "web.auth.csrf.title", "web.auth.csrf.body", 403)
    return await handler(request)


def middlewares(ctx: WebContext) -> list[Any]:
    """Outermost first: security headers, the session cookie, then sign-in and CSRF."""
    public = ctx.public_url or ""
    storage = EncryptedCookieStorage(
        ctx.secret_key,
        cookie_name=COOKIE_NAME,
        httponly=True,
        samesite="Lax",
        secure=public.startswith("https://"),
        max_age=math.ceil(_session_seconds(ctx)),
        path=PREFIX,
    )
    return [security_headers, session_middleware(storage), sign_in_and_csrf]


def setup(app: web.Application, ctx: WebContext) -> None:
    """Nothing beyond the middlewares (kept for the dashboard's module contract)."""
    return None


# --- the login and logout pages ---------------------------------------------------------------------------


def _login_page(
    request: web.Request, *, next_path: str, error: str | None = None, notice: str | None = None,
    username: str = "", status: int = 200,
) -> web.Response:
    return render(
        request, "login.html",
        {"next": next_path, "error": error, "notice": notice, "username": username},
        status=status,
    )


async def login_form(request: web.Request) -> web.StreamResponse:
    next_path = safe_next(request.query.get("next"))
    if account_of(request) is not None:
        raise web.HTTPFound(next_path)
    notice = None
    if request.query.get("ended"):
        notice = t(request, "web.auth.session_ended")
    elif request.query.get("signed_out"):
        notice = t(request, "web.auth.signed_out")
    return _login_page(request, next_path=next_path, notice=notice)


def _throttled(request: web.Request, until: datetime, now: datetime, next_path: str, username: str) -> web.Response:
    ctx = web_context(request)
    seconds = max(1, math.ceil((until - now).total_seconds()))
    local = until.astimezone(ZoneInfo(ctx.runtime.config.city.timezone))
    response = _login_page(
        request, next_path=next_path, username=username, status=429,
        error=t(request, "web.auth.login.throttled", time=local.strftime("%H:%M:%S"), seconds=seconds),
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def normalise_username(value: object) -> str:
    # a NUL byte is dropped: PostgreSQL refuses it in the name's lookup (a 500), and no name has one
    return value.replace("\x00", "").strip().lower()[:MAX_USERNAME] if isinstance(value, str) else ""


async def login_submit(request: web.Request) -> web.StreamResponse:
    """Check a sign-in (throttle first, then the password in a worker thread), then start a fresh session."""
    ctx = web_context(request)
    try:
        form = await request.post()
    except ValueError:  # a multipart body without its boundary: no browser sends one
        raise web.HTTPBadRequest(text=t(request, "web.bad_form")) from None
    username = normalise_username(form.get("username"))
    raw_password = form.get("password")
    password = raw_password if isinstance(raw_password, str) else ""
    next_path = safe_next(form.get("next"))
    now = _now(ctx)
    address = client_address(request.remote, request.headers.get("X-Forwarded-For"), ctx.trusted_proxies)
    keys = [user_key(username), address_key(address)]
    # the account's counter slows strangers guessing its password; a browser that has signed in as this
    # account before is not one (its encrypted cookie says so): without this, anyone failing once every
    # few minutes would keep the command centre out for good. Its address is still counted.
    known = username in _known_names(await get_session(request))
    counted = keys[1:] if known else keys
    stored: tuple[int, str, bool] | None = None
    async with UnitOfWork(ctx.runtime.sessionmaker) as uow:
        await LoginThrottleRepo(uow.session).purge(now)
        await uow.commit()
    async with UnitOfWork(ctx.runtime.sessionmaker) as uow:
        # counted as a failure now and forgiven on success: parallel guesses cannot outrun the counter
        until = await LoginThrottleRepo(uow.session).begin_attempt(counted, now)
        if until is None:
            if username:
                row = await WebAccountRepo(uow.session).by_username(username)
                if row is not None:
                    stored = (row.id, row.password_hash, row.disabled_at is None)
            await uow.commit()
    if until is not None:  # rolled back: a refused attempt does not count
        return _throttled(request, until, now, next_path, username)
    good = await passwords.verify_async(stored[1] if stored else None, password)
    good = good and stored is not None and stored[2]
    new_hash = None
    if good and stored is not None and passwords.needs_rehash(stored[1]):
        new_hash = await passwords.hash_password_async(password)
    account = None
    if good and stored is not None:
        async with UnitOfWork(ctx.runtime.sessionmaker) as uow:
            accounts = WebAccountRepo(uow.session)
            row = await accounts.get(stored[0])
            if row is not None and row.disabled_at is None and row.password_hash == stored[1]:
                if new_hash is not None:
                    await accounts.rehash(row, new_hash)
                await accounts.record_login(row, now)
                await LoginThrottleRepo(uow.session).forgive(keys[0], keys[1], now)
                account = (row.id, row.version)
                await uow.commit()
    if account is None:
        log.info("dashboard: a sign-in failed (from %s)", address)
        return _login_page(request, next_path=next_path, username=username,
                           error=t(request, "web.auth.login.failed"))
    log.info("dashboard: %s signed in (from %s)", username, address)
    lang = language_of(request)
    names = [name for name in _known_names(await get_session(request)) if name != username] + [username]
    session = await new_session(request)  # a new session on sign-in: nothing planted before it survives
    session[S_ACCOUNT], session[S_VERSION] = account
    session[S_SIGNED_IN] = now.timestamp()
    session[S_CSRF] = new_token()
    session[S_LANG] = lang
    session[S_KNOWN] = names[-KNOWN_MAX:]
    raise web.HTTPFound(next_path)


async def logout(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    _end_session(session)
    session[S_CSRF] = new_token()
    raise web.HTTPFound(_login_url(signed_out="1"))


def routes() -> list[web.RouteDef]:
    return [
        web.get("/login", login_form, name="login"),
        web.post("/login", login_submit),
        web.post("/logout", logout, name="logout"),
    ]


__all__ = [
    "CONTENT_SECURITY_POLICY",
    "COOKIE_NAME",
    "middlewares",
    "routes",
    "safe_next",
    "setup",
]
