"""A citizen's data rights in the conversation: /dataku (a copy of their data) and /privasi (the short
privacy notice). Pure: the copy itself is built by the service (:mod:`bot.services.rights`) from the
database, as :class:`handlers.effects.ExportData` asks; both keep a draft in progress and re-ask its step."""

from __future__ import annotations

from handlers.effects import ExportData
from handlers.flow.drafting import _leave_detour
from handlers.flow.prompts import _back_to_draft, _reprompt
from handlers.flow.turn import Reply, Turn
from handlers.state import Step


def on_my_data(turn: Turn) -> Reply:
    """/dataku, "data saya": the service answers with the summary and the file (or link); a draft waits."""
    if turn.conv.step == Step.STATUS_NUMBER:
        _leave_detour(turn.conv)
    return Reply(effects=[ExportData()], followup=_back_to_draft(turn))


def _kept(turn: Turn, days: int, key: str) -> str:
    """"for 90 days" or, when the rule is off (0), "until you erase it"."""
    return turn.t(f"privacy.{key}_days", days=days) if days > 0 else turn.t(f"privacy.{key}_kept")


def on_privacy(turn: Turn) -> Reply:
    """/privasi, "privasi": what is stored, who sees it, for how long, how to get a copy or erase it;
    then the current question again (like /bantuan)."""
    inactive, messages = turn.ctx.retention_days
    text = turn.t(
        "privacy.text",
        city=turn.ctx.city_name,
        inactive=_kept(turn, inactive, "inactive"),
        messages=_kept(turn, messages, "messages"),
    )
    return _reprompt(turn, text)
