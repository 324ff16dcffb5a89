"""Retrying a unit of work that lost a race with another transaction.

SQLite answers "database is locked" when another process (say ``sikesal agency link-code``) holds
the write lock past the busy timeout; PostgreSQL may report a deadlock or a serialization failure;
the optimistic version on a conversation row raises ``StaleDataError`` when two events for the same
citizen raced. In each case nothing was committed, so running the whole unit of work again (with
fresh reads) is safe: the update's idempotency claim is part of the same transaction.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm.exc import StaleDataError

log = logging.getLogger("sikesal.storage")

P = ParamSpec("P")
T = TypeVar("T")

_TRANSIENT_MARKERS = ("database is locked", "deadlock detected", "could not serialize access")


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, StaleDataError):
        return True
    if isinstance(exc, OperationalError | DBAPIError):
        text = str(exc).lower()
        return any(marker in text for marker in _TRANSIENT_MARKERS)
    return False


def retry_transient(attempts: int = 4, base_delay: float = 0.05) -> Callable[[Callable[P, Awaitable[T]]], Callable[P, Awaitable[T]]]:
    """Run the decorated coroutine again (up to ``attempts`` times) after a transient conflict."""

    def decorate(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
        @functools.wraps(func)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
            for attempt in range(1, attempts + 1):
                try:
                    return await func(*args, **kwargs)
                except (OperationalError, DBAPIError, StaleDataError) as exc:
                    if attempt == attempts or not is_transient(exc):
                        raise
                    log.warning("%s: transient database conflict (%s), retry %d", func.__name__, exc.__class__.__name__, attempt)
                    await asyncio.sleep(base_delay * 2 ** (attempt - 1) * (1 + random.random()))
            raise AssertionError("unreachable")

        return wrapper

    return decorate
