"""Photos as a phone writes them, and what SiKesal must make of them (issue 12): a test JPEG with EXIF (a GPS
position, the camera's maker and serial number), the re-encoded bytes the store keeps for it, and a check
that bytes someone received carry no metadata."""

from __future__ import annotations

import io

from PIL import Image

from storage.images import is_clean_jpeg, reencode_jpeg

SERIAL = "SERIAL-0042"
MAKER = "PhoneMaker"


def phone_photo(width: int = 640, height: int = 480, gray: int = 150) -> bytes:
    """A JPEG with EXIF: maker, camera serial number and a GPS position in Kota Jambi."""
    image = Image.new("RGB", (width, height), (gray, 120, 40))
    exif = Image.Exif()
    exif[0x010F] = MAKER  # Make
    exif[0xA431] = SERIAL  # BodySerialNumber
    exif[0x8825] = {1: "S", 2: (1.0, 36.0, 36.0), 3: "E", 4: (103.0, 36.0, 47.0)}  # GPSInfo
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(0x8825), "the test photo carries a GPS position"
    return data


def cleaned(data: bytes) -> bytes:
    """The bytes SiKesal stores (and shows) for ``data``: the re-encoding is deterministic."""
    result = reencode_jpeg(data)
    assert result is not None
    return result


def assert_clean(data: bytes) -> Image.Image:
    """``data`` is a JPEG without EXIF (no GPS, no serial), XMP or other metadata; returns it opened."""
    assert data.startswith(b"\xff\xd8"), "a JPEG"
    assert SERIAL.encode() not in data and MAKER.encode() not in data and b"Exif" not in data
    image = Image.open(io.BytesIO(data))
    assert not image.getexif(), "no EXIF (GPS, camera serial)"
    assert is_clean_jpeg(data), f"no metadata segments: {image.info.keys()}"
    return image
