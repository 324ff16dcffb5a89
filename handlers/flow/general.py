"""Commands and buttons valid at every step (menu, help, cancel, status, language), and unexpected input."""

from __future__ import annotations

from handlers.effects import ListComplaints, ShowStatus
from handlers.events import (
    ButtonPress,
    Command,
    Location,
    Photo,
    Text,
    TooLarge,
    Unsupported,
)
from handlers.flow.drafting import (
    _fmt_mb,
    _leave_detour,
    _plain,
    _reset,
    _valid_number,
    _valid_pin,
    normalise_number,
)
from handlers.flow.payloads import (
    DRAFT_CONTINUE,
    NEW_PREFIX,
)
from handlers.flow.prompts import (
    _back_to_draft,
    _example_number,
    _reprompt,
    _stale,
)
from handlers.flow.restart import start_new
from handlers.flow.turn import (
    Reply,
    Turn,
)
from handlers.messages import Button, OutMessage
from handlers.state import FILING_STEPS, Step
from handlers.text import clean_text
from handlers.views import (
    Rows,
    esc,
    language_row,
    menu_rows,
    truncate,
)

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
        # this message is the "continue or start over?" question: its "start over" discards the draft
        row = (Button(turn.t("draft.continue"), DRAFT_CONTINUE), Button(turn.t("draft.start_over"), NEW_PREFIX))
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
    """"📝 Buat Pengaduan" or /baru: over a draft with progress, ask "continue or start over?"
    first; otherwise start, keeping what was sent early (see :mod:`handlers.flow.restart`)."""
    return start_new(turn)


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
