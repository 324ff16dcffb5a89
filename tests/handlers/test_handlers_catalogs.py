"""Both catalogs have the same keys and the same placeholders per key; every key the code uses exists."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

from handlers.i18n import Catalog

CATALOG = Catalog.load()
HANDLERS = Path(__file__).resolve().parents[2] / "handlers"
_KEY = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_both_languages_present() -> None:
    assert set(CATALOG.languages) == {"id", "en"}


def test_same_keys() -> None:
    assert CATALOG.keys("id") == CATALOG.keys("en")
    assert len(CATALOG.keys("id")) > 100


def test_same_placeholders_per_key() -> None:
    for key in CATALOG.keys("id"):
        assert _placeholders(CATALOG.t("id", key)) == _placeholders(CATALOG.t("en", key)), key


def test_every_text_formats_and_is_not_empty() -> None:
    for language in ("id", "en"):
        for key in CATALOG.keys(language):
            raw = CATALOG.t(language, key)
            filled = raw.format(**{name: "X" for name in _placeholders(raw)})
            assert filled.strip(), key
            assert "<script" not in filled


def _string_constants() -> set[str]:
    found: set[str] = set()
    for path in HANDLERS.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _KEY.match(node.value):
                found.add(node.value)
    return found


def test_every_literal_key_in_code_exists() -> None:
    ignored = {"handlers.events", "handlers.flow"}
    missing = {k for k in _string_constants() - ignored if not CATALOG.has("id", k)}
    assert not missing, missing


def test_dynamic_key_families_exist() -> None:
    for status in ("baru", "diterima", "diproses", "selesai", "ditolak"):
        assert CATALOG.has("id", f"status.{status}") and CATALOG.has("id", f"status.{status}.desc")
    for action in ("accept", "process", "resolve", "reject", "reassign"):
        assert CATALOG.has("id", f"action.{action}")
    for kind in ("sticker", "voice", "video", "audio", "contact", "poll", "document", "animation", "video_note"):
        assert CATALOG.has("id", f"unexpected.{kind}")
    for status in ("diterima", "diproses", "selesai", "ditolak"):
        assert CATALOG.has("id", f"notify.{status}")


def test_channel_overlays_only_reword_existing_keys() -> None:
    """An overlay (``channel-whatsapp.po``) rewords keys the base has, with the same placeholders,
    in both languages; the rest of the catalog is the base's."""
    for channel, by_language in CATALOG.overlays.items():
        assert set(by_language) <= {"id", "en"}, channel
        assert set(by_language.get("id", {})) == set(by_language.get("en", {})), channel
        worded = CATALOG.for_channel(channel)
        for language, texts in by_language.items():
            for key, text in texts.items():
                assert CATALOG.has(language, key), (channel, key)
                assert _placeholders(text) == _placeholders(CATALOG.t(language, key)), (channel, key)
                assert worded.t(language, key) == text
        assert worded.keys("id") == CATALOG.keys("id")
    assert CATALOG.for_channel("telegram") is CATALOG
    assert CATALOG.for_channel(None) is CATALOG
