"""A citizen's data copy (/dataku) served at an expiring signed path of the app's web server.

Why: WhatsApp cannot carry a JSON file from us without a public URL for Twilio to fetch, and a file sent
that way would stay in Twilio's logs; a link that the citizen opens once is simpler and leaves nothing
behind. A link is::

    {SIKESAL_PUBLIC_URL}/export/{expires}/{signature}/{citizen id}.json

``signature`` is an HMAC-SHA256 over the citizen's id and the expiry, with a key derived from the media
link secret (``SIKESAL_MEDIA_SECRET`` or the bot token) under its own label, so a photo link's signature
never opens an export and the other way round. Nothing is stored: the JSON is built from the database when
the link is opened (any process of the deployment can serve it), so it is never older than the data, and
a citizen erased meanwhile (``citizens.erased_at``) gets 410 like an expired link. A forged link gets 403,
an expired one 410, before anything is looked up, as for :mod:`bot.media_links`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

log = logging.getLogger("sikesal.export_links")

PREFIX = "/export"
ROUTE = PREFIX + r"/{expires:[0-9]{1,12}}/{signature:[A-Za-z0-9_-]{43}}/{name:[0-9]{1,18}\.json}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ExportLinks:
    """Signs and checks /dataku links. ``public_url`` None: no link can be handed out (links still checked)."""

    secret: bytes = field(repr=False)
    public_url: str | None = None
    ttl: timedelta = timedelta(hours=1)
    clock: Callable[[], datetime] = _utcnow

    @classmethod
    def from_media_secret(cls, media_secret: bytes, **kwargs: Any) -> ExportLinks:
        """A key of its own, derived from the media links' secret (one secret to configure)."""
        return cls(hmac.new(media_secret, b"sikesal-export-links", hashlib.sha256).digest(), **kwargs)

    @property
    def minutes(self) -> int:
        return int(self.ttl.total_seconds() // 60)

    def signature(self, citizen_id: int, expires: int) -> str:
        digest = hmac.new(self.secret, f"export.{citizen_id}.{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def path(self, citizen_id: int, *, expires: int | None = None) -> str:
        if expires is None:
            expires = int((self.clock() + self.ttl).timestamp())
        return f"{PREFIX}/{expires}/{self.signature(citizen_id, expires)}/{citizen_id}.json"

    def url(self, citizen_id: int, *, expires: int | None = None) -> str | None:
        if not self.public_url:
            return None
        return self.public_url.rstrip("/") + self.path(citizen_id, expires=expires)

    def check(self, citizen_id: str, expires: str, signature: str) -> int:
        """200 ours and valid, 403 not ours, 410 expired; the signature first, in constant time."""
        if not citizen_id.isdigit() or not expires.isdigit():
            return 403
        if not hmac.compare_digest(self.signature(int(citizen_id), int(expires)), signature):
            return 403
        if int(expires) < self.clock().timestamp():
            return 410
        return 200


#: builds the export document of a citizen id (None: no such citizen, or erased)
Builder = Callable[[int], Awaitable[tuple[dict[str, Any], str] | None]]


class ExportServer:
    """The aiohttp handler for :data:`ROUTE`."""

    def __init__(self, links: ExportLinks, build: Builder) -> None:
        self.links = links
        self.build = build

    def routes(self) -> list[web.RouteDef]:
        return [web.get(ROUTE, self.handle)]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        citizen_id = request.match_info["name"].removesuffix(".json")
        verdict = self.links.check(citizen_id, request.match_info["expires"], request.match_info["signature"])
        if verdict == 403:
            log.warning("refused an export link with a bad signature")  # the path itself is not logged
            raise web.HTTPForbidden(text="forbidden")
        if verdict == 410:
            raise web.HTTPGone(text="this link has expired")
        built = await self.build(int(citizen_id))
        if built is None:
            raise web.HTTPGone(text="this link has expired")
        document, filename = built
        return web.Response(
            body=json.dumps(document, ensure_ascii=False, indent=2).encode(),
            content_type="application/json",
            charset="utf-8",
            headers={
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Referrer-Policy": "no-referrer",
            },
        )
