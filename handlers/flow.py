"""The citizen conversation: ``(conversation, incoming event) -> Outcome``, pure and table-driven.

Why tables: the steps of filing a complaint and what each kind of input does in each step are data
(:data:`FLOW`, :data:`GLOBAL_COMMANDS`, :data:`GLOBAL_BUTTONS`), so the behaviour can be read,
tested cell by cell and drawn (:mod:`handlers.diagram`) instead of being buried in nested ifs.

Rules every handler follows:

* the input conversation is never mutated: :func:`handle` works on a deep copy;
* nothing raises: a bug becomes a polite "please try again" and the state is kept;
* the draft survives everything except an explicit cancel, a "start over" or the idle timeout;
* out-of-order input (a photo before it was asked for, a map pin early) is kept, not refused;
* every unexpected input gets a short answer saying what is expected right now.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from handlers import choices
from handlers.context import CategoryInfo, FlowContext
from handlers.effects import Effect, FollowComplaint, ListComplaints, ShowStatus, SubmitDraft
from handlers.events import (
    AddressMatch,
    ButtonPress,
    Command,
    Event,
    Incoming,
    Location,
    Nearby,
    Photo,
    Text,
    TooLarge,
    Unsupported,
)
from handlers.lifecycle import status_label
from handlers.messages import Alert, Button, KeyboardButton, OutMessage
from handlers.state import FILING_STEPS, Conversation, Draft, Step
from handlers.text import clean_text, parse_int, visible_length
from handlers.views import (
    LANG_PREFIX,
    MENU_HELP,
    MENU_MINE,
    MENU_NEW,
    MENU_STATUS,
    SHOW_PREFIX,
    ComplaintView,
    HistoryEntry,
    Rows,
    category_display,
    esc,
    format_decimal,
    language_row,
    menu_rows,
    render_citizen_reply_sent,
    render_following,
    render_my_complaints,
    render_staff_reply,
    render_status,
    render_status_not_found,
    render_status_notification,
    render_submitted,
    reporter_alias,
    truncate,
)

__all__ = [
    "CAT_PREFIX",
    "DRAFT_CANCEL",
    "DRAFT_CONTINUE",
    "EDIT_BACK",
    "EDIT_CATEGORY",
    "EDIT_DESCRIPTION",
    "EDIT_LOCATION",
    "EDIT_PHOTOS",
    "FLOW",
    "GLOBAL_BUTTONS",
    "GLOBAL_COMMANDS",
    "LANG_PREFIX",
    "MENU_HELP",
    "MENU_MINE",
    "MENU_NEW",
    "MENU_STATUS",
    "PHOTO_DONE",
    "PHOTO_SKIP",
    "SHOW_PREFIX",
    "SUM_CANCEL",
    "SUM_EDIT",
    "SUM_NAME",
    "SUM_SEND",
    "ComplaintView",
    "HistoryEntry",
    "Outcome",
    "Transition",
    "discard_idle",
    "handle",
    "next_step",
    "normalise_number",
    "prompt",
    "remind",
    "reminder",
    "render_citizen_reply_sent",
    "render_following",
    "render_my_complaints",
    "render_staff_reply",
    "render_status",
    "render_status_not_found",
    "render_status_notification",
    "render_submitted",
    "reporter_alias",
]

# --- button payloads (all well under 64 bytes) ----------------------------------------------------

DRAFT_CONTINUE = "draft:continue"
DRAFT_CANCEL = "draft:cancel"
CAT_PREFIX = "cat:"
PHOTO_DONE = "photo:done"
PHOTO_SKIP = "photo:skip"
SUM_SEND = "sum:send"
SUM_EDIT = "sum:edit"
SUM_CANCEL = "sum:cancel"
SUM_NAME = "sum:name"  # toggles whether staff may see the citizen's name
DUP_PREFIX = "dup:"  # dup:<number>: the same problem as that complaint
DUP_NEW = "dup:new"  # a different problem: file it
DUP_BACK = "dup:back"  # back to the summary
ADDR_PREFIX = "addr:"  # addr:<index>: the geocoder's candidate is the place
ADDR_TYPED = "addr:typed"  # keep the address as typed, without a pin
ADDR_PIN = "addr:pin"  # share a pin instead
EDIT_CATEGORY = "edit:category"
EDIT_DESCRIPTION = "edit:description"
EDIT_PHOTOS = "edit:photos"
EDIT_LOCATION = "edit:location"
EDIT_BACK = "edit:back"

#: which step edits which draft field (the value stored in ``draft.editing``)
EDIT_TARGETS: dict[str, Step] = {
    "category": Step.CATEGORY,
    "description": Step.DESCRIPTION,
    "photos": Step.PHOTOS,
    "location": Step.LOCATION,
}

#: a tracking number as typed: letters, digits and dashes, with at least one digit (spaces removed first)
_NUMBER_RE = re.compile(r"^(?=.*[0-9])[A-Z0-9][A-Z0-9/-]{2,31}$")


# --- results --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The result of one event: the new state, what to say, what the service must do.

    ``followup`` is said *after* the service has rendered the effects' results (e.g. "back to your
    draft" after a status check in the middle of filing), so it comes last in the chat.
    """

    conversation: Conversation
    messages: list[OutMessage]
    effects: list[Effect]
    alert: Alert | None = None
    followup: list[OutMessage] = field(default_factory=list)


@dataclass
class Reply:
    """What a handler decided. ``notices`` are short lines said before the prompt; :func:`_finish`
    merges them into the first message (or sends them alone when a reply keyboard must go)."""

    notices: list[str] = field(default_factory=list)
    messages: list[OutMessage] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    alert: Alert | None = None
    followup: list[OutMessage] = field(default_factory=list)


@dataclass(slots=True)
class Turn:
    """One event being handled. ``conv`` is the working copy handlers change; ``arg`` is the part
    of a button payload after its prefix (``cat:jalan`` -> ``jalan``) or a command's arguments."""

    conv: Conversation
    incoming: Incoming
    ctx: FlowContext
    arg: str = ""

    @property
    def event(self) -> Event:
        return self.incoming.event

    @property
    def draft(self) -> Draft:
        return self.conv.draft

    def t(self, key: str, **params: object) -> str:
        return self.ctx.t(self.conv.language, key, **params)


Handler = Callable[[Turn], Reply]


@dataclass(frozen=True, slots=True)
class Transition:
    """A cell of the transition table: who handles it and (for the diagram) where it can lead.
    An empty ``targets`` means the step stays the same."""

    handler: Handler
    targets: tuple[Step, ...] = ()


# --- small draft helpers --------------------------------------------------------------------------


def _category(draft: Draft, ctx: FlowContext) -> CategoryInfo | None:
    return ctx.category(draft.category)


def _photo_required(draft: Draft, ctx: FlowContext) -> bool:
    info = _category(draft, ctx)
    return bool(info and info.photo_required)


def next_step(draft: Draft, ctx: FlowContext) -> Step:
    """The first thing still missing from the draft, so input given early is never asked again."""
    if _category(draft, ctx) is None:
        return Step.CATEGORY
    if not draft.description:
        return Step.DESCRIPTION
    if not draft.photos and (not draft.photos_skipped or _photo_required(draft, ctx)):
        return Step.PHOTOS
    if not draft.has_location:
        return Step.LOCATION
    return Step.SUMMARY


def _has_draft(conv: Conversation) -> bool:
    """A draft is in progress (directly, or behind a "check status" detour)."""
    return conv.step in FILING_STEPS or (conv.step == Step.STATUS_NUMBER and conv.return_step in FILING_STEPS)


def _reset(conv: Conversation) -> None:
    """Back to the main menu with nothing in progress."""
    conv.step = Step.IDLE
    conv.draft = Draft()
    conv.return_step = None


def _leave_detour(conv: Conversation) -> None:
    """Leave the "which number?" question: back to the draft step it interrupted, or the menu."""
    back = conv.return_step if conv.return_step in FILING_STEPS else None
    conv.return_step = None
    if back is None:
        _reset(conv)
    else:
        conv.step = back


def _plain(text: str | None) -> str:
    """Typed text as the flow keeps it: cleaned (the channel adapters already did; cleaning is
    idempotent, so a NUL or a bidi override never reaches a draft whatever the adapter) and stripped."""
    return clean_text(text or "").strip()


def _too_short(text: str, minimum: int) -> bool:
    """Minimum lengths count what a person sees (:func:`handlers.text.visible_length`): a text of
    zero-width or bidi characters, or an emoji family, is not mistaken for ten characters."""
    return visible_length(text) < minimum


def _too_long(text: str, maximum: int) -> bool:
    """Maximum lengths count code points (``len``): a few visible characters loaded with combining
    marks must not make a summary or card longer than Telegram accepts."""
    return len(text) > maximum


def _description_fits(text: str, ctx: FlowContext) -> bool:
    limits = ctx.limits
    return not _too_short(text, limits.description_min) and not _too_long(text, limits.description_max)


def _store_photo(draft: Draft, photo: Photo, ctx: FlowContext) -> bool:
    """Add a photo; a fitting caption becomes the description if there is none yet.
    Returns True when the caption filled the description."""
    draft.photos.append(photo.media)
    draft.photos_skipped = False
    caption = _plain(photo.caption)
    if not draft.description and caption and _description_fits(caption, ctx):
        draft.description = caption
        return True
    return False


def _valid_pin(loc: Location) -> bool:
    lat, lon = loc.latitude, loc.longitude
    return (
        isinstance(lat, int | float)
        and isinstance(lon, int | float)
        and math.isfinite(lat)
        and math.isfinite(lon)
        and -90 <= lat <= 90
        and -180 <= lon <= 180
    )


def _outside(loc: Location) -> bool:
    """The city's boundaries say the pin is not in the area served (unknown counts as inside)."""
    return loc.place is not None and loc.place.inside is False


def _store_pin(draft: Draft, loc: Location, ctx: FlowContext) -> None:
    """A pin replaces any earlier location; the place name that came with it (if any) is kept, and
    what the service found out about it (district, street) replaces the earlier pin's."""
    draft.latitude = float(loc.latitude)
    draft.longitude = float(loc.longitude)
    address = _plain(loc.address)
    draft.address = truncate(address, ctx.limits.address_max) if address else None
    place = loc.place
    draft.kecamatan = place.kecamatan if place else None
    draft.kelurahan = place.kelurahan if place else None
    draft.place = place.display if place and place.display else _district_line(draft, ctx)


def _district_line(draft: Draft, ctx: FlowContext) -> str | None:
    """"Kel. X, Kec. Y" from the boundaries alone, for when the geocoder did not answer."""
    parts = []
    if draft.kelurahan:
        parts.append(f"Kel. {draft.kelurahan}")
    if draft.kecamatan:
        parts.append(f"Kec. {draft.kecamatan}")
    return ", ".join(parts) or None


def _refuse_outside(turn: Turn) -> Reply:
    """A pin outside the area served: say which area is served; the draft keeps its earlier location."""
    return _reprompt(turn, turn.t("location.outside", city=esc(turn.ctx.city_name)))


def normalise_number(text: str) -> str:
    """``" jmb-2026- 000042 "`` or ``"jmb 2026 000042"`` -> ``"JMB-2026-000042"``: people type
    numbers loosely (spaces around dashes, or spaces instead of dashes)."""
    cleaned = re.sub(r"\s*-\s*", "-", clean_text(text or "").strip().lstrip("#").strip())
    return re.sub(r"\s+", "-", cleaned).upper()


def _valid_number(number: str) -> bool:
    return bool(_NUMBER_RE.fullmatch(number))


def _fmt_mb(size: int, language: str, ctx: FlowContext) -> str:
    mb = max(size, 0) / (1024 * 1024)
    return str(int(mb)) if mb == int(mb) else format_decimal(mb, language, ctx)


# --- prompts: what each step asks (also used to re-prompt) ----------------------------------------


def _category_rows(language: str, ctx: FlowContext) -> Rows:
    buttons = [Button(f"{c.emoji} {c.label(language)}", f"{CAT_PREFIX}{c.key}") for c in ctx.categories]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def _continue_rows(language: str, ctx: FlowContext) -> Rows:
    return (
        (
            Button(ctx.t(language, "draft.continue"), DRAFT_CONTINUE),
            Button(ctx.t(language, "draft.cancel"), DRAFT_CANCEL),
        ),
    )


def _prompt_idle(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    return [OutMessage(ctx.t(conv.language, "menu.text"), buttons=menu_rows(conv.language, ctx))]


def _prompt_category(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    return [OutMessage(ctx.t(lang, "filing.ask_category"), buttons=_category_rows(lang, ctx))]


def _prompt_description(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    limits = ctx.limits
    text = ctx.t(conv.language, "filing.ask_description", min=limits.description_min, max=limits.description_max)
    return [OutMessage(text)]


def _prompt_photos(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, draft, most = conv.language, conv.draft, ctx.limits.photos_max
    done = (Button(ctx.t(lang, "button.photo_done"), PHOTO_DONE),)
    if draft.photos:
        return [OutMessage(ctx.t(lang, "filing.photos_have", n=len(draft.photos), max=most), buttons=(done,))]
    if draft.editing == "photos":
        return [OutMessage(ctx.t(lang, "filing.ask_photos_replace", max=most), buttons=(done,))]
    if _photo_required(draft, ctx):
        return [OutMessage(ctx.t(lang, "filing.ask_photos_required", max=most))]
    skip = (Button(ctx.t(lang, "button.photo_skip"), PHOTO_SKIP),)
    return [OutMessage(ctx.t(lang, "filing.ask_photos_optional", max=most), buttons=(skip,))]


def _prompt_location(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, limits = conv.language, ctx.limits
    text = ctx.t(lang, "filing.ask_location", min=limits.address_min, max=limits.address_max)
    keyboard = ((KeyboardButton(ctx.t(lang, "button.send_location"), request_location=True),),)
    return [OutMessage(text, keyboard=keyboard)]


def _location_lines(draft: Draft, language: str, ctx: FlowContext) -> list[str]:
    lines = []
    if draft.place:
        lines.append(ctx.t(language, "summary.place", place=esc(draft.place)))
    if draft.latitude is not None and draft.longitude is not None:
        lines.append(ctx.t(language, "summary.pin", lat=f"{draft.latitude:.5f}", lon=f"{draft.longitude:.5f}"))
    if draft.address:
        lines.append(ctx.t(language, "summary.address", address=esc(draft.address)))
    return lines or [ctx.t(language, "summary.no_location")]


def _prompt_summary(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, draft = conv.language, conv.draft
    photos = (
        ctx.t(lang, "summary.photos", count=len(draft.photos)) if draft.photos else ctx.t(lang, "summary.no_photos")
    )
    lines = [
        ctx.t(lang, "summary.title"),
        "",
        ctx.t(lang, "summary.category", category=esc(category_display(draft.category, lang, ctx))),
        ctx.t(lang, "summary.description", description=esc(draft.description or "")),
        photos,
        *_location_lines(draft, lang, ctx),
        ctx.t(lang, "summary.name_shared" if draft.share_name else "summary.name_hidden"),
        "",
        ctx.t(lang, "summary.question"),
    ]
    buttons = (
        (Button(ctx.t(lang, "button.send"), SUM_SEND),),
        (Button(ctx.t(lang, "button.edit"), SUM_EDIT), Button(ctx.t(lang, "button.cancel"), SUM_CANCEL)),
        (Button(ctx.t(lang, "button.hide_name" if draft.share_name else "button.share_name"), SUM_NAME),),
    )
    return [OutMessage("\n".join(lines), buttons=buttons)]


def _prompt_edit_menu(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    buttons = (
        (Button(ctx.t(lang, "edit.category"), EDIT_CATEGORY), Button(ctx.t(lang, "edit.description"), EDIT_DESCRIPTION)),
        (Button(ctx.t(lang, "edit.photos"), EDIT_PHOTOS), Button(ctx.t(lang, "edit.location"), EDIT_LOCATION)),
        (Button(ctx.t(lang, "edit.back"), EDIT_BACK),),
    )
    return [OutMessage(ctx.t(lang, "edit.ask"), buttons=buttons)]


def _prompt_duplicates(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    # "a different problem, send it" first: on WhatsApp a citizen who typed "1" (send) at the summary and
    # types "1" again must not end up following someone else's complaint instead of filing their own
    rows = [(Button(ctx.t(lang, "dup.different"), DUP_NEW),)]
    rows += [(Button(ctx.t(lang, "dup.same", number=number), f"{DUP_PREFIX}{number}"),)
             for number in conv.draft.nearby_offered]
    rows.append((Button(ctx.t(lang, "dup.back"), DUP_BACK),))
    return [OutMessage(ctx.t(lang, "dup.ask"), buttons=tuple(rows))]


def _prompt_address_pick(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, draft = conv.language, conv.draft
    rows: list[tuple[Button, ...]] = []
    for index, raw in enumerate(draft.address_matches[:3]):
        try:
            match = AddressMatch.from_dict(raw)
        except (KeyError, TypeError, ValueError):
            continue
        label = match.place.display or f"{match.latitude:.5f}, {match.longitude:.5f}"
        rows.append((Button(truncate(f"📍 {label}", 60), f"{ADDR_PREFIX}{index}"),))
    rows.append((Button(ctx.t(lang, "addr.as_typed"), ADDR_TYPED),))
    rows.append((Button(ctx.t(lang, "addr.pin_instead"), ADDR_PIN),))
    text = ctx.t(lang, "addr.ask", address=esc(draft.address or ""))
    return [OutMessage(text, buttons=tuple(rows))]


def _example_number(language: str, ctx: FlowContext) -> str:
    return ctx.t(language, "status.example_number", prefix=esc(ctx.tracking_prefix))


def _prompt_status_number(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    return [OutMessage(ctx.t(lang, "status.ask_number", example=_example_number(lang, ctx)))]


PROMPTS: dict[Step, Callable[[Conversation, FlowContext], list[OutMessage]]] = {
    Step.IDLE: _prompt_idle,
    Step.CATEGORY: _prompt_category,
    Step.DESCRIPTION: _prompt_description,
    Step.PHOTOS: _prompt_photos,
    Step.LOCATION: _prompt_location,
    Step.SUMMARY: _prompt_summary,
    Step.EDIT_MENU: _prompt_edit_menu,
    Step.STATUS_NUMBER: _prompt_status_number,
    Step.DUPLICATES: _prompt_duplicates,
    Step.ADDRESS_PICK: _prompt_address_pick,
}


def prompt(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    """What the current step asks for, in the conversation's language."""
    return PROMPTS[conv.step](conv, ctx)


def _reprompt(turn: Turn, *notices: str) -> Reply:
    return Reply(notices=list(notices), messages=prompt(turn.conv, turn.ctx))


def _advance(turn: Turn, *notices: str) -> Reply:
    """A field was provided: go to whatever is still missing (the summary when editing)."""
    draft = turn.draft
    draft.editing = None
    turn.conv.step = next_step(draft, turn.ctx)
    if turn.conv.step != Step.PHOTOS:
        draft.previous_photos = []
    return _reprompt(turn, *notices)


def _stale(turn: Turn) -> Reply:
    """A button from an old message: a toast, plus what is expected now."""
    reply = _reprompt(turn, turn.t("stale.notice"))
    reply.alert = Alert(turn.t("stale.alert"))
    return reply


def _back_to_draft(turn: Turn) -> list[OutMessage]:
    """After a detour (status, list) in the middle of filing: re-ask the draft's step, last in chat."""
    if turn.conv.step not in FILING_STEPS:
        return []
    messages = prompt(turn.conv, turn.ctx)
    first = messages[0]
    return [replace(first, text=f"{turn.t('draft.back_to_draft')}\n\n{first.text}"), *messages[1:]]


# --- global commands and buttons (valid at any step) ----------------------------------------------


def on_start(turn: Turn) -> Reply:
    """Greeting with the menu and the language buttons; mentions (and keeps) a draft in progress."""
    conv, ctx = turn.conv, turn.ctx
    if conv.step == Step.STATUS_NUMBER:
        _leave_detour(conv)
    name = _plain(turn.incoming.display_name)
    hello = turn.t("start.hello_named", name=esc(truncate(name, 40))) if name else turn.t("start.hello")
    lines = [hello, turn.t("start.intro", city=esc(ctx.city_name))]
    hint = (turn.incoming.language_hint or "").lower()
    if not conv.language_chosen and conv.language != "en" and hint.startswith("en"):
        lines.append(ctx.t("en", "start.english_hint"))
    if conv.step in FILING_STEPS:
        lines.append(turn.t("start.draft_pending"))
        row = (Button(turn.t("draft.continue"), DRAFT_CONTINUE), Button(turn.t("draft.start_over"), MENU_NEW))
        buttons: Rows = (row, language_row(ctx))
    else:
        _reset(conv)
        lines.append(turn.t("menu.text"))
        buttons = (*menu_rows(conv.language, ctx), language_row(ctx))
    return Reply(messages=[OutMessage("\n\n".join(lines), buttons=buttons)])


def on_help(turn: Turn) -> Reply:
    """How filing works and which commands exist, then the current question again."""
    text = turn.t("help.text", photos_max=turn.ctx.limits.photos_max, commands=turn.t("commands.list"))
    return _reprompt(turn, text)


def on_cancel(turn: Turn) -> Reply:
    """Discard the draft (the only command that does). In the "which number?" detour it only
    cancels the detour and goes back to the draft."""
    conv = turn.conv
    if conv.step == Step.STATUS_NUMBER:
        _leave_detour(conv)
        return _reprompt(turn, turn.t("cancel.status_check"))
    if conv.step in FILING_STEPS:
        _reset(conv)
        return _reprompt(turn, turn.t("cancel.done"))
    _reset(conv)
    return _reprompt(turn, turn.t("cancel.nothing"))


def on_ask_status_number(turn: Turn) -> Reply:
    """Ask for the tracking number, remembering the draft step to come back to."""
    conv = turn.conv
    if conv.step != Step.STATUS_NUMBER:
        conv.return_step = conv.step if conv.step in FILING_STEPS else None
        conv.step = Step.STATUS_NUMBER
    return _reprompt(turn)


def _show_status(turn: Turn, number: str) -> Reply:
    """Ask the service for the status; the draft (if any) is re-asked after the answer."""
    if turn.conv.step == Step.STATUS_NUMBER:
        _leave_detour(turn.conv)
    return Reply(effects=[ShowStatus(number)], followup=_back_to_draft(turn))


def _bad_number(turn: Turn, raw: str) -> Reply:
    text = turn.t(
        "status.bad_number",
        text=esc(truncate(_plain(raw), 40)),
        example=_example_number(turn.conv.language, turn.ctx),
    )
    return Reply(messages=[OutMessage(text)])


def on_status_command(turn: Turn) -> Reply:
    """``/status JMB-...`` shows it at once; ``/status`` alone asks for the number."""
    if not turn.arg.strip():
        return on_ask_status_number(turn)
    number = normalise_number(turn.arg)
    if not _valid_number(number):
        on_ask_status_number(turn)  # wait in the "which number?" step for a better one
        return _bad_number(turn, turn.arg)
    return _show_status(turn, number)


def on_show_button(turn: Turn) -> Reply:
    """A complaint button under "my complaints"."""
    number = normalise_number(turn.arg)
    return _show_status(turn, number) if _valid_number(number) else _stale(turn)


def on_list(turn: Turn) -> Reply:
    """The citizen's own complaints (rendered by the service); any draft is kept."""
    if turn.conv.step == Step.STATUS_NUMBER:
        _leave_detour(turn.conv)
    return Reply(effects=[ListComplaints()], followup=_back_to_draft(turn))


def on_language_menu(turn: Turn) -> Reply:
    rows = (language_row(turn.ctx),)
    return Reply(messages=[OutMessage(turn.t("lang.choose"), buttons=rows)])


def on_language(turn: Turn) -> Reply:
    """Switch language, confirm and re-ask the current step, all in the new language."""
    code = turn.arg.strip().lower()
    if code not in turn.ctx.languages:
        return _stale(turn)
    turn.conv.language = code
    turn.conv.language_chosen = True
    return _reprompt(turn, turn.t("lang.changed"))


def on_new(turn: Turn) -> Reply:
    """Start a new complaint (from scratch: "start over" discards a draft in progress)."""
    conv = turn.conv
    notices = [turn.t("draft.restarted")] if _has_draft(conv) and conv.draft != Draft() else []
    conv.draft = Draft()
    conv.return_step = None
    conv.step = Step.CATEGORY
    return _reprompt(turn, *notices)


def on_continue(turn: Turn) -> Reply:
    """"Continue" (from /start or a reminder): re-ask the draft's current step."""
    conv = turn.conv
    if conv.step == Step.STATUS_NUMBER and conv.return_step in FILING_STEPS:
        _leave_detour(conv)
    if conv.step in FILING_STEPS:
        return _reprompt(turn)
    return _stale(turn)


def on_unknown_command(turn: Turn) -> Reply:
    command = turn.event.name if isinstance(turn.event, Command) else ""
    unknown = turn.t("command.unknown", command=esc(truncate("/" + clean_text(command or ""), 40)))
    return _reprompt(turn, unknown, turn.t("commands.list"))


# --- filing handlers ------------------------------------------------------------------------------


def on_idle_text(turn: Turn) -> Reply:
    return _reprompt(turn, turn.t("idle.hint", city=esc(turn.ctx.city_name)))


def on_idle_photo(turn: Turn) -> Reply:
    """A photo with no draft starts one with it, then asks what is missing (the category)."""
    assert isinstance(turn.event, Photo)
    turn.conv.draft = Draft()
    _store_photo(turn.draft, turn.event, turn.ctx)
    return _advance(turn, turn.t("filing.photo_kept"))


def on_idle_location(turn: Turn) -> Reply:
    assert isinstance(turn.event, Location)
    if not _valid_pin(turn.event):
        return on_unexpected(turn)
    if _outside(turn.event):
        return _refuse_outside(turn)
    turn.conv.draft = Draft()
    _store_pin(turn.draft, turn.event, turn.ctx)
    return _advance(turn, turn.t("filing.location_kept"))


def _choose_category(turn: Turn, info: CategoryInfo) -> Reply:
    turn.draft.category = info.key
    chosen = turn.t("filing.category_chosen", category=esc(f"{info.emoji} {info.label(turn.conv.language)}"))
    return _advance(turn, chosen)


def on_category_button(turn: Turn) -> Reply:
    info = turn.ctx.category(turn.arg)
    return _choose_category(turn, info) if info else _stale(turn)


def _match_category(text: str, ctx: FlowContext) -> CategoryInfo | None:
    """Typed category: its key, a label in any language (emoji optional) or its number in the list."""
    wanted = _plain(text).casefold()
    number = parse_int(wanted, 1, len(ctx.categories))  # ASCII digits only: "²".isdigit() is True
    if number is not None:
        return ctx.categories[number - 1]
    for info in ctx.categories:
        names = {info.key.casefold()}
        for label in info.labels.values():
            names |= {label.casefold(), f"{info.emoji} {label}".casefold()}
        if wanted in names:
            return info
    return None


def on_category_text(turn: Turn) -> Reply:
    assert isinstance(turn.event, Text)
    info = _match_category(turn.event.text, turn.ctx)
    return _choose_category(turn, info) if info else on_unexpected(turn)


def on_description_text(turn: Turn) -> Reply:
    """Keep the description if it is within bounds; otherwise say the bounds and the count."""
    assert isinstance(turn.event, Text)
    text = _plain(turn.event.text)
    limits = turn.ctx.limits
    if _too_short(text, limits.description_min):
        key, bound, count = "filing.description_too_short", limits.description_min, visible_length(text)
    elif _too_long(text, limits.description_max):
        key, bound, count = "filing.description_too_long", limits.description_max, len(text)
    else:
        turn.draft.description = text
        return _advance(turn, turn.t("filing.description_saved"))
    return Reply(messages=[OutMessage(turn.t(key, count=count, bound=bound))])


def on_keep_photo(turn: Turn) -> Reply:
    """A photo before (or after) it was asked for: keep it, say so, carry on with the current step."""
    assert isinstance(turn.event, Photo)
    most = turn.ctx.limits.photos_max
    if len(turn.draft.photos) >= most:
        return _reprompt(turn, turn.t("filing.photos_full", max=most))
    filled = _store_photo(turn.draft, turn.event, turn.ctx)
    if filled and turn.conv.step == Step.DESCRIPTION:
        return _advance(turn, turn.t("filing.photo_kept"), turn.t("filing.caption_used"))
    notices = [turn.t("filing.photo_kept")]
    if filled:
        notices.append(turn.t("filing.caption_used"))
    return _reprompt(turn, *notices)


def on_keep_location(turn: Turn) -> Reply:
    """A map pin before the location step: keep it (the location step will then be skipped)."""
    assert isinstance(turn.event, Location)
    if not _valid_pin(turn.event):
        return on_unexpected(turn)
    if _outside(turn.event):
        return _refuse_outside(turn)
    _store_pin(turn.draft, turn.event, turn.ctx)
    return _reprompt(turn, turn.t("filing.location_kept"))


def on_photo(turn: Turn) -> Reply:
    """In the photo step: count it; at the maximum move on by itself."""
    assert isinstance(turn.event, Photo)
    draft, most = turn.draft, turn.ctx.limits.photos_max
    if len(draft.photos) >= most:
        return _advance(turn, turn.t("filing.photos_full", max=most))
    _store_photo(draft, turn.event, turn.ctx)
    count = len(draft.photos)
    received = turn.t("filing.photo_received", n=count, max=most)
    if count >= most:
        return _advance(turn, received)
    done = ((Button(turn.t("button.photo_done"), PHOTO_DONE),),)
    return Reply(messages=[OutMessage(f"{received}\n{turn.t('filing.photo_more')}", buttons=done)])


def on_photos_done(turn: Turn) -> Reply:
    """"Done": move on with the photos we have (when replacing photos and none came, keep the old)."""
    draft = turn.draft
    if not draft.photos and draft.previous_photos:
        draft.photos, draft.previous_photos = list(draft.previous_photos), []
        return _advance(turn, turn.t("filing.photos_unchanged"))
    if not draft.photos:
        if _photo_required(draft, turn.ctx):
            return _reprompt(turn, turn.t("filing.photo_required"))
        draft.photos_skipped = True
    return _advance(turn)


def on_photos_skip(turn: Turn) -> Reply:
    """"Skip": only for categories where a photo is optional; with photos already, same as done."""
    draft = turn.draft
    if draft.photos:
        return _advance(turn)
    if _photo_required(draft, turn.ctx):
        return _reprompt(turn, turn.t("filing.photo_required"))
    draft.photos_skipped = True
    draft.previous_photos = []
    return _advance(turn, turn.t("filing.photos_skipped"))


def _keywords(turn: Turn, key: str) -> set[str]:
    """Words typed instead of pressing a button, in every language (handy on WhatsApp)."""
    words: set[str] = set()
    for language in turn.ctx.languages:
        words |= {w.strip().casefold() for w in turn.ctx.t(language, key).split(",") if w.strip()}
    return words


def on_photos_text(turn: Turn) -> Reply:
    assert isinstance(turn.event, Text)
    typed = _plain(turn.event.text).strip(".!").casefold()
    if typed in _keywords(turn, "keywords.done"):
        return on_photos_done(turn)
    if typed in _keywords(turn, "keywords.skip"):
        return on_photos_skip(turn)
    return on_unexpected(turn)


def on_location_pin(turn: Turn) -> Reply:
    assert isinstance(turn.event, Location)
    if not _valid_pin(turn.event):
        return on_unexpected(turn)
    if _outside(turn.event):
        return _refuse_outside(turn)
    _store_pin(turn.draft, turn.event, turn.ctx)
    return _advance(turn, turn.t("filing.location_received"))


def on_location_text(turn: Turn) -> Reply:
    """A typed address instead of a pin (it replaces an earlier pin)."""
    assert isinstance(turn.event, Text)
    text = _plain(turn.event.text)
    limits = turn.ctx.limits
    short = _too_short(text, limits.address_min)
    if short or _too_long(text, limits.address_max):
        count = visible_length(text) if short else len(text)
        message = turn.t("filing.address_bounds", count=count, min=limits.address_min, max=limits.address_max)
        return Reply(messages=[OutMessage(message)])
    draft = turn.draft
    draft.address, draft.latitude, draft.longitude = text, None, None
    draft.kecamatan = draft.kelurahan = draft.place = None
    matches = turn.incoming.matches[:3]
    if matches:
        draft.address_matches = [m.to_dict() for m in matches]
        turn.conv.step = Step.ADDRESS_PICK
        return _reprompt(turn)
    return _advance(turn, turn.t("filing.address_received"))


def _finished_draft(turn: Turn) -> Draft:
    submitted = copy.deepcopy(turn.draft)
    submitted.editing = None
    submitted.previous_photos = []
    submitted.nearby_offered = []
    _reset(turn.conv)
    return submitted


def on_address_match(turn: Turn) -> Reply:
    """"Yes, this place": the typed address gets the candidate's pin and district."""
    draft = turn.draft
    index = parse_int(turn.arg, 0, len(draft.address_matches) - 1)  # "addr:-1" is not the last one
    if index is None:
        return _stale(turn)
    try:
        match = AddressMatch.from_dict(draft.address_matches[index])
    except (ValueError, IndexError, KeyError, TypeError):
        return _stale(turn)
    typed = draft.address
    _store_pin(draft, Location(match.latitude, match.longitude, place=match.place), turn.ctx)
    draft.address = typed
    draft.address_matches = []
    return _advance(turn, turn.t("filing.location_received"))


def on_address_as_typed(turn: Turn) -> Reply:
    turn.draft.address_matches = []
    return _advance(turn, turn.t("filing.address_received"))


def on_address_pin_instead(turn: Turn) -> Reply:
    turn.draft.address_matches = []
    turn.draft.address = None
    turn.conv.step = Step.LOCATION
    return _reprompt(turn)


def on_send(turn: Turn) -> Reply:
    """File the draft: one SubmitDraft, the conversation back to the menu (the service confirms).
    With open complaints of the same kind close by, first ask whether it is one of those."""
    if next_step(turn.draft, turn.ctx) != Step.SUMMARY:
        return _advance(turn)
    nearby = turn.incoming.nearby[:3]
    if nearby and not turn.draft.nearby_offered:
        return _offer_nearby(turn, nearby)
    return Reply(effects=[SubmitDraft(_finished_draft(turn))])


def _offer_nearby(turn: Turn, nearby: tuple[Nearby, ...]) -> Reply:
    """Short cards of the nearby complaints (photo, number, status, distance, description), then one
    menu: the same as one of them, or a different problem."""
    lang, ctx = turn.conv.language, turn.ctx
    turn.draft.nearby_offered = [n.number for n in nearby]
    turn.conv.step = Step.DUPLICATES
    cards = [
        OutMessage(
            ctx.t(
                lang,
                "dup.card",
                number=esc(n.number),
                status=status_label(n.status, lang, ctx),
                distance=round(n.distance_m),
                description=esc(truncate(n.description, 160)),
            ),
            photos=(n.photo,) if n.photo else (),
        )
        for n in nearby
    ]
    intro = OutMessage(ctx.t(lang, "dup.intro", count=len(nearby)))
    return Reply(messages=[intro, *cards, *_prompt_duplicates(turn.conv, ctx)])


def on_same_problem(turn: Turn) -> Reply:
    """"Same as JMB-...": follow that complaint instead of filing a new one."""
    number = turn.arg
    if number not in turn.draft.nearby_offered:
        return _stale(turn)
    return Reply(effects=[FollowComplaint(number, _finished_draft(turn))])


def on_different_problem(turn: Turn) -> Reply:
    return Reply(effects=[SubmitDraft(_finished_draft(turn))])


def on_back_to_summary(turn: Turn) -> Reply:
    turn.draft.nearby_offered = []
    turn.conv.step = Step.SUMMARY
    return _reprompt(turn)


def on_edit(turn: Turn) -> Reply:
    turn.conv.step = Step.EDIT_MENU
    return _reprompt(turn)


def on_edit_field(turn: Turn) -> Reply:
    """Go to the chosen field's step; after it is given, :func:`_advance` returns to the summary."""
    target = EDIT_TARGETS.get(turn.arg)
    if target is None:
        return _stale(turn)
    draft = turn.draft
    draft.editing = turn.arg
    if target == Step.PHOTOS:
        draft.previous_photos, draft.photos = list(draft.photos), []
        draft.photos_skipped = False
    turn.conv.step = target
    return _reprompt(turn)


def on_edit_back(turn: Turn) -> Reply:
    turn.conv.step = Step.SUMMARY
    return _reprompt(turn)


def on_toggle_name(turn: Turn) -> Reply:
    """Consent to show the citizen's name to agency staff; off by default, asked on the summary."""
    turn.conv.draft.share_name = not turn.conv.draft.share_name
    return _reprompt(turn)


def on_status_number_text(turn: Turn) -> Reply:
    assert isinstance(turn.event, Text)
    number = normalise_number(turn.event.text)
    return _show_status(turn, number) if _valid_number(number) else _bad_number(turn, turn.event.text)


# --- unexpected input -----------------------------------------------------------------------------


def _unexpected_notice(turn: Turn) -> str:
    """Kind-specific words for input the current step cannot use."""
    event, lang = turn.event, turn.conv.language
    if isinstance(event, Unsupported):
        key = f"unexpected.{event.kind}"
        return turn.t(key) if turn.ctx.catalog.has(lang, key) else turn.t("unexpected.other")
    if isinstance(event, TooLarge):
        size, most = _fmt_mb(event.size, lang, turn.ctx), _fmt_mb(event.max_bytes, lang, turn.ctx)
        return turn.t("unexpected.too_large", size=size, max=most)
    if isinstance(event, Text):
        return turn.t("unexpected.text_photos" if turn.conv.step == Step.PHOTOS else "unexpected.use_buttons")
    if isinstance(event, Photo):
        return turn.t("unexpected.photo_now")
    if isinstance(event, Location):
        return turn.t("unexpected.location_now" if _valid_pin(event) else "unexpected.bad_location")
    return turn.t("unexpected.other")


def on_unexpected(turn: Turn) -> Reply:
    """Anything the step cannot use: say so briefly and re-ask; the draft is untouched."""
    if isinstance(turn.event, ButtonPress):
        return _stale(turn)
    return _reprompt(turn, _unexpected_notice(turn))


# --- the tables -----------------------------------------------------------------------------------

_STAY = Transition(on_unexpected)
_TO_FILL = (Step.DESCRIPTION, Step.PHOTOS, Step.LOCATION, Step.SUMMARY)

#: commands valid at every step (aliases in Indonesian and English)
GLOBAL_COMMANDS: dict[str, Transition] = {
    "start": Transition(on_start, (Step.IDLE,)),
    "menu": Transition(on_start, (Step.IDLE,)),
    "help": Transition(on_help),
    "bantuan": Transition(on_help),
    "cancel": Transition(on_cancel, (Step.IDLE,)),
    "batal": Transition(on_cancel, (Step.IDLE,)),
    "status": Transition(on_status_command, (Step.STATUS_NUMBER,)),
    "laporan": Transition(on_list),
    "mine": Transition(on_list),
    "bahasa": Transition(on_language_menu),
    "language": Transition(on_language_menu),
    "baru": Transition(on_new, (Step.CATEGORY,)),
    "new": Transition(on_new, (Step.CATEGORY,)),
}

#: buttons valid at every step; ``prefix:*`` matches any argument
GLOBAL_BUTTONS: dict[str, Transition] = {
    f"{LANG_PREFIX}*": Transition(on_language),
    MENU_NEW: Transition(on_new, (Step.CATEGORY,)),
    MENU_STATUS: Transition(on_ask_status_number, (Step.STATUS_NUMBER,)),
    MENU_MINE: Transition(on_list),
    MENU_HELP: Transition(on_help),
    DRAFT_CONTINUE: Transition(on_continue),
    DRAFT_CANCEL: Transition(on_cancel, (Step.IDLE,)),
    f"{SHOW_PREFIX}*": Transition(on_show_button),
}

_KEEP_PHOTO = Transition(on_keep_photo)
_KEEP_PIN = Transition(on_keep_location)

#: (step, trigger) -> transition. A trigger is an event kind (``text``, ``photo``, ``location``,
#: ``too_large``, ``unsupported``) or a button payload (``sum:send``; ``cat:*`` for any argument).
#: Whatever is not listed gets :func:`on_unexpected` (a stale button also gets a toast).
FLOW: dict[tuple[Step, str], Transition] = {
    (Step.IDLE, "text"): Transition(on_idle_text),
    (Step.IDLE, "photo"): Transition(on_idle_photo, (Step.CATEGORY,)),
    (Step.IDLE, "location"): Transition(on_idle_location, (Step.CATEGORY,)),
    (Step.CATEGORY, f"{CAT_PREFIX}*"): Transition(on_category_button, _TO_FILL),
    (Step.CATEGORY, "text"): Transition(on_category_text, _TO_FILL),
    (Step.CATEGORY, "photo"): _KEEP_PHOTO,
    (Step.CATEGORY, "location"): _KEEP_PIN,
    (Step.DESCRIPTION, "text"): Transition(on_description_text, _TO_FILL[1:]),
    (Step.DESCRIPTION, "photo"): Transition(on_keep_photo, _TO_FILL[1:]),
    (Step.DESCRIPTION, "location"): _KEEP_PIN,
    (Step.PHOTOS, "photo"): Transition(on_photo, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, PHOTO_DONE): Transition(on_photos_done, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, PHOTO_SKIP): Transition(on_photos_skip, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, "text"): Transition(on_photos_text, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, "location"): _KEEP_PIN,
    (Step.LOCATION, "location"): Transition(on_location_pin, (Step.SUMMARY,)),
    (Step.LOCATION, "text"): Transition(on_location_text, (Step.SUMMARY, Step.ADDRESS_PICK)),
    (Step.LOCATION, "photo"): _KEEP_PHOTO,
    (Step.SUMMARY, SUM_SEND): Transition(on_send, (Step.IDLE, Step.DUPLICATES)),
    (Step.SUMMARY, SUM_EDIT): Transition(on_edit, (Step.EDIT_MENU,)),
    (Step.SUMMARY, SUM_CANCEL): Transition(on_cancel, (Step.IDLE,)),
    (Step.SUMMARY, SUM_NAME): Transition(on_toggle_name),
    (Step.SUMMARY, "photo"): _KEEP_PHOTO,
    (Step.SUMMARY, "location"): _KEEP_PIN,
    (Step.EDIT_MENU, EDIT_CATEGORY): Transition(on_edit_field, (Step.CATEGORY,)),
    (Step.EDIT_MENU, EDIT_DESCRIPTION): Transition(on_edit_field, (Step.DESCRIPTION,)),
    (Step.EDIT_MENU, EDIT_PHOTOS): Transition(on_edit_field, (Step.PHOTOS,)),
    (Step.EDIT_MENU, EDIT_LOCATION): Transition(on_edit_field, (Step.LOCATION,)),
    (Step.EDIT_MENU, EDIT_BACK): Transition(on_edit_back, (Step.SUMMARY,)),
    (Step.EDIT_MENU, "photo"): _KEEP_PHOTO,
    (Step.EDIT_MENU, "location"): _KEEP_PIN,
    (Step.STATUS_NUMBER, "text"): Transition(on_status_number_text, (Step.IDLE,)),
    (Step.DUPLICATES, DUP_NEW): Transition(on_different_problem, (Step.IDLE,)),
    (Step.DUPLICATES, DUP_BACK): Transition(on_back_to_summary, (Step.SUMMARY,)),
    (Step.DUPLICATES, f"{DUP_PREFIX}*"): Transition(on_same_problem, (Step.IDLE,)),
    (Step.DUPLICATES, "photo"): _KEEP_PHOTO,
    (Step.ADDRESS_PICK, ADDR_TYPED): Transition(on_address_as_typed, (Step.SUMMARY,)),
    (Step.ADDRESS_PICK, ADDR_PIN): Transition(on_address_pin_instead, (Step.LOCATION,)),
    (Step.ADDRESS_PICK, f"{ADDR_PREFIX}*"): Transition(on_address_match, (Step.SUMMARY,)),
    (Step.ADDRESS_PICK, "location"): Transition(on_location_pin, (Step.SUMMARY,)),
    (Step.ADDRESS_PICK, "text"): Transition(on_location_text, (Step.ADDRESS_PICK, Step.SUMMARY)),
    (Step.ADDRESS_PICK, "photo"): _KEEP_PHOTO,
}


# --- dispatch -------------------------------------------------------------------------------------

_EVENT_KINDS: dict[type, str] = {
    Text: "text",
    Photo: "photo",
    Location: "location",
    TooLarge: "too_large",
    Unsupported: "unsupported",
}


def _lookup_button(step: Step, payload: str) -> tuple[Transition | None, str]:
    """Exact payload first, then ``prefix:*``; global buttons before the step's own."""
    prefix, sep, rest = payload.partition(":")
    if not sep:
        return None, ""
    wildcard = f"{prefix}:*"
    for table_key, arg in ((payload, rest), (wildcard, rest)):
        if table_key in GLOBAL_BUTTONS:
            return GLOBAL_BUTTONS[table_key], arg
    for table_key, arg in ((payload, rest), (wildcard, rest)):
        if (step, table_key) in FLOW:
            return FLOW[(step, table_key)], arg
    return None, ""


def _command_name(command: Command) -> str:
    return (command.name or "").strip().lstrip("/").split("@")[0].lower()


def _route(conv: Conversation, event: Event) -> tuple[Transition, str]:
    """Which table cell handles this event, and its argument."""
    if isinstance(event, ButtonPress):
        transition, arg = _lookup_button(conv.step, event.payload or "")
        return transition or _STAY, arg
    if isinstance(event, Command):
        return GLOBAL_COMMANDS.get(_command_name(event), Transition(on_unknown_command)), event.args or ""
    kind = _EVENT_KINDS.get(type(event), "unknown")
    return FLOW.get((conv.step, kind), _STAY), ""


def _join(notices: list[str]) -> str:
    return "\n\n".join(n for n in notices if n)


def _assemble(reply: Reply, leaving_location: bool, language: str, ctx: FlowContext) -> list[OutMessage]:
    """Merge notices into the first message. When the location step is left, the reply keyboard
    must go: Telegram cannot remove it on a message with inline buttons, so the notices (or a short
    "OK") travel alone with ``remove_keyboard`` first."""
    messages = list(reply.messages)
    notice = _join(reply.notices)
    if leaving_location:
        if not notice and messages and not messages[0].buttons and not messages[0].keyboard:
            return [replace(messages[0], remove_keyboard=True), *messages[1:]]
        closer = notice or ctx.t(language, "common.ok")
        return [OutMessage(closer, remove_keyboard=True), *messages]
    if not notice:
        return messages
    if not messages:
        return [OutMessage(notice)]
    return [replace(messages[0], text=f"{notice}\n\n{messages[0].text}"), *messages[1:]]


def _finish(before: Step, conv: Conversation, reply: Reply, ctx: FlowContext) -> Outcome:
    """The outcome, with the menu it shows remembered so a typed answer can be resolved next time."""
    leaving = before == Step.LOCATION and conv.step != Step.LOCATION
    outcome = Outcome(
        conversation=conv,
        messages=_assemble(reply, leaving, conv.language, ctx),
        effects=list(reply.effects),
        alert=reply.alert,
        followup=list(reply.followup),
    )
    choices.remember(conv, [*outcome.messages, *outcome.followup])
    return outcome


def _failure(conv: Conversation, ctx: FlowContext) -> Outcome:
    """A bug must not leave the citizen without an answer or lose their draft."""
    try:
        kept = copy.deepcopy(conv)
    except Exception:
        kept = Conversation()
    try:
        text = ctx.t(kept.language, "error.generic")
    except Exception:
        text = "error.generic"
    return Outcome(conversation=kept, messages=[OutMessage(text)], effects=[])


def handle(conv: Conversation, incoming: Incoming, ctx: FlowContext) -> Outcome:
    """Handle one event. Never raises; never mutates ``conv`` (the outcome carries a new copy).

    A typed answer to the last menu ("2", "kirim", or "batal" where menus are numbered lists) is
    resolved first (:func:`handlers.choices.resolve`), so the tables only see button presses and
    commands. The outcome's conversation remembers the menu of ``messages`` + ``followup``; the
    service, which puts the effects' results between the two, must call
    :func:`handlers.choices.remember` again with the full list it sends. After a failure the old
    menu is kept: "please try again" invites the same answer.
    """
    try:
        work = copy.deepcopy(conv)
        before = work.step
        incoming = choices.resolve(work, incoming, commands=GLOBAL_COMMANDS.keys())
        transition, arg = _route(work, incoming.event)
        reply = transition.handler(Turn(work, incoming, ctx, arg))
        return _finish(before, work, reply, ctx)
    except Exception:
        return _failure(conv, ctx)


# --- idle drafts (called by the scheduler) --------------------------------------------------------


def reminder(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    """The one nudge for a draft left alone: continue or cancel. Nothing when there is no draft.

    Only the messages: a caller that sends them to a channel with typed menus must also remember
    their menu (:func:`remind` does both), or a typed "1" would still mean the previous menu's
    first item (at the summary: "send").
    """
    try:
        if not _has_draft(conv):
            return []
        lang = conv.language
        return [OutMessage(ctx.t(lang, "reminder.text"), buttons=_continue_rows(lang, ctx))]
    except Exception:
        return []


def remind(conv: Conversation, ctx: FlowContext) -> Outcome:
    """:func:`reminder` as an outcome like :func:`discard_idle`'s: the conversation (a new copy)
    remembers the reminder's continue/cancel menu, so "1"/"2" on WhatsApp mean what was shown.
    Save ``outcome.conversation`` without restarting the idle clock: it is our message, not the
    citizen's action. No messages (no draft) leaves the conversation as it was."""
    work = copy.deepcopy(conv)
    messages = reminder(work, ctx)
    choices.remember(work, messages)
    return Outcome(conversation=work, messages=messages, effects=[])


def discard_idle(conv: Conversation, ctx: FlowContext) -> Outcome:
    """Drop a draft nobody came back to, and tell the citizen (they can start again any time).
    The outcome's conversation remembers the main menu this shows, like :func:`handle`'s."""
    try:
        work = copy.deepcopy(conv)
        before = work.step
        if not _has_draft(work):
            return Outcome(conversation=work, messages=[], effects=[])
        _reset(work)
        reply = Reply(notices=[ctx.t(work.language, "reminder.discarded")], messages=prompt(work, ctx))
        return _finish(before, work, reply, ctx)
    except Exception:
        return _failure(conv, ctx)
