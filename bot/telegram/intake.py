"""Telegram intake: every update is stored in the inbox before Telegram is told it arrived, then processed
from the table, one chat at a time in ``update_id`` order.

Why: aiogram's own polling confirms an update (the next ``getUpdates`` offset) before its handler has
committed anything, and updates waiting behind a per-chat lock live only in memory, so a ``kill -9`` lost
them. Here the order is: fetch (or receive by webhook) → one transaction stores the raw updates
(``INSERT … ON CONFLICT DO NOTHING`` on ``tg:<update_id>``) → only then the next ``getUpdates`` offset
(or the webhook's 200) confirms them → :class:`TelegramInbox` feeds each stored update to the aiogram
Dispatcher. A crash before the commit means Telegram sends the update again; after it, the row is there;
the services claim ``tg:<update_id>`` again in their own transaction, so an update half-processed when
the process died takes effect exactly once.

Several processes: with webhooks, any process may store an update (a reverse proxy spreads them); every
process works on the inbox, a row claimed by exactly one (see :mod:`storage.leases`), a chat's updates in
``update_id`` order whichever process stored them. With long polling, exactly one process polls: it holds
the ``telegram-poller`` lease (Telegram refuses two concurrent ``getUpdates``); the others take over when
its lease expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from aiogram import Bot, Dispatcher
from aiogram.exceptions import TelegramConflictError, TelegramUnauthorizedError
from aiogram.methods import TelegramMethod
from aiogram.types import Update
from aiogram.types.update import UpdateTypeLookupError
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.delivery.loop import InboxLoop
from handlers.text import clean_tree
from storage import leases
from storage.inbox import InboxRepo
from storage.models import InboundMessage, utcnow
from storage.outbox import as_utc
from storage.repositories import INBOX_TICKET, InboxTicket
from storage.retry import retry_transient
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from bot.services.runtime import Runtime

log = logging.getLogger("sikesal.telegram.intake")

CHANNEL = "telegram"
POLLER_LEASE = "telegram-poller"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
#: the update types SiKesal asks Telegram for. chat_member (staff joining and leaving an agency group)
#: is only sent when asked for explicitly, and only to a bot that is an administrator of the group.
ALWAYS_ALLOWED = ("message", "callback_query", "my_chat_member", "chat_member")
#: update fields that carry a chat (the key that orders an update behind the chat's earlier ones)
_CHAT_CARRIERS = ("message", "edited_message", "channel_post", "edited_channel_post", "my_chat_member",
                  "chat_member", "chat_join_request", "message_reaction", "message_reaction_count",
                  "business_message", "edited_business_message", "chat_boost", "removed_chat_boost")


class GetUpdatesRaw(TelegramMethod[list[dict[str, Any]]]):
    """``getUpdates`` answered as plain JSON objects: stored as Telegram sent them, validated into
    aiogram's types only when processed (one malformed update must not block the whole batch)."""

    __returning__: ClassVar[Any] = list[dict[str, Any]]
    __api_method__: ClassVar[str] = "getUpdates"

    offset: int | None = None
    limit: int | None = None
    timeout: int | None = None
    allowed_updates: list[str] | None = None


def allowed_updates(dispatcher: Dispatcher) -> list[str]:
    """What the routers handle plus what the bot must always hear about (membership changes)."""
    return sorted(set(dispatcher.resolve_used_update_types()) | set(ALWAYS_ALLOWED))


def update_sender(update: dict[str, Any]) -> str:
    """The ordering key of an update: its chat (``tg:<chat id>``), else its user, else its own id."""
    for field in _CHAT_CARRIERS:
        body = update.get(field)
        if isinstance(body, dict) and isinstance(body.get("chat"), dict):
            chat_id = body["chat"].get("id")
            if isinstance(chat_id, int):
                return f"tg:{chat_id}"
    callback = update.get("callback_query")
    if isinstance(callback, dict):
        message = callback.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            chat_id = message["chat"].get("id")
            if isinstance(chat_id, int):
                return f"tg:{chat_id}"
    for body in update.values():
        if isinstance(body, dict) and isinstance(body.get("from"), dict) and isinstance(body["from"].get("id"), int):
            return f"tg-user:{body['from']['id']}"
    return f"tg-update:{update.get('update_id')}"


#: at most this many stored updates wait in memory for the inbox (Runtime.fresh_updates); beyond, rows are read
FRESH_MAX = 10_000

#: Telegram's identifiers "have at most 52 significant bits" (Bot API); anything larger is not from Telegram
MAX_ID = 2**52


def ids_in_range(value: Any, key: str = "") -> bool:
    """Every ``id`` and ``*_id`` number in an update within Telegram's 52 bits (so within the database's
    64-bit columns): an update that is not has been forged or broken, and is ignored whole."""
    if isinstance(value, dict):
        return all(ids_in_range(v, str(k)) for k, v in value.items())
    if isinstance(value, list):
        return all(ids_in_range(v, key) for v in value)
    if isinstance(value, int) and not isinstance(value, bool) and (key == "id" or key.endswith("_id")):
        return -MAX_ID <= value <= MAX_ID
    return True


def update_id_of(update: Any) -> int | None:
    """The update's id if it looks like a Telegram update at all (a JSON object with an integer id)."""
    if not isinstance(update, dict):
        return None
    value = update.get("update_id")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        return None
    return value


@retry_transient()
async def store_updates(rt: Runtime, updates: Sequence[dict[str, Any]], *, now: datetime | None = None) -> int:
    """Store raw updates in one transaction (text normalised once, here at the edge); returns how many
    were new. Updates without a usable ``update_id`` are dropped with a log line."""
    at = now or rt.clock()
    fresh: dict[int, dict[str, Any]] = {}
    async with UnitOfWork(rt.sessionmaker) as uow:
        for update in updates:
            update_id = update_id_of(update)
            if update_id is None:
                log.warning("dropping a Telegram update without a valid update_id")
                continue
            clean = clean_tree(update)
            row_id = await uow.inbox.store(f"tg:{update_id}", CHANNEL, update_sender(clean), clean, now=at,
                                           seq=update_id)
            if row_id is not None:
                fresh[row_id] = clean
        await uow.commit()
    # committed: the inbox may take these from memory (see TelegramInbox._load)
    handoff = rt.fresh_updates
    handoff.update(fresh)
    while len(handoff) > FRESH_MAX:  # rows another process took: forget the oldest
        del handoff[next(iter(handoff))]
    return len(fresh)


class TelegramInbox(InboxLoop):
    """Feeds stored updates to the aiogram Dispatcher, per chat in ``update_id`` order."""

    name = "telegram-inbox"
    channel = CHANNEL

    def __init__(self, rt: Runtime, bot: Bot, dispatcher: Dispatcher, *, max_attempts: int = 12,
                 poll_interval: float = 1.0, concurrency: int = 8, backoff_base: float = 1.0,
                 clock: Callable[[], datetime] = utcnow, lease_owner: str | None = None,
                 on_update: Callable[[], None] = lambda: None) -> None:
        super().__init__(rt.sessionmaker, max_attempts=max_attempts, poll_interval=poll_interval,
                         concurrency=concurrency, backoff_base=backoff_base, clock=clock,
                         lease_owner=lease_owner)
        self.rt = rt
        self.bot = bot
        self.dispatcher = dispatcher
        self.on_update = on_update
        #: per chat, the next pending row seen by the transaction that marked the last one done
        self._next_heads: dict[str, tuple[int, datetime] | None] = {}

    async def _load(self, row_id: int) -> tuple[dict[str, Any], int] | None:
        """The row's update and attempts so far; None when it is no longer pending.

        An update this process stored is taken from memory (its row was pending and unattempted when
        stored, and this worker holds the row: per chat one worker, and with leases the row is claimed);
        anything else is read from the table."""
        payload = self.rt.fresh_updates.pop(row_id, None)
        if payload is not None:
            return payload, 0
        async with self._db_sem, self.sessionmaker() as session:
            row = await session.get(InboundMessage, row_id)
            if row is None or row.status != "pending":
                return None
            return dict(row.payload), row.attempts or 0

    async def _process(self, row_id: int) -> bool:
        loaded = await self._load(row_id)
        if loaded is None:
            return True
        payload, attempts = loaded
        try:
            update = Update.model_validate(payload, context={"bot": self.bot})
        except ValidationError as exc:  # nothing to retry: Telegram will never send it differently
            log.warning("telegram update %s is malformed; ignored: %s", payload.get("update_id"),
                        exc.errors(include_url=False, include_input=False)[:3])
            await self._finish(row_id, error=f"malformed update: {exc.error_count()} errors", give_up=True)
            return True
        try:
            update.event_type  # noqa: B018 - raises for an update type this aiogram does not know
        except UpdateTypeLookupError:
            log.info("telegram update %s has no type SiKesal handles; ignored", update.update_id)
            await self._finish(row_id)
            return True
        if not ids_in_range(payload):
            log.warning("telegram update %s carries an id beyond Telegram's 52 bits; ignored", update.update_id)
            await self._finish(row_id, error="malformed update: an id beyond Telegram's 52 bits", give_up=True)
            return True
        if attempts == 0:
            self.on_update()
        # the service that claims tg:<update_id> marks this row done in its own transaction (InboxTicket)
        sender = update_sender(payload)
        ticket = InboxTicket(row_id, f"tg:{update.update_id}", sender=sender)
        token = INBOX_TICKET.set(ticket)
        try:
            async with self._sem:
                await self.dispatcher.feed_update(self.bot, update)
        except Exception as exc:  # a bug or an outage must not drop the update or stop the inbox
            log.exception("processing telegram update %s failed", update.update_id)
            if ticket.done:  # committed before the failure: the update took effect, nothing to retry
                self.processed += 1
                self._next_heads[sender] = ticket.next_head
                return True
            return await self._failed(row_id, exc, attempts)
        finally:
            INBOX_TICKET.reset(token)
        if ticket.done:
            self.processed += 1
            self._next_heads[sender] = ticket.next_head
        else:  # a duplicate, or an update no service claims (ignored types, some staff commands)
            self._next_heads.pop(sender, None)
            await self._finish(row_id)
        return True

    async def _next_due_for(self, session: AsyncSession, key: str, now: datetime) -> int | None:
        """The chat's next row: as the transaction that settled the last one saw it (no query), else read.
        A row stored after that look is not lost: the worker ends and the poll, woken, finds it."""
        if key in self._next_heads:
            head = self._next_heads.pop(key)
        else:
            head = await InboxRepo(session).head_due(key)
        if head is None or as_utc(head[1]) > now:
            return None
        return head[0]


class TelegramPoller:
    """Long polling that confirms an update only after it is stored (see the module docstring)."""

    name = "telegram-polling"

    def __init__(self, rt: Runtime, bot: Bot, *, allowed: list[str], timeout: int = 10,
                 on_stored: Callable[[], None] = lambda: None, lease_owner: str | None = None,
                 lease_ttl: float = 30.0, backoff_cap: float = 30.0) -> None:
        self.rt = rt
        self.bot = bot
        self.allowed = allowed
        self.timeout = timeout
        self.on_stored = on_stored
        self.lease_owner = lease_owner
        self.lease_ttl = max(lease_ttl, timeout * 2.0 + 5.0)
        self.backoff_cap = backoff_cap
        #: the next offset (confirms everything below it); None until the first batch
        self.offset: int | None = None
        self.polling = False
        self.last_tick = 0.0

    async def _hold_lease(self) -> bool:
        if self.lease_owner is None:
            return True
        try:
            async with self.rt.sessionmaker() as session, session.begin():
                held = await leases.acquire(session, POLLER_LEASE, self.lease_owner, now=self.rt.clock(),
                                            ttl=self.lease_ttl)
        except SQLAlchemyError:
            log.warning("could not renew the poller lease", exc_info=True)
            return False
        if held != self.polling:
            log.info("%s long polling for Telegram updates", "this process is now" if held else "another process is")
            if not held:
                self.offset = None  # the new poller confirms from where Telegram stands
        self.polling = held
        return held

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        method_timeout = self.timeout
        request_timeout = int((self.bot.session.timeout or 30) + method_timeout)
        while not stop.is_set():
            self.last_tick = loop.time()
            if not await self._hold_lease():
                await _sleep_until(stop, self.lease_ttl / 3)
                continue
            try:
                request = asyncio.ensure_future(self.bot(
                    GetUpdatesRaw(offset=self.offset, timeout=method_timeout, allowed_updates=self.allowed, limit=100),
                    request_timeout=request_timeout,
                ))
                updates = await _unless_stopped(stop, request)
                if updates is None:
                    break  # stopping: whatever that call would have fetched stays unconfirmed at Telegram
                if updates:
                    await store_updates(self.rt, updates)
                    self.on_stored()
                    ids = [i for i in (update_id_of(u) for u in updates) if i is not None]
                    if ids:
                        self.offset = max(ids) + 1  # the next call confirms what is now stored
                failures = 0
            except asyncio.CancelledError:
                raise
            except TelegramUnauthorizedError:
                raise  # a revoked token: stop the app loudly
            except TelegramConflictError as exc:  # a webhook is set, or another poller runs
                log.warning("getUpdates refused: %s", exc.message)
                failures += 1
            except Exception as exc:  # network, Telegram down, database down: never lose the loop
                failures += 1
                log.warning("getUpdates or storing updates failed (%s: %s); retrying", type(exc).__name__, exc)
            if failures:
                await _sleep_until(stop, min(self.backoff_cap, 0.5 * 2 ** min(failures, 8)))

    async def release(self) -> None:
        """A clean stop hands the poller role over at once instead of after the lease expires."""
        if self.lease_owner is None or not self.polling:
            return
        try:
            async with self.rt.sessionmaker() as session, session.begin():
                await leases.release(session, POLLER_LEASE, self.lease_owner)
        except SQLAlchemyError:
            log.warning("could not release the poller lease", exc_info=True)


class TelegramWebhook:
    """``POST /telegram/webhook``: checks Telegram's secret token, stores the update, answers 200 only
    after the commit (a 5xx makes Telegram deliver it again)."""

    def __init__(self, rt: Runtime, secret: str, *, on_stored: Callable[[], None] = lambda: None) -> None:
        self.rt = rt
        self.secret = secret
        self.on_stored = on_stored
        self.refused = 0

    async def handle(self, request: web.Request) -> web.StreamResponse:
        given = request.headers.get(SECRET_HEADER, "")
        if not hmac.compare_digest(given.encode(), self.secret.encode()):
            self.refused += 1
            log.warning("refused a Telegram webhook call from %s: %s secret token", request.remote,
                        "wrong" if given else "missing")
            return web.Response(status=401, text="Unauthorized")
        try:
            update = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            log.warning("telegram webhook: body is not JSON; ignored")
            return web.Response(status=400, text="not JSON")
        if update_id_of(update) is None:
            log.warning("telegram webhook: not an update object; ignored")
            return web.Response(status=400, text="not an update")
        try:
            await store_updates(self.rt, [update])
        except SQLAlchemyError:
            log.exception("could not store a Telegram update; Telegram will send it again")
            return web.Response(status=503, text="try again")
        self.on_stored()
        return web.Response(text="ok")


async def _unless_stopped(stop: asyncio.Event, request: asyncio.Future[Any]) -> Any:
    """The long poll's answer, or None when the app stops first (the poll is cancelled: a stop does
    not wait for Telegram's long-poll timeout)."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({request, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if request.done():
        return request.result()
    request.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await request
    return None


async def _sleep_until(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        pass
