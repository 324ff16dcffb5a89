"""Pure translation of the channel-neutral :class:`~handlers.messages.OutMessage` into WhatsApp text.

WhatsApp (through Twilio) has no inline buttons, no reply keyboards and no HTML, so:

* the Telegram-HTML subset of our texts becomes WhatsApp's own markers (``*bold*``, ``_italic_``,
  ``~strike~``, ```` ```mono``` ````), links become "text (url)", entities are unescaped so citizen
  text comes out exactly as typed;
* inline buttons become a numbered list after the text, numbered in
  :func:`handlers.choices.flatten` order, the same order :func:`handlers.choices.resolve` uses to
  understand a typed "2", followed by a hint how to answer;
* a reply keyboard asking for the location becomes a hint how to share one in WhatsApp; other
  reply-keyboard buttons are listed as words to type; ``remove_keyboard`` and ``force_reply`` have
  no WhatsApp meaning and are ignored; a map pin becomes a Google Maps link;
* a body longer than Twilio's 1600 characters is split at paragraph, then line, then word
  boundaries, and the numbered menu always travels in the last part, next to the hint.

The hints are read from the catalog's WhatsApp overlay (``channel-whatsapp.po``) whatever context the
caller passes, so they can never say "tekan tombol"; the message texts themselves were already worded
for WhatsApp by the service that rendered them (``Runtime.ctx_for(citizen.channel)``).

Kept apart from the sender so what the citizen reads can be tested without Twilio or a database.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Protocol

from handlers.choices import flatten
from handlers.events import MediaRef
from handlers.messages import Button, KeyboardButton, OutMessage

__all__ = [
    "MAX_BODY", "Texts", "WhatsAppText", "html_to_whatsapp", "in_whatsapp_words", "render_whatsapp", "split_bodies",
]

#: the channel whose catalog overlay words the hints
WHATSAPP = "whatsapp"

#: Twilio refuses a WhatsApp body over 1600 characters (error 21617). Counted here in UTF-16 code
#: units, which is never less than the characters Twilio counts, so an emoji-rich body still fits.
MAX_BODY = 1600

#: where a too-long body may be cut, best first; a single word longer than a body is cut anyway
_SEPARATORS = ("\n\n", "\n", " ")
_MENU_GAP = "\n\n"

#: Telegram tag -> WhatsApp marker, for the tags WhatsApp can show inline
_INLINE_MARKERS = {"b": "*", "strong": "*", "i": "_", "em": "_", "s": "~", "del": "~", "strike": "~"}
_CODE_TAGS = frozenset({"code", "pre"})
#: tags whose content is kept without a marker (WhatsApp has no underline)
_PLAIN_TAGS = frozenset({"u", "ins"})
_FRAME_TAGS = frozenset({*_INLINE_MARKERS, *_CODE_TAGS, *_PLAIN_TAGS, "a"})


class Texts(Protocol):
    """Where catalog texts come from: :class:`handlers.context.FlowContext` or
    :class:`handlers.i18n.Catalog`, both have this method."""

    def t(self, language: str, key: str, **params: object) -> str: ...


@dataclass(frozen=True, slots=True)
class WhatsAppText:
    """What to send for one :class:`OutMessage`.

    ``bodies`` are sent in order, one Twilio message each (empty when the message had no text, e.g.
    photos only). ``media`` are the message's photos, for a caller that attaches them (citizen
    messages normally have none). ``text_without_menu`` and ``menu`` are the two halves of the
    content, for a caller that sends the menu another way (a quick-reply template).
    """

    bodies: tuple[str, ...]
    media: tuple[MediaRef, ...] = ()
    text_without_menu: str = ""
    menu: str = ""


def render_whatsapp(message: OutMessage, *, language: str, ctx: Texts) -> WhatsAppText:
    """The WhatsApp bodies for ``message``; ``language`` is the citizen's (for the hint lines)."""
    ctx = in_whatsapp_words(ctx)
    text = "\n\n".join(
        part
        for part in (
            html_to_whatsapp(message.text),
            _map_link(message.location),
            _keyboard_hints(message.keyboard, language, ctx),
        )
        if part
    )
    menu = _numbered_menu(message.buttons, language, ctx)
    return WhatsAppText(
        bodies=split_bodies(text, menu),
        media=tuple(message.photos),
        text_without_menu=text,
        menu=menu,
    )


def in_whatsapp_words(ctx: Texts) -> Texts:
    """``ctx`` with the WhatsApp overlay when it can give one (a :class:`~handlers.context.FlowContext`
    or :class:`~handlers.i18n.Catalog` can), so no caller has to remember to pass the right one."""
    for_channel = getattr(ctx, "for_channel", None)
    return for_channel(WHATSAPP) if callable(for_channel) else ctx


# --- Telegram HTML -> WhatsApp markers ------------------------------------------------------------


def html_to_whatsapp(text_html: str) -> str:
    """Our Telegram-HTML subset as WhatsApp text: markers for b/i/s/code, "text (url)" for links,
    newlines for <br>, other tags dropped with their content kept, entities unescaped."""
    converter = _Converter()
    converter.feed(text_html)
    converter.close()
    return converter.result().strip()


@dataclass(slots=True)
class _Frame:
    """An open tag and the text collected inside it so far."""

    tag: str
    href: str | None = None
    parts: list[str] = field(default_factory=list)


class _Converter(HTMLParser):
    """Collects text per open tag and wraps it when the tag closes, so the markers can be placed
    around the trimmed content (WhatsApp ignores ``* bold*``). Unbalanced or unknown tags never
    lose text: unknown tags are transparent and unclosed ones are closed at the end."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._stack: list[_Frame] = [_Frame("")]

    def result(self) -> str:
        return "".join(self._stack[0].parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._stack[-1].parts.append("\n")
        elif tag in _FRAME_TAGS:
            self._stack.append(_Frame(tag, href=dict(attrs).get("href") if tag == "a" else None))

    def handle_endtag(self, tag: str) -> None:
        if not any(frame.tag == tag for frame in self._stack[1:]):
            return  # a stray closing tag (or </br>): nothing to close
        while True:
            frame = self._close_top()
            if frame.tag == tag:
                return

    def handle_data(self, data: str) -> None:
        self._stack[-1].parts.append(data)

    def close(self) -> None:
        super().close()
        while len(self._stack) > 1:
            self._close_top()

    def _close_top(self) -> _Frame:
        frame = self._stack.pop()
        in_code = any(f.tag in _CODE_TAGS for f in self._stack)
        self._stack[-1].parts.append(_render_frame(frame, in_code=in_code))
        return frame


def _render_frame(frame: _Frame, *, in_code: bool) -> str:
    """A closed tag's content with its WhatsApp form. Inside a code block nothing is marked: the
    markers would show literally in monospace."""
    inner = "".join(frame.parts)
    if frame.tag == "a":
        return _link(inner, frame.href)
    if in_code:
        return inner
    if frame.tag in _CODE_TAGS:
        return _wrap_block(inner, "```")
    if frame.tag in _INLINE_MARKERS:
        return _wrap_lines(inner, _INLINE_MARKERS[frame.tag])
    return inner


def _split_space(text: str) -> tuple[str, str, str]:
    """``"  x y "`` -> ``("  ", "x y", " ")``."""
    core = text.strip()
    if not core:
        return text, "", ""
    lead = text[: len(text) - len(text.lstrip())]
    trail = text[len(text.rstrip()) :]
    return lead, core, trail


def _wrap_block(inner: str, marker: str) -> str:
    """``marker`` around the content, with the surrounding whitespace moved outside."""
    lead, core, trail = _split_space(inner)
    return f"{lead}{marker}{core}{marker}{trail}" if core else inner


def _wrap_lines(inner: str, marker: str) -> str:
    """WhatsApp's inline markers do not span lines, so each non-empty line is marked on its own."""
    return "\n".join(_wrap_block(line, marker) for line in inner.split("\n"))


def _link(inner: str, href: str | None) -> str:
    """"text (url)", or just the url when the text is the url (WhatsApp makes urls clickable)."""
    lead, label, trail = _split_space(inner)
    url = (href or "").strip()
    if not url or label == url:
        return inner
    if not label:
        return f"{inner}{url}"
    return f"{lead}{label} ({url}){trail}"


# --- buttons, keyboards, pins ---------------------------------------------------------------------


def _numbered_menu(buttons: Sequence[Sequence[Button]], language: str, ctx: Texts) -> str:
    """"1. label" per button, then how to answer; empty when there are no buttons."""
    items = flatten(buttons)
    if not items:
        return ""
    lines = [f"{number}. {button.label}" for number, button in enumerate(items, start=1)]
    return "\n".join([*lines, html_to_whatsapp(_choose_hint(len(items), language, ctx))])


def _choose_hint(count: int, language: str, ctx: Texts) -> str:
    """"Reply 1 ...", "Reply 1 or 2 ...", "Reply with a number 1–n ...": each reads naturally."""
    if count == 1:
        return ctx.t(language, "whatsapp.choose_one")
    if count == 2:
        return ctx.t(language, "whatsapp.choose_two")
    return ctx.t(language, "whatsapp.choose_many", n=count)


def _keyboard_hints(keyboard: Sequence[Sequence[KeyboardButton]], language: str, ctx: Texts) -> str:
    """A location button becomes how to share a location in WhatsApp; text buttons become words
    the citizen can type (Telegram sends their label as text, so the flow already understands them)."""
    buttons = list(itertools.chain.from_iterable(keyboard))
    lines: list[str] = []
    if any(b.request_location for b in buttons):
        lines.append(html_to_whatsapp(ctx.t(language, "whatsapp.location_hint")))
    typed = [b.label for b in buttons if not b.request_location]
    if typed:
        lines.append(html_to_whatsapp(ctx.t(language, "whatsapp.type_options")))
        lines.extend(f"• {label}" for label in typed)
    return "\n".join(lines)


def _coordinate(value: float) -> str:
    """Six decimals (about 10 cm) without trailing zeros: ``-1.6101``, ``103.6131``."""
    return f"{value:.6f}".rstrip("0").rstrip(".")


def _map_link(location: tuple[float, float] | None) -> str:
    if location is None:
        return ""
    latitude, longitude = location
    return f"https://maps.google.com/?q={_coordinate(latitude)},{_coordinate(longitude)}"


# --- splitting ------------------------------------------------------------------------------------


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def split_bodies(text: str, menu: str = "", limit: int = MAX_BODY) -> tuple[str, ...]:
    """``text`` then ``menu`` in bodies of at most ``limit``: cut at paragraphs, else lines, else
    words (a word is cut only when it alone is longer than a body). The menu is never separated
    from its hint and always comes last: with the last part of the text when it fits, else alone."""
    parts = _split(text, limit) if text.strip() else []
    if menu:
        tail = _split(menu, limit)
        if parts and len(tail) == 1 and _length(parts[-1] + _MENU_GAP + tail[0]) <= limit:
            parts[-1] = parts[-1] + _MENU_GAP + tail[0]
        else:
            parts.extend(tail)
    return tuple(body for body in (part.strip() for part in parts) if body)


def _split(text: str, limit: int) -> list[str]:
    if _length(text) <= limit:
        return [text]
    for separator in _SEPARATORS:
        pieces = text.split(separator)
        if len(pieces) > 1:
            return _pack(pieces, separator, limit)
    return _cut(text, limit)


def _pack(pieces: Sequence[str], separator: str, limit: int) -> list[str]:
    """Greedily join pieces (each split finer first if too long) into chunks of at most ``limit``."""
    chunks: list[str] = []
    for piece in pieces:
        for part in _split(piece, limit):
            if chunks and _length(chunks[-1]) + _length(separator) + _length(part) <= limit:
                chunks[-1] += separator + part
            else:
                chunks.append(part)
    return chunks


def _cut(word: str, limit: int) -> list[str]:
    """A single word longer than a body (a very long link): cut it by length, nothing else works."""
    chunks = [""]
    for char in word:
        if _length(chunks[-1]) + _length(char) > limit:
            chunks.append("")
        chunks[-1] += char
    return chunks
