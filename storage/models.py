"""The schema. Every table is created by Alembic migrations (storage/migrations), never by create_all
in production code. Portable column types only (no JSONB, no ARRAY): JSON is stored with
SQLAlchemy's generic ``JSON`` type, times as timezone-aware UTC ``DateTime(timezone=True)`` through
:class:`UTCDateTime`, so Python code sees aware UTC datetimes on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always hands Python an aware UTC datetime.

    SQLite has no time zone support: SQLAlchemy stores the wall-clock digits and returns naive
    datetimes, so an aware value in another zone would be silently shifted and comparisons in SQL
    (``updated_at < :idle_since``) would compare different zones as text. We therefore convert
    every value to UTC before it is stored (and refuse naive ones, whose zone is a guess), and tag
    naive results as UTC when they come back. PostgreSQL ``timestamptz`` already round-trips
    aware values; the conversion to UTC just makes the zone uniform.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: SiKesal stores timezone-aware UTC datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # the SQLite storage format has no offset; all stored values are UTC wall-clock
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, datetime: UTCDateTime()}


def fit_column(value: str, length: int) -> str:
    """``value`` cut to a ``VARCHAR(length)`` column, ending in an ellipsis when cut."""
    return value if len(value) <= length else value[: length - 1] + "…"


@event.listens_for(Base, "before_insert", propagate=True)
@event.listens_for(Base, "before_update", propagate=True)
def _fit_strings(_mapper: Any, _connection: Any, target: Any) -> None:
    """No text a person chose (a name, a title) can make an insert fail: PostgreSQL refuses a value longer
    than its ``VARCHAR`` (SQLite stores it anyway), and a refused insert would hold back that person's
    every later message. Telegram allows 64 + 64 characters for a full name, for example, one more than
    the 128 of ``display_name``. Over-long values are cut here, once, for every table."""
    for key, length in _bounded_strings(target.__table__):
        value = target.__dict__.get(key)
        if isinstance(value, str) and len(value) > length:
            setattr(target, key, fit_column(value, length))


@functools.cache
def _bounded_strings(table: Any) -> tuple[tuple[str, int], ...]:
    """The ``VARCHAR(n)`` columns of a table, worked out once (flushes are on every update's path)."""
    return tuple(
        (column.key, column.type.length)
        for column in table.columns
        if isinstance(column.type, String) and column.type.length
    )


class Citizen(Base):
    """A person writing to the bot on one channel. ``channel_user_id`` is the chat to answer in
    (Telegram private chat id, or the WhatsApp number). Never shown to agency staff."""

    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))  # "telegram" | "whatsapp"
    channel_user_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str | None] = mapped_column(String(128))
    language: Mapped[str] = mapped_column(String(8), default="id")
    #: the citizen agreed that staff may see their name (never phone or username)
    share_name: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when the citizen last wrote to us; WhatsApp only lets a business send free-form messages
    #: within 24 hours of it (the customer-service window), later ones need an approved template
    last_inbound_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the command centre blocked this citizen (issue 12; ``blocked_bot`` is the other way round): when,
    #: why; their messages get one short notice, then are ignored
    blocked_at: Mapped[datetime | None] = mapped_column(default=None)
    blocked_reason: Mapped[str | None] = mapped_column(Text, default=None)
    #: when the blocked citizen was told once that their account is restricted (then silence)
    block_noticed_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the message rate (handlers.floods.Rate): messages counted in the window starting at ``rate_at`` and
    #: in the minute before, the last album or message group counted and when, and whether "pelan-pelan"
    #: was said during this flood. On the row already loaded for every update: no extra query
    rate_at: Mapped[datetime | None] = mapped_column(default=None)
    rate_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rate_previous: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    rate_group: Mapped[str | None] = mapped_column(String(64), default=None)
    rate_group_at: Mapped[datetime | None] = mapped_column(default=None)
    rate_warned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: complaints filed on ``filed_day`` (the city's local date, ISO): the daily cap without a count query
    filed_day: Mapped[str | None] = mapped_column(String(10), default=None)
    filed_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the citizen's personal data was erased (/hapusdata): channel_user_id is then a keyed hash
    erased_at: Mapped[datetime | None] = mapped_column(default=None)


class ConversationRow(Base):
    """The conversation core's state for one citizen (see handlers.state.Conversation)."""

    __tablename__ = "conversations"

    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    step: Mapped[str] = mapped_column(String(32), default="idle", index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    reminded_at: Mapped[datetime | None] = mapped_column(default=None)
    #: optimistic concurrency: two events for the same citizen never both win
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 (SQLAlchemy reads it once)


class Complaint(Base):
    __tablename__ = "complaints"
    #: the nearby-duplicates lookup: one category, a latitude range, then longitude (see
    #: ComplaintRepo.nearby_open); a million rows stay a short index range scan
    __table_args__ = (Index("ix_complaints_nearby", "category", "latitude", "longitude"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)  # e.g. JMB-2026-000042
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    description: Mapped[str] = mapped_column(Text)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(Text)
    agency: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(16), default="baru", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the latest rejection reason (also in the audit trail)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    #: the citizen's name as they agreed to show it to staff on this complaint; None = alias only
    reporter_name: Mapped[str | None] = mapped_column(String(128), default=None)
    #: why the latest notification to the citizen about this complaint could not be delivered
    #: (``window`` or ``<code>: <message>``, see bot.services.receipts); None once a later one got
    #: through. Shown on the agency's card, so staff know the citizen did not hear from them.
    citizen_notice_error: Mapped[str | None] = mapped_column(Text, default=None)
    #: the district the location falls in (from the city's GeoJSON, found offline)
    kecamatan: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    kelurahan: Mapped[str | None] = mapped_column(String(64), default=None)
    #: staff marked this complaint as a report of the same problem as another one
    #: (a plain id, no FOREIGN KEY: see migration 0004)
    duplicate_of: Mapped[int | None] = mapped_column(Integer, default=None)
    #: the clocks (issue 11, see handlers.clocks): accept by ``accept_due_at`` (restarted by a reassign),
    #: resolve by ``due_at`` (counted from filing, restarted by a reopen). The rounds name which run of
    #: each clock a timer belongs to, so a timer planned for an earlier run is recognised as stale.
    accept_due_at: Mapped[datetime | None] = mapped_column(default=None)
    accept_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    resolve_round: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    reopen_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the clerk's note with the resolution (the "after" photos are complaint_photos of kind "proof")
    proof_note: Mapped[str | None] = mapped_column(Text, default=None)
    #: the citizen's answer to "Apakah masalahnya sudah beres?": asked | yes | no | auto (closed unanswered)
    confirmation: Mapped[str | None] = mapped_column(String(8), default=None)
    confirm_asked_at: Mapped[datetime | None] = mapped_column(default=None)
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    rating_comment: Mapped[str | None] = mapped_column(Text, default=None)
    rated_at: Mapped[datetime | None] = mapped_column(default=None)
    #: an appeal against a rejection (once): the citizen's reason, when, and the command centre's outcome
    #: (pending | upheld | reopened | reassigned)
    appeal_reason: Mapped[str | None] = mapped_column(Text, default=None)
    appealed_at: Mapped[datetime | None] = mapped_column(default=None)
    appeal_outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    #: issue 12: "" (default: an alias, content visible to staff), "anonim" (no name, an alias of this
    #: complaint only) or "rahasia" (content only for the handling agency and the command centre)
    privacy: Mapped[str] = mapped_column(String(8), default="", server_default="")
    #: an Anonim complaint's alias for staff ("Anonim #K7QF2M"): random, of this complaint only
    anon_alias: Mapped[str | None] = mapped_column(String(32), default=None)
    #: a photo link an Open311 app gave with its request (stored as a link, never fetched by the server)
    external_media_url: Mapped[str | None] = mapped_column(Text, default=None)

    photos: Mapped[list[ComplaintPhoto]] = relationship(
        back_populates="complaint", order_by="ComplaintPhoto.position", lazy="selectin"
    )


class MediaFile(Base):
    """A stored file, by content hash; the bytes live on disk under the media directory."""

    __tablename__ = "media_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    path: Mapped[str] = mapped_column(String(255))  # relative to the media directory
    mime_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: the bytes are the re-encoded, metadata-free photo (every file stored since issue 12 is: MediaStore.put);
    #: false only for files stored before, until ``sikesal migrate`` re-encodes them (bot.services.photos)
    reencoded: Mapped[bool] = mapped_column(Boolean, default=True, server_default=false())


class ComplaintPhoto(Base):
    __tablename__ = "complaint_photos"
    __table_args__ = (UniqueConstraint("complaint_id", "position"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(ForeignKey("media_files.sha256"))
    telegram_file_id: Mapped[str | None] = mapped_column(String(255))
    #: "report" (the citizen's photo of the problem) or "proof" (the clerk's "after" photo with Selesai)
    kind: Mapped[str] = mapped_column(String(8), default="report", server_default="report")

    complaint: Mapped[Complaint] = relationship(back_populates="photos")


class AuditEntry(Base):
    """Every action on a complaint: who, when, from, to, note. Also refused attempts (``refused``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_kind: Mapped[str] = mapped_column(String(16))  # citizen | staff | system
    actor_id: Mapped[str | None] = mapped_column(String(64))  # channel user id (staff) / citizen id
    actor_name: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))  # submit, accept, process, resolve, reject, reassign, reply...
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    from_agency: Mapped[str | None] = mapped_column(String(32))
    to_agency: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    refused: Mapped[bool] = mapped_column(Boolean, default=False)
    #: a photo that came with the action (the clerk's "after" photo with Selesai: a complaint_photos row of
    #: kind "proof" holds the same file), by content hash; None for actions without one
    media_sha256: Mapped[str | None] = mapped_column(String(64), default=None)


class AgencyGroup(Base):
    """The Telegram group linked to an agency. One active link per agency."""

    __tablename__ = "agency_groups"

    agency: Mapped[str] = mapped_column(String(32), primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    title: Mapped[str | None] = mapped_column(String(255))
    linked_at: Mapped[datetime] = mapped_column(default=utcnow)
    linked_by: Mapped[str | None] = mapped_column(String(64))
    #: the bot's own status in the group, from my_chat_member updates and getChatMember at /link:
    #: member | administrator | left | kicked (None: not known yet). Telegram sends chat_member
    #: updates (staff joining and leaving) only to an administrator.
    bot_status: Mapped[str | None] = mapped_column(String(16), default=None)
    #: why cards cannot reach this group (the bot was removed, the chat is gone); None while it works.
    #: Cards for the agency then go to the command centre's group (see bot.services.reroute).
    broken_reason: Mapped[str | None] = mapped_column(Text, default=None)
    broken_at: Mapped[datetime | None] = mapped_column(default=None)


class LinkCode(Base):
    """One-time code printed by ``sikesal agency link-code`` and sent as ``/link <code>`` in a group."""

    __tablename__ = "link_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class Card(Base):
    """A complaint's card in an agency group. A reassigned complaint gets a new card; the old one
    stays with ``active=False`` and shows where the complaint went."""

    __tablename__ = "cards"
    #: reply relay and button presses look a card up by the message that carries it
    __table_args__ = (Index("ix_cards_chat_message", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    agency: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    #: the message carrying the buttons (None until the outbox delivered it)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    #: "photo" (caption editable) or "text"
    kind: Mapped[str] = mapped_column(String(8), default="text")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: set when this card stands in the command centre's group because the agency's own group could
    #: not be reached (the reason); the command centre may act on it and reassign the complaint
    reroute_reason: Mapped[str | None] = mapped_column(Text, default=None)


class MessageLink(Base):
    """Maps a delivered message to the complaint it is about, for reply relay both ways
    (a staff reply to a card, a citizen reply to a notification, a reply to a rejection prompt)."""

    __tablename__ = "message_links"
    __table_args__ = (UniqueConstraint("channel", "chat_id", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    #: card | album | notification | reject_prompt | relay
    role: Mapped[str] = mapped_column(String(16))
    #: for reject_prompt: the staff user who was asked
    staff_user_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxMessage(Base):
    """A message to deliver, written in the same transaction as the change that caused it.

    ``payload`` is a serialized :class:`handlers.messages.OutMessage`. ``kind`` is ``send`` or
    ``edit_card`` (re-render card ``card_id`` in place). ``link_*`` say what to record in
    :class:`MessageLink` (and on the card) once the channel returns message ids.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="send")
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"))
    link_role: Mapped[str | None] = mapped_column(String(16))
    link_staff_user_id: Mapped[str | None] = mapped_column(String(64))
    #: pending | sent | failed (permanent) | superseded (a newer edit of the same card replaced it)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    #: the channel's ids of what was sent, JSON list of str
    result_message_ids: Mapped[list[str] | None] = mapped_column(JSON, default=None)
    #: which process is delivering the row, and until when (see storage.leases): with several
    #: processes on one database, each row is sent by exactly one of them; a dead process's lease expires
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    #: when retention (``privacy.messages_days``) dropped the payload's content (the row, its status and
    #: receipts stay): set once, so the daily purge never rewrites a row twice
    purged_at: Mapped[datetime | None] = mapped_column(default=None)


class ProcessedUpdate(Base):
    """Inbound idempotency: an update key (``tg:<update_id>``, ``wa:<MessageSid>``) seen once."""

    __tablename__ = "processed_updates"

    key: Mapped[str] = mapped_column(String(96), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class Counter(Base):
    """Per-year sequence for tracking numbers; incremented inside the filing transaction."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)  # e.g. "complaint:2026"
    value: Mapped[int] = mapped_column(Integer, default=0)


class InboundMessage(Base):
    """The webhook's inbox: a raw inbound channel message (the Twilio form), stored before the
    webhook answers 200 and processed afterwards by a worker.

    Why: Twilio waits at most 15 seconds for the webhook and retries (or gives up) otherwise;
    storing the form is fast and durable, so a slow or failing handler neither loses a message nor
    makes Twilio resend it. ``key`` (``wa:<MessageSid>``) makes a redelivery a no-op. Rows of one
    ``sender`` are processed strictly in order (see :meth:`storage.repositories.InboxRepo.due_heads`).
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        Index("ix_inbound_messages_due", "status", "next_attempt_at"),
        Index("ix_inbound_messages_sender_seq", "sender", "seq"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(96), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: the citizen's chat id on the channel, e.g. "+6281234567890"
    sender: Mapped[str] = mapped_column(String(64), index=True)
    #: the form fields as received (str -> str)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: pending | done | failed (permanent)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text)
    #: the order within a sender: Telegram's update_id (webhooks of one chat may reach different
    #: processes out of order), the arrival time in microseconds for WhatsApp
    seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(64), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    #: when retention (``privacy.messages_days``) dropped the stored form or update (the key stays, so a
    #: redelivery is still recognised): set once, so the daily purge never rewrites a row twice
    purged_at: Mapped[datetime | None] = mapped_column(default=None)


class MessageReceipt(Base):
    """The delivery status of one message we sent on a channel (Twilio status callbacks).

    Written both by the sender (when the channel accepted the message: links it to the outbox row,
    complaint and chat) and by the status callback webhook, in either order; statuses only move
    forward (see :meth:`storage.repositories.ReceiptRepo.record`).
    """

    __tablename__ = "message_receipts"
    __table_args__ = (UniqueConstraint("channel", "message_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    #: the channel's id of the message (Twilio MessageSid)
    message_id: Mapped[str] = mapped_column(String(64))
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id", ondelete="SET NULL"), index=True)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True)
    chat_id: Mapped[str | None] = mapped_column(String(64))
    #: queued | accepted | scheduled | sending | sent | failed | undelivered | delivered | read | ...
    status: Mapped[str] = mapped_column(String(16))
    #: the channel's error code of a failed delivery (Twilio: 63016 = outside the 24-hour window)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ComplaintFollower(Base):
    """A citizen who reported the same problem as an existing complaint ("same problem") and follows its
    updates. The agency card shows how many did; staff never see who."""

    __tablename__ = "complaint_followers"
    __table_args__ = (UniqueConstraint("complaint_id", "citizen_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Lease(Base):
    """A named lease held by one process at a time (the Telegram long-poller, a scheduler), renewed
    while the holder lives and free once it expires (see storage.leases)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupMember(Base):
    """What the bot knows of a user's membership in an agency group: from ``chat_member`` updates
    (``source='update'``, authoritative and immediate, sent only to an administrator bot) or from a
    ``getChatMember`` answer (``source='api'``, trusted for a short while). Shared by every process."""

    __tablename__ = "group_members"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: Telegram's ChatMember status: creator | administrator | member | restricted | left | kicked
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Timer(Base):
    """A deadline timer (issue 11): a reminder, an overdue notice, an escalation level, a digest, the
    close of an unanswered resolution question. The scheduler fires what is due (``fired_at`` set once,
    by a conditional UPDATE, so a timer fires once even with several processes and after a restart).

    ``subject`` names what the timer is about (``c<complaint id>``, ``agency:<key>``, ``city``); with
    ``kind``, ``level`` and ``round`` (which run of the clock, see Complaint.accept_round) it is unique,
    so planning the same timer twice stores it once."""

    __tablename__ = "timers"
    __table_args__ = (
        UniqueConstraint("kind", "subject", "level", "round"),
        #: what is due: only unfired timers, ordered by due time (a partial index on both backends)
        Index("ix_timers_due", "due_at", sqlite_where=text("fired_at IS NULL"),
              postgresql_where=text("fired_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    subject: Mapped[str] = mapped_column(String(64))
    level: Mapped[int] = mapped_column(Integer, default=0)
    round: Mapped[int] = mapped_column(Integer, default=0)
    complaint_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"), index=True, default=None)
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime | None] = mapped_column(default=None)
    #: why it fired without effect, or was deferred (quiet hours) -- for the operator
    outcome: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebAccount(Base):
    """A dashboard account (issue 13): the command centre, an agency supervisor or a viewer.

    ``version`` is carried in the session cookie and compared on every request: ``sikesal user passwd``
    and ``sikesal user disable`` bump it, which ends every existing session of the account at once."""

    __tablename__ = "web_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    #: ``command``, ``agency:<key>`` or ``viewer`` (handlers.web_roles)
    role: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    disabled_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class LoginThrottle(Base):
    """Failed dashboard logins per account (``user:<name>``) and per client address (``addr:<ip>``): each
    failure makes the next attempt wait longer; a success clears the account's row. Never a hard lock."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: no attempt is checked before this moment (the growing delay)
    blocked_until: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    """An application allowed to post Open311 service requests. Only a hash of the key is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    #: sha256 hex of the key (keys are long random strings: a fast hash is enough, and lookups are exact)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class GroupDigest(Base):
    """A digest message in a flooded agency group: the complaints it lists while their cards wait (issue 14,
    :mod:`handlers.group_flood`). Its text is rendered when it goes out, from the complaints' state then."""

    __tablename__ = "group_digests"
    __table_args__ = (Index("ix_group_digests_chat_open", "chat_id", "closed"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: the group's chat id, as in ``outbox.chat_id``
    chat_id: Mapped[str] = mapped_column(String(64))
    #: the outbox row that posts it (its ``result_message_ids`` name the message once it is out)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"))
    #: the complaints it lists, in listing order (JSON list of ints)
    complaint_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: those shown as no longer waiting in what was last queued (JSON list of ints)
    shown_done: Mapped[list[int]] = mapped_column(JSON, default=list)
    #: how many lines what was last queued showed (lines added later need an edit)
    shown_lines: Mapped[int] = mapped_column(Integer, default=0)
    #: its queued progress edit, sent ahead of the cards (None: none)
    edit_outbox_id: Mapped[int | None] = mapped_column(Integer, default=None)
    #: its queued closing edit, queued behind the cards it lists so it goes out right after them (None: none)
    end_outbox_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: when its send or its last edit was queued
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: every complaint on it has its card and the digest says so: nothing more to do
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
