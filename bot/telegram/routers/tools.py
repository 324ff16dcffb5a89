"""Staff tools typed as commands: ``/antrian``, ``/terlambat``, ``/cari <nomor>`` (also as Telegram sends
them in groups, ``/antrian@SiKesalBot``; aiogram's :class:`Command` filter checks the mention is ours).

Routed before the citizen router, in every chat: a private chat is answered with a short refusal by
:func:`bot.services.staff_tools.handle_group_command` rather than taken for a citizen's words.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import Message

from bot.services.runtime import Runtime
from bot.services.staff_tools import COMMANDS, handle_group_command
from bot.telegram.routers.staff import _may_act, actor_of


async def on_tool_command(
    message: Message, command: CommandObject, bot: Bot, rt: Runtime, update_key: str | None = None
) -> None:
    user = message.from_user
    if user is None:
        return
    chat_id = message.chat.id

    async def may_act() -> bool:
        # a command changes nothing the citizen sees: a recent answer about the member will do
        return await _may_act(rt, bot, chat_id, user.id, must_refresh=False)

    await handle_group_command(
        rt,
        chat_id=chat_id,
        private=message.chat.type == ChatType.PRIVATE,
        actor=actor_of(user),
        command=command.command.lower(),
        args=command.args or "",
        update_key=update_key,
        may_act=may_act,
    )


def build_router() -> Router:
    """A fresh router (aiogram attaches a router to one dispatcher only)."""
    router = Router(name="tools")
    router.message.register(on_tool_command, Command(*COMMANDS, ignore_case=True))
    return router
