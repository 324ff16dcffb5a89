"""Menu versions: every citizen button carries the version of the menu it came with.

Why: a chat keeps every message the bot ever sent, and a citizen may scroll up and press a button of
a welcome menu, a category list or a summary from long ago. Telegram delivers such a press like any
other, so the press itself must say how old it is. The version is a short suffix on the payload
(``sum:send~1f``), stamped here on every button of every message the flow sends, so every button
anyone adds gets it without thinking about it, and checked here before the tables route the press.

* The version moves on when the menu the citizen sees last changes (other labels or payloads, or no
  menu at all): a menu shown again unchanged (the "Done" under each photo of an album) keeps its
  version, so pressing any copy of it is not an "old" press.
* A typed answer on WhatsApp is resolved to the last menu (:mod:`handlers.choices`), which is the
  current one by definition; a quick-reply template tap carries the template's fixed payload. Neither
  carries a message id, and neither is old.
* A press without a stamp but with a message id on a payload the flow has always made (``sum:``,
  ``cat:``...) comes from a message sent before versions existed: old.

Pure: no I/O; the stamp fits Telegram's 64 bytes or is left off (such a press is then never old).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from handlers import choices
from handlers.events import ButtonPress
from handlers.messages import EDIT_BUTTONS, MAX_PAYLOAD_BYTES, Button, EditTarget, OutMessage
from handlers.state import Conversation

#: between the payload and its version; never part of a payload the flow makes
SEPARATOR = "~"
#: versions wrap around here (four base-36 digits), so a stamp is at most five bytes
_WRAP = 36**4
_STAMP = re.compile(r"^[0-9a-z]{1,4}$")

#: payload prefixes the flow made before versions existed: such a press without a stamp is old
LEGACY_PREFIXES = ("menu:", "cat:", "sum:", "edit:", "dup:", "addr:", "draft:", "photo:", "lang:", "show:")
#: buttons whose message keeps its buttons after a press (a list to pick several from, one at a time)
KEEP_BUTTONS_PREFIXES = ("show:",)


def _tag(version: int) -> str:
    value, digits = version % _WRAP, ""
    while True:
        value, rest = divmod(value, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[rest] + digits
        if value == 0:
            return digits


def _fits(payload: str, version: int) -> bool:
    return len(f"{payload}{SEPARATOR}{_tag(version)}".encode()) <= MAX_PAYLOAD_BYTES


def split(payload: str) -> tuple[str, int | None]:
    """``"sum:send~1f"`` -> ``("sum:send", 51)``; a payload without a (valid) stamp -> ``(payload, None)``."""
    base, sep, tag = payload.rpartition(SEPARATOR)
    if not sep or not base or not _STAMP.fullmatch(tag):
        return payload, None
    return base, int(tag, 36)


def bare(payload: str) -> str:
    """The payload without its version (what the tables and the tests know it by)."""
    return split(payload)[0]


def is_old(conv: Conversation, press: ButtonPress) -> bool:
    """Did this press come from a menu older than the one the citizen was shown last?"""
    base, version = split(press.payload or "")
    if version is not None:
        return version != conv.menu_version % _WRAP
    if press.message_id is None:  # a typed number or a quick reply: always the last menu
        return False
    return base.startswith(LEGACY_PREFIXES) and _fits(base, conv.menu_version)


def _stamp_rows(rows: tuple[tuple[Button, ...], ...], version: int) -> tuple[tuple[Button, ...], ...]:
    def stamped(button: Button) -> Button:
        base = bare(button.payload)
        payload = f"{base}{SEPARATOR}{_tag(version)}" if _fits(base, version) else base
        return Button(button.label, payload)

    return tuple(tuple(stamped(b) for b in row) for row in rows)


def _unstamped(message: OutMessage) -> OutMessage:
    if not message.buttons:
        return message
    rows = tuple(tuple(Button(b.label, bare(b.payload)) for b in row) for row in message.buttons)
    return replace(message, buttons=rows)


def present(conv: Conversation, messages: Sequence[OutMessage]) -> list[OutMessage]:
    """The messages as sent: the menu they show is remembered (for typed answers), the version moves
    on if that menu differs from the last one, and every button carries the version.

    Idempotent: the service calls it again with the effects' results added (a status view, "my
    complaints"), and a message already stamped is stamped again with the final version. Edits that
    only take buttons off are not a menu and change nothing."""
    plain = [_unstamped(m) for m in messages]
    shown = [m for m in plain if not m.takes_buttons_off]
    before = list(conv.choices)
    choices.remember(conv, shown)
    if shown and conv.choices != before:
        conv.menu_version = (conv.menu_version + 1) % _WRAP
    return [replace(m, buttons=_stamp_rows(m.buttons, conv.menu_version)) if m.buttons else m for m in plain]


def buttons_off(message_id: str) -> OutMessage:
    """Take the inline buttons off a message whose buttons did their job (Telegram; nothing elsewhere)."""
    return OutMessage(text="", edit=EditTarget(message_id, EDIT_BUTTONS))


def keeps_buttons(payload: str) -> bool:
    """Pressing this does not use up the message's buttons (one of several complaints to look at)."""
    return bare(payload).startswith(KEEP_BUTTONS_PREFIXES)
