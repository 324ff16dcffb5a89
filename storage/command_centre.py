"""The queries behind the command centre: the digests' figures per agency, the oldest overdue
complaints, and the escalation cards already posted for a complaint.

Kept out of :mod:`storage.repositories` (the domain tables' everyday reads and writes): these are the
command centre's own reads. Like the repositories, nothing here commits. Which statuses count as open
is the caller's (the lifecycle table's), passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEntry, Complaint, MessageLink


@dataclass(frozen=True, slots=True)
class AgencyCounts:
    """One agency's counts at ``now``: complaints filed since ``since``, open ones, open ones still
    waiting to be accepted (``waiting_status``) and open ones past their due time."""

    agency: str
    new: int
    open: int
    waiting: int
    overdue: int


async def agency_counts(
    session: AsyncSession,
    *,
    now: datetime,
    since: datetime,
    open_statuses: Sequence[str],
    waiting_status: str,
) -> dict[str, AgencyCounts]:
    """Every agency with a complaint filed since ``since`` or still open: one grouped query (the
    complaints' status and agency indexes narrow it to open and recent rows)."""
    is_open = Complaint.status.in_(list(open_statuses))
    overdue = and_(is_open, Complaint.due_at.is_not(None), Complaint.due_at <= now)
    result = await session.execute(
        select(
            Complaint.agency,
            func.sum(case((Complaint.created_at >= since, 1), else_=0)),
            func.sum(case((is_open, 1), else_=0)),
            func.sum(case((Complaint.status == waiting_status, 1), else_=0)),
            func.sum(case((overdue, 1), else_=0)),
        )
        .where(or_(is_open, Complaint.created_at >= since))
        .group_by(Complaint.agency)
    )
    return {
        str(agency): AgencyCounts(str(agency), int(new or 0), int(opened or 0), int(waiting or 0), int(late or 0))
        for agency, new, opened, waiting, late in result.all()
    }


async def oldest_overdue(
    session: AsyncSession,
    *,
    now: datetime,
    open_statuses: Sequence[str],
    agency: str | None = None,
    limit: int = 5,
) -> list[tuple[str, str, datetime]]:
    """(number, agency, due time) of the open complaints longest past their due time, of one agency
    or of the whole city."""
    query = select(Complaint.number, Complaint.agency, Complaint.due_at).where(
        Complaint.status.in_(list(open_statuses)), Complaint.due_at.is_not(None), Complaint.due_at <= now
    )
    if agency is not None:
        query = query.where(Complaint.agency == agency)
    result = await session.execute(query.order_by(Complaint.due_at, Complaint.id).limit(limit))
    return [(str(number), str(owner), due) for number, owner, due in result.all() if due is not None]


async def latest_link(session: AsyncSession, complaint_id: int, chat_id: int | str, roles: Sequence[str]) -> MessageLink | None:
    """The newest delivered message of ``roles`` about the complaint in ``chat_id`` (e.g. its latest
    escalation card in the command centre's group)."""
    result = await session.execute(
        select(MessageLink)
        .where(
            MessageLink.complaint_id == complaint_id,
            MessageLink.chat_id == str(chat_id),
            MessageLink.role.in_(list(roles)),
        )
        .order_by(MessageLink.id.desc())
        .limit(1)
    )
    return result.scalar_one_or_none()


async def count_actions(session: AsyncSession, complaint_id: int, action: str) -> int:
    """How many times ``action`` was recorded (not refused) for the complaint: e.g. its escalations."""
    result = await session.execute(
        select(func.count(AuditEntry.id)).where(
            AuditEntry.complaint_id == complaint_id, AuditEntry.action == action, AuditEntry.refused.is_(False)
        )
    )
    return int(result.scalar_one() or 0)


__all__ = ["AgencyCounts", "agency_counts", "count_actions", "latest_link", "oldest_overdue"]
