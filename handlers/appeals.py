"""The command centre's appeal card, rendered purely: a rejected complaint's appeal with its three outcomes
(*Tolak keberatan*, *Buka kembali*, *Alihkan*), the agency picker of *Alihkan*, and the card once decided.

The buttons (``ap:<verb>:<complaint id>[:<agency>]``) are handled by :mod:`bot.services.followup_appeals`,
registered for the ``ap`` prefix in :mod:`bot.services.staff_extensions`. Staff texts are Indonesian by
default, like every group text (:mod:`handlers.cards`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from handlers.blocking import block_button
from handlers.context import FlowContext
from handlers.messages import Button, OutMessage
from handlers.text import parse_id
from handlers.views import ComplaintView, category_display, esc, truncate

PREFIX = "ap"
_AGENCY_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class AppealVerb(StrEnum):
    UPHOLD = "uphold"  # the rejection stands: the command centre is asked why (reply prompt)
    REOPEN = "reopen"  # back to the same agency, dibuka kembali
    MOVE = "move"  # show the agency picker
    TO = "to"  # ap:to:<id>:<agency>: reassign there
    BACK = "back"  # leave the picker


@dataclass(frozen=True, slots=True)
class AppealPress:
    verb: AppealVerb
    complaint_id: int
    agency: str | None = None


def appeal_payload(verb: AppealVerb, complaint_id: int, agency: str | None = None) -> str:
    return f"{PREFIX}:{verb.value}:{int(complaint_id)}" + (f":{agency}" if agency else "")


def parse_appeal(payload: str) -> AppealPress | None:
    """``ap:reopen:42`` / ``ap:to:42:dlh``; None for anything else (never raises)."""
    parts = payload.split(":") if isinstance(payload, str) and len(payload) <= 64 else []
    if len(parts) not in (3, 4) or parts[0] != PREFIX:
        return None
    try:
        verb = AppealVerb(parts[1])
    except ValueError:
        return None
    complaint_id = parse_id(parts[2])
    agency = parts[3] if len(parts) == 4 else None
    if complaint_id is None or (verb == AppealVerb.TO) != (agency is not None):
        return None
    if agency is not None and not _AGENCY_KEY.fullmatch(agency):
        return None
    return AppealPress(verb, complaint_id, agency)


def _short(agency: str, language: str, ctx: FlowContext) -> str:
    info = ctx.agency(agency)
    return (info.short or info.name(language)) if info else agency


def _card_text(view: ComplaintView, reason: str, reject_reason: str, ctx: FlowContext, language: str) -> str:
    return ctx.t(
        language,
        "staff.appeal.card",
        number=esc(view.number),
        category=esc(category_display(view.category, language, ctx)),
        agency=esc(_short(view.agency, language, ctx)),
        description=esc(truncate(view.description or "", 600)),
        reject_reason=esc(truncate(reject_reason or "—", 400)),
        reporter=esc(view.reporter_alias),
        reason=esc(truncate(reason, 1500)),
    )


def render_appeal_card(
    view: ComplaintView, reason: str, reject_reason: str, ctx: FlowContext, *, language: str = "id"
) -> OutMessage:
    """The appeal as the command centre first sees it, with its three outcomes (and *🚫 Blokir pelapor*,
    :mod:`handlers.blocking`, on its own row)."""
    t = ctx.t
    rows = (
        (Button(t(language, "staff.appeal.uphold"), appeal_payload(AppealVerb.UPHOLD, view.id)),),
        (Button(t(language, "staff.appeal.reopen"), appeal_payload(AppealVerb.REOPEN, view.id)),
         Button(t(language, "staff.appeal.move"), appeal_payload(AppealVerb.MOVE, view.id))),
        (block_button(view.id, ctx, language),),
    )
    return OutMessage(_card_text(view, reason, reject_reason, ctx, language), buttons=rows)


def render_appeal_picker(
    view: ComplaintView, reason: str, reject_reason: str, ctx: FlowContext, *, language: str = "id"
) -> OutMessage:
    """*Alihkan*: the other agencies, two per row, and the way back."""
    choices = [Button(_short(a.key, language, ctx), appeal_payload(AppealVerb.TO, view.id, a.key))
               for a in ctx.agencies if a.key != view.agency]
    rows = [tuple(choices[i : i + 2]) for i in range(0, len(choices), 2)]
    rows.append((Button(ctx.t(language, "staff.appeal.back"), appeal_payload(AppealVerb.BACK, view.id)),))
    text = "\n\n".join([_card_text(view, reason, reject_reason, ctx, language),
                        ctx.t(language, "staff.appeal.pick", number=esc(view.number))])
    return OutMessage(text, buttons=tuple(rows))


def render_appeal_decided(
    view: ComplaintView, reason: str, reject_reason: str, outcome: str, ctx: FlowContext, *, language: str = "id"
) -> OutMessage:
    """The card once decided: what was decided and by whom (``outcome``, already rendered), no buttons."""
    return OutMessage("\n\n".join([_card_text(view, reason, reject_reason, ctx, language), outcome]))


__all__ = [
    "PREFIX", "AppealPress", "AppealVerb", "appeal_payload", "parse_appeal", "render_appeal_card",
    "render_appeal_decided", "render_appeal_picker",
]
