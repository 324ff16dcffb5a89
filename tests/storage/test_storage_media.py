"""MediaStore: content addressing, atomic writes, dedup."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from storage.media import MediaStore, extension_for

JPEG = b"\xff\xd8\xff\xe0" + b"photo" * 1000


async def test_put_read_and_layout(media_store: MediaStore) -> None:
    sha, relative = await media_store.put(JPEG, "image/jpeg")
    assert sha == hashlib.sha256(JPEG).hexdigest()
    assert relative == f"{sha[:2]}/{sha[2:4]}/{sha}.jpg"
    assert media_store.path_for(relative) == (media_store.root / relative).resolve()
    assert await media_store.read(relative) == JPEG
    assert await media_store.exists(relative)


async def test_put_is_idempotent_and_deduplicates(media_store: MediaStore) -> None:
    first = await media_store.put(JPEG, "image/jpeg")
    path = media_store.path_for(first[1])
    mtime = path.stat().st_mtime_ns
    results = await asyncio.gather(*(media_store.put(JPEG, "image/jpeg") for _ in range(10)))
    assert set(results) == {first}
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    files = [p for p in media_store.root.rglob("*") if p.is_file()]
    assert files == [path]  # one file, no temporary leftovers

    other = await media_store.put(b"another photo", "image/png")
    assert other[0] != first[0] and other[1].endswith(".png")


async def test_concurrent_first_writes_leave_one_complete_file(media_store: MediaStore) -> None:
    data = b"x" * 2_000_000
    results = await asyncio.gather(*(media_store.put(data, "image/jpeg") for _ in range(8)))
    assert len(set(results)) == 1
    assert await media_store.read(results[0][1]) == data
    assert [p.name for p in media_store.root.rglob("*") if p.is_file()] == [Path(results[0][1]).name]


async def test_path_traversal_refused(media_store: MediaStore) -> None:
    for bad in ("../outside.jpg", "/etc/passwd", "ab/../../x", ""):
        with pytest.raises(ValueError):
            media_store.path_for(bad)
    with pytest.raises(FileNotFoundError):
        await media_store.read("ab/cd/missing.jpg")


def test_extensions() -> None:
    assert extension_for("image/jpeg") == ".jpg"
    assert extension_for("IMAGE/JPEG; charset=binary") == ".jpg"
    assert extension_for("image/webp") == ".webp"
    assert extension_for("application/x-unknown-thing") == ".bin"
