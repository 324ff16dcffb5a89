"""aiohttp front end of the local Twilio server (Programmable Messaging, WhatsApp channel).

The real ``twilio`` client talks to it as to api.twilio.com: ``POST/GET /2010-04-01/Accounts/{sid}/Messages``
with HTTP Basic auth. Simulated WhatsApp users POST signed webhooks to the bot, and every outbound message gets
signed status callbacks, both exactly as Twilio sends them (form-encoded, ``X-Twilio-Signature``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import email.utils
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web
from twilio.request_validator import RequestValidator

from .spec import MESSAGES_PATH, TwilioSpec, find_spec_path

log = logging.getLogger(__name__)

API_VERSION = "2010-04-01"
WINDOW_SECONDS = 24 * 3600
WHATSAPP = "whatsapp:"
ERROR_MESSAGES = {
    63016: "Failed to send freeform message because you are outside the allowed window. If you are using WhatsApp,"
           " please use a Message Template.",
}


class TwilioError(Exception):
    """An error answered as Twilio's JSON error body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}", "status": self.status}


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def bare_number(address: str) -> str:
    """``whatsapp:+62...`` -> ``+62...``."""
    return address.removeprefix(WHATSAPP)


@dataclass
class MessageRecord:
    """An outbound message created through the API (``resource`` is the JSON Twilio would return)."""

    resource: dict[str, Any]
    status_callback: str | None = None
    content_sid: str | None = None
    content_variables: str | None = None
    media_urls: list[str] = field(default_factory=list)
    callbacks: list[dict[str, str]] = field(default_factory=list)  # status callbacks sent, in order

    @property
    def sid(self) -> str:
        return str(self.resource["sid"])

    @property
    def to(self) -> str:
        return str(self.resource["to"])

    @property
    def body(self) -> str:
        return str(self.resource["body"] or "")

    @property
    def status(self) -> str:
        return str(self.resource["status"])

    @property
    def error_code(self) -> int | None:
        code = self.resource["error_code"]
        return int(code) if code is not None else None


@dataclass
class InboundDelivery:
    """One webhook POST made on behalf of a simulated user."""

    url: str
    params: dict[str, str]
    status: int
    text: str


class WhatsAppUser:
    """A simulated citizen on WhatsApp, writing to the bot's Twilio number."""

    def __init__(self, server: TwilioServer, number: str, profile_name: str) -> None:
        self.server = server
        self.number = bare_number(number)
        self.profile_name = profile_name
        self.last_params: dict[str, str] | None = None

    @property
    def address(self) -> str:
        return WHATSAPP + self.number

    async def send(self, webhook_url: str, body: str | None = None, *,
                   media: list[tuple[bytes, str]] | None = None, latitude: float | None = None,
                   longitude: float | None = None, address: str | None = None, label: str | None = None,
                   button_payload: str | None = None, button_text: str | None = None,
                   to: str | None = None, reply_to: str | None = None) -> InboundDelivery:
        """POST an incoming message to the bot's webhook exactly like Twilio (signed form).

        ``reply_to``: the SID of a message the user replies to (WhatsApp's swipe-to-reply), sent as
        ``OriginalRepliedMessageSid`` / ``OriginalRepliedMessageSender`` as Twilio does.
        """
        sid = new_sid("MM" if media else "SM")
        params: dict[str, str] = {
            "SmsMessageSid": sid, "MessageSid": sid, "SmsSid": sid, "AccountSid": self.server.account_sid,
            "From": self.address, "To": to or self.server.whatsapp_from, "Body": body or "",
            "NumMedia": str(len(media or [])), "NumSegments": "1", "SmsStatus": "received",
            "ApiVersion": API_VERSION, "ProfileName": self.profile_name, "WaId": self.number.lstrip("+"),
            "MessageType": "text",
        }
        for index, (data, content_type) in enumerate(media or []):
            params[f"MediaUrl{index}"] = self.server.add_media(data, content_type, sid)
            params[f"MediaContentType{index}"] = content_type
        if media:
            params["MessageType"] = media[0][1].split("/", 1)[0]
        if latitude is not None and longitude is not None:
            params.update(Latitude=str(latitude), Longitude=str(longitude), MessageType="location")
            if address is not None:
                params["Address"] = address
            if label is not None:
                params["Label"] = label
        if reply_to is not None:
            params["OriginalRepliedMessageSid"] = reply_to
            original = self.server.messages.get(reply_to)
            params["OriginalRepliedMessageSender"] = str(original.resource["from"]) if original else ""
        if button_payload is not None or button_text is not None:
            params.update(ButtonPayload=button_payload or "", ButtonText=button_text or "", MessageType="button")
        self.server.last_inbound[self.number] = self.server.now()
        self.server.received[sid] = params
        self.last_params = params
        return await self.server.post_signed(webhook_url, params)

    def opt_out(self) -> None:
        """The user replied STOP: Twilio refuses to message them (error 21610) until they opt in again."""
        self.server.opted_out.add(self.number)

    def opt_in(self) -> None:
        self.server.opted_out.discard(self.number)

    async def redeliver(self, webhook_url: str | None = None) -> InboundDelivery:
        """Send the last message again with the same ``MessageSid`` (Twilio's retry after a timeout/5xx)."""
        if self.last_params is None:
            raise RuntimeError("nothing to redeliver")
        url = webhook_url or self.server.inbound[-1].url
        return await self.server.post_signed(url, dict(self.last_params))


class TwilioServer:
    """A local Twilio: Messages REST API for the bot, plus a Python/HTTP API to simulate WhatsApp users.

    ``spec_path``: None = locate ``<project root>/../shared/specs/twilio-api-v2010.json`` (or
    ``$SIKESAL_TWILIO_SPEC``), a path = use that file, False = no spec validation.
    ``callback_delay``: seconds between status callbacks; ``out_of_order``: send them last-first;
    ``read_receipts``: WhatsApp recipients "read" delivered messages.
    ``media_redirect``: like real Twilio, a media URL (Basic auth) answers 307 to a pre-signed URL on
    ``/signed-media/`` that refuses any request carrying an ``Authorization`` header (as S3 does) and
    records that as a spec violation; False serves the bytes from the media URL itself.
    """

    def __init__(self, account_sid: str = "AC" + "0" * 32, auth_token: str = "test-auth-token", *,
                 whatsapp_from: str = "whatsapp:+14155238886", spec_path: Path | str | bool | None = None,
                 callback_delay: float = 0.0, out_of_order: bool = False, read_receipts: bool = False,
                 media_redirect: bool = True) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.whatsapp_from = whatsapp_from
        self.spec_path = find_spec_path(spec_path)
        self.spec: TwilioSpec | None = TwilioSpec.load(self.spec_path) if self.spec_path else None
        self.spec_violations: list[str] = []
        self.callback_delay = callback_delay
        self.out_of_order = out_of_order
        self.read_receipts = read_receipts
        self.media_redirect = media_redirect
        self.validator = RequestValidator(auth_token)
        self.messages: dict[str, MessageRecord] = {}
        #: every outbound message in the order sent, deleted ones too (what the users' phones received)
        self.phone_log: list[MessageRecord] = []
        self.users: dict[str, WhatsAppUser] = {}
        self.last_inbound: dict[str, float] = {}  # bare number -> clock time of its last inbound message
        self.opted_out: set[str] = set()  # bare numbers that replied STOP
        self.media: dict[str, tuple[bytes, str]] = {}
        self.inbound: list[InboundDelivery] = []
        #: the users' messages as Twilio keeps them (sid -> the webhook form), until deleted
        self.received: dict[str, dict[str, str]] = {}
        #: sids deleted through ``DELETE .../Messages/{Sid}.json``, in order
        self.deleted: list[str] = []
        self.callback_results: list[InboundDelivery] = []
        self.rate_limited = 0
        self.network_failures = 0
        self._clock_offset = 0.0
        self._changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """An aiohttp application serving the Messages API, media and the control API."""
        from .control import add_control_routes

        app = web.Application()
        app.router.add_post(MESSAGES_PATH, self._handle_create)
        app.router.add_get(MESSAGES_PATH, self._handle_list)
        app.router.add_get("/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", self._handle_fetch)
        app.router.add_delete("/2010-04-01/Accounts/{AccountSid}/Messages/{Sid}.json", self._handle_delete)
        app.router.add_get("/media/{media_id:.+}", self._handle_media)
        app.router.add_get("/signed-media/{signature}/{media_id:.+}", self._handle_signed_media)
        add_control_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> TwilioServer:
        """Serve on ``host:port`` (0 = a free port); sets ``base_url``."""
        self._runner = web.AppRunner(self.make_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1] if self._runner.addresses else port
        self.base_url = f"http://{host}:{bound_port}"
        return self

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> TwilioServer:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    # -- clock, faults, simulation ------------------------------------------------------------------------------

    def now(self) -> float:
        return time.time() + self._clock_offset

    def advance(self, hours: float) -> None:
        """Move the server's clock forward (the 24-hour WhatsApp window is judged by it)."""
        self._clock_offset += hours * 3600

    def inject_rate_limit(self, count: int = 1) -> None:
        """The next ``count`` API calls get 429 (Twilio error 20429)."""
        self.rate_limited += count

    def fail_network(self, count: int = 1) -> None:
        """The next ``count`` API calls have their TCP connection dropped."""
        self.network_failures += count

    def create_whatsapp_user(self, number: str = "+6281234567890", profile_name: str = "Siti") -> WhatsAppUser:
        user = WhatsAppUser(self, number, profile_name)
        self.users[user.number] = user
        return user

    def in_window(self, address: str) -> bool:
        last = self.last_inbound.get(bare_number(address))
        return last is not None and self.now() - last < WINDOW_SECONDS

    def add_media(self, data: bytes, content_type: str, message_sid: str) -> str:
        media_id = f"{message_sid}/ME{secrets.token_hex(16)}"
        self.media[media_id] = (data, content_type)
        return f"{self.base_url}/media/{media_id}"

    def messages_to(self, number: str) -> list[MessageRecord]:
        """Outbound messages to ``number`` (``+62...`` or ``whatsapp:+62...``), oldest first: what the user's
        phone shows, including messages deleted at Twilio since (a deletion does not reach the phone)."""
        wanted = bare_number(number)
        return [m for m in self.phone_log if bare_number(m.to) == wanted]

    def stored_to(self, number: str) -> list[MessageRecord]:
        """Outbound messages to ``number`` Twilio still keeps (the API's view: not deleted)."""
        wanted = bare_number(number)
        return [m for m in self.messages.values() if bare_number(m.to) == wanted]

    async def wait_for_message(self, number: str, predicate: Callable[[MessageRecord], bool] | None = None,
                               timeout: float = 5.0,  # noqa: ASYNC109 - documented public API
                               *, new_only: bool | None = None) -> MessageRecord:
        """Wait for an outbound message to ``number``: without ``predicate`` a NEW one (created after this call
        started); with a predicate the first matching one, including earlier ones unless ``new_only``."""
        only_new = predicate is None if new_only is None else new_only
        skip = len(self.messages_to(number)) if only_new else 0

        def found() -> MessageRecord | None:
            for message in self.messages_to(number)[skip:]:
                if predicate is None or predicate(message):
                    return message
            return None

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(found), timeout)
        result = found()
        assert result is not None
        return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- outgoing HTTP (webhooks, callbacks) ----------------------------------------------------------------------

    def sign(self, url: str, params: dict[str, str]) -> str:
        return str(self.validator.compute_signature(url, params))

    async def post_signed(self, url: str, params: dict[str, str]) -> InboundDelivery:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15))
        headers = {"X-Twilio-Signature": self.sign(url, params), "User-Agent": "TwilioProxy/1.1",
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        async with self._session.post(url, data=params, headers=headers) as response:
            delivery = InboundDelivery(url, params, response.status, await response.text())
        if params.get("SmsStatus") == "received":
            self.inbound.append(delivery)
        else:
            self.callback_results.append(delivery)
        return delivery

    # -- API handlers -------------------------------------------------------------------------------------------

    async def _guard(self, request: web.Request) -> None:
        """Network faults, Basic auth, account, rate limit; raises TwilioError."""
        if self.network_failures > 0:
            self.network_failures -= 1
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError
        self._check_auth(request)
        if request.match_info.get("AccountSid", self.account_sid) != self.account_sid:
            raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        if self.rate_limited > 0:
            self.rate_limited -= 1
            raise TwilioError(429, 20429, "Too Many Requests")

    def _check_auth(self, request: web.Request) -> None:
        scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
        try:
            login, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            login = password = ""
        if scheme.lower() != "basic" or (login, password) != (self.account_sid, self.auth_token):
            raise TwilioError(401, 20003, "Authenticate")

    async def _handle_create(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._guard(request)
            post = await request.post()
            form: dict[str, list[str]] = {}
            for key, value in post.items():
                form.setdefault(key, []).append(str(value))
            record = self.create_message(form, dict(request.match_info))
        except TwilioError as exc:
            return web.json_response(exc.to_dict(), status=exc.status)
        return web.json_response(record.resource, status=201)

    async def _handle_fetch(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._guard(request)
            record = self.messages.get(request.match_info["Sid"])
            if record is None:
                raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
        except TwilioError as exc:
            return web.json_response(exc.to_dict(), status=exc.status)
        return web.json_response(record.resource)

    async def _handle_delete(self, request: web.Request) -> web.StreamResponse:
        """``DeleteMessage``: 204 and the message (sent or received, with its media) is gone; 404 for a sid
        this account does not have. Like Twilio, a message still on its way cannot be deleted yet (20009)."""
        try:
            await self._guard(request)
            sid = request.match_info["Sid"]
            record = self.messages.get(sid)
            if record is None and sid not in self.received:
                raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")
            if record is not None and record.status in ("queued", "accepted", "sending"):
                raise TwilioError(409, 20009, "Cannot delete message because it has not been delivered yet")
        except TwilioError as exc:
            return web.json_response(exc.to_dict(), status=exc.status)
        self.messages.pop(sid, None)
        self.received.pop(sid, None)
        for media_id in [m for m in self.media if m.startswith(f"{sid}/")]:
            self.media.pop(media_id, None)
        self.deleted.append(sid)
        return web.Response(status=204)

    async def _handle_list(self, request: web.Request) -> web.StreamResponse:
        try:
            await self._guard(request)
        except TwilioError as exc:
            return web.json_response(exc.to_dict(), status=exc.status)
        to = request.query.get("To")
        items = [m.resource for m in reversed(self.messages.values()) if to is None or m.to == to]
        uri = request.path_qs
        return web.json_response({"messages": items, "end": max(len(items) - 1, 0), "first_page_uri": uri,
                                  "next_page_uri": None, "page": 0, "page_size": 50, "previous_page_uri": None,
                                  "start": 0, "uri": uri})

    async def _handle_media(self, request: web.Request) -> web.StreamResponse:
        try:
            self._check_auth(request)
        except TwilioError as exc:
            return web.json_response(exc.to_dict(), status=exc.status)
        item = self.media.get(request.match_info["media_id"])
        if item is None:
            return web.json_response(TwilioError(404, 20404, "Not found").to_dict(), status=404)
        if self.media_redirect:
            media_id = request.match_info["media_id"]
            location = f"{self.base_url}/signed-media/{self._media_signature(media_id)}/{media_id}"
            return web.Response(status=307, headers={"Location": location})
        data, content_type = item
        return web.Response(body=data, content_type=content_type)

    def _media_signature(self, media_id: str) -> str:
        return hmac.new(self.auth_token.encode(), media_id.encode(), hashlib.sha256).hexdigest()

    async def _handle_signed_media(self, request: web.Request) -> web.StreamResponse:
        """The pre-signed URL a media URL redirects to: the signature is the credential; one sent along
        with it is refused (S3 answers 400 "Only one auth mechanism allowed") and recorded."""
        media_id = request.match_info["media_id"]
        if "Authorization" in request.headers:
            self._record_problems([f"credentials sent to the pre-signed media URL of {media_id}"])
            return web.Response(status=400, text="Only one auth mechanism allowed")
        item = self.media.get(media_id)
        if item is None or not hmac.compare_digest(request.match_info["signature"], self._media_signature(media_id)):
            return web.Response(status=403, text="Access Denied")
        data, content_type = item
        return web.Response(body=data, content_type=content_type)

    # -- Messages resource --------------------------------------------------------------------------------------

    def _record_problems(self, problems: list[str]) -> None:
        for problem in problems:
            if problem not in self.spec_violations:
                self.spec_violations.append(problem)
                log.warning("twilio spec: %s", problem)

    def create_message(self, form: dict[str, list[str]], path_params: dict[str, str]) -> MessageRecord:
        """Validate and store an outbound message, schedule its status callbacks; raises TwilioError."""
        if self.spec is not None and (op := self.spec.operations.get("CreateMessage")) is not None:
            problems = op.validate(form, path_params)
            self._record_problems(problems)
            invalid = [p for p in problems if "unknown parameter" not in p and "To is missing" not in p]
            if invalid:
                raise TwilioError(400, 21655 if "ContentSid" in invalid[0] else 20001,
                                  f"Invalid parameter: {invalid[0].split(': ', 1)[1]}")

        def one(name: str) -> str | None:
            values = form.get(name)
            return values[0] if values else None

        to, sender, body, content_sid = one("To"), one("From"), one("Body"), one("ContentSid")
        media_urls = form.get("MediaUrl", [])
        if not to:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if not sender and not one("MessagingServiceSid"):
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if not body and not media_urls and not content_sid:
            raise TwilioError(400, 21602, "Message body is required.")
        if body is not None and len(body) > 1600:
            raise TwilioError(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if to.startswith(WHATSAPP) != (sender or WHATSAPP).startswith(WHATSAPP):
            raise TwilioError(400, 21910, "Invalid From and To pair. From and To should be of the same channel")
        if bare_number(to) in self.opted_out:
            raise TwilioError(400, 21610, "Attempt to send to unsubscribed recipient")
        sid = new_sid("SM")
        created = email.utils.formatdate(self.now(), usegmt=False).replace("-0000", "+0000")
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json"
        resource: dict[str, Any] = {
            "account_sid": self.account_sid, "api_version": API_VERSION, "body": body or "",
            "date_created": created, "date_sent": None, "date_updated": created, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": sender, "messaging_service_sid": one("MessagingServiceSid"),
            "num_media": str(len(media_urls)), "num_segments": "1", "price": None, "price_unit": "USD",
            "sid": sid, "status": "queued",
            "subresource_uris": {"media": uri.removesuffix(".json") + "/Media.json"}, "to": to, "uri": uri,
        }
        record = MessageRecord(resource, one("StatusCallback"), content_sid, one("ContentVariables"), media_urls)
        self.messages[sid] = record
        self.phone_log.append(record)
        task = asyncio.get_running_loop().create_task(self._progress(record))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return record

    async def _progress(self, record: MessageRecord) -> None:
        """Move the message through its statuses and POST the signed status callbacks."""
        await self._notify()
        freeform = record.content_sid is None
        if record.to.startswith(WHATSAPP) and freeform and not self.in_window(record.to):
            steps: list[tuple[str, int | None]] = [("failed", 63016)]
        else:
            steps = [("sent", None), ("delivered", None)]
            if self.read_receipts and record.to.startswith(WHATSAPP):
                steps.append(("read", None))
        held: list[dict[str, str]] = []  # out_of_order: callbacks held back and sent last-first
        for status, code in steps:
            await asyncio.sleep(self.callback_delay)
            record.resource.update(status=status, date_updated=email.utils.formatdate(self.now()))
            if status == "sent":
                record.resource["date_sent"] = record.resource["date_updated"]
            if code is not None:
                record.resource.update(error_code=code, error_message=ERROR_MESSAGES.get(code))
            await self._notify()
            params = self._callback_params(record, status, code)
            if self.out_of_order:
                held.insert(0, params)
            else:
                await self._send_callback(record, params)
        for params in held:
            await self._send_callback(record, params)
        await self._notify()

    async def _send_callback(self, record: MessageRecord, params: dict[str, str]) -> None:
        record.callbacks.append(params)
        if record.status_callback:
            try:
                await self.post_signed(record.status_callback, params)
            except aiohttp.ClientError as exc:
                log.warning("twilio status callback to %s failed: %s", record.status_callback, exc)

    def _callback_params(self, record: MessageRecord, status: str, code: int | None) -> dict[str, str]:
        params = {"MessageSid": record.sid, "SmsSid": record.sid, "SmsStatus": status, "MessageStatus": status,
                  "AccountSid": self.account_sid, "From": str(record.resource["from"] or ""), "To": record.to,
                  "ApiVersion": API_VERSION, "ChannelToAddress": bare_number(record.to),
                  "ChannelPrefix": "whatsapp" if record.to.startswith(WHATSAPP) else "sms"}
        if code is not None:
            params["ErrorCode"] = str(code)
        return params
