"""Routing: (category, kecamatan) -> agency, first matching rule wins.

Pure and built once from the configuration, so the filing transaction only does a list walk. A rule may
name a category, a kecamatan, or both; a rule without a kecamatan matches everywhere (and a complaint
with no known kecamatan, e.g. a typed address nobody could place, only matches such rules). After the
rules comes the category's own agency, then the fallback (triage at the command centre).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    agency: str
    category: str | None = None
    kecamatan: str | None = None

    def matches(self, category: str, kecamatan: str | None) -> bool:
        if self.category is not None and self.category != category:
            return False
        return self.kecamatan is None or (kecamatan is not None and self.kecamatan.casefold() == kecamatan.casefold())


@dataclass(frozen=True, slots=True)
class Router:
    """``rules`` are tried in order; then the category's own agency; then the fallback (triage)."""

    rules: tuple[Rule, ...]
    category_agency: dict[str, str]
    fallback_agency: str

    def route(self, category: str, kecamatan: str | None = None) -> str:
        for rule in self.rules:
            if rule.matches(category, kecamatan):
                return rule.agency
        return self.category_agency.get(category, self.fallback_agency)
