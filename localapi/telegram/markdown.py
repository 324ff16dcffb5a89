"""Markdown / MarkdownV2 ``parse_mode`` like Telegram, including its "must be escaped" errors.

MarkdownV2 is unforgiving (every reserved character outside markup needs a backslash); reproducing that
locally catches the classic production failure of a bot interpolating "Jl. Sudirman No. 5" unescaped.
"""

from __future__ import annotations

from typing import Any

from .errors import TelegramAPIError, bad_request

_RESERVED_V2 = set("_*[]()~`>#+-=|{}.!")
_V2_MARKERS = {"*": "bold", "_": "italic", "__": "underline", "~": "strikethrough", "||": "spoiler"}
_V1_MARKERS = {"*": "bold", "_": "italic"}
_ENTITY_NAMES = {"bold": "Bold", "italic": "Italic", "underline": "Underline", "strikethrough": "Strikethrough",
                 "spoiler": "Spoiler", "code": "Code", "pre": "Pre", "text_link": "TextUrl"}


def _offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _err(reason: str) -> TelegramAPIError:
    return bad_request(f"can't parse entities: {reason}")


class _Builder:
    """Accumulates output text while tracking the UTF-16 length used for entity offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.length += len(text.encode("utf-16-le")) // 2

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        if self.length > start:
            self.entities.append({"offset": start, "length": self.length - start, "type": kind, **extra})


def parse_markdown(src: str, *, v2: bool) -> tuple[str, list[dict[str, Any]]]:
    """Parse MarkdownV2 (``v2=True``) or legacy Markdown into (plain text, entities)."""
    out = _Builder()
    stack: list[tuple[str, str, int, int]] = []  # (marker, kind, start offset, source index)
    markers = _V2_MARKERS if v2 else _V1_MARKERS
    i, n = 0, len(src)
    line_start = True
    quote_start: int | None = None
    while i < n:
        char = src[i]
        if v2 and line_start:
            if char == ">" and quote_start is None:
                quote_start = out.length
                i += 1
                line_start = False
                continue
            if char == ">":
                i += 1
                line_start = False
                continue
            if quote_start is not None:
                out.entity("blockquote", quote_start)
                quote_start = None
        line_start = char == "\n"
        if char == "\\" and i + 1 < n and (v2 or src[i + 1] in "_*`["):
            out.add(src[i + 1])
            i += 2
            continue
        if src.startswith("```", i):
            end = src.find("```", i + 3)
            if end < 0:
                raise _err(f"Can't find end of Pre entity at byte offset {_offset(src, i)}")
            body = src[i + 3 : end]
            language = ""
            if "\n" in body:
                first, rest = body.split("\n", 1)
                if first and " " not in first:
                    language, body = first, rest
            start = out.length
            out.add(body.replace("\\`", "`").replace("\\\\", "\\") if v2 else body)
            out.entity("pre", start, **({"language": language} if language else {}))
            i = end + 3
            continue
        if char == "`":
            end = src.find("`", i + 1)
            if end < 0:
                raise _err(f"Can't find end of Code entity at byte offset {_offset(src, i)}")
            start = out.length
            out.add(src[i + 1 : end])
            out.entity("code", start)
            i = end + 1
            continue
        if char == "[":
            close = src.find("](", i)
            end = src.find(")", close) if close >= 0 else -1
            if close < 0 or end < 0:
                if v2:
                    raise _err("Character '[' is reserved and must be escaped with the preceding '\\'")
                out.add(char)
                i += 1
                continue
            inner_text, _ = parse_markdown(src[i + 1 : close], v2=v2)
            start = out.length
            out.add(inner_text)
            out.entity("text_link", start, url=src[close + 2 : end].replace("\\)", ")"))
            i = end + 1
            continue
        marker = src[i : i + 2] if v2 and src[i : i + 2] in ("__", "||") else char
        if marker in markers:
            if stack and stack[-1][0] == marker:
                _, kind, start, _ = stack.pop()
                out.entity(kind, start)
            else:
                stack.append((marker, markers[marker], out.length, i))
            i += len(marker)
            continue
        if v2 and char in _RESERVED_V2:
            raise _err(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        out.add(char)
        i += 1
    if quote_start is not None:
        out.entity("blockquote", quote_start)
    if stack:
        _, kind, _, index = stack[-1]
        if v2:
            raise _err(f"Can't find end of {_ENTITY_NAMES[kind]} entity at byte offset {_offset(src, index)}")
        raise _err(f"Can't find end of the entity starting at byte offset {_offset(src, index)}")
    out.entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out.parts), out.entities
