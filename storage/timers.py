"""The ``timers`` table: deadlines the scheduler fires once (issue 11).

* **Planned once.** :meth:`TimerRepo.plan` is ``INSERT … ON CONFLICT DO NOTHING`` on the unique
  (kind, subject, level, round): planning the same reminder twice (a retried transaction, a replan, two
  processes) stores it once, and a timer that already fired is never planned again.
* **Fired once.** :meth:`TimerRepo.claim` sets ``fired_at`` with a conditional ``UPDATE … WHERE fired_at
  IS NULL``: of two schedulers that read the same due timer, one wins (the same guard as
  :meth:`storage.repositories.ComplaintRepo.move`).
* **What is due** is one range scan on the partial index ``ix_timers_due`` (due_at, unfired only), so the
  scheduler's tick costs the same at a million stored complaints (see ``bench/timers.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Timer, utcnow

#: the unique key of a timer
KEY_COLUMNS = ("kind", "subject", "level", "round")


class TimerRepo:
    """SQL on ``timers``; never commits (the unit of work does)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def _insert(self) -> Any:
        """The dialect's INSERT (both have ``on_conflict_do_nothing``), as in storage.leases."""
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        return postgresql_insert if dialect == "postgresql" else sqlite_insert

    async def plan(
        self,
        kind: str,
        subject: str,
        due_at: datetime,
        *,
        complaint_id: int | None = None,
        level: int = 0,
        round: int = 0,
        now: datetime | None = None,
        fired_at: datetime | None = None,
        outcome: str | None = None,
    ) -> bool:
        """Store the timer unless one with the same (kind, subject, level, round) exists, fired or not.
        True when this call stored it. ``fired_at`` stores it as spent (a moment that passed before the
        clocks existed: recorded, so no later replan fires it)."""
        insert = self._insert()
        stmt = (
            insert(Timer)
            .values(
                kind=kind, subject=subject, level=level, round=round, complaint_id=complaint_id,
                due_at=due_at, created_at=now or utcnow(), fired_at=fired_at, outcome=outcome,
            )
            .on_conflict_do_nothing(index_elements=list(KEY_COLUMNS))
        )
        result = await self.session.execute(stmt)
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def for_complaint(self, complaint_id: int, *, unfired_only: bool = False) -> list[Timer]:
        """A complaint's timers, in due order (``ix_timers_complaint_id``)."""
        query = select(Timer).where(Timer.complaint_id == complaint_id)
        if unfired_only:
            query = query.where(Timer.fired_at.is_(None))
        result = await self.session.execute(query.order_by(Timer.due_at, Timer.id))
        return list(result.scalars())

    async def for_subject(self, subject: str) -> list[Timer]:
        """Timers about ``subject`` (``agency:pupr``, ``city``), in due order."""
        result = await self.session.execute(select(Timer).where(Timer.subject == subject).order_by(Timer.due_at))
        return list(result.scalars())

    async def due(self, now: datetime, limit: int = 100) -> list[Timer]:
        """Unfired timers due at ``now``, oldest due first: a range scan of ``ix_timers_due`` (its
        ``fired_at IS NULL`` condition is repeated so both planners use the partial index)."""
        result = await self.session.execute(
            select(Timer)
            .where(Timer.fired_at.is_(None), Timer.due_at <= now)
            .order_by(Timer.due_at, Timer.id)
            .limit(limit)
        )
        return list(result.scalars())

    async def next_due_at(self, after: datetime | None = None) -> datetime | None:
        """When the next unfired timer is due (the scheduler may sleep until then); with ``after``, the next
        one due later than that (a timer still due because its firing failed must not keep it awake)."""
        query = select(Timer.due_at).where(Timer.fired_at.is_(None))
        if after is not None:
            query = query.where(Timer.due_at > after)
        result = await self.session.execute(query.order_by(Timer.due_at).limit(1))
        return result.scalar_one_or_none()

    async def claim(self, timer_id: int, now: datetime, *, outcome: str | None = None) -> bool:
        """Mark the timer fired unless it already is: True for the one caller that wins."""
        result = await self.session.execute(
            update(Timer)
            .where(Timer.id == timer_id, Timer.fired_at.is_(None))
            .values(fired_at=now, outcome=outcome)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def defer(self, timer_id: int, due_at: datetime, *, outcome: str | None = None) -> bool:
        """Move an unfired timer to ``due_at`` (quiet hours: to the morning); False when it fired."""
        result = await self.session.execute(
            update(Timer)
            .where(Timer.id == timer_id, Timer.fired_at.is_(None))
            .values(due_at=due_at, outcome=outcome)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0) == 1

    async def set_outcome(self, timer_id: int, outcome: str) -> None:
        """Why a fired timer did what it did (for the operator)."""
        await self.session.execute(
            update(Timer).where(Timer.id == timer_id).values(outcome=outcome)
            .execution_options(synchronize_session=False)
        )

    async def delete_unfired(self, timer_ids: Iterable[int]) -> int:
        """Forget planned timers that no longer apply; a timer that fired meanwhile stays (history)."""
        ids = list(timer_ids)
        if not ids:
            return 0
        result = await self.session.execute(
            delete(Timer).where(Timer.id.in_(ids), Timer.fired_at.is_(None))
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)


__all__ = ["KEY_COLUMNS", "TimerRepo"]
