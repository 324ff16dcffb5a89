"""MediaStore: every photo re-encoded without metadata, content addressing, atomic writes, dedup."""

from __future__ import annotations

import asyncio
import hashlib
import io
from pathlib import Path

import pytest
from PIL import Image

from storage.images import MAX_SIDE, NotAnImage
from storage.media import MediaStore, extension_for


def phone_photo(width: int = 640, height: int = 480, gray: int = 120) -> bytes:
    """A JPEG as a phone writes it: EXIF with the maker, a camera serial and a GPS position."""
    image = Image.new("RGB", (width, height), (gray, gray // 2, 40))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0xA431] = "SERIAL-0042"  # BodySerialNumber
    exif[0x8825] = {1: "S", 2: (1.0, 36.0, 36.0), 3: "E", 4: (103.0, 36.0, 47.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    return out.getvalue()


JPEG = phone_photo()


async def test_put_stores_the_photo_re_encoded_without_metadata(media_store: MediaStore) -> None:
    stored = await media_store.put(JPEG)
    data = await media_store.read(stored.path)
    assert stored.sha256 == hashlib.sha256(data).hexdigest() and stored.size == len(data)
    assert stored.path == f"{stored.sha256[:2]}/{stored.sha256[2:4]}/{stored.sha256}.jpg"
    assert stored.mime_type == "image/jpeg"
    assert media_store.path_for(stored.path) == (media_store.root / stored.path).resolve()
    assert await media_store.exists(stored.path)
    assert b"SERIAL-0042" not in data and b"PhoneMaker" not in data
    with Image.open(io.BytesIO(data)) as image:
        assert not image.getexif() and image.size == (640, 480) and "exif" not in image.info


async def test_an_oversized_image_is_scaled_to_max_side(media_store: MediaStore) -> None:
    stored = await media_store.put(phone_photo(6000, 4000))
    with Image.open(media_store.path_for(stored.path)) as image:
        assert image.size[0] == MAX_SIDE and abs(image.size[1] - MAX_SIDE * 4000 / 6000) < 1


@pytest.mark.parametrize("data", [b"%PDF-1.4 not really a photo", b"\xff\xd8\xff\xe0 truncated", b""])
async def test_what_does_not_decode_as_an_image_is_refused_and_not_stored(
    media_store: MediaStore, data: bytes
) -> None:
    with pytest.raises(NotAnImage):
        await media_store.put(data)
    assert not [p for p in media_store.root.rglob("*") if p.is_file()]


async def test_put_is_idempotent_and_deduplicates(media_store: MediaStore) -> None:
    first = await media_store.put(JPEG)
    path = media_store.path_for(first.path)
    mtime = path.stat().st_mtime_ns
    results = await asyncio.gather(*(media_store.put(JPEG) for _ in range(10)))
    assert set(results) == {first}
    assert path.stat().st_mtime_ns == mtime  # not rewritten
    files = [p for p in media_store.root.rglob("*") if p.is_file()]
    assert files == [path]  # one file, no temporary leftovers

    png = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(png, format="PNG")
    other = await media_store.put(png.getvalue())
    assert other.sha256 != first.sha256 and other.path.endswith(".jpg"), "a PNG is stored as a clean JPEG"
    assert await media_store.remove(other.path) and not await media_store.remove(other.path)


async def test_concurrent_first_writes_leave_one_complete_file(media_store: MediaStore) -> None:
    data = phone_photo(2000, 1500, gray=200)
    results = await asyncio.gather(*(media_store.put(data) for _ in range(8)))
    assert len(set(results)) == 1
    assert hashlib.sha256(await media_store.read(results[0].path)).hexdigest() == results[0].sha256
    assert [p.name for p in media_store.root.rglob("*") if p.is_file()] == [Path(results[0].path).name]


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
