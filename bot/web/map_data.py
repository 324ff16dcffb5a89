"""What the dashboard's map draws: complaint pins and kecamatan shading, as GeoJSON, for one account.

Kept apart from the HTTP handlers (:mod:`bot.web.map`) so the rules can be read and tested on their own:

* **Who sees what.** An ``agency:<key>`` account gets only its agency's complaints (another agency in the
  ``agency`` filter gives an empty map, never an error that would confirm anything); ``command`` and
  ``viewer`` see every agency (:meth:`handlers.web_roles.Role.can_see`).
* **No personal data.** A pin's properties are the tracking number, category, status, agency, kecamatan,
  the filing date and the first :data:`DESCRIPTION_CHARS` characters of the description: never a name,
  alias, phone, channel id or citizen id (:data:`PIN_PROPERTIES` is the whole list; the tests hold it).
* **Rahasia.** A confidential complaint's words are for the handling agency and the command centre
  (:mod:`handlers.privacy`). Its pin is drawn for every dashboard account (they are all staff, and the
  count matters to the command centre), but a ``viewer`` gets ``description: null`` and
  ``confidential: true`` (the popup says "Rahasia"); ``command`` and the handling agency get the text.
* **Bounded.** At most :data:`PIN_LIMIT` pins, newest first; the answer says how many more matched
  (``omitted``), so the page can say the map is incomplete instead of silently dropping pins.

Only portable SQL (``substr``, ``count``, ``GROUP BY``): SQLite and PostgreSQL.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from shapely.geometry import mapping
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import privacy
from handlers.lifecycle import TERMINAL, Status
from handlers.web_roles import Role, RoleKind
from routing.geo import ServiceArea
from storage.models import Complaint

#: the most pins one answer carries (newest first); more would make the browser crawl
PIN_LIMIT = 5000
#: how much of the description a popup shows (the complaint page has the rest)
DESCRIPTION_CHARS = 80
#: the default and the largest ``days`` window (0 = any age)
DEFAULT_DAYS = 30
MAX_DAYS = 3650
#: statuses that count as open (on the map's default and in the kecamatan shading)
OPEN_STATUSES: tuple[str, ...] = tuple(s.value for s in Status if s not in TERMINAL)
#: every key a pin's ``properties`` may have: nothing here identifies a citizen
PIN_PROPERTIES = frozenset(
    {
        "number", "url", "category", "category_label", "status", "status_label", "agency", "agency_label",
        "kecamatan", "created", "created_label", "description", "confidential",
    }
)
#: pin colour per status (also the legend's): open ones warm, closed ones cool or grey
STATUS_COLOURS: dict[str, str] = {
    Status.BARU.value: "#d7301f",
    Status.DITERIMA.value: "#fc8d59",
    Status.DIPROSES.value: "#e6ab02",
    Status.DIBUKA_KEMBALI.value: "#7a0177",
    Status.SELESAI.value: "#1a9850",
    Status.DITOLAK.value: "#636363",
    Status.DUPLIKAT.value: "#969696",
    Status.DITARIK.value: "#bdbdbd",
}


class FilterError(ValueError):
    """A query parameter the map cannot use (the answer is a 400 naming it)."""


@dataclass(frozen=True, slots=True)
class PinFilter:
    statuses: tuple[str, ...] = OPEN_STATUSES
    category: str | None = None
    agency: str | None = None
    #: only complaints filed within this many days; None = any age
    days: int | None = DEFAULT_DAYS


def parse_filter(query: Mapping[str, str], *, categories: frozenset[str], agencies: frozenset[str]) -> PinFilter:
    """The map's filters from a query string: ``status`` (``open``, the default; ``all``; or statuses joined
    by commas), ``category``, ``agency`` and ``days`` (default 30; 0 = any age). Unknown values are refused
    rather than ignored, so a typo never shows a misleadingly empty or full map."""
    raw_status = (query.get("status") or "open").strip()
    statuses: tuple[str, ...]
    if raw_status == "open":
        statuses = OPEN_STATUSES
    elif raw_status == "all":
        statuses = tuple(s.value for s in Status)
    else:
        wanted = tuple(dict.fromkeys(part.strip() for part in raw_status.split(",") if part.strip()))
        known = {s.value for s in Status}
        unknown = [s for s in wanted if s not in known]
        if unknown or not wanted:
            raise FilterError(f"status: unknown {', '.join(unknown) or raw_status!r}")
        statuses = wanted
    category = (query.get("category") or "").strip() or None
    if category is not None and category not in categories:
        raise FilterError(f"category: unknown {category!r}")
    agency = (query.get("agency") or "").strip() or None
    if agency is not None and agency not in agencies:
        raise FilterError(f"agency: unknown {agency!r}")
    raw_days = (query.get("days") or "").strip()
    days: int | None = DEFAULT_DAYS
    if raw_days:
        try:
            number = int(raw_days)
        except ValueError:
            raise FilterError("days: expected a whole number") from None
        if not 0 <= number <= MAX_DAYS:
            raise FilterError(f"days: expected 0 to {MAX_DAYS}")
        days = number or None
    return PinFilter(statuses=statuses, category=category, agency=agency, days=days)


def _agency_scope(role: Role, wanted: str | None) -> tuple[bool, str | None]:
    """(anything visible?, the agency to restrict to): an agency account never leaves its own agency."""
    if role.sees_all:
        return True, wanted
    if wanted is not None and not role.can_see(wanted):
        return False, None
    return True, role.agency


def _conditions(pins: PinFilter, agency: str | None, now: datetime) -> list[ColumnElement[bool]]:
    found: list[ColumnElement[bool]] = [
        Complaint.latitude.is_not(None),
        Complaint.longitude.is_not(None),
        Complaint.status.in_(pins.statuses),
    ]
    if pins.category is not None:
        found.append(Complaint.category == pins.category)
    if agency is not None:
        found.append(Complaint.agency == agency)
    if pins.days is not None:
        found.append(Complaint.created_at >= now - timedelta(days=pins.days))
    return found


@dataclass(frozen=True, slots=True)
class Labels:
    """The words a pin carries in the reader's language (status, category and agency names)."""

    status: Mapping[str, str]
    category: Mapping[str, str]
    agency: Mapping[str, str]
    timezone: str
    #: the filing time as the pages write it ("29 Nov 2026 20:57 WIB"); None: the ISO date
    when: Callable[[datetime], str] | None = None


def _collection(features: list[dict[str, Any]], **members: Any) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": features, **members}


async def complaint_pins(
    session: AsyncSession, role: Role, pins: PinFilter, labels: Labels, *, now: datetime, limit: int | None = None
) -> dict[str, Any]:
    """The pins ``role`` may see under ``pins``, newest first, at most ``limit`` (default :data:`PIN_LIMIT`),
    as a FeatureCollection with ``total`` (matching), ``shown`` and ``omitted`` (left out by the limit)."""
    limit = PIN_LIMIT if limit is None else limit
    visible, agency = _agency_scope(role, pins.agency)
    if not visible:
        return _collection([], total=0, shown=0, omitted=0, limit=limit)
    where = _conditions(pins, agency, now)
    rows = (
        await session.execute(
            select(
                Complaint.number, Complaint.category, Complaint.status, Complaint.agency, Complaint.kecamatan,
                Complaint.created_at, Complaint.latitude, Complaint.longitude, Complaint.privacy,
                func.substr(Complaint.description, 1, DESCRIPTION_CHARS + 1),
            )
            .where(*where)
            .order_by(Complaint.created_at.desc(), Complaint.id.desc())
            .limit(limit)
        )
    ).all()
    total = len(rows)
    if total >= limit:
        total = int((await session.execute(select(func.count()).select_from(Complaint).where(*where))).scalar_one())
    zone = ZoneInfo(labels.timezone)
    hide_confidential = role.kind is RoleKind.VIEWER
    features = []
    for number, category, status, agency_key, kecamatan, created_at, lat, lon, choice, words in rows:
        confidential = privacy.is_confidential(str(choice or ""))
        text = str(words or "")
        if len(text) > DESCRIPTION_CHARS:
            text = text[:DESCRIPTION_CHARS].rstrip() + "…"
        properties = {
            "number": number,
            "url": f"/dashboard/complaints/{number}",
            "category": category,
            "category_label": labels.category.get(category, category),
            "status": status,
            "status_label": labels.status.get(status, status),
            "agency": agency_key,
            "agency_label": labels.agency.get(agency_key, agency_key),
            "kecamatan": kecamatan,
            "created": created_at.astimezone(zone).date().isoformat(),
            # for the popup, in the page's language and the city's time, as the list and the complaint page
            "created_label": labels.when(created_at) if labels.when is not None else (
                created_at.astimezone(zone).date().isoformat()),
            "description": None if (confidential and hide_confidential) else text,
            "confidential": confidential,
        }
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [round(float(lon), 6), round(float(lat), 6)]},
                "properties": properties,
            }
        )
    return _collection(features, total=total, shown=len(features), omitted=total - len(features), limit=limit)


@functools.lru_cache(maxsize=4)
def _shapes(area: ServiceArea) -> tuple[tuple[str, dict[str, Any]], ...]:
    """The kecamatan polygons as GeoJSON geometries, converted once per loaded boundary file."""
    return tuple((name, dict(mapping(shape))) for name, shape in area.kecamatan_shapes())


async def open_by_kecamatan(
    session: AsyncSession, role: Role, area: ServiceArea, *, category: str | None = None, agency: str | None = None,
    count: bool = True,
) -> dict[str, Any]:
    """Every kecamatan of the city's GeoJSON with ``name`` and ``open`` (open complaints ``role`` may see
    there, of any age), plus ``max`` and ``unplaced`` (open ones outside every kecamatan or without a pin).
    ``count=False``: the shapes only (every ``open`` 0), for the complaint page's small map."""
    visible, scoped = _agency_scope(role, agency)
    counts: dict[str | None, int] = {}
    if visible and count:
        where: list[ColumnElement[bool]] = [Complaint.status.in_(OPEN_STATUSES)]
        if category is not None:
            where.append(Complaint.category == category)
        if scoped is not None:
            where.append(Complaint.agency == scoped)
        result = await session.execute(
            select(Complaint.kecamatan, func.count()).where(*where).group_by(Complaint.kecamatan)
        )
        counts = {name: int(n) for name, n in result.all()}
    features: list[dict[str, Any]] = []
    most = 0
    for name, geometry in _shapes(area):
        open_here = counts.pop(name, 0)
        most = max(most, open_here)
        features.append({"type": "Feature", "geometry": geometry, "properties": {"name": name, "open": open_here}})
    return _collection(features, max=most, unplaced=sum(counts.values()))


__all__ = [
    "DEFAULT_DAYS",
    "DESCRIPTION_CHARS",
    "OPEN_STATUSES",
    "PIN_LIMIT",
    "PIN_PROPERTIES",
    "STATUS_COLOURS",
    "FilterError",
    "Labels",
    "PinFilter",
    "complaint_pins",
    "open_by_kecamatan",
    "parse_filter",
]
