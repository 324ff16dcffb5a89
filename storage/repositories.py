"""Repositories: the only code that writes SQL for the domain tables.

Each repository wraps the :class:`AsyncSession` of one unit of work and never commits: the unit of
work (:mod:`storage.uow`) commits once per event, so an event's changes and the outbox messages
they cause are stored together or not at all.

Race-safety pattern: where two events may insert the same unique key at once (a citizen's first
two messages, a redelivered update), the insert runs inside a SAVEPOINT; on IntegrityError only
the savepoint is rolled back, the outer transaction survives, and we read the winner's row.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar, cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import flag_modified

from routing.geo import bounding_box, haversine_m
from storage.models import (
    AgencyGroup,
    AuditEntry,
    Card,
    Citizen,
    Complaint,
    ComplaintFollower,
    ComplaintPhoto,
    ConversationRow,
    Counter,
    InboundMessage,
    LinkCode,
    MediaFile,
    MessageLink,
    MessageReceipt,
    OutboxMessage,
    ProcessedUpdate,
    utcnow,
)

if TYPE_CHECKING:
    pass

T = TypeVar("T")

#: link code alphabet: no 0/O or 1/I, which people misread when typing a code from a screen
LINK_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
LINK_CODE_LENGTH = 8

#: error texts are for humans; a 64 KB HTML error page from a proxy is not worth storing whole
MAX_ERROR_CHARS = 1000


def _clip(error: str, limit: int = MAX_ERROR_CHARS) -> str:
    return error if len(error) <= limit else error[: limit - 1] + "…"


class _Repo:
    """Base: holds the session of the unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _insert_or_none(self, obj: T) -> T | None:
        """Insert ``obj`` in a SAVEPOINT; None (and ``obj`` discarded) if a unique key exists."""
        # flush earlier pending changes first, so their errors are not mistaken for our conflict
        await self.session.flush()
        try:
            async with self.session.begin_nested():
                self.session.add(obj)
        except IntegrityError:
            return None
        return obj


#: built once (statement construction costs about as much as the query); bound per call
_CITIZEN_BY_CHANNEL = select(Citizen).where(
    Citizen.channel == bindparam("channel"), Citizen.channel_user_id == bindparam("user")
)
#: the citizen and (outer-joined) their conversation row: both land in the session's identity map
_CITIZEN_WITH_CONVERSATION = (
    select(Citizen, ConversationRow)
    .outerjoin(ConversationRow, ConversationRow.citizen_id == Citizen.id)
    .where(Citizen.channel == bindparam("channel"), Citizen.channel_user_id == bindparam("user"))
)


#: ``Session.info`` key: rows loaded alongside others and kept referenced until the session ends
_LOADED = "sikesal_loaded"


class CitizenRepo(_Repo):
    async def get(self, citizen_id: int) -> Citizen | None:
        return await self.session.get(Citizen, citizen_id)

    async def by_channel(self, channel: str, channel_user_id: str) -> Citizen | None:
        params = {"channel": channel, "user": str(channel_user_id)}
        return (await self.session.execute(_CITIZEN_BY_CHANNEL, params)).scalar_one_or_none()

    async def with_conversation(self, channel: str, channel_user_id: str) -> Citizen | None:
        """:meth:`by_channel`, loading the citizen's conversation row in the same query (into the session,
        so :meth:`ConversationRepo.load` needs no query of its own)."""
        params = {"channel": channel, "user": str(channel_user_id)}
        found = (await self.session.execute(_CITIZEN_WITH_CONVERSATION, params)).first()
        if found is None:
            return None
        # the session's identity map holds unchanged objects weakly: keep the row alive for this unit of work
        self.session.info.setdefault(_LOADED, []).append(found[1])
        return found[0]  # type: ignore[no-any-return]

    async def get_or_create(
        self,
        channel: str,
        channel_user_id: str,
        *,
        display_name: str | None = None,
        language: str | None = None,
        with_conversation: bool = False,
    ) -> Citizen:
        """The citizen for this channel account, created on first contact (``with_conversation``: see
        :meth:`with_conversation`).

        Two first messages may arrive at once: the unique constraint decides, the loser re-reads.
        An existing citizen's name is refreshed when a new one is given (people rename themselves).
        """
        channel_user_id = str(channel_user_id)
        if with_conversation:
            citizen = await self.with_conversation(channel, channel_user_id)
        else:
            citizen = await self.by_channel(channel, channel_user_id)
        if citizen is None:
            new = Citizen(
                channel=channel,
                channel_user_id=channel_user_id,
                display_name=display_name,
                language=language or "id",
                share_name=False,
                blocked_bot=False,
                created_at=utcnow(),
            )
            citizen = await self._insert_or_none(new)
            if citizen is None:
                citizen = await self.by_channel(channel, channel_user_id)
                if citizen is None:  # pragma: no cover - the conflicting row must be visible now
                    raise RuntimeError(f"citizen {channel}:{channel_user_id} vanished after a conflict")
            return citizen
        if display_name and citizen.display_name != display_name:
            citizen.display_name = display_name
        return citizen

    async def set_language(self, citizen: Citizen, lang: str) -> None:
        citizen.language = lang

    async def touch_inbound(self, citizen: Citizen, at: datetime) -> None:
        """The citizen wrote to us at ``at``: WhatsApp's 24-hour customer-service window runs from
        here. Never moves backwards, so a late-processed older message cannot shorten the window."""
        if citizen.last_inbound_at is None or at > citizen.last_inbound_at:
            # no flush of its own: the event's other changes to the row (the rate window) go in the same UPDATE
            citizen.last_inbound_at = at

    async def set_blocked(self, channel: str, channel_user_id: str, blocked: bool) -> bool:
        """Record that the citizen blocked (or unblocked) the bot, so nobody keeps retrying sends.
        Returns False when no such citizen exists."""
        result = await self.session.execute(
            update(Citizen)
            .where(Citizen.channel == channel, Citizen.channel_user_id == str(channel_user_id))
            .values(blocked_bot=blocked)
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0))


class ConversationRepo(_Repo):
    async def load(self, citizen_id: int) -> ConversationRow:
        """The conversation row, created idle and empty on first use (race-safe)."""
        row = await self.session.get(ConversationRow, citizen_id)
        if row is not None:
            return row
        created = await self._insert_or_none(
            ConversationRow(citizen_id=citizen_id, state={}, step="idle", updated_at=utcnow(), version=1)
        )
        if created is not None:
            return created
        row = await self.session.get(ConversationRow, citizen_id, populate_existing=True)
        if row is None:  # pragma: no cover
            raise RuntimeError(f"conversation {citizen_id} vanished after a conflict")
        return row

    async def save(self, row: ConversationRow, state: dict[str, Any], step: str, *, now: datetime) -> None:
        """Store the new state after a citizen's event.

        Always writes (and so bumps ``version``): if another event for the same citizen committed
        since this row was read, the flush raises ``StaleDataError`` instead of silently
        overwriting. A changed step or state means the citizen acted on the draft, so a reminder
        sent earlier no longer applies (``reminded_at`` is cleared and a new idle period starts).
        Pass a new dict; ``row.state`` is treated as immutable.
        """
        if step != row.step or state != row.state:
            row.reminded_at = None
        row.state = copy.deepcopy(state)
        flag_modified(row, "state")
        row.step = step
        row.updated_at = now
        await self.session.flush()

    async def mark_reminded(self, row: ConversationRow, now: datetime) -> None:
        """The idle-draft reminder was queued. ``updated_at`` is untouched: it measures the
        citizen's idleness, not ours."""
        row.reminded_at = now
        await self.session.flush()

    async def idle_drafts(
        self, *, idle_since: datetime, steps: Iterable[str], reminded: bool, limit: int = 100
    ) -> list[ConversationRow]:
        """Conversations in one of ``steps`` untouched since before ``idle_since``; ``reminded``
        selects those already reminded (to discard) or not yet (to remind). Oldest first."""
        steps = [str(s) for s in steps]
        if not steps:
            return []
        reminded_clause = (
            ConversationRow.reminded_at.is_not(None) if reminded else ConversationRow.reminded_at.is_(None)
        )
        result = await self.session.execute(
            select(ConversationRow)
            .where(
                ConversationRow.step.in_(steps),
                ConversationRow.updated_at < idle_since,
                reminded_clause,
            )
            .order_by(ConversationRow.updated_at, ConversationRow.citizen_id)
            .limit(limit)
        )
        return list(result.scalars())


#: statuses in which a complaint still needs an agency's attention (see handlers.lifecycle)
OPEN_STATUSES = ("baru", "diterima", "diproses", "dibuka_kembali")


class ComplaintRepo(_Repo):
    async def next_number(self, prefix: str, year: int) -> str:
        """The next tracking number, e.g. ``JMB-2026-000042``.

        A single ``UPDATE ... RETURNING`` increments the year's counter: on PostgreSQL it row-locks
        the counter until the filing transaction ends, on SQLite the transaction already holds the
        write lock; so numbers are unique, and a filing that rolls back releases its number to the
        next one (no gaps). The year's first number inserts the row in a SAVEPOINT; if another
        transaction inserted it first, the UPDATE is simply retried.
        """
        name = f"complaint:{year}"
        for _ in range(3):
            value = await self._increment(name)
            if value is None:
                inserted = await self._insert_or_none(Counter(name=name, value=1))
                if inserted is None:
                    continue
                value = 1
            return f"{prefix}-{year}-{value:06d}"
        raise RuntimeError(f"could not allocate a tracking number from counter {name}")

    async def _increment(self, name: str) -> int | None:
        result = await self.session.execute(
            update(Counter)
            .where(Counter.name == name)
            .values(value=Counter.value + 1)
            .returning(Counter.value)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def create(
        self,
        *,
        number: str,
        citizen_id: int,
        category: str,
        description: str,
        agency: str,
        latitude: float | None = None,
        longitude: float | None = None,
        address: str | None = None,
        kecamatan: str | None = None,
        kelurahan: str | None = None,
        status: str = "baru",
        due_at: datetime | None = None,
        now: datetime | None = None,
        photos: Sequence[tuple[str, str | None]] = (),
    ) -> Complaint:
        """Insert a complaint and its photos (``(sha256, telegram_file_id)`` in order; the
        :class:`MediaFile` rows must exist). Flushed, so ``id`` is set."""
        at = now or utcnow()
        complaint = Complaint(
            number=number,
            citizen_id=citizen_id,
            category=category,
            description=description,
            agency=agency,
            latitude=latitude,
            longitude=longitude,
            address=address,
            kecamatan=kecamatan,
            kelurahan=kelurahan,
            status=status,
            created_at=at,
            updated_at=at,
            due_at=due_at,
            photos=[
                ComplaintPhoto(position=i, sha256=sha, telegram_file_id=file_id)
                for i, (sha, file_id) in enumerate(photos)
            ],
        )
        self.session.add(complaint)
        await self.session.flush()
        return complaint

    async def get(self, complaint_id: int) -> Complaint | None:
        return await self.session.get(Complaint, complaint_id)

    async def get_for_update(self, complaint_id: int) -> Complaint | None:
        """Read and row-lock (PostgreSQL) the complaint, so two staff buttons pressed at once are
        applied one after the other, the second seeing the first's status. On SQLite the
        transaction's write lock already serialises them. Refreshes an already loaded object."""
        result = await self.session.execute(
            select(Complaint)
            .where(Complaint.id == complaint_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def by_number(self, number: str) -> Complaint | None:
        """Look up by tracking number; citizens type them, so surrounding blanks and lower case
        are forgiven (numbers are issued upper-case)."""
        typed = number.strip()
        result = await self.session.execute(select(Complaint).where(Complaint.number.in_({typed, typed.upper()})))
        return result.scalar_one_or_none()

    async def for_citizen(self, citizen_id: int, limit: int = 10) -> list[Complaint]:
        """The citizen's complaints, newest first."""
        result = await self.session.execute(
            select(Complaint)
            .where(Complaint.citizen_id == citizen_id)
            .order_by(Complaint.created_at.desc(), Complaint.id.desc())
            .limit(limit)
        )
        return list(result.scalars())

    async def open_without_card(self, agency: str, *, limit: int = 500) -> list[Complaint]:
        """Open complaints of ``agency`` that have no active card (their group was not linked yet)."""
        has_card = select(Card.id).where(Card.complaint_id == Complaint.id, Card.active.is_(True)).exists()
        result = await self.session.execute(
            select(Complaint)
            .where(Complaint.agency == agency, Complaint.status.in_(OPEN_STATUSES), ~has_card)
            .order_by(Complaint.id)
            .limit(limit)
        )
        return list(result.scalars())

    async def nearby_open(
        self,
        category: str,
        latitude: float,
        longitude: float,
        radius_m: float,
        *,
        limit: int = 3,
        exclude_citizen_id: int | None = None,
    ) -> list[tuple[NearbyComplaint, float]]:
        """Open complaints of ``category`` within ``radius_m`` of the point, nearest first, with their
        distance in metres.

        Why two stages: the bounding box is an index range scan on ``ix_complaints_nearby`` (category,
        latitude, longitude), fast at a million rows on SQLite and PostgreSQL alike with no spatial
        extension; the exact great-circle distance then drops the box's corners. Plain columns, not ORM
        objects: no photo loading, and nothing half-loaded left in the session's identity map (use
        :meth:`first_photos` for the few that are shown).
        """
        min_lat, min_lon, max_lat, max_lon = bounding_box(latitude, longitude, radius_m)
        stmt = select(
            Complaint.id, Complaint.number, Complaint.description, Complaint.status, Complaint.latitude,
            Complaint.longitude, Complaint.citizen_id, Complaint.privacy,
        ).where(
            Complaint.category == category,
            Complaint.latitude.between(min_lat, max_lat),
            Complaint.longitude.between(min_lon, max_lon),
            Complaint.status.in_(OPEN_STATUSES),
            Complaint.duplicate_of.is_(None),
        )
        if exclude_citizen_id is not None:
            stmt = stmt.where(Complaint.citizen_id != exclude_citizen_id)
        found: list[tuple[NearbyComplaint, float]] = []
        rows = (await self.session.execute(stmt.limit(2000))).all()
        for cid, number, description, status, lat, lon, citizen_id, privacy in rows:
            if lat is None or lon is None:  # the box excludes them; this is for the type checker
                continue
            complaint = NearbyComplaint(cid, number, description, status, lat, lon, citizen_id, privacy or "")
            distance = haversine_m(latitude, longitude, complaint.latitude, complaint.longitude)
            if distance <= radius_m:
                found.append((complaint, distance))
        found.sort(key=lambda pair: pair[1])
        return found[:limit]

    async def first_photos(self, complaint_ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
        """The citizen's first photo (sha256, Telegram file id) of each complaint that has one."""
        if not complaint_ids:
            return {}
        stmt = select(ComplaintPhoto.complaint_id, ComplaintPhoto.sha256, ComplaintPhoto.telegram_file_id).where(
            ComplaintPhoto.complaint_id.in_(list(complaint_ids)), ComplaintPhoto.position == 0,
            ComplaintPhoto.kind == "report",  # the citizen's first photo (a proof photo comes later)
        )
        return {cid: (sha, file_id) for cid, sha, file_id in (await self.session.execute(stmt)).all()}

    async def set_notice_error(self, complaint_id: int, error: str | None) -> bool:
        """Record (or clear, with None) why the citizen's latest notice about the complaint did not
        arrive; True if the stored value changed (the caller then re-renders the agency's card).

        One conditional UPDATE (``IS DISTINCT FROM``): two receipts for the same complaint racing
        cannot both report a change, and a loaded :class:`Complaint` is refreshed. ``updated_at``
        is left alone: it dates the complaint's own changes, not our delivery troubles.
        """
        value = None if error is None else _clip(error)
        result = await self.session.execute(
            update(Complaint)
            .where(Complaint.id == complaint_id, Complaint.citizen_notice_error.is_distinct_from(value))
            .values(citizen_notice_error=value)
            .execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def with_notice_error(self, citizen_id: int, error: str) -> list[Complaint]:
        """The citizen's complaints whose latest notice failed with ``error`` (e.g. the closed window)."""
        stmt = (
            select(Complaint)
            .where(Complaint.citizen_id == citizen_id, Complaint.citizen_notice_error == error)
            .order_by(Complaint.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def set_status(self, complaint: Complaint, status: str, *, now: datetime) -> str:
        """Change the status; returns the previous one (for the audit entry)."""
        previous = complaint.status
        complaint.status = status
        complaint.updated_at = now
        await self.session.flush()
        return previous

    async def move(
        self, complaint: Complaint, *, expected_status: str, status: str, now: datetime, agency: str | None = None
    ) -> bool:
        """Change the status (and, for a reassignment, the agency) only if the stored status is still
        ``expected_status`` and the agency still the one the caller read: one conditional ``UPDATE``
        whose row count says whether this caller won.

        Why in the database: two staff pressing the same button at once, in one process or in two,
        each read the complaint before the other wrote; the row lock of :meth:`get_for_update` orders
        them on PostgreSQL and SQLite's write lock does on SQLite, but this guard holds whatever the
        caller read and however it read it. On False the complaint is reloaded, so the caller sees
        (and can name) the status the other press left.
        """
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if agency is not None:
            values["agency"] = agency
        await self.session.flush()
        result = await self.session.execute(
            update(Complaint)
            .where(
                Complaint.id == complaint.id,
                Complaint.status == expected_status,
                Complaint.agency == complaint.agency,
            )
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        won = int(getattr(result, "rowcount", 0) or 0) == 1
        await self.session.refresh(complaint, attribute_names=["status", "agency", "updated_at"])
        return won

    async def by_sequence(self, prefix: str, sequence: int, *, limit: int = 5) -> list[Complaint]:
        """Complaints of any year whose number ends in ``sequence`` (``JMB-*-000004``), newest first:
        staff type "4" and mean this year's, but in January it may be last year's they mean."""
        if sequence < 1 or sequence > 999_999_999:
            return []
        stmt = (
            select(Complaint)
            .where(Complaint.number.like(f"{prefix}-%-{sequence:06d}"))
            .order_by(Complaint.created_at.desc(), Complaint.id.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def set_agency(self, complaint: Complaint, agency: str, *, now: datetime) -> str:
        """Reassign; returns the previous agency (for the audit entry)."""
        previous = complaint.agency
        complaint.agency = agency
        complaint.updated_at = now
        await self.session.flush()
        return previous


@dataclass(frozen=True, slots=True)
class NearbyComplaint:
    """What the duplicate check needs of an open complaint near a pin."""

    id: int
    number: str
    description: str
    status: str
    latitude: float
    longitude: float
    citizen_id: int
    #: Anonim / Rahasia (handlers.privacy): a Rahasia complaint is offered without its words and photo
    privacy: str = ""


class FollowerRepo(_Repo):
    """Citizens who reported the same problem as an existing complaint and follow its updates."""

    async def add(self, complaint_id: int, citizen_id: int, *, now: datetime | None = None) -> bool:
        """Follow; False if the citizen already follows it."""
        follower = ComplaintFollower(complaint_id=complaint_id, citizen_id=citizen_id, created_at=now or utcnow())
        return await self._insert_or_none(follower) is not None

    async def count(self, complaint_id: int) -> int:
        stmt = select(func.count()).select_from(ComplaintFollower).where(ComplaintFollower.complaint_id == complaint_id)
        return int(await self.session.scalar(stmt) or 0)

    async def citizen_ids(self, complaint_id: int) -> list[int]:
        stmt = (
            select(ComplaintFollower.citizen_id)
            .where(ComplaintFollower.complaint_id == complaint_id)
            .order_by(ComplaintFollower.id)
        )
        return list((await self.session.scalars(stmt)).all())

    async def follows(self, complaint_id: int, citizen_id: int) -> bool:
        stmt = select(ComplaintFollower.id).where(
            ComplaintFollower.complaint_id == complaint_id, ComplaintFollower.citizen_id == citizen_id
        )
        return (await self.session.scalar(stmt)) is not None


class AuditRepo(_Repo):
    async def add(
        self,
        complaint_id: int | None,
        *,
        actor_kind: str,
        actor_id: str | None,
        actor_name: str | None,
        action: str,
        from_status: str | None = None,
        to_status: str | None = None,
        from_agency: str | None = None,
        to_agency: str | None = None,
        note: str | None = None,
        refused: bool = False,
        at: datetime | None = None,
        media_sha256: str | None = None,
    ) -> AuditEntry:
        entry = AuditEntry(
            media_sha256=media_sha256,
            complaint_id=complaint_id,
            at=at or utcnow(),
            actor_kind=actor_kind,
            actor_id=None if actor_id is None else str(actor_id),
            actor_name=actor_name,
            action=action,
            from_status=from_status,
            to_status=to_status,
            from_agency=from_agency,
            to_agency=to_agency,
            note=note,
            refused=refused,
        )
        self.session.add(entry)
        await self.session.flush()
        return entry

    async def history(self, complaint_id: int, limit: int | None = None) -> list[AuditEntry]:
        """The complaint's audit trail, oldest first (``limit``: the first N entries)."""
        query = (
            select(AuditEntry)
            .where(AuditEntry.complaint_id == complaint_id)
            .order_by(AuditEntry.at, AuditEntry.id)
        )
        if limit is not None:
            query = query.limit(limit)
        result = await self.session.execute(query)
        return list(result.scalars())


class AgencyRepo(_Repo):
    async def create_link_code(self, agency: str, *, ttl: timedelta, now: datetime) -> str:
        """A fresh one-time code for ``/link <code>``: 8 characters from an alphabet without
        look-alikes, from :mod:`secrets` (32**8 ≈ 10**12 values, and codes expire)."""
        for _ in range(10):
            code = "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))
            created = await self._insert_or_none(
                LinkCode(code=code, agency=agency, created_at=now, expires_at=now + ttl, used_at=None)
            )
            if created is not None:
                return code
        raise RuntimeError("could not generate a unique link code")  # pragma: no cover

    async def consume_link_code(self, code: str, *, now: datetime) -> str | None:
        """The agency a valid code links to, marking it used; None if unknown, used or expired.

        A single conditional UPDATE, so two groups sending the same code at once cannot both win.
        """
        normalized = code.strip().upper()
        result = await self.session.execute(
            update(LinkCode)
            .where(LinkCode.code == normalized, LinkCode.used_at.is_(None), LinkCode.expires_at > now)
            .values(used_at=now)
            .returning(LinkCode.agency)
            .execution_options(synchronize_session=False)
        )
        return result.scalar_one_or_none()

    async def link(
        self, agency: str, chat_id: int, *, title: str | None, linked_by: str | None, now: datetime
    ) -> AgencyGroup:
        """Link ``chat_id`` to ``agency``: replaces the agency's previous group, and a chat already
        linked to another agency moves (one group, one agency)."""
        await self.session.execute(
            delete(AgencyGroup)
            .where(AgencyGroup.chat_id == chat_id, AgencyGroup.agency != agency)
            .execution_options(synchronize_session="fetch")
        )
        group = await self.session.get(AgencyGroup, agency, populate_existing=True)
        if group is None:
            group = AgencyGroup(agency=agency, chat_id=chat_id)
            self.session.add(group)
        group.chat_id = chat_id
        group.title = title
        group.linked_by = None if linked_by is None else str(linked_by)
        group.linked_at = now
        group.broken_reason = group.broken_at = None  # a fresh link works until Telegram says otherwise
        await self.session.flush()
        return group

    async def group_for(self, agency: str) -> AgencyGroup | None:
        return await self.session.get(AgencyGroup, agency)

    async def agency_for_chat(self, chat_id: int) -> str | None:
        result = await self.session.execute(select(AgencyGroup.agency).where(AgencyGroup.chat_id == chat_id))
        return result.scalar_one_or_none()

    async def all_groups(self) -> list[AgencyGroup]:
        result = await self.session.execute(select(AgencyGroup).order_by(AgencyGroup.agency))
        return list(result.scalars())

    async def unlink(self, agency: str) -> bool:
        """Remove the agency's group link; False if it had none."""
        result = await self.session.execute(
            delete(AgencyGroup)
            .where(AgencyGroup.agency == agency)
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0))

    async def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """Telegram upgraded a group to a supergroup (new chat id): follow it everywhere we
        address that chat -- the agency link, its cards and the Telegram message links."""
        await self.session.execute(
            update(AgencyGroup)
            .where(AgencyGroup.chat_id == old_chat_id)
            .values(chat_id=new_chat_id)
            .execution_options(synchronize_session="fetch")
        )
        await self.session.execute(
            update(Card)
            .where(Card.chat_id == old_chat_id)
            .values(chat_id=new_chat_id)
            .execution_options(synchronize_session="fetch")
        )
        await self.session.execute(
            update(MessageLink)
            .where(MessageLink.channel == "telegram", MessageLink.chat_id == str(old_chat_id))
            .values(chat_id=str(new_chat_id))
            .execution_options(synchronize_session="fetch")
        )


class CardRepo(_Repo):
    async def create(self, complaint_id: int, agency: str, chat_id: int, kind: str = "text") -> Card:
        """A new active card (message_id None until the outbox delivered it). Deactivating the
        previous card on reassignment is the caller's decision (see :meth:`deactivate`)."""
        card = Card(
            complaint_id=complaint_id,
            agency=agency,
            chat_id=chat_id,
            message_id=None,
            kind=kind,
            active=True,
            created_at=utcnow(),
        )
        self.session.add(card)
        await self.session.flush()
        return card

    async def get(self, card_id: int) -> Card | None:
        return await self.session.get(Card, card_id)

    async def active_for(self, complaint_id: int) -> Card | None:
        """The complaint's current card (the newest active one)."""
        result = await self.session.execute(
            select(Card)
            .where(Card.complaint_id == complaint_id, Card.active.is_(True))
            .order_by(Card.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def for_complaint(self, complaint_id: int) -> list[Card]:
        """All cards of the complaint, oldest first."""
        result = await self.session.execute(
            select(Card).where(Card.complaint_id == complaint_id).order_by(Card.id)
        )
        return list(result.scalars())

    async def active_outside(self, agency: str, chat_id: int) -> list[Card]:
        """Active cards of ``agency``'s complaints in chats other than ``chat_id``: what an agency's
        previous group still holds after the agency was linked to a new group."""
        result = await self.session.execute(
            select(Card)
            .join(Complaint, Complaint.id == Card.complaint_id)
            .where(Complaint.agency == agency, Card.active.is_(True), Card.chat_id != chat_id)
            .order_by(Card.id)
        )
        return list(result.scalars())

    async def active_in(self, chat_id: int) -> list[Card]:
        """The active cards a group holds (what must move when the bot loses the group)."""
        result = await self.session.execute(
            select(Card).where(Card.chat_id == chat_id, Card.active.is_(True)).order_by(Card.id)
        )
        return list(result.scalars())

    async def by_message(self, chat_id: int, message_id: int) -> Card | None:
        """The card carried by this message (button press, staff reply)."""
        result = await self.session.execute(
            select(Card).where(Card.chat_id == chat_id, Card.message_id == message_id).order_by(Card.id.desc()).limit(1)
        )
        return result.scalar_one_or_none()

    async def set_message(self, card: Card, message_id: int, kind: str) -> None:
        card.message_id = message_id
        card.kind = kind
        await self.session.flush()

    async def deactivate(self, card: Card) -> None:
        card.active = False
        await self.session.flush()


class MessageLinkRepo(_Repo):
    async def add(
        self,
        channel: str,
        chat_id: str | int,
        message_id: str | int,
        complaint_id: int,
        role: str,
        staff_user_id: str | int | None = None,
    ) -> MessageLink:
        """Record what a delivered message is about. Idempotent: recording the same message again
        (a retried delivery) returns the existing link unchanged."""
        existing = await self.find(channel, chat_id, message_id)
        if existing is not None:
            return existing
        link = MessageLink(
            channel=channel,
            chat_id=str(chat_id),
            message_id=str(message_id),
            complaint_id=complaint_id,
            role=role,
            staff_user_id=None if staff_user_id is None else str(staff_user_id),
            created_at=utcnow(),
        )
        inserted = await self._insert_or_none(link)
        if inserted is not None:
            return inserted
        existing = await self.find(channel, chat_id, message_id)
        if existing is None:  # pragma: no cover
            raise RuntimeError("message link vanished after a conflict")
        return existing

    async def close_prompts(self, complaint_id: int, roles: Iterable[str], closed_role: str) -> int:
        """End the open prompts (``roles``) of a complaint: delivered ones (their links) and queued
        ones (what their links will say once delivered) get ``closed_role``. Returns how many."""
        wanted = list(roles)
        links = await self.session.execute(
            update(MessageLink)
            .where(MessageLink.complaint_id == complaint_id, MessageLink.role.in_(wanted))
            .values(role=closed_role)
            .execution_options(synchronize_session="fetch")
        )
        queued = await self.session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.complaint_id == complaint_id,
                OutboxMessage.link_role.in_(wanted),
                OutboxMessage.status == "pending",
            )
            .values(link_role=closed_role)
            .execution_options(synchronize_session="fetch")
        )
        return sum(int(getattr(r, "rowcount", 0) or 0) for r in (links, queued))

    async def message_ids(
        self, complaint_id: int, role: str, channel: str, chat_id: str | int | None = None
    ) -> list[str]:
        """The delivered messages about a complaint with ``role`` (in one chat, when given), oldest first:
        e.g. a question whose buttons must come off, or the appeal card to edit."""
        stmt = select(MessageLink.message_id).where(
            MessageLink.complaint_id == complaint_id, MessageLink.role == role, MessageLink.channel == channel
        )
        if chat_id is not None:
            stmt = stmt.where(MessageLink.chat_id == str(chat_id))
        return [str(m) for m in (await self.session.scalars(stmt.order_by(MessageLink.id))).all()]

    async def find(self, channel: str, chat_id: str | int, message_id: str | int) -> MessageLink | None:
        result = await self.session.execute(
            select(MessageLink).where(
                MessageLink.channel == channel,
                MessageLink.chat_id == str(chat_id),
                MessageLink.message_id == str(message_id),
            )
        )
        return result.scalar_one_or_none()


class MediaRepo(_Repo):
    async def get(self, sha256: str) -> MediaFile | None:
        return await self.session.get(MediaFile, sha256)

    async def upsert(
        self, sha256: str, path: str, mime_type: str, size: int, telegram_file_id: str | None = None
    ) -> MediaFile:
        """The row for these bytes, created if new (race-safe). A known Telegram file id is kept
        unless a new one is given (it lets us resend without uploading)."""
        media = await self.get(sha256)
        if media is None:
            media = await self._insert_or_none(
                MediaFile(
                    sha256=sha256,
                    path=path,
                    mime_type=mime_type,
                    size=size,
                    telegram_file_id=telegram_file_id,
                    created_at=utcnow(),
                )
            )
            if media is not None:
                return media
            media = await self.session.get(MediaFile, sha256, populate_existing=True)
            if media is None:  # pragma: no cover
                raise RuntimeError(f"media {sha256} vanished after a conflict")
        if telegram_file_id and media.telegram_file_id != telegram_file_id:
            media.telegram_file_id = telegram_file_id
            await self.session.flush()
        return media

    async def set_telegram_file_id(self, sha256: str, file_id: str) -> None:
        media = await self.get(sha256)
        if media is not None:
            media.telegram_file_id = file_id
            await self.session.flush()


@dataclass(slots=True)
class InboxTicket:
    """The inbox row whose update the current task is processing (see :data:`INBOX_TICKET`).

    Why: the row must be marked done in the very transaction that claims its update's key, so the
    effects, the replies, the claim and "done" commit together (a crash between two transactions would
    otherwise leave a processed row pending, to be read, dispatched and refused by the claim after the
    restart), and the inbox needs no second transaction to record the outcome. ``done`` tells the inbox
    that this happened (set by :meth:`storage.uow.UnitOfWork.commit`); if not (the update was a
    duplicate, or no service claimed it), the inbox records the outcome itself as before.
    """

    row_id: int
    #: the idempotency key of the row's update (``tg:<update_id>``): only its claim marks the row
    key: str
    #: the row's sender: when given, the claim also reads the sender's next pending row (``next_head``)
    sender: str | None = None
    #: the row is marked done in a committed transaction
    done: bool = False
    #: ``(id, next_attempt_at)`` of the sender's next pending row as seen by that transaction (None: none)
    next_head: tuple[int, datetime] | None = None


#: set by the inbox around the processing of one row; read by :meth:`IdempotencyRepo.claim`
INBOX_TICKET: ContextVar[InboxTicket | None] = ContextVar("sikesal_inbox_ticket", default=None)
#: ``Session.info`` key under which a claim leaves its ticket for the unit of work's commit
TICKET_INFO = "sikesal_inbox_ticket"

#: built once (statement construction is a large part of a short transaction's cost); values are bound
#: per call, and SQLAlchemy's compiled cache then serves the SQL
_PROCESSED = cast(Table, ProcessedUpdate.__table__)
_INBOX_TABLE = cast(Table, InboundMessage.__table__)
_CLAIM = {
    "sqlite": sqlite_insert(_PROCESSED).on_conflict_do_nothing(index_elements=["key"]),
    "postgresql": postgresql_insert(_PROCESSED).on_conflict_do_nothing(index_elements=["key"]),
}
_INBOX = _INBOX_TABLE.c
_MARK_INBOX_DONE = (
    update(_INBOX_TABLE)
    .where(_INBOX.id == bindparam("row_id"))
    .values(status="done", attempts=_INBOX.attempts + 1, processed_at=bindparam("done_at"),
            lease_owner=None, lease_until=None)
)
#: ``(id, next_attempt_at)`` of ``:sender``'s first pending inbox row (storage.inbox.InboxRepo.head_due)
NEXT_HEAD = (
    select(_INBOX.id, _INBOX.next_attempt_at)
    .where(_INBOX.sender == bindparam("sender"), _INBOX.status == "pending")
    .order_by(_INBOX.seq, _INBOX.id)
    .limit(1)
)


class IdempotencyRepo(_Repo):
    async def claim(self, key: str, *, now: datetime | None = None) -> bool:
        """True the first time ``key`` is seen. Runs in the event's transaction: if the event
        fails and rolls back, the claim goes too and a redelivery is processed again; a second
        concurrent delivery waits for (PostgreSQL) or runs after (SQLite) the first and gets
        False. When the inbox is processing the row of this very key (:class:`InboxTicket`), the
        row is marked done here, in the same transaction."""
        values = {"key": key, "processed_at": now or utcnow()}
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        stmt = _CLAIM.get(dialect)
        if stmt is not None:
            # one statement, no SAVEPOINT: the hot path of every inbound update
            result = await self.session.execute(stmt, values)
            claimed = int(getattr(result, "rowcount", 0) or 0) == 1
        else:
            claimed = await self._insert_or_none(ProcessedUpdate(**values)) is not None
        ticket = INBOX_TICKET.get()
        if claimed and ticket is not None and ticket.key == key:
            await self.session.execute(_MARK_INBOX_DONE, {"row_id": ticket.row_id, "done_at": values["processed_at"]})
            self.session.info[TICKET_INFO] = ticket
            if ticket.sender is not None:  # the worker's next row, read here instead of in a transaction of its own
                found = (await self.session.execute(NEXT_HEAD, {"sender": ticket.sender})).first()
                ticket.next_head = (found[0], found[1]) if found is not None else None
        return claimed

    async def prune(self, older_than: datetime) -> int:
        """Forget keys processed before ``older_than`` (channels stop redelivering after a day or
        so); returns how many were removed."""
        result = await self.session.execute(
            delete(ProcessedUpdate)
            .where(ProcessedUpdate.processed_at < older_than)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


# --- delivery receipts ------------------------------------------------------------------------------

#: how far along a message is. Twilio's status callbacks arrive in any order, so a status only
#: replaces one of lower rank: a late "sent" never undoes "delivered". failed/undelivered come after
#: "sent" but a later "delivered" (rare, but it happens) still wins. Unknown statuses rank 0.
RECEIPT_RANKS: dict[str, int] = {
    "queued": 0,
    "accepted": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "failed": 3,
    "undelivered": 3,
    "delivered": 4,
    "read": 5,
}
#: statuses meaning the message will not reach the phone (their error code is kept)
RECEIPT_FAILURES = frozenset({"failed", "undelivered"})
#: the status of a receipt first recorded without one: the channel accepted the message
RECEIPT_DEFAULT_STATUS = "queued"
_STATUS_CHARS = 16


def receipt_rank(status: str | None) -> int:
    """The rank of a channel status (unknown and None: 0)."""
    return RECEIPT_RANKS.get((status or "").lower(), 0)


@dataclass(frozen=True, slots=True)
class ReceiptChange:
    """A receipt after :meth:`ReceiptRepo.record`, and what that call changed."""

    status: str
    error_code: int | None
    error_message: str | None
    outbox_id: int | None
    complaint_id: int | None
    chat_id: str | None
    #: the stored status changed (always True for a new receipt recorded with a status)
    changed: bool
    #: the status before this call (None: the receipt is new)
    previous_status: str | None
    #: this call filled in a missing ``outbox_id``/``complaint_id``: a status callback had been
    #: faster than the sender's own record, so the stored status (maybe a failure) was never
    #: looked at together with the complaint before
    linked: bool = False


class ReceiptRepo(_Repo):
    """Delivery receipts (:class:`MessageReceipt`), one per channel message. Never commits."""

    async def by_message(self, channel: str, message_id: str) -> MessageReceipt | None:
        result = await self.session.execute(
            select(MessageReceipt).where(
                MessageReceipt.channel == channel, MessageReceipt.message_id == str(message_id)
            )
        )
        return result.scalar_one_or_none()

    async def latest_for_complaint(self, complaint_id: int) -> MessageReceipt | None:
        """The receipt of the newest message about the complaint (by first record)."""
        result = await self.session.execute(
            select(MessageReceipt)
            .where(MessageReceipt.complaint_id == complaint_id)
            .order_by(MessageReceipt.id.desc())
            .limit(1)
        )
        return result.scalar_one_or_none()

    async def _locked(self, channel: str, message_id: str) -> MessageReceipt | None:
        """Read and row-lock (PostgreSQL) the receipt, refreshing a loaded one: two callbacks for
        the same message are then applied one after the other, each comparing ranks with the
        other's result (no lost update). SQLite's write lock already serialises them."""
        result = await self.session.execute(
            select(MessageReceipt)
            .where(MessageReceipt.channel == channel, MessageReceipt.message_id == message_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def record(
        self,
        channel: str,
        message_id: str,
        *,
        now: datetime,
        status: str | None = None,
        error_code: int | None = None,
        error_message: str | None = None,
        outbox_id: int | None = None,
        complaint_id: int | None = None,
        chat_id: str | None = None,
    ) -> ReceiptChange:
        """Upsert the receipt of ``message_id``, from the sender or from a status callback.

        * ``status`` is applied unless its rank (:data:`RECEIPT_RANKS`) is lower than the stored
          one's: callbacks arrive out of order. An applied status stores the error it carries; a
          failure status without one keeps the stored error, any other status clears it.
        * ``outbox_id``, ``complaint_id``, ``chat_id`` fill in missing fields whatever the rank:
          a callback may arrive before the sender recorded the send (it creates the row; the
          sender's record, of lower rank, then only completes it).
        * Race-safe and portable: an existing row is locked; a new one is inserted in a SAVEPOINT
          and, if a concurrent call inserted it first, re-read and updated.
        """
        message_id = str(message_id)
        new_status = status.strip().lower()[:_STATUS_CHARS] if status is not None and status.strip() else None
        chat = None if chat_id is None else str(chat_id)
        message = None if error_message is None else _clip(error_message)
        receipt = await self._locked(channel, message_id)
        if receipt is None:
            fresh = MessageReceipt(
                channel=channel,
                message_id=message_id,
                status=new_status or RECEIPT_DEFAULT_STATUS,
                error_code=error_code,
                error_message=message,
                outbox_id=outbox_id,
                complaint_id=complaint_id,
                chat_id=chat,
                updated_at=now,
            )
            await self.session.flush()
            try:
                async with self.session.begin_nested():
                    self.session.add(fresh)
            except IntegrityError:
                # a concurrent record of the same message won (or a foreign key is wrong: re-raise)
                receipt = await self._locked(channel, message_id)
                if receipt is None:
                    raise
            else:
                return _receipt_change(fresh, previous=None, changed=new_status is not None, linked=False)

        previous = receipt.status
        before = (receipt.status, receipt.error_code, receipt.error_message, receipt.chat_id)
        if new_status is not None and receipt_rank(new_status) >= receipt_rank(previous):
            receipt.status = new_status
            if error_code is not None or message is not None:
                receipt.error_code, receipt.error_message = error_code, message
            elif new_status not in RECEIPT_FAILURES:
                receipt.error_code, receipt.error_message = None, None
        linked = False
        if outbox_id is not None and receipt.outbox_id is None:
            receipt.outbox_id, linked = outbox_id, True
        if complaint_id is not None and receipt.complaint_id is None:
            receipt.complaint_id, linked = complaint_id, True
        if chat is not None and receipt.chat_id is None:
            receipt.chat_id = chat
        if linked or before != (receipt.status, receipt.error_code, receipt.error_message, receipt.chat_id):
            # only a real change dates the receipt: a retried callback must not move it back
            receipt.updated_at = now
            await self.session.flush()
        return _receipt_change(receipt, previous=previous, changed=receipt.status != previous, linked=linked)


def _receipt_change(
    receipt: MessageReceipt, *, previous: str | None, changed: bool, linked: bool
) -> ReceiptChange:
    return ReceiptChange(
        status=receipt.status,
        error_code=receipt.error_code,
        error_message=receipt.error_message,
        outbox_id=receipt.outbox_id,
        complaint_id=receipt.complaint_id,
        chat_id=receipt.chat_id,
        changed=changed,
        previous_status=previous,
        linked=linked,
    )


async def count_rows(session: AsyncSession, model: type[Any]) -> int:
    """Row count of a table (tests and the health command)."""
    result = await session.execute(select(func.count()).select_from(model))
    return int(result.scalar_one())
