"""Logs never say who a citizen is (README, "Erasing one's data"): a private chat id or a phone number in a
log line is redacted; a group's chat id stays readable for the operator; database errors carry no values."""

from __future__ import annotations

import logging

from bot.logs import RedactSecrets
from storage.db import make_engine


def _redacted(message: str, *args: object) -> str:
    record = logging.LogRecord("sikesal.test", logging.INFO, __file__, 1, message, args, None)
    RedactSecrets([]).filter(record)
    return record.getMessage()


def test_private_chats_and_numbers_are_not_logged() -> None:
    assert _redacted("delivered outbox row %s to chat %s (%s)", 3, 1000002, 2) == \
        "delivered outbox row 3 to chat private (2)"
    assert _redacted("message %s in chat %s cannot be edited", 7, 55501234) == \
        "message 7 in chat private cannot be edited"
    assert _redacted("delivered outbox row %s to chat %s", 1, -1001234567890) == \
        "delivered outbox row 1 to chat -1001234567890", "a group stays named"
    assert "6281377712345" not in _redacted("refused From %r", "whatsapp:+6281377712345")


async def test_database_errors_do_not_quote_values() -> None:
    engine = make_engine("sqlite+aiosqlite://")
    try:
        assert engine.sync_engine.hide_parameters
    finally:
        await engine.dispose()
