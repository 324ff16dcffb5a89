"""The readable copy of a citizen's data (/dataku), rendered from the export document itself.

Why from the document: the message and the JSON file (or link) must say the same thing, and the document
is what the service builds from the database (:mod:`bot.services.rights`). The message is a summary a
person can read in the chat: every complaint and the newest stored messages, each cut short; what does not
fit in :data:`MAX_PARTS` Telegram messages is left to the file ("… the rest is in the file"). Citizen text is
escaped (HTML), nothing of another citizen or of staff is in the document to begin with.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from handlers.context import FlowContext
from handlers.lifecycle import status_label
from handlers.messages import OutMessage
from handlers.views import category_display, esc, format_time, format_time_short, telegram_length, truncate

#: one Telegram message holds 4096 characters; leave room for the notices merged in front
PART_LIMIT = 3500
#: at most this many messages of summary; the rest is in the file
MAX_PARTS = 3
#: how much of each description and stored message the summary shows
SNIPPET = 160
#: how many stored messages the summary lists (the newest)
MESSAGES_SHOWN = 15


def _when(value: Any, language: str, ctx: FlowContext, *, short: bool = False) -> str:
    if not value:
        return "–"
    try:
        at = datetime.fromisoformat(str(value))
    except ValueError:
        return esc(str(value))
    return format_time_short(at, language, ctx) if short else format_time(at, language, ctx)


def _quote(text: Any) -> str:
    return f"“{esc(truncate(' '.join(str(text or '').split()), SNIPPET))}”"


def _profile_lines(profile: Mapping[str, Any], language: str, ctx: FlowContext) -> list[str]:
    t = ctx.t
    yes_no = {True: t(language, "mydata.yes"), False: t(language, "mydata.no")}
    channel = str(profile.get("channel") or "")
    code = str(profile.get("language") or "")
    spoken = t(code, f"lang.name.{code}") if code in ctx.languages else code or "–"
    return [
        t(language, "mydata.profile_title"),
        t(language, "mydata.name", name=esc(profile.get("name") or "–")),
        t(language, "mydata.channel", channel=esc(channel.capitalize()), id=esc(profile.get("channel_id") or "–")),
        t(language, "mydata.language", name=esc(spoken)),
        t(language, "mydata.shares_name", answer=yes_no[bool(profile.get("shares_name"))]),
        t(language, "mydata.first_contact", at=_when(profile.get("first_contact_at"), language, ctx)),
    ]


def _complaint_lines(complaint: Mapping[str, Any], language: str, ctx: FlowContext) -> list[str]:
    t = ctx.t
    head = t(
        language, "mydata.complaint",
        number=esc(complaint.get("number")),
        category=esc(category_display(complaint.get("category"), language, ctx)),
        status=esc(status_label(str(complaint.get("status") or ""), language, ctx)),
    )
    lines = [head, f"   {_quote(complaint.get('description'))}"]
    dates = t(language, "mydata.complaint_dates", created=_when(complaint.get("created_at"), language, ctx, short=True),
              updated=_when(complaint.get("updated_at"), language, ctx, short=True))
    if complaint.get("rating"):
        dates += " · " + t(language, "mydata.rating", stars="⭐" * int(complaint["rating"]))
    lines.append(f"   {dates}")
    return lines


def _message_line(message: Mapping[str, Any], language: str, ctx: FlowContext) -> str:
    """``• 29 Nov 17:40 “halo”``; a photo or a pin without text is named by its kind."""
    if message.get("text"):
        body = _quote(message.get("text"))
    else:
        key = f"mydata.kind.{message.get('kind') or 'other'}"
        body = ctx.t(language, key if ctx.catalog.has(language, key) else "mydata.kind.other")
    return f"• {_when(message.get('received_at'), language, ctx, short=True)} {body}"


def summary_lines(document: Mapping[str, Any], language: str, ctx: FlowContext) -> list[str]:
    """The summary as lines (blocks separated by empty lines), newest messages last."""
    t = ctx.t
    lines = [t(language, "mydata.title", city=esc(ctx.city_name)), ""]
    lines += _profile_lines(document.get("profile") or {}, language, ctx)
    complaints: Sequence[Mapping[str, Any]] = document.get("complaints") or []
    lines += ["", t(language, "mydata.complaints_title", count=len(complaints))]
    if not complaints:
        lines.append(t(language, "mydata.none"))
    for complaint in complaints:
        lines += _complaint_lines(complaint, language, ctx)
    following: Sequence[Mapping[str, Any]] = document.get("following") or []
    if following:
        lines += ["", t(language, "mydata.following_title", count=len(following))]
        lines += [f"• <b>{esc(f.get('number'))}</b> {esc(status_label(str(f.get('status') or ''), language, ctx))}"
                  for f in following]
    messages: Sequence[Mapping[str, Any]] = document.get("messages") or []
    lines += ["", t(language, "mydata.messages_title", count=len(messages))]
    if not messages:
        lines.append(t(language, "mydata.none"))
    shown = messages[-MESSAGES_SHOWN:]
    if len(messages) > len(shown):
        lines.append(t(language, "mydata.messages_more", count=len(messages) - len(shown)))
    lines += [_message_line(m, language, ctx) for m in shown]
    draft = (document.get("conversation") or {}).get("draft") or {}
    if draft.get("description") or draft.get("category"):
        lines += ["", t(language, "mydata.draft", category=esc(category_display(draft.get("category"), language, ctx)),
                        description=_quote(draft.get("description")) if draft.get("description") else "–")]
    return lines


def render_summary(document: Mapping[str, Any], language: str, ctx: FlowContext) -> list[OutMessage]:
    """The summary in messages under Telegram's limit (at most :data:`MAX_PARTS`); what does not fit is
    pointed to at the end of the last one: the file (or link) holds everything."""
    parts: list[list[str]] = [[]]
    size = 0
    lines = summary_lines(document, language, ctx)
    for line in lines:
        width = telegram_length(line) + 1
        if size + width > PART_LIMIT and parts[-1]:
            if len(parts) == MAX_PARTS:
                parts[-1].append(ctx.t(language, "mydata.cut"))
                break
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += width
    return [OutMessage("\n".join(part).strip()) for part in parts if part]


def export_filename(generated_at: datetime, timezone_date: str | None = None) -> str:
    """``sikesal-data-2026-11-29.json``: the date the copy was made (city date when given)."""
    return f"sikesal-data-{timezone_date or generated_at.date().isoformat()}.json"


__all__ = ["MAX_PARTS", "PART_LIMIT", "export_filename", "render_summary", "summary_lines"]
