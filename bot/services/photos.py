"""Photos stored before issue 12, re-encoded without metadata: a data step of ``sikesal migrate``.

Since issue 12 every photo is stored re-encoded (:meth:`storage.media.MediaStore.put`). Files stored before
may carry what the sender's phone wrote (EXIF with GPS and camera serial, XMP, thumbnails), and the
Telegram file ids cached for them may be the sender's own, which would show the original to whoever
receives it. A schema migration cannot do this (it needs the media directory), so ``sikesal migrate`` runs
:func:`reencode_stored_photos` after the alembic upgrade, like the clocks of issue 11.

Each file still marked ``media_files.reencoded = false`` is read, re-encoded and stored under its new hash;
in one transaction the new row takes its place everywhere the old hash is named (``complaint_photos``,
``audit_log.media_sha256``, the drafts in ``conversations`` and the messages still waiting in the outbox),
cached Telegram file ids are dropped (the next card uploads the clean bytes and caches the id Telegram
returns for them), and the old row goes; the old file is deleted after the commit, once nothing refers to
it. A file that cannot be read or decoded keeps its bytes but loses its cached ids, so its original can
never be shown through them. Every row handled is marked, so a second run finds nothing to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, cast, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.images import NotAnImage
from storage.media import MediaStore, StoredImage
from storage.models import AuditEntry, ComplaintPhoto, ConversationRow, MediaFile, OutboxMessage
from storage.outbox import PENDING

log = logging.getLogger("sikesal.photos")


@dataclass
class Cleanup:
    """What a run did (``sikesal migrate`` prints it)."""

    reencoded: int = 0
    unreadable: int = 0
    files_removed: int = 0


async def reencode_stored_photos(
    sessionmaker: async_sessionmaker[AsyncSession], media: MediaStore, *, batch: int = 100
) -> Cleanup:
    """Re-encode every stored photo not re-encoded yet and move every reference to its new hash; one
    transaction per photo (a crash loses at most the one in hand, which the next run does again)."""
    done = Cleanup()
    last = ""
    while True:
        async with sessionmaker() as session:
            found = list(
                (
                    await session.scalars(
                        select(MediaFile.sha256)
                        .where(MediaFile.reencoded.is_(False), MediaFile.sha256 > last)
                        .order_by(MediaFile.sha256)
                        .limit(batch)
                    )
                ).all()
            )
        if not found:
            break
        for sha256 in found:
            last = sha256
            await _one(sessionmaker, media, sha256, done)
    if done.reencoded or done.unreadable:
        log.info("re-encoded %d stored photos (%d could not be decoded, %d old files removed)",
                 done.reencoded, done.unreadable, done.files_removed)
    return done


async def _one(
    sessionmaker: async_sessionmaker[AsyncSession], media: MediaStore, sha256: str, done: Cleanup
) -> None:
    async with sessionmaker() as session, session.begin():
        row = await session.get(MediaFile, sha256, with_for_update=True)
        if row is None or row.reencoded:
            return  # another process did it meanwhile
        try:
            stored: StoredImage | None = await media.put(await media.read(row.path))
        except (FileNotFoundError, ValueError, NotAnImage) as exc:  # ValueError: a path outside the store
            log.warning("stored photo %s could not be re-encoded (%s); its cached ids are dropped",
                        sha256[:12], type(exc).__name__)
            stored = None
        if stored is None or stored.sha256 == sha256:
            row.reencoded = True
            row.telegram_file_id = None
            await session.execute(
                update(ComplaintPhoto).where(ComplaintPhoto.sha256 == sha256).values(telegram_file_id=None)
            )
            await _rewrite_json(session, {sha256: None} if stored is None else {sha256: _ref(stored)})
            done.unreadable += stored is None
            done.reencoded += stored is not None
            return
        old_path = row.path
        target = await session.get(MediaFile, stored.sha256)
        if target is None:  # (the same clean bytes may already be stored: two copies of one photo)
            session.add(MediaFile(sha256=stored.sha256, path=stored.path, mime_type=stored.mime_type,
                                  size=stored.size, telegram_file_id=None, reencoded=True, created_at=row.created_at))
            await session.flush()
        await session.execute(
            update(ComplaintPhoto).where(ComplaintPhoto.sha256 == sha256)
            .values(sha256=stored.sha256, telegram_file_id=None)
        )
        await session.execute(
            update(AuditEntry).where(AuditEntry.media_sha256 == sha256).values(media_sha256=stored.sha256)
        )
        await _rewrite_json(session, {sha256: _ref(stored)})
        await session.delete(row)
    if old_path != stored.path and await media.remove(old_path):
        done.files_removed += 1
    done.reencoded += 1


def _ref(stored: StoredImage) -> dict[str, Any]:
    """What a serialized :class:`handlers.events.MediaRef` becomes (no Telegram file id: see the module)."""
    return {"sha256": stored.sha256, "mime_type": stored.mime_type, "size": stored.size, "telegram_file_id": None}


async def _rewrite_json(session: AsyncSession, refs: dict[str, dict[str, Any] | None]) -> None:
    """Drafts and waiting messages name photos by hash inside their JSON: point them at the new file (for
    ``None``: keep the hash, drop the file id). Only rows whose text names the hash are loaded."""
    for sha256, new in refs.items():
        needle = f"%{sha256}%"
        conversations = await session.scalars(
            select(ConversationRow).where(cast(ConversationRow.state, String).like(needle))
        )
        for conversation in conversations:
            conversation.state = _replaced(conversation.state, sha256, new)
        waiting = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.status == PENDING, cast(OutboxMessage.payload, String).like(needle))
        )
        for message in waiting:
            message.payload = _replaced(message.payload, sha256, new)


def _replaced(value: Any, sha256: str, new: dict[str, Any] | None) -> Any:
    """A copy of JSON ``value`` with every media reference to ``sha256`` replaced (a new object, so the
    ORM sees the change)."""
    if isinstance(value, dict):
        if value.get("sha256") == sha256 and "mime_type" in value:
            return {**value, **(new or {}), "telegram_file_id": None}
        return {key: _replaced(item, sha256, new) for key, item in value.items()}
    if isinstance(value, list):
        return [_replaced(item, sha256, new) for item in value]
    return value


__all__ = ["Cleanup", "reencode_stored_photos"]
