"""/dataku: everything SiKesal holds about one citizen, as a JSON document and a readable summary.

What is in it (and nothing else): the citizen's row (name, channel and its id, language, whether they share
their name, first and last contact), their own complaints (number, status, category, description, place,
dates, rating, the reason a rejection gave, their history without staff names: who acted is "staff", the
agency is named), the complaints they follow (number and status only: the other reporter's words are not
theirs), the messages they wrote that are stored (``inbound_messages`` rows of their chat: the text or the
kind of message) and the conversation state (a draft being written). Another citizen's data cannot get in:
every query is by this citizen's id or chat.

Telegram gets the summary plus the JSON as a file (sendDocument, ``sikesal-data-<date>.json``); WhatsApp gets
the summary plus a link to the JSON at an expiring signed path (:mod:`bot.export_links`), built when opened.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from bot.services.runtime import Runtime
from handlers.messages import MAX_DOCUMENT_BYTES, OutDocument, OutMessage
from handlers.rights import export_filename, render_summary
from handlers.views import agency_display, to_local
from storage.erasure import inbox_senders
from storage.models import AuditEntry, Citizen, Complaint, ComplaintFollower, ConversationRow, InboundMessage
from storage.uow import UnitOfWork

FORMAT = "sikesal-data-export/1"
TELEGRAM = "telegram"
#: at most this many complaints and messages go into one copy (a flood must not make a 50 MB file)
MAX_ROWS = 5000
#: the JSON file stays under Telegram's 50 MB for bots, with room for the multipart envelope
DOCUMENT_LIMIT = MAX_DOCUMENT_BYTES - 1024 * 1024


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def message_entry(channel: str, payload: Mapping[str, Any], received_at: datetime | None) -> dict[str, Any] | None:
    """What the citizen sent in one stored inbound row: its text (or caption) and kind; None for updates
    that are not something they wrote (a membership change)."""
    text: str | None = None
    kind = "other"
    if channel == TELEGRAM:
        message = payload.get("message") or payload.get("edited_message")
        if isinstance(message, dict):
            text = message.get("text") or message.get("caption")
            kind = "text" if message.get("text") else "photo" if message.get("photo") else (
                "location" if message.get("location") else "other")
        elif isinstance(payload.get("callback_query"), dict):
            kind = "button"
        elif payload:
            return None
    else:
        text = str(payload.get("Body") or "") or None
        kind = "text" if text else "photo" if str(payload.get("NumMedia") or "0") not in ("", "0") else (
            "location" if payload.get("Latitude") else "other")
    return {"received_at": _iso(received_at), "kind": kind, "text": text}


def _history(entries: list[AuditEntry], rt: Runtime, language: str) -> list[dict[str, Any]]:
    """The trail without staff identities; the citizen's own words (replies, appeal) are theirs."""
    ctx = rt.ctx
    return [
        {
            "at": _iso(entry.at),
            # an officer acting from the web dashboard is staff to the citizen ("web" is where, not who)
            "by": "staff" if entry.actor_kind == "web" else (
                entry.actor_kind if entry.actor_kind in ("citizen", "staff", "system") else "system"
            ),
            "action": entry.action,
            "from_status": entry.from_status,
            "to_status": entry.to_status,
            "agency": agency_display(entry.to_agency, language, ctx) if entry.to_agency else None,
            "note": entry.note if entry.actor_kind == "citizen" and not entry.refused else None,
        }
        for entry in entries
    ]


def _complaint(complaint: Complaint, history: list[AuditEntry], rt: Runtime, language: str) -> dict[str, Any]:
    return {
        "number": complaint.number,
        "status": complaint.status,
        "category": complaint.category,
        "description": complaint.description,
        "address": complaint.address,
        "kecamatan": complaint.kecamatan,
        "kelurahan": complaint.kelurahan,
        "latitude": complaint.latitude,
        "longitude": complaint.longitude,
        "agency": agency_display(complaint.agency, language, rt.ctx),
        "privacy": complaint.privacy or "",
        "name_shown_to_staff": bool(complaint.reporter_name),
        "photos": len(complaint.photos),
        "created_at": _iso(complaint.created_at),
        "updated_at": _iso(complaint.updated_at),
        "resolved_at": _iso(complaint.resolved_at),
        "reject_reason": complaint.reject_reason,
        "rating": complaint.rating,
        "rating_comment": complaint.rating_comment,
        "appeal_reason": complaint.appeal_reason,
        "history": _history(history, rt, language),
    }


async def collect(rt: Runtime, uow: UnitOfWork, citizen: Citizen, *, now: datetime | None = None) -> dict[str, Any]:
    """The export document (JSON-ready) of ``citizen``, from this transaction's view of the database."""
    language = citizen.language or rt.ctx.catalog.default_language
    session = uow.session
    complaints = list((await session.scalars(
        select(Complaint).where(Complaint.citizen_id == citizen.id).order_by(Complaint.created_at, Complaint.id)
        .limit(MAX_ROWS)
    )).all())
    documents = []
    for complaint in complaints:
        history = await uow.audit.history(complaint.id)
        documents.append(_complaint(complaint, history, rt, language))
    followed = (await session.execute(
        select(Complaint.number, Complaint.status, ComplaintFollower.created_at)
        .join(ComplaintFollower, ComplaintFollower.complaint_id == Complaint.id)
        .where(ComplaintFollower.citizen_id == citizen.id)
        .order_by(ComplaintFollower.created_at)
    )).all()
    rows = (await session.execute(
        select(InboundMessage.payload, InboundMessage.received_at)
        .where(InboundMessage.channel == citizen.channel,
               InboundMessage.sender.in_(inbox_senders(citizen.channel, citizen.channel_user_id)))
        .order_by(InboundMessage.seq, InboundMessage.id)
        .limit(MAX_ROWS)
    )).all()
    messages = [e for payload, at in rows if (e := message_entry(citizen.channel, payload or {}, at)) is not None]
    conversation = await session.get(ConversationRow, citizen.id)
    state = dict(conversation.state or {}) if conversation is not None else {}
    draft = state.get("draft") or {}
    return {
        "format": FORMAT,
        "service": f"SiKesal {rt.ctx.city_name}",
        "generated_at": _iso(now or rt.clock()),
        "profile": {
            "name": citizen.display_name,
            "channel": citizen.channel,
            "channel_id": citizen.channel_user_id,
            "language": citizen.language,
            "shares_name": bool(citizen.share_name),
            "first_contact_at": _iso(citizen.created_at),
            "last_message_at": _iso(citizen.last_inbound_at),
        },
        "complaints": documents,
        "following": [{"number": n, "status": s, "since": _iso(at)} for n, s, at in followed],
        "messages": messages,
        "conversation": {
            "step": conversation.step if conversation is not None else None,
            "updated_at": _iso(conversation.updated_at) if conversation is not None else None,
            "draft": {
                key: draft.get(key)
                for key in ("category", "description", "address", "latitude", "longitude", "kecamatan", "kelurahan")
                if draft.get(key) not in (None, "", [])
            } | ({"photos": len(draft["photos"])} if draft.get("photos") else {}),
        },
    }


def as_file(document: dict[str, Any]) -> str:
    """The JSON text, within what Telegram takes from a bot: a citizen whose stored messages alone would pass
    :data:`DOCUMENT_LIMIT` gets the newest ones and ``messages_truncated`` (the summary still counts them all)."""
    content = json.dumps(document, ensure_ascii=False, indent=2)
    while len(content.encode()) > DOCUMENT_LIMIT and document.get("messages"):
        messages = document["messages"]
        document = {**document, "messages": messages[len(messages) // 2 + 1:], "messages_truncated": True}
        content = json.dumps(document, ensure_ascii=False, indent=2)
    return content


def filename_for(rt: Runtime, now: datetime) -> str:
    return export_filename(now, to_local(now, rt.ctx.timezone).date().isoformat())


async def export_messages(rt: Runtime, uow: UnitOfWork, citizen: Citizen, language: str) -> list[OutMessage]:
    """The answer to /dataku: the summary, then the file (Telegram) or the link (WhatsApp)."""
    now = rt.clock()
    document = await collect(rt, uow, citizen, now=now)
    ctx = rt.ctx_for(citizen.channel)
    messages = render_summary(document, language, ctx)
    if citizen.channel == TELEGRAM:
        content = as_file(document)
        caption = ctx.t(language, "mydata.file_caption")
        messages.append(OutMessage(caption, document=OutDocument(filename_for(rt, now), content)))
        return messages
    links = rt.exports
    url = links.url(citizen.id) if links is not None else None
    if links is None or url is None:
        messages.append(OutMessage(ctx.t(language, "mydata.no_link", city=ctx.city_name)))
    else:
        messages.append(OutMessage(ctx.t(language, "mydata.link", url=url, minutes=links.minutes)))
    return messages


async def build_for_link(rt: Runtime, citizen_id: int) -> tuple[dict[str, Any], str] | None:
    """What a signed /export link serves: the document built now (None: no such citizen, or erased)."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizen = await uow.citizens.get(citizen_id)
        if citizen is None or citizen.erased_at is not None:
            return None
        now = rt.clock()
        return await collect(rt, uow, citizen, now=now), filename_for(rt, now)
