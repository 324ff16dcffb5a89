"""Reminders in the agency group, the citizen's overdue notice, quiet hours and the digest calendar: pure.

The scheduler (:mod:`bot.services.scheduler`) decides *when*; this module decides *what it says* and
*when the next digest is*, from plain values, so every text and every calendar rule is tested without
a database or a clock.

* A single reminder replies to its complaint's card (one tap away); ``fold_at`` or more due for one group in
  the same tick become one message listing their numbers, each a link to its card where the group is a
  supergroup (Telegram only links messages of supergroups: ``https://t.me/c/<id without -100>/<message>``).
* The daily digest's calendar: the next ``deadlines.digest_at`` city time, its date's ordinal the round.

Quiet hours are :meth:`handlers.clocks.WorkCalendar.quiet_until`'s (the clocks' calendar).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.clocks import ACCEPT, OVERDUE, RESOLVE_SOON
from handlers.context import FlowContext
from handlers.messages import OutMessage
from handlers.views import (
    agency_display,
    card_ref,
    category_display,
    esc,
    format_time_short,
    telegram_length,
)

#: staff texts are Indonesian, like the cards
STAFF_LANGUAGE = "id"

#: the kinds of timers that speak in the agency group, in the order a folded message lists them
REMINDER_KINDS = (ACCEPT, RESOLVE_SOON, OVERDUE)

#: Telegram's text limit (UTF-16 units after entity parsing), with room for the "and N more" line
TEXT_LIMIT = 4096
_FOLD_ROOM = 200


@dataclass(frozen=True, slots=True)
class ReminderItem:
    """One complaint a reminder is about, as the group sees it."""

    kind: str
    complaint_id: int
    number: str
    category: str
    due_at: datetime | None
    #: the group and the card's message there (None while the card is not delivered yet)
    chat_id: int | None = None
    card_message_id: int | None = None
    #: hours the complaint waited for acceptance (the accept reminder says so)
    accept_hours: float = 0.0


# ---------------------------------------------------------------------------------------------- calendar


def _zone(timezone: str) -> ZoneInfo:
    return ZoneInfo(timezone)


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def next_daily(after: datetime, hhmm: str, timezone: str) -> tuple[datetime, int]:
    """The first ``hhmm`` city time strictly after ``after``: (UTC time, the city date's ordinal, which is
    a digest timer's round, so each day's digest is planned once)."""
    zone = _zone(timezone)
    local = after.astimezone(zone)
    wanted = _parse_hhmm(hhmm)
    day: date = local.date()
    candidate = datetime.combine(day, wanted, tzinfo=zone)
    if candidate <= local:
        day = day + timedelta(days=1)
        candidate = datetime.combine(day, wanted, tzinfo=zone)
    return candidate.astimezone(UTC), day.toordinal()


# ---------------------------------------------------------------------------------------------- links


def message_link(chat_id: int | None, message_id: int | None) -> str | None:
    """A link that opens the message in the group, for supergroups only (``-100…`` ids): Telegram has no
    links to messages of basic groups."""
    if chat_id is None or message_id is None:
        return None
    text = str(chat_id)
    if not text.startswith("-100") or len(text) <= 4:
        return None
    return f"https://t.me/c/{text[4:]}/{message_id}"


def format_hours(hours: float, language: str, ctx: FlowContext) -> str:
    """``6 jam``, ``30 menit``, ``1 jam 30 menit``: a span people read at a glance."""
    minutes = max(0, round(hours * 60))
    whole, rest = divmod(minutes, 60)
    if whole and rest:
        return ctx.t(language, "reminders.span_hours_minutes", hours=whole, minutes=rest)
    if whole:
        return ctx.t(language, "reminders.span_hours", hours=whole)
    return ctx.t(language, "reminders.span_minutes", minutes=max(1, rest))


# ---------------------------------------------------------------------------------------------- texts


def _due(item: ReminderItem, ctx: FlowContext) -> str:
    return format_time_short(item.due_at, STAFF_LANGUAGE, ctx) if item.due_at is not None else "-"


def render_single(item: ReminderItem, now: datetime, ctx: FlowContext) -> OutMessage:
    """One reminder, replying to the complaint's card in the group."""
    values: dict[str, object] = {
        "number": esc(item.number),
        "category": esc(category_display(item.category, STAFF_LANGUAGE, ctx)),
        "due": _due(item, ctx),
    }
    if item.kind == ACCEPT:
        values["waited"] = format_hours(item.accept_hours, STAFF_LANGUAGE, ctx)
    elif item.kind == RESOLVE_SOON and item.due_at is not None:
        values["left"] = format_hours((item.due_at - now).total_seconds() / 3600, STAFF_LANGUAGE, ctx)
    elif item.kind == RESOLVE_SOON:
        values["left"] = "-"
    text = ctx.t(STAFF_LANGUAGE, f"reminders.single.{item.kind}", **values)
    return OutMessage(text=text, reply_to=card_ref(item.complaint_id))


def _line(item: ReminderItem, ctx: FlowContext) -> str:
    link = message_link(item.chat_id, item.card_message_id)
    number = f'<a href="{esc(link)}">{esc(item.number)}</a>' if link else f"<b>{esc(item.number)}</b>"
    return ctx.t(
        STAFF_LANGUAGE, "reminders.fold_line", number=number,
        category=esc(category_display(item.category, STAFF_LANGUAGE, ctx)), due=_due(item, ctx),
    )


def render_folded(items: Sequence[ReminderItem], ctx: FlowContext) -> OutMessage:
    """Many reminders for one group as one message: a section per kind (not accepted yet, deadline near,
    overdue), oldest deadline first, each number a link to its card where Telegram allows one. What does
    not fit Telegram's 4096 characters is counted in a last line."""
    text = ctx.t(STAFF_LANGUAGE, "reminders.fold_title", count=len(items))
    shown = 0
    for kind in REMINDER_KINDS:
        group = sorted((i for i in items if i.kind == kind), key=lambda i: (i.due_at or datetime.max.replace(tzinfo=UTC), i.number))
        if not group:
            continue
        section = "\n\n" + ctx.t(STAFF_LANGUAGE, f"reminders.fold_section.{kind}", count=len(group))
        if telegram_length(text + section) > TEXT_LIMIT - _FOLD_ROOM:
            break
        text += section
        for item in group:
            line = "\n" + _line(item, ctx)
            if telegram_length(text + line) > TEXT_LIMIT - _FOLD_ROOM:
                break
            text += line
            shown += 1
    if shown < len(items):
        text += "\n\n" + ctx.t(STAFF_LANGUAGE, "reminders.fold_more", count=len(items) - shown)
    if any(message_link(i.chat_id, i.card_message_id) for i in items):  # basic groups have no links to tap
        text += "\n\n" + ctx.t(STAFF_LANGUAGE, "reminders.fold_hint")
    return OutMessage(text=text)


def render_reminders(items: Sequence[ReminderItem], now: datetime, ctx: FlowContext, *, fold_at: int) -> list[OutMessage]:
    """What one group gets for the reminders due in one tick: one reply per card, or one folded message
    when ``fold_at`` or more are due together (a burst must not cost the group its whole minute)."""
    if not items:
        return []
    if len(items) >= fold_at:
        return [render_folded(items, ctx)]
    return [render_single(item, now, ctx) for item in items]


def render_citizen_overdue(language: str, number: str, agency: str, ctx: FlowContext) -> OutMessage:
    """The citizen's one kind notice that their complaint is overdue and the agency was reminded."""
    text = ctx.t(language, "reminders.citizen_overdue", number=esc(number),
                 agency=esc(agency_display(agency, language, ctx)))
    return OutMessage(text=f"{text}\n\n{ctx.t(language, 'notify.reply_hint')}")
