"""``sikesal migrate`` re-encodes photos stored before issue 12 (bot.services.photos), on SQLite and
PostgreSQL: the stored file loses its EXIF (GPS, camera serial), its hash and path change, and every
reference follows (complaint_photos, the audit trail, a draft in progress, a message still waiting in the
outbox); cached Telegram file ids (possibly the citizen's own) are cleared, the old file is removed, and a
second run changes nothing."""

from __future__ import annotations

import asyncio
import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.photos import reencode_stored_photos
from handlers.events import MediaRef
from handlers.messages import OutMessage
from storage.images import is_clean_jpeg
from storage.media import MediaStore
from storage.models import AuditEntry, ComplaintPhoto, ConversationRow, MediaFile, OutboxMessage
from storage.uow import UnitOfWork

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[2]


def phone_photo(gray: int = 150) -> bytes:
    image = Image.new("RGB", (640, 480), (gray, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = "SERIAL-0042"  # BodySerialNumber
    exif[0x8825] = {1: "S", 2: (1.0, 36.0, 36.0), 3: "E", 4: (103.0, 36.0, 47.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


def seed_file(store: MediaStore, data: bytes, ext: str = ".jpg") -> tuple[str, str]:
    """A file as an older version stored it: the sender's bytes as they came, by their hash."""
    sha = hashlib.sha256(data).hexdigest()
    relative = f"{sha[:2]}/{sha[2:4]}/{sha}{ext}"
    path = store.path_for(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return sha, relative


async def seed(sessionmaker: async_sessionmaker[AsyncSession], store: MediaStore) -> tuple[str, str, int]:
    """A complaint with a dirty photo (cached file id: the citizen's own), its audit entry, a draft and a
    waiting message naming it, and an undecodable file; returns (dirty sha, broken sha, complaint id)."""
    dirty, dirty_path = seed_file(store, phone_photo())
    broken, broken_path = seed_file(store, b"%PDF-1.4 not a photo")
    async with UnitOfWork(sessionmaker) as uow:
        uow.session.add_all([
            MediaFile(sha256=dirty, path=dirty_path, mime_type="image/jpeg", size=10, telegram_file_id="AgACcitizen",
                      reencoded=False),
            MediaFile(sha256=broken, path=broken_path, mime_type="image/jpeg", size=10, telegram_file_id="AgACbroken",
                      reencoded=False),
        ])
        await uow.session.flush()
        citizen = await uow.citizens.get_or_create("telegram", "7001")
        complaint = await uow.complaints.create(
            number="JMB-2026-000001", citizen_id=citizen.id, category="jalan", description="Jalan berlubang",
            agency="pupr", now=NOW, photos=[(dirty, "AgACcitizen"), (broken, "AgACbroken")],
        )
        uow.session.add(AuditEntry(complaint_id=complaint.id, actor_kind="staff", action="resolve", media_sha256=dirty))
        other = await uow.citizens.get_or_create("telegram", "7002")
        row = await uow.conversations.load(other.id)
        ref = MediaRef(sha256=dirty, mime_type="image/jpeg", size=10, telegram_file_id="AgACcitizen").to_dict()
        await uow.conversations.save(row, {"step": "photos", "draft": {"photos": [ref]}}, "photos", now=NOW)
        await uow.outbox.enqueue("telegram", "-100123", OutMessage("kartu", photos=(MediaRef.from_dict(ref),)), now=NOW)
        await uow.commit()
        return dirty, broken, complaint.id


async def snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, object]:
    async with sessionmaker() as session:
        media = sorted((m.sha256, m.path, m.telegram_file_id, m.reencoded)
                       for m in (await session.scalars(select(MediaFile))).all())
        photos = [(p.position, p.sha256, p.telegram_file_id)
                  for p in (await session.scalars(select(ComplaintPhoto).order_by(ComplaintPhoto.position))).all()]
        audit = (await session.scalars(select(AuditEntry.media_sha256))).all()
        states = [c.state for c in (await session.scalars(select(ConversationRow))).all() if c.state]
        payloads = [o.payload for o in (await session.scalars(select(OutboxMessage))).all()]
    return {"media": media, "photos": photos, "audit": audit, "states": states, "payloads": payloads}


async def test_migrate_re_encodes_a_stored_photo_and_moves_every_reference_once(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    store = MediaStore(tmp_path / "media")
    dirty, broken, _complaint_id = await seed(sessionmaker, store)

    first = await reencode_stored_photos(sessionmaker, store)
    assert (first.reencoded, first.unreadable, first.files_removed) == (1, 1, 1)
    after = await snapshot(sessionmaker)
    media = after["media"]
    assert isinstance(media, list) and len(media) == 2
    clean = next(m for m in media if m[0] != broken)
    new_sha, new_path, file_id, marked = clean
    data = store.path_for(new_path).read_bytes()
    assert new_sha != dirty and new_sha == hashlib.sha256(data).hexdigest() and new_path.endswith(".jpg")
    assert is_clean_jpeg(data) and b"SERIAL-0042" not in data
    assert not Image.open(io.BytesIO(data)).getexif(), "no GPS, no camera serial"
    assert file_id is None and marked, "the cached id (the citizen's own file) is gone"
    assert not list(store.root.rglob(f"{dirty}*")), "the old file is removed"
    assert (broken, next(m for m in media if m[0] == broken)[1], None, True) in media, "undecodable: kept, id dropped"
    assert after["photos"] == [(0, new_sha, None), (1, broken, None)]
    assert after["audit"] == [new_sha]
    draft_ref = after["states"][0]["draft"]["photos"][0]  # type: ignore[index]
    assert draft_ref == {"sha256": new_sha, "mime_type": "image/jpeg", "size": len(data), "telegram_file_id": None}
    waiting = OutMessage.from_dict(after["payloads"][0])  # type: ignore[index]
    assert [(p.sha256, p.telegram_file_id) for p in waiting.photos] == [(new_sha, None)]

    second = await reencode_stored_photos(sessionmaker, store)
    assert (second.reencoded, second.unreadable, second.files_removed) == (0, 0, 0)
    assert await snapshot(sessionmaker) == after, "a second run changes nothing"


async def test_photos_stored_now_are_marked_and_left_alone(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    store = MediaStore(tmp_path / "media")
    stored = await store.put(phone_photo(gray=40))
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.media.upsert(stored.sha256, stored.path, stored.mime_type, stored.size)
        await uow.media.set_telegram_file_id(stored.sha256, "AgACours")
        assert row.reencoded
        await uow.commit()
    done = await reencode_stored_photos(sessionmaker, store)
    assert (done.reencoded, done.unreadable) == (0, 0)
    async with UnitOfWork(sessionmaker) as uow:
        kept = await uow.media.get(stored.sha256)
        assert kept is not None and kept.telegram_file_id == "AgACours", "our own upload's id stays cached"


def test_sikesal_migrate_re_encodes_the_stored_photos(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The data step runs in ``sikesal migrate``, after the schema upgrade, and says what it did once."""
    from bot.cli import main
    from storage.db import make_engine, make_sessionmaker

    url = f"sqlite+aiosqlite:///{tmp_path / 'sikesal.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SIKESAL_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SIKESAL_CONFIG", str(ROOT / "config.yaml"))
    assert main(["migrate"]) == 0

    async def store_old() -> None:
        engine = make_engine(url)
        try:
            await seed(make_sessionmaker(engine), MediaStore(tmp_path / "media"))
        finally:
            await engine.dispose()

    asyncio.run(store_old())
    assert main(["migrate"]) == 0
    assert "2 stored photos re-encoded without metadata." in capsys.readouterr().out
    assert main(["migrate"]) == 0
    assert "re-encoded" not in capsys.readouterr().out, "a second run has nothing to do"
