"""Message catalogs (Bahasa Indonesia first, English second), read from gettext .po files with Babel.

Message ids are symbolic keys (``filing.ask_description``); each language's ``msgstr`` is the text,
with ``{name}`` placeholders filled by :meth:`Catalog.t`. Loading the .po files directly keeps the
build free of a compile step, and a missing translation falls back to Indonesian, then to the key.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

DEFAULT_LOCALES_DIR = Path(__file__).with_name("locales")
DOMAIN = "sikesal"


class Catalog:
    def __init__(self, texts: dict[str, dict[str, str]], default_language: str = "id") -> None:
        self._texts = texts
        self.default_language = default_language

    @classmethod
    def load(cls, directory: Path = DEFAULT_LOCALES_DIR, default_language: str = "id") -> Catalog:
        texts: dict[str, dict[str, str]] = {}
        for po_path in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            language = po_path.parent.parent.name
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=language)
            texts[language] = {
                str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.string, str) and m.string
            }
        return cls(texts, default_language)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self._texts)

    def has(self, language: str, key: str) -> bool:
        return key in self._texts.get(language, {})

    def keys(self, language: str) -> set[str]:
        return set(self._texts.get(language, {}))

    def t(self, language: str, key: str, **params: object) -> str:
        text = self._texts.get(language, {}).get(key) or self._texts.get(self.default_language, {}).get(key)
        if text is None:
            return key
        return text.format(**params) if params else text
