"""Routing: category (and later area) -> agency, first matching rule wins.

Pure and built once from the configuration, so the filing transaction only does a dict lookup.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rule:
    category: str
    agency: str


@dataclass(frozen=True, slots=True)
class Router:
    """``rules`` are tried in order; then the category's own agency; then the fallback (triage)."""

    rules: tuple[Rule, ...]
    category_agency: dict[str, str]
    fallback_agency: str

    def route(self, category: str) -> str:
        for rule in self.rules:
            if rule.category == category:
                return rule.agency
        return self.category_agency.get(category, self.fallback_agency)
