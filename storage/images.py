"""Images as staff may see them: decoded, turned upright, scaled to a sensible size and re-encoded as a
plain JPEG with no metadata (EXIF with GPS and camera serial, XMP, ICC, thumbnails).

Why: a citizen who sends a photo *as a file* hands over the original, with everything the phone wrote
into it; Telegram strips that only from photos sent as photos. What is not a decodable image is refused,
whatever its name or declared type. Pillow is the well-kept library for this; the work is CPU-bound, so
callers run :func:`reencode_jpeg` in a thread.
"""

from __future__ import annotations

import io
import math
import warnings
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

#: the longest side of a stored image; Telegram shows photos at most 2560 px wide anyway
MAX_SIDE = 2560
#: refuse decompression bombs (a tiny file that claims to be a gigapixel image)
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 85
#: the type every stored photo has: :meth:`storage.media.MediaStore.put` stores nothing else
STORED_MIME = "image/jpeg"


class NotAnImage(ValueError):
    """Bytes that claim to be an image (by name or declared type) but do not decode as one."""


def reencode_jpeg(data: bytes, *, max_side: int = MAX_SIDE) -> bytes | None:
    """The image as a metadata-free JPEG no larger than ``max_side``; None if it is not a usable image."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                width, height = probe.size
                if width < 1 or height < 1 or width * height > MAX_PIXELS:
                    return None
                probe.verify()  # structural check; the image must be opened again to be used
            with Image.open(io.BytesIO(data)) as image:
                image.seek(0)  # the first frame of an animated GIF/WebP
                if max(width, height) > max_side:
                    # a big JPEG is decoded already scaled down by 1/2, 1/4 or 1/8 (never below the target
                    # size): a 24 MP phone photo costs a quarter of the time and memory of a full decode
                    ratio = max_side / max(width, height)
                    image.draft("RGB", (math.ceil(width * ratio), math.ceil(height * ratio)))
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        return None
    rgb.thumbnail((max_side, max_side))
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)  # no exif=, icc_profile=: nothing kept
    return out.getvalue()


def is_clean_jpeg(source: bytes | Path, *, max_side: int = MAX_SIDE) -> bool:
    """Whether ``source`` already is what :func:`reencode_jpeg` makes: a JPEG no larger than ``max_side``
    whose only application segment is the plain JFIF header (no EXIF, XMP, ICC, Adobe, comments).

    Only the header is read, so this is cheap: the sender uploads such bytes as they are (re-encoding a
    clean JPEG again only loses quality) and ``sikesal migrate`` re-encodes only files that fail it, which
    makes a second run a no-op."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            if image.format != "JPEG" or max(image.size) > max_side:
                return False
            markers = {marker for marker, _ in getattr(image, "applist", [])}
            if markers - {"APP0"} or any(key in image.info for key in _METADATA_KEYS):
                return False
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        return False
    return True


#: what Pillow puts in ``Image.info`` for metadata a phone or editor wrote into a JPEG
_METADATA_KEYS = ("exif", "xmp", "icc_profile", "photoshop", "comment", "adobe")
