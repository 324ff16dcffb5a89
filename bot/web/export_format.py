"""What one complaint becomes in the dashboard's exports (CSV and GeoJSON): the columns, the privacy rules
and the CSV-injection guard, as pure functions so :mod:`bot.web.export` only has to stream.

Privacy (the README's "Export" section says the same):

* the reporter is named by the alias staff see on cards (:func:`bot.services.complaints.alias_for`: "Warga
  #0042", or an Anonim complaint's own "Anonim #K7QF2M"), never a name, phone number, username or channel
  id: those columns are not even read from the database;
* a Rahasia complaint's description is replaced by the confidential label and its address and coordinates are
  left empty (so it is not in the GeoJSON at all); its kecamatan and kelurahan stay, they are what the
  command centre counts by. An export file leaves the dashboard (mail, shared drives), so it carries only
  what may leave the handling agency (:func:`handlers.privacy.is_public`).

CSV injection: a cell of text someone typed (description, address, alias, place names) that starts with
``= + - @`` (or a tab or carriage return) is prefixed with a single quote, so a spreadsheet shows it as text
instead of running it as a formula. Numbers and times are written by us and never prefixed (a latitude of
``-1.61`` stays a number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, cast

from bot.services.complaints import alias_for
from handlers import privacy
from handlers.staff_tools import is_overdue
from storage.models import Complaint

#: the export's columns, in order (the CSV header; GeoJSON properties minus the coordinates)
COLUMNS: tuple[str, ...] = (
    "number", "created_at", "updated_at", "status", "category", "agency", "kecamatan", "kelurahan", "address",
    "latitude", "longitude", "due_at", "resolved_at", "overdue", "description", "reporter", "rating",
)
#: what is read from the database: the columns above plus what the alias and the clocks need; nothing else
#: (no reporter_name, no citizen row: personal data cannot leak from what is never loaded)
SELECTED: tuple[Any, ...] = (
    Complaint.id, Complaint.number, Complaint.created_at, Complaint.updated_at, Complaint.status,
    Complaint.category, Complaint.agency, Complaint.kecamatan, Complaint.kelurahan, Complaint.address,
    Complaint.latitude, Complaint.longitude, Complaint.accept_due_at, Complaint.due_at, Complaint.resolved_at,
    Complaint.description, Complaint.citizen_id, Complaint.privacy, Complaint.anon_alias, Complaint.rating,
)
#: cells that start like this are formulas to a spreadsheet (OWASP's list)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
#: text columns someone typed or a place name came from: guarded against CSV injection
TEXT_COLUMNS = frozenset({"kecamatan", "kelurahan", "address", "description", "reporter", "status", "category",
                          "agency", "number"})


@dataclass(frozen=True, slots=True)
class ExportRules:
    """What formatting depends on: the time (for "overdue"), the city's timezone, the confidential label."""

    now: datetime
    tz: tzinfo
    confidential_label: str


def record(row: Any, rules: ExportRules) -> dict[str, Any]:
    """One complaint (a row of :data:`SELECTED`) as the export's values: plain Python (str, float, int,
    None), before any CSV escaping."""
    confidential = privacy.is_confidential(row.privacy or "")
    overdue = is_overdue(row.status, row.accept_due_at, row.due_at, rules.now)
    return {
        "number": row.number,
        "created_at": _when(row.created_at, rules.tz),
        "updated_at": _when(row.updated_at, rules.tz),
        "status": row.status,
        "category": row.category,
        "agency": row.agency,
        "kecamatan": row.kecamatan,
        "kelurahan": row.kelurahan,
        "address": None if confidential else row.address,
        "latitude": None if confidential else row.latitude,
        "longitude": None if confidential else row.longitude,
        "due_at": _when(row.due_at, rules.tz),
        "resolved_at": _when(row.resolved_at, rules.tz),
        "overdue": "yes" if overdue else "no",
        "description": rules.confidential_label if confidential else row.description,
        # the same function the cards use; it reads only id, citizen_id, privacy and anon_alias, which the
        # row has under the same names
        "reporter": alias_for(cast(Complaint, row), row.citizen_id),
        "rating": row.rating,
    }


def csv_cells(values: dict[str, Any]) -> list[str]:
    """The record's CSV row: None as an empty cell, typed text guarded against formulas."""
    cells: list[str] = []
    for column in COLUMNS:
        value = values[column]
        if value is None:
            cells.append("")
        elif column in TEXT_COLUMNS:
            cells.append(guard(str(value)))
        else:
            cells.append(str(value))
    return cells


def guard(text: str) -> str:
    """``text`` made safe for a spreadsheet: a leading formula character is preceded by a single quote."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def feature(values: dict[str, Any]) -> dict[str, Any] | None:
    """The record as a GeoJSON Feature (a Point, longitude first), or None without coordinates (never placed,
    or Rahasia)."""
    lat, lon = values["latitude"], values["longitude"]
    if lat is None or lon is None:
        return None
    properties = {k: v for k, v in values.items() if k not in ("latitude", "longitude")}
    properties["overdue"] = values["overdue"] == "yes"
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]}, "properties": properties}


def _when(at: datetime | None, tz: tzinfo) -> str | None:
    """ISO 8601 in the city's time, with its offset ("2026-11-29T09:15:00+07:00"): unambiguous, and sorts."""
    if at is None:
        return None
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return aware.astimezone(tz).isoformat(timespec="seconds")


def header() -> Sequence[str]:
    return COLUMNS


__all__ = ["COLUMNS", "SELECTED", "ExportRules", "csv_cells", "feature", "guard", "header", "record"]
