"""handlers.text: hostile text made harmless at the edge, visible lengths, and numbers from payloads."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from handlers.text import MAX_ID, clean_text, clean_tree, parse_id, parse_int, visible_length

FAMILY = "👨\u200d👩\u200d👧"  # man ZWJ woman ZWJ girl
RAINBOW_FLAG = "🏳\ufe0f\u200d🌈"
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"
HEART_TEXT_STYLE = "\u2764\ufe0e"
THUMBS_DARK = "👍🏿"
KEYCAP_ONE = "1\ufe0f\u20e3"
INVISIBLE = "\u200b\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068\u2069\u061c\ufeff\u00ad\u180e"

# every kind of character, surrogates included (they arrive from JSON "\ud800" escapes)
any_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=80)
emoji_sequences = st.sampled_from([FAMILY, RAINBOW_FLAG, ENGLAND, HEART_TEXT_STYLE, THUMBS_DARK, KEYCAP_ONE,
                                   "👩🏽\u200d💻", "🇮🇩"])
invisible_text = st.text(st.sampled_from([*INVISIBLE, " ", "\n", "\t", "\r", "\x00", "\u3164", "\u2800", "\ufe0f",
                                          "\u0301", "\U000e0067", "\u200d", "\u200c", "\u3000", "\u2028"]),
                         max_size=40)


# --- clean_text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Jalan\x00 rusak", "Jalan rusak"),
        ("baris satu\r\nbaris dua\rbaris tiga", "baris satu\nbaris dua\nbaris tiga"),
        ("kolom\tkolom", "kolom kolom"),
        ("\x07\x1b[31mmerah\x1b[0m\x7f\x85", "[31mmerah[0m\n"),
        ("\u202egnalrep\u202c", "gnalrep"),
        ("a\u200bb\u2060c\ufeffd\u00ade", "abcde"),
        ("e\u0301", "\u00e9"),  # NFC
        ("e\u200b\u0301", "\u00e9"),  # NFC after the zero-width space is gone
        ("lone \ud800 surrogate \udfff", "lone  surrogate "),
        ("\u2028\u2029", "\n\n"),
        ("\U000e0067\U000e0062 hidden tags", " hidden tags"),
        ("\U000e0001\U000e0065\U000e006e", ""),
    ],
)
def test_clean_text_examples(raw: str, clean: str) -> None:
    assert clean_text(raw) == clean


@pytest.mark.parametrize("kept", [FAMILY, RAINBOW_FLAG, ENGLAND, HEART_TEXT_STYLE, THUMBS_DARK, KEYCAP_ONE,
                                  "می\u200cخواهم", "क्\u200dष", "\u0600\u0661\u0662", "Kota Jambi 🚧 Jl. Sudirman"])
def test_what_emoji_and_scripts_need_is_kept(kept: str) -> None:
    assert clean_text(kept) == unicodedata.normalize("NFC", kept)


@settings(max_examples=300)
@given(any_text)
@example("\r\x00\n")
@example("\U0001f3f4\u200b\U000e0067\U000e007f")
@example("e\u200b\u0301")
def test_clean_text_is_idempotent(raw: str) -> None:
    once = clean_text(raw)
    assert clean_text(once) == once


@settings(max_examples=300)
@given(any_text)
def test_clean_text_leaves_no_control_characters_but_newlines_and_always_encodes(raw: str) -> None:
    cleaned = clean_text(raw)
    assert "\x00" not in cleaned
    assert all(ch == "\n" or unicodedata.category(ch) != "Cc" for ch in cleaned)
    assert not any(unicodedata.category(ch) == "Cs" for ch in cleaned)
    assert not any(ch in INVISIBLE for ch in cleaned)
    cleaned.encode("utf-8")  # what the database and the HTTP clients do: never raises
    assert unicodedata.is_normalized("NFC", cleaned)


@given(st.lists(st.one_of(emoji_sequences, st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=5)), max_size=8))
def test_emoji_sequences_survive_in_any_text(parts: list[str]) -> None:
    text = "".join(parts)
    assert clean_text(text) == text


def test_clean_tree_cleans_values_and_keys_and_copies() -> None:
    raw = {"Body\x00": "halo\u202e", "nested": [{"a": "b\x00"}, 1, 2.5, True, None, ("t\r\n",)], 7: "x\u200b"}
    cleaned = clean_tree(raw)
    assert cleaned == {"Body": "halo", "nested": [{"a": "b"}, 1, 2.5, True, None, ("t\n",)], 7: "x"}
    assert raw["Body\x00"] == "halo\u202e", "the input is not changed"
    assert clean_tree("\x00") == "" and clean_tree(None) is None and clean_tree(3) == 3


json_tree = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=20,
)


@given(json_tree)
def test_clean_tree_is_idempotent_and_leaves_no_nul(tree: object) -> None:
    once = clean_tree(tree)
    assert clean_tree(once) == once
    assert "\\u0000" not in repr(once) and "\x00" not in repr(once)


# --- visible_length -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "length"),
    [
        (FAMILY, 1), (ENGLAND, 1), (RAINBOW_FLAG, 1), ("e\u0301", 1), ("   ", 0), ("\u200b\u200b", 0), ("", 0),
        ("Jalan rusak", 10), ("\u3164\u3164\u2800", 0), ("\ufe0f\u0301", 0), ("🇮🇩🇮🇩", 2), ("a\u200db", 2),
        ("สวัสดี", 4), ("\u202e\u200b x \u3000", 1),
    ],
)
def test_visible_length_examples(text: str, length: int) -> None:
    assert visible_length(text) == length


@given(invisible_text)
def test_visible_length_of_invisible_text_is_zero(text: str) -> None:
    assert visible_length(text) == 0
    assert visible_length(clean_text(text)) == 0


@given(any_text)
def test_visible_length_is_at_most_the_code_point_count(text: str) -> None:
    assert 0 <= visible_length(text) <= len(text)


# --- parse_id / parse_int ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1", 1), ("42", 42), (str(MAX_ID), MAX_ID), ("0042", 42),
        ("0", None), (str(MAX_ID + 1), None), ("99999999999999999999", None), ("-1", None), ("+1", None),
        (" 1", None), ("1 ", None), ("1_000", None), ("١٢٣", None), ("１２", None), ("²", None), ("", None),
        ("1.0", None), ("0x10", None), ("9" * 5000, None),
    ],
)
def test_parse_id(raw: str, value: int | None) -> None:
    assert parse_id(raw) == value


def test_parse_id_of_a_non_string_is_none() -> None:
    assert parse_id(None) is None and parse_id(42) is None and parse_id(b"42") is None


@given(st.text(max_size=30))
def test_parse_id_never_raises_and_stays_in_range(raw: str) -> None:
    value = parse_id(raw)
    assert value is None or 1 <= value <= MAX_ID


@given(st.integers(min_value=1, max_value=MAX_ID))
def test_parse_id_round_trips(value: int) -> None:
    assert parse_id(str(value)) == value


@given(st.text(max_size=6), st.integers(0, 5), st.integers(0, 5))
def test_parse_int_stays_within_bounds(raw: str, low: int, high: int) -> None:
    value = parse_int(raw, low, high)
    assert value is None or low <= value <= high
