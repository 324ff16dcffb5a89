"""The complaint page's deadline line (issue 13): what a clerk looks for first, how long is left or how late
it is, counted when the page is drawn.

The words are the bot's own clocks (:mod:`handlers.clocks`, the ``clock.badge.*`` texts the staff lists use):
"🔴 terlambat 2 hari" / "🔴 belum diterima, lewat 3 jam" once past the clock; before it the page adds how much
time is left ("⏳ sisa 2 hari (batas 3 Des 04:09)", "📥 terima dalam 3 jam (sebelum 30 Nov 08:09)"), which a card
cannot say because it stays in the chat unchanged. A closed complaint, or a duplicate (its clocks stopped),
has no line.
"""

from __future__ import annotations

from datetime import datetime

from handlers.clocks import Badge, accept_badge, badge_text, duration_text, resolve_badge
from handlers.context import FlowContext
from handlers.views import format_time_short

#: the "still time" texts of this module's catalog (sikesal-web-clerk.po), per clock
_LEFT_KEYS = {"accept": "web.clerk.accept.left", "resolve": "web.clerk.due.left"}


def running_badge(
    status: str, accept_due_at: datetime | None, due_at: datetime | None, now: datetime, *, duplicate: bool = False
) -> Badge | None:
    """The clock the complaint runs against now: acceptance while *baru*, then resolution (as the cards)."""
    return accept_badge(status, accept_due_at, now) or resolve_badge(status, due_at, now, duplicate=duplicate)


def deadline_line(
    status: str, accept_due_at: datetime | None, due_at: datetime | None, now: datetime, language: str,
    ctx: FlowContext, *, duplicate: bool = False,
) -> str:
    """"⏳ sisa 2 hari (batas 3 Des 04:09)" or "🔴 terlambat 5 jam"; "" when no clock runs."""
    badge = running_badge(status, accept_due_at, due_at, now, duplicate=duplicate)
    if badge is None:
        return ""
    if badge.overdue:
        return badge_text(badge, language, ctx, live=True)
    left = badge.at - now
    return ctx.t(language, _LEFT_KEYS[badge.clock], left=duration_text(left, language, ctx),
                 time=format_time_short(badge.at, language, ctx))


__all__ = ["deadline_line", "running_badge"]
