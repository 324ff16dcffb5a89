"""``media_url``: the first photo of a published complaint, served by the app under
``/open311/v2/media/{token}``.

The token is the photo's id and an HMAC of it under the deployment's secret (``Runtime.secret``), so a
URL cannot be guessed or walked; it does not expire (an Open311 client keeps links), but every request is
checked again: the complaint must still be published (not Rahasia, not withdrawn) and the file re-encoded
without metadata (EXIF, GPS), else 404. Files stored before issue 12 get no ``media_url`` until
``sikesal migrate`` re-encodes them.
"""

from __future__ import annotations

import hashlib
import hmac

from aiohttp import web

from bot.open311 import records
from bot.open311.errors import not_found
from bot.services.runtime import Runtime
from bot.web.context import web_context
from storage.models import ComplaintPhoto, MediaFile
from storage.uow import UnitOfWork

PATH = "/media/"
_DIGEST_CHARS = 32


def _signature(secret: bytes, photo_id: int) -> str:
    return hmac.new(secret, f"open311-media:{photo_id}".encode(), hashlib.sha256).hexdigest()[:_DIGEST_CHARS]


def token_for(secret: bytes, photo_id: int) -> str:
    return f"{photo_id}-{_signature(secret, photo_id)}"


def photo_id_of(secret: bytes, token: str) -> int | None:
    """The photo a token names, when its signature is right."""
    number, _, signature = token.partition("-")
    if not number.isdigit() or len(number) > 12 or not secret:
        return None
    photo_id = int(number)
    return photo_id if hmac.compare_digest(signature, _signature(secret, photo_id)) else None


def url_for(base: str, rt: Runtime, photo_id: int) -> str:
    """The absolute ``media_url`` (``base`` is the API's public base, ``.../open311/v2``)."""
    return f"{base}{PATH}{token_for(rt.secret, photo_id)}"


async def serve(request: web.Request) -> web.StreamResponse:
    rt = web_context(request).runtime
    photo_id = photo_id_of(rt.secret, request.match_info["token"])
    if photo_id is None:
        raise not_found("media")
    async with UnitOfWork(rt.sessionmaker) as uow:
        photo = await uow.session.get(ComplaintPhoto, photo_id)
        complaint = await uow.complaints.get(photo.complaint_id) if photo is not None else None
        if photo is None or complaint is None or not records.is_published(complaint):
            raise not_found("media")
        if records.first_photo_id(complaint) != (photo.id, photo.sha256):
            raise not_found("media")  # only the first photo of the problem is published
        media = await uow.session.get(MediaFile, photo.sha256)
        if media is None or not media.reencoded:
            raise not_found("media")
        path, mime_type = media.path, media.mime_type
    if not await rt.media.exists(path):
        raise not_found("media")
    data = await rt.media.read(path)
    return web.Response(body=data, content_type=mime_type, headers={"Cache-Control": "public, max-age=3600"})


__all__ = ["PATH", "photo_id_of", "serve", "token_for", "url_for"]
