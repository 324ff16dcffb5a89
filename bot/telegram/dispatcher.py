"""The aiogram Dispatcher with its routers, middlewares and dependencies (by parameter name)."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.types import BotCommand, BotCommandScopeAllGroupChats, BotCommandScopeAllPrivateChats

from bot.services.runtime import Runtime
from bot.telegram.middlewares import PerChatSerial
from bot.telegram.routers import citizen, staff, tools

#: commands shown in the private-chat menu (descriptions come from the catalogs)
PRIVATE_COMMANDS = ("start", "baru", "status", "laporan", "bahasa", "help", "cancel", "dataku", "privasi", "hapusdata")
GROUP_COMMANDS = ("link", "antrian", "terlambat", "cari")


def build_dispatcher(rt: Runtime) -> Dispatcher:
    dp = Dispatcher(rt=rt)
    dp.update.outer_middleware(PerChatSerial())
    # the staff tools' commands first: in a private chat they get a refusal, not the citizen flow
    dp.include_routers(tools.build_router(), staff.build_router(), citizen.build_router())
    return dp


async def register_commands(bot: Bot, rt: Runtime) -> None:
    """setMyCommands for private chats (Indonesian default, English for English clients) and groups."""
    for language in rt.ctx.languages:
        commands = [BotCommand(command=c, description=rt.ctx.t(language, f"command.{c}")) for c in PRIVATE_COMMANDS]
        code = None if language == rt.ctx.catalog.default_language else language
        await bot.set_my_commands(commands, scope=BotCommandScopeAllPrivateChats(), language_code=code)
    group = [BotCommand(command=c, description=rt.ctx.t("id", f"command.{c}")) for c in GROUP_COMMANDS]
    await bot.set_my_commands(group, scope=BotCommandScopeAllGroupChats())
