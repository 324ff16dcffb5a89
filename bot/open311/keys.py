"""Open311 API keys: how a key looks, and which application a posted key belongs to.

A key is 32 random bytes in URL-safe base64 (43 characters), shown once by ``sikesal apikey add``; the
database keeps only its sha256 (:mod:`storage.api_keys`), so a stolen backup holds no usable key.
"""

from __future__ import annotations

import secrets

from storage.api_keys import ApiKeyRepo
from storage.models import ApiKey
from storage.uow import UnitOfWork

#: the channel of the citizen rows that stand for Open311 applications (complaints they own)
OPEN311_CHANNEL = "open311"
#: longer than any key we issue: a bigger value is refused before it is hashed
MAX_KEY_LENGTH = 128


def new_key() -> str:
    return secrets.token_urlsafe(32)


def app_user_id(key: ApiKey) -> str:
    """The ``channel_user_id`` of the application's citizen row: its key's id, never the key."""
    return f"app:{key.id}"


async def application_for(uow: UnitOfWork, key: str | None) -> ApiKey | None:
    """The application holding ``key``; None when it is missing, unknown or revoked."""
    if not key or len(key) > MAX_KEY_LENGTH:
        return None
    return await ApiKeyRepo(uow.session).active_for(key)


__all__ = ["MAX_KEY_LENGTH", "OPEN311_CHANNEL", "app_user_id", "application_for", "new_key"]
