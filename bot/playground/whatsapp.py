"""WhatsApp citizens in the playground: their chat transcripts, built from the local Twilio server.

The Twilio server only keeps what the *bot* asked it to send (``messages_to``); what a citizen sends is a
webhook POST it forgets. The playground therefore keeps each WhatsApp chat itself: the citizen's messages
are added when the page sends them (before the webhook is posted, so they always come before the bot's
answer), and a watcher per citizen adds the bot's messages and follows their delivery status
(queued -> sent -> delivered -> read, or failed with Twilio's error code, e.g. 63016 outside the 24-hour
window) as the server's status callbacks happen.
"""

from __future__ import annotations

import email.utils
import itertools
from dataclasses import dataclass, field
from typing import Any

from localapi.twilio import MessageRecord, WhatsAppUser

#: the simulated bot's Twilio account (never leaves this process)
TWILIO_SID = "AC" + "5a" * 16
TWILIO_TOKEN = "playground-twilio-auth-token"
TWILIO_FROM = "whatsapp:+14155238886"

#: WhatsApp numbers of playground citizens: +62 812 0000 0001, ...
NUMBER_PREFIX = "+62812"

#: what the attach menu sends for media the bot cannot use (it answers with a friendly refusal)
VOICE_NOTE = (b"OggS\x00\x02" + bytes(22) + b"\x01\x13OpusHead\x01\x01" + bytes(16), "audio/ogg")
STICKER = (b"RIFF\x1a\x00\x00\x00WEBPVP8 \x0e\x00\x00\x00" + bytes(14), "image/webp")

_ids = itertools.count(1)


def next_entry_id() -> int:
    """Transcript entry ids: increasing across all chats, so the page can sort by them as by message_id."""
    return next(_ids)


def number_for(index: int) -> str:
    return f"{NUMBER_PREFIX}{index:07d}"


def chat_id_for(number: str) -> str:
    """The page's id of a WhatsApp chat (Telegram chats use the numeric chat id)."""
    return f"wa:{number}"


@dataclass(slots=True)
class WaEntry:
    """One bubble of a WhatsApp chat as the page shows it.

    ``kind``: text, photo, location, voice, sticker (the citizen's), template (the bot's approved template),
    clock (a demo note: the clock was advanced). ``status`` of the bot's messages is Twilio's; of the
    citizen's it is ``sending``, ``sent`` (the bot's webhook answered 2xx) or ``failed`` (``error_code`` is the
    webhook's HTTP status then).
    """

    id: int
    from_bot: bool
    date: float
    kind: str = "text"
    body: str = ""
    sid: str | None = None
    status: str = "sending"
    error_code: int | None = None
    error_message: str | None = None
    media_url: str | None = None
    media_type: str | None = None
    location: dict[str, Any] | None = None
    reply_to_sid: str | None = None
    content_sid: str | None = None
    content_variables: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.id, "from_bot": self.from_bot, "date": self.date, "kind": self.kind,
                "body": self.body, "sid": self.sid, "status": self.status, "error_code": self.error_code,
                "error_message": self.error_message, "media_url": self.media_url, "media_type": self.media_type,
                "location": self.location, "reply_to_sid": self.reply_to_sid, "content_sid": self.content_sid,
                "content_variables": self.content_variables}

    def update_from(self, record: MessageRecord) -> None:
        """Take the bot's message's current state from the Twilio server."""
        self.status = record.status
        self.error_code = record.error_code
        message = record.resource.get("error_message")
        self.error_message = str(message) if message else None


def entry_for_record(record: MessageRecord) -> WaEntry:
    """A new transcript entry for a message the bot sent through Twilio."""
    entry = WaEntry(id=next_entry_id(), from_bot=True, date=_unix(record.resource.get("date_created")),
                    body=record.body, sid=record.sid, content_sid=record.content_sid,
                    content_variables=record.content_variables)
    if record.content_sid and not record.body:
        entry.kind = "template"
    if record.media_urls:
        entry.kind = "photo" if entry.kind == "text" else entry.kind
        entry.media_url = record.media_urls[0]
    entry.update_from(record)
    return entry


def _unix(value: Any) -> float:
    try:
        return email.utils.parsedate_to_datetime(str(value)).timestamp()
    except (TypeError, ValueError):
        return 0.0


@dataclass(slots=True)
class WhatsAppCitizen:
    """A simulated WhatsApp user and the playground's transcript of their chat with the bot."""

    user: WhatsAppUser
    entries: list[WaEntry] = field(default_factory=list)
    by_sid: dict[str, WaEntry] = field(default_factory=dict)
    #: sid -> last status seen (the watcher's bookmark)
    seen: dict[str, str] = field(default_factory=dict)

    @property
    def number(self) -> str:
        return self.user.number

    @property
    def chat_id(self) -> str:
        return chat_id_for(self.user.number)

    @property
    def name(self) -> str:
        return self.user.profile_name

    def add(self, entry: WaEntry) -> WaEntry:
        self.entries.append(entry)
        if entry.sid:
            self.by_sid[entry.sid] = entry
        return entry

    def apply(self, record: MessageRecord) -> WaEntry:
        """The entry for the bot's message ``record``: updated if known, else added."""
        entry = self.by_sid.get(record.sid)
        if entry is None:
            return self.add(entry_for_record(record))
        entry.update_from(record)
        return entry

    def to_dict(self) -> dict[str, Any]:
        return {"channel": "whatsapp", "chat_id": self.chat_id, "user_id": self.chat_id, "number": self.number,
                "name": self.name}
