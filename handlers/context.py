"""What the core needs to know about the city's configuration, as plain frozen data.

:mod:`bot.config` builds this from config.yaml; tests build it directly. Keeping a separate view
means the core never imports the configuration loader (or pydantic).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from handlers.i18n import Catalog


@dataclass(frozen=True, slots=True)
class CategoryInfo:
    key: str  # short ascii key, used in button payloads and stored on complaints
    emoji: str
    labels: dict[str, str]  # language -> label
    photo_required: bool = False
    target_hours: float = 72

    def label(self, language: str) -> str:
        return self.labels.get(language) or self.labels.get("id") or self.key


@dataclass(frozen=True, slots=True)
class AgencyInfo:
    key: str
    names: dict[str, str]  # language -> name
    short: str = ""  # e.g. "PUPR"

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names.get("id") or self.key


@dataclass(frozen=True, slots=True)
class Limits:
    description_min: int = 10
    description_max: int = 1000
    photos_max: int = 3
    photo_max_bytes: int = 10 * 1024 * 1024
    address_min: int = 5
    address_max: int = 300
    #: seconds within which a text that follows a description is taken as its continuation: Telegram
    #: clients split a paste over 4096 characters into several messages that arrive a second apart
    paste_window_s: float = 3.0
    #: only a message at least this long (UTF-16 units) can have been cut by the client (Telegram's
    #: apps cut at 4096, a little before at a line break or a space): a short answer typed quickly
    #: after a short description answers the next question
    paste_part_min: int = 3072
    #: seconds after which a "which number?" detour nobody answered is forgotten (the next message is
    #: read as new, not as a tracking number): a citizen coming back a day later is not stuck in it
    detour_expiry_s: float = 30 * 60
    #: answers a waiting step cannot use, in a row, before the bot offers the menu (and the draft)
    misses_before_menu: int = 2


@dataclass(frozen=True, slots=True)
class FlowContext:
    """Everything static the core consults: categories, agencies, limits, texts."""

    categories: tuple[CategoryInfo, ...]
    agencies: tuple[AgencyInfo, ...]
    catalog: Catalog
    limits: Limits = field(default_factory=Limits)
    city_name: str = "Kota Jambi"
    timezone: str = "Asia/Jakarta"  # shown times are local (WIB for Jambi)
    tracking_prefix: str = "JMB"
    languages: tuple[str, ...] = ("id", "en")
    #: agencies whose cards offer *💬 Balasan cepat* (they have canned replies in config)
    canned_agencies: frozenset[str] = frozenset()
    #: (inactive citizen days, message days) after which personal data is purged (config ``privacy``;
    #: 0 = kept); /privasi says them
    retention_days: tuple[int, int] = (730, 90)

    def for_channel(self, channel: str | None) -> FlowContext:
        """The same context speaking ``channel``'s words (see :meth:`Catalog.for_channel`): the citizen
        service and every renderer for a citizen use it, so WhatsApp never says "tekan tombol"."""
        catalog = self.catalog.for_channel(channel)
        return self if catalog is self.catalog else replace(self, catalog=catalog)

    def category(self, key: str | None) -> CategoryInfo | None:
        return next((c for c in self.categories if c.key == key), None)

    def agency(self, key: str | None) -> AgencyInfo | None:
        return next((a for a in self.agencies if a.key == key), None)

    def t(self, language: str, key: str, **params: object) -> str:
        return self.catalog.t(language, key, **params)
