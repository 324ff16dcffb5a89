"""Menus answered by typing: the last menu shown is remembered, and a typed answer is resolved to it.

WhatsApp has no inline buttons, so its adapter shows a menu as a numbered list ("1. 📨 Kirim") and
the citizen answers with the number or the word. Telegram shows real buttons, but a citizen may
still type a button's word. Both cases are settled here, before the flow routes the event, so the
transition tables only ever see :class:`~handlers.events.ButtonPress` for a choice:

* :func:`flatten` fixes the numbering (row by row, left to right); the WhatsApp renderer and
  :func:`resolve` both use it, so "2" always means the second item the citizen saw;
* :func:`remember` stores the last menu sent in :attr:`Conversation.choices`. It is public because
  the service adds messages after the flow (effect results such as the status view or "my
  complaints" with its ``show:`` buttons) and must call it again with everything it sends;
* :func:`resolve` turns a typed number (only where menus are numbered lists), a button's label
  (everywhere) or a bare command word (only on those channels: nobody types slashes there) into the
  event it stands for.

Pure and channel-neutral: no I/O, no knowledge of Twilio or Telegram.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import replace

from handlers.events import ButtonPress, Command, Incoming, Text
from handlers.messages import Button, OutMessage
from handlers.state import Choice, Conversation
from handlers.text import parse_int

__all__ = ["Choice", "flatten", "label_key", "remember", "resolve"]

#: "2", " 2 ", "2.", "2)": a menu number as people type it (three digits is plenty for any menu)
_NUMBER = re.compile(r"^\s*([0-9]{1,3})\s*[.)]?\s*$")
#: one word, optionally with the slash Telegram users are used to and trailing punctuation
_COMMAND_WORD = re.compile(r"^\s*/?([^\W\d_][\w]*)\s*[.!?]*\s*$")
#: a command word followed by its arguments: "status JMB-2026-000007", "/STATUS jmb 2026 7"
_COMMAND_WITH_ARGS = re.compile(r"^\s*/?([^\W\d_][\w]*)[\s:]+(\S.*?)\s*$", re.DOTALL)


def flatten(buttons: Sequence[Sequence[Button]]) -> tuple[Button, ...]:
    """All buttons in row order, left to right: the order menus are numbered in, everywhere."""
    return tuple(button for row in buttons for button in row)


def label_key(text: str) -> str:
    """What is compared when a typed text is matched against a label: casefolded letters and digits
    only, single-spaced. So "kirim", "Kirim!" and "✅ Kirim" all match the button "✅ Kirim", and
    "drainase banjir" matches "🌊 Drainase & Banjir"."""
    normalised = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch if unicodedata.category(ch)[0] in "LN" else " " for ch in normalised)
    return " ".join(kept.split())


def remember(conv: Conversation, messages: Sequence[OutMessage]) -> None:
    """Store the menu the citizen will see last, so a typed answer refers to it.

    The last message with inline buttons wins (a notice before a prompt has none). Messages without
    any buttons mean the citizen was asked something that is not a menu (a description, an address),
    so the old menu no longer applies and is forgotten. No messages at all changes nothing: the
    service is about to add the effects' results and calls this again with the full list.
    """
    with_buttons = [m for m in messages if m.buttons]
    if with_buttons:
        conv.choices = [(b.label, b.payload) for b in flatten(with_buttons[-1].buttons)]
    elif messages:
        conv.choices = []


def resolve(
    conv: Conversation,
    incoming: Incoming,
    *,
    commands: Collection[str] = (),
    takes_args: Callable[[str, str], bool] | None = None,
) -> Incoming:
    """The event a typed text stands for, or ``incoming`` unchanged.

    Only :class:`Text` is ever changed, and only the event: who sent it, what it replies to and the
    other facts are kept. In order:

    1. with ``incoming.typed_choices`` (menus are numbered lists on this channel), a bare number
       1..N picks that item of the remembered menu. A number out of range is left as text: the step
       answers it like any other unexpected text (a re-prompt that loses nothing) and the category
       step still understands category numbers on its own;
    2. on every channel, text equal to one item's label (see :func:`label_key`) is that button;
    3. with ``incoming.typed_choices``, a single word naming one of ``commands`` (the flow passes
       its ``GLOBAL_COMMANDS``; this module does not import the flow) becomes that command, because
       WhatsApp users do not type slashes. This applies at every step, the description step
       included: a description must be at least ``Limits.description_min`` (10) characters and every
       command word is shorter, so such a word could never have been accepted as a description;
       treating "batal" or "bantuan" as what it says is the more helpful answer. A command word
       followed by arguments ("status jmb-2026-7", in any case) becomes that command with them when
       ``takes_args(name, args)`` says they fit it (the flow passes
       :func:`handlers.flow.intents.command_takes_args`): "status jalan rusak parah" stays a sentence.
    """
    event = incoming.event
    if not isinstance(event, Text):
        return incoming
    payload = _chosen_payload(conv.choices, event.text, numbered=incoming.typed_choices)
    if payload is not None:
        return replace(incoming, event=ButtonPress(payload))
    if incoming.typed_choices:
        name = _command_word(event.text, commands)
        if name is not None:
            return replace(incoming, event=Command(name))
        with_args = _command_with_args(event.text, commands, takes_args)
        if with_args is not None:
            return replace(incoming, event=with_args)
    return incoming


def _chosen_payload(choices: Sequence[Choice], text: str, *, numbered: bool) -> str | None:
    """The payload a typed number (when ``numbered``) or label picks, if exactly one is meant."""
    if not choices:
        return None
    number = _NUMBER.match(text)
    if number is not None and numbered:
        index = parse_int(number.group(1), 1, len(choices))  # "0" and "99" are no item
        return choices[index - 1][1] if index is not None else None
    wanted = label_key(text)
    if not wanted:
        return None
    matches = {payload for label, payload in choices if label_key(label) == wanted}
    return matches.pop() if len(matches) == 1 else None  # two different buttons, same words: ask


def _command_word(text: str, commands: Collection[str]) -> str | None:
    """``"Menu"``, ``"batal!"`` or ``"/bantuan"`` -> the command name, when it is one."""
    word = _COMMAND_WORD.match(text)
    if word is None:
        return None
    name = word.group(1).casefold()
    return name if name in commands else None


def _command_with_args(
    text: str, commands: Collection[str], takes_args: Callable[[str, str], bool] | None
) -> Command | None:
    """``"STATUS jmb-2026-7"`` -> ``Command("status", "jmb-2026-7")`` when the arguments fit."""
    if takes_args is None:
        return None
    found = _COMMAND_WITH_ARGS.match(text)
    if found is None:
        return None
    name, args = found.group(1).casefold(), found.group(2)
    return Command(name, args) if name in commands and takes_args(name, args) else None
