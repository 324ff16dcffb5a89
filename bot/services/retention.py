"""Retention (config ``privacy``): personal data is not kept longer than needed (UU 27/2022 PDP).

Run once a day by the scheduler (timer kind ``retention``, at ``privacy.purge_at`` city time, planned like the
digests: one timer per city date, so a day's purge is planned and fired once whatever the processes do):

* **Messages** (``messages_days``): the content of stored inbound messages (``inbound_messages.payload``: the
  Telegram update or Twilio form) and of outbox rows no longer waiting to be sent (``outbox.payload``) older
  than that is dropped. The rows stay, with ``purged_at`` set: their keys still recognise a redelivered update,
  receipts still point at their message, and each row is rewritten once. A pending outbox row is never touched
  (it still has to be delivered). The citizen's words kept elsewhere go too: the notes of their audit
  entries (a reply relayed to staff) and, on complaints closed that long ago, the rating comment and the
  appeal reason.
* **Inactive citizens** (``inactive_citizen_days``): a citizen who has not written for that long, and has no
  complaint still open, is erased by the same function as /hapusdata (:func:`bot.services.erasure.erase_citizen`,
  reason ``retention``): name, channel id (keyed hash), conversation, stored messages; their closed complaints
  stay, anonymised, for statistics. A citizen whose complaint is still being handled is kept until it closes,
  and one blocked by the command centre is kept while blocked (erasing the chat id would lift the block).

Each batch is its own short transaction (the purge must not hold SQLite's write lock for long); the work is
idempotent, so a purge cut short by a crash is simply finished by the next one.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update

from bot.services.runtime import Runtime
from handlers import clocks
from handlers.reminders import next_daily
from storage.models import AuditEntry, Citizen, Complaint, InboundMessage, OutboxMessage
from storage.outbox import PENDING
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.retention")

#: the timer kind and its one subject
RETENTION = "retention"
SUBJECT = "city"
#: what a purged outbox row's payload becomes (still a valid OutMessage for anything that reads it)
PURGED_OUTBOX: dict[str, Any] = {"text": "", "purged": True}
#: rows per transaction
BATCH = 500
#: citizens erased per transaction (each one touches several tables)
CITIZEN_BATCH = 20
#: the statuses of complaints still being handled: their reporter is kept
OPEN_STATUSES = tuple(status.value for status in clocks.OPEN)


@dataclass(slots=True)
class PurgeReport:
    """What one purge did (the timer's outcome and the log say it)."""

    inbound: int = 0
    outbox: int = 0
    citizens: int = 0
    #: the citizen's own words kept elsewhere: notes of their audit entries (a reply relayed to staff), the
    #: rating comment and appeal reason of complaints closed that long ago
    words: int = 0
    #: the erasure helper is not there: inactive citizens could not be erased
    missing_erasure: bool = False

    @property
    def outcome(self) -> str:
        """``done 12/340/2/5`` (inbound, outbox, citizens, words): fits ``timers.outcome``."""
        return f"done {self.inbound}/{self.outbox}/{self.citizens}/{self.words}"[:64]


async def plan(rt: Runtime, uow: UnitOfWork, now: datetime) -> bool:
    """The next purge at ``privacy.purge_at`` city time (once per city date; nothing when both rules are off)."""
    privacy = rt.config.privacy
    if not privacy.messages_days and not privacy.inactive_citizen_days:
        return False
    at, day = next_daily(now, privacy.purge_at, rt.config.city.timezone)
    return await uow.timers.plan(RETENTION, SUBJECT, at, round=day, now=now)


async def purge(rt: Runtime, now: datetime) -> PurgeReport:
    """Everything retention asks for as of ``now`` (the injected clock), batch by batch."""
    report = PurgeReport()
    privacy = rt.config.privacy
    if privacy.messages_days:
        cutoff = now - timedelta(days=privacy.messages_days)
        report.inbound = await _purge_inbound(rt, cutoff, now)
        report.outbox = await _purge_outbox(rt, cutoff, now)
        report.words = await _purge_citizen_words(rt, cutoff)
    if privacy.inactive_citizen_days:
        erase = _erase_function()
        if erase is None:
            report.missing_erasure = True
            log.warning("retention: bot.services.erasure.erase_citizen is missing; inactive citizens are kept")
        else:
            report.citizens = await _purge_citizens(rt, now - timedelta(days=privacy.inactive_citizen_days), now, erase)
    log.info("retention purge: %d inbound messages, %d outbox messages, %d inactive citizens, %d kept words",
             report.inbound, report.outbox, report.citizens, report.words)
    return report


async def _purge_citizen_words(rt: Runtime, cutoff: datetime) -> int:
    """What citizens wrote that is kept outside the message tables, older than ``cutoff``: the notes of their
    audit entries (a reply relayed to staff, a reopen's reason) and, on complaints closed before it, the
    rating comment and the appeal reason. The entries and figures (the rating itself) stay."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        notes = await uow.session.execute(
            update(AuditEntry)
            .where(AuditEntry.actor_kind == "citizen", AuditEntry.at < cutoff, AuditEntry.note.is_not(None))
            .values(note=None)
            .execution_options(synchronize_session=False)
        )
        closed = await uow.session.execute(
            update(Complaint)
            .where(Complaint.status.not_in(OPEN_STATUSES), Complaint.updated_at < cutoff,
                   or_(Complaint.rating_comment.is_not(None), Complaint.appeal_reason.is_not(None)))
            .values(rating_comment=None, appeal_reason=None)
            .execution_options(synchronize_session=False)
        )
        await uow.commit()
    return int(getattr(notes, "rowcount", 0) or 0) + int(getattr(closed, "rowcount", 0) or 0)


async def _purge_inbound(rt: Runtime, cutoff: datetime, now: datetime) -> int:
    done = 0
    while True:
        async with UnitOfWork(rt.sessionmaker) as uow:
            ids = list((await uow.session.scalars(
                select(InboundMessage.id)
                .where(InboundMessage.received_at < cutoff, InboundMessage.status != PENDING,
                       InboundMessage.purged_at.is_(None))
                .order_by(InboundMessage.id).limit(BATCH)
            )).all())
            if ids:
                await uow.session.execute(
                    update(InboundMessage).where(InboundMessage.id.in_(ids))
                    .values(payload={}, last_error=None, purged_at=now)
                    .execution_options(synchronize_session=False)
                )
                await uow.commit()
        done += len(ids)
        if len(ids) < BATCH:
            return done


async def _purge_outbox(rt: Runtime, cutoff: datetime, now: datetime) -> int:
    done = 0
    while True:
        async with UnitOfWork(rt.sessionmaker) as uow:
            ids = list((await uow.session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.created_at < cutoff, OutboxMessage.status != PENDING,
                       OutboxMessage.purged_at.is_(None))
                .order_by(OutboxMessage.id).limit(BATCH)
            )).all())
            if ids:
                await uow.session.execute(
                    update(OutboxMessage).where(OutboxMessage.id.in_(ids))
                    .values(payload=dict(PURGED_OUTBOX), last_error=None, purged_at=now)
                    .execution_options(synchronize_session=False)
                )
                await uow.commit()
        done += len(ids)
        if len(ids) < BATCH:
            return done


Erase = Callable[..., Awaitable[Any]]


def _erase_function() -> Erase | None:
    """The erasure helper's ``erase_citizen`` (the same erasure as /hapusdata), if this version has it."""
    try:
        found = getattr(importlib.import_module("bot.services.erasure"), "erase_citizen", None)
    except ImportError:
        return None
    return found if callable(found) else None


async def _purge_citizens(rt: Runtime, cutoff: datetime, now: datetime, erase: Erase) -> int:
    """Erase citizens silent since before ``cutoff`` with nothing open (and not blocked), a few per transaction."""
    last_seen = func.coalesce(Citizen.last_inbound_at, Citizen.created_at)
    still_open = exists().where(and_(Complaint.citizen_id == Citizen.id, Complaint.status.in_(OPEN_STATUSES)))
    done = 0
    after = 0
    while True:
        async with UnitOfWork(rt.sessionmaker) as uow:
            found = list((await uow.session.scalars(
                select(Citizen)
                .where(Citizen.erased_at.is_(None), Citizen.blocked_at.is_(None), last_seen < cutoff, ~still_open,
                       Citizen.id > after)
                .order_by(Citizen.id).limit(CITIZEN_BATCH)
            )).all())
            for citizen in found:
                await erase(rt, uow, citizen, now, reason="retention")
            await uow.commit()
        if found:
            after = found[-1].id
            rt.on_enqueued()  # card edits of anonymised complaints
        done += len(found)
        if len(found) < CITIZEN_BATCH:
            return done
