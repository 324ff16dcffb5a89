"""Twilio's incoming-WhatsApp form -> neutral :class:`handlers.events.Incoming` events.

Twilio posts one form per WhatsApp message (``Body``, ``NumMedia``/``MediaUrlN``/``MediaContentTypeN``,
``Latitude``/``Longitude``/``Address``/``Label``, ``ButtonPayload``/``ButtonText``, ``ProfileName``,
``WaId``, ``OriginalRepliedMessageSid``). Photos are downloaded with the account's credentials and stored
by content hash before the event reaches the core, exactly like Telegram photos; anything over the size
limit becomes ``TooLarge`` and everything the flow cannot use becomes ``Unsupported(kind)``.

A message with several media items becomes several events (one per item), each with its own idempotency
key, so a redelivery after a crash half way through repeats none of them.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.telegram.translate import parse_command
from handlers.events import (
    ButtonPress,
    Event,
    Incoming,
    Location,
    MediaRef,
    Photo,
    Text,
    TooLarge,
    Unsupported,
)
from storage.media import MediaStore

log = logging.getLogger("sikesal.whatsapp")

CHANNEL = "whatsapp"
WHATSAPP_PREFIX = "whatsapp:"
#: images WhatsApp users send as photos; image/webp is how WhatsApp stickers arrive
PHOTO_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png"})
DOWNLOAD_TIMEOUT = 20.0


class MediaDownloadError(Exception):
    """A transient failure fetching a media URL (network, 5xx): the inbox retries the whole message."""


def chat_id_for(address: str) -> str:
    """``whatsapp:+6281234567890`` -> ``+6281234567890`` (the citizen's key on this channel)."""
    return address.removeprefix(WHATSAPP_PREFIX)


def update_key(message_sid: str, index: int = 0) -> str:
    return f"wa:{message_sid}" if index == 0 else f"wa:{message_sid}:{index}"


def unsupported_kind(content_type: str) -> str | None:
    """The flow's name for media it cannot use (None: a photo)."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime in PHOTO_TYPES:
        return None
    if mime == "image/webp":
        return "sticker"
    if mime.startswith("image/"):
        return "document"  # gif, heic...: not something staff can open reliably
    if mime in ("audio/ogg", "audio/opus"):
        return "voice"  # WhatsApp voice notes are Opus in Ogg
    if mime.startswith("audio/"):
        return "audio"
    if mime.startswith("video/"):
        return "video"
    if mime in ("text/vcard", "text/x-vcard"):
        return "contact"
    return "document"


@dataclass(frozen=True, slots=True)
class MediaFetcher:
    """Downloads Twilio media URLs with Basic auth; ``api_base`` rewrites api.twilio.com to a local server."""

    session: aiohttp.ClientSession
    account_sid: str
    auth_token: str
    api_base: str | None = None

    def url_for(self, url: str) -> str:
        if not self.api_base:
            return url
        parts, base = urlsplit(url), urlsplit(self.api_base)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))
        return url

    async def fetch(self, url: str, *, max_bytes: int) -> tuple[bytes | None, int]:
        """The bytes, or ``(None, size)`` when the file is over ``max_bytes`` (read no further than that)."""
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        headers = {"Authorization": f"Basic {credentials}"}
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        try:
            async with self.session.get(self.url_for(url), headers=headers, timeout=timeout) as response:
                if response.status >= 500 or response.status == 429:
                    raise MediaDownloadError(f"media download: HTTP {response.status}")
                if response.status in (401, 403):  # e.g. a rotated auth token: worth retrying, loudly
                    log.error("twilio refused our credentials for a media download (HTTP %s)", response.status)
                    raise MediaDownloadError(f"media download: HTTP {response.status}")
                if response.status >= 400:
                    raise PermissionError(f"media download refused: HTTP {response.status}")
                declared = response.content_length
                if declared is not None and declared > max_bytes:
                    return None, declared
                data = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    data.extend(chunk)
                    if len(data) > max_bytes:
                        return None, declared or len(data)
                return bytes(data), len(data)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaDownloadError(f"media download: {type(exc).__name__}: {exc}") from exc


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _text_event(body: str) -> Event:
    text = body.strip()
    return parse_command(text) or Text(body)


async def _media_event(
    form: Mapping[str, str], index: int, fetcher: MediaFetcher, media: MediaStore, max_bytes: int
) -> Event:
    content_type = form.get(f"MediaContentType{index}", "")
    url = form.get(f"MediaUrl{index}", "")
    kind = unsupported_kind(content_type)
    if kind is not None:
        return Unsupported(kind)
    if not url:
        return Unsupported("unknown")
    try:
        data, size = await fetcher.fetch(url, max_bytes=max_bytes)
    except PermissionError as exc:
        log.warning("whatsapp media not downloadable: %s", exc)
        return Unsupported("download_failed")
    if data is None:
        return TooLarge(size=size, max_bytes=max_bytes)
    mime = content_type.split(";", 1)[0].strip().lower().replace("image/jpg", "image/jpeg")
    sha256, _path = await media.put(data, mime)
    caption = form.get("Body") or None
    return Photo(media=MediaRef(sha256=sha256, mime_type=mime, size=len(data)), caption=caption if index == 0 else None)


async def to_events(
    form: Mapping[str, str], fetcher: MediaFetcher, media: MediaStore, *, max_bytes: int
) -> list[tuple[str, Incoming]]:
    """The events of one incoming message, each with its idempotency key, in the order they happened.

    Raises :class:`MediaDownloadError` when a media download failed in a way worth retrying.
    """
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    events: list[Event] = []
    count = int(form.get("NumMedia") or 0) if (form.get("NumMedia") or "0").isdigit() else 0
    latitude, longitude = _float(form.get("Latitude")), _float(form.get("Longitude"))
    payload = (form.get("ButtonPayload") or "").strip()
    body = form.get("Body") or ""
    if count:
        for index in range(count):
            events.append(await _media_event(form, index, fetcher, media, max_bytes))
        if body.strip() and not isinstance(events[0], Photo):
            events.append(_text_event(body))  # text sent with a voice note or video is not lost
    elif latitude is not None and longitude is not None:
        place = ", ".join(p for p in (form.get("Label"), form.get("Address")) if p) or None
        events.append(Location(latitude, longitude, place))
    elif payload:
        events.append(ButtonPress(payload))
    elif body.strip():
        events.append(_text_event(body))
    elif form.get("ButtonText"):
        events.append(Text(form["ButtonText"]))
    else:
        events.append(Unsupported(_empty_kind(form.get("MessageType", ""))))
    display_name = (form.get("ProfileName") or "").strip() or None
    reply_to = form.get("OriginalRepliedMessageSid") or None
    return [
        (
            update_key(sid, index),
            Incoming(
                event=event,
                display_name=display_name,
                reply_to_message_id=reply_to if index == 0 else None,
                typed_choices=True,
            ),
        )
        for index, event in enumerate(events)
    ]


def download_failed(form: Mapping[str, str]) -> list[tuple[str, Incoming]]:
    """What is left of a message whose media could not be fetched: the refusal, plus its text if any."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    events: list[Event] = [Unsupported("download_failed")]
    if (form.get("Body") or "").strip():
        events.append(_text_event(form["Body"]))
    return [(update_key(sid, index), Incoming(event, typed_choices=True)) for index, event in enumerate(events)]


def _empty_kind(message_type: str) -> str:
    """A message with no body, media or location: what Twilio's ``MessageType`` says it was."""
    known = {"sticker": "sticker", "audio": "voice", "video": "video", "contacts": "contact", "document": "document",
             "interactive": "unknown", "reaction": "reaction"}
    return known.get(message_type.lower(), "unknown")
