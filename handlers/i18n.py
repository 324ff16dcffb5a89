"""Message catalogs (Bahasa Indonesia first, English second), read from gettext .po files with Babel.

Message ids are symbolic keys (``filing.ask_description``); each language's ``msgstr`` is the text,
with ``{name}`` placeholders filled by :meth:`Catalog.t`. Loading the .po files directly keeps the
build free of a compile step, and a missing translation falls back to Indonesian, then to the key.

Files per language (``locales/<lang>/LC_MESSAGES/``):

* ``sikesal.po`` and ``sikesal-<part>.po``: the texts, split by concern so each file stays readable;
  a key may live in one file only;
* ``channel-<channel>.po``: the same keys worded for one channel, where the default wording names
  something that channel does not have ("tekan tombol" on WhatsApp, which shows numbered lists).
  :meth:`Catalog.for_channel` gives the catalog with that overlay; a key the overlay does not have
  keeps its default text.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.pofile import read_po

DEFAULT_LOCALES_DIR = Path(__file__).with_name("locales")
DOMAIN = "sikesal"
#: prefix of a channel overlay's file name: ``channel-whatsapp.po``
CHANNEL_PREFIX = "channel-"

Texts = dict[str, dict[str, str]]  # language -> key -> text


def _read(po_path: Path, language: str) -> dict[str, str]:
    with po_path.open("rb") as fh:
        catalog = read_po(fh, locale=language)
    return {str(m.id): str(m.string) for m in catalog if m.id and isinstance(m.string, str) and m.string}


class Catalog:
    def __init__(
        self, texts: Texts, default_language: str = "id", *, overlays: dict[str, Texts] | None = None
    ) -> None:
        self._texts = texts
        self.default_language = default_language
        #: channel -> language -> key -> text, as read (see :meth:`for_channel`)
        self.overlays: dict[str, Texts] = overlays or {}
        self._for_channel: dict[str, Catalog] = {}

    @classmethod
    def load(cls, directory: Path = DEFAULT_LOCALES_DIR, default_language: str = "id") -> Catalog:
        texts: Texts = {}
        overlays: dict[str, Texts] = {}
        for po_path in sorted(directory.glob("*/LC_MESSAGES/*.po")):
            language = po_path.parent.parent.name
            name = po_path.stem
            if name.startswith(CHANNEL_PREFIX):
                channel = name.removeprefix(CHANNEL_PREFIX)
                overlays.setdefault(channel, {}).setdefault(language, {}).update(_read(po_path, language))
                continue
            if name != DOMAIN and not name.startswith(f"{DOMAIN}-"):
                continue
            found = _read(po_path, language)
            known = texts.setdefault(language, {})
            twice = sorted(set(found) & set(known))
            if twice:
                raise ValueError(f"{po_path}: keys already defined in another file: {', '.join(twice[:5])}")
            known.update(found)
        return cls(texts, default_language, overlays=overlays)

    def for_channel(self, channel: str | None) -> Catalog:
        """This catalog with ``channel``'s wording where it has its own (itself when it has none)."""
        if not channel or channel not in self.overlays:
            return self
        cached = self._for_channel.get(channel)
        if cached is None:
            merged = {
                language: {**texts, **self.overlays[channel].get(language, {})}
                for language, texts in self._texts.items()
            }
            cached = self._for_channel[channel] = Catalog(merged, self.default_language, overlays=self.overlays)
        return cached

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
