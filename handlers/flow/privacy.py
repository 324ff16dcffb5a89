"""The summary's "🔒 Privasi" button: Biasa, Anonim or Rahasia (see :mod:`handlers.privacy`).

Why a small detour rather than a step: the choice is one press and changes nothing else of the draft,
so the conversation stays at the summary (a typed answer, a photo or an old button behave as they do
there). On Telegram the summary turns into the choice and back in place (one message, no scrolling);
on WhatsApp each is sent as a numbered list and a typed "2" picks the second item of the last one.
"""

from __future__ import annotations

from dataclasses import replace

from handlers import privacy
from handlers.context import FlowContext
from handlers.events import ButtonPress
from handlers.flow.payloads import PRIVACY_BACK, PRIVACY_PREFIX
from handlers.flow.prompts import _reprompt, _stale
from handlers.flow.turn import Reply, Turn
from handlers.messages import EDIT_CONTENT, Button, EditTarget, OutMessage
from handlers.state import Draft


def render_privacy_choice(draft: Draft, language: str, ctx: FlowContext) -> OutMessage:
    """The three choices with one sentence each; the current one is ticked."""
    rows: list[tuple[Button, ...]] = []
    for value, arg in privacy.CHOICES:
        name = privacy.label(value, language, ctx)
        label = ctx.t(language, "privacy.current", choice=name) if value == draft.privacy else name
        rows.append((Button(label, f"{PRIVACY_PREFIX}{arg}"),))
    rows.append((Button(ctx.t(language, "privacy.back"), PRIVACY_BACK),))
    return OutMessage(ctx.t(language, "privacy.ask"), buttons=tuple(rows))


def _in_place(turn: Turn, reply: Reply) -> Reply:
    """Change the pressed message instead of sending another (Telegram; elsewhere it is sent anew)."""
    pressed = turn.event.message_id if isinstance(turn.event, ButtonPress) else None
    if pressed and reply.messages:
        reply.messages[0] = replace(reply.messages[0], edit=EditTarget(pressed, EDIT_CONTENT))
    return reply


def on_privacy_menu(turn: Turn) -> Reply:
    """"🔒 Privasi" on the summary: show the choice."""
    return _in_place(turn, Reply(messages=[render_privacy_choice(turn.draft, turn.conv.language, turn.ctx)]))


def on_privacy_choice(turn: Turn) -> Reply:
    """Biasa / Anonim / Rahasia pressed (or "back"): store it, show the summary with it."""
    if turn.arg == "back":
        return _in_place(turn, _reprompt(turn))
    value = privacy.BY_ARG.get(turn.arg)
    if value is None:
        return _stale(turn)
    turn.draft.privacy = value
    if value == privacy.ANONIM:
        turn.draft.share_name = False  # Anonim hides the name; choosing Biasa later starts hidden too
    return _in_place(turn, _reprompt(turn))
