"""Unit tests of the Telegram-style text formatting and the generated JPEG."""

from __future__ import annotations

import pytest

from localapi.telegram.errors import TelegramAPIError
from localapi.telegram.formatting import detect_user_entities, format_text, parse_html
from localapi.telegram.media import image_size, make_jpeg


def test_pre_with_language_and_nested_entities() -> None:
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre> <b>a <i>b</i></b>')
    assert text == "x = 1 a b"
    assert entities == [
        {"offset": 0, "length": 5, "type": "pre", "language": "python"},
        {"offset": 6, "length": 3, "type": "bold"},
        {"offset": 8, "length": 1, "type": "italic"},
    ]


def test_entities_unescaped_and_unknown_kept() -> None:
    text, _ = parse_html("a &amp; b &quot;c&quot; &lt;d&gt; &#33; &copy x")
    assert text == 'a & b "c" <d> ! &copy x'


@pytest.mark.parametrize(
    ("html", "fragment"),
    [("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
     ("x</b>", "Unexpected end tag at byte offset 1"),
     ("<a href='x'", "Unclosed start tag at byte offset 0"),
     ("1 < 2", 'Unsupported start tag "" at byte offset 2'),
     ("é<foo>", 'Unsupported start tag "foo" at byte offset 2')],
)
def test_html_errors(html: str, fragment: str) -> None:
    with pytest.raises(TelegramAPIError) as info:
        parse_html(html)
    assert info.value.error_code == 400
    assert info.value.description == f"Bad Request: can't parse entities: {fragment}"


def test_trimming_shifts_entities() -> None:
    text, entities = format_text("\n  <b>hi</b> ", "HTML", None)
    assert text == "hi" and entities == [{"offset": 0, "length": 2, "type": "bold"}]


def test_markdown_v2() -> None:
    text, entities = format_text("*a* _b_ __c__ ~d~ ||e|| `f` [g](https://x.org)", "MarkdownV2", None)
    assert text == "a b c d e f g"
    assert [e["type"] for e in entities] == ["bold", "italic", "underline", "strikethrough", "spoiler", "code",
                                              "text_link"]
    with pytest.raises(TelegramAPIError, match="Can't find end of Bold entity"):
        format_text("*open", "MarkdownV2", None)


def test_user_commands() -> None:
    assert detect_user_entities("/lapor@sikesal_bot now") == [{"offset": 0, "length": 18, "type": "bot_command"}]


def test_jpeg_header() -> None:
    data = make_jpeg(100, 50, gray=200)
    assert data.startswith(b"\xff\xd8") and data.endswith(b"\xff\xd9")
    assert image_size(data) == (100, 50)
