"""Twilio's incoming-WhatsApp form -> neutral :class:`handlers.events.Incoming` events.

Twilio posts one form per WhatsApp message (``Body``, ``NumMedia``/``MediaUrlN``/``MediaContentTypeN``,
``Latitude``/``Longitude``/``Address``/``Label``, ``ButtonPayload``/``ButtonText``, ``ProfileName``,
``WaId``, ``OriginalRepliedMessageSid``). Photos are downloaded with the account's credentials and stored
by content hash before the event reaches the core, exactly like Telegram photos; anything over the size
limit becomes ``TooLarge`` and everything the flow cannot use becomes ``Unsupported(kind)``.

The account's credentials go to the Twilio API origin only (``TWILIO_API_BASE``, else
https://api.twilio.com), compared exactly: a signed form whose ``MediaUrl0`` names another host is refused
without a request (the citizen hears that the photo could not be fetched). Twilio answers a media URL with
a redirect to a pre-signed URL elsewhere; that one is fetched without credentials (see :class:`MediaFetcher`).

A message with several media items becomes several events (one per item), each with its own idempotency
key, so a redelivery after a crash half way through repeats none of them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

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
from handlers.text import parse_int
from handlers.views import truncate
from storage.images import NotAnImage
from storage.media import MediaStore

log = logging.getLogger("sikesal.whatsapp")

CHANNEL = "whatsapp"
WHATSAPP_PREFIX = "whatsapp:"
#: images WhatsApp users send as photos; image/webp is how WhatsApp stickers arrive
PHOTO_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png"})
DOWNLOAD_TIMEOUT = 20.0
#: where Twilio's media URLs live, and the only place the account's credentials are sent to (unless
#: ``TWILIO_API_BASE`` names a local stand-in)
TWILIO_API = "https://api.twilio.com"
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: Twilio needs one (API -> pre-signed storage URL); a few more are tolerated, never a loop
MAX_REDIRECTS = 3
#: WhatsApp messages carry at most 10 media items (Twilio's limit); a bigger NumMedia is not believed
MAX_MEDIA = 10
#: ``citizens.display_name`` holds 128 characters
DISPLAY_NAME_MAX = 128


class MediaDownloadError(Exception):
    """A transient failure fetching a media URL (network, 5xx): the inbox retries the whole message."""


class MediaRefused(PermissionError):
    """A media URL (or a redirect) we will not fetch: permanent, the citizen hears the photo could not be got."""


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


Origin = tuple[str, str, int | None]


def _parse(raw: str | URL) -> URL | None:
    """An absolute http(s) URL without user info, or None (never raises)."""
    try:
        url = raw if isinstance(raw, URL) else URL(raw)
        if not url.absolute or url.scheme not in ("http", "https") or not url.raw_host:
            return None
        if url.raw_user is not None or url.raw_password is not None:
            return None  # "https://api.twilio.com@evil.net/" and friends
        url.port  # noqa: B018 - an invalid port raises here, not later in the request
        return url
    except (ValueError, TypeError, UnicodeError):
        return None


def _origin(url: URL) -> Origin:
    """Scheme, host and port, compared exactly (the port defaulted from the scheme)."""
    return (url.scheme, (url.raw_host or "").lower(), url.port)


def _shown(url: str) -> str:
    """A URL for a log line: no query (pre-signed URLs carry signatures there), bounded."""
    return truncate(str(url).split("?", 1)[0], 200)


@dataclass(frozen=True, slots=True)
class MediaFetcher:
    """Downloads Twilio media URLs with the account's Basic auth, to the Twilio API origin only.

    ``api_base`` (``TWILIO_API_BASE``) is that origin when set, and media URLs naming
    https://api.twilio.com are rewritten to it (the local Twilio server in tests and the playground).
    Any other first URL is refused without a request (:class:`MediaRefused`): a signed webhook is
    trusted for its text, not for where our credentials go. Redirects are followed by hand, at most
    :data:`MAX_REDIRECTS`, over https only (plain http only to a configured ``api_base`` origin) and
    **without** credentials, even when one points back at the API origin: Twilio's redirect target is
    a pre-signed URL that needs none.
    """

    session: aiohttp.ClientSession
    account_sid: str
    auth_token: str
    api_base: str | None = None

    @property
    def api_origin(self) -> Origin | None:
        api = _parse(self.api_base or TWILIO_API)
        return _origin(api) if api is not None else None

    def url_for(self, url: str) -> str:
        """``url`` with https://api.twilio.com replaced by ``api_base`` when set (exact host, never a
        suffix match: eviltwilio.com and api.twilio.com.evil.net are left alone, and refused later)."""
        parsed, base = _parse(url), _parse(self.api_base) if self.api_base else None
        real = _parse(TWILIO_API)
        if parsed is None or base is None or real is None or _origin(parsed) != _origin(real):
            return url
        path = base.raw_path.rstrip("/") + parsed.raw_path
        return str(URL.build(scheme=base.scheme, authority=base.raw_authority, path=path,
                             query_string=parsed.raw_query_string, encoded=True))

    def first_url(self, url: str) -> URL | None:
        """The URL to fetch with credentials, or None when it is not on the API origin."""
        target = _parse(self.url_for(url))
        if target is None or self.api_origin is None or _origin(target) != self.api_origin:
            return None
        return target

    def _redirect_target(self, current: URL, location: str | None) -> URL | None:
        """Where a redirect may lead: an absolute or relative ``Location``, https (or the configured
        local API origin over http), no user info."""
        if not location:
            return None
        try:
            target = _parse(current.join(URL(location)))
        except (ValueError, TypeError, UnicodeError):
            return None
        if target is None:
            return None
        if target.scheme == "https" or (self.api_base and _origin(target) == self.api_origin):
            return target
        return None

    async def fetch(self, url: str, *, max_bytes: int) -> tuple[bytes | None, int]:
        """The bytes, or ``(None, size)`` when the file is over ``max_bytes`` (read no further than that).

        Raises :class:`MediaRefused` (a :class:`PermissionError`) for a URL or redirect we will not
        follow and for a 4xx that will not change, :class:`MediaDownloadError` for what a retry may fix.
        """
        target = self.first_url(url)
        if target is None:
            log.warning("refused a media URL that is not on the Twilio API origin: %s", _shown(url))
            raise MediaRefused("media URL is not on the Twilio API origin")
        credentials = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        headers: dict[str, str] = {"Authorization": f"Basic {credentials}"}
        timeout = aiohttp.ClientTimeout(total=DOWNLOAD_TIMEOUT)
        try:
            async with asyncio.timeout(DOWNLOAD_TIMEOUT):
                for hop in range(MAX_REDIRECTS + 1):
                    async with self.session.get(
                        target, headers=headers, timeout=timeout, allow_redirects=False
                    ) as response:
                        if response.status in REDIRECT_STATUSES:
                            following = self._redirect_target(target, response.headers.get("Location"))
                            if following is None or hop == MAX_REDIRECTS:
                                log.warning("refused a media redirect from %s to %s (hop %d)", _shown(str(target)),
                                            _shown(response.headers.get("Location", "")), hop + 1)
                                raise MediaRefused(f"media download: refused redirect (HTTP {response.status})")
                            target, headers = following, {}  # credentials go to the API origin once, never on
                            continue
                        return await self._read(response, max_bytes, redirected=hop > 0)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise MediaDownloadError(f"media download: {type(exc).__name__}: {exc}") from exc
        raise MediaRefused("media download: too many redirects")  # not reached: the last hop refuses

    @staticmethod
    async def _read(response: aiohttp.ClientResponse, max_bytes: int, *, redirected: bool) -> tuple[bytes | None, int]:
        if response.status >= 500 or response.status == 429:
            raise MediaDownloadError(f"media download: HTTP {response.status}")
        if response.status in (401, 403):
            if redirected:  # an expired pre-signed URL: asking Twilio again gives a fresh one
                log.warning("the pre-signed media URL was refused (HTTP %s)", response.status)
            else:  # e.g. a rotated auth token: worth retrying, loudly
                log.error("twilio refused our credentials for a media download (HTTP %s)", response.status)
            raise MediaDownloadError(f"media download: HTTP {response.status}")
        if response.status >= 300:
            raise MediaRefused(f"media download refused: HTTP {response.status}")
        declared = response.content_length
        if declared is not None and declared > max_bytes:
            return None, declared
        data = bytearray()
        async for chunk in response.content.iter_chunked(64 * 1024):
            data.extend(chunk)
            if len(data) > max_bytes:
                return None, declared or len(data)
        return bytes(data), len(data)


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
    try:
        stored = await media.put(data)  # re-encoded without metadata, whatever Twilio says the type is
    except NotAnImage:
        log.info("whatsapp media declared as %s is not a decodable image; refused", content_type[:40])
        return Unsupported("not_image")
    caption = form.get("Body") or None
    ref = MediaRef(sha256=stored.sha256, mime_type=stored.mime_type, size=stored.size)
    return Photo(media=ref, caption=caption if index == 0 else None)


#: the burst of a lone WhatsApp photo: photos following each other within seconds are one for the
#: flood limit (see :func:`handlers.floods.admit`)
WA_PHOTOS = "wa:photos"


async def to_events(
    form: Mapping[str, str], fetcher: MediaFetcher, media: MediaStore, *, max_bytes: int
) -> list[tuple[str, Incoming]]:
    """The events of one incoming message, each with its idempotency key, in the order they happened.

    Raises :class:`MediaDownloadError` when a media download failed in a way worth retrying.
    """
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    events: list[Event] = []
    # "-1", "abc" and "²" are none; "999" is not believed beyond Twilio's limit
    count = min(parse_int((form.get("NumMedia") or "0").strip(), 0, 10**6) or 0, MAX_MEDIA)
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
    display_name = truncate((form.get("ProfileName") or "").strip(), DISPLAY_NAME_MAX) or None
    # a swipe-reply's context belongs to everything the message carries: its photo (with the caption)
    # as much as its text, so a photo sent as an answer reaches the agency instead of starting a filing
    reply_to = form.get("OriginalRepliedMessageSid") or None
    return [
        (
            update_key(sid, index),
            # the flood limit counts the events of one message as one, and photos sent together (WhatsApp
            # sends each photo of a selection as its own message, seconds apart) as one
            Incoming(event=event, display_name=display_name, reply_to_message_id=reply_to, typed_choices=True,
                     burst=f"wa:{sid}" if len(events) > 1 else WA_PHOTOS if isinstance(event, Photo) else None),
        )
        for index, event in enumerate(events)
    ]


def download_failed(form: Mapping[str, str]) -> list[tuple[str, Incoming]]:
    """What is left of a message whose media could not be fetched: the refusal, plus its text if any."""
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or ""
    events: list[Event] = [Unsupported("download_failed")]
    if (form.get("Body") or "").strip():
        events.append(_text_event(form["Body"]))
    reply_to = form.get("OriginalRepliedMessageSid") or None  # an answer to staff stays one (see to_events)
    return [
        (update_key(sid, index), Incoming(event, reply_to_message_id=reply_to, typed_choices=True))
        for index, event in enumerate(events)
    ]


def _empty_kind(message_type: str) -> str:
    """A message with no body, media or location: what Twilio's ``MessageType`` says it was."""
    known = {"sticker": "sticker", "audio": "voice", "video": "video", "contacts": "contact", "document": "document",
             "interactive": "unknown", "reaction": "reaction"}
    return known.get(message_type.lower(), "unknown")
