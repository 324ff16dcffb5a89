"""Open311 GeoReport v2 under ``/open311/v2/``. (Being written: issue 13.)"""

from __future__ import annotations

from aiohttp import web

from bot.web.context import WEB, WebContext


def build_app(ctx: WebContext) -> web.Application:
    app = web.Application()
    app[WEB] = ctx
    return app
