"""Leases: how several processes on one database share work without doing anything twice.

* **Row leases** (``outbox`` and ``inbound_messages`` rows carry ``lease_owner``/``lease_until``): a
  process takes a row with one conditional ``UPDATE`` (:func:`claim_row`) that succeeds only while the
  row is still pending and nobody else's lease is alive. The winner works on the row and renews its lease
  (:func:`renew_rows`) while it does; the outcome (sent, retry, failed) clears it. A process killed with
  ``kill -9`` simply stops renewing: its lease expires and another process takes the row. Per-chat order
  holds across processes because only the oldest pending row of a chat is ever offered (see
  :meth:`storage.outbox.OutboxRepo.due_heads`), and it stays pending while it is being worked on.
  Why a conditional UPDATE rather than ``SELECT … FOR UPDATE SKIP LOCKED``: a row lock lives only as long
  as the transaction, but delivering a message is an HTTP call that must happen *outside* any transaction
  (SQLite's single writer, PostgreSQL's pool); the lease is the lock that survives between the claim and
  the outcome, and it works the same on SQLite and PostgreSQL.
* **Named leases** (table ``leases``): one holder at a time for a role, e.g. the Telegram long-poller
  (Telegram refuses two concurrent ``getUpdates``). :func:`acquire` is an upsert that takes a free or
  expired lease or renews one's own.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, delete, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Lease

PENDING = "pending"


def process_owner(port: int | None = None) -> str:
    """The name under which this process holds leases.

    With the fixed port its web server listens on, the name is the same after a restart (``host:port``):
    a process that was killed and is restarted by systemd takes its predecessor's leases back at once
    instead of waiting for them to expire. No two live processes can share it, since only one can bind
    the port. Without one (port 0: tests, benchmarks), a name no other process will ever use."""
    host = socket.gethostname()[:40]
    if port:
        return f"{host}:{port}"
    return f"{host[:24]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


def lease_free(model: Any, owner: str, now: datetime) -> ColumnElement[bool]:
    """SQL: the row is not held by another process's live lease."""
    return or_(model.lease_until.is_(None), model.lease_until < now, model.lease_owner == owner)


async def claim_row(session: AsyncSession, model: Any, row_id: int, owner: str, *, now: datetime, ttl: float) -> bool:
    """Take a pending, due row for ``owner`` unless another live lease holds it. One statement."""
    return row_id in await claim_rows(session, model, [row_id], owner, now=now, ttl=ttl)


async def claim_rows(
    session: AsyncSession, model: Any, row_ids: Iterable[int], owner: str, *, now: datetime, ttl: float
) -> set[int]:
    """Take every row of ``row_ids`` that is still pending, due and free, in one ``UPDATE … RETURNING``;
    returns the ids now held by ``owner`` (a poller claims all the heads it found in one statement)."""
    ids = list(row_ids)
    if not ids:
        return set()
    result = await session.execute(
        update(model)
        .where(model.id.in_(ids), model.status == PENDING, model.next_attempt_at <= now, lease_free(model, owner, now))
        .values(lease_owner=owner, lease_until=now + timedelta(seconds=ttl))
        .returning(model.id)
        .execution_options(synchronize_session=False)
    )
    return {int(row_id) for row_id in result.scalars()}


async def renew_rows(
    session: AsyncSession, model: Any, row_ids: Iterable[int], owner: str, *, now: datetime, ttl: float
) -> int:
    """Extend ``owner``'s leases on rows it is still working on; returns how many it still holds."""
    ids = list(row_ids)
    if not ids:
        return 0
    result = await session.execute(
        update(model)
        .where(model.id.in_(ids), model.lease_owner == owner, model.status == PENDING)
        .values(lease_until=now + timedelta(seconds=ttl))
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release_all(session: AsyncSession, model: Any) -> int:
    """Forget every lease on ``model``'s rows: only for a database that one process alone may use
    (SQLite), at start, so rows held by a killed predecessor are not left waiting for their expiry."""
    result = await session.execute(
        update(model)
        .where(model.lease_owner.is_not(None))
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def acquire(session: AsyncSession, name: str, owner: str, *, now: datetime, ttl: float) -> bool:
    """Take the named lease (free, expired, or already ours, then renewed). True when we hold it."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    expires = now + timedelta(seconds=ttl)
    stmt = insert(Lease).values(name=name, owner=owner, expires_at=expires, acquired_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"],
        set_={"owner": owner, "expires_at": expires},
        where=or_(Lease.expires_at < now, Lease.owner == owner),
    )
    result = await session.execute(stmt)
    return int(getattr(result, "rowcount", 0) or 0) == 1


async def release(session: AsyncSession, name: str, owner: str) -> None:
    """Give the named lease up (a clean stop), so a standby takes over at once."""
    await session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))
