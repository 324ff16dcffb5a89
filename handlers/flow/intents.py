"""What a citizen means by a typed sentence, whatever step the conversation is in.

A person who was asked for a tracking number and answers "menu", "gak jadi", "mau lapor jalan rusak"
or "status jmb-2026-7" should be understood, not told again that this is not a number. This module
only *recognises* (pure, no state): the flow decides what to do with an :class:`Intent`.

The words are in the catalogs (``intent.*`` in ``sikesal-conversation.po``), every language at once:
an English speaker who kept Indonesian still types "cancel". Matching ignores case, punctuation and
emoji (:func:`handlers.choices.label_key`), so "Batal!", "BATAL" and "❌ batal" are the same word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from handlers.choices import label_key
from handlers.context import CategoryInfo, FlowContext
from handlers.flow.drafting import _valid_number, normalise_number

__all__ = ["EXACT_KINDS", "Intent", "category_in", "command_takes_args", "match_category", "recognise", "tracking_number"]

#: intents recognised only when the whole text is one of their phrases
_WHOLE = ("menu", "help", "cancel", "mine", "language", "mydata", "privacy", "erase")
#: intents the description step also understands: a story is never mistaken for them
EXACT_KINDS = frozenset({*_WHOLE, "status"})
#: a word as people type it; the token boundaries used to keep the rest of a "mau lapor ..." sentence
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True, slots=True)
class Intent:
    """``kind``: menu, help, cancel, status, mine, language, mydata, privacy, erase, new, category.

    ``arg``: for status the normalised tracking number ("" = ask for it); for new the rest of the
    sentence as typed ("jalan rusak di depan pasar"); for category the category key."""

    kind: str
    arg: str = ""


def _phrases(ctx: FlowContext, kind: str) -> list[tuple[str, ...]]:
    """The phrases of ``intent.<kind>`` in every language, as word tuples, longest first."""
    found: set[tuple[str, ...]] = set()
    for language in ctx.languages:
        key = f"intent.{kind}"
        if not ctx.catalog.has(language, key):
            continue
        for phrase in ctx.t(language, key).split(","):
            words = tuple(label_key(phrase).split())
            if words:
                found.add(words)
    return sorted(found, key=len, reverse=True)


def _tokens(text: str) -> list[re.Match[str]]:
    return list(_TOKEN.finditer(text))


def _starts_with(tokens: list[re.Match[str]], phrase: tuple[str, ...]) -> bool:
    if len(tokens) < len(phrase):
        return False
    return all(label_key(token.group(0)) == word for token, word in zip(tokens, phrase, strict=False))


def tracking_number(text: str, ctx: FlowContext) -> str | None:
    """The tracking number ``text`` is, normalised ("jmb 2026 7" -> "JMB-2026-000007"), or None.
    Only this city's numbers (its prefix, a year, a sequence): "12345" or "RT-05" are no number."""
    number = normalise_number(text)
    prefix = re.escape(ctx.tracking_prefix.upper())
    if _valid_number(number) and re.fullmatch(rf"{prefix}-[0-9]{{4}}-[0-9]{{6}}", number):
        return number
    return None


def match_category(text: str, ctx: FlowContext) -> CategoryInfo | None:
    """A category named by the whole text: its key or its label in any language, emoji optional."""
    wanted = label_key(text)
    if not wanted:
        return None
    for info in ctx.categories:
        names = {label_key(info.key), *(label_key(label) for label in info.labels.values())}
        if wanted in names:
            return info
    return None


def category_in(text: str, ctx: FlowContext) -> CategoryInfo | None:
    """A category whose label (any language) appears as whole words in ``text``: "jalan rusak di
    depan pasar" is about "Jalan Rusak". The longest label wins ("Lampu Jalan" over a shorter one)."""
    padded = f" {label_key(text)} "
    best: tuple[int, CategoryInfo] | None = None
    for info in ctx.categories:
        for label in info.labels.values():
            key = label_key(label)
            if key and f" {key} " in padded and (best is None or len(key) > best[0]):
                best = (len(key), info)
    return best[1] if best else None


def recognise(text: str, ctx: FlowContext, *, kinds: frozenset[str] | None = None) -> Intent | None:
    """The intent of a typed text, or None when it is not one (then it is an answer to the step).

    ``kinds`` limits what is looked for (the description step passes :data:`EXACT_KINDS`). Order:
    a whole-text phrase (menu, help, cancel, my complaints, language); a status word with or without
    a number ("cek jmb-2026-7"), or a bare tracking number; a category name; a sentence starting with
    a "report" phrase ("saya mau melapor jalan rusak"), whose rest is kept.
    """
    allowed = kinds if kinds is not None else frozenset({*EXACT_KINDS, "new", "category"})
    whole = tuple(label_key(text).split())
    if not whole:
        return None
    for kind in _WHOLE:
        if kind in allowed and whole in _phrases(ctx, kind):
            return Intent(kind)
    if "status" in allowed:
        status = _status(text, ctx)
        if status is not None:
            return status
    if "category" in allowed:
        info = match_category(text, ctx)
        if info is not None:
            return Intent("category", info.key)
    if "new" in allowed:
        tokens = _tokens(text)
        for phrase in _phrases(ctx, "new"):
            if _starts_with(tokens, phrase):
                rest = text[tokens[len(phrase) - 1].end():] if len(tokens) > len(phrase) else ""
                return Intent("new", rest.strip(" \t\n:,.-–—"))
    return None


def _status(text: str, ctx: FlowContext) -> Intent | None:
    """"cek status", "status JMB-2026-000007", "STATUS jmb-2026-7", "cek jmb 2026 7", or the bare number."""
    number = tracking_number(text, ctx)
    if number is not None:
        return Intent("status", number)
    tokens = _tokens(text)
    for phrase in _phrases(ctx, "status"):
        if not _starts_with(tokens, phrase):
            continue
        if len(tokens) == len(phrase):
            return Intent("status")
        rest = text[tokens[len(phrase) - 1].end():].strip(" \t\n:,.#")
        number = tracking_number(rest, ctx)
        if number is not None:
            return Intent("status", number)
    return None


def command_takes_args(name: str, args: str) -> bool:
    """Whether a typed command word followed by ``args`` is that command (WhatsApp, no slash):
    "status jmb-2026-7" is; "status jalan rusak parah" is a sentence (maybe a description)."""
    return name == "status" and _valid_number(normalise_number(args)) and any(ch.isdigit() for ch in args)
