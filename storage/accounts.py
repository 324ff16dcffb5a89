"""Dashboard accounts (``web_accounts``) and the failed-login counters (``login_throttle``), issue 13.

Like the other repositories these never commit: the caller's unit of work does. Password hashing is not
done here (:mod:`bot.web.passwords`): this module stores what it is given.

The throttle is a growing delay, never a lock: after :data:`FREE_FAILURES` failures on a key, each further
failure blocks that key for ``min(2 ** (failures - FREE_FAILURES), MAX_DELAY_S)`` seconds; an attempt on a
blocked key is refused without being counted. An attempt is counted before its password is checked
(:meth:`LoginThrottleRepo.begin_attempt`) and forgiven when it succeeds, so guesses sent in parallel cannot
all pass before the first failure is stored. A key that has been quiet for :data:`FORGET_AFTER` starts
again from zero (and its row is purged), so the table does not grow with every name somebody once typed.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import LoginThrottle, WebAccount

#: failures allowed on a key before any delay
FREE_FAILURES = 3
#: the longest delay one failure can cause (seconds): a slowdown, never a hard lock
MAX_DELAY_S = 300
#: a key with no failure for this long is forgotten
FORGET_AFTER = timedelta(hours=24)


class AccountExistsError(ValueError):
    pass


def delay_after(failures: int) -> int:
    """Seconds the next attempt waits after ``failures`` consecutive failures (0: no wait)."""
    if failures <= FREE_FAILURES:
        return 0
    return int(min(2 ** min(failures - FREE_FAILURES, 16), MAX_DELAY_S))


def user_key(username: str) -> str:
    return f"user:{username[:64]}"


#: an IPv6 client is counted by its /64: one home or phone gets a whole /64 and can pick a fresh address in
#: it for every guess, which would make a per-address counter count nothing
IPV6_PREFIX = 64


def address_key(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return f"addr:{address[:100]}"
    if isinstance(parsed, ipaddress.IPv6Address):
        return f"addr:{ipaddress.ip_network(f'{parsed}/{IPV6_PREFIX}', strict=False)}"
    return f"addr:{parsed}"


class WebAccountRepo:
    """The ``web_accounts`` rows: created, listed, re-passworded and disabled by ``sikesal user``."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, account_id: int) -> WebAccount | None:
        return await self.session.get(WebAccount, account_id)

    async def by_username(self, username: str) -> WebAccount | None:
        found = await self.session.execute(select(WebAccount).where(WebAccount.username == username))
        return found.scalar_one_or_none()

    async def all(self) -> list[WebAccount]:
        found = await self.session.execute(select(WebAccount).order_by(WebAccount.username))
        return list(found.scalars())

    async def add(self, username: str, password_hash: str, role: str, now: datetime) -> WebAccount:
        """A new account; :class:`AccountExistsError` when the name is taken (also by a concurrent add)."""
        account = WebAccount(username=username, password_hash=password_hash, role=role, version=1, created_at=now)
        try:
            async with self.session.begin_nested():
                self.session.add(account)
                await self.session.flush()
        except IntegrityError as exc:
            raise AccountExistsError(username) from exc
        return account

    async def set_password(self, account: WebAccount, password_hash: str) -> None:
        """A new password; the version bump ends every session signed in with the old one."""
        account.password_hash = password_hash
        account.version = account.version + 1
        await self.session.flush()

    async def rehash(self, account: WebAccount, password_hash: str) -> None:
        """The same password under newer hashing parameters (sessions stay valid)."""
        account.password_hash = password_hash
        await self.session.flush()

    async def disable(self, account: WebAccount, now: datetime) -> None:
        account.disabled_at = now
        account.version = account.version + 1
        await self.session.flush()

    async def record_login(self, account: WebAccount, now: datetime) -> None:
        account.last_login_at = now
        await self.session.flush()


class LoginThrottleRepo:
    """Failed-login counters per key (``user:<name>``, ``addr:<ip>``)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _count(self, key: str, now: datetime) -> None:
        """One more failure on ``key``: an UPDATE (which holds the row until the transaction ends), or an
        INSERT in a savepoint that falls back to the UPDATE when another request created the row first."""
        for _ in range(2):
            changed = await self.session.execute(
                update(LoginThrottle)
                .where(LoginThrottle.key == key)
                .values(
                    # a counter quiet for FORGET_AFTER starts again (the purge may not have run yet)
                    failures=case(
                        (LoginThrottle.last_failure_at < now - FORGET_AFTER, 1), else_=LoginThrottle.failures + 1
                    ),
                    last_failure_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if getattr(changed, "rowcount", 0):
                return
            try:
                async with self.session.begin_nested():
                    self.session.add(LoginThrottle(key=key, failures=1, last_failure_at=now, blocked_until=None))
                    await self.session.flush()
                return
            except IntegrityError:
                continue

    async def begin_attempt(self, keys: Sequence[str], now: datetime) -> datetime | None:
        """Count a sign-in attempt as a failure *before* its password is checked, so attempts sent in
        parallel cannot all slip through before the first failure is stored: the counting UPDATE holds each
        key's row, and whoever comes next sees the delay it set.

        Returns the moment the attempt may be made when a key is still blocked (the caller then rolls back:
        a refused attempt is not counted); None when it may go ahead (the caller commits, checks the
        password, and calls :meth:`forgive` on success)."""
        for key in sorted(set(keys)):  # one order everywhere: two attempts never wait on each other's rows
            await self._count(key, now)
        found = await self.session.execute(
            select(LoginThrottle).where(LoginThrottle.key.in_(list(keys))).execution_options(populate_existing=True)
        )
        rows = list(found.scalars())
        blocked = [row.blocked_until for row in rows if row.blocked_until is not None and row.blocked_until > now]
        if blocked:
            return max(blocked)
        for row in rows:
            delay = delay_after(row.failures)
            row.blocked_until = now + timedelta(seconds=delay) if delay else None
        await self.session.flush()
        return None

    async def forgive(self, account_key: str, address_key: str, now: datetime) -> None:
        """A successful sign-in: the account's counter is cleared; the address keeps its earlier failures
        (one good password must not wipe a guesser's record on other names) minus this attempt's."""
        await self.clear(account_key)
        row = await self.session.get(LoginThrottle, address_key, populate_existing=True)
        if row is None:
            return
        row.failures = max(0, row.failures - 1)
        delay = delay_after(row.failures)
        row.blocked_until = row.last_failure_at + timedelta(seconds=delay) if delay else None
        if row.blocked_until is not None and row.blocked_until <= now:
            row.blocked_until = None
        await self.session.flush()

    async def purge(self, now: datetime) -> None:
        """Forget counters quiet for :data:`FORGET_AFTER` (its own transaction, before an attempt: deleting
        other keys' rows while holding this attempt's would let two attempts wait on each other)."""
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.last_failure_at < now - FORGET_AFTER))

    async def clear(self, key: str) -> None:
        await self.session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


__all__ = [
    "FORGET_AFTER",
    "FREE_FAILURES",
    "MAX_DELAY_S",
    "AccountExistsError",
    "LoginThrottleRepo",
    "WebAccountRepo",
    "address_key",
    "delay_after",
    "user_key",
]
