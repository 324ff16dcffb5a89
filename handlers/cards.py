"""The agency group card and every staff-side text, rendered purely from a :class:`ComplaintView`.

The card is what officers see and act on: status first, the tracking number, the problem, a map
link, who reported it (a pseudonym unless the citizen agreed to share their name), times, a short
history and one button per allowed action (from :func:`handlers.lifecycle.allowed_actions`).

When the card has photos, its text is the photo's caption, which Telegram limits to 1024
characters *after* HTML parsing; the description (and, if needed, the history) is shortened to fit,
measured the way Telegram measures it. Staff texts default to Indonesian (``language="id"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from handlers import clocks
from handlers.blocking import block_button
from handlers.context import FlowContext
from handlers.lifecycle import Action, Decision, action_label, allowed_actions, is_terminal, status_label
from handlers.messages import Alert, Button, MessageRef, OutMessage
from handlers.privacy import is_anonymous, is_confidential
from handlers.text import parse_id
from handlers.views import (
    ComplaintView,
    HistoryEntry,
    agency_display,
    card_ref,
    category_display,
    describe_change,
    esc,
    fit_payload,
    format_time,
    format_time_short,
    telegram_length,
    truncate,
)

#: Telegram's limits, in UTF-16 units after entity parsing
CAPTION_LIMIT = 1024
TEXT_LIMIT = 4096

STATUS_PREFIX = "st"
REASSIGN_PREFIX = "ra"
#: cancel an open reject or duplicate prompt (``cx:reject:42``), the way the picker's cancel ends Alihkan
CANCEL_PREFIX = "cx"
#: the actions that open a prompt answered by a reply, and so have a cancel button while it is open
PROMPT_ACTIONS = frozenset({Action.REJECT, Action.DUPLICATE})
#: the canned replies' list (*💬 Balasan cepat*, ``cr:<id>``; handled in handlers.staff_tools)
CANNED_PREFIX = "cr"
#: the "cancel" choice of the reassign picker (``ra:<id>:-``)
REASSIGN_CANCEL = "-"
#: history entries on the card, then fewer if the caption is too tight
CARD_HISTORY = 3

_AGENCY_KEY_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


@dataclass(frozen=True, slots=True)
class StaffPayload:
    """A parsed staff button. ``kind`` is ``st`` (status action; ``reassign`` opens the picker),
    ``ra`` (a picked agency; ``cancelled`` when the picker's cancel was pressed) or ``cx`` (cancel the
    open reject/duplicate prompt named by ``action``)."""

    kind: str
    action: Action
    complaint_id: int
    agency: str | None = None
    cancelled: bool = False


def status_payload(action: Action, complaint_id: int) -> str:
    """``st:accept:42``."""
    return f"{STATUS_PREFIX}:{action.value}:{int(complaint_id)}"


def cancel_prompt_payload(action: Action, complaint_id: int) -> str:
    """``cx:reject:42``: end the open reason/number prompt of complaint 42."""
    return f"{CANCEL_PREFIX}:{action.value}:{int(complaint_id)}"


def reassign_payload(complaint_id: int, agency_key: str) -> str:
    """``ra:42:dishub`` (``ra:42:-`` cancels)."""
    return f"{REASSIGN_PREFIX}:{int(complaint_id)}:{agency_key}"


def _complaint_id(text: str) -> int | None:
    """An id the database can hold (ASCII digits, 1..2**31-1): a forged ``st:accept:99999999999999999999``
    is an unknown button, not an integer overflow in the query."""
    return parse_id(text)


def parse_staff_payload(payload: str) -> StaffPayload | None:
    """Read ``st:<action>:<id>`` or ``ra:<id>:<agency|->``; None for anything else (never raises)."""
    parts = payload.split(":") if isinstance(payload, str) and len(payload) <= 256 else []
    if len(parts) != 3:
        return None
    kind, first, second = parts
    if kind == STATUS_PREFIX:
        complaint_id = _complaint_id(second)
        if complaint_id is None or first not in {a.value for a in Action}:
            return None
        return StaffPayload(kind, Action(first), complaint_id)
    if kind == CANCEL_PREFIX:
        complaint_id = _complaint_id(second)
        if complaint_id is None or first not in {a.value for a in PROMPT_ACTIONS}:
            return None
        return StaffPayload(kind, Action(first), complaint_id, cancelled=True)
    if kind == REASSIGN_PREFIX:
        complaint_id = _complaint_id(first)
        if complaint_id is None:
            return None
        if second == REASSIGN_CANCEL:
            return StaffPayload(kind, Action.REASSIGN, complaint_id, cancelled=True)
        if _AGENCY_KEY_RE.fullmatch(second):  # match() would let "dishub\n" through
            return StaffPayload(kind, Action.REASSIGN, complaint_id, agency=second)
    return None


# --- card text ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Detail:
    """How much detail the card shows; tighter levels are tried when the caption is too long."""

    history: int
    address_max: int


_DETAIL_LEVELS = (_Detail(CARD_HISTORY, 300), _Detail(1, 150), _Detail(0, 80))


def _map_links(view: ComplaintView, language: str, ctx: FlowContext) -> str:
    lat, lon = view.latitude or 0.0, view.longitude or 0.0
    osm = f"https://www.openstreetmap.org/?mlat={lat:.6f}&mlon={lon:.6f}#map=18/{lat:.6f}/{lon:.6f}"
    gmaps = f"https://www.google.com/maps?q={lat:.6f},{lon:.6f}"
    pin = f'<a href="{esc(osm)}">{lat:.5f}, {lon:.5f}</a>'
    other = f'<a href="{esc(gmaps)}">{esc(ctx.t(language, "card.gmaps"))}</a>'
    return ctx.t(language, "card.location", pin=pin, gmaps=other)


def _reporter(view: ComplaintView) -> str:
    """The name only where the citizen agreed and did not choose Anonim; else the alias."""
    name = None if is_anonymous(view) else view.reporter_name
    return truncate(name or view.reporter_alias, 40)


def _history_line(entry: HistoryEntry, language: str, ctx: FlowContext) -> str:
    change = describe_change(entry, language, ctx)
    time = format_time_short(entry.at, language, ctx)
    if entry.actor_name:
        actor = esc(truncate(entry.actor_name, 30))
        return ctx.t(language, "card.history_line", time=time, actor=actor, change=change)
    return ctx.t(language, "history.line", time=time, change=change)


def _card_lines(
    view: ComplaintView,
    ctx: FlowContext,
    language: str,
    description: str,
    detail: _Detail,
    *,
    moved_to: str | None,
    relinked: bool = False,
    header: str | None = None,
) -> list[str]:
    """All the card's lines, with ``description`` (plain text) escaped into place; ``header`` replaces
    the first line (a card /cari moved to the bottom of the group says so, see handlers.staff_tools)."""
    t = ctx.t
    lines = [
        header or _header(view, language, ctx, moved_to=moved_to, relinked=relinked),
        esc(category_display(view.category, language, ctx)),
        "",
        esc(description),
        "",
    ]
    if view.has_pin:
        lines.append(_map_links(view, language, ctx))
    if view.address:
        lines.append(t(language, "card.address", address=esc(truncate(view.address, detail.address_max))))
    area = district_line(view.address, view.kelurahan, view.kecamatan)
    if area:
        lines.append(t(language, "card.area", area=esc(area)))
    lines.append(t(language, "card.reporter", reporter=esc(_reporter(view))))
    if view.privacy:  # "🕶️ Anonim: …" / "🔒 Rahasia: …" (handlers.privacy)
        lines.append(t(language, f"privacy.card.{view.privacy}"))
    if view.followers:
        lines.append(t(language, "card.also_reported", count=view.followers))
    if view.duplicate_of_number:
        lines.append(t(language, "card.duplicate_of", number=esc(view.duplicate_of_number)))
    if view.nearby and not moved_to:
        lines.append(_nearby_line(view, language, ctx))
    if view.channel == "whatsapp":
        lines.append(t(language, "card.via_whatsapp"))
    if view.notice_error:
        lines.append(_notice_error_line(view.notice_error, language, ctx))
    lines.append(t(language, "card.created", time=format_time(view.created_at, language, ctx)))
    if view.due_at is not None:
        lines.append(t(language, "card.due", time=format_time(view.due_at, language, ctx)))
    if (accept := _accept_line(view, language, ctx)) and not moved_to:
        lines.append(accept)
    entries = view.history[-detail.history :] if detail.history else ()
    if entries:
        lines += ["", t(language, "card.history_title")]
        lines += [_history_line(e, language, ctx) for e in entries]
    if moved_to:
        lines += ["", t(language, "card.moved")]
    return lines


def _short_agency(agency: str | None, language: str, ctx: FlowContext) -> str:
    """"DLH" where the agency has a short name (a card's first line is read at a glance), else its name."""
    info = ctx.agency(agency)
    return (info.short or info.name(language)) if info else str(agency or "")


def _header(view: ComplaintView, language: str, ctx: FlowContext, *, moved_to: str | None, relinked: bool) -> str:
    """The first line: the status, or, on a card left behind, where the complaint went."""
    if moved_to:
        key = "card.header_regrouped" if relinked else "card.header_moved"
        return ctx.t(language, key, agency=esc(_short_agency(moved_to, language, ctx)), number=esc(view.number))
    header = ctx.t(language, "card.header", status=status_label(view.status, language, ctx), number=esc(view.number))
    return f"{header} · {badge}" if (badge := _resolve_badge(view, language, ctx)) else header


def _resolve_badge(view: ComplaintView, language: str, ctx: FlowContext) -> str | None:
    """"⏳ batas 2 Des 15:30" or "🔴 terlambat 3 jam" for an open complaint rendered at ``view.now`` (the
    scheduler re-renders the card when a deadline passes, so the badge never counts down stale)."""
    if view.now is None:
        return None
    badge = clocks.resolve_badge(view.status, view.due_at, view.now, duplicate=view.duplicate_of_number is not None)
    return clocks.badge_text(badge, language, ctx) if badge else None


def _accept_line(view: ComplaintView, language: str, ctx: FlowContext) -> str | None:
    """While *baru*: "📥 terima sebelum 1 Des 14:00", or "🔴 belum diterima, lewat 40 menit"."""
    badge = clocks.accept_badge(view.status, view.accept_due_at, view.now) if view.now is not None else None
    return clocks.badge_text(badge, language, ctx) if badge else None


def district_line(address: str | None, kelurahan: str | None, kecamatan: str | None) -> str | None:
    """"Kel. X, Kec. Y" without what the address already says: with the geocoder offline a pin's
    address *is* its district ("Kec. Jelutung"), and the card names it once."""
    said = (address or "").casefold()
    parts = [p for p in (f"Kel. {kelurahan}" if kelurahan else "", f"Kec. {kecamatan}" if kecamatan else "")
             if p and p.casefold() not in said]
    return ", ".join(parts) or None


def _nearby_line(view: ComplaintView, language: str, ctx: FlowContext) -> str:
    """"⚠️ 1 laporan terbuka ±12 m: JMB-…": older open complaints of the same category close by."""
    numbers = ", ".join(f"<code>{esc(number)}</code>" for number, _ in view.nearby)
    nearest = min(distance for _, distance in view.nearby)
    return ctx.t(language, "card.nearby", count=len(view.nearby), distance=round(nearest), numbers=numbers)


def _notice_error_line(error: str, language: str, ctx: FlowContext) -> str:
    """Staff must know when the citizen was not told: a status change they think was announced was not."""
    known = {"window": "card.notice_failed_window", "blocked": "card.notice_failed_blocked"}
    if error in known:
        return ctx.t(language, known[error])
    return ctx.t(language, "card.notice_failed", reason=esc(truncate(error, 160)))


def _fit_text(
    view: ComplaintView,
    ctx: FlowContext,
    language: str,
    *,
    moved_to: str | None,
    tail: tuple[str, ...] = (),
    relinked: bool = False,
    header: str | None = None,
) -> str:
    """The card text within Telegram's limit. The description is what officers need most, so the
    history is trimmed first; only when it does not fit even then is the description shortened."""
    limit = CAPTION_LIMIT if view.photos else TEXT_LIMIT
    description = view.description or ""

    def build(desc: str, detail: _Detail) -> str:
        lines = _card_lines(view, ctx, language, desc, detail, moved_to=moved_to, relinked=relinked, header=header)
        return "\n".join([*lines, *tail])

    for detail in _DETAIL_LEVELS:
        text = build(description, detail)
        if telegram_length(text) <= limit:
            return text
    tightest = _DETAIL_LEVELS[-1]
    room = limit - telegram_length(build("", tightest))
    return build(truncate(description, max(room, 1)), tightest)


def _action_rows(view: ComplaintView, language: str, ctx: FlowContext) -> tuple[tuple[Button, ...], ...]:
    """The allowed actions, two per row; reassign and duplicate (the ones that send the complaint
    elsewhere) share the last row."""
    allowed = allowed_actions(view.status)
    aside = (Action.REASSIGN, Action.DUPLICATE)
    buttons = [Button(action_label(a, language, ctx), status_payload(a, view.id)) for a in allowed if a not in aside]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    last = tuple(Button(action_label(a, language, ctx), status_payload(a, view.id)) for a in aside if a in allowed)
    if last:
        rows.append(last)
    if view.agency in ctx.canned_agencies and not is_terminal(view.status):  # see handlers.staff_tools
        rows.append((Button(ctx.t(language, "tools.canned_button"), f"{CANNED_PREFIX}:{int(view.id)}"),))
    return tuple(rows)


def render_card(
    view: ComplaintView,
    ctx: FlowContext,
    *,
    language: str = "id",
    active: bool = True,
    moved_to_agency: str | None = None,
    relinked: bool = False,
) -> OutMessage:
    """The complaint's card for its agency group: photos plus text as one message where possible.

    An inactive card (the complaint moved to another agency, or the agency to another group:
    ``relinked``) has no buttons and says in its first line where it went.
    """
    moved = (moved_to_agency or view.moved_to) if not active else None
    if not active and not moved:
        moved = view.agency
    if moved and is_confidential(view):  # left in a group that no longer handles it: no words, no photo
        hidden = replace(view, description=ctx.t(language, "privacy.card_hidden"), photos=(), history=())
        text = _fit_text(hidden, ctx, language, moved_to=moved, relinked=relinked)
        return OutMessage(text=text, neutral_photo=bool(view.photos))
    text = _fit_text(view, ctx, language, moved_to=moved, relinked=relinked)
    buttons = _action_rows(view, language, ctx) if active else ()
    return OutMessage(text=text, buttons=buttons, photos=view.photos)


def render_prompt_card(
    view: ComplaintView, ctx: FlowContext, *, action: Action, staff_name: str, language: str = "id"
) -> OutMessage:
    """The card while a reject reason or a duplicate's original is awaited: who is answering, and one
    button to cancel (Telegram cannot put a button on the force-reply prompt itself)."""
    key = "card.waiting_reason" if action == Action.REJECT else "card.waiting_original"
    note = ctx.t(language, key, staff=esc(truncate(staff_name or "", 40)))
    text = _fit_text(view, ctx, language, moved_to=None, tail=("", note))
    cancel = Button(ctx.t(language, "card.reassign_cancel"), cancel_prompt_payload(action, view.id))
    return OutMessage(text=text, buttons=((cancel,),), photos=view.photos)


def render_card_with_note(
    view: ComplaintView, ctx: FlowContext, *, note: str, buttons: tuple[tuple[Button, ...], ...], language: str = "id"
) -> OutMessage:
    """The card with a line under it and its own buttons: the waiting state of a newer capability
    (the proof-of-fix prompt, see :mod:`handlers.proof`), fitted to Telegram's limits like the card."""
    text = _fit_text(view, ctx, language, moved_to=None, tail=("", note))
    return OutMessage(text=text, buttons=buttons, photos=view.photos)


def render_reassign_picker(
    view: ComplaintView, ctx: FlowContext, *, current_agency: str, language: str = "id"
) -> OutMessage:
    """The card with the other agencies as buttons (one per row) plus cancel."""
    text = _fit_text(view, ctx, language, moved_to=None, tail=("", ctx.t(language, "card.reassign_pick")))
    rows: list[tuple[Button, ...]] = []
    for agency in ctx.agencies:
        payload = fit_payload(reassign_payload(view.id, agency.key))
        if agency.key != current_agency and payload:
            rows.append((Button(agency.name(language), payload),))
    rows.append((Button(ctx.t(language, "card.reassign_cancel"), reassign_payload(view.id, REASSIGN_CANCEL)),))
    return OutMessage(text=text, buttons=tuple(rows), photos=view.photos)


def render_rerouted_card(
    view: ComplaintView, ctx: FlowContext, *, reason: str, language: str = "id"
) -> OutMessage:
    """The card, in the command centre's group, of a complaint whose agency group cannot be reached
    (the bot was removed, the group is gone): why, and the agencies to reassign it to."""
    agency = ctx.agency(view.agency)
    note = ctx.t(
        language, "card.rerouted", agency=esc(agency.name(language) if agency else view.agency),
        reason=esc(truncate(reason, 120)),
    )
    picker = render_reassign_picker(view, ctx, current_agency=view.agency, language=language)
    text = _fit_text(view, ctx, language, moved_to=None, tail=("", note, ctx.t(language, "card.reassign_pick")))
    rows = tuple(row for row in picker.buttons if not any(b.payload.endswith(f":{REASSIGN_CANCEL}") for b in row))
    rows += ((block_button(view.id, ctx, language),),)  # 🚫 Blokir pelapor: the command centre's card (handlers.blocking)
    return OutMessage(text=text, buttons=rows, photos=view.photos)


def render_reject_prompt(view: ComplaintView, ctx: FlowContext, *, staff_name: str, language: str = "id") -> OutMessage:
    """Ask the officer who pressed "reject" for the reason, as a reply (force_reply)."""
    text = ctx.t(
        language,
        "staff.reject_prompt",
        staff=esc(truncate(staff_name or "", 40)),
        number=esc(view.number),
    )
    return OutMessage(text=text, force_reply=True, reply_to=card_ref(view.id))


def render_duplicate_prompt(
    view: ComplaintView, ctx: FlowContext, *, staff_name: str, language: str = "id"
) -> OutMessage:
    """Ask the officer who pressed "duplicate" for the original's number, as a reply (force_reply).
    The example is the nearest open complaint close by when there is one (the likely original)."""
    example, short = _number_examples(view)
    text = ctx.t(
        language,
        "staff.duplicate_prompt",
        staff=esc(truncate(staff_name or "", 40)),
        number=esc(view.number),
        example=f"<code>{esc(example)}</code>",
        short=f"<code>{esc(short)}</code>",
    )
    return OutMessage(text=text, force_reply=True, reply_to=card_ref(view.id))


def _number_examples(view: ComplaintView) -> tuple[str, str]:
    """A full number and the short form staff may type for it ("JMB-2026-000012", "12")."""
    example = view.nearby[0][0] if view.nearby else f"{view.number.rsplit('-', 1)[0]}-000012"
    tail = example.rsplit("-", 1)[-1].lstrip("0")
    return example, tail or "12"


def render_duplicate_retry(
    view: ComplaintView, problem: str, ctx: FlowContext, *, reply_to: int, language: str = "id"
) -> OutMessage:
    """The number staff gave was wrong: say why and ask again, as a new force-reply prompt answering
    their message (one per wrong answer; the prompt it answers is spent)."""
    example, short = _number_examples(view)
    text = ctx.t(
        language,
        "staff.duplicate_retry",
        problem=esc(problem),
        number=esc(view.number),
        example=f"<code>{esc(example)}</code>",
        short=f"<code>{esc(short)}</code>",
    )
    return OutMessage(text=text, force_reply=True, reply_to=MessageRef(kind="message", message_id=reply_to))


def render_citizen_reply_to_group(
    view: ComplaintView, text: str, ctx: FlowContext, *, language: str = "id"
) -> OutMessage:
    """A citizen's reply to a notification, relayed to the group under the complaint's card."""
    body = ctx.t(
        language,
        "staff.citizen_message",
        reporter=esc(_reporter(view)),
        number=esc(view.number),
        text=esc(truncate(text or "", 3500)),
    )
    return OutMessage(text=body, reply_to=card_ref(view.id))


# --- staff alerts and short texts -----------------------------------------------------------------
# Alerts (Telegram toasts) are plain text: no HTML, at most 200 characters.

ALERT_MAX = 200


def _alert(ctx: FlowContext, language: str, key: str, show_alert: bool = False, **params: object) -> Alert:
    return Alert(text=truncate(ctx.t(language, key, **params), ALERT_MAX), show_alert=show_alert)


def alert_not_member(ctx: FlowContext, *, language: str = "id") -> Alert:
    """The presser is not a member of this agency's group (or the group is not linked)."""
    return _alert(ctx, language, "staff.not_member", show_alert=True)


def alert_not_your_agency(ctx: FlowContext, *, language: str = "id") -> Alert:
    """The complaint belongs to another agency than the group's."""
    return _alert(ctx, language, "staff.not_your_agency", show_alert=True)


def alert_moved(ctx: FlowContext, agency: str, *, language: str = "id") -> Alert:
    """A button on a card whose complaint was reassigned elsewhere."""
    return _alert(ctx, language, "staff.moved", show_alert=True, agency=agency_display(agency, language, ctx))


def alert_unknown_action(ctx: FlowContext, *, language: str = "id") -> Alert:
    return _alert(ctx, language, "staff.unknown_action", show_alert=True)


def alert_not_found(ctx: FlowContext, *, language: str = "id") -> Alert:
    return _alert(ctx, language, "staff.complaint_not_found", show_alert=True)


def alert_refused(decision: Decision, ctx: FlowContext, *, status: str, language: str = "id") -> Alert:
    """Why a status button was refused (from :func:`handlers.lifecycle.decide`)."""
    key = decision.refusal_key or "staff.refuse.not_allowed"
    plain_status = ctx.t(language, f"status.{status}") if ctx.catalog.has(language, f"status.{status}") else status
    return _alert(ctx, language, key, show_alert=True, status=plain_status)


def alert_status_changed(ctx: FlowContext, status: str, *, language: str = "id") -> Alert:
    """The toast after a successful status change."""
    return _alert(ctx, language, "staff.status_changed", status=status_label(status, language, ctx))


def alert_already_changed(ctx: FlowContext, status: str, *, language: str = "id") -> Alert:
    """Two staff pressed at once and the other press won: nothing changed by this one."""
    return _alert(ctx, language, "staff.already_changed", show_alert=True, status=_plain_status(status, language, ctx))


def _plain_status(status: str, language: str, ctx: FlowContext) -> str:
    return ctx.t(language, f"status.{status}") if ctx.catalog.has(language, f"status.{status}") else status


def alert_prompt_cancelled(ctx: FlowContext, *, done: bool, language: str = "id") -> Alert:
    """The cancel under a reject/duplicate prompt: cancelled, or there was nothing open to cancel."""
    return _alert(ctx, language, "staff.prompt_cancelled" if done else "staff.prompt_nothing_to_cancel")


def alert_reassigned(ctx: FlowContext, agency: str, *, language: str = "id") -> Alert:
    return _alert(ctx, language, "staff.reassigned", agency=agency_display(agency, language, ctx))


def alert_reassign_cancelled(ctx: FlowContext, *, language: str = "id") -> Alert:
    return _alert(ctx, language, "staff.reassign_cancelled")


def alert_choose_agency(ctx: FlowContext, *, language: str = "id") -> Alert:
    """The toast when the reassign picker opens."""
    return _alert(ctx, language, "staff.choose_agency")


def _group_text(ctx: FlowContext, language: str, key: str, **params: object) -> OutMessage:
    return OutMessage(text=ctx.t(language, key, **params))


def render_link_result(ok: bool, ctx: FlowContext, *, agency: str | None = None, language: str = "id") -> OutMessage:
    """The answer to ``/link <code>`` in a group: linked to the agency, or the code is bad/expired."""
    if ok:
        name = agency_display(agency, language, ctx)
        return _group_text(ctx, language, "staff.link_ok", agency=esc(name))
    return _group_text(ctx, language, "staff.link_failed")


def render_link_usage(ctx: FlowContext, *, language: str = "id") -> OutMessage:
    """``/link`` without a code, or outside a group."""
    return _group_text(ctx, language, "staff.link_usage")


def render_reason_required(view: ComplaintView, ctx: FlowContext, *, language: str = "id") -> OutMessage:
    """The rejection reply was empty (or not text): ask again, as a reply."""
    text = ctx.t(language, "staff.reason_required", number=esc(view.number))
    return OutMessage(text=text, force_reply=True, reply_to=card_ref(view.id))


def render_reply_relayed(ctx: FlowContext, *, language: str = "id") -> OutMessage:
    """A staff reply under a card reached the citizen."""
    return _group_text(ctx, language, "staff.reply_relayed")


__all__ = [
    "CAPTION_LIMIT",
    "REASSIGN_CANCEL",
    "TEXT_LIMIT",
    "StaffPayload",
    "alert_already_changed",
    "alert_choose_agency",
    "alert_moved",
    "alert_not_found",
    "alert_not_member",
    "alert_not_your_agency",
    "alert_prompt_cancelled",
    "alert_reassign_cancelled",
    "alert_reassigned",
    "alert_refused",
    "alert_status_changed",
    "alert_unknown_action",
    "cancel_prompt_payload",
    "district_line",
    "parse_staff_payload",
    "reassign_payload",
    "render_card",
    "render_card_with_note",
    "render_citizen_reply_to_group",
    "render_duplicate_prompt",
    "render_duplicate_retry",
    "render_link_result",
    "render_link_usage",
    "render_prompt_card",
    "render_reason_required",
    "render_reassign_picker",
    "render_reject_prompt",
    "render_reply_relayed",
    "status_payload",
]
