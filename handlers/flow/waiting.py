"""No dead ends: what wraps every turn, and the typed answers of the steps that wait for one thing.

:func:`around` runs each event (called by :func:`handlers.flow.engine.handle`):

* a "which number?" question left unanswered longer than ``Limits.detour_expiry_s`` is forgotten
  first, so "halo" a day later is not read as a wrong tracking number;
* a text within seconds of a description is a part of it (:mod:`handlers.flow.longtext`);
* a citizen never greeted gets the welcome once, whatever they sent first;
* the count of unusable answers in a row (:attr:`Conversation.misses`) is reset by any other answer.

The handlers here sit in the tables where free text meets a step that waits for something specific
(the menu, an address, "the same problem?"), so a menu word, "mau lapor …" or a category name is
understood there too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from handlers.events import ButtonPress, Command, Incoming, Text
from handlers.flow import longtext
from handlers.flow.drafting import _leave_detour
from handlers.flow.filing import on_idle_text, on_location_text
from handlers.flow.general import _missed, on_intent, welcome, welcome_message
from handlers.flow.intents import recognise
from handlers.flow.turn import Reply, Turn
from handlers.state import Step

#: commands that are a greeting themselves
_GREETING_COMMANDS = frozenset({"start", "menu"})


def on_free_text(turn: Turn) -> Reply:
    """Text with nothing in progress: what it means ("cek status", "mau lapor …", "STATUS jmb-2026-7",
    a category), the welcome for a first message, else the short hint with the menu."""
    assert isinstance(turn.event, Text)
    intent = recognise(turn.event.text, turn.ctx)
    if intent is not None:
        return on_intent(turn, intent)
    if not turn.conv.greeted:
        return welcome(turn)
    return on_idle_text(turn)


def on_place_text(turn: Turn) -> Reply:
    """A typed address (location step, or instead of one of the geocoder's places), unless the text
    means something else: "batal", "menu" or "cek status" are no address."""
    assert isinstance(turn.event, Text)
    intent = recognise(turn.event.text, turn.ctx)
    return on_intent(turn, intent) if intent is not None else on_location_text(turn)


def on_choice_text(turn: Turn) -> Reply:
    """Text where only a choice is possible ("the same problem?"): what it means, or a miss."""
    assert isinstance(turn.event, Text)
    intent = recognise(turn.event.text, turn.ctx)
    if intent is not None:
        return on_intent(turn, intent)
    return _missed(turn, turn.t("unexpected.use_buttons"))


def _parse(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _expire_detour(turn: Turn) -> None:
    """Forget a "which number?" question asked too long ago (back to the draft step or the menu)."""
    conv, received = turn.conv, turn.incoming.received_at
    since = _parse(conv.detour_since)
    if conv.step != Step.STATUS_NUMBER or since is None or received is None:
        return
    if (since.tzinfo is None) != (received.tzinfo is None):
        return
    if (received - since).total_seconds() > turn.ctx.limits.detour_expiry_s:
        _leave_detour(conv)


def _greeting_needed(sent: Incoming, resolved: Incoming) -> bool:
    """A first message gets the welcome unless it is a button (someone saw a menu already), a slash
    command (Telegram sends /start before anything else; other commands are typed by people who know
    the bot) or a typed word that is the greeting itself ("menu" on WhatsApp)."""
    if isinstance(sent.event, ButtonPress | Command) or isinstance(resolved.event, ButtonPress):
        return False
    event = resolved.event
    return not (isinstance(event, Command) and (event.name or "").lower().lstrip("/") in _GREETING_COMMANDS)


def _with_welcome(turn: Turn, reply: Reply) -> Reply:
    """Put the welcome (with the language choice) before an answer that did something else."""
    messages = list(reply.messages)
    if reply.notices and messages:
        first = messages[0]
        messages[0] = replace(first, text="\n\n".join([*reply.notices, first.text]))
        reply.notices = []
    reply.messages = [welcome_message(turn), *messages]
    return reply


def around(
    turn: Turn, resolve: Callable[[Incoming], Incoming], dispatch: Callable[[Incoming], Reply]
) -> Reply:
    """Run one event with the no-dead-end rules: ``resolve`` turns a typed menu answer into the
    button or command it stands for (:func:`handlers.choices.resolve`), ``dispatch`` routes it
    through the tables. A part of a long paste is taken before either: it is never a menu answer."""
    conv = turn.conv
    _expire_detour(turn)
    if longtext.is_part(turn):
        conv.greeted = True
        conv.misses = 0
        return longtext.on_part(turn)
    if conv.paste and not conv.paste.get("over"):
        conv.paste = {}  # the description is complete: the next text answers the next step
    sent = turn.incoming
    turn.incoming = resolve(sent)
    first, misses = not conv.greeted, conv.misses
    reply = dispatch(turn.incoming)
    if first and not conv.greeted and _greeting_needed(sent, turn.incoming):
        reply = _with_welcome(turn, reply)
    conv.greeted = True
    if conv.misses == misses:
        conv.misses = 0
    return reply
