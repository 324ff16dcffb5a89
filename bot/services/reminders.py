"""Reminders in the agency group and the citizen's overdue notice, inside the scheduler's unit of work.

The scheduler (:mod:`bot.services.scheduler`) claims the due reminder timers of one group in one
transaction and hands the live ones here: they become one reply per card, or one folded message when
``deadlines.fold_at`` or more are due together (:func:`handlers.reminders.render_reminders`). Everything
goes through the outbox in that same transaction, so a reminder is never lost nor said twice, and the group's
budget (20 messages a minute, counted by the Telegram sender per chat) is shared with its cards and digests.

At ``overdue`` the card is re-rendered (its badge turns "🔴 terlambat") and the reporter is told once,
kindly, that the agency was reminded (``deadlines.tell_citizen_overdue``). On WhatsApp, outside the 24-hour
window, that notice goes as ``whatsapp.overdue_template``; without one the sender records it as not
delivered (the card says so), and when the citizen next writes they get the current status and this notice
(:func:`catch_up_overdue`, called by the catch-up of :mod:`bot.services.citizen`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.services.complaints import GROUP_CHANNEL, build_view, refresh_card, send_to_citizen
from bot.services.runtime import Runtime
from handlers import clocks
from handlers.reminders import ReminderItem, render_citizen_overdue, render_reminders
from storage.models import Card, Citizen, Complaint
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.reminders")

#: the link role of the citizen's overdue notice: WhatsApp's sender sends it as ``overdue_template``
#: outside the window; a failure shows on the card like a status notice's; a reply reaches the agency
OVERDUE_ROLE = "overdue"


@dataclass(frozen=True, slots=True)
class LiveReminder:
    """A claimed reminder timer whose complaint still needs it."""

    timer_id: int
    kind: str
    complaint: Complaint
    card: Card | None


def reminder_item(rt: Runtime, reminder: LiveReminder) -> ReminderItem:
    complaint, card = reminder.complaint, reminder.card
    due = complaint.accept_due_at if reminder.kind == clocks.ACCEPT else complaint.due_at
    return ReminderItem(
        kind=reminder.kind,
        complaint_id=complaint.id,
        number=complaint.number,
        category=complaint.category,
        due_at=due,
        chat_id=card.chat_id if card is not None else None,
        card_message_id=card.message_id if card is not None else None,
        accept_hours=rt.config.deadlines.accept_hours,
    )


async def remind_group(
    rt: Runtime, uow: UnitOfWork, chat_id: int, reminders: Sequence[LiveReminder], now: datetime
) -> int:
    """Queue the reminders of one group: one reply per card, or one folded message. Returns how many
    messages were queued."""
    items = [reminder_item(rt, r) for r in reminders]
    messages = render_reminders(items, now, rt.ctx, fold_at=rt.config.deadlines.fold_at)
    single = len(messages) == len(items)
    for index, message in enumerate(messages):
        # a single reminder names its complaint (bookkeeping); no link role: a reply under a reminder is
        # group talk, not an answer to the citizen (staff answer under the card)
        complaint_id = items[index].complaint_id if single else None
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, message, complaint_id=complaint_id, now=now)
    return len(messages)


async def on_overdue(rt: Runtime, uow: UnitOfWork, complaint: Complaint, now: datetime) -> int:
    """The deadline passed: the card shows it, and the reporter hears once that the agency was reminded.
    Returns how many citizen messages were queued."""
    await refresh_card(rt, uow, complaint, await build_view(uow, complaint))
    if not rt.config.deadlines.tell_citizen_overdue:
        return 0
    citizen = await uow.citizens.get(complaint.citizen_id)
    if citizen is None or citizen.blocked_bot:
        return 0
    message = render_citizen_overdue(citizen.language, complaint.number, complaint.agency, rt.ctx_for(citizen.channel))
    await send_to_citizen(rt, uow, citizen, complaint, message, role=OVERDUE_ROLE)
    return 1


#: outcomes of an ``overdue`` timer that told the citizen (bot.services.scheduler)
_TOLD = frozenset({"reminded", "folded", "no_card"})


async def catch_up_overdue(rt: Runtime, uow: UnitOfWork, citizen: Citizen, complaint: Complaint) -> bool:
    """A WhatsApp citizen writing again after their overdue notice could not be sent (the window had closed
    and no ``whatsapp.overdue_template`` is set) hears it now, once, with the status catch-up: the complaint's
    overdue timer of its current resolve clock fired, and no overdue notice for it reached this chat."""
    if not rt.config.deadlines.tell_citizen_overdue or complaint.status not in clocks.OPEN:
        return False
    fired = [
        t.fired_at for t in await uow.timers.for_complaint(complaint.id)
        if t.kind == clocks.OVERDUE and t.round == (complaint.resolve_round or 0) and t.fired_at is not None
        and t.outcome in _TOLD
    ]
    # a notice of an earlier resolve clock (before a reopen) does not count for this one
    if not fired or complaint.id in await uow.outbox.complaints_with_role(
        citizen.channel, citizen.channel_user_id, OVERDUE_ROLE, [complaint.id], since=min(fired)
    ):
        return False
    message = render_citizen_overdue(citizen.language, complaint.number, complaint.agency, rt.ctx_for(citizen.channel))
    await send_to_citizen(rt, uow, citizen, complaint, message, role=OVERDUE_ROLE)
    return True


__all__ = ["OVERDUE_ROLE", "LiveReminder", "catch_up_overdue", "on_overdue", "remind_group", "reminder_item"]
