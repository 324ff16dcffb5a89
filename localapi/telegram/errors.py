"""Telegram Bot API errors, with the exact descriptions Telegram uses.

Bot code (and aiogram) branches on ``error_code``, ``parameters`` and sometimes on the description text,
so the local server must reproduce them verbatim instead of inventing its own wording.
"""

from __future__ import annotations

from typing import Any


class TelegramAPIError(Exception):
    """An error returned to the bot as ``{"ok": false, "error_code", "description", "parameters"?}``."""

    def __init__(self, error_code: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body Telegram sends for this error."""
        body: dict[str, Any] = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


class SimulationError(Exception):
    """A user-side action that a real Telegram client could not perform (e.g. pressing a missing button)."""


def bad_request(reason: str, parameters: dict[str, Any] | None = None) -> TelegramAPIError:
    """Build a 400 error; ``reason`` is the part after ``Bad Request: ``."""
    return TelegramAPIError(400, f"Bad Request: {reason}", parameters)


def forbidden(reason: str) -> TelegramAPIError:
    """Build a 403 error; ``reason`` is the part after ``Forbidden: ``."""
    return TelegramAPIError(403, f"Forbidden: {reason}")


def too_many_requests(retry_after: int) -> TelegramAPIError:
    """Build the 429 flood-wait error that aiogram turns into ``TelegramRetryAfter``."""
    retry_after = max(1, int(retry_after))
    return TelegramAPIError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


UNAUTHORIZED = TelegramAPIError(401, "Unauthorized")
NOT_FOUND = TelegramAPIError(404, "Not Found")
WEBHOOK_CONFLICT = TelegramAPIError(
    409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)
POLLING_CONFLICT = TelegramAPIError(
    409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
)

MESSAGE_TOO_LONG = "message is too long"
CAPTION_TOO_LONG = "message caption is too long"
TEXT_EMPTY = "message text is empty"
BUTTON_DATA_INVALID = "BUTTON_DATA_INVALID"
CHAT_NOT_FOUND = "chat not found"
MESSAGE_TO_EDIT_NOT_FOUND = "message to edit not found"
MESSAGE_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a "
    "current content and reply markup of the message"
)
MESSAGE_CANT_BE_EDITED = "message can't be edited"
MESSAGE_TO_DELETE_NOT_FOUND = "message to delete not found"
MESSAGE_CANT_BE_DELETED = "message can't be deleted"
REPLY_NOT_FOUND = "message to be replied not found"
WRONG_FILE_ID = "wrong file identifier/HTTP URL specified"
FILE_TYPE_MISMATCH = "type of file mismatch"
FILE_TOO_BIG = "file is too big"
QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
GROUP_MIGRATED = "group chat was upgraded to a supergroup chat"
USER_NOT_FOUND = "user not found"
USER_ID_INVALID = "USER_ID_INVALID"
BLOCKED = "bot was blocked by the user"
KICKED_GROUP = "bot was kicked from the group chat"
KICKED_SUPERGROUP = "bot was kicked from the supergroup chat"
NOT_MEMBER = "bot is not a member of the group chat"
CANT_INITIATE = "bot can't initiate conversation with a user"
WRONG_MEDIA_COUNT = "wrong number of media specified; must include 2-10 items"
