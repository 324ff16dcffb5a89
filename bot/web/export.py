"""The dashboard's export: the complaint list's current filter as CSV (``/dashboard/complaints.csv``) or
GeoJSON (``/dashboard/complaints.geojson``), streamed.

Why chunks by id instead of one server-side cursor: on SQLite the app has ONE pooled connection and every
transaction takes the write lock (``BEGIN IMMEDIATE``, see :func:`storage.db.make_engine`), so a cursor held
open while a slow client downloads 100,000 rows would stop the bot's every write for minutes. Instead the
export reads :data:`CHUNK` rows at a time in its own short unit of work (``WHERE <filter> AND id > last ORDER BY
id LIMIT n``: keyset pagination on the primary key, the same on PostgreSQL), writes them to the client, and
only then reads the next chunk. Memory stays at one chunk whatever the export's size; a complaint changed
during a long export is written as it was when its chunk was read (none is written twice or skipped: the
key is the id).

Which complaints: exactly the list's filter (:func:`storage.dashboard.filtered_select` on the same query
string), so an agency account's export holds only its agency's complaints. Rows are in filing order (id).
What each row holds, and the privacy rules, are :mod:`bot.web.export_format`'s.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy import Row, Select

from bot.web import export_format as fmt
from bot.web.auth import CONTENT_SECURITY_POLICY, SECURITY_HEADERS
from bot.web.context import account_of, t, web_context
from handlers.web_roles import Account
from storage.dashboard import filtered_select, parse_filters
from storage.models import Complaint
from storage.uow import UnitOfWork

#: rows per read (one short unit of work each) and per write to the client
CHUNK = 1000
#: Excel opens a UTF-8 file without it as the local ANSI code page (mangling any non-ASCII letter); every
#: other tool (LibreOffice, pandas with encoding="utf-8-sig", Python's csv) reads it fine
BOM = "\ufeff"


async def export_csv(request: web.Request) -> web.StreamResponse:
    account = _signed_in(request)
    rules = _rules(request)
    response = _attachment(request, "text/csv; charset=utf-8", "csv")
    await response.prepare(request)
    if request.method == "HEAD":  # the headers only: no reason to read every row
        await response.write_eof()
        return response
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    buffer.write(BOM)
    writer.writerow(fmt.COLUMNS)
    async for rows in _chunks(request, account):
        for row in rows:
            writer.writerow(fmt.csv_cells(fmt.record(row, rules)))
        await _flush(response, buffer)
    await _flush(response, buffer)
    await response.write_eof()
    return response


async def export_geojson(request: web.Request) -> web.StreamResponse:
    account = _signed_in(request)
    rules = _rules(request)
    response = _attachment(request, "application/geo+json", "geojson")
    await response.prepare(request)
    if request.method == "HEAD":
        await response.write_eof()
        return response
    buffer = io.StringIO()
    buffer.write('{"type":"FeatureCollection","features":[')
    first = True
    async for rows in _chunks(request, account):
        for row in rows:
            feature = fmt.feature(fmt.record(row, rules))
            if feature is None:
                continue
            if not first:
                buffer.write(",")
            first = False
            buffer.write(json.dumps(feature, ensure_ascii=False, separators=(",", ":")))
        await _flush(response, buffer)
    buffer.write("]}\n")
    await _flush(response, buffer)
    await response.write_eof()
    return response


def _signed_in(request: web.Request) -> Account:
    """The auth middleware already sent anyone else to the sign-in page; this is the belt to its braces."""
    account = account_of(request)
    if account is None:
        raise web.HTTPFound("/dashboard/login")
    return account


def _rules(request: web.Request) -> fmt.ExportRules:
    runtime = web_context(request).runtime
    return fmt.ExportRules(now=runtime.clock(), tz=ZoneInfo(runtime.ctx.timezone),
                           confidential_label=t(request, "web.export.confidential"))


def _attachment(request: web.Request, content_type: str, suffix: str) -> web.StreamResponse:
    """Headers of a download; no Content-Length, so aiohttp sends it chunked as it is written."""
    runtime = web_context(request).runtime
    today = runtime.clock().astimezone(ZoneInfo(runtime.ctx.timezone)).date().isoformat()
    response = web.StreamResponse(headers={
        # the headers every dashboard page carries: the auth middleware cannot add them to a response that
        # has already begun, so a streamed one sets them itself
        **SECURITY_HEADERS,
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="sikesal-{today}.{suffix}"',
        "Cache-Control": "no-store",
    })
    response.enable_chunked_encoding()
    return response


async def _chunks(request: web.Request, account: Account) -> AsyncIterator[Sequence[Row[Any]]]:
    """The filter's complaints, :data:`CHUNK` at a time, each chunk read in its own short unit of work (see
    the module's docstring for why)."""
    runtime = web_context(request).runtime
    base = _filtered(request, account, runtime.clock()).with_only_columns(*fmt.SELECTED)
    base = base.order_by(None).limit(None).offset(None).order_by(Complaint.id)
    last = 0
    while True:
        async with UnitOfWork(runtime.sessionmaker) as uow:
            rows = (await uow.session.execute(base.where(Complaint.id > last).limit(CHUNK))).all()
        if not rows:
            return
        yield rows
        if len(rows) < CHUNK:
            return
        last = rows[-1].id


def _filtered(request: web.Request, account: Account, now: datetime) -> Select[Any]:
    """The complaint list's query for this request's filter and account (its sort and page are dropped by
    the caller); an agency account's is pinned to its agency whatever the query string says."""
    ctx = web_context(request).runtime.ctx
    flt = parse_filters(request.query, account, timezone=ctx.timezone, prefix=ctx.tracking_prefix)
    return filtered_select(flt, account, now=now)


async def _flush(response: web.StreamResponse, buffer: io.StringIO) -> None:
    data = buffer.getvalue()
    if data:
        await response.write(data.encode("utf-8"))
        buffer.seek(0)
        buffer.truncate()


def routes() -> list[web.RouteDef]:
    return [
        web.get("/complaints.csv", export_csv, name="export_csv"),
        web.get("/complaints.geojson", export_geojson, name="export_geojson"),
    ]


__all__ = ["BOM", "CHUNK", "export_csv", "export_geojson", "routes"]
