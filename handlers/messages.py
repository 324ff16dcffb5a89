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


#: :attr:`EditTarget.mode`: replace the text and inline buttons of the message (if it cannot be
#: edited any more, the sender sends it as a new message: the citizen must still read it)
EDIT_CONTENT = "content"
#: :attr:`EditTarget.mode`: only set the message's inline buttons (none = take them off); if the
#: message cannot be edited any more, nothing is lost by leaving it as it is
EDIT_BUTTONS = "buttons"


@dataclass(frozen=True, slots=True)
class EditTarget:
    """A message of ours in the same chat to change instead of sending a new one.

    Why by the channel's message id: the core learns it from the button press under that message
    (:attr:`handlers.events.ButtonPress.message_id`), so no lookup is needed. Channels that cannot
    edit (WhatsApp) send a content edit as a new message and drop a buttons-only edit.
    """

    message_id: str
    mode: str = EDIT_CONTENT

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "mode": self.mode}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EditTarget:
        mode = str(data.get("mode") or EDIT_CONTENT)
        return cls(message_id=str(data["message_id"]), mode=mode if mode in (EDIT_CONTENT, EDIT_BUTTONS) else EDIT_CONTENT)


#: Telegram takes documents up to 50 MB from bots (sendDocument); the sender refuses bigger ones
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class OutDocument:
    """A file to send (Telegram: sendDocument, the message's text as its caption). Small text files only
    (the /dataku JSON): the content travels in the outbox row, so it is delivered with the same
    guarantees as any message; retention and erasure drop it with the row's payload."""

    filename: str
    content: str
    mime_type: str = "application/json"

    def to_dict(self) -> dict[str, Any]:
        return {"filename": self.filename, "content": self.content, "mime_type": self.mime_type}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutDocument:
        return cls(str(data["filename"]), str(data.get("content") or ""), str(data.get("mime_type") or "application/json"))


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
    #: a card edit that swaps the card's photo for a neutral image (a Rahasia complaint's card left in
    #: another agency's group, see handlers.privacy): editMessageMedia instead of editMessageCaption
    neutral_photo: bool = False
    #: change this earlier message instead of sending a new one (see :class:`EditTarget`)
    edit: EditTarget | None = None
    #: a file sent with the text as its caption (at most 1024 characters; see :class:`OutDocument`)
    document: OutDocument | None = None

    @property
    def takes_buttons_off(self) -> bool:
        """Only a "take the used buttons off that message" edit: not something the citizen reads."""
        return self.edit is not None and self.edit.mode == EDIT_BUTTONS

    def to_dict(self) -> dict[str, Any]:
        data = self._fields()
        if self.edit is not None:  # only when set: rows queued before edits existed compare equal
            data["edit"] = self.edit.to_dict()
        if self.document is not None:
            data["document"] = self.document.to_dict()
        if self.neutral_photo:  # only when set, like ``edit``
            data["neutral_photo"] = True
        return data

    def _fields(self) -> dict[str, Any]:
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
            edit=EditTarget.from_dict(data["edit"]) if data.get("edit") else None,
            document=OutDocument.from_dict(data["document"]) if data.get("document") else None,
            neutral_photo=bool(data.get("neutral_photo")),
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
