"""Starting a complaint without losing one: "Buat Pengaduan", /baru, "Mulai baru" and old buttons.

Why a module of its own: these are the only ways a draft could be thrown away by accident, so the
rules live together:

* a draft with real progress (a category was chosen) is discarded only by a confirmed "Mulai baru"
  (``new:``), never by "📝 Buat Pengaduan" or /baru alone: those ask "continue or start over?";
* what was sent before the filing started (a photo, a pin, with no category yet) is not a draft to
  lose: it is carried into the new complaint, and the citizen is told it was kept;
* a button from an older message (:mod:`handlers.flow.versions`) never destroys work: one that would
  start something asks first, a harmless one (status, help, a language) is done, any other gets a
  short answer and the current step again.
"""

from __future__ import annotations

from handlers.context import CategoryInfo
from handlers.flow.drafting import (
    _has_draft,
    _leave_detour,
)
from handlers.flow.payloads import (
    DRAFT_CONTINUE,
    NEW_PREFIX,
)
from handlers.flow.prompts import (
    _advance,
    _reprompt,
)
from handlers.flow.turn import (
    Reply,
    Turn,
)
from handlers.messages import Alert, Button, OutMessage
from handlers.state import Draft, Step
from handlers.views import esc, truncate


def has_progress(turn: Turn) -> bool:
    """A draft the citizen put work into: a category was chosen (photos or a pin sent before that
    are early input, carried into whatever complaint comes next)."""
    return _has_draft(turn.conv) and turn.conv.draft.category is not None


def _kept_notice(turn: Turn) -> list[str]:
    """"Your 2 photos and the location are still there": early input carried into the new complaint."""
    draft = turn.draft
    items = []
    if draft.photos:
        items.append(turn.t("drafts.item_photos", n=len(draft.photos)))
    if draft.has_location:
        items.append(turn.t("drafts.item_location"))
    return [turn.t("drafts.kept_early", items=", ".join(items))] if items else []


def _draft_line(turn: Turn) -> str:
    """What the waiting draft is, in a few words, so the citizen knows what "continue" means."""
    draft, lang = turn.draft, turn.conv.language
    info = turn.ctx.category(draft.category)
    parts = [esc(f"{info.emoji} {info.label(lang)}")] if info else []
    if draft.description:
        parts.append(f"“{esc(truncate(draft.description, 60))}”")
    if draft.photos:
        parts.append(turn.t("drafts.item_photos", n=len(draft.photos)))
    return ", ".join(parts)


def ask_new(turn: Turn, category: str = "") -> Reply:
    """"Lanjutkan draf / Mulai baru": the draft stays where it is until the citizen answers; any
    other answer (a description, a photo) simply goes on with it."""
    if turn.conv.step == Step.STATUS_NUMBER:
        _leave_detour(turn.conv)
    rows = (
        (
            Button(turn.t("drafts.keep"), DRAFT_CONTINUE),
            Button(turn.t("drafts.start_new"), f"{NEW_PREFIX}{category}"),
        ),
    )
    text = turn.t("drafts.ask_new", draft=_draft_line(turn))
    return Reply(messages=[OutMessage(text, buttons=rows)])


def _start(turn: Turn, info: CategoryInfo | None, *notices: str) -> Reply:
    """Begin filing, carrying along whatever early input there is (and saying so)."""
    conv = turn.conv
    if conv.step == Step.STATUS_NUMBER:
        _leave_detour(conv)
    kept = _kept_notice(turn) if _has_draft(conv) else []
    if not _has_draft(conv):
        conv.draft = Draft()
    conv.return_step = None
    conv.step = Step.CATEGORY
    if info is None:
        return _reprompt(turn, *notices, *kept)
    conv.draft.category = info.key
    chosen = turn.t("filing.category_chosen", category=esc(f"{info.emoji} {info.label(conv.language)}"))
    return _advance(turn, *notices, *kept, chosen)


def start_new(turn: Turn) -> Reply:
    """"📝 Buat Pengaduan" or /baru, from any message, old or new: ask first when there is a draft
    with progress; otherwise start, keeping early input."""
    return ask_new(turn) if has_progress(turn) else _start(turn, None)


def on_fresh(turn: Turn) -> Reply:
    """"Mulai baru" (current): the citizen confirmed, so the draft goes; ``new:<category>`` starts
    the new complaint with that category."""
    conv = turn.conv
    had_work = _has_draft(conv) and conv.draft != Draft()
    if conv.step == Step.STATUS_NUMBER:
        _leave_detour(conv)
    conv.draft = Draft()
    conv.step = Step.IDLE  # nothing carried over: _start begins from scratch
    notices = [turn.t("draft.restarted")] if had_work else []
    return _start(turn, turn.ctx.category(turn.arg) if turn.arg else None, *notices)


def on_old_category(turn: Turn) -> Reply:
    """A category from an older list: at the category step it answers the question; with no
    category chosen yet it starts the complaint (early input kept); over a draft with progress it
    asks first, and "Mulai baru" then starts with this category."""
    info = turn.ctx.category(turn.arg)
    if info is None:
        return on_old_press(turn)
    if turn.conv.step == Step.CATEGORY:
        return _recategorise(turn, info)
    return ask_new(turn, info.key) if has_progress(turn) else _start(turn, info)


def _recategorise(turn: Turn, info: CategoryInfo) -> Reply:
    """At the category step (a new complaint, or changing it from the summary) any list's category
    is the answer to the question asked."""
    turn.draft.category = info.key
    chosen = turn.t("filing.category_chosen", category=esc(f"{info.emoji} {info.label(turn.conv.language)}"))
    return _advance(turn, chosen)


def on_old_fresh(turn: Turn) -> Reply:
    """An old "Mulai baru": not a confirmation any more. Ask again when there is work to lose."""
    if has_progress(turn):
        return ask_new(turn, turn.arg)
    return _start(turn, turn.ctx.category(turn.arg) if turn.arg else None)


def on_old_press(turn: Turn) -> Reply:
    """Any other button from an older message: a short answer and the current step again."""
    reply = _reprompt(turn, turn.t("drafts.old_button"))
    reply.alert = Alert(turn.t("stale.alert"))
    return reply
