"""What Open311 publishes about a complaint, and what it never does.

Published (a city may publish these): the tracking number, the status mapped to open/closed with a note,
the category, the description, the agency, the times (in the city's offset), the address and the pin, and
``media_url`` for a photo only once it is re-encoded without metadata (or the link an Open311 app gave).

Never published: a name, an alias, a phone number, a channel id, messages, notes of staff, ratings.
Confidential (*Rahasia*) complaints are not published at all (:func:`publishable`; by id they are a 404),
nor are withdrawn ones (the citizen erased their data: its text and pin are gone).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, select

from bot.services.complaints import PROOF
from bot.services.runtime import Runtime
from handlers import lifecycle, privacy
from storage.models import Complaint, MediaFile
from storage.uow import UnitOfWork

#: our lifecycle -> Open311's two statuses
CLOSED_STATUSES = frozenset({
    lifecycle.Status.SELESAI, lifecycle.Status.DITOLAK, lifecycle.Status.DUPLIKAT, lifecycle.Status.DITARIK,
})
OPEN_STATUSES = frozenset(s for s in lifecycle.Status if s not in CLOSED_STATUSES)
#: never published (see the module's docstring)
HIDDEN_STATUSES = frozenset({lifecycle.Status.DITARIK})


def open311_status(status: str) -> str:
    return "closed" if status in CLOSED_STATUSES else "open"


def statuses_for(wanted: Sequence[str]) -> set[str]:
    """Our statuses behind Open311's ``open`` / ``closed``."""
    found: set[str] = set()
    if "open" in wanted:
        found |= {str(s) for s in OPEN_STATUSES}
    if "closed" in wanted:
        found |= {str(s) for s in CLOSED_STATUSES}
    return found


def publishable() -> ColumnElement[bool]:
    """The SQL condition of a complaint Open311 may show (the same rule as :func:`is_published`)."""
    return and_(Complaint.privacy != privacy.RAHASIA, Complaint.status.not_in([str(s) for s in HIDDEN_STATUSES]))


def is_published(complaint: Complaint) -> bool:
    return privacy.is_public(complaint) and complaint.status not in HIDDEN_STATUSES


def iso(rt: Runtime, moment: datetime | None) -> str | None:
    """ISO 8601 (W3C) in the city's offset, e.g. ``2026-11-29T09:30:00+07:00``."""
    if moment is None:
        return None
    return moment.astimezone(ZoneInfo(rt.config.city.timezone)).isoformat(timespec="seconds")


def first_photo_id(complaint: Complaint) -> tuple[int, str] | None:
    """The citizen's first photo of the problem (id, sha256); a clerk's "after" photo is not it."""
    photo = next((p for p in complaint.photos if p.kind != PROOF), None)
    return (photo.id, photo.sha256) if photo is not None else None


async def reencoded(uow: UnitOfWork, sha256s: Sequence[str]) -> set[str]:
    """Which of these files are stored re-encoded without metadata (only those may be published)."""
    if not sha256s:
        return set()
    result = await uow.session.execute(
        select(MediaFile.sha256).where(MediaFile.sha256.in_(list(set(sha256s))), MediaFile.reencoded.is_(True))
    )
    return set(result.scalars())


def status_notes(rt: Runtime, complaint: Complaint, language: str) -> str:
    note = rt.ctx.t(language, f"open311.status.{complaint.status}")
    if complaint.status == lifecycle.Status.DITOLAK and complaint.reject_reason:
        return rt.ctx.t(language, "open311.status.rejected_because", reason=complaint.reject_reason)
    return note


def record(
    rt: Runtime, complaint: Complaint, language: str, *, media_url: str | None, service_notice: str | None = None
) -> dict[str, Any]:
    """One ``request`` of GeoReport v2, without any personal data."""
    category = rt.ctx.category(complaint.category)
    agency = rt.ctx.agency(complaint.agency)
    return {
        "service_request_id": complaint.number,
        "status": open311_status(complaint.status),
        "status_notes": status_notes(rt, complaint, language),
        "service_name": category.label(language) if category else complaint.category,
        "service_code": complaint.category,
        "description": complaint.description,
        "agency_responsible": agency.name(language) if agency else complaint.agency,
        "service_notice": service_notice,
        "requested_datetime": iso(rt, complaint.created_at),
        "updated_datetime": iso(rt, complaint.updated_at),
        "expected_datetime": iso(rt, complaint.due_at),
        "address": complaint.address,
        "address_id": None,
        "zipcode": None,
        "lat": complaint.latitude,
        "long": complaint.longitude,
        "media_url": complaint.external_media_url or media_url,
    }


__all__ = [
    "CLOSED_STATUSES", "HIDDEN_STATUSES", "OPEN_STATUSES", "first_photo_id", "is_published", "iso", "open311_status",
    "publishable", "record", "reencoded", "status_notes", "statuses_for",
]
