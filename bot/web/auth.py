"""Sign-in, sessions, CSRF and login throttling for the dashboard. (Being written: issue 13.)"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.web.context import WebContext


def middlewares(ctx: WebContext) -> list[Any]:
    return []


def setup(app: web.Application, ctx: WebContext) -> None:
    return None


def routes() -> list[web.RouteDef]:
    return []
