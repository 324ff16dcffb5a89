"""Group membership as the bot knows it: one row per (group, user) in ``group_members``, and the bot's
own status in each linked group (``agency_groups.bot_status``).

Shared by every process through the database (no process keeps its own copy), so a ``chat_member``
update processed by one process is seen by the next button press, whichever process handles it.
Like every repository it never commits: the caller's unit of work does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AgencyGroup, GroupMember

#: where a membership row came from: a ``chat_member`` update, or a ``getChatMember`` answer
SOURCE_UPDATE = "update"
SOURCE_API = "api"


@dataclass(frozen=True, slots=True)
class Membership:
    """A stored membership row, detached from the session (plain data)."""

    chat_id: int
    user_id: int
    status: str
    source: str
    updated_at: datetime


class GroupMemberRepo:
    """``group_members`` and ``agency_groups.bot_status`` on the session of one unit of work."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, chat_id: int, user_id: int) -> Membership | None:
        row = (
            await self.session.execute(
                select(GroupMember.status, GroupMember.source, GroupMember.updated_at).where(
                    GroupMember.chat_id == chat_id, GroupMember.user_id == user_id
                )
            )
        ).first()
        if row is None:
            return None
        return Membership(chat_id, user_id, row.status, row.source, row.updated_at)

    async def upsert(self, chat_id: int, user_id: int, status: str, source: str, now: datetime) -> None:
        """Store what is known now (the latest word wins): one ``INSERT ... ON CONFLICT DO UPDATE``
        on SQLite and PostgreSQL, so two processes recording the same user at once cannot collide."""
        values: dict[str, Any] = {
            "chat_id": chat_id,
            "user_id": user_id,
            "status": status,
            "source": source,
            "updated_at": now,
        }
        changes = {"status": status, "source": source, "updated_at": now}
        dialect = self.session.bind.dialect.name if self.session.bind is not None else ""
        if dialect in ("sqlite", "postgresql"):
            insert = sqlite_insert if dialect == "sqlite" else postgresql_insert
            stmt = insert(GroupMember).values(**values)
            await self.session.execute(
                stmt.on_conflict_do_update(index_elements=["chat_id", "user_id"], set_=changes)
            )
            return
        # another backend: update, else insert in a SAVEPOINT (and update the winner's row on a race)
        if await self._update(chat_id, user_id, changes):
            return
        try:
            async with self.session.begin_nested():
                self.session.add(GroupMember(**values))
        except IntegrityError:
            await self._update(chat_id, user_id, changes)

    async def _update(self, chat_id: int, user_id: int, changes: dict[str, Any]) -> bool:
        result = await self.session.execute(
            update(GroupMember)
            .where(GroupMember.chat_id == chat_id, GroupMember.user_id == user_id)
            .values(**changes)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    async def distrust_updates(self, chat_id: int) -> int:
        """Rows of ``chat_id`` that came from ``chat_member`` updates become ordinary API answers
        (kept with their time, so they expire like one). Called when the bot's own status changes:
        Telegram sends those updates only while the bot is an administrator, so rows written before
        a demotion (or before a promotion) may have missed a departure."""
        result = await self.session.execute(
            update(GroupMember)
            .where(GroupMember.chat_id == chat_id, GroupMember.source == SOURCE_UPDATE)
            .values(source=SOURCE_API)
            .execution_options(synchronize_session=False)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def bot_status(self, chat_id: int) -> str | None:
        """The bot's status in a linked group; None when unknown or the group is not linked."""
        return (
            await self.session.execute(select(AgencyGroup.bot_status).where(AgencyGroup.chat_id == chat_id))
        ).scalar_one_or_none()

    async def set_bot_status(self, chat_id: int, status: str | None) -> bool:
        """Record the bot's status in the group linked as ``chat_id``; False (nothing changed) when
        the chat is not linked to any agency."""
        result = await self.session.execute(
            update(AgencyGroup)
            .where(AgencyGroup.chat_id == chat_id)
            .values(bot_status=status)
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0))

    async def is_linked(self, chat_id: int) -> bool:
        found = await self.session.execute(select(AgencyGroup.agency).where(AgencyGroup.chat_id == chat_id))
        return found.scalar_one_or_none() is not None
