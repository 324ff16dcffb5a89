"""Open311 GeoReport v2 under ``/open311/v2/``: other applications read published complaints and file new
ones (with an API key), in JSON and XML, as http://wiki.open311.org/GeoReport_v2 describes.

Modules: :mod:`.routes` (the endpoints), :mod:`.formats` (JSON and XML bodies, the error list),
:mod:`.query` (the ``GET requests`` parameters and windows), :mod:`.records` (what is published about a
complaint, and what never is), :mod:`.filing` (``POST requests``), :mod:`.keys` (API keys),
:mod:`.media` (the signed ``media_url`` of a published photo); ``openapi.yaml`` documents the API.
"""

from __future__ import annotations

from aiohttp import web

from bot.web.context import WEB, WebContext


def build_app(ctx: WebContext) -> web.Application:
    from bot.open311 import routes

    app = web.Application(middlewares=[routes.error_middleware])
    app[WEB] = ctx
    app.add_routes(routes.routes())
    return app
