"""Outgoing messages, channel-neutral.

The core produces :class:`OutMessage`; the outbox stores it as JSON (:meth:`OutMessage.to_dict`);
a channel sender turns it into API calls. ``text`` is HTML (Telegram's subset: b, i, u, code, a):
every piece of citizen text put into it must go through :func:`html.escape` first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from handlers.events import MediaRef

#: Telegram refuses callback_data over 64 bytes; every payload the core makes must fit.
MAX_PAYLOAD_BYTES = 64


@dataclass(frozen=True, slots=True)
class Button:
    """An inline button. ``payload`` travels back as :class:`handlers.events.ButtonPress`."""

    label: str
    payload: str

    def __post_init__(self) -> None:
        if not self.payload or len(self.payload.encode()) > MAX_PAYLOAD_BYTES:
            raise ValueError(f"button payload must be 1-64 bytes: {self.payload!r}")


@dataclass(frozen=True, slots=True)
class KeyboardButton:
    """A reply-keyboard button: typing ``label`` for the citizen, or sharing their location."""

    label: str
    request_location: bool = False


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A message we sent earlier, named by what it is rather than by a channel message id.

    ``kind`` is ``card`` (the agency card of complaint ``complaint_id``) or ``message`` (a raw
    ``chat_id``/``message_id`` pair already known). Resolved by the sender at delivery time, so a
    reply to a card that is still queued waits for it.
    """

    kind: str
    complaint_id: int | None = None
    message_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "complaint_id": self.complaint_id, "message_id": self.message_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MessageRef:
        return cls(kind=data["kind"], complaint_id=data.get("complaint_id"), message_id=data.get("message_id"))


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One thing to say. Photos go first (as one photo with caption, or an album plus the text)."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    keyboard: tuple[tuple[KeyboardButton, ...], ...] = ()
    remove_keyboard: bool = False
    force_reply: bool = False  # ask the client to reply to this message (e.g. a rejection reason)
    photos: tuple[MediaRef, ...] = ()
    reply_to: MessageRef | None = None
    #: a map pin to show; Telegram shows the link in the text, WhatsApp may send a location
    location: tuple[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "buttons": [[{"label": b.label, "payload": b.payload} for b in row] for row in self.buttons],
            "keyboard": [
                [{"label": b.label, "request_location": b.request_location} for b in row] for row in self.keyboard
            ],
            "remove_keyboard": self.remove_keyboard,
            "force_reply": self.force_reply,
            "photos": [p.to_dict() for p in self.photos],
            "reply_to": self.reply_to.to_dict() if self.reply_to else None,
            "location": list(self.location) if self.location else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutMessage:
        loc = data.get("location")
        return cls(
            text=data["text"],
            buttons=tuple(tuple(Button(b["label"], b["payload"]) for b in row) for row in data.get("buttons", [])),
            keyboard=tuple(
                tuple(KeyboardButton(b["label"], bool(b.get("request_location"))) for b in row)
                for row in data.get("keyboard", [])
            ),
            remove_keyboard=bool(data.get("remove_keyboard")),
            force_reply=bool(data.get("force_reply")),
            photos=tuple(MediaRef.from_dict(p) for p in data.get("photos", [])),
            reply_to=MessageRef.from_dict(data["reply_to"]) if data.get("reply_to") else None,
            location=(float(loc[0]), float(loc[1])) if loc else None,
        )


@dataclass(frozen=True, slots=True)
class Alert:
    """The answer to a button press (Telegram answerCallbackQuery): a toast, or a modal alert."""

    text: str = ""
    show_alert: bool = False


@dataclass(slots=True)
class Outgoing:
    """Messages for the citizen who wrote, plus an optional answer to their button press."""

    messages: list[OutMessage] = field(default_factory=list)
    alert: Alert | None = None
