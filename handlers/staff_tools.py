"""Staff tools in an agency group, rendered purely: the queue (``/antrian``, ``/terlambat``), the answers
of ``/cari``, the face of a card that ``/cari`` brought back to the bottom of the group, and the canned
replies' picker (*💬 Balasan cepat*).

Why a module of its own: :mod:`handlers.cards` is the card itself; these are the tools around it. Staff
texts are Indonesian by default (``language="id"``), like the cards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from handlers import cards
from handlers.clocks import accept_badge, badge_text, resolve_badge
from handlers.context import FlowContext
from handlers.lifecycle import Status, is_terminal, status_label
from handlers.messages import Button, OutMessage
from handlers.text import parse_id
from handlers.views import (
    ComplaintView,
    category_display,
    esc,
    fit_payload,
    telegram_length,
    truncate,
)

#: the canned replies' buttons: ``cr:<id>`` opens the list, ``cr:<id>:<index>:<check>`` sends one,
#: ``cr:<id>:-`` closes the list (the card is itself again)
CANNED_PREFIX = cards.CANNED_PREFIX
CANNED_CANCEL = "-"
#: a button label shows the start of a canned reply; the card's text shows more of each
CANNED_LABEL_MAX = 48
CANNED_TEXT_MAX = 160
#: the queue's lines stop here, with a count of the rest (Telegram's message limit with room to spare)
QUEUE_LIMIT = cards.TEXT_LIMIT - 96


# --- clocks ---------------------------------------------------------------------------------------


def running_clock(status: str, accept_due_at: datetime | None, due_at: datetime | None) -> datetime | None:
    """The clock a complaint runs against now: acceptance while it is *baru* (the resolve clock when
    no accept clock was set), resolution otherwise; None for a closed complaint."""
    if is_terminal(status):
        return None
    if status == Status.BARU.value and accept_due_at is not None:
        return accept_due_at
    return due_at


def is_overdue(status: str, accept_due_at: datetime | None, due_at: datetime | None, now: datetime) -> bool:
    """Past the clock it runs against now (:func:`running_clock`)."""
    clock = running_clock(status, accept_due_at, due_at)
    return clock is not None and _aware(clock) <= _aware(now)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def clock_badge(
    status: str, accept_due_at: datetime | None, due_at: datetime | None, now: datetime, ctx: FlowContext, *,
    language: str = "id",
) -> str:
    """The clock a list shows, counted when asked (:func:`handlers.clocks.badge_text` with ``live``):
    "📥 terima sebelum 2 Des 15:30" / "🔴 belum diterima, lewat 3 jam" while *baru*, then "⏳ batas …" /
    "🔴 terlambat 2 hari"; "" without a clock."""
    badge = accept_badge(status, accept_due_at, now) or resolve_badge(status, due_at, now)
    return badge_text(badge, language, ctx, live=True) if badge is not None else ""


# --- the queue ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One open complaint in ``/antrian``: plain values read by the service."""

    number: str
    status: str
    category: str
    agency: str
    created_at: datetime
    accept_due_at: datetime | None
    due_at: datetime | None
    #: a link to its card in this group (supergroups only: Telegram has no links into basic groups)
    link: str | None = None


def message_link(chat_id: int, message_id: int | None) -> str | None:
    """``https://t.me/c/<id>/<message>``: a link to a message of a supergroup (ids ``-100…``); None for a
    basic group (Telegram gives no links into those) or an unknown message."""
    text = str(chat_id)
    if message_id is None or not text.startswith("-100") or not text[4:].isdigit():
        return None
    return f"https://t.me/c/{int(text[4:])}/{int(message_id)}"


def _queue_line(position: int, item: QueueItem, now: datetime, ctx: FlowContext, language: str, city: bool) -> str:
    number = f'<a href="{esc(item.link)}">{esc(item.number)}</a>' if item.link else f"<code>{esc(item.number)}</code>"
    parts = [f"{position}. {number}", status_label(item.status, language, ctx)]
    if city:
        parts.append(esc(cards._short_agency(item.agency, language, ctx)))
    parts.append(esc(category_display(item.category, language, ctx)))
    badge = clock_badge(item.status, item.accept_due_at, item.due_at, now, ctx, language=language)
    if badge:
        parts.append(badge)
    return " · ".join(parts)


def render_queue(
    items: Sequence[QueueItem],
    total: int,
    ctx: FlowContext,
    *,
    now: datetime,
    agency: str | None,
    overdue_only: bool,
    language: str = "id",
) -> OutMessage:
    """``/antrian`` (or ``/terlambat`` with ``overdue_only``): the open complaints oldest first, each with
    its status, category and clock, as many as fit one message, then how many more there are.
    ``agency`` None is the command centre's view of the whole city (each line names the agency)."""
    city = agency is None
    where = ctx.t(language, "tools.scope_city") if city else esc(cards._short_agency(agency, language, ctx))
    if not items:
        key = "tools.queue_empty_overdue" if overdue_only else "tools.queue_empty"
        return OutMessage(text=ctx.t(language, key, where=where))
    title_key = "tools.queue_title_overdue" if overdue_only else "tools.queue_title"
    lines = [ctx.t(language, title_key, where=where, count=total), ""]
    shown = 0
    for item in items:
        line = _queue_line(shown + 1, item, now, ctx, language, city)
        if telegram_length("\n".join([*lines, line])) > QUEUE_LIMIT:
            break
        lines.append(line)
        shown += 1
    rest = total - shown
    if rest > 0:
        lines += ["", ctx.t(language, "tools.queue_more", count=rest)]
    lines += ["", ctx.t(language, "tools.queue_hint")]
    return OutMessage(text="\n".join(lines))


# --- /cari ----------------------------------------------------------------------------------------


def render_tool_text(ctx: FlowContext, key: str, *, language: str = "id", **params: object) -> OutMessage:
    """A short group answer from the tools' catalog (refusals, usage, "not found"); ``params`` must be
    escaped already where they are text."""
    return OutMessage(text=ctx.t(language, key, **params))


def render_moved_down(view: ComplaintView, ctx: FlowContext, *, link: str | None, language: str = "id") -> OutMessage:
    """The card ``/cari`` left behind: no buttons, its first line says it moved to the bottom of the group,
    and its last line links to the fresh card (where the group is a supergroup)."""
    header = ctx.t(language, "tools.moved_down_header", number=esc(view.number))
    if link:
        note = ctx.t(language, "tools.moved_down_link", link=esc(link))
    else:
        note = ctx.t(language, "tools.moved_down_below")
    text = cards._fit_text(view, ctx, language, moved_to=None, tail=("", note), header=header)
    return OutMessage(text=text, photos=view.photos)


def render_snapshot(view: ComplaintView, ctx: FlowContext, *, language: str = "id") -> OutMessage:
    """``/cari`` in the command centre's group for another agency's complaint: the card as it is now,
    without buttons (the agency's own group holds the working card), saying where that is."""
    note = ctx.t(language, "tools.snapshot_note", agency=esc(cards._short_agency(view.agency, language, ctx)))
    text = cards._fit_text(view, ctx, language, moved_to=None, tail=("", note))
    return OutMessage(text=text, photos=view.photos)


# --- canned replies -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CannedPayload:
    """A parsed ``cr:`` button: open the list (``index`` None), send reply ``index`` (``check`` names its
    text, so a list changed in config meanwhile is noticed), or cancel."""

    complaint_id: int
    index: int | None = None
    check: str | None = None
    cancelled: bool = False


def canned_check(text: str) -> str:
    """Four hex digits naming a canned reply's text (the button carries its index, not its text)."""
    return hashlib.sha256(text.encode()).hexdigest()[:4]


def canned_open_payload(complaint_id: int) -> str:
    return f"{CANNED_PREFIX}:{int(complaint_id)}"


def canned_choice_payload(complaint_id: int, index: int, text: str) -> str:
    return f"{CANNED_PREFIX}:{int(complaint_id)}:{int(index)}:{canned_check(text)}"


def canned_cancel_payload(complaint_id: int) -> str:
    return f"{CANNED_PREFIX}:{int(complaint_id)}:{CANNED_CANCEL}"


def parse_canned_payload(payload: str) -> CannedPayload | None:
    """Read a ``cr:`` payload; None for anything else (never raises)."""
    parts = payload.split(":") if isinstance(payload, str) and len(payload) <= 64 else []
    if len(parts) < 2 or parts[0] != CANNED_PREFIX:
        return None
    complaint_id = parse_id(parts[1])
    if complaint_id is None:
        return None
    if len(parts) == 2:
        return CannedPayload(complaint_id)
    if len(parts) == 3 and parts[2] == CANNED_CANCEL:
        return CannedPayload(complaint_id, cancelled=True)
    if len(parts) == 4 and parts[2].isascii() and parts[2].isdigit() and len(parts[2]) <= 3:
        check = parts[3]
        if len(check) == 4 and all(c in "0123456789abcdef" for c in check):
            return CannedPayload(complaint_id, index=int(parts[2]), check=check)
    return None


def canned_button(complaint_id: int, ctx: FlowContext, *, language: str = "id") -> Button:
    """*💬 Balasan cepat* on the card of an open complaint."""
    return Button(ctx.t(language, "tools.canned_button"), canned_open_payload(complaint_id))


def render_canned_picker(
    view: ComplaintView, replies: Sequence[str], ctx: FlowContext, *, language: str = "id"
) -> OutMessage:
    """The card with the agency's canned replies: each one numbered in the text (the start of it) and as a
    button (its first words), one per row, and a cancel button that gives the card back."""
    listed = [
        ctx.t(language, "tools.canned_item", n=i + 1, text=esc(truncate(" ".join(r.split()), CANNED_TEXT_MAX)))
        for i, r in enumerate(replies)
    ]
    note = "\n".join([ctx.t(language, "tools.canned_pick"), *listed])
    rows: list[tuple[Button, ...]] = []
    for i, reply in enumerate(replies):
        payload = fit_payload(canned_choice_payload(view.id, i, reply))
        if payload:
            label = f"{i + 1}. {truncate(' '.join(reply.split()), CANNED_LABEL_MAX)}"
            rows.append((Button(label, payload),))
    rows.append((Button(ctx.t(language, "card.reassign_cancel"), canned_cancel_payload(view.id)),))
    text = cards._fit_text(view, ctx, language, moved_to=None, tail=("", note))
    return OutMessage(text=text, buttons=tuple(rows), photos=view.photos)


__all__ = [
    "CANNED_PREFIX",
    "CannedPayload",
    "QueueItem",
    "canned_button",
    "canned_check",
    "canned_choice_payload",
    "clock_badge",
    "is_overdue",
    "message_link",
    "parse_canned_payload",
    "render_canned_picker",
    "render_moved_down",
    "render_queue",
    "render_snapshot",
    "render_tool_text",
    "running_clock",
]
