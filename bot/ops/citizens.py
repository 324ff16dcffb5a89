"""``sikesal citizen block|unblock <complaint number>``: the command centre's block from the shell.

Staff never learn a citizen's channel id: the complaint number names the citizen behind it. The block
is audited on that complaint (actor ``system``, name ``CLI``), exactly as the button's is.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.services import blocking
from storage.uow import UnitOfWork

#: the exit codes (0: done)
NOT_FOUND = 2


async def block_command(
    sessionmaker: Callable[..., object], number: str, *, block: bool, reason: str | None, now: datetime
) -> tuple[int, str]:
    """Block or unblock the citizen behind complaint ``number``; returns (exit code, what to print)."""
    wanted = number.strip().upper()
    async with UnitOfWork(sessionmaker) as uow:  # type: ignore[arg-type]
        found = await uow.complaints.by_number(wanted)
        complaint = await uow.complaints.get_for_update(found.id) if found is not None else None
        if complaint is None:
            return NOT_FOUND, f"No complaint {wanted}."
        citizen = await uow.citizens.get(complaint.citizen_id)
        if citizen is None:
            return NOT_FOUND, f"The citizen behind {wanted} is gone."
        if block:
            again = citizen.blocked_at is not None
            await blocking.block(uow, citizen, complaint, reason=(reason or "").strip(), actor_kind="system",
                                 actor_id="cli", actor_name="CLI", now=now)
            said = (f"The citizen behind {wanted} is blocked" + (" (already; reason updated)." if again else ".")
                    + " Their next message gets one short notice, later ones are ignored; their open"
                    " complaints stay with the agencies.")
        else:
            if citizen.blocked_at is None:
                return 0, f"The citizen behind {wanted} is not blocked."
            await blocking.unblock(uow, citizen, complaint, actor_kind="system", actor_id="cli",
                                   actor_name="CLI", now=now)
            said = f"The citizen behind {wanted} is unblocked: their messages are answered again."
        await uow.commit()
    return 0, said


__all__ = ["NOT_FOUND", "block_command"]
