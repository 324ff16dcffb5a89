"""What every dashboard and Open311 handler needs, in one object on the web sub-applications.

The dashboard is a sub-application under ``/dashboard/`` of the app's own aiohttp server (beside the
webhooks) with its own middlewares (session, sign-in, CSRF: :mod:`bot.web.auth`); Open311 is another under
``/open311/v2/``. Handlers read :data:`WEB` from ``request.app`` and open one unit of work per request.
Pages are server-rendered with Jinja2 (aiohttp-jinja2; autoescape on: citizen text is always escaped) from
``bot/web/templates``; their texts come from the message catalogs (``sikesal-web*.po``), Bahasa Indonesia
first, English by choice (``?lang=en``, remembered in the session).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot.services.runtime import Runtime
from bot.web.labels import agency_short
from handlers.web_roles import Account

LANGUAGES = ("id", "en")


@dataclass
class WebContext:
    runtime: Runtime
    #: 32 bytes: encrypts and signs the session cookie (``SIKESAL_SECRET_KEY``, see :mod:`bot.web.secret`)
    secret_key: bytes = field(repr=False)
    #: client addresses (or networks, CIDR) of reverse proxies whose ``X-Forwarded-For`` is believed
    trusted_proxies: tuple[str, ...] = ()
    #: the deployment's public https address, when known (links in exports and Open311 ``media_url``)
    public_url: str | None = None


WEB = web.AppKey("sikesal_web", WebContext)
#: what the sign-in middleware (bot.web.auth) puts on each request: the account, the language, the CSRF token
ACCOUNT = web.RequestKey("sikesal_account", Account)
LANG = web.RequestKey("sikesal_lang", str)
CSRF_TOKEN = web.RequestKey("sikesal_csrf_token", str)


def web_context(request: web.Request) -> WebContext:
    return request.config_dict[WEB]


def account_of(request: web.Request) -> Account | None:
    """The signed-in account (set by :mod:`bot.web.auth`'s middleware), or None."""
    return request.get(ACCOUNT)


def language_of(request: web.Request) -> str:
    found = request.get(LANG)
    return found if found in LANGUAGES else "id"


def t(request: web.Request, key: str, **params: object) -> str:
    """A catalog text in the request's language."""
    return web_context(request).runtime.ctx.t(language_of(request), key, **params)


def account_agency(request: web.Request) -> str:
    """The signed-in agency account's agency as the header names it (its short name, "PUPR"); "" otherwise."""
    account = account_of(request)
    key = account.role.agency if account is not None else None
    if not key:
        return ""
    return agency_short(web_context(request).runtime.config, key)


def render(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """A page: ``context`` plus what every page uses (``t``, ``account``, ``lang``, ``csrf_token``, ``city``)."""
    full = {
        "t": lambda key, **params: t(request, key, **params),
        "account": account_of(request),
        "account_agency": account_agency(request),
        "lang": language_of(request),
        "csrf_token": request.get(CSRF_TOKEN, ""),
        "city": web_context(request).runtime.config.city,
        "map_config": web_context(request).runtime.config.dashboard.map,
        "path": request.path,
        **context,
    }
    response = aiohttp_jinja2.render_template(template, request, full, status=status)
    response.headers.setdefault("Cache-Control", "no-store")
    return response


__all__ = [
    "ACCOUNT", "CSRF_TOKEN", "LANG", "LANGUAGES", "WEB", "WebContext", "account_agency", "account_of", "language_of",
    "render", "t", "web_context",
]
