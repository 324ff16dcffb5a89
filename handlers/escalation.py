"""The command centre's escalation card and what its buttons send, rendered purely.

When a complaint is overdue (each level of ``deadlines.escalate_after_hours``), the command centre's
group gets one card naming the complaint, its agency, category and district, how late it is and its
short history, with three buttons (payload prefix ``cc``):

* ``cc:nudge:<id>``: *🔔 Ingatkan instansi*: a reminder in the agency's group under its card, quoting
  the command centre;
* ``cc:pick:<id>`` then ``cc:to:<id>:<agency>`` (``cc:to:<id>:-`` cancels): *↪️ Alihkan* to another
  agency, with the agencies as buttons on the escalation card itself;
* ``cc:note:<id>`` (``cc:nx:<id>`` cancels): *📝 Beri catatan*: a reply prompt; the reply goes to the
  agency's group under its card.

Staff texts are Indonesian by default (``language="id"``); every text is a catalog entry
(``sikesal-command.po``); every piece of citizen or staff text is escaped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from handlers.blocking import block_button
from handlers.cards import _history_line, district_line
from handlers.context import FlowContext
from handlers.lifecycle import is_terminal, status_label
from handlers.messages import Alert, Button, EditTarget, MessageRef, OutMessage
from handlers.text import parse_id
from handlers.views import (
    ComplaintView,
    agency_display,
    card_ref,
    category_display,
    esc,
    fit_payload,
    format_time,
    telegram_length,
    truncate,
)

CC_PREFIX = "cc"
NUDGE = "nudge"
PICK = "pick"
TO = "to"
NOTE = "note"
NOTE_CANCEL = "nx"
#: the "cancel" choice of the agency picker on the escalation card (``cc:to:<id>:-``)
PICK_CANCEL = "-"
VERBS = frozenset({NUDGE, PICK, TO, NOTE, NOTE_CANCEL})

#: Telegram's limit for a text message, in UTF-16 units after entity parsing
TEXT_LIMIT = 4096
#: an alert (toast) is plain text of at most 200 characters
ALERT_MAX = 200
#: history lines on the escalation card
ESCALATION_HISTORY = 4
#: how much of the description the escalation card quotes (the agency's card has all of it)
DESCRIPTION_MAX = 300
#: how much of a command-centre note is relayed (Telegram's 4096 less the frame)
NOTE_MAX = 3500


@dataclass(frozen=True, slots=True)
class CcPayload:
    """A parsed command-centre button: ``verb`` (see the module docstring), the complaint, and for
    ``to`` the chosen agency (``cancelled`` when the picker's cancel was pressed)."""

    verb: str
    complaint_id: int
    agency: str | None = None
    cancelled: bool = False


def cc_payload(verb: str, complaint_id: int, agency: str | None = None) -> str:
    """``cc:nudge:42``, ``cc:to:42:dlh``."""
    base = f"{CC_PREFIX}:{verb}:{int(complaint_id)}"
    return f"{base}:{agency}" if agency is not None else base


def parse_cc_payload(payload: str) -> CcPayload | None:
    """Read a ``cc:`` payload; None for anything else (never raises: payloads come from outside)."""
    parts = payload.split(":") if isinstance(payload, str) and len(payload) <= 64 else []
    if len(parts) not in (3, 4) or parts[0] != CC_PREFIX or parts[1] not in VERBS:
        return None
    verb, complaint_id = parts[1], parse_id(parts[2])
    if complaint_id is None:
        return None
    if verb == TO:
        if len(parts) != 4:
            return None
        agency = parts[3]
        if agency == PICK_CANCEL:
            return CcPayload(verb, complaint_id, cancelled=True)
        if not agency or not agency.isascii() or not agency.replace("_", "").isalnum() or len(agency) > 20:
            return None
        return CcPayload(verb, complaint_id, agency=agency)
    return CcPayload(verb, complaint_id) if len(parts) == 3 else None


def changes_citizen_view(payload: str) -> bool:
    """Whether a ``cc:`` press changes what the citizen sees (a reassignment does; a nudge, opening the
    picker or the note prompt do not): then a bot that is not an administrator asks Telegram whether
    the presser is still a member of the command centre's group."""
    parsed = parse_cc_payload(payload)
    return parsed is not None and parsed.verb == TO and not parsed.cancelled


# --- how late -------------------------------------------------------------------------------------


def format_span(delta: timedelta, language: str, ctx: FlowContext) -> str:
    """``"1 hari 3 jam"``, ``"5 jam 20 menit"``, ``"12 menit"``: two units at most, rounded down."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts: list[tuple[int, str]] = [(days, "day"), (hours, "hour"), (mins, "minute")]
    shown = [(n, unit) for n, unit in parts if n][:2] or [(0, "minute")]
    if days:  # "1 hari 3 jam": minutes are noise a day late
        shown = [(n, unit) for n, unit in parts[:2] if n]
    words = [ctx.t(language, f"cc.unit.{unit}" if n == 1 else f"cc.unit.{unit}s", n=n) for n, unit in shown]
    return " ".join(words)


def format_lateness(due_at: datetime | None, now: datetime, language: str, ctx: FlowContext) -> str:
    """``"terlambat 1 hari 3 jam"``, or ``"belum terlambat"`` when the due time is ahead (or none)."""
    if due_at is None or due_at > now:
        return ctx.t(language, "cc.not_late")
    return ctx.t(language, "cc.late", span=format_span(now - due_at, language, ctx))


def is_overdue(view: ComplaintView, now: datetime) -> bool:
    return not is_terminal(view.status) and view.due_at is not None and view.due_at <= now


def short_agency(agency: str | None, language: str, ctx: FlowContext) -> str:
    """"PUPR" where the agency has a short name (read at a glance), else its name."""
    info = ctx.agency(agency)
    return (info.short or info.name(language)) if info else str(agency or "")


# --- the escalation card --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EscalationInfo:
    """What the card says beyond the complaint: its level (0-based) of how many, the time it is
    rendered at (how late is counted to it), and whether the agency's group can be reached."""

    level: int
    levels: int
    now: datetime
    agency_reachable: bool = True


def _escalation_lines(
    view: ComplaintView, info: EscalationInfo, ctx: FlowContext, language: str, *, description_max: int, history: int
) -> list[str]:
    t = ctx.t
    lines = [
        t(language, "cc.card_header", level=info.level + 1, levels=max(info.levels, info.level + 1)),
        t(language, "cc.card_number", number=esc(view.number), status=status_label(view.status, language, ctx)),
        t(language, "cc.card_agency", agency=esc(agency_display(view.agency, language, ctx))),
        esc(category_display(view.category, language, ctx)),
    ]
    area = district_line(None, view.kelurahan, view.kecamatan)
    if area:
        lines.append(t(language, "cc.card_area", area=esc(area)))
    if view.due_at is not None:
        late = format_lateness(view.due_at, info.now, language, ctx)
        lines.append(t(language, "cc.card_due", time=format_time(view.due_at, language, ctx), late=esc(late)))
    if not info.agency_reachable:
        lines.append(t(language, "cc.card_no_group", agency=esc(short_agency(view.agency, language, ctx))))
    if view.privacy:  # "🕶️ Anonim: …" / "🔒 Rahasia: …" as on the agency's card (handlers.privacy)
        lines.append(t(language, f"privacy.card.{view.privacy}"))
    if description_max > 0 and view.description:
        lines += ["", f"<i>{esc(truncate(view.description, description_max))}</i>"]
    # the card's own history lines, so both read alike
    entries = [_history_line(e, language, ctx) for e in view.history[-history:]] if history > 0 else []
    if entries:
        lines += ["", t(language, "card.history_title"), *entries]
    if is_terminal(view.status):
        lines += ["", t(language, "cc.card_closed", status=status_label(view.status, language, ctx))]
    elif not is_overdue(view, info.now):
        lines += ["", t(language, "cc.card_not_overdue")]
    return lines


def _fit(build: Callable[[int, int], list[str]], levels: tuple[tuple[int, int], ...], tail: tuple[str, ...]) -> str:
    """The first rendering (of the given detail levels) within Telegram's limit."""
    text = ""
    for description_max, history in levels:
        text = "\n".join([*build(description_max, history), *tail])
        if telegram_length(text) <= TEXT_LIMIT:
            return text
    return truncate(text, TEXT_LIMIT)  # unreachable with the catalog's texts; never over the limit


_LEVELS = ((DESCRIPTION_MAX, ESCALATION_HISTORY), (120, 2), (0, 0))


def _escalation_text(
    view: ComplaintView, info: EscalationInfo, ctx: FlowContext, language: str, tail: tuple[str, ...] = ()
) -> str:
    def build(description_max: int, history: int) -> list[str]:
        return _escalation_lines(view, info, ctx, language, description_max=description_max, history=history)

    return _fit(build, _LEVELS, tail)


def escalation_buttons(view: ComplaintView, ctx: FlowContext, language: str = "id") -> tuple[tuple[Button, ...], ...]:
    """*🔔 Ingatkan instansi* on its own row, *↪️ Alihkan* and *📝 Beri catatan* below it, and *🚫 Blokir
    pelapor* last (:mod:`handlers.blocking`)."""
    t = ctx.t
    return (
        (Button(t(language, "cc.button_nudge"), cc_payload(NUDGE, view.id)),),
        (
            Button(t(language, "cc.button_reassign"), cc_payload(PICK, view.id)),
            Button(t(language, "cc.button_note"), cc_payload(NOTE, view.id)),
        ),
        (block_button(view.id, ctx, language),),
    )


def render_escalation(
    view: ComplaintView, info: EscalationInfo, ctx: FlowContext, *, language: str = "id", edit: EditTarget | None = None
) -> OutMessage:
    """The escalation card; without buttons once the complaint is closed (nothing left to do)."""
    text = _escalation_text(view, info, ctx, language)
    buttons = () if is_terminal(view.status) else escalation_buttons(view, ctx, language)
    return OutMessage(text=text, buttons=buttons, edit=edit)


def render_escalation_picker(
    view: ComplaintView, info: EscalationInfo, ctx: FlowContext, *, language: str = "id", edit: EditTarget | None = None
) -> OutMessage:
    """The escalation card with the other agencies as buttons (one per row) and a cancel."""
    text = _escalation_text(view, info, ctx, language, tail=("", ctx.t(language, "card.reassign_pick")))
    rows: list[tuple[Button, ...]] = []
    for agency in ctx.agencies:
        payload = fit_payload(cc_payload(TO, view.id, agency.key))
        if agency.key != view.agency and payload:
            rows.append((Button(agency.name(language), payload),))
    rows.append((Button(ctx.t(language, "cc.button_cancel"), cc_payload(TO, view.id, PICK_CANCEL)),))
    return OutMessage(text=text, buttons=tuple(rows), edit=edit)


def render_escalation_waiting(
    view: ComplaintView, info: EscalationInfo, ctx: FlowContext, *, staff_name: str, language: str = "id",
    edit: EditTarget | None = None,
) -> OutMessage:
    """The escalation card while a note is awaited: who writes it, and one button to cancel."""
    waiting = ctx.t(language, "cc.card_waiting_note", staff=esc(truncate(staff_name or "", 40)))
    text = _escalation_text(view, info, ctx, language, tail=("", waiting))
    cancel = Button(ctx.t(language, "cc.button_cancel"), cc_payload(NOTE_CANCEL, view.id))
    return OutMessage(text=text, buttons=((cancel,),), edit=edit)


# --- what reaches the agency ----------------------------------------------------------------------


def _centre(centre: str, language: str, ctx: FlowContext) -> str:
    return esc(short_agency(centre, language, ctx))


def render_nudge(
    view: ComplaintView, ctx: FlowContext, *, centre: str, staff_name: str, now: datetime, language: str = "id"
) -> OutMessage:
    """The reminder in the agency's group, under the complaint's card, quoting the command centre."""
    text = ctx.t(
        language,
        "cc.nudge",
        centre=_centre(centre, language, ctx),
        number=esc(view.number),
        late=esc(format_lateness(view.due_at, now, language, ctx)),
        status=status_label(view.status, language, ctx),
        staff=esc(truncate(staff_name or "", 40)),
    )
    return OutMessage(text=text, reply_to=card_ref(view.id))


def render_cc_note(
    view: ComplaintView, ctx: FlowContext, *, centre: str, staff_name: str, note: str, language: str = "id"
) -> OutMessage:
    """The command centre's note in the agency's group, under the complaint's card."""
    text = ctx.t(
        language,
        "cc.note",
        centre=_centre(centre, language, ctx),
        number=esc(view.number),
        note=esc(truncate(note.strip(), NOTE_MAX)),
        staff=esc(truncate(staff_name or "", 40)),
    )
    return OutMessage(text=text, reply_to=card_ref(view.id))


def render_agency_answer(
    number: str, ctx: FlowContext, *, agency: str, staff_name: str, text: str, reply_to: int | None,
    language: str = "id",
) -> OutMessage:
    """An agency officer's answer to the command centre's reminder or note, in the command centre's group
    (under the complaint's newest escalation card)."""
    body = ctx.t(
        language,
        "cc.answer",
        agency=esc(short_agency(agency, language, ctx)),
        staff=esc(truncate(staff_name or "", 40)),
        number=esc(number),
        text=esc(truncate(text.strip(), NOTE_MAX)),
    )
    ref = MessageRef(kind="message", message_id=reply_to) if reply_to is not None else None
    return OutMessage(text=body, reply_to=ref)


def render_note_prompt(
    view: ComplaintView, ctx: FlowContext, *, staff_name: str, reply_to: int | None, language: str = "id"
) -> OutMessage:
    """Ask the command centre's officer for the note, as a reply (force_reply) under the escalation card."""
    text = ctx.t(
        language,
        "cc.note_prompt",
        staff=esc(truncate(staff_name or "", 40)),
        number=esc(view.number),
        agency=esc(short_agency(view.agency, language, ctx)),
    )
    ref = MessageRef(kind="message", message_id=reply_to) if reply_to is not None else None
    return OutMessage(text=text, force_reply=True, reply_to=ref)


def render_group_notice(text: str, *, reply_to: int | None = None) -> OutMessage:
    """A short answer in a group (a reply has no toast), from a catalog text already filled."""
    ref = MessageRef(kind="message", message_id=reply_to) if reply_to is not None else None
    return OutMessage(text=text, reply_to=ref)


def group_text(ctx: FlowContext, key: str, *, language: str = "id", **params: object) -> str:
    """A ``cc.`` text with its parameters escaped (they are names and numbers, but never trusted)."""
    return ctx.t(language, key, **{k: esc(v) for k, v in params.items()})


def cc_alert(ctx: FlowContext, key: str, *, show_alert: bool = False, language: str = "id", **params: object) -> Alert:
    """A toast (plain text, at most 200 characters)."""
    return Alert(text=truncate(ctx.t(language, key, **params), ALERT_MAX), show_alert=show_alert)


def closed_alert(view: ComplaintView, ctx: FlowContext, now: datetime, language: str = "id") -> Alert | None:
    """The short answer to a press on an escalation that has nothing left to do: the complaint is
    closed, or it is not overdue any more (reopened with a new clock). None: go ahead."""
    if is_terminal(view.status):
        return cc_alert(ctx, "cc.alert_closed", language=language, number=view.number,
                        status=ctx.t(language, f"status.{view.status}"))
    if not is_overdue(view, now):
        return cc_alert(ctx, "cc.alert_not_overdue", language=language, number=view.number)
    return None


__all__ = [
    "CC_PREFIX",
    "CcPayload",
    "EscalationInfo",
    "cc_alert",
    "cc_payload",
    "changes_citizen_view",
    "closed_alert",
    "escalation_buttons",
    "format_lateness",
    "format_span",
    "group_text",
    "is_overdue",
    "parse_cc_payload",
    "render_agency_answer",
    "render_cc_note",
    "render_escalation",
    "render_escalation_picker",
    "render_escalation_waiting",
    "render_group_notice",
    "render_note_prompt",
    "render_nudge",
    "short_agency",
]
