"""The dashboard's map: ``/dashboard/map`` (the page) and its two GeoJSON sources.

* ``GET /map``: a Leaflet map (vendored in ``static/leaflet``, see its README) with the filters as a plain
  GET form. The page carries its settings in ``data-`` attributes; ``static/map.js`` draws it (the
  dashboard's Content-Security-Policy allows only the app's own scripts, so nothing is inline).
* ``GET /map/complaints.geojson``: pins (``status``, ``category``, ``agency``, ``days``; see
  :func:`bot.web.map_data.parse_filter`), newest first, capped, with ``omitted``.
* ``GET /map/areas.geojson``: the city's kecamatan with their open-complaint counts (the shading; the
  ``category`` and ``agency`` filters apply, ``status`` and ``days`` do not: it always counts the open ones of
  any age); ``counts=0`` gives the shapes alone (the complaint page's small map draws them for context).

Both need a signed-in account (the auth middleware; checked again here, so a route never answers
without one) and answer only what the account's role may see (:mod:`bot.web.map_data`).
Tiles come from ``dashboard.map.tile_url`` in the visitor's browser: the server never fetches them. With
no tile server reachable the boundaries and pins are still drawn (they are vector layers).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.services.runtime import Runtime
from bot.web.context import account_of, language_of, render, web_context
from bot.web.map_data import (
    DEFAULT_DAYS,
    STATUS_COLOURS,
    FilterError,
    Labels,
    PinFilter,
    complaint_pins,
    open_by_kecamatan,
    parse_filter,
)
from handlers.lifecycle import Status
from handlers.views import format_time
from handlers.web_roles import Account
from storage.uow import UnitOfWork

#: the ``days`` choices the page offers (0 = any age)
DAY_CHOICES = (7, 30, 90, 365, 0)


def _known(request: web.Request) -> tuple[frozenset[str], frozenset[str]]:
    config = web_context(request).runtime.config
    return frozenset(config.categories), frozenset(config.agencies)


def _labels(request: web.Request) -> Labels:
    runtime = web_context(request).runtime
    lang = language_of(request)
    ctx = runtime.ctx
    return Labels(
        status={s.value: ctx.t(lang, f"status.{s.value}") for s in Status},
        category={c.key: c.label(lang) for c in ctx.categories},
        agency={a.key: a.name(lang) for a in ctx.agencies},
        timezone=runtime.config.city.timezone,
        when=lambda at: format_time(at, lang, ctx),
    )


def _json(data: dict[str, Any], *, status: int = 200) -> web.Response:
    response = web.json_response(data, status=status)
    response.headers["Cache-Control"] = "no-store"
    return response


def _signed_in(request: web.Request) -> Account:
    account = account_of(request)
    if account is None:  # the auth middleware answers first; this is the belt to its braces
        raise web.HTTPUnauthorized(text='{"error": "sign in"}', content_type="application/json")
    return account


async def _answer(
    request: web.Request, fetch: Callable[[UnitOfWork, Account, PinFilter, Runtime], Awaitable[Any]]
) -> web.Response:
    """Both data endpoints: the signed-in account, the filter from the query (400 naming a bad value), one
    unit of work for ``fetch``, the answer as JSON."""
    account = _signed_in(request)
    categories, agencies = _known(request)
    try:
        pins = parse_filter(request.query, categories=categories, agencies=agencies)
    except FilterError as exc:
        return _json({"error": str(exc)}, status=400)
    runtime = web_context(request).runtime
    async with UnitOfWork(runtime.sessionmaker) as uow:
        data = await fetch(uow, account, pins, runtime)
    return _json(data)


async def complaints_geojson(request: web.Request) -> web.Response:
    labels = _labels(request)
    return await _answer(request, lambda uow, account, pins, runtime: complaint_pins(
        uow.session, account.role, pins, labels, now=runtime.clock()))


async def areas_geojson(request: web.Request) -> web.Response:
    count = request.query.get("counts") != "0"
    return await _answer(request, lambda uow, account, pins, runtime: open_by_kecamatan(
        uow.session, account.role, runtime.area, category=pins.category, agency=pins.agency, count=count))


def _query_of(pins: PinFilter, raw_status: str) -> str:
    """The data URLs' query string for the page's filter (rebuilt from the parsed values, never echoed)."""
    params = {"status": raw_status, "category": pins.category or "", "agency": pins.agency or ""}
    params["days"] = str(pins.days or 0)
    return urlencode({k: v for k, v in params.items() if v})


async def map_page(request: web.Request) -> web.Response:
    account = account_of(request)
    if account is None:
        raise web.HTTPFound("/dashboard/login?" + urlencode({"next": "/dashboard/map"}))
    runtime = web_context(request).runtime
    lang = language_of(request)
    categories, agencies = _known(request)
    error: str | None = None
    try:
        pins = parse_filter(request.query, categories=categories, agencies=agencies)
        raw_status = (request.query.get("status") or "open").strip()
    except FilterError as exc:
        error = str(exc)
        pins, raw_status = PinFilter(), "open"
    labels = _labels(request)
    role = account.role
    min_lat, min_lon, max_lat, max_lon = runtime.area.bounds
    query = _query_of(pins, raw_status)
    settings = {
        "pins": "/dashboard/map/complaints.geojson" + (f"?{query}" if query else ""),
        "areas": "/dashboard/map/areas.geojson" + (f"?{query}" if query else ""),
        "bounds": [[min_lat, min_lon], [max_lat, max_lon]],
        "colours": [
            {"status": s.value, "colour": STATUS_COLOURS[s.value], "label": labels.status[s.value]} for s in Status
        ],
    }
    words = {
        key: runtime.ctx.t(lang, f"web.map.{key}")
        for key in ("category", "status", "agency", "kecamatan", "created", "confidential", "open_legend",
                    "status_legend", "failed", "none")
    }
    words["omitted"] = runtime.ctx.t(lang, "web.map.omitted", n="{n}", total="{total}")
    status_choices = [("open", runtime.ctx.t(lang, "web.map.filter.open")),
                      ("all", runtime.ctx.t(lang, "web.map.filter.all"))]
    status_choices += [(s.value, labels.status[s.value]) for s in Status]
    visible_agencies = [(key, name) for key, name in labels.agency.items() if role.can_see(key)]
    return render(
        request,
        "map.html",
        {
            "error": error,
            "filter": pins,
            "raw_status": raw_status,
            "status_choices": status_choices,
            "category_choices": list(labels.category.items()),
            "agency_choices": visible_agencies,
            "day_choices": DAY_CHOICES,
            "default_days": DEFAULT_DAYS,
            "map_settings": settings,
            "map_words": words,
        },
    )


def routes() -> list[web.RouteDef]:
    return [
        web.get("/map", map_page, name="map"),
        web.get("/map/complaints.geojson", complaints_geojson, name="map-complaints"),
        web.get("/map/areas.geojson", areas_geojson, name="map-areas"),
    ]


__all__ = ["routes"]
