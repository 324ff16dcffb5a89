"""The daily digests, rendered purely: one per agency group and one for the whole city.

Every morning (``deadlines.digest_at``, city time) each linked agency group reads how many complaints
came in over the last 24 hours, how many are open (and of those, still waiting to be accepted), how many
are overdue, and the numbers of the oldest overdue ones; the command centre's group reads one line per
agency and the city's oldest overdue complaints. Each digest is one message within Telegram's 4096
characters: when a city has very many agencies or overdue complaints, the longest lists are cut and say
how many more there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from handlers.context import FlowContext
from handlers.escalation import TEXT_LIMIT, format_lateness
from handlers.messages import OutMessage
from handlers.views import agency_display, esc, telegram_length, to_local

#: overdue numbers an agency's digest names, oldest first
AGENCY_OLDEST = 5
#: overdue numbers the city digest names
CITY_OLDEST = 10


@dataclass(frozen=True, slots=True)
class AgencyFigures:
    """One agency's figures at digest time. ``oldest``: (number, due time) of its oldest overdue
    complaints, most overdue first; ``linked``: whether it has a group that can be reached."""

    agency: str
    new: int = 0
    open: int = 0
    waiting: int = 0
    overdue: int = 0
    oldest: tuple[tuple[str, datetime], ...] = ()
    linked: bool = True


@dataclass(frozen=True, slots=True)
class Overdue:
    """One overdue complaint named in the city digest."""

    number: str
    agency: str
    due_at: datetime


def format_date(at: datetime, language: str, ctx: FlowContext) -> str:
    """``"29 Nov 2026"`` in the city's time zone."""
    local = to_local(at, ctx.timezone)
    months = ctx.t(language, "time.months").split()
    month = months[local.month - 1] if len(months) == 12 else str(local.month)
    return ctx.t(language, "cc.date", day=local.day, month=month, year=local.year)


def _short(agency: str, language: str, ctx: FlowContext) -> str:
    info = ctx.agency(agency)
    return (info.short or info.name(language)) if info else agency


def _fit(head: list[str], items: list[str], tail: list[str], more_key: str, language: str, ctx: FlowContext) -> str:
    """``head + items + tail`` within Telegram's limit, dropping items from the end (and saying how many)."""
    shown = list(items)
    while True:
        extra = [ctx.t(language, more_key, count=len(items) - len(shown))] if len(shown) < len(items) else []
        text = "\n".join([*head, *shown, *extra, *tail])
        if telegram_length(text) <= TEXT_LIMIT or not shown:
            return text
        shown.pop()


def _overdue_line(number: str, due_at: datetime, now: datetime, language: str, ctx: FlowContext,
                  agency: str | None = None) -> str:
    late = esc(format_lateness(due_at, now, language, ctx))
    if agency is None:
        return ctx.t(language, "cc.digest_overdue_line", number=esc(number), late=late)
    return ctx.t(language, "cc.digest_city_overdue_line", number=esc(number), late=late,
                 agency=esc(_short(agency, language, ctx)))


def render_agency_digest(figures: AgencyFigures, ctx: FlowContext, *, now: datetime, language: str = "id") -> OutMessage:
    """The morning digest in one agency's group."""
    t = ctx.t
    head = [
        t(language, "cc.digest_title", agency=esc(_short(figures.agency, language, ctx)),
          date=format_date(now, language, ctx)),
        t(language, "cc.digest_new", count=figures.new),
        t(language, "cc.digest_open", count=figures.open, waiting=figures.waiting),
        t(language, "cc.digest_overdue", count=figures.overdue),
    ]
    if not figures.overdue:
        return OutMessage(text="\n".join([*head, "", t(language, "cc.digest_none_overdue")]))
    head += ["", t(language, "cc.digest_oldest")]
    items = [_overdue_line(number, due, now, language, ctx) for number, due in figures.oldest]
    more = figures.overdue - len(items)
    tail = [t(language, "cc.digest_more", count=more)] if more > 0 else []
    return OutMessage(text=_fit(head, items, tail, "cc.digest_more", language, ctx))


def render_city_digest(
    figures: Sequence[AgencyFigures],
    oldest: Sequence[Overdue],
    ctx: FlowContext,
    *,
    now: datetime,
    language: str = "id",
) -> OutMessage:
    """The morning digest in the command centre's group: one line per agency, the totals, the city's
    oldest overdue complaints, and which agencies have no group to read their own digest."""
    t = ctx.t
    rows = [f for f in figures if f.new or f.open or f.overdue]
    head = [
        t(language, "cc.digest_city_title", city=esc(ctx.city_name), date=format_date(now, language, ctx)),
        t(language, "cc.digest_columns"),
    ]
    items = [
        t(language, "cc.digest_agency_line", agency=esc(_short(f.agency, language, ctx)), new=f.new, open=f.open,
          overdue=f.overdue)
        for f in sorted(rows, key=lambda f: (-f.overdue, -f.open, f.agency))
    ]
    if not items:
        items = [t(language, "cc.digest_city_quiet")]
    tail = [
        t(language, "cc.digest_total", new=sum(f.new for f in figures), open=sum(f.open for f in figures),
          overdue=sum(f.overdue for f in figures)),
    ]
    if oldest:
        tail += ["", t(language, "cc.digest_oldest")]
        tail += [_overdue_line(o.number, o.due_at, now, language, ctx, agency=o.agency) for o in oldest[:CITY_OLDEST]]
    unlinked = [f.agency for f in figures if not f.linked and (f.open or f.new)]
    if unlinked:
        names = ", ".join(esc(agency_display(a, language, ctx)) for a in unlinked)
        tail += ["", t(language, "cc.digest_unlinked", agencies=names)]
    return OutMessage(text=_fit(head, items, tail, "cc.digest_more_agencies", language, ctx))


__all__ = ["AgencyFigures", "Overdue", "format_date", "render_agency_digest", "render_city_digest"]
