"""Inbound events, as the conversation core sees them, whatever the channel.

Adapters (Telegram, WhatsApp) translate platform updates into these. Media has already been
downloaded and stored by the time an event reaches the core: the core only sees a :class:`MediaRef`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A stored photo: content hash (file name on disk) plus the channel's own id for cheap re-sending."""

    sha256: str
    mime_type: str = "image/jpeg"
    size: int = 0
    telegram_file_id: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "sha256": self.sha256,
            "mime_type": self.mime_type,
            "size": self.size,
            "telegram_file_id": self.telegram_file_id,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> MediaRef:
        return cls(
            sha256=str(data["sha256"]),
            mime_type=str(data.get("mime_type") or "image/jpeg"),
            size=int(data.get("size") or 0),  # type: ignore[call-overload]
            telegram_file_id=(str(data["telegram_file_id"]) if data.get("telegram_file_id") else None),
        )


@dataclass(frozen=True, slots=True)
class Text:
    """Free text typed by the citizen (not a command)."""

    text: str


@dataclass(frozen=True, slots=True)
class Command:
    """``/name args``; ``name`` is lower-case without the slash or ``@botname``."""

    name: str
    args: str = ""


@dataclass(frozen=True, slots=True)
class Photo:
    """A photo, or an image sent as a document. Already stored; ``media`` is where."""

    media: MediaRef
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class TooLarge:
    """A file the adapter refused to download because it is over ``max_bytes``."""

    size: int
    max_bytes: int


@dataclass(frozen=True, slots=True)
class PlaceInfo:
    """What the service found out about a pin before the core sees it (the core does no I/O).

    ``inside`` is from the city's own boundaries (offline, always known when a service area is
    configured); ``street``/``display`` come from the geocoder and are None when it did not answer.
    """

    inside: bool | None = None
    kecamatan: str | None = None
    kelurahan: str | None = None
    display: str | None = None  # "Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi"


@dataclass(frozen=True, slots=True)
class Location:
    """A shared map pin (not a typed address)."""

    latitude: float
    longitude: float
    address: str | None = None  # a venue's address or a WhatsApp Address/Label, when given
    place: PlaceInfo | None = None


@dataclass(frozen=True, slots=True)
class ButtonPress:
    """An inline button (Telegram callback_data) or a quick-reply payload (WhatsApp).

    ``message_id`` is the channel's id of the message the button was under (Telegram), so the
    service can take used buttons off or edit that message in place; None where unknown."""

    payload: str
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Unsupported:
    """Anything the flow cannot use: ``kind`` is e.g. sticker, voice, video, audio, contact, poll,
    document (a non-image document), animation, video_note, dice, game, unknown."""

    kind: str


Event = Text | Command | Photo | TooLarge | Location | ButtonPress | Unsupported


@dataclass(frozen=True, slots=True)
class AddressMatch:
    """A place the geocoder found for a typed address, inside the area served."""

    latitude: float
    longitude: float
    place: PlaceInfo

    def to_dict(self) -> dict[str, object]:
        p = self.place
        return {"lat": self.latitude, "lon": self.longitude, "inside": p.inside, "kecamatan": p.kecamatan,
                "kelurahan": p.kelurahan, "display": p.display}

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AddressMatch:
        place = PlaceInfo(
            inside=bool(data.get("inside", True)),
            kecamatan=str(data["kecamatan"]) if data.get("kecamatan") else None,
            kelurahan=str(data["kelurahan"]) if data.get("kelurahan") else None,
            display=str(data["display"]) if data.get("display") else None,
        )
        return cls(float(data["lat"]), float(data["lon"]), place)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Nearby:
    """An open complaint close to the draft's pin, in the same category (the duplicate check)."""

    number: str
    description: str
    status: str
    distance_m: float
    photo: MediaRef | None = None
    #: False for a Rahasia complaint (handlers.privacy.is_public): its words and photo are not shown to
    #: the citizen offered it, only its category, distance and status (the service leaves them out too)
    public: bool = True
    category: str | None = None


@dataclass(frozen=True, slots=True)
class RecentStaff:
    """A complaint whose agency wrote to this citizen lately (``relay.ask_window_hours``): plain text
    from the citizen may be an answer, so the core asks "send it to the agency?"."""

    number: str
    agency: str  # agency key


@dataclass(frozen=True, slots=True)
class Incoming:
    """An event with the facts about who sent it that the core may need."""

    event: Event
    display_name: str | None = None
    language_hint: str | None = None  # e.g. Telegram's user.language_code
    #: the channel id of the message this one replies to (reply relay is decided before the flow)
    reply_to_message_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: set by the service while the citizen is at the summary: open complaints of the same category
    #: near the pin (nearest first, at most three), so "send" can ask "is it the same problem?"
    nearby: tuple[Nearby, ...] = ()
    #: set by the service for a typed address at the location step: where the geocoder places it
    #: (inside the area served, best first, at most three); empty when it found nothing or is off
    matches: tuple[AddressMatch, ...] = ()
    #: the channel shows menus as numbered lists (WhatsApp), so a typed "2" means the second item
    #: of the last menu (see :mod:`handlers.choices`); False where menus are real buttons (Telegram)
    typed_choices: bool = False
    #: the citizen's channel (``telegram`` | ``whatsapp``), set by the service
    channel: str = "telegram"
    #: when the channel received the message (the service sets it; None in pure tests): lets the core
    #: tell the parts of one long paste, which arrive within a second or two, from a new answer
    received_at: datetime | None = None
    #: set by the service while no draft is in progress: the complaints staff wrote to this citizen
    #: about lately, the latest first (at most three), so plain text can be offered to the agency
    recent_staff: tuple[RecentStaff, ...] = ()
    #: the album (Telegram ``media_group_id``) or multi-media message (WhatsApp MessageSid) this event
    #: belongs to: the flood limit counts them as one message (see :mod:`handlers.floods`)
    burst: str | None = None
    #: set by the service: the citizen reached the daily cap of this many complaints, so a new filing
    #: is explained instead of started (0: not reached)
    filing_paused: int = 0
    #: set by the service at the summary: the citizen's own complaint filed within a day with the same
    #: text (the "sudah dilaporkan" offer before sending)
    refiled: str | None = None
