"""Text formatting like Telegram's server: HTML ``parse_mode`` to plain text + entities, and trimming.

Telegram measures entity offsets in UTF-16 code units and rejects malformed HTML with "can't parse
entities" errors; the bot's formatting bugs must show up here exactly as they would in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .errors import TelegramAPIError, bad_request

_TAGS: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\u00a0"}
_ENTITY_RE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_NAME_RE = re.compile(r"[a-zA-Z0-9-]*")
_ATTR_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")
_WHITESPACE = " \t\r\n\u00a0\u2028\u2029\x0b\x0c"
_BOT_COMMAND_RE = re.compile(r"/[a-zA-Z0-9_]{1,64}(@[a-zA-Z0-9_]{3,32})?")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(src: str, index: int) -> int:
    return len(src[:index].encode("utf-8"))


def _parse_error(reason: str) -> TelegramAPIError:
    return bad_request(f"can't parse entities: {reason}")


@dataclass
class _OpenTag:
    name: str
    kind: str
    start: int
    attrs: dict[str, str] = field(default_factory=dict)
    language: str | None = None


def _read_attrs(src: str, pos: int, tag_start: int) -> tuple[dict[str, str], int]:
    """Parse ``name="value"`` pairs up to the closing ``>``; return them and the index after ``>``."""
    attrs: dict[str, str] = {}
    n = len(src)
    while True:
        while pos < n and src[pos] in _WHITESPACE:
            pos += 1
        if pos >= n:
            raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(src, tag_start)}")
        if src[pos] == ">":
            return attrs, pos + 1
        match = _ATTR_NAME_RE.match(src, pos)
        if not match:
            raise _parse_error(f"Expected equal sign in declaration of an attribute of the tag at byte offset "
                               f"{_byte_offset(src, tag_start)}")
        name = match.group(0).lower()
        pos = match.end()
        value = ""
        if pos < n and src[pos] == "=":
            pos += 1
            if pos < n and src[pos] in "\"'":
                quote = src[pos]
                end = src.find(quote, pos + 1)
                if end < 0:
                    raise _parse_error(f"Unclosed start tag at byte offset {_byte_offset(src, tag_start)}")
                value = unescape_html(src[pos + 1 : end])
                pos = end + 1
            else:
                start = pos
                while pos < n and src[pos] not in _WHITESPACE and src[pos] != ">":
                    pos += 1
                value = unescape_html(src[start:pos])
        attrs[name] = value


def unescape_html(text: str) -> str:
    """Decode the HTML entities Telegram understands; unknown ones stay literal, as Telegram does."""

    def repl(match: re.Match[str]) -> str:
        body = match.group(1)
        if body.startswith(("#x", "#X")):
            code = int(body[2:], 16)
        elif body.startswith("#"):
            code = int(body[1:])
        else:
            return _NAMED_ENTITIES.get(body, match.group(0))
        return chr(code) if 0 < code <= 0x10FFFF else match.group(0)

    return _ENTITY_RE.sub(repl, text)


def _entity_for(tag: _OpenTag, offset: int, length: int) -> dict[str, Any] | None:
    entity: dict[str, Any] = {"offset": offset, "length": length, "type": tag.kind}
    if tag.kind == "text_link":
        href = tag.attrs.get("href", "")
        if not href:
            return None
        if href.startswith("tg://user?id="):
            user_id = href.removeprefix("tg://user?id=")
            if user_id.isdigit():
                return {"offset": offset, "length": length, "type": "text_mention",
                        "user": {"id": int(user_id), "is_bot": False, "first_name": ""}}
        entity["url"] = href
    elif tag.kind == "pre" and tag.language:
        entity["language"] = tag.language
    elif tag.kind == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    elif tag.kind == "custom_emoji":
        entity["custom_emoji_id"] = tag.attrs.get("emoji-id", "")
    return entity


def parse_html(src: str) -> tuple[str, list[dict[str, Any]]]:
    """Convert Telegram-flavoured HTML into (plain text, entities) or raise Telegram's parse error."""
    out: list[str] = []
    out_len = 0  # UTF-16 units emitted so far
    stack: list[_OpenTag] = []
    entities: list[dict[str, Any]] = []
    i, n = 0, len(src)
    while i < n:
        char = src[i]
        if char == "&":
            match = _ENTITY_RE.match(src, i)
            decoded = unescape_html(match.group(0)) if match else "&"
            if match and decoded != match.group(0):
                i = match.end()
            else:
                decoded, i = "&", i + 1
            out.append(decoded)
            out_len += utf16_len(decoded)
            continue
        if char != "<":
            out.append(char)
            out_len += 2 if ord(char) > 0xFFFF else 1
            i += 1
            continue
        tag_start = i
        if i + 1 < n and src[i + 1] == "/":
            match = _NAME_RE.match(src, i + 2)
            assert match is not None
            name = match.group(0).lower()
            pos = match.end()
            while pos < n and src[pos] in _WHITESPACE:
                pos += 1
            if pos >= n or src[pos] != ">":
                raise _parse_error(f"Unclosed end tag at byte offset {_byte_offset(src, tag_start)}")
            if not stack:
                raise _parse_error(f"Unexpected end tag at byte offset {_byte_offset(src, tag_start)}")
            top = stack.pop()
            if name != top.name:
                raise _parse_error(
                    f'Unmatched end tag at byte offset {_byte_offset(src, tag_start)}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            length = out_len - top.start
            language = top.attrs.get("class", "")
            if top.kind == "code" and stack and stack[-1].kind == "pre" and language.startswith("language-"):
                stack[-1].language = language.removeprefix("language-")
            elif length > 0 and (entity := _entity_for(top, top.start, length)) is not None:
                entities.append(entity)
            i = pos + 1
            continue
        match = _NAME_RE.match(src, i + 1)
        assert match is not None
        name = match.group(0).lower()
        if name not in _TAGS:
            raise _parse_error(f'Unsupported start tag "{name}" at byte offset {_byte_offset(src, tag_start)}')
        attrs, i = _read_attrs(src, match.end(), tag_start)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _parse_error(f'Tag "span" must have class "tg-spoiler" at byte offset '
                               f"{_byte_offset(src, tag_start)}")
        stack.append(_OpenTag(name=name, kind=_TAGS[name], start=out_len, attrs=attrs))
    if stack:
        raise _parse_error(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), entities


def trim(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Strip leading/trailing whitespace like Telegram does, shifting and clipping entities."""
    stripped = text.strip(_WHITESPACE)
    if stripped == text:
        return text, entities
    left = utf16_len(text[: len(text) - len(text.lstrip(_WHITESPACE))])
    total = utf16_len(stripped)
    fixed: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - left, 0)
        end = min(entity["offset"] + entity["length"] - left, total)
        if end > start:
            fixed.append({**entity, "offset": start, "length": end - start})
    return stripped, fixed


def format_text(text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None) -> tuple[
    str, list[dict[str, Any]]
]:
    """Apply ``parse_mode`` (or explicit entities) and trim; returns Telegram's stored text and entities."""
    mode = (parse_mode or "").lower()
    if mode == "html":
        plain, parsed = parse_html(text)
    elif mode in ("markdownv2", "markdown"):
        from .markdown import parse_markdown

        plain, parsed = parse_markdown(text, v2=mode == "markdownv2")
    elif mode:
        raise bad_request(f"unsupported parse_mode \"{parse_mode}\"")
    else:
        plain, parsed = text, [dict(e) for e in entities or []]
    return trim(plain, parsed)


def detect_user_entities(text: str) -> list[dict[str, Any]]:
    """Entities a Telegram client attaches to text a user typed (bot commands only, enough for bots)."""
    entities: list[dict[str, Any]] = []
    for match in _BOT_COMMAND_RE.finditer(text):
        start = match.start()
        if start and not text[start - 1].isspace():
            continue
        offset = utf16_len(text[:start])
        entities.append({"offset": offset, "length": utf16_len(match.group(0)), "type": "bot_command"})
    return entities
