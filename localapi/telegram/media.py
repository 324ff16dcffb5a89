"""Tiny image helpers: a valid JPEG generator and a header-only size reader (no Pillow needed).

Simulated users send photos; the bot may download and re-upload them or inspect them, so the bytes must
be a decodable JPEG, and the PhotoSize width/height must be plausible, without a heavy imaging dependency.
"""

from __future__ import annotations

import struct


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def make_jpeg(width: int = 320, height: int = 240, gray: int = 128) -> bytes:
    """Build a baseline grayscale JPEG of one flat colour (``gray`` 0-255).

    Every 8x8 block has only a DC coefficient, so the entropy-coded data is a handful of fixed bit patterns
    with one-symbol Huffman tables; the result decodes in any JPEG reader.
    """
    width, height = max(8, width), max(8, height)
    dc = gray - 128  # a flat block's DC coefficient is 8 * (gray - 128); the quantiser is 8
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    category = abs(dc).bit_length()
    app0 = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    dqt = _segment(0xDB, b"\x00" + bytes([8] * 64))
    sof = _segment(0xC0, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    # DC table: symbols {0, category}; AC table: only EOB (0x00).
    # A lone 1-bit code "1" would be all-ones (forbidden), so the second symbol gets the 2-bit code "10".
    dc_symbols = [0, category] if category else [0]
    dc_counts = bytes([1, len(dc_symbols) - 1] + [0] * 14)
    dht_dc = _segment(0xC4, b"\x00" + dc_counts + bytes(dc_symbols))
    dht_ac = _segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\x00")
    sos = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    # Codes: DC category 0 -> "0", DC ``category`` -> "10"; AC EOB -> "0".
    bits: list[str] = []
    for index in range(blocks):
        if index == 0 and category:
            value = dc if dc > 0 else dc + (1 << category) - 1
            bits.append("10" + format(value, f"0{category}b"))
        else:
            bits.append("0")
        bits.append("0")  # EOB
    stream = "".join(bits)
    stream += "1" * (-len(stream) % 8)
    data = bytearray(int(stream[k : k + 8], 2) for k in range(0, len(stream), 8))
    scan = bytes(data).replace(b"\xff", b"\xff\x00")
    return b"\xff\xd8" + app0 + dqt + sof + dht_dc + dht_ac + sos + scan + b"\xff\xd9"


def image_size(data: bytes) -> tuple[int, int] | None:
    """Read (width, height) from a JPEG, PNG, GIF or WebP header; None when unknown."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:16] == b"VP8 " and len(data) >= 30:
        width, height = struct.unpack("<HH", data[26:30])
        return int(width) & 0x3FFF, int(height) & 0x3FFF
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF):
            if pos + 9 > len(data):
                return None
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return int(width), int(height)
        pos += 2 + length
    return None


def photo_dimensions(width: int, height: int) -> list[tuple[int, int]]:
    """The thumbnail ladder Telegram stores for a photo (90, 320, 800, 1280 px on the long side)."""
    longest = max(width, height, 1)
    sizes: list[tuple[int, int]] = []
    for limit in (90, 320, 800, 1280):
        scale = min(1.0, limit / longest)
        dims = (max(1, round(width * scale)), max(1, round(height * scale)))
        if not sizes or dims != sizes[-1]:
            sizes.append(dims)
        if scale == 1.0:
            break
    while len(sizes) < 3:  # Telegram always offers several sizes; tiny images repeat the original
        sizes.append(sizes[-1])
    return sizes
