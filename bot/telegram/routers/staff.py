"""Agency groups: ``/link <code>``, card buttons, replies to cards and prompts, migrations."""

from __future__ import annotations

import logging
import time

from aiogram import Bot, F, Router
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, Message, User

from bot.services.runtime import Runtime
from bot.services.staff import (
    StaffActor,
    handle_bot_added,
    handle_group_migrated,
    handle_link,
    handle_staff_button,
    handle_staff_reply,
)
from bot.telegram.answers import answer_callback
from handlers import cards

log = logging.getLogger("sikesal.telegram.staff")

GROUP_TYPES = {ChatType.GROUP, ChatType.SUPERGROUP}
MEMBER_STATUSES = {ChatMemberStatus.CREATOR, ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.MEMBER}

def actor_of(user: User) -> StaffActor:
    return StaffActor(user_id=str(user.id), name=user.full_name)


class MembershipCache:
    """getChatMember answers, remembered briefly: a burst of button presses costs one call."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.ttl = ttl
        self._seen: dict[tuple[int, int], tuple[float, bool]] = {}

    async def is_member(self, bot: Bot, chat_id: int, user_id: int) -> bool:
        now = time.monotonic()
        cached = self._seen.get((chat_id, user_id))
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        try:
            member = await bot.get_chat_member(chat_id, user_id)
        except TelegramAPIError as exc:
            log.warning("getChatMember(%s, %s) failed: %s", chat_id, user_id, exc)
            return False
        ok = member.status in MEMBER_STATUSES or bool(getattr(member, "is_member", False))
        self._seen[(chat_id, user_id)] = (now, ok)
        return ok


async def on_link(message: Message, command: CommandObject, rt: Runtime, update_key: str | None = None) -> None:
    if message.from_user is None:
        return
    await handle_link(
        rt,
        chat_id=message.chat.id,
        title=message.chat.title,
        actor=actor_of(message.from_user),
        code=command.args or "",
        update_key=update_key,
    )


async def on_migrated(message: Message, rt: Runtime) -> None:
    assert message.migrate_to_chat_id is not None
    await handle_group_migrated(rt, old_chat_id=message.chat.id, new_chat_id=message.migrate_to_chat_id)


async def on_members_added(message: Message, bot: Bot, rt: Runtime, update_key: str | None = None) -> None:
    if any(member.id == bot.id for member in message.new_chat_members or []):
        await handle_bot_added(rt, chat_id=message.chat.id, update_key=update_key)


async def on_reply(
    message: Message, bot: Bot, rt: Runtime, membership: MembershipCache, update_key: str | None = None
) -> None:
    reply = message.reply_to_message
    if message.from_user is None or reply is None or reply.from_user is None or reply.from_user.id != bot.id:
        return
    if not await membership.is_member(bot, message.chat.id, message.from_user.id):
        log.warning("reply from non-member %s in %s ignored", message.from_user.id, message.chat.id)
        return
    await handle_staff_reply(
        rt,
        chat_id=message.chat.id,
        actor=actor_of(message.from_user),
        reply_to_message_id=reply.message_id,
        text=message.text or "",
        update_key=update_key,
    )


async def on_button(
    callback: CallbackQuery, bot: Bot, rt: Runtime, membership: MembershipCache, update_key: str | None = None
) -> None:
    assert callback.message is not None
    chat_id = callback.message.chat.id
    if not await membership.is_member(bot, chat_id, callback.from_user.id):
        log.warning("button %r from non-member %s in %s refused", callback.data, callback.from_user.id, chat_id)
        await answer_callback(callback, cards.alert_not_member(rt.ctx))
        return
    result = await handle_staff_button(
        rt, chat_id=chat_id, actor=actor_of(callback.from_user), payload=callback.data or "", update_key=update_key
    )
    await answer_callback(callback, result.alert)


def build_router() -> Router:
    """A fresh router (aiogram attaches a router to one dispatcher only)."""
    router = Router(name="staff")
    router.message.filter(F.chat.type.in_(GROUP_TYPES))
    router.callback_query.filter(F.message.chat.type.in_(GROUP_TYPES))
    router.message.register(on_link, Command("link"))
    router.message.register(on_migrated, F.migrate_to_chat_id)
    router.message.register(on_members_added, F.new_chat_members)
    # text replies are relayed; any other reply still matters under a rejection prompt (asked again)
    router.message.register(on_reply, F.reply_to_message)
    router.callback_query.register(on_button)
    return router
