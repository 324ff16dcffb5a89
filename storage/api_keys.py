"""The Open311 applications allowed to post service requests (``api_keys``).

Only the sha256 hex of a key is stored: a key is a long random string, so a fast hash is enough and a
lookup is one exact match on a unique column; the key itself is shown once, by ``sikesal apikey add``.
A revoked key stays (its complaints keep their owner) with ``revoked_at`` set.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ApiKey, utcnow


def hash_key(key: str) -> str:
    """What is stored for ``key`` (and looked up)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class ApiKeyRepo:
    """Repository for :class:`storage.models.ApiKey`, bound to one unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, name: str, key: str, *, now: datetime | None = None) -> ApiKey | None:
        """Store a new application; None when ``name`` (or, astronomically unlikely, the key) exists."""
        row = ApiKey(name=name, key_hash=hash_key(key), created_at=now or utcnow(), revoked_at=None)
        await self.session.flush()
        try:
            async with self.session.begin_nested():
                self.session.add(row)
        except IntegrityError:
            return None
        return row

    async def by_name(self, name: str) -> ApiKey | None:
        result = await self.session.execute(select(ApiKey).where(ApiKey.name == name))
        return result.scalar_one_or_none()

    async def get(self, key_id: int) -> ApiKey | None:
        return await self.session.get(ApiKey, key_id)

    async def active_for(self, key: str) -> ApiKey | None:
        """The application holding ``key``, unless the key is unknown or revoked."""
        result = await self.session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(key)))
        row = result.scalar_one_or_none()
        return row if row is not None and row.revoked_at is None else None

    async def revoke(self, name: str, *, now: datetime | None = None) -> ApiKey | None:
        """Revoke ``name``'s key (again is harmless: the first time is kept); None when unknown."""
        row = await self.by_name(name)
        if row is not None and row.revoked_at is None:
            row.revoked_at = now or utcnow()
        return row

    async def all(self) -> list[ApiKey]:
        result = await self.session.execute(select(ApiKey).order_by(ApiKey.name))
        return list(result.scalars())


__all__ = ["ApiKeyRepo", "hash_key"]
