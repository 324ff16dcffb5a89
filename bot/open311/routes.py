"""The GeoReport v2 endpoints (paths relative to ``/open311/v2``), each in ``.json`` and ``.xml``.

Reading is open, as the spec intends; ``POST requests`` needs an ``api_key``. Every failure answers the
spec's error list in the path's format (:func:`error_middleware`). Texts come from the catalog
(``sikesal-open311.po``) in the ``locale`` the client asks for (``id``, the default, or ``en``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.open311 import filing, media, query, records
from bot.open311.errors import Open311Error, bad_request, not_found
from bot.open311.formats import error, format_of_path, respond
from bot.services.runtime import Runtime
from bot.web.context import web_context
from storage.models import Complaint
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.open311")

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
#: when this API last changed (discovery's ``changeset``)
CHANGESET = "2026-11-29T00:00:00+07:00"
OPENAPI = Path(__file__).with_name("openapi.yaml")
LOCALES = ("id", "en")
FMT = "{fmt:(json|xml)}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _runtime(request: web.Request) -> Runtime:
    return web_context(request).runtime


def _language(request: web.Request) -> str:
    wanted = (request.query.get("locale") or "id").split("_")[0].split("-")[0].lower()
    return wanted if wanted in LOCALES else "id"


def _say(request: web.Request) -> Callable[..., str]:
    rt, language = _runtime(request), _language(request)
    return lambda key, **params: rt.ctx.t(language, key, **params)


def _base_url(request: web.Request) -> str:
    """The API's public base: the deployment's public address when configured, else what was asked."""
    public = web_context(request).public_url
    origin = public.rstrip("/") if public else str(request.url.origin())
    return f"{origin}/open311/v2"


def _check_jurisdiction(request: web.Request, value: str | None) -> None:
    if value and value != _runtime(request).config.open311.jurisdiction_id:
        raise not_found(_say(request)("open311.error.jurisdiction", jurisdiction=value))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every failure in the spec's error format, in the format the path asked for."""
    fmt = format_of_path(request.path)
    response: web.StreamResponse
    try:
        response = await handler(request)
    except Open311Error as exc:
        response = error(fmt, exc.status, exc.description)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        key = {404: "open311.error.not_found", 405: "open311.error.method"}.get(exc.status, "open311.error.bad_request")
        response = error(fmt, exc.status, _say(request)(key))
    response.headers.setdefault("Access-Control-Allow-Origin", "*")  # open data: browsers of other apps may read
    return response


async def discovery(request: web.Request) -> web.Response:
    rt, say = _runtime(request), _say(request)
    body = {
        "changeset": CHANGESET,
        "contact": rt.config.open311.contact,
        "key_service": say("open311.key_service", contact=rt.config.open311.contact),
        "endpoints": [{
            "specification": SPECIFICATION,
            "url": _base_url(request),
            "changeset": CHANGESET,
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }],
    }
    return respond(request.match_info["fmt"], "discovery", body)


def _service(rt: Runtime, code: str, language: str, say: Callable[..., str]) -> dict[str, Any]:
    category = rt.config.categories[code]
    info = rt.ctx.category(code)
    agency = rt.ctx.agency(category.agency)
    name = info.label(language) if info else code
    agency_name = agency.name(language) if agency else category.agency
    return {
        "service_code": code,
        "service_name": name,
        "description": say("open311.service.description", name=name, agency=agency_name,
                           hours=f"{category.target_hours:g}")
        + (" " + say("open311.service.photo_required") if category.photo_required else ""),
        "metadata": False,
        "type": "realtime",
        "keywords": ", ".join(dict.fromkeys([code, name.lower()])),
        "group": agency_name,
    }


async def services(request: web.Request) -> web.Response:
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    rt, language, say = _runtime(request), _language(request), _say(request)
    body = [_service(rt, code, language, say) for code in rt.config.categories]
    return respond(request.match_info["fmt"], "services", body)


async def service_definition(request: web.Request) -> web.Response:
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    rt, code = _runtime(request), request.match_info["service_code"]
    if code not in rt.config.categories:
        raise not_found(_say(request)("open311.error.unknown_service", code=code))
    # no category defines extra questions: a definition without attributes
    return respond(request.match_info["fmt"], "service_definition", {"service_code": code, "attributes": []})


async def _records(request: web.Request, rt: Runtime, complaints: list[Complaint], uow: UnitOfWork) -> list[dict[str, Any]]:
    firsts = {c.id: records.first_photo_id(c) for c in complaints if not c.external_media_url}
    clean = await records.reencoded(uow, [first[1] for first in firsts.values() if first is not None])
    base, language = _base_url(request), _language(request)
    found = []
    for complaint in complaints:
        first = firsts.get(complaint.id)
        url = media.url_for(base, rt, first[0]) if first is not None and first[1] in clean and rt.secret else None
        found.append(records.record(rt, complaint, language, media_url=url))
    return found


async def list_requests(request: web.Request) -> web.Response:
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    rt = _runtime(request)
    wanted = query.parse(request.query, now=rt.clock(), timezone=rt.config.city.timezone,
                         services=rt.config.categories, say=_say(request))
    statement = select(Complaint).where(records.publishable())
    if wanted.numbers:
        statement = statement.where(Complaint.number.in_(wanted.numbers))
    else:
        assert wanted.start is not None and wanted.end is not None
        statement = statement.where(Complaint.created_at >= wanted.start, Complaint.created_at <= wanted.end)
        if wanted.statuses:
            statement = statement.where(Complaint.status.in_(sorted(records.statuses_for(wanted.statuses))))
        if wanted.service_codes:
            statement = statement.where(Complaint.category.in_(wanted.service_codes))
    statement = statement.order_by(Complaint.created_at.desc(), Complaint.id.desc()).limit(query.MAX_RESULTS)
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaints = list((await uow.session.execute(statement)).scalars())
        body = await _records(request, rt, complaints, uow)
    return respond(request.match_info["fmt"], "service_requests", body)


async def one_request(request: web.Request) -> web.Response:
    _check_jurisdiction(request, request.query.get("jurisdiction_id"))
    rt, number = _runtime(request), request.match_info["service_request_id"].strip().upper()
    if "\x00" in number:  # PostgreSQL refuses a NUL in a text parameter; no tracking number has one
        raise not_found(_say(request)("open311.error.unknown_request", number=number.replace("\x00", "")))
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = await uow.complaints.by_number(number)
        if complaint is None or not records.is_published(complaint):  # Rahasia: as if it did not exist
            raise not_found(_say(request)("open311.error.unknown_request", number=number))
        body = await _records(request, rt, [complaint], uow)
    return respond(request.match_info["fmt"], "service_requests", body)


async def post_request(request: web.Request) -> web.Response:
    rt, say = _runtime(request), _say(request)
    try:
        # a NUL byte is dropped: PostgreSQL refuses it in a text column (a 500), and no text needs one
        form = {key: value.replace("\x00", "") for key, value in (await request.post()).items()
                if isinstance(value, str)}
    except ValueError:
        raise bad_request(say("open311.error.bad_request")) from None
    _check_jurisdiction(request, form.get("jurisdiction_id") or request.query.get("jurisdiction_id"))
    api_key = form.get("api_key") or request.query.get("api_key")
    filed = await filing.file_request(rt, api_key, form, say, _language(request))
    log.info("open311 request filed as %s", filed.number)
    body = [{"service_request_id": filed.number, "service_notice": filed.notice, "account_id": None}]
    return respond(request.match_info["fmt"], "service_requests", body, status=201)


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=OPENAPI.read_bytes(), content_type="application/yaml", charset="utf-8")


def routes() -> list[web.RouteDef]:
    return [
        web.get(f"/discovery.{FMT}", discovery),
        web.get(f"/services.{FMT}", services),
        web.get(f"/services/{{service_code:[^/.]+}}.{FMT}", service_definition),
        web.get(f"/requests.{FMT}", list_requests),
        web.post(f"/requests.{FMT}", post_request),
        web.get(f"/requests/{{service_request_id:[^/.]+}}.{FMT}", one_request),
        web.get("/openapi.yaml", openapi),
        web.get(f"{media.PATH}{{token:[0-9]+-[0-9a-f]+}}", media.serve),
    ]


__all__ = ["CHANGESET", "OPENAPI", "SPECIFICATION", "error_middleware", "routes"]
