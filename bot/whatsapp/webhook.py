"""The aiohttp endpoints Twilio calls: incoming WhatsApp messages and message status callbacks.

Both check ``X-Twilio-Signature`` with twilio's own :class:`~twilio.request_validator.RequestValidator`
over the URL Twilio used. Behind a reverse proxy the URL this process sees is not that URL (http, an
internal host), so the operator sets ``SIKESAL_PUBLIC_URL`` and the signature is computed over
``SIKESAL_PUBLIC_URL + path?query``. A forged or unsigned request gets 403, a log line and nothing else.

The message webhook only stores the form (idempotent on ``MessageSid``) and answers an empty TwiML
``<Response/>`` at once; :class:`bot.whatsapp.inbox.InboxWorker` does the work after the commit, so
Twilio's 15-second timeout is never near and a redelivery changes nothing twice.

A verified form is cleaned (:func:`handlers.text.clean_tree`: no NUL, no control or invisible bidi
characters) *after* the signature check, which is over the raw parameters, and before it is stored: the
text, the profile name and every other field are clean everywhere downstream. A signed form whose
``MessageSid`` or sender could not be stored (not a Twilio SID, not a phone number) gets 400 and a log line,
never a database error.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from aiohttp import web
from twilio.request_validator import RequestValidator

from bot.config import TwilioSettings
from bot.services.receipts import record_delivery_status
from bot.services.runtime import Runtime
from bot.whatsapp.translate import CHANNEL, WHATSAPP_PREFIX, chat_id_for, update_key
from handlers.text import MAX_ID, clean_tree, parse_int
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.whatsapp.webhook")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SIGNATURE_HEADER = "X-Twilio-Signature"
#: a Twilio SID as it can be stored (``SM`` + 32 hex digits in practice; the key column holds 96)
SID_RE = re.compile(r"[A-Za-z0-9]{2,64}")
#: a WhatsApp sender without its ``whatsapp:`` prefix: an E.164 number (the sender column holds 64)
SENDER_RE = re.compile(r"\+?[0-9]{1,32}")


def empty_twiml() -> web.Response:
    return web.Response(text=EMPTY_TWIML, content_type="text/xml")


class TwilioWebhooks:
    """The two endpoints, bound to one runtime and one Twilio account."""

    def __init__(
        self,
        rt: Runtime,
        twilio: TwilioSettings,
        *,
        on_stored: Callable[[], None] = lambda: None,
    ) -> None:
        self.rt = rt
        self.twilio = twilio
        self.validator = RequestValidator(twilio.auth_token)
        self.on_stored = on_stored
        self.refused = 0

    def routes(self, webhook_path: str, status_path: str) -> list[web.RouteDef]:
        return [web.post(webhook_path, self.incoming), web.post(status_path, self.status)]

    def signed_url(self, request: web.Request) -> str:
        """The URL Twilio signed: the configured public URL plus the path and query it called."""
        if self.twilio.public_url:
            return self.twilio.public_url + request.path_qs
        return str(request.url)

    async def _verified_form(self, request: web.Request) -> dict[str, str] | None:
        """The cleaned form of a request Twilio signed for our account, or None (refused, logged)."""
        try:
            form = await request.post()
        except (UnicodeDecodeError, LookupError, ValueError) as exc:  # not UTF-8, an unknown charset...
            self.refused += 1
            log.warning("refused %s: unreadable form (%s)", request.path, type(exc).__name__)
            return None
        params = {key: str(value) for key, value in form.items()}
        signature = request.headers.get(SIGNATURE_HEADER, "")
        url = self.signed_url(request)
        if not signature or not self.validator.validate(url, params, signature):
            self.refused += 1
            log.warning(
                "refused %s %s from %s: %s X-Twilio-Signature (checked against %s)",
                request.method, request.path, request.remote, "bad" if signature else "missing", url,
            )
            return None
        if params.get("AccountSid") not in (None, "", self.twilio.account_sid):
            self.refused += 1
            log.warning("refused %s: AccountSid %r is not ours", request.path, params.get("AccountSid", "")[:64])
            return None
        cleaned: dict[str, str] = clean_tree(params)  # after the check: Twilio signed the raw parameters
        return cleaned

    async def incoming(self, request: web.Request) -> web.StreamResponse:
        params = await self._verified_form(request)
        if params is None:
            return web.Response(status=403, text="invalid signature")
        sid = params.get("MessageSid") or params.get("SmsMessageSid") or ""
        sender = params.get("From", "")
        if not sid or not sender.startswith(WHATSAPP_PREFIX):
            log.info("ignoring a non-WhatsApp message %r", sid[:64] or "(no sid)")
            return empty_twiml()
        if not SID_RE.fullmatch(sid) or not SENDER_RE.fullmatch(chat_id_for(sender)):
            log.warning("refused a signed message with an unusable MessageSid %r or From %r", sid[:64], sender[:64])
            return web.Response(status=400, text="bad MessageSid or From")
        stored = await self._store(update_key(sid), chat_id_for(sender), params)
        if stored:
            self.on_stored()
        else:
            log.info("twilio redelivered %s; already stored", sid)
        return empty_twiml()

    @retry_transient()
    async def _store(self, key: str, sender: str, params: dict[str, str]) -> bool:
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            stored = await uow.inbox.add(key, CHANNEL, sender, params, now=self.rt.clock())
            await uow.commit()
        return stored

    async def status(self, request: web.Request) -> web.StreamResponse:
        params = await self._verified_form(request)
        if params is None:
            return web.Response(status=403, text="invalid signature")
        sid = params.get("MessageSid") or params.get("SmsSid") or ""
        status = params.get("MessageStatus") or params.get("SmsStatus") or ""
        if sid and status and not SID_RE.fullmatch(sid):
            log.warning("ignoring a status callback for an unusable MessageSid %r", sid[:64])
        elif sid and status:
            await record_delivery_status(
                self.rt,
                channel=CHANNEL,
                message_id=sid,
                status=status.lower(),
                error_code=parse_int((params.get("ErrorCode") or "").strip(), 0, MAX_ID),  # not "²".isdigit()
                error_message=params.get("ErrorMessage") or None,
            )
        return web.Response(status=204)
