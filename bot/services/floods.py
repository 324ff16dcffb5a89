"""Floods and abuse around the citizen service (rules in :mod:`handlers.floods`).

Called inside the citizen event's transaction (:func:`bot.services.citizen.handle_citizen_event`), with
the citizen's row already loaded: the rate check and the daily count read and write columns of that row
(one ``UPDATE`` the transaction issues anyway for ``last_inbound_at``), so an update costs no extra
query. Only at the summary does one indexed query look for the same text filed within a day.

A held message was claimed (its idempotency key) and stays in the inbox as Telegram or Twilio sent it,
but is never processed: a flood neither fills a draft nor gets answers later (the citizen is told, once,
to write again a little later).
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime

from bot.services.runtime import Runtime
from handlers import floods
from handlers.events import Incoming, Text
from handlers.flow.longtext import follows
from handlers.messages import OutMessage
from handlers.state import Conversation, Step
from storage.models import Citizen
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.floods")


async def held(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, incoming: Incoming, at: datetime
) -> bool:
    """Whether this event stops here: the citizen is blocked (one short notice, then silence) or over
    the message rate (one "pelan-pelan", then silence until the rate drops). Replies go to the outbox."""
    ctx = rt.ctx_for(citizen.channel)
    language = conversation.language or citizen.language
    # their data, the privacy notice and erasure stay theirs (PDP), block or not (the rate still applies)
    if citizen.blocked_at is not None and not floods.rights_request(conversation, incoming.event, ctx):
        if citizen.block_noticed_at is None:
            citizen.block_noticed_at = at
            await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id,
                                     OutMessage(ctx.t(language, "abuse.blocked_notice")), now=rt.clock())
        log.info("citizen %s is blocked: message ignored", citizen.id)
        return True
    per_minute = rt.config.abuse.messages_per_minute
    if per_minute <= 0:
        return False
    rate = floods.Rate(window_at=citizen.rate_at, count=citizen.rate_count or 0, previous=citizen.rate_previous or 0,
                       group=citizen.rate_group, group_at=citizen.rate_group_at, warned=bool(citizen.rate_warned))
    continues = isinstance(incoming.event, Text) and follows(conversation.paste, incoming, ctx.limits.paste_window_s)
    after, verdict = floods.admit(rate, now=at, per_minute=per_minute, group=incoming.burst, continues=continues)
    if after != rate:  # an unchanged row is not written again
        citizen.rate_at, citizen.rate_count, citizen.rate_previous = after.window_at, after.count, after.previous
        citizen.rate_group, citizen.rate_group_at, citizen.rate_warned = after.group, after.group_at, after.warned
    if verdict is floods.Verdict.PASS:
        return False
    if verdict is floods.Verdict.WARN:
        await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id,
                                 OutMessage(ctx.t(language, "abuse.slow_down", count=per_minute)), now=rt.clock())
        log.info("citizen %s over %d messages a minute: holding", citizen.id, per_minute)
    return True


def with_cap(rt: Runtime, citizen: Citizen, incoming: Incoming) -> Incoming:
    """The event carries the daily cap when the citizen reached it (the core explains instead of
    starting a new complaint); from the counter on the row, no query."""
    cap = rt.config.abuse.complaints_per_day
    if cap <= 0:
        return incoming
    today = floods.filed_today(citizen.filed_day, citizen.filed_count or 0, rt.clock(), rt.ctx.timezone)
    return dataclasses.replace(incoming, filing_paused=cap) if today >= cap else incoming


def count_filing(rt: Runtime, citizen: Citizen, now: datetime) -> None:
    """One more complaint filed today (the city's date)."""
    citizen.filed_day, citizen.filed_count = floods.after_filing(
        citizen.filed_day, citizen.filed_count or 0, now, rt.ctx.timezone
    )


async def with_refiled(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, conversation: Conversation, incoming: Incoming
) -> Incoming:
    """At the summary: the citizen's own complaint filed within a day with the same text, if any (the
    core offers it as "sudah dilaporkan" before sending). One indexed query on ``citizen_id``."""
    description = conversation.draft.description
    if conversation.step != Step.SUMMARY or not description:
        return incoming
    since = rt.clock() - floods.SAME_TEXT_WINDOW
    for complaint in await uow.complaints.for_citizen(citizen.id, limit=max(rt.config.abuse.complaints_per_day, 10)):
        if complaint.created_at < since:
            break
        if floods.same_text(complaint.description, description):
            return dataclasses.replace(incoming, refiled=complaint.number)
    return incoming


__all__ = ["count_filing", "held", "with_cap", "with_refiled"]
