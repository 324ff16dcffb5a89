"""Agency groups: ``/link <code>``, card buttons, replies to cards and prompts, migrations, and who
is a member (``chat_member``, ``my_chat_member``; the policy is in :mod:`bot.services.membership`)."""

from __future__ import annotations

import functools
import logging

from aiogram import Bot, F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, ChatMemberUpdated, Message, User

from bot.services.membership import (
    GONE_STATUSES,
    is_member,
    on_bot_removed,
    press_must_refresh,
    record_bot_status,
    record_chat_member,
    stored_status,
)
from bot.services.runtime import Runtime
from bot.services.staff import (
    StaffActor,
    handle_bot_added,
    handle_group_migrated,
    handle_link,
    handle_non_member,
    handle_staff_button,
    handle_staff_reply,
)
from bot.telegram.answers import answer_callback
from bot.telegram.translate import to_event
from handlers import cards
from handlers.events import Location, MediaRef, Photo, TooLarge, Unsupported

log = logging.getLogger("sikesal.telegram.staff")

GROUP_TYPES = {ChatType.GROUP, ChatType.SUPERGROUP}


def actor_of(user: User) -> StaffActor:
    return StaffActor(user_id=str(user.id), name=user.full_name)


def _status_of(member: object) -> str:
    """A ChatMember's status as stored (a restricted user who left counts as ``left``)."""
    status = getattr(member, "status", "")
    return stored_status(str(getattr(status, "value", status)), getattr(member, "is_member", None))


async def fetch_status(bot: Bot, chat_id: int, user_id: int) -> str | None:
    """getChatMember: the user's status in the chat, or None when Telegram could not be asked."""
    try:
        member = await bot.get_chat_member(chat_id, user_id)
    except TelegramAPIError as exc:
        log.warning("getChatMember(%s, %s) failed: %s", chat_id, user_id, exc)
        return None
    return _status_of(member)


async def _may_act(rt: Runtime, bot: Bot, chat_id: int, user_id: int, *, must_refresh: bool) -> bool:
    fetch = functools.partial(fetch_status, bot, chat_id, user_id)
    return await is_member(rt, chat_id, user_id, fetch=fetch, must_refresh=must_refresh)


async def on_link(
    message: Message, command: CommandObject, bot: Bot, rt: Runtime, update_key: str | None = None
) -> None:
    if message.from_user is None:
        return
    await handle_link(
        rt,
        chat_id=message.chat.id,
        title=message.chat.title,
        actor=actor_of(message.from_user),
        code=command.args or "",
        update_key=update_key,
        # the confirmation says whether the group still has to make the bot an administrator
        bot_status=await fetch_status(bot, message.chat.id, bot.id),
    )


async def on_migrated(message: Message, rt: Runtime) -> None:
    assert message.migrate_to_chat_id is not None
    await handle_group_migrated(rt, old_chat_id=message.chat.id, new_chat_id=message.migrate_to_chat_id)


async def on_members_added(message: Message, bot: Bot, rt: Runtime, update_key: str | None = None) -> None:
    if any(member.id == bot.id for member in message.new_chat_members or []):
        await handle_bot_added(rt, chat_id=message.chat.id, update_key=update_key)


async def on_reply(message: Message, bot: Bot, rt: Runtime, update_key: str | None = None) -> None:
    reply = message.reply_to_message
    if message.from_user is None or reply is None or reply.from_user is None or reply.from_user.id != bot.id:
        return
    # every reply under a card or prompt either reaches the citizen or changes the complaint
    if not await _may_act(rt, bot, message.chat.id, message.from_user.id, must_refresh=True):
        log.warning("reply from non-member %s in %s refused", message.from_user.id, message.chat.id)
        await handle_non_member(
            rt,
            chat_id=message.chat.id,
            actor=actor_of(message.from_user),
            reply_to_message_id=reply.message_id,
            update_key=update_key,
        )
        return
    text, photo, unsupported = await reply_content(message, bot, rt)
    await handle_staff_reply(
        rt,
        chat_id=message.chat.id,
        actor=actor_of(message.from_user),
        reply_to_message_id=reply.message_id,
        text=text,
        update_key=update_key,
        photo=photo,
        unsupported=unsupported,
    )


async def reply_content(message: Message, bot: Bot, rt: Runtime) -> tuple[str, MediaRef | None, str | None]:
    """What a staff reply carries: its text (a photo's caption), the photo (downloaded and stored like a
    citizen's: a photo keeps Telegram's id, an image sent as a file is re-encoded so none of its metadata
    reaches a citizen), or the kind of anything else (a sticker, a voice note), which cannot be relayed."""
    if message.text is not None:
        return message.text, None, None
    event = await to_event(message, bot, rt.media, max_bytes=rt.ctx.limits.photo_max_bytes)
    if isinstance(event, Photo):
        return event.caption or "", event.media, None
    if isinstance(event, TooLarge):
        return message.caption or "", None, "too_large"
    if isinstance(event, Location):
        return "", None, "location"
    kind = event.kind if isinstance(event, Unsupported) else "other"
    return message.caption or "", None, kind


async def on_button(callback: CallbackQuery, bot: Bot, rt: Runtime, update_key: str | None = None) -> None:
    assert callback.message is not None
    chat_id = callback.message.chat.id
    payload = callback.data or ""
    if not await _may_act(rt, bot, chat_id, callback.from_user.id, must_refresh=press_must_refresh(payload)):
        log.warning("button %r from non-member %s in %s refused", payload, callback.from_user.id, chat_id)
        await handle_non_member(
            rt, chat_id=chat_id, actor=actor_of(callback.from_user), payload=payload, update_key=update_key
        )
        await answer_callback(callback, cards.alert_not_member(rt.ctx))
        return
    result = await handle_staff_button(
        rt, chat_id=chat_id, actor=actor_of(callback.from_user), payload=payload, update_key=update_key
    )
    await answer_callback(callback, result.alert)


async def on_chat_member(event: ChatMemberUpdated, rt: Runtime, update_key: str | None = None) -> None:
    """Someone joined, left, was removed or changed rank (sent only to an administrator bot)."""
    member = event.new_chat_member
    await record_chat_member(
        rt, event.chat.id, member.user.id, _status_of(member), update_key=update_key
    )


async def on_my_chat_member(event: ChatMemberUpdated, rt: Runtime, update_key: str | None = None) -> None:
    """The bot's own status in a group changed: made (or no longer) an administrator, or removed."""
    status = _status_of(event.new_chat_member)
    if status in GONE_STATUSES:
        log.warning("the bot is %s in chat %s (by user %s)", status, event.chat.id, event.from_user.id)
        await on_bot_removed(rt, event.chat.id, status, status=status, update_key=update_key)
    else:
        await record_bot_status(rt, event.chat.id, status, update_key=update_key)


def build_router() -> Router:
    """A fresh router (aiogram attaches a router to one dispatcher only)."""
    router = Router(name="staff")
    router.message.filter(F.chat.type.in_(GROUP_TYPES))
    router.callback_query.filter(F.message.chat.type.in_(GROUP_TYPES))
    router.message.register(on_link, Command("link"))
    router.message.register(on_migrated, F.migrate_to_chat_id)
    router.message.register(on_members_added, F.new_chat_members)
    # text and photo replies are relayed; anything else gets a short answer (or, under a prompt, the prompt again)
    router.message.register(on_reply, F.reply_to_message)
    router.callback_query.register(on_button)
    # chat_member and my_chat_member are in allowed_updates because these handlers exist (aiogram
    # derives the list from registered handlers: Dispatcher.resolve_used_update_types)
    router.chat_member.filter(F.chat.type.in_(GROUP_TYPES))
    router.my_chat_member.filter(F.chat.type.in_(GROUP_TYPES))
    router.chat_member.register(on_chat_member)
    router.my_chat_member.register(on_my_chat_member)
    return router
