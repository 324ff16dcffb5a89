"""The dashboard's read pages (issue 13): the overview, the complaint list, one complaint, the agencies, and
the complaint photos behind them (``/dashboard/photos/{id}``, served only to an account that may see the
complaint).

Who sees what is one rule, :meth:`handlers.web_roles.Role.can_see`: the command centre and viewers see every
agency, an agency account its own. An agency account asking for another agency's complaint (or its photo)
gets the same 404 as for one that does not exist. The queries live in :mod:`storage.dashboard` and
:mod:`storage.dashboard_overview` (one unit of work per request); this module turns their rows into what the templates show, in the request's language,
with the labels the bot's cards use (status, category, agency).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from bot.services.complaints import PROOF, build_view
from bot.web.charts import trend_chart
from bot.web.context import account_of, language_of, render, web_context
from bot.web.deadline import deadline_line
from bot.web.labels import agency_short, web_actor
from bot.web.snapshots import Snapshots
from handlers import privacy
from handlers.lifecycle import Status, status_label
from handlers.staff_tools import is_overdue
from handlers.views import agency_display, category_display, format_decimal, format_time, to_local, truncate
from handlers.web_roles import Role, RoleKind
from storage.dashboard import (
    STATUSES,
    AgencyStatus,
    ComplaintFilter,
    agency_statuses,
    audit_trail,
    exchanged,
    list_page,
    parse_filters,
    photo_for,
    visible_complaint,
)
from storage.dashboard_overview import Overview, overview
from storage.models import Complaint
from storage.reports import OPEN_STATUSES
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.web.pages")

#: characters of the description shown in a list row
EXCERPT = 80
#: days in the overview's trend
TREND_DAYS = 30
#: the largest row id (the id columns are 32-bit INTEGER on PostgreSQL)
MAX_ID = 2**31 - 1


def _role(request: web.Request) -> Role | None:
    account = account_of(request)
    return account.role if account is not None else None


def words_hidden(role: Role | None, complaint: Complaint) -> bool:
    """A Rahasia complaint's words and photos are for the handling agency and the command centre only
    (:mod:`handlers.privacy`; the map's popups follow the same rule): a viewer sees that it exists, where it
    stands and its clocks, not what the citizen wrote or photographed."""
    return role is not None and role.kind is RoleKind.VIEWER and privacy.is_confidential(complaint)


class _Labels:
    """Status, category and agency labels in the request's language (the bot's own words)."""

    def __init__(self, request: web.Request) -> None:
        self.rt = web_context(request).runtime
        self.lang = language_of(request)
        self.ctx = self.rt.ctx

    def status(self, status: str) -> str:
        return status_label(status, self.lang, self.ctx)

    def category(self, key: str) -> str:
        return category_display(key, self.lang, self.ctx)

    def agency(self, key: str) -> str:
        return agency_display(key, self.lang, self.ctx)

    def agency_short(self, key: str) -> str:
        return agency_short(self.rt.config, key)

    def time(self, at: datetime | None) -> str:
        return format_time(at, self.lang, self.ctx) if at is not None else ""

    def number(self, value: float | None, digits: int = 1) -> str:
        return format_decimal(value, self.lang, self.ctx, digits) if value is not None else "–"

    def text(self, key: str, fallback: str) -> str:
        return self.ctx.t(self.lang, key) if self.ctx.catalog.has(self.lang, key) else fallback


def _now(request: web.Request) -> datetime:
    return web_context(request).runtime.clock()


# --- the overview ---------------------------------------------------------------------------------


#: seconds an overview snapshot is served before a background refresh (bot.web.snapshots)
OVERVIEW_TTL = 60.0


async def overview_page(request: web.Request, snapshots: Snapshots[tuple[Overview, datetime]]) -> web.Response:
    rt = web_context(request).runtime
    labels = _Labels(request)
    role = _role(request)

    async def compute() -> tuple[Overview, datetime]:
        now = rt.clock()
        async with UnitOfWork(rt.sessionmaker) as uow:
            found = await overview(
                uow.session, role, list(rt.config.agencies), now=now, timezone=rt.config.city.timezone,
                days=TREND_DAYS,
            )
        return found, now

    # the command centre and viewers share one snapshot; each agency has its own
    key = "*" if role is None or role.sees_all else f"agency:{role.agency}"
    figures, computed_at = await snapshots.get(key, compute)
    rows = [
        {
            "key": row.agency,
            "name": labels.agency(row.agency),
            "short": labels.agency_short(row.agency),
            "received": row.received,
            "resolved_pct": labels.number(row.resolved_on_time_pct, 0),
            "accepted_pct": labels.number(row.accepted_on_time_pct, 0),
            "accept_hours": labels.number(row.median_accept_hours),
            "resolve_hours": labels.number(row.median_resolve_hours),
            "overdue": row.overdue_now,
            "rating": labels.number(row.rating_mean),
            "ratings": row.ratings,
        }
        for row in [*figures.rows, figures.total]
    ]
    months = labels.ctx.t(labels.lang, "time.months").split()
    day_labels = [f"{d.day} {months[d.month - 1] if len(months) == 12 else d.month}" for d in figures.days]
    chart = trend_chart(figures.received, figures.resolved, day_labels)
    # the day the "new today" card counted (the city's day when the figures were computed)
    today = to_local(computed_at, rt.config.city.timezone).date().isoformat()
    return render(request, "overview.html", {
        "figures": figures,
        "rows": rows,
        "chart": chart,
        "trend": list(zip(day_labels, figures.received, figures.resolved, strict=True)),
        "since": labels.time(figures.since),
        "days": TREND_DAYS,
        "open_link": "/dashboard/complaints?" + urlencode([("status", s) for s in OPEN_STATUSES]),
        "today_link": "/dashboard/complaints?" + urlencode([("from", today), ("to", today)]),
        "computed_at": labels.time(computed_at),
    })


# --- the list -------------------------------------------------------------------------------------


def _filter_of(request: web.Request) -> ComplaintFilter:
    config = web_context(request).runtime.config
    return parse_filters(
        request.rel_url.query, account_of(request), timezone=config.city.timezone, prefix=config.city.tracking_prefix
    )


def _row(complaint: Complaint, labels: _Labels, now: datetime, role: Role | None = None) -> dict[str, Any]:
    late = is_overdue(complaint.status, complaint.accept_due_at, complaint.due_at, now)
    running = complaint.accept_due_at if complaint.status == Status.BARU.value and complaint.accept_due_at else (
        complaint.due_at)
    return {
        "number": complaint.number,
        "created": labels.time(complaint.created_at),
        "category": labels.category(complaint.category),
        "agency": labels.agency_short(complaint.agency),
        "agency_name": labels.agency(complaint.agency),
        "kecamatan": complaint.kecamatan or "",
        "status": complaint.status,
        "status_label": labels.status(complaint.status),
        "overdue": late,
        "due": labels.time(running) if running is not None and complaint.status not in _CLOSED else "",
        "excerpt": "" if words_hidden(role, complaint) else truncate(" ".join(complaint.description.split()), EXCERPT),
        # 🔒 Rahasia / 🕶️ Anonim, as the cards mark them
        "mark": privacy.mark(complaint, labels.lang, labels.ctx) or "",
    }


_CLOSED = frozenset(s for s in STATUSES if s not in OPEN_STATUSES)


def _link(flt: ComplaintFilter, page: int | None = None, **changes: str) -> str:
    items = [(k, v) for k, v in flt.query_items(page=page) if k not in changes]
    items += [(k, v) for k, v in changes.items() if v]
    return "/dashboard/complaints" + (f"?{urlencode(items)}" if items else "")


def _sort_links(flt: ComplaintFilter) -> dict[str, str]:
    out = {}
    for key in ("created", "updated", "due", "status", "agency"):
        desc = not (flt.sort == key and flt.desc)  # the current column flips; another starts descending
        out[key] = _link(flt, page=1, sort=key, dir="desc" if desc else "asc")
    return out


async def complaints_page(request: web.Request) -> web.Response:
    rt = web_context(request).runtime
    labels = _Labels(request)
    role = _role(request)
    flt = _filter_of(request)
    now = _now(request)
    async with UnitOfWork(rt.sessionmaker) as uow:
        found = await list_page(uow.session, flt, role, page_size=rt.config.dashboard.page_size, now=now)
        rows = [_row(c, labels, now, role) for c in found.rows]
    pages = [p for p in range(1, found.pages + 1) if p in (1, found.pages) or abs(p - found.page) <= 2]
    export_query = urlencode(flt.query_items(page=1))
    return render(request, "complaints.html", {
        "flt": flt,
        "rows": rows,
        "total": found.total,
        "more": found.more,
        "page": found.page,
        "pages": found.pages,
        "page_links": [(p, _link(flt, page=p)) for p in pages],
        "prev_link": _link(flt, page=found.page - 1) if found.page > 1 else None,
        "next_link": _link(flt, page=found.page + 1) if found.page < found.pages or found.more else None,
        "sort_links": _sort_links(flt),
        "statuses": [(s, labels.status(s)) for s in STATUSES],
        "categories": [(key, labels.category(key)) for key in rt.config.categories],
        "agencies": [(key, labels.agency(key)) for key in rt.config.agencies if role is None or role.can_see(key)],
        "kecamatan": list(rt.area.district_names()),
        "export_query": export_query,
        "sees_all": role is None or role.sees_all,
    })


# --- one complaint --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Photo:
    url: str
    kind: str


async def _actions(request: web.Request, complaint: Complaint) -> dict[str, Any]:
    """The actions helper's context (``actions``, ``flash``...) when it is there; none otherwise."""
    try:
        from bot.web.actions import actions_context
    except ImportError:  # pragma: no cover - the actions module is part of the same release
        return {"actions": []}
    found: dict[str, Any] = await actions_context(request, complaint)
    return found


def _audit_rows(entries: Sequence[Any], labels: _Labels) -> list[dict[str, Any]]:
    rows = []
    for entry in entries:
        rows.append({
            "at": labels.time(entry.at),
            "action": labels.text(f"history.action.{entry.action}", entry.action),
            # "ani", not "ani (via web)": the row says "petugas, web" and "lewat web" already
            "actor": web_actor(entry.actor_name or "", labels.ctx) if entry.actor_kind == "web" else (
                entry.actor_name or ""),
            "actor_kind": labels.text(f"web.pages.actor.{entry.actor_kind}", entry.actor_kind),
            "from_status": labels.status(entry.from_status) if entry.from_status else "",
            "to_status": labels.status(entry.to_status) if entry.to_status else "",
            # a follower's reply stores its addressee here ("citizen:<id>"), not an agency
            "from_agency": labels.agency(entry.from_agency) if entry.from_agency else "",
            "to_agency": labels.agency(entry.to_agency) if entry.to_agency and ":" not in entry.to_agency else "",
            "note": entry.note or "",
            "refused": entry.refused,
            "web": entry.actor_kind == "web",
        })
    return rows


async def complaint_page(request: web.Request) -> web.Response:
    rt = web_context(request).runtime
    labels = _Labels(request)
    now = _now(request)
    async with UnitOfWork(rt.sessionmaker) as uow:
        complaint = await visible_complaint(uow.session, request.match_info["number"], _role(request))
        if complaint is None:
            return render(request, "complaint.html", {"c": None, "number": request.match_info["number"]}, status=404)
        view = await build_view(uow, complaint)
        trail = await audit_trail(uow.session, complaint.id)
        messages = await exchanged(uow.session, complaint.id)
        hidden = words_hidden(_role(request), complaint)
        photos = [] if hidden else [_Photo(f"/dashboard/photos/{p.id}", p.kind) for p in complaint.photos]
        actions = await _actions(request, complaint)
        # rendered while the unit of work is open: the template reads the complaint's own fields
        return render(request, "complaint.html", {
            **_complaint_context(complaint, view, labels, now),
            "audit": [{**row, "note": ""} for row in _audit_rows(trail, labels)] if hidden else _audit_rows(trail, labels),
            "messages": [] if hidden else [
                {"at": labels.time(m.at), "to_citizen": m.to_citizen, "text": m.text, "photos": m.photos}
                for m in messages
            ],
            "words_hidden": hidden,
            "before": [p for p in photos if p.kind != PROOF],
            "after": [p for p in photos if p.kind == PROOF],
            "map_config": rt.config.dashboard.map,
            **actions,
        })


def _complaint_context(complaint: Complaint, view: Any, labels: _Labels, now: datetime) -> dict[str, Any]:
    """The complaint's own fields as the page shows them (read while its unit of work is open)."""
    return {
        "c": complaint,
        "number": complaint.number,
        "status_label": labels.status(complaint.status),
        "category": labels.category(complaint.category),
        "agency": labels.agency(complaint.agency),
        "created": labels.time(complaint.created_at),
        "updated": labels.time(complaint.updated_at),
        "due": labels.time(complaint.due_at),
        "accept_due": labels.time(complaint.accept_due_at),
        "resolved": labels.time(complaint.resolved_at),
        "overdue": is_overdue(complaint.status, complaint.accept_due_at, complaint.due_at, now),
        # how long is left, or how late: what a clerk looks for first (bot.web.deadline)
        "deadline_line": deadline_line(complaint.status, complaint.accept_due_at, complaint.due_at, now, labels.lang,
                                       labels.ctx, duplicate=complaint.duplicate_of is not None),
        # the name only when the citizen agreed (never under Anonim: build_view leaves it out), else the alias
        "reporter": view.reporter_name or view.reporter_alias,
        "reporter_named": view.reporter_name is not None,
        "privacy_mark": privacy.mark(complaint, labels.lang, labels.ctx),
        "confidential": privacy.is_confidential(complaint),
        "external_media_url": complaint.external_media_url,
        "lat": complaint.latitude,
        "lon": complaint.longitude,
    }


async def photo(request: web.Request) -> web.StreamResponse:
    """A complaint photo at full size, for an account that may see the complaint (else 404)."""
    rt = web_context(request).runtime
    try:
        photo_id = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    if not 0 < photo_id <= MAX_ID:  # past the column's range: the database would refuse the query (a 500)
        raise web.HTTPNotFound()
    async with UnitOfWork(rt.sessionmaker) as uow:
        found = await photo_for(uow.session, photo_id, _role(request))
        stored = (found[1].path, found[1].mime_type) if found is not None else None
    if stored is None:
        raise web.HTTPNotFound()
    relative, mime_type = stored
    try:
        path = rt.media.path_for(relative)
    except ValueError:
        raise web.HTTPNotFound() from None
    if not path.is_file():
        raise web.HTTPNotFound()
    response = web.FileResponse(path, headers={
        "Content-Type": mime_type, "Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff",
    })
    return response


# --- the agencies ---------------------------------------------------------------------------------


async def agencies_page(request: web.Request) -> web.Response:
    rt = web_context(request).runtime
    labels = _Labels(request)
    async with UnitOfWork(rt.sessionmaker) as uow:
        statuses = await agency_statuses(uow.session, _role(request), list(rt.config.agencies), now=_now(request))
        rows = [_agency_row(item, labels) for item in statuses]
    open_link = "/dashboard/complaints?" + urlencode([("status", s) for s in OPEN_STATUSES])
    return render(request, "agencies.html", {"rows": rows, "open_link": open_link})


def _agency_row(item: AgencyStatus, labels: _Labels) -> dict[str, Any]:
    """One agency as the page shows it (read while the unit of work is open)."""
    group = item.group
    # the bot cannot post: removed (left, kicked) or the chat is gone (broken_reason)
    broken = group is not None and (group.broken_reason is not None or group.bot_status in ("left", "kicked"))
    return {
        "key": item.key,
        "name": labels.agency(item.key),
        "short": labels.agency_short(item.key),
        "group_title": (group.title or "") if group is not None else None,
        "linked_at": labels.time(group.linked_at) if group is not None else "",
        "last_activity": labels.time(item.last_activity),
        "broken": broken,
        # Telegram's word (member, administrator) in the page's language
        "bot_status": labels.text(f"web.clerk.bot_status.{group.bot_status}", group.bot_status) if (
            group is not None and group.bot_status) else "",
        "broken_reason": (group.broken_reason or "") if group is not None else "",
        "broken_at": labels.time(group.broken_at) if group is not None else "",
        "open": item.open_now,
        "overdue": item.overdue_now,
    }


def routes() -> list[web.RouteDef]:
    """The pages' routes; each dashboard application gets its own overview snapshots."""
    snapshots: Snapshots[tuple[Overview, datetime]] = Snapshots(OVERVIEW_TTL)

    async def overview_handler(request: web.Request) -> web.Response:
        return await overview_page(request, snapshots)

    return [
        web.get("/", overview_handler, name="overview"),
        web.get("/complaints", complaints_page, name="complaints"),
        web.get("/complaints/{number}", complaint_page, name="complaint"),
        web.get("/agencies", agencies_page, name="agencies"),
        web.get(r"/photos/{id:\d+}", photo, name="photo"),
    ]


__all__ = ["routes"]
