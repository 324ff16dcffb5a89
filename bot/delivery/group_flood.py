"""The Telegram sender's hook for floods in an agency group (issue 14; the rules in :mod:`handlers.group_flood`).

Before a group's next row goes out, :meth:`GroupFloodHook.before` asks the service
(:func:`bot.services.group_flood.refresh_group`) to keep the group's digests true, then sends the rows that
go ahead of the regular cards: digests, cards brought up on demand (from a digest or ``/cari``), edits of
delivered cards and answers to staff. The group's worker does this itself, so its rows still go one at a
time through the group's limiter, and nothing else writes to the group meanwhile.

Why here and not in the loop: only the Telegram sender knows groups and their limits; the per-chat FIFO loop
stays generic. Why before every group row: that is when the group's state changes (a card went out, new
cards were queued); a group with no flood costs one count query per row.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.delivery.ratelimit import is_group_chat

log = logging.getLogger("sikesal.delivery")


class _Sender(Protocol):
    """What the hook needs of :class:`bot.delivery.telegram.TelegramSender`."""

    _held: set[int]

    async def _claim(self, row_id: int) -> bool: ...

    async def _process(self, row_id: int, *, nested: bool = False) -> bool: ...


class _Step(Protocol):
    @property
    def ahead(self) -> tuple[int, ...]: ...

    @property
    def reload(self) -> bool: ...


class GroupFloodHook:
    """Called by the sender before a row of a group goes out; see the module docstring."""

    def __init__(self, refresh: Callable[[str, int], Awaitable[_Step]]) -> None:
        #: ``refresh(chat_id, head_row_id)``: the service's step (bound to the runtime and the limits)
        self.refresh = refresh
        #: rows sent ahead of the regular cards by this process (for tests and the benchmark)
        self.sent_ahead = 0

    async def before(self, sender: _Sender, row_id: int, chat_id: str) -> bool:
        """Send what goes ahead of ``row_id`` in ``chat_id``. True: read ``row_id`` again (its face was
        rendered now, or rows went before it). A database error propagates like the sender's own reads:
        the worker stops and the chat is taken up again later."""
        if not is_group_chat(chat_id):
            return False
        step = await self.refresh(chat_id, row_id)
        for ahead in step.ahead:
            if not await sender._claim(ahead):
                continue
            try:
                carry_on = await sender._process(ahead, nested=True)
            finally:
                sender._held.discard(ahead)
            self.sent_ahead += 1
            if not carry_on:
                break  # the group is paused (a 429) or the row must wait: the head waits its turn too
        return step.reload or bool(step.ahead)


__all__ = ["GroupFloodHook"]
