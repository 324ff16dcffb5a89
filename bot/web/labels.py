"""Small words the dashboard's pages share (issue 13's clerk review): an agency's short name, and a web
actor's name without the "(via web)" its audit entry carries for the group chats.

Why here: the header (:mod:`bot.web.context`) and the pages (:mod:`bot.web.pages`) both name agencies by
their short name, and should agree on the fallback for one config.yaml no longer lists.
"""

from __future__ import annotations

from bot.config import AppConfig
from handlers.context import FlowContext

#: the catalog text a web action's audit name is made from (bot.services.web_actions)
VIA_WEB_KEY = "web.actions.via_web"


def agency_short(config: AppConfig, key: str) -> str:
    """"PUPR": the agency's short name, else its key in capitals; a key config.yaml no longer has, as it is."""
    found = config.agencies.get(key)
    return (found.short or key.upper()) if found is not None else key


def web_actor(name: str, ctx: FlowContext, languages: tuple[str, ...] = ("id", "en")) -> str:
    """"ani" from "ani (via web)": the audit row already says "petugas, web" and "lewat web", so the page does
    not say it a third time. A name without the suffix is returned as it is."""
    for language in languages:
        suffix = ctx.t(language, VIA_WEB_KEY, name="")
        if suffix and name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


__all__ = ["VIA_WEB_KEY", "agency_short", "web_actor"]
