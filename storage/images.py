"""Images as staff may see them: decoded, turned upright, scaled to a sensible size and re-encoded as a
plain JPEG with no metadata (EXIF with GPS and camera serial, XMP, ICC, thumbnails).

Why: a citizen who sends a photo *as a file* hands over the original, with everything the phone wrote
into it; Telegram strips that only from photos sent as photos. What is not a decodable image is refused,
whatever its name or declared type. Pillow is the well-kept library for this; the work is CPU-bound, so
callers run :func:`reencode_jpeg` in a thread.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

#: the longest side of a stored image; Telegram shows photos at most 2560 px wide anyway
MAX_SIDE = 2560
#: refuse decompression bombs (a tiny file that claims to be a gigapixel image)
MAX_PIXELS = 60_000_000
JPEG_QUALITY = 85


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
                upright = ImageOps.exif_transpose(image)
                rgb = upright.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        return None
    rgb.thumbnail((max_side, max_side))
    out = io.BytesIO()
    rgb.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)  # no exif=, icc_profile=: nothing kept
    return out.getvalue()
