"""Read-only views of stored complaints, and how they are shown to the citizen.

The service loads a complaint from the database and hands the core a :class:`ComplaintView`: plain
frozen data, so every renderer here (and in :mod:`handlers.cards`) stays pure and testable. The
citizen-side renderers (:func:`render_submitted`, :func:`render_status`, ...) live here and are
re-exported from :mod:`handlers.flow`, where the service expects them.

Everything here returns HTML (Telegram's subset); every piece of citizen or staff text goes through
:func:`esc` before it is placed into a template.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from handlers.context import FlowContext
from handlers.events import MediaRef
from handlers.lifecycle import Status, status_description, status_label
from handlers.messages import MAX_PAYLOAD_BYTES, Button, MessageRef, OutMessage
from handlers.privacy import mark as privacy_mark

# --- button payloads shared by the citizen flow and the renderers the service calls -------------

LANG_PREFIX = "lang:"
MENU_NEW = "menu:new"
MENU_STATUS = "menu:status"
MENU_MINE = "menu:mine"
MENU_HELP = "menu:help"
#: "show me this complaint" (buttons under "my complaints"); the number follows the prefix
SHOW_PREFIX = "show:"

#: how many complaints "my complaints" lists
MY_COMPLAINTS_MAX = 10
#: how many history lines the citizen's status view shows
STATUS_HISTORY_MAX = 5

Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One audit entry as shown to people: who did what, when, from which status/agency to which."""

    at: datetime
    action: str
    actor_name: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    from_agency: str | None = None
    to_agency: str | None = None
    note: str | None = None
    #: who acted: ``citizen`` | ``staff`` | ``system``, and their id (a citizen id for citizens);
    #: with ``addressee`` (the citizen a staff answer went to; None: the reporter) these decide which
    #: citizens may read the entry (see :mod:`handlers.visibility`)
    actor_kind: str | None = None
    actor_id: str | None = None
    addressee: int | None = None
    #: a photo came with the action (the clerk's "after" photo with Selesai)
    photo: bool = False


@dataclass(frozen=True, slots=True)
class ComplaintView:
    """A complaint as the renderers need it. ``agency`` and the history's agencies are agency keys
    (a name is shown as it is if it is not a known key). ``reporter_name`` is set only when the
    citizen agreed to share it; otherwise staff see ``reporter_alias``."""

    id: int
    number: str
    category: str
    description: str
    status: str
    agency: str
    created_at: datetime
    due_at: datetime | None
    photos: tuple[MediaRef, ...]
    latitude: float | None
    longitude: float | None
    address: str | None
    reporter_alias: str
    reporter_name: str | None
    history: tuple[HistoryEntry, ...]
    moved_to: str | None = None
    #: the channel the citizen uses (``telegram`` | ``whatsapp``): staff may answer differently
    channel: str = "telegram"
    #: why the latest notice to the citizen did not arrive (``window``: WhatsApp's 24-hour window is
    #: closed and no template is configured; else ``<code>: <message>``); None when it did
    notice_error: str | None = None
    kecamatan: str | None = None
    kelurahan: str | None = None
    #: citizens who reported the same problem and follow this complaint ("also reported by")
    followers: int = 0
    #: the complaint this one was marked a duplicate of: its number and its status now
    duplicate_of_number: str | None = None
    duplicate_of_status: str | None = None
    #: older open complaints of the same category close by (number, metres), nearest first: the card
    #: warns staff so they can mark a duplicate at once (filled for cards only)
    nearby: tuple[tuple[str, float], ...] = ()
    #: a resolved complaint's proof of fix: the clerk's "after" photo and note (None when not resolved)
    proof_photo: MediaRef | None = None
    proof_note: str | None = None
    #: the accept clock (shown on the card while baru) and the moment the card is rendered for, which
    #: decides its badge ("⏳ batas …" or "🔴 terlambat …"); None: no badge (see handlers.clocks)
    accept_due_at: datetime | None = None
    now: datetime | None = None
    #: the citizen's choice (handlers.privacy): "" | "anonim" (``reporter_alias`` is then the
    #: complaint's own, ``reporter_name`` None) | "rahasia"
    privacy: str = ""

    @property
    def has_pin(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def reporter_alias(citizen_id: int, prefix: str = "Warga") -> str:
    """A stable pseudonym for staff ("Warga #0042"), derived only from our own id.

    Staff need to tell reporters apart ("the same person wrote again") without learning who they
    are: no phone number, no username. The prefix is an identifier, not a sentence, so it is the
    same in every language (like the tracking prefix "JMB").
    """
    return f"{prefix} #{max(int(citizen_id), 0):04d}"


# --- small pure helpers ---------------------------------------------------------------------------

_TAG_RE = re.compile(r"<[^>]*>")


def esc(text: object) -> str:
    """Escape citizen/staff text for Telegram HTML. The one way user text enters a template."""
    return html.escape(str(text))


def utf16_len(text: str) -> int:
    """Telegram counts message and caption limits in UTF-16 code units (an emoji may count 2)."""
    return len(text.encode("utf-16-le")) // 2


def telegram_length(html_text: str) -> int:
    """The length Telegram checks against its limits: after tags are parsed and entities decoded."""
    return utf16_len(html.unescape(_TAG_RE.sub("", html_text)).strip())


def truncate(text: str, max_units: int, ellipsis: str = "…") -> str:
    """Cut plain ``text`` to at most ``max_units`` UTF-16 units, ending in an ellipsis when cut."""
    if utf16_len(text) <= max_units:
        return text
    if max_units <= utf16_len(ellipsis):
        return ellipsis[: max(max_units, 0)]
    budget = max_units - utf16_len(ellipsis)
    out: list[str] = []
    used = 0
    for char in text:
        width = utf16_len(char)
        if used + width > budget:
            break
        out.append(char)
        used += width
    return "".join(out).rstrip() + ellipsis


def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def to_local(at: datetime, timezone: str) -> datetime:
    """Stored times are UTC (a naive one is taken as UTC); people read them in the city's zone."""
    aware = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    zone = _zone(timezone)
    return aware.astimezone(zone) if zone else aware.astimezone(UTC)


def _time_parts(at: datetime, language: str, ctx: FlowContext) -> dict[str, object]:
    local = to_local(at, ctx.timezone)
    months = ctx.t(language, "time.months").split()
    month = months[local.month - 1] if len(months) == 12 else str(local.month)
    return {
        "day": local.day,
        "month": month,
        "year": local.year,
        "hour": f"{local.hour:02d}",
        "minute": f"{local.minute:02d}",
        "tz": local.tzname() or "",
    }


def format_time(at: datetime, language: str, ctx: FlowContext) -> str:
    """``"28 Nov 2026 15:04 WIB"`` in the city's time zone."""
    return ctx.t(language, "time.format", **_time_parts(at, language, ctx))


def format_time_short(at: datetime, language: str, ctx: FlowContext) -> str:
    """``"28 Nov 15:04"``: for history lines, where the year only adds noise."""
    return ctx.t(language, "time.format_short", **_time_parts(at, language, ctx))


def format_decimal(value: float, language: str, ctx: FlowContext, digits: int = 1) -> str:
    """``12,5`` in Indonesian, ``12.5`` in English (the separator is catalog data)."""
    return f"{value:.{digits}f}".replace(".", ctx.t(language, "format.decimal_separator"))


def agency_display(agency: str | None, language: str, ctx: FlowContext) -> str:
    """An agency key's name; an unknown key or a ready-made name is shown as given."""
    info = ctx.agency(agency)
    return info.name(language) if info else str(agency or "")


def category_display(key: str | None, language: str, ctx: FlowContext) -> str:
    """``"🛣️ Jalan Rusak"`` for a category key (an unknown key is shown as stored)."""
    info = ctx.category(key)
    return f"{info.emoji} {info.label(language)}" if info else str(key or "")


def fit_payload(payload: str) -> str | None:
    """The payload if it fits Telegram's 64 bytes, else None (the caller then omits the button)."""
    return payload if 0 < len(payload.encode()) <= MAX_PAYLOAD_BYTES else None


# --- shared keyboards -----------------------------------------------------------------------------


def language_row(ctx: FlowContext) -> tuple[Button, ...]:
    """One button per language, each labelled in its own language so anyone can find theirs."""
    return tuple(Button(ctx.t(code, f"lang.name.{code}"), f"{LANG_PREFIX}{code}") for code in ctx.languages)


def menu_rows(language: str, ctx: FlowContext) -> Rows:
    """The main menu: the four things a citizen can do."""
    return (
        (Button(ctx.t(language, "menu.new"), MENU_NEW),),
        (Button(ctx.t(language, "menu.status"), MENU_STATUS), Button(ctx.t(language, "menu.mine"), MENU_MINE)),
        (Button(ctx.t(language, "menu.help"), MENU_HELP),),
    )


# --- history lines --------------------------------------------------------------------------------


def _status_name(status: str | None, language: str, ctx: FlowContext) -> str:
    return status_label(status, language, ctx) if status else ""


#: audit actions written with their own words (``history.action.<action>``); status changes,
#: reassignments and the filing itself have theirs (``history.status``, ``history.reassign``,
#: ``history.submit``), and anything else reads ``history.action.other``: no stored key is ever shown
SUBMIT_ACTION = "submit"
REASSIGN_ACTION = "reassign"


def _agency_change(entry: HistoryEntry, language: str, ctx: FlowContext) -> str:
    return ctx.t(
        language,
        "history.reassign",
        from_agency=esc(agency_display(entry.from_agency, language, ctx)),
        to_agency=esc(agency_display(entry.to_agency, language, ctx)),
    )


def describe_change(entry: HistoryEntry, language: str, ctx: FlowContext) -> str:
    """What one history entry changed, as escaped HTML ("🆕 Baru → 📥 Diterima (note)"), always in
    catalog words: an entry of a kind this version does not know reads as "other activity"."""
    moved_agency = bool(entry.from_agency and entry.to_agency and entry.from_agency != entry.to_agency)
    key = f"history.action.{entry.action}"
    if entry.action == REASSIGN_ACTION and moved_agency:
        change = _agency_change(entry, language, ctx)
    elif entry.action == SUBMIT_ACTION:
        change = ctx.t(language, "history.submit")
    elif entry.to_status and entry.from_status and entry.from_status != entry.to_status:
        change = ctx.t(
            language,
            "history.status",
            from_status=_status_name(entry.from_status, language, ctx),
            to_status=_status_name(entry.to_status, language, ctx),
        )
    elif ctx.catalog.has(language, key):
        change = ctx.t(language, key)
    elif moved_agency:
        change = _agency_change(entry, language, ctx)
    elif entry.to_status and not entry.from_status:
        change = ctx.t(language, "history.submit")
    else:
        change = ctx.t(language, "history.action.other")
    if entry.photo:  # "🔧 Diproses → ✅ Selesai, dengan foto bukti 📷"
        change = ctx.t(language, "history.with_proof_photo", change=change)
    if entry.action == SUBMIT_ACTION and entry.note and (chosen := privacy_mark(entry.note, language, ctx)):
        return ctx.t(language, "privacy.history_submit", change=change, mark=chosen)  # "… · 🔒 Rahasia"
    if entry.note:
        change = ctx.t(language, "history.with_note", change=change, note=esc(truncate(entry.note, 80)))
    return change


def _citizen_history_lines(view: ComplaintView, language: str, ctx: FlowContext) -> list[str]:
    """The citizen sees what happened and when, never which officer did it."""
    entries = view.history[-STATUS_HISTORY_MAX:]
    return [
        ctx.t(
            language,
            "history.line",
            time=format_time_short(e.at, language, ctx),
            change=describe_change(e, language, ctx),
        )
        for e in entries
    ]


# --- renderers the service calls after carrying out effects ---------------------------------------


def render_submitted(
    language: str, number: str, agency_name: str, target_hours: float, ctx: FlowContext, *,
    due_at: datetime | None = None, office_hours: bool = False,
) -> OutMessage:
    """The confirmation after SubmitDraft: the tracking number (bold), who handles it, by when (the due
    time when known: with decimal or office hours a number of hours alone would mislead)."""
    from handlers.clocks import handling_text  # the clocks render times with this module's helpers

    text = ctx.t(
        language,
        "submitted.text",
        number=esc(number),
        agency=esc(agency_display(agency_name, language, ctx)),
        handling=handling_text(language, ctx, hours=target_hours, due_at=due_at, office=office_hours),
    )
    return OutMessage(text=text, buttons=menu_rows(language, ctx))


def render_following(language: str, number: str, agency_name: str, ctx: FlowContext) -> OutMessage:
    """After "the same problem": the citizen now follows complaint ``number`` and hears its news."""
    text = ctx.t(
        language, "dup.following", number=esc(number), agency=esc(agency_display(agency_name, language, ctx))
    )
    return OutMessage(text=text, buttons=menu_rows(language, ctx))


def render_status(language: str, view: ComplaintView, ctx: FlowContext) -> OutMessage:
    """A citizen's own complaint: status with a plain-words explanation, agency, times, history."""
    lines = [
        ctx.t(language, "status.view.title", number=esc(view.number)),
        ctx.t(language, "status.view.status", status=status_label(view.status, language, ctx)),
        status_description(view.status, language, ctx),
        *(
            [ctx.t(language, "status.view.duplicate_of", number=esc(view.duplicate_of_number),
                   status=status_label(view.duplicate_of_status or "", language, ctx))]
            if view.duplicate_of_number else []
        ),
        "",
        ctx.t(language, "status.view.category", category=esc(category_display(view.category, language, ctx))),
        ctx.t(language, "status.view.agency", agency=esc(agency_display(view.agency, language, ctx))),
        ctx.t(language, "status.view.created", time=format_time(view.created_at, language, ctx)),
    ]
    if place := _status_place(view):  # the street found in the background lands here too (issue 14)
        lines.append(ctx.t(language, "places2.status_place", place=esc(truncate(place, 200))))
    if chosen := privacy_mark(view.privacy, language, ctx):  # "Privasi: 🕶️ Anonim"
        lines.append(ctx.t(language, "privacy.status", mark=chosen))
    if view.due_at is not None and view.status not in (Status.SELESAI, Status.DITOLAK, Status.DUPLIKAT):
        lines.append(ctx.t(language, "status.view.due", time=format_time(view.due_at, language, ctx)))
    if view.proof_photo is not None or view.proof_note:
        lines += ["", _proof_line(view, language, ctx)]
    history = _citizen_history_lines(view, language, ctx)
    if history:
        lines += ["", ctx.t(language, "status.view.history"), *history]
    photos = (view.proof_photo,) if view.proof_photo is not None else ()  # the "after" photo comes along
    return OutMessage(text="\n".join(lines), buttons=menu_rows(language, ctx), photos=photos)


def _status_place(view: ComplaintView) -> str | None:
    """Where the complaint is, for /status: its address or place line (street, kelurahan, kecamatan); a
    Rahasia complaint, which followers may look up too, names only its district."""
    district = ", ".join(p for p in (f"Kel. {view.kelurahan}" if view.kelurahan else "",
                                     f"Kec. {view.kecamatan}" if view.kecamatan else "") if p) or None
    return district if view.privacy == "rahasia" else (view.address or district)


def _proof_line(view: ComplaintView, language: str, ctx: FlowContext) -> str:
    """"Bukti penyelesaian: <the clerk's note>" (or that the photo above is the proof)."""
    if view.proof_note:
        return ctx.t(language, "status.view.proof", note=esc(truncate(view.proof_note, 300)))
    return ctx.t(language, "status.view.proof_photo")


def render_status_not_found(language: str, number: str, ctx: FlowContext) -> OutMessage:
    """The same words whether the number does not exist or is someone else's: nothing leaks."""
    text = ctx.t(language, "status.not_found", number=esc(truncate(number, 40)))
    return OutMessage(text=text, buttons=menu_rows(language, ctx))


def _newest_first(views: Iterable[ComplaintView]) -> list[ComplaintView]:
    return sorted(views, key=lambda v: to_local(v.created_at, "UTC"), reverse=True)


def render_my_complaints(language: str, views: Sequence[ComplaintView], ctx: FlowContext) -> OutMessage:
    """Up to ten of the citizen's complaints, newest first, each with a button to see its status."""
    if not views:
        return OutMessage(text=ctx.t(language, "mine.empty"), buttons=menu_rows(language, ctx))
    shown = _newest_first(views)[:MY_COMPLAINTS_MAX]
    lines = [ctx.t(language, "mine.title"), ""]
    buttons: list[tuple[Button, ...]] = []
    for view in shown:
        lines.append(
            ctx.t(
                language,
                "mine.line",
                number=esc(view.number),
                category=esc(category_display(view.category, language, ctx)),
                status=status_label(view.status, language, ctx),
                time=format_time_short(view.created_at, language, ctx),
            )
        )
        payload = fit_payload(f"{SHOW_PREFIX}{view.number}")
        if payload:
            buttons.append((Button(view.number, payload),))
    lines += ["", ctx.t(language, "mine.hint")]
    return OutMessage(text="\n".join(lines), buttons=(*buttons, *menu_rows(language, ctx)))


def _last_entry(view: ComplaintView) -> HistoryEntry | None:
    return view.history[-1] if view.history else None


def _was_reassigned(view: ComplaintView) -> HistoryEntry | None:
    last = _last_entry(view)
    if last and last.action == REASSIGN_ACTION and last.from_agency and last.to_agency and last.from_agency != last.to_agency:
        return last
    return None


def render_status_notification(
    language: str, view: ComplaintView, *, note: str | None = None, ctx: FlowContext
) -> OutMessage:
    """Tell the citizen what just changed (taken from the view's status and latest history entry).

    A rejection always carries its reason (``note``, else the latest history note); a reassignment
    names both agencies. The citizen may reply to this message to add information.
    """
    moved = _was_reassigned(view)
    number = esc(view.number)
    agency = esc(agency_display(view.agency, language, ctx))
    if view.status == Status.DUPLIKAT and view.duplicate_of_number:
        # the original's number in the sentence, with its real status (it may still be new)
        text = ctx.t(
            language,
            "notify.duplikat",
            number=number,
            original=esc(view.duplicate_of_number),
            status=status_label(view.duplicate_of_status or "", language, ctx),
            agency=agency,
        )
        return OutMessage(text=f"{text}\n\n{ctx.t(language, 'notify.reply_hint')}")
    if moved is not None:
        text = ctx.t(
            language,
            "notify.reassigned",
            number=number,
            from_agency=esc(agency_display(moved.from_agency, language, ctx)),
            to_agency=esc(agency_display(moved.to_agency, language, ctx)),
        )
    else:
        key = f"notify.{view.status}"
        # a duplicate whose original is not known (e.g. deleted) cannot name it: the plain status notice
        if not ctx.catalog.has(language, key) or view.status == Status.DUPLIKAT:
            key = "notify.other"
        text = ctx.t(language, key, number=number, agency=agency, status=status_label(view.status, language, ctx))
    last = _last_entry(view)
    reason = note if note is not None else (last.note if last else None)
    if reason:
        reason_key = "notify.reason" if view.status == Status.DITOLAK else "notify.note"
        text += "\n\n" + ctx.t(language, reason_key, note=esc(reason))
    text += "\n\n" + ctx.t(language, "notify.reply_hint")
    # the resolution carries the clerk's "after" photo (the view has one only while resolved)
    photos = (view.proof_photo,) if view.proof_photo is not None and moved is None else ()
    return OutMessage(text=text, photos=photos)


def render_staff_reply(language: str, number: str, agency_name: str, text: str, ctx: FlowContext) -> OutMessage:
    """A message from the agency to the citizen about their complaint; they can answer by replying."""
    body = ctx.t(
        language,
        "staff_reply.text",
        number=esc(number),
        agency=esc(agency_display(agency_name, language, ctx)),
        text=esc(truncate(text, 3500)),
    )
    return OutMessage(text=body)


def render_citizen_reply_sent(language: str, number: str, agency_name: str, ctx: FlowContext) -> OutMessage:
    """Confirms to the citizen that their reply reached the agency's group."""
    text = ctx.t(
        language,
        "citizen_reply.sent",
        number=esc(number),
        agency=esc(agency_display(agency_name, language, ctx)),
    )
    return OutMessage(text=text)


def card_ref(complaint_id: int) -> MessageRef:
    """The agency card of a complaint, as a reply target."""
    return MessageRef(kind="card", complaint_id=complaint_id)
