"""Content-addressed file store for complaint photos.

Every photo is stored re-encoded (:func:`storage.images.reencode_jpeg`: no EXIF, GPS, camera serial, XMP or
thumbnails, at most ``MAX_SIDE`` px) by the one storing function, :meth:`MediaStore.put`, so no path that
takes a photo in (a citizen's, a clerk's reply or proof, a WhatsApp download) can forget it, and whatever
staff, citizens or Twilio are later shown is the cleaned file. Files are named by their SHA-256, so the same photo sent twice (or forwarded to several
complaints) is stored once, and a half-written file can never be mistaken for a complete one:
bytes go to a temporary file in the target directory and are renamed into place atomically.
Disk I/O runs in a worker thread so the event loop keeps serving other citizens.
"""

from __future__ import annotations

import asyncio
import hashlib
import mimetypes
import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from storage.images import STORED_MIME, NotAnImage, reencode_jpeg

#: extensions for the types we expect; mimetypes' answers vary by platform (".jpe", ".jfif"...)
_EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/png": ".png",
    "image/webp": ".webp",
    "image/gif": ".gif",
    "image/heic": ".heic",
    "image/heif": ".heif",
    "video/mp4": ".mp4",
    "audio/ogg": ".ogg",
    "application/pdf": ".pdf",
}


def extension_for(mime_type: str) -> str:
    """A stable file extension for ``mime_type`` (``.bin`` when unknown)."""
    mime = mime_type.split(";", 1)[0].strip().lower()
    ext = _EXTENSIONS.get(mime) or mimetypes.guess_extension(mime, strict=False) or ".bin"
    return ext


class StoredImage(NamedTuple):
    """A photo as stored: its hash, path under the media root, size and type (always a JPEG)."""

    sha256: str
    path: str
    size: int
    mime_type: str = STORED_MIME


class MediaStore:
    """Files under ``root`` at ``ab/cd/<sha256><ext>`` (two fan-out levels keep directories small)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @staticmethod
    def relative_path(sha256: str, mime_type: str) -> str:
        """Where a file with this hash and type lives, relative to the root (POSIX separators)."""
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{extension_for(mime_type)}"

    async def put(self, data: bytes) -> StoredImage:
        """Re-encode ``data`` as a metadata-free JPEG and store that, whatever the declared type; raises
        :class:`~storage.images.NotAnImage` when it does not decode as an image. The decoding is CPU-bound
        and the write is disk I/O: both run in one worker thread. Storing the same cleaned bytes again is
        a no-op returning the same values."""
        return await asyncio.to_thread(self._clean_and_write, data)

    def _clean_and_write(self, data: bytes) -> StoredImage:
        cleaned = reencode_jpeg(data)
        if cleaned is None:
            raise NotAnImage("the bytes do not decode as an image")
        sha256 = hashlib.sha256(cleaned).hexdigest()
        relative = self.relative_path(sha256, STORED_MIME)
        self._write(self.path_for(relative), cleaned)
        return StoredImage(sha256, relative, len(cleaned))

    async def remove(self, relative: str) -> bool:
        """Delete a stored file (the migration, once nothing refers to its old bytes); False if absent."""
        path = self.path_for(relative)

        def unlink() -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            return True

        return await asyncio.to_thread(unlink)

    def path_for(self, relative: str) -> Path:
        """The absolute path of a stored file; refuses paths escaping the root (the relative path
        comes from the database, but a corrupted or hostile value must not read /etc/passwd)."""
        root = self.root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root) or path == root:
            raise ValueError(f"media path {relative!r} is outside the media directory")
        return path

    async def read(self, relative: str) -> bytes:
        """The stored bytes (FileNotFoundError if missing)."""
        return await asyncio.to_thread(self.path_for(relative).read_bytes)

    async def exists(self, relative: str) -> bool:
        """Whether the file is on disk."""
        return await asyncio.to_thread(self.path_for(relative).is_file)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.is_file() and path.stat().st_size == len(data):
            return  # same name means same content: already stored
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, path)
        except BaseException:
            try:
                os.unlink(tmp_name)
            except FileNotFoundError:
                pass
            raise
