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
    _description_fits,
    _fmt_mb,
    _has_draft,
    _leave_detour,
    _plain,
    _reset,
    _valid_number,
    _valid_pin,
    normalise_number,
)
from handlers.flow.intents import Intent, category_in, match_category, recognise
from handlers.flow.payloads import (
    DRAFT_CONTINUE,
    NEW_PREFIX,
)
from handlers.flow.prompts import (
    _back_to_draft,
    _example_number,
    _reprompt,
    _stale,
    nav_rows,
)
from handlers.flow.restart import _start as start_with
from handlers.flow.restart import ask_new, has_progress, start_new
from handlers.flow.turn import (
    Reply,
    Turn,
)
from handlers.messages import Button, OutMessage
from handlers.state import FILING_STEPS, Draft, Step
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
    """Ask for the tracking number, remembering the draft step to come back to (and when it was
    asked: an unanswered question expires, see ``Limits.detour_expiry_s``)."""
    conv = turn.conv
    if conv.step != Step.STATUS_NUMBER:
        conv.return_step = conv.step if conv.step in FILING_STEPS else None
        conv.step = Step.STATUS_NUMBER
    received = turn.incoming.received_at
    conv.detour_since = received.isoformat() if received is not None else None
    return _reprompt(turn)


def _show_status(turn: Turn, number: str) -> Reply:
    """Ask the service for the status; the draft (if any) is re-asked after the answer."""
    if turn.conv.step == Step.STATUS_NUMBER:
        _leave_detour(turn.conv)
    return Reply(effects=[ShowStatus(number)], followup=_back_to_draft(turn))


def _bad_number_text(turn: Turn, raw: str) -> str:
    example = _example_number(turn.conv.language, turn.ctx)
    short = f"{esc(turn.ctx.tracking_prefix)}-2026-123"
    return turn.t("status.not_number", text=esc(truncate(_plain(raw), 40)), example=example, short=short)


def _bad_number(turn: Turn, raw: str) -> Reply:
    """Not a number: say so, with the way out (Batal / Menu) under it."""
    rows = nav_rows(turn.conv.language, turn.ctx, back=turn.conv.step == Step.STATUS_NUMBER)
    return Reply(messages=[OutMessage(_bad_number_text(turn, raw), buttons=rows)])


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
    """The answer to "which number?": a number, or anything else the citizen means (menu, cancel,
    a new complaint, a category); after ``misses_before_menu`` unusable answers, the menu."""
    assert isinstance(turn.event, Text)
    intent = recognise(turn.event.text, turn.ctx)
    if intent is not None:
        return on_intent(turn, intent)
    number = normalise_number(turn.event.text)
    if _valid_number(number):
        return _show_status(turn, number)
    return _missed(turn, _bad_number_text(turn, turn.event.text), reply=_bad_number(turn, turn.event.text))


def on_leave_waiting(turn: Turn) -> Reply:
    """"↩️ Batal" under the "which number?" question: back to the draft (or the menu), nothing lost."""
    if turn.conv.step != Step.STATUS_NUMBER:
        return _stale(turn)
    _leave_detour(turn.conv)
    return _reprompt(turn, turn.t("cancel.status_check"))


# --- what the citizen means, at any step ----------------------------------------------------------


#: intents that mean a command of :data:`handlers.flow.tables.GLOBAL_COMMANDS` (add a row, not an if)
COMMAND_INTENTS: dict[str, str] = {"mydata": "dataku", "privacy": "privasi", "erase": "hapusdata"}


def on_intent(turn: Turn, intent: Intent) -> Reply:
    """Do what a typed sentence means (see :mod:`handlers.flow.intents`), whatever the step."""
    kind = intent.kind
    if kind == "menu":
        return welcome(turn)  # the greeting with the menu, as /start; never twice for a first "menu"
    if kind == "help":
        return on_help(turn)
    if kind == "cancel":
        return on_cancel(turn)
    if kind == "mine":
        return on_list(turn)
    if kind == "language":
        return on_language_menu(turn)
    if kind in COMMAND_INTENTS:  # a typed sentence naming a command ("data saya" is /dataku)
        from handlers.flow.tables import GLOBAL_COMMANDS  # the tables import this module

        return GLOBAL_COMMANDS[COMMAND_INTENTS[kind]].handler(turn)
    if kind == "status":
        return _show_status(turn, intent.arg) if intent.arg else on_ask_status_number(turn)
    return _start_filing(turn, intent)


def _start_filing(turn: Turn, intent: Intent) -> Reply:
    """"mau lapor jalan rusak di depan pasar" or a category name: a new complaint, with the category
    and the description taken from the sentence when they are there. A draft with progress is never
    thrown away here: it gets the "Lanjutkan draf / Mulai baru" question of /baru
    (:func:`handlers.flow.restart.ask_new`); early input (a photo sent before) is carried along."""
    conv, ctx = turn.conv, turn.ctx
    rest = _plain(intent.arg) if intent.kind == "new" else ""
    info = ctx.category(intent.arg) if intent.kind == "category" else category_in(rest, ctx)
    if has_progress(turn):
        return ask_new(turn, info.key if info else "")
    if conv.step == Step.STATUS_NUMBER:
        _leave_detour(conv)
    if not _has_draft(conv):
        conv.draft = Draft()
        conv.step = Step.CATEGORY
    notices = []
    if rest and match_category(rest, ctx) is None and _description_fits(rest, ctx) and not conv.draft.description:
        conv.draft.description = rest
        notices.append(turn.t("filing.description_saved"))
    return start_with(turn, info, *notices)


def _missed(turn: Turn, notice: str, *, reply: Reply | None = None) -> Reply:
    """An answer the step cannot use. The first time: say so and ask again (``reply``, or the notice
    and the step's prompt). At ``Limits.misses_before_menu`` in a row: the menu, with the way back to
    the draft when there is one, so nobody loops on the same question (the "which number?" question
    is left then: the citizen evidently has no number at hand)."""
    conv = turn.conv
    conv.misses += 1
    if conv.misses < turn.ctx.limits.misses_before_menu:
        return reply if reply is not None else _reprompt(turn, notice)
    conv.misses = 0
    if conv.step == Step.STATUS_NUMBER:
        _leave_detour(conv)
    lang, ctx = conv.language, turn.ctx
    if conv.step in FILING_STEPS:
        back = (Button(turn.t("button.back_to_draft"), DRAFT_CONTINUE),)
        text, rows = turn.t("dead_end.offer_draft"), (back, *menu_rows(lang, ctx))
    else:
        _reset(conv)
        text, rows = turn.t("dead_end.offer"), menu_rows(lang, ctx)
    return Reply(notices=[notice], messages=[OutMessage(text, buttons=rows)])


def welcome_message(turn: Turn) -> OutMessage:
    """The greeting a citizen sees once, with the language choice: put before the answer to a first
    message that already did something (a photo or a pin starts a draft)."""
    ctx = turn.ctx
    name = _plain(turn.incoming.display_name)
    hello = turn.t("start.hello_named", name=esc(truncate(name, 40))) if name else turn.t("start.hello")
    lines = [hello, turn.t("start.intro", city=esc(ctx.city_name))]
    hint = (turn.incoming.language_hint or "").lower()
    if not turn.conv.language_chosen and turn.conv.language != "en" and hint.startswith("en"):
        lines.append(ctx.t("en", "start.english_hint"))
    return OutMessage("\n\n".join(lines), buttons=(language_row(ctx),))


def welcome(turn: Turn) -> Reply:
    """A first message of any kind ("halo", "P", a sticker) from someone never greeted: the welcome
    with the language choice and the menu, as /start gives it."""
    turn.conv.greeted = True
    return on_start(turn)


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
    """Anything the step cannot use: a sentence that means something else (menu, cancel, a new
    complaint...) is done; a first message gets the welcome; otherwise say so briefly and re-ask,
    and after two such answers in a row offer the menu. The draft is untouched."""
    event = turn.event
    if isinstance(event, ButtonPress):
        return _stale(turn)
    if isinstance(event, Text):
        intent = recognise(event.text, turn.ctx)
        if intent is not None:
            return on_intent(turn, intent)
    if turn.conv.step == Step.IDLE and not turn.conv.greeted:
        greeting = welcome(turn)
        if not isinstance(event, Text):  # a sticker, a file it could not fetch: say so too
            greeting.notices.insert(0, _unexpected_notice(turn))
        return greeting
    return _missed(turn, _unexpected_notice(turn))
