"""Logging set-up that never writes a bot token (URLs of the Bot API contain it), nor who a citizen is.

Log lines name complaints by number and citizens by their internal id only; no name, username or message
text is ever logged. The few lines that name a chat (delivery problems) would name a citizen's private
chat by its Telegram id, which is the citizen's account id: :class:`RedactSecrets` writes ``chat private``
instead (groups have negative ids and stay readable), and any phone number in international form
(``+62...``, ``whatsapp:+62...``) becomes ``+…``. So an erasure (/hapusdata) has nothing to chase in logs.
"""

from __future__ import annotations

import logging
import re

_TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")
#: a private chat (positive id: a citizen's or a staff member's own account) named in a log line
_PRIVATE_CHAT = re.compile(r"\bchat (\d+)\b")
#: a phone number in international form (WhatsApp addresses)
_PHONE = re.compile(r"\+\d{7,15}\b")


class RedactSecrets(logging.Filter):
    """Replaces known secrets and anything shaped like a bot token in every record."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        text = _TOKEN_PATTERN.sub("***", text)
        return _PHONE.sub("+…", _PRIVATE_CHAT.sub("chat private", text))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        # a traceback repeats exception messages, and HTTP client errors carry the request URL
        # (``.../bot<token>/getMe``): format it here, redacted; the Formatter reuses ``exc_text``
        if record.exc_info and not record.exc_text:
            record.exc_text = _FORMATTER.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


def setup_logging(level: str, secrets: list[str]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("aiogram.event").setLevel(logging.WARNING)  # one line per update is noise
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # at DEBUG aiosqlite logs every statement with its parameters: citizens' data and password hashes
    logging.getLogger("aiosqlite").setLevel(logging.INFO)
