"""Dashboard passwords: argon2id (argon2-cffi's ``PasswordHasher`` with the library's defaults).

Hashing costs tens of milliseconds and 64 MiB by design, so the web handlers call the ``*_async`` forms,
which run in a worker thread and leave the event loop (Telegram, WhatsApp, other pages) free. An unknown
user name is checked against :func:`dummy_hash` so a wrong name takes as long as a wrong password.
Nothing here logs a password or a hash.
"""

from __future__ import annotations

import asyncio
import functools

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

#: passwords shorter than this are refused by ``sikesal user add`` / ``passwd``
MIN_LENGTH = 10
#: longer input is cut before hashing (a megabyte "password" should cost what a normal one costs)
MAX_LENGTH = 1024

HASHER = PasswordHasher()


@functools.cache
def dummy_hash() -> str:
    """A real hash of a fixed string (made once, on first use): verifying against it costs what a real
    check costs."""
    return HASHER.hash("sikesal-dummy-password-for-unknown-users")


def hash_password(password: str) -> str:
    return HASHER.hash(password[:MAX_LENGTH])


def verify(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password[:MAX_LENGTH])
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    try:
        return HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_async(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown user) the dummy is checked and False returned."""
    if password_hash is None:
        await asyncio.to_thread(verify, dummy_hash(), password)
        return False
    return await asyncio.to_thread(verify, password_hash, password)


__all__ = [
    "MAX_LENGTH",
    "MIN_LENGTH",
    "dummy_hash",
    "hash_password",
    "hash_password_async",
    "needs_rehash",
    "verify",
    "verify_async",
]
