"""Who may act on an agency group's cards: membership of the group, kept in the database.

Telegram tells an *administrator* bot at once when someone joins or leaves a group (``chat_member``
updates, asked for in ``allowed_updates``); a bot that is a plain member hears nothing and must ask
(``getChatMember``). The policy, in :func:`is_member`:

* the bot is an administrator of the group: a row written from a ``chat_member`` update is the
  truth (no API call); a row from an API answer is trusted for :data:`API_TTL_SECONDS`. This is safe
  because updates of one chat are processed in order: a removal arrives, and overwrites the row,
  before any later press of that chat is processed.
* the bot is not an administrator (or its status is unknown): a press or reply that changes anything
  the citizen sees (``must_refresh``) always asks Telegram first and stores the answer; other presses
  (opening a prompt or the agency picker) may use a recent answer.
* a failed question (network, Telegram error) refuses: safe, and the staff member can press again.

There is no memory cache in the process: every process reads the same rows, so a ``chat_member``
update handled by one process counts for the next press, whichever process handles it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from bot.services.runtime import Runtime
from handlers import cards, lifecycle
from storage.membership import SOURCE_API, SOURCE_UPDATE, GroupMemberRepo, Membership
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.membership")

#: Telegram ChatMember statuses of people who are in the group (``restricted`` is stored only for
#: a restricted user who is still a member, see :func:`stored_status`)
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "restricted"})
#: the bot's statuses in which Telegram sends it ``chat_member`` updates
ADMIN_STATUSES = frozenset({"creator", "administrator"})
#: the bot's statuses after it was removed from the group or left it
GONE_STATUSES = frozenset({"left", "kicked"})
#: how long a ``getChatMember`` answer is trusted where that is safe (see :func:`is_member`)
API_TTL_SECONDS = 60.0

Fetch = Callable[[], Awaitable[str | None]]


def stored_status(status: str, is_member: bool | None = None) -> str:
    """Telegram's ChatMember status as stored: a ``restricted`` user who is no longer in the group
    (``is_member`` false) is stored as ``left``, so a stored status alone says whether they count."""
    if status == "restricted" and not is_member:
        return "left"
    return status


def counts_as_member(status: str | None) -> bool:
    return status in MEMBER_STATUSES


def bot_is_admin(bot_status: str | None) -> bool:
    return bot_status in ADMIN_STATUSES


def press_must_refresh(payload: str) -> bool:
    """Whether a button press changes what the citizen sees (then a non-administrator bot asks
    Telegram about the presser every time). Opening the rejection or duplicate prompt or the agency
    picker, or cancelling the picker, changes nothing yet: the reply or the choice that follows is
    checked again. An unknown payload is refused anyway; a newer capability's button (registered in
    :mod:`bot.services.staff_extensions`, e.g. *Selesai tanpa foto*) is asked about every time."""
    parsed = cards.parse_staff_payload(payload)
    if parsed is None:
        from bot.services.staff_extensions import button_handlers

        return isinstance(payload, str) and payload.split(":", 1)[0] in button_handlers()
    if parsed.kind == cards.REASSIGN_PREFIX:
        return not parsed.cancelled
    return parsed.action not in (lifecycle.Action.REASSIGN, lifecycle.Action.REJECT, lifecycle.Action.DUPLICATE)


def _age_seconds(row: Membership, now: datetime) -> float:
    return (now - row.updated_at).total_seconds()


def trusted_answer(
    row: Membership | None, bot_status: str | None, *, must_refresh: bool, now: datetime, ttl: float
) -> bool | None:
    """What the stored row says, when it may be trusted under the policy above; None: ask Telegram."""
    if row is None:
        return None
    fresh = 0 <= _age_seconds(row, now) < ttl
    if bot_is_admin(bot_status):
        if row.source == SOURCE_UPDATE or fresh:
            return counts_as_member(row.status)
        return None
    if must_refresh or not fresh:
        return None
    return counts_as_member(row.status)


async def is_member(
    rt: Runtime,
    chat_id: int,
    user_id: int,
    *,
    fetch: Fetch,
    must_refresh: bool,
    ttl: float = API_TTL_SECONDS,
) -> bool:
    """May ``user_id`` act in group ``chat_id`` now? ``fetch`` asks Telegram (getChatMember) and
    returns the status to store (see :func:`stored_status`), or None when it could not find out."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        repo = GroupMemberRepo(uow.session)
        bot_status = await repo.bot_status(chat_id)
        row = await repo.get(chat_id, user_id)
    known = trusted_answer(row, bot_status, must_refresh=must_refresh, now=rt.clock(), ttl=ttl)
    if known is not None:
        return known
    try:
        status = await fetch()
    except Exception:  # whatever went wrong, nobody gets in on a question that was not answered
        log.warning("membership of user %s in chat %s could not be checked", user_id, chat_id, exc_info=True)
        return False
    if status is None:
        log.warning("membership of user %s in chat %s unknown: refused", user_id, chat_id)
        return False
    await _store_answer(rt, chat_id, user_id, status)
    return counts_as_member(status)


@retry_transient()
async def _store_answer(rt: Runtime, chat_id: int, user_id: int, status: str) -> None:
    async with UnitOfWork(rt.sessionmaker) as uow:
        await GroupMemberRepo(uow.session).upsert(chat_id, user_id, status, SOURCE_API, rt.clock())
        await uow.commit()


@retry_transient()
async def record_chat_member(
    rt: Runtime,
    chat_id: int,
    user_id: int,
    status: str,
    *,
    is_member: bool | None = None,
    update_key: str | None = None,
) -> bool:
    """A ``chat_member`` update: someone joined, left, was removed, promoted or restricted in a group.
    Recorded for linked groups only (others never need it); False when nothing was recorded."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return False  # a redelivered update must not overwrite what later updates said
        repo = GroupMemberRepo(uow.session)
        if not await repo.is_linked(chat_id):
            await uow.commit()  # the claim
            return False
        status = stored_status(status, is_member)
        await repo.upsert(chat_id, user_id, status, SOURCE_UPDATE, rt.clock())
        await uow.commit()
    log.info("user %s in chat %s is now %s", user_id, chat_id, status)
    return True


async def store_bot_status(uow: UnitOfWork, chat_id: int, status: str | None) -> bool:
    """Record the bot's own status in a linked group inside the caller's unit of work (False when the
    chat is not linked). When it changes, rows that came from ``chat_member`` updates lose their
    authority: Telegram sends those only to an administrator, so around a promotion or demotion one
    may have been missed; they are trusted like API answers from now on (and expire like them)."""
    repo = GroupMemberRepo(uow.session)
    previous = await repo.bot_status(chat_id)
    if not await repo.set_bot_status(chat_id, status):
        return False
    if previous != status:
        await repo.distrust_updates(chat_id)
    return True


@retry_transient()
async def record_bot_status(rt: Runtime, chat_id: int, status: str, *, update_key: str | None = None) -> bool:
    """The bot's own status in a group changed (``my_chat_member``), e.g. it was made an administrator.
    False when the chat is not linked to an agency (nothing recorded)."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return False
        linked = await store_bot_status(uow, chat_id, status)
        await uow.commit()
    if linked:
        log.info("the bot is now %s in linked chat %s", status, chat_id)
    return linked


@retry_transient()
async def on_bot_removed(
    rt: Runtime, chat_id: int, reason: str, *, status: str = "kicked", update_key: str | None = None
) -> bool:
    """The bot was removed from group ``chat_id`` or left it (``my_chat_member`` with ``status`` left
    or kicked; ``reason`` says which, e.g. ``"kicked"``). Returns whether the group is linked.

    A linked group that lost the bot is marked broken (``sikesal agency list`` shows it) and its open
    complaints' cards move to the command centre's group (:func:`bot.services.reroute.group_lost`), in
    this same unit of work, so the update is handled exactly once (its ``update_key`` is claimed here).
    """
    from bot.services.reroute import group_lost  # reroute builds on the complaint services

    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return False
        linked = await store_bot_status(uow, chat_id, status)
        moved = await group_lost(rt, uow, chat_id, f"the bot was {reason} from the group") if linked else 0
        await uow.commit()
    if linked:
        log.warning("the bot was removed from linked chat %s (%s): %d open cards moved to the command centre",
                    chat_id, reason, moved)
        rt.on_enqueued()
    return linked
