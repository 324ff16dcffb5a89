"""The dashboard's session key (``SIKESAL_SECRET_KEY``).

Format: 32 random bytes in URL-safe base64 (44 characters, the Fernet key format aiohttp-session's
``EncryptedCookieStorage`` uses), e.g. ``python3 -c "import base64,secrets;
print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"``. A single process generates one into
``<data dir>/secret_key`` (mode 0600) on its first run and reuses it; several processes sharing a database must
all be given the same ``SIKESAL_SECRET_KEY`` (each would otherwise refuse the others' cookies). The key is
never logged. Changing it signs everybody out.
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

KEY_FILE = "secret_key"


class SecretKeyError(ValueError):
    pass


def parse(value: str) -> bytes:
    """The 32 bytes of a ``SIKESAL_SECRET_KEY`` value; :class:`SecretKeyError` says what is wrong."""
    text = value.strip()
    try:
        raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raw = b""
    if len(raw) != 32:
        raise SecretKeyError(
            "SIKESAL_SECRET_KEY must be 32 random bytes in URL-safe base64 (44 characters), e.g. the output of "
            'python3 -c "import base64,secrets;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
        )
    return raw


def generate() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def load_or_create(data_dir: Path) -> bytes:
    """The key kept in ``data_dir`` (created, readable by its owner only, when missing)."""
    path = data_dir / KEY_FILE
    if path.exists():
        return parse(path.read_text(encoding="ascii"))
    data_dir.mkdir(parents=True, exist_ok=True)
    value = generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(value + "\n")
    return parse(value)


__all__ = ["KEY_FILE", "SecretKeyError", "generate", "load_or_create", "parse"]
