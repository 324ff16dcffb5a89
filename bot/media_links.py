"""Stored media served from the app's own web server at unguessable, expiring signed paths.

Why: Twilio sends a WhatsApp photo only by fetching it from a URL (``MediaUrl``), so a photo that staff
sent in Telegram must be reachable from the internet for a while, but nobody else may list, guess or
keep fetching what citizens and staff exchanged. A link is::

    {SIKESAL_PUBLIC_URL}/media/{expires}/{signature}/{sha256}{ext}

``signature`` is an HMAC-SHA256 (deployment secret) over the file's content hash and the expiry
time, so a link names exactly one file until one moment. Every process of a deployment shares the
secret (``SIKESAL_MEDIA_SECRET``, else derived from the bot token), so any of them serves any link.

The handler checks the signature before it looks for the file: a forged link gets 403 and an expired
one 410 whether or not the file exists; only a link we issued can learn that a file is gone (404).
The file is found through the ``media_files`` row (its stored path and type), never through the URL's
text, so there is nothing to traverse. Later features (a photo link in a status page, a card for a
web dashboard) reuse :class:`MediaLinks`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.media import MediaStore, extension_for
from storage.models import MediaFile

log = logging.getLogger("sikesal.media_links")

#: where signed media live on the web server
PREFIX = "/media"
#: what a served file may be; anything else goes out as a download that no browser renders inline
SERVED_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SIGNATURE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 32 bytes, base64url without padding
#: the route: every part constrained, so no "..", slash or query reaches the handler as a name
ROUTE = PREFIX + r"/{expires:[0-9]{1,12}}/{signature:[A-Za-z0-9_-]{43}}/{name:[0-9a-f]{64}(\.[a-z0-9]{1,5})?}"


def secret_for(token: str) -> bytes:
    """A stable signing secret derived from the bot token when ``SIKESAL_MEDIA_SECRET`` is not set:
    every process of the deployment has the token, a restart keeps links valid, and nobody without
    the token can sign one. A separate label keeps it unrelated to the webhook secret."""
    return hashlib.sha256(f"sikesal-media-links:{token}".encode()).digest()


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class MediaLinks:
    """Signs and checks media links. ``public_url`` is where the web server is reached from outside
    (None: no links can be handed out, but links are still checked); ``ttl`` how long a link works."""

    secret: bytes = field(repr=False)
    public_url: str | None = None
    ttl: timedelta = timedelta(hours=1)
    clock: Callable[[], datetime] = _utcnow

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("the media link secret must be at least 16 bytes")

    def signature(self, sha256: str, expires: int) -> str:
        digest = hmac.new(self.secret, f"{sha256}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def path(self, sha256: str, mime_type: str, *, expires: int | None = None) -> str:
        """The signed path (no host) for the file with this hash, valid until ``expires`` (Unix time;
        default now + ttl)."""
        if not _SHA256.match(sha256):
            raise ValueError(f"not a sha256 hex digest: {sha256!r}")
        if expires is None:
            expires = int((self.clock() + self.ttl).timestamp())
        return f"{PREFIX}/{expires}/{self.signature(sha256, expires)}/{sha256}{extension_for(mime_type)}"

    def url(self, sha256: str, mime_type: str, *, expires: int | None = None) -> str | None:
        """The full URL Twilio (or anyone holding it) can fetch, or None without a public URL."""
        if not self.public_url:
            return None
        return self.public_url.rstrip("/") + self.path(sha256, mime_type, expires=expires)

    def check(self, sha256: str, expires: str, signature: str) -> int:
        """200 when the link is ours and still valid, 403 when it is not ours, 410 when it expired.
        The signature is checked first and in constant time: nothing is learnt about the file."""
        if not _SHA256.match(sha256) or not _SIGNATURE.match(signature) or not expires.isdigit():
            return 403
        if not hmac.compare_digest(self.signature(sha256, int(expires)), signature):
            return 403
        if int(expires) < self.clock().timestamp():
            return 410
        return 200


class MediaServer:
    """The aiohttp handler for :data:`ROUTE`: checks the link, then serves the stored file."""

    def __init__(
        self, links: MediaLinks, sessionmaker: async_sessionmaker[AsyncSession], store: MediaStore
    ) -> None:
        self.links = links
        self.sessionmaker = sessionmaker
        self.store = store

    def routes(self) -> list[web.RouteDef]:
        return [web.get(ROUTE, self.handle)]  # GET and HEAD

    async def handle(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        sha256 = name.split(".", 1)[0]
        verdict = self.links.check(sha256, request.match_info["expires"], request.match_info["signature"])
        if verdict == 403:
            log.warning("refused a media link with a bad signature")  # the path itself is not logged
            raise web.HTTPForbidden(text="forbidden")
        if verdict == 410:
            raise web.HTTPGone(text="this link has expired")
        async with self.sessionmaker() as session:
            row = await session.get(MediaFile, sha256)
            stored = (row.path, row.mime_type) if row is not None else None
        if stored is None:
            raise web.HTTPNotFound(text="not found")
        path, mime_type = stored
        try:
            data = await self.store.read(path)
        except (FileNotFoundError, ValueError):  # gone from disk, or a row pointing outside the store
            log.warning("signed media %s is not on disk", sha256[:12])
            raise web.HTTPNotFound(text="not found") from None
        content_type = mime_type if mime_type in SERVED_TYPES else "application/octet-stream"
        return web.Response(
            body=data,
            content_type=content_type,
            headers={
                "Cache-Control": "private, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": "inline" if content_type in SERVED_TYPES else "attachment",
                "Referrer-Policy": "no-referrer",
            },
        )
