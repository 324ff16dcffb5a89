"""The dashboard's map. (Being written: issue 13.)"""

from __future__ import annotations

from aiohttp import web


def routes() -> list[web.RouteDef]:
    return []
