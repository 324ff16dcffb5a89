"""Hostile text made harmless, once, at the edge: what citizens and Twilio/Telegram send is cleaned
before it is stored or reaches the conversation core.

Why: a NUL byte makes PostgreSQL refuse the insert (and the message is retried forever); a lone
surrogate (a JSON ``"\\ud800"`` escape) cannot be encoded to UTF-8 at all; bidi overrides, zero-width
spaces and friends let a "description" look empty or read backwards on an officer's screen; an
out-of-range number in a button payload must be "an old button", never an exception.

* :func:`clean_text` / :func:`clean_tree`: NFC, no control characters but newlines, no invisible
  formatting tricks; what emoji and scripts need (ZWJ, ZWNJ, variation selectors, flag tag
  sequences) is kept. Idempotent.
* :func:`visible_length`: what a person would count as characters (grapheme clusters with something
  visible in them), for minimum lengths. Telegram's own limits are in UTF-16 units
  (:func:`handlers.views.utf16_len`), not this.
* :func:`parse_id` / :func:`parse_int`: ASCII digits within bounds, or None; never raises.

Pure: no I/O, no channel library.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import regex

__all__ = ["MAX_ID", "clean_text", "clean_tree", "parse_id", "parse_int", "visible_length"]

#: the largest id the storage's Integer columns hold (PostgreSQL ``integer``: signed 32 bits)
MAX_ID = 2**31 - 1

ZWNJ = "\u200c"
ZWJ = "\u200d"
#: 🏴, the base of the emoji tag sequences (the flags of England, Scotland, Wales)
BLACK_FLAG = "\U0001f3f4"
_TAG_FIRST, _TAG_LAST = 0xE0020, 0xE007F

#: line breaks other than "\n" that become "\n" (vertical tab, form feed, NEL, LS, PS); "\r" is
#: handled first so that "\r\n" is one break
_LINE_BREAKS = frozenset("\x0b\x0c\x85\u2028\u2029")

#: format characters (category Cf) that are kept: the joiners emoji and several scripts need, and
#: the few format characters that are *visible* parts of a script (Arabic and Syriac number and
#: abbreviation signs, Kaithi number signs, Egyptian hieroglyph format controls). Every other Cf is
#: an invisible trick here (bidi embeddings, overrides and isolates, LRM/RLM/ALM, zero-width space,
#: word joiner and the invisible operators, BOM, soft hyphen, the Mongolian vowel separator,
#: interlinear annotation marks, shorthand and musical format controls, the deprecated language tag)
#: and is removed. Tag characters are kept only inside a flag sequence (see :func:`clean_text`).
_KEPT_FORMAT: frozenset[int] = frozenset(
    [0x200C, 0x200D, *range(0x0600, 0x0606), 0x06DD, 0x070F, 0x0890, 0x0891, 0x08E2, 0x110BD, 0x110CD,
     *range(0x13430, 0x13456)]
)

#: characters that are letters or symbols to Unicode but show nothing (the Hangul fillers, the blank
#: Braille pattern): allowed in text, not counted as visible
_BLANK_GRAPHICS = frozenset("\u115f\u1160\u3164\uffa0\u2800")

_GRAPHEME = regex.compile(r"\X")


def _is_tag(ch: str) -> bool:
    return len(ch) == 1 and _TAG_FIRST <= ord(ch) <= _TAG_LAST


def clean_text(s: str) -> str:
    """``s`` made safe to store and show (idempotent: cleaning twice changes nothing more):

    * "\\r\\n", "\\r" and the other line breaks (VT, FF, NEL, U+2028, U+2029) become "\\n"; "\\t" a space;
    * NUL and every other control character (Cc) is removed; so are lone surrogates;
    * format characters (Cf) are removed except ZWJ (👨‍👩‍👧), ZWNJ and the visible script signs in
      :data:`_KEPT_FORMAT`; emoji tag characters (U+E0020–U+E007F) are kept only in a run right after
      🏴 (the flag sequences), because a lone run of them is invisible text;
    * variation selectors (U+FE0E/U+FE0F, U+E0100–U+E01EF) are ordinary combining marks and stay;
    * the result is in NFC (after the removals, so "e", ZWSP, U+0301 becomes "é").
    """
    if not isinstance(s, str):
        s = str(s)
    if s.isascii() and s.isprintable():
        # nothing to do (no control, format or tag character, no line break, NFC already): most strings of
        # an update (ids, usernames, chat types, button data) take this path, cleaned 40 times an update
        return s
    s = s.replace("\r\n", "\n")
    out: list[str] = []
    previous = ""  # the last character kept
    for ch in s:
        if ch == "\n" or ch == "\r" or ch in _LINE_BREAKS:
            ch = "\n"
        elif ch == "\t":
            ch = " "
        else:
            category = unicodedata.category(ch)
            if category in ("Cc", "Cs"):
                continue
            if category == "Cf" or _is_tag(ch):
                if _is_tag(ch):
                    if not (previous == BLACK_FLAG or _is_tag(previous)):
                        continue
                elif ord(ch) not in _KEPT_FORMAT:
                    continue
        out.append(ch)
        previous = ch
    return unicodedata.normalize("NFC", "".join(out))


def clean_tree(obj: Any) -> Any:
    """A copy of a JSON-like tree (dict, list, tuple, str, int, float, bool, None) with
    :func:`clean_text` applied to every string, dict keys included. When two keys become equal
    after cleaning, the later one wins. Other objects are returned as they are."""
    if isinstance(obj, str):
        return clean_text(obj)
    if isinstance(obj, dict):
        return {(clean_text(k) if isinstance(k, str) else k): clean_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [clean_tree(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(clean_tree(v) for v in obj)
    return obj


def _visible_char(ch: str) -> bool:
    if ch.isspace() or ch in _BLANK_GRAPHICS:
        return False
    return unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Mn", "Me", "Zs", "Zl", "Zp")


def visible_length(s: str) -> int:
    """How many characters a person sees: grapheme clusters (``regex``'s ``\\X``) with at least one
    visible character in them. "👨‍👩‍👧" is 1, "e" + U+0301 is 1, spaces, zero-width characters, lone
    combining marks and variation selectors are 0."""
    if not s:
        return 0
    return sum(1 for cluster in _GRAPHEME.findall(s) if any(_visible_char(ch) for ch in cluster))


def parse_int(s: object, low: int, high: int) -> int | None:
    """``s`` as an integer in ``low..high`` when it is made of ASCII digits only (no sign, no spaces,
    no "²" or "١٢٣", no "1_000"); None otherwise. Never raises."""
    if not isinstance(s, str) or not s or len(s) > len(str(high)) + 2:  # no int() of a huge string
        return None
    if not all("0" <= ch <= "9" for ch in s):
        return None
    value = int(s)
    return value if low <= value <= high else None


def parse_id(s: object) -> int | None:
    """A database id from a payload: ASCII digits, 1..2**31-1 (the storage's Integer columns), else None."""
    return parse_int(s, 1, MAX_ID)
