"""Dispatch: route an event through the tables, assemble the replies, never raise; idle drafts."""

from __future__ import annotations

import copy
import logging
from dataclasses import replace

from handlers import choices
from handlers.context import FlowContext
from handlers.events import (
    ButtonPress,
    Command,
    Event,
    Incoming,
    Location,
    Photo,
    Text,
    TooLarge,
    Unsupported,
)
from handlers.flow import abuse, intents, versions, waiting
from handlers.flow.drafting import (
    _has_draft,
    _reset,
)
from handlers.flow.general import (
    on_unknown_command,
)
from handlers.flow.prompts import (
    _continue_rows,
    prompt,
)
from handlers.flow.tables import (
    _OLD,
    _STAY,
    FLOW,
    GLOBAL_BUTTONS,
    GLOBAL_COMMANDS,
    OLD_BUTTONS,
)
from handlers.flow.turn import (
    Outcome,
    Reply,
    Transition,
    Turn,
)
from handlers.messages import OutMessage
from handlers.state import Conversation, Step

log = logging.getLogger(__name__)

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


def _lookup_old(payload: str) -> tuple[Transition, str]:
    """A press from an older menu: :data:`OLD_BUTTONS`, else the short "old button" answer."""
    prefix, sep, rest = payload.partition(":")
    if payload in OLD_BUTTONS:
        return OLD_BUTTONS[payload], rest
    if sep and f"{prefix}:*" in OLD_BUTTONS:
        return OLD_BUTTONS[f"{prefix}:*"], rest
    return _OLD, ""


def _route(conv: Conversation, event: Event, *, old: bool = False) -> tuple[Transition, str]:
    """Which table cell handles this event, and its argument."""
    if isinstance(event, ButtonPress):
        if old:
            return _lookup_old(event.payload or "")
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
    must go with that same message: "📍 Lokasi diterima." and the summary arrive as one. A message
    with inline buttons cannot carry ``remove_keyboard`` on Telegram, so the sender sends it with
    the keyboard removal and then puts the buttons on it (editMessageReplyMarkup); see
    :mod:`bot.delivery.telegram`. Only a first message that brings its own reply keyboard (or has
    nothing to merge into) leaves the notices alone in front."""
    messages = list(reply.messages)
    notice = _join(reply.notices)
    if leaving_location:
        first = messages[0] if messages else None
        if first is None or first.keyboard or first.edit is not None:
            closer = notice or ctx.t(language, "common.ok")
            return [OutMessage(closer, remove_keyboard=True), *messages]
        text = f"{notice}\n\n{first.text}" if notice else first.text
        return [replace(first, text=text, remove_keyboard=True), *messages[1:]]
    if not notice:
        return messages
    if not messages:
        return [OutMessage(notice)]
    return [replace(messages[0], text=f"{notice}\n\n{messages[0].text}"), *messages[1:]]


def _used_buttons(press: ButtonPress | None, messages: list[OutMessage]) -> list[OutMessage]:
    """The pressed message's buttons did their job: take them off (Telegram; WhatsApp has no
    message id here), unless the answer changes that message itself or it is a list to pick from."""
    if press is None or not press.message_id or versions.keeps_buttons(press.payload or ""):
        return []
    if any(m.edit is not None and m.edit.message_id == press.message_id for m in messages):
        return []
    return [versions.buttons_off(press.message_id)]


def _finish(
    before: Step, conv: Conversation, reply: Reply, ctx: FlowContext, press: ButtonPress | None = None
) -> Outcome:
    """The outcome: the menu it shows remembered (a typed answer is resolved against it next
    time), every button stamped with the menu version, the pressed message's buttons taken off."""
    leaving = before == Step.LOCATION and conv.step != Step.LOCATION
    messages = _assemble(reply, leaving, conv.language, ctx)
    followup = list(reply.followup)
    stamped = versions.present(conv, [*messages, *followup])
    messages, followup = stamped[: len(messages)], stamped[len(messages) :]
    return Outcome(
        conversation=conv,
        messages=[*_used_buttons(press, [*messages, *followup]), *messages],
        effects=list(reply.effects),
        alert=reply.alert,
        followup=followup,
    )


def _unstamp(conv: Conversation, incoming: Incoming) -> tuple[Incoming, bool]:
    """The press with its version taken off, and whether it came from an older menu."""
    event = incoming.event
    if not isinstance(event, ButtonPress):
        return incoming, False
    old = versions.is_old(conv, event)
    return replace(incoming, event=replace(event, payload=versions.bare(event.payload or ""))), old


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
    :func:`handlers.flow.versions.present` again with the full list it sends (it also stamps the
    buttons of the effects' results with the menu version). After a failure the old
    menu is kept: "please try again" invites the same answer.
    """
    try:
        work = copy.deepcopy(conv)
        before = work.step
        incoming, old = _unstamp(work, incoming)
        press = incoming.event if isinstance(incoming.event, ButtonPress) else None

        def resolve(typed: Incoming) -> Incoming:
            return choices.resolve(
                work, typed, commands=GLOBAL_COMMANDS.keys(), takes_args=intents.command_takes_args
            )

        def dispatch(resolved: Incoming) -> Reply:
            transition, arg = _route(work, resolved.event, old=old and resolved.event is press)
            return transition.handler(Turn(work, resolved, ctx, arg))

        reply = waiting.around(Turn(work, incoming, ctx), resolve, dispatch)
        reply = abuse.gate(conv, work, incoming, reply, ctx)  # the daily complaint cap
        return _finish(before, work, reply, ctx, press)
    except Exception:  # a bug: the citizen gets "please try again", the operator the traceback
        log.exception("the conversation core failed on a %s event", type(incoming.event).__name__)
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
    messages = versions.present(work, reminder(work, ctx))
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
