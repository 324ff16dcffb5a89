"""Floods in an agency group: when cards queue up faster than Telegram lets them out, the group gets digests.

Telegram lets a bot post about 20 messages a minute in a group. After a storm a hundred complaints can
reach one agency in a minute; sent one card at a time the newest waits five minutes and nobody in the group
knows it exists. So, when a group's queue cannot drain within one window, the bot posts **digest messages**
listing the complaints still waiting for their card (number, category, kecamatan, age), each with a button
that brings its card up at once, while the full cards keep going out in filing order as the limit allows.

This module is the pure part (no I/O, no clock of its own): :func:`plan` decides, from the group's waiting
cards, its digests and its budget at a given moment, which digests to post, grow or edit; :func:`render_digest`
draws one; the button's payload is formatted and read here. The service (:mod:`bot.services.group_flood`)
reads the state, calls these and queues the messages; the sender's hook (:mod:`bot.delivery.group_flood`)
sends digests and cards brought up on demand ahead of the regular cards.

Why it is shaped so:

* **A share of the budget for digests** (:func:`digest_share`, a fifth of the window): digest posts and
  edits count against the group's limit like any message; cards get the rest, so they never stop.
* **Merged, throttled edits.** A digest is edited at most once per :data:`EDIT_INTERVAL_SHARE` of the
  window, and only when something on it changed; what is sent is rendered when it goes out, so several
  changes cost one edit. New arrivals are added to the newest digest while its send has not gone out yet
  (free) or while it is recent and has room (one edit); otherwise they get a digest of their own.
* **Clerks are never confused**: a line whose card arrived is marked ✅ (with a link to the card in a
  supergroup) and loses its button; a digest whose complaints all have cards says so.
* **No personal data**: no description, name or address; category and kecamatan are escaped like any text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from handlers.context import FlowContext
from handlers.messages import Button, OutMessage
from handlers.text import parse_id
from handlers.views import category_display, esc, fit_payload, telegram_length, to_local, truncate

#: the digest button's payload: ``gf:<complaint id>`` (see :func:`card_payload`)
PREFIX = "gf"
#: lines (and buttons) per digest: 30 lines of at most ~120 characters stay well within 4096
MAX_LINES = 30
#: Telegram's message limit
TEXT_LIMIT = 4096
#: buttons per keyboard row
BUTTONS_PER_ROW = 5
#: a digest is edited at most once per this fraction of the group window (10 s of a minute)
EDIT_INTERVAL_SHARE = 1 / 6
#: a digest posted within this fraction of the window may still take new lines (by an edit)
GROW_WITHIN_SHARE = 1.0
#: a category or kecamatan is cut to this many characters on a line
FIELD_MAX = 40

#: a listed complaint's line: waiting for its card, its card delivered here, or no longer waiting here
WAITING = "waiting"
DONE = "done"
GONE = "gone"


def digest_share(group_per_window: int) -> int:
    """The digest actions (posts and edits) a group may get per window: a fifth of its limit, at least one."""
    return max(1, int(group_per_window) // 5)


def card_capacity(group_per_window: int) -> int:
    """How many regular cards a group can take within one window once the digests' share is kept free: a
    queue longer than this cannot drain within a window, and the group gets digests."""
    return max(1, int(group_per_window) - digest_share(group_per_window))


def card_payload(complaint_id: int) -> str:
    """The digest button bringing up one complaint's card (well within Telegram's 64 bytes)."""
    payload = fit_payload(f"{PREFIX}:{int(complaint_id)}")
    assert payload is not None
    return payload


def parse_card_payload(payload: str) -> int | None:
    """The complaint id of a digest button, or None for anything else (treated as an old button)."""
    prefix, _, rest = payload.partition(":")
    if prefix != PREFIX:
        return None
    return parse_id(rest)


# --- the decision ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Waiting:
    """A complaint whose card is still queued for the group, in the order the cards go out."""

    complaint_id: int
    number: str
    category: str
    kecamatan: str | None
    filed_at: datetime


@dataclass(frozen=True, slots=True)
class Digest:
    """A digest already queued or posted in the group, as the service read it."""

    digest_id: int
    #: the complaints it lists, in listing order
    complaint_ids: tuple[int, ...]
    #: its send went out (a change now costs an edit); False: still queued (a change is free)
    posted: bool
    #: when its send or its last progress edit was queued
    changed_at: datetime
    #: the listed complaints shown as no longer waiting in what was last queued
    shown_done: frozenset[int] = frozenset()
    #: how many lines what was last queued showed
    shown_lines: int = 0
    #: a progress edit of it is queued and not yet sent (it is rendered when it goes out)
    edit_pending: bool = False
    #: its closing edit is queued (behind the cards it lists)
    end_pending: bool = False


@dataclass(frozen=True, slots=True)
class Budget:
    """The group's limit (``group_per_window`` actions per ``window`` seconds) and the digest posts and
    progress edits already queued within the current window."""

    group_per_window: int
    window: float
    digest_actions: int = 0


@dataclass(frozen=True, slots=True)
class Plan:
    """What to queue now: new digests (their complaint ids), lines added to digests (id -> complaint ids),
    progress edits (digest ids, sent ahead of the cards) and closing edits (digest ids, queued behind the
    cards they list, so each digest ends up showing that every complaint on it has its card)."""

    new: tuple[tuple[int, ...], ...] = ()
    grow: dict[int, tuple[int, ...]] = field(default_factory=dict)
    edits: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.new or self.grow or self.edits or self.ends)


def flooded(waiting_cards: int, group_per_window: int) -> bool:
    """The group's queue cannot drain within one window (see :func:`card_capacity`)."""
    return waiting_cards > card_capacity(group_per_window)


def plan(
    waiting: Sequence[Waiting],
    digests: Sequence[Digest],
    budget: Budget,
    now: datetime,
    *,
    regular_waiting: int | None = None,
) -> Plan:
    """Decide the digest messages for one group at ``now``.

    ``waiting``: complaints whose card is still queued, in order; ``digests``: the group's open digests,
    oldest first; ``regular_waiting``: the queued regular cards (default ``len(waiting)``), which decides
    whether the group is flooded. Only a flooded group gets new lines; a group that is not flooded any more
    keeps its digests up to date until every complaint on them has its card.

    Posts come first (they make complaints visible), then progress edits, within the digests' share of the
    window; a digest is edited at most once per :data:`EDIT_INTERVAL_SHARE` of the window and only when a
    line changed. Every digest with waiting lines has a closing edit queued behind their cards.
    """
    window = timedelta(seconds=budget.window)
    left = digest_share(budget.group_per_window) - budget.digest_actions
    waiting_ids = {w.complaint_id for w in waiting}
    listed = {cid for d in digests for cid in d.complaint_ids}
    count = len(waiting) if regular_waiting is None else regular_waiting
    new: list[tuple[int, ...]] = []
    grow: dict[int, tuple[int, ...]] = {}
    edits: list[int] = []
    if flooded(count, budget.group_per_window):
        fresh = [w.complaint_id for w in waiting if w.complaint_id not in listed]
        newest = digests[-1] if digests else None
        if fresh and newest is not None:
            room = MAX_LINES - len(newest.complaint_ids)
            recent = now - newest.changed_at <= window * GROW_WITHIN_SHARE
            free = not newest.posted or newest.edit_pending
            if room > 0 and (free or (recent and left > 0)):
                grow[newest.digest_id], fresh = tuple(fresh[:room]), fresh[room:]
                if not free:
                    edits.append(newest.digest_id)
                    left -= 1
        while fresh and left > 0:
            new.append(tuple(fresh[:MAX_LINES]))
            fresh = fresh[MAX_LINES:]
            left -= 1
    interval = window * EDIT_INTERVAL_SHARE
    ends: list[int] = []
    for digest in digests:
        lines = (*digest.complaint_ids, *grow.get(digest.digest_id, ()))
        if not digest.end_pending and any(cid in waiting_ids for cid in lines):
            ends.append(digest.digest_id)
        if not digest.posted or digest.edit_pending or digest.digest_id in edits:
            continue  # what is queued is rendered when it goes out: it will show the change
        done = frozenset(cid for cid in digest.complaint_ids if cid not in waiting_ids)
        if done == digest.shown_done or now - digest.changed_at < interval or left <= 0:
            continue
        if len(done) == len(digest.complaint_ids) and digest.end_pending:
            continue  # the closing edit is next in line anyway
        edits.append(digest.digest_id)
        left -= 1
    return Plan(new=tuple(new), grow=grow, edits=tuple(edits), ends=tuple(ends))


# --- the digest as staff read it ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Line:
    """One listed complaint as it is now: waiting (with its button), done (its card here), or gone."""

    complaint_id: int
    number: str
    category: str
    kecamatan: str | None
    filed_at: datetime
    state: str = WAITING
    #: a link to its card (supergroups only), for a done line
    link: str | None = None


def age_text(filed_at: datetime, now: datetime, ctx: FlowContext, language: str = "id") -> str:
    """How long ago a complaint was filed: "baru saja", "4 mnt", "1 jam 5 mnt"."""
    filed = filed_at if filed_at.tzinfo is not None else filed_at.replace(tzinfo=UTC)
    minutes = max(0, int((now - filed).total_seconds() // 60))
    if minutes < 1:
        return ctx.t(language, "staff.flood.age_now")
    if minutes < 60:
        return ctx.t(language, "staff.flood.age_minutes", minutes=minutes)
    return ctx.t(language, "staff.flood.age_hours", hours=minutes // 60, minutes=minutes % 60)


def _line(line: Line, now: datetime, ctx: FlowContext, language: str) -> str:
    number = esc(truncate(line.number, 24))
    if line.state == DONE:
        card = (f'<a href="{esc(line.link)}">{ctx.t(language, "staff.flood.card_word")}</a>' if line.link
                else ctx.t(language, "staff.flood.card_word"))
        return ctx.t(language, "staff.flood.line_done", number=number, card=card)
    if line.state == GONE:
        return ctx.t(language, "staff.flood.line_gone", number=number)
    parts = [f"⏳ <b>{number}</b>", esc(truncate(category_display(line.category, language, ctx), FIELD_MAX))]
    if line.kecamatan:
        parts.append(esc(truncate(line.kecamatan, FIELD_MAX)))
    parts.append(age_text(line.filed_at, now, ctx, language))
    return " · ".join(parts)


def _label(number: str) -> str:
    """A button's label: the number's last part without leading zeros ("JMB-2026-000042" -> "#42")."""
    tail = number.rsplit("-", 1)[-1].lstrip("0") or "0"
    return "📋 #" + truncate(tail, 12)


def render_digest(
    lines: Sequence[Line], ctx: FlowContext, *, now: datetime, waiting_total: int, per_window: int,
    language: str = "id",
) -> OutMessage:
    """One digest: a header (how many wait in the group, as of when; how to bring a card up), one line per
    listed complaint, and a button for each that still waits. Within Telegram's 4096 characters."""
    stamp = to_local(now, ctx.timezone).strftime("%H:%M")
    waiting_here = [line for line in lines if line.state == WAITING]
    if waiting_here:
        header = ctx.t(language, "staff.flood.header", count=waiting_total, at=stamp, rate=per_window)
    else:
        header = ctx.t(language, "staff.flood.header_done", at=stamp)
    body = [_line(line, now, ctx, language) for line in lines]
    text = header + "\n\n" + "\n".join(body)
    while telegram_length(text) > TEXT_LIMIT - 8 and body:  # cannot happen with MAX_LINES; never cut a tag
        body.pop()
        text = header + "\n\n" + "\n".join(body) + "\n…"
    buttons: list[Button] = [Button(_label(line.number), card_payload(line.complaint_id)) for line in waiting_here]
    rows = tuple(tuple(buttons[i:i + BUTTONS_PER_ROW]) for i in range(0, len(buttons), BUTTONS_PER_ROW))
    return OutMessage(text=text, buttons=rows)


__all__ = [
    "DONE",
    "GONE",
    "MAX_LINES",
    "PREFIX",
    "WAITING",
    "Budget",
    "Digest",
    "Line",
    "Plan",
    "Waiting",
    "age_text",
    "card_capacity",
    "card_payload",
    "digest_share",
    "flooded",
    "parse_card_payload",
    "plan",
    "render_digest",
]
