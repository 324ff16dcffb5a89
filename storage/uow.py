"""Unit of work: one database transaction per inbound event.

Usage::

    async with UnitOfWork(sessionmaker) as uow:
        if not await uow.idempotency.claim(f"tg:{update_id}"):
            return
        ...
        await uow.commit()

Leaving the block without :meth:`commit` rolls back (a handler that returns early changes
nothing); an exception rolls back and propagates. Repositories never commit themselves, so the
state change, the audit entry and the outbox messages of an event are stored atomically.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.inbox import InboxRepo
from storage.repositories import (
    TICKET_INFO,
    AgencyRepo,
    AuditRepo,
    CardRepo,
    CitizenRepo,
    ComplaintRepo,
    ConversationRepo,
    FollowerRepo,
    IdempotencyRepo,
    MediaRepo,
    MessageLinkRepo,
    ReceiptRepo,
)
from storage.timers import TimerRepo

if TYPE_CHECKING:
    from storage.outbox import OutboxRepo


class UnitOfWork:
    """A session plus the repositories bound to it, for exactly one ``async with`` block."""

    session: AsyncSession
    citizens: CitizenRepo
    conversations: ConversationRepo
    complaints: ComplaintRepo
    audit: AuditRepo
    agencies: AgencyRepo
    cards: CardRepo
    links: MessageLinkRepo
    media: MediaRepo
    idempotency: IdempotencyRepo
    #: the WhatsApp webhook's inbox (inbound_messages)
    inbox: InboxRepo
    #: delivery receipts from channel status callbacks (message_receipts)
    receipts: ReceiptRepo
    #: deadline timers the scheduler fires once (storage.timers)
    timers: TimerRepo

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._outbox: Any = None
        self._entered = False

    async def __aenter__(self) -> UnitOfWork:
        if self._entered:
            raise RuntimeError("a UnitOfWork is single-use; create a new one per event")
        self._entered = True
        session = self._sessionmaker()
        self.session = session
        self.citizens = CitizenRepo(session)
        self.conversations = ConversationRepo(session)
        self.complaints = ComplaintRepo(session)
        self.audit = AuditRepo(session)
        self.agencies = AgencyRepo(session)
        self.cards = CardRepo(session)
        self.links = MessageLinkRepo(session)
        self.media = MediaRepo(session)
        self.idempotency = IdempotencyRepo(session)
        self.followers = FollowerRepo(session)
        self.inbox = InboxRepo(session)
        self.receipts = ReceiptRepo(session)
        self.timers = TimerRepo(session)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            # close() rolls back whatever was not committed: an early return or an exception
            await self.session.rollback()
        finally:
            self.session.info.pop(TICKET_INFO, None)  # not committed: the row stays pending
            await self.session.close()

    @property
    def outbox(self) -> OutboxRepo:
        """The outbox repository on this session, imported on first use so the storage core does
        not depend on the outbox module at import time."""
        if self._outbox is None:
            from storage.outbox import OutboxRepo

            self._outbox = OutboxRepo(self.session)
        return self._outbox  # type: ignore[no-any-return]

    async def commit(self) -> None:
        """Commit everything done in this unit of work (flushing first). If the inbox row being
        processed was marked done by this unit of work's claim, the inbox learns it is settled."""
        await self.session.commit()
        ticket = self.session.info.pop(TICKET_INFO, None)
        if ticket is not None:
            ticket.done = True

    async def rollback(self) -> None:
        self.session.info.pop(TICKET_INFO, None)  # the claim's "done" mark is undone with the rest
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()
