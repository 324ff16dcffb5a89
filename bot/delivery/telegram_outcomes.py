"""What one delivery attempt of a Telegram outbox row works with and ends in, and how errors are judged.

A row is copied into a :class:`Job` (no ORM objects in flight), the API calls gather side results in an
:class:`Attempt`, and everything ends in an :class:`Outcome` that the sender records. This module also
holds Telegram's error descriptions we match on and :func:`classify_error`, which sorts an exception into
an outcome by kind: flood waits and migrations are not failures, blocked users and malformed messages fail
for good, network and server trouble is retried, and anything unexpected fails one attempt of one row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import aiohttp
from aiogram.exceptions import (
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)

from bot.delivery.ratelimit import is_group_chat
from handlers.messages import OutMessage

log = logging.getLogger("sikesal.delivery")

# Telegram's descriptions (see localapi.telegram.errors), matched case-insensitively as substrings
NOT_MODIFIED = "message is not modified"
REPLY_NOT_FOUND = "message to be replied not found"
WRONG_FILE_ID = "wrong file identifier"
FILE_REFERENCE = "file reference"
#: a document's file id sent as a photo (an image the citizen sent "as a file")
FILE_TYPE_MISMATCH = "type of file mismatch"
#: descriptions meaning the chat itself cannot be written to (not the message's fault)
CHAT_PROBLEMS = ("chat not found", "not enough rights", "have no rights", "chat_write_forbidden",
                 "bot is not a member", "bot was kicked", "group chat was deactivated", "chat was deleted",
                 "need administrator rights")


@dataclass(slots=True)
class PhotoSource:
    sha256: str
    file_id: str | None
    path: str | None  # relative to the media directory; None if we have no bytes to upload


@dataclass(slots=True)
class Job:
    """Everything needed to deliver one row, copied out of the read session (no ORM objects in flight)."""

    row_id: int
    chat_id: str
    kind: str
    message: OutMessage
    attempts: int
    complaint_id: int | None
    card_id: int | None
    link_role: str | None
    link_staff_user_id: str | None
    reply_to: int | None = None
    edit_message_id: int | None = None
    card_kind: str = "text"
    photos: list[PhotoSource] = field(default_factory=list)
    progress: list[str] = field(default_factory=list)
    #: the row's own chat (its worker's key; an edit's ``chat_id`` is taken from the card)
    row_chat: str = ""
    #: a card's first rendering that nothing changed since it was queued (see TelegramSender._load)
    face_current: bool = False


Action = Literal["sent", "retry", "failed", "flood", "migrated", "skip", "superseded"]


class UnusablePhoto(Exception):
    """A photo Telegram will not take (or we cannot decode): a card goes without it rather than not at all."""


def is_chat_problem(description: str) -> bool:
    """Telegram refused the chat, not the message (removed bot, deleted group, no rights to write)."""
    text = description.lower()
    return any(problem in text for problem in CHAT_PROBLEMS)


@dataclass(slots=True)
class Outcome:
    action: Action
    message_ids: list[str] = field(default_factory=list)
    #: the message that carries the buttons (what a card's ``message_id`` must be)
    button_message_id: int | None = None
    card_kind: str = "text"
    error: str = ""
    delay: float = 0.0
    count_attempt: bool = True
    migrate_to: int | None = None
    blocked: bool = False
    #: the group itself refused us (bot removed, chat gone): re-route, and say so on ``agency list``
    unreachable: bool = False
    #: a row of the same chat that must be delivered first (the card this row replies to or edits)
    prerequisite: int | None = None


@dataclass(slots=True)
class Attempt:
    """Side results gathered while sending, kept even when a later call of the same row fails."""

    file_ids: dict[str, str] = field(default_factory=dict)
    #: the parts out so far when the last call (the buttons) may still fail: recorded with a retry, so the
    #: next attempt only puts the buttons on (no transaction of its own before that call)
    progress: list[str] = field(default_factory=list)


def chat_arg(chat_id: str) -> int | str:
    """aiogram wants an int for numeric ids (and a str for ``@username``)."""
    try:
        return int(chat_id)
    except ValueError:
        return chat_id


def api_description(exc: TelegramAPIError) -> str:
    return str(exc.message)


def classify_error(exc: Exception, job: Job, scrub: Callable[[str], str]) -> Outcome:
    """Sort what an attempt of ``job`` raised into an outcome. Call it from the ``except`` block (it logs
    the traceback of an unexpected error); ``scrub`` keeps the bot token out of the recorded error."""
    if isinstance(exc, TelegramRetryAfter):
        return Outcome("flood", delay=float(exc.retry_after), error=scrub(str(exc)), count_attempt=False)
    if isinstance(exc, TelegramMigrateToChat):
        return Outcome("migrated", migrate_to=int(exc.migrate_to_chat_id), error=api_description(exc))
    if isinstance(exc, TelegramForbiddenError):
        group = is_group_chat(job.chat_id)
        return Outcome("failed", error=api_description(exc), blocked=not group, unreachable=group)
    if isinstance(exc, TelegramBadRequest):
        unreachable = is_group_chat(job.chat_id) and is_chat_problem(api_description(exc))
        return Outcome("failed", error=api_description(exc), unreachable=unreachable)
    if isinstance(exc, TelegramEntityTooLarge):  # a TelegramNetworkError subclass, but permanent
        return Outcome("failed", error=api_description(exc))
    if isinstance(exc, (TelegramNetworkError, TelegramServerError, ClientDecodeError, aiohttp.ClientError)):
        return Outcome("retry", error=scrub(f"{type(exc).__name__}: {exc}"))
    if isinstance(exc, TimeoutError):
        return Outcome("retry", error=f"timeout: {exc}")
    if isinstance(exc, FileNotFoundError):  # the media disk may be back later; max_attempts bounds the wait
        log.warning("outbox row %s: stored photo missing: %s", job.row_id, exc)
        return Outcome("retry", error=f"photo file missing: {exc}")
    if isinstance(exc, TelegramAPIError):  # 401/404/409: configuration trouble, worth retrying slowly
        log.error("telegram refused row %s: %s", job.row_id, scrub(str(exc)))
        return Outcome("retry", error=scrub(str(exc)))
    # the per-row safety net: one bad row must not stop delivery
    log.exception("unexpected error delivering outbox row %s", job.row_id)
    return Outcome("retry", error=scrub(f"{type(exc).__name__}: {exc}"))
