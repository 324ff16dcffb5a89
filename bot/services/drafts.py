"""Unfinished drafts: one reminder after ``drafts.remind_after_minutes`` of silence, then the draft
is discarded after ``drafts.discard_after_minutes``, telling the citizen. Run periodically."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.services.runtime import Runtime
from handlers import flow
from handlers.state import FILING_STEPS, Conversation, Step
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.drafts")

#: steps in which a draft may wait: the filing steps, and the "which number?" question asked in the
#: middle of one (the draft waits behind it; without a draft that question is simply dropped)
DRAFT_STEPS = frozenset({*FILING_STEPS, Step.STATUS_NUMBER})
_DRAFT_STEP_VALUES = frozenset(s.value for s in DRAFT_STEPS)


@dataclass(slots=True)
class SweepResult:
    reminded: int = 0
    discarded: int = 0


async def sweep_drafts(rt: Runtime, *, batch: int = 100) -> SweepResult:
    """Remind and discard idle drafts; each citizen in its own transaction."""
    result = SweepResult()
    now = rt.clock()
    steps = sorted(_DRAFT_STEP_VALUES)
    async with UnitOfWork(rt.sessionmaker) as uow:
        to_discard = [
            r.citizen_id
            for r in await uow.conversations.idle_drafts(
                idle_since=now - rt.config.draft_discard_after, steps=steps, reminded=True, limit=batch
            )
        ]
        to_remind = [
            r.citizen_id
            for r in await uow.conversations.idle_drafts(
                idle_since=now - rt.config.draft_remind_after, steps=steps, reminded=False, limit=batch
            )
        ]
    for citizen_id in to_discard:
        result.discarded += await _one(rt, citizen_id, discard=True)
    for citizen_id in to_remind:
        result.reminded += await _one(rt, citizen_id, discard=False)
    if result.discarded or result.reminded:
        rt.on_enqueued()
    return result


async def _one(rt: Runtime, citizen_id: int, *, discard: bool) -> int:
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizen = await uow.citizens.get(citizen_id)
        row = await uow.conversations.load(citizen_id)
        if citizen is None or row.step not in _DRAFT_STEP_VALUES:
            return 0
        conversation = Conversation.from_dict(row.state)
        ctx = rt.ctx_for(citizen.channel)  # the reminder's menu is worded for the citizen's channel
        now = rt.clock()
        if discard:
            outcome = flow.discard_idle(conversation, ctx)
            messages = outcome.messages
            kept = outcome.conversation
            if not messages and kept.step not in FILING_STEPS:
                # an abandoned "which number?" question with no draft behind it: back to the menu
                kept = Conversation(language=kept.language, language_chosen=kept.language_chosen)
            await uow.conversations.save(row, kept.to_dict(), kept.step.value, now=now)
        else:
            if row.reminded_at is not None:
                return 0
            reminded = flow.remind(conversation, ctx)  # no messages when no draft waits
            messages = reminded.messages
            if messages:
                # the reminder's continue/cancel menu is what a typed "1" now means; the idle clock
                # (updated_at) keeps running: this is our message, not the citizen's action
                row.state = reminded.conversation.to_dict()
            await uow.conversations.mark_reminded(row, now)
        for message in messages:
            await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id, message, now=now)
        await uow.commit()
    return 1 if messages else 0


#: channels stop redelivering an update within a day; keys older than this are forgotten
PROCESSED_KEYS_KEPT = timedelta(days=7)


async def prune_processed_updates(rt: Runtime) -> int:
    """Forget old idempotency keys and handled inbox messages so the tables do not grow forever."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        removed = await uow.idempotency.prune(rt.clock() - PROCESSED_KEYS_KEPT)
        # handled inbox messages are only kept for inspection; their idempotency key lives above
        removed += await uow.inbox.prune(rt.clock() - PROCESSED_KEYS_KEPT)
        await uow.commit()
    return removed


async def run_draft_sweeper(
    rt: Runtime, stop: asyncio.Event, *, interval: float = 60.0, wake: asyncio.Event | None = None
) -> None:
    """Periodic housekeeping: draft reminders and discards, then old idempotency keys.

    ``wake`` starts the next sweep at once instead of after ``interval`` (the playground's clock control
    moves time forward and wants the reminders it made due now, not a minute later)."""
    while not stop.is_set():
        if wake is not None:
            wake.clear()  # a wake-up during this sweep is seen by the next wait
        try:
            await sweep_drafts(rt)
            await prune_processed_updates(rt)
        except Exception:  # keep sweeping; one bad row must not stop reminders for everyone
            log.exception("draft sweep failed")
        await _pause(stop, wake, interval)


async def _pause(stop: asyncio.Event, wake: asyncio.Event | None, interval: float) -> None:
    """Until ``stop`` or ``wake`` is set, or ``interval`` seconds pass."""
    waiters = [asyncio.ensure_future(stop.wait())]
    if wake is not None:
        waiters.append(asyncio.ensure_future(wake.wait()))
    try:
        await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
