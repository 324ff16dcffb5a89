"""The command centre's web dashboard (``/dashboard/``) and the Open311 GeoReport v2 API (``/open311/v2/``),
served by the app's own aiohttp server beside the webhooks.

:func:`setup_web` mounts both as sub-applications. Each concern is its own module with a ``routes()``
function: :mod:`bot.web.auth` (sign-in, sessions, CSRF, throttling), :mod:`bot.web.pages` (overview, list,
complaint, agencies), :mod:`bot.web.actions` (what an account may do to a complaint), :mod:`bot.web.map`
(Leaflet map), :mod:`bot.web.export` (CSV and GeoJSON), and :mod:`bot.open311` (the API).
"""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.web.context import WEB, WebContext

STATIC_DIR = Path(__file__).with_name("static")
TEMPLATES_DIR = Path(__file__).with_name("templates")


def build_dashboard(ctx: WebContext) -> web.Application:
    from bot.web import actions, auth, errors, export, map, pages

    # /dashboard -> /dashboard/ before the session cookie is touched; the 404 page inside sign-in: a visitor
    # who is not signed in is sent to the login page first
    app = web.Application(middlewares=[errors.bare_prefix, *auth.middlewares(ctx), errors.not_found_page])
    app[WEB] = ctx
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
    )
    auth.setup(app, ctx)
    for module in (auth, pages, actions, map, export):
        app.add_routes(module.routes())
    app.router.add_static("/static/", STATIC_DIR, name="static", append_version=True)
    return app


def setup_web(http_app: web.Application, ctx: WebContext) -> None:
    """Mount the dashboard and Open311 on the app's web server."""
    from bot import open311

    http_app.add_subapp("/dashboard/", build_dashboard(ctx))
    http_app.add_subapp("/open311/v2/", open311.build_app(ctx))


__all__ = ["STATIC_DIR", "TEMPLATES_DIR", "build_dashboard", "setup_web"]
