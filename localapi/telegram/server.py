"""aiohttp front end of the local Telegram Bot API server.

The real aiogram ``Bot`` talks HTTP to this server exactly as to api.telegram.org: ``/bot<token>/<method>``
for calls (query string, urlencoded, multipart or JSON bodies) and ``/file/bot<token>/<path>`` for downloads.
Updates reach the bot by getUpdates long polling or by webhook POSTs, as configured by the bot.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

from . import errors
from .errors import TelegramAPIError
from .methods import BotApi, Faults, Upload
from .ratelimit import STRICT, RateLimiter, RateLimits
from .simulation import Simulation
from .spec import FILE, ApiSpec, Validator, find_spec_path
from .state import TelegramState, now_ts, update_kind

log = logging.getLogger(__name__)

_BAD_GATEWAY_HTML = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway" \
    "</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n"


class TelegramServer(Simulation):
    """A local Telegram: Bot API over HTTP for the bot, plus a Python/HTTP API to simulate its users.

    ``spec_path``: None = locate ``<project root>/../shared/specs/telegram-bot-api.json`` (or
    ``$SIKESAL_TELEGRAM_SPEC``), a path = use that file, False = no spec validation.
    ``rate_limits``: True = Telegram-like defaults (buckets), ``"strict"`` = Telegram's limits counted in
    sliding windows (:data:`~localapi.telegram.ratelimit.STRICT`), False = off (benchmarks), or a
    ``RateLimits``. ``rate_limited`` counts the 429s answered (``rate_limited_calls`` per method).
    """

    def __init__(self, token: str = "123456:TEST", *, bot_username: str = "sikesal_bot",
                 bot_first_name: str = "SiKesal", spec_path: Path | str | bool | None = None,
                 rate_limits: bool | str | RateLimits = True, privacy_mode: bool = False) -> None:
        super().__init__(privacy_mode=privacy_mode)
        self.token = token
        prefix = token.split(":", 1)[0]
        self._bot_identity = (int(prefix) if prefix.isdigit() else 123456, bot_username, bot_first_name)
        self.spec_path = find_spec_path(spec_path)
        self.spec: ApiSpec | None = ApiSpec.load(self.spec_path) if self.spec_path else None
        self.validator = Validator(self.spec)
        if rate_limits not in (True, False, "strict") and not isinstance(rate_limits, RateLimits):
            raise ValueError(f"rate_limits: True, False, 'strict' or a RateLimits, not {rate_limits!r}")
        self.rate_limits: RateLimits | None = (
            RateLimits() if rate_limits is True else STRICT if rate_limits == "strict"
            else (rate_limits if isinstance(rate_limits, RateLimits) else None)
        )
        #: 429s answered (limits and injected floods), in total and per method (the benchmark reads them)
        self.rate_limited = 0
        self.rate_limited_calls: Counter[str] = Counter()
        self.spec_violations: list[str] = []
        self.spec_warnings: list[str] = []
        self.calls: Counter[str] = Counter()  # method name (as sent) -> number of calls
        self.state = TelegramState(*self._bot_identity)
        self.faults = Faults()
        self.limiter = RateLimiter(self.rate_limits) if self.rate_limits else None
        self.api = BotApi(self.state, self.limiter, self.faults)
        self.api.on_webhook_change = self._webhook_changed
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None
        self._closing = False
        self.base_url = ""

    # -- lifecycle --------------------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """An aiohttp application serving the Bot API and the control API (mountable via add_subapp)."""
        from .control import add_control_routes

        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        add_control_routes(app, self)
        app.on_shutdown.append(self._on_shutdown)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> TelegramServer:
        """Serve on ``host:port`` (0 = a free port); sets ``base_url``."""
        self._closing = self.api.closing = False
        self._runner = web.AppRunner(self.make_app(), shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_port = self._runner.addresses[0][1] if self._runner.addresses else port
        self.base_url = f"http://{host}:{bound_port}"
        return self

    async def stop(self) -> None:
        """Stop serving; pending long polls return immediately."""
        await self._on_shutdown(None)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_shutdown(self, _app: web.Application | None) -> None:
        self._closing = True
        self.api.closing = True
        self._wake_pollers()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._webhook_task
            self._webhook_task = None

    async def __aenter__(self) -> TelegramServer:
        return await self.start()

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.stop()

    def reset(self) -> None:
        """Forget all users, chats, messages, updates, files, faults and recorded spec problems."""
        subscribers = self.state.subscribers
        self._wake_pollers()  # pending getUpdates re-read the new state
        self.state = TelegramState(*self._bot_identity)
        self.state.subscribers = subscribers
        self.api.state = self.state
        self.sim_users.clear()
        self.faults.floods.clear()
        self.faults.network_failures = 0
        if self.limiter is not None:
            self.limiter.reset()
        self.spec_violations.clear()
        self.spec_warnings.clear()
        self.calls.clear()
        self.rate_limited = 0
        self.rate_limited_calls.clear()
        self.state.publish({"type": "reset"})

    def _wake_pollers(self) -> None:
        self.state.updates_changed.set()
        self.state.updates_changed = asyncio.Event()

    # -- fault injection --------------------------------------------------------------------------------------

    def inject_flood(self, chat_id: int | None = None, retry_after: int = 3, count: int = 1) -> None:
        """The next ``count`` send-type calls (to ``chat_id``, or any chat) get 429 with ``retry_after``."""
        self.faults.floods.append([chat_id, retry_after, count])

    def fail_network(self, count: int = 1, *, mode: str = "disconnect") -> None:
        """The next ``count`` HTTP calls fail: ``disconnect`` drops the TCP connection, ``502`` answers with
        the proxy's HTML error page (both surface as network/server errors in clients)."""
        self.faults.network_failures += count
        self.faults.network_mode = mode

    # -- calls ------------------------------------------------------------------------------------------------

    def _record(self, target: list[str], problems: list[str]) -> None:
        for problem in problems:
            if problem not in target:  # lists stay short; tests may clear them between steps
                target.append(problem)
                log.warning("telegram spec: %s", problem)

    async def call(self, method: str, params: dict[str, Any], uploads: dict[str, Upload] | None = None) -> Any:
        """Execute a Bot API method (validation included); raises ``TelegramAPIError``."""
        uploads = uploads or {}
        name = method.lower()
        self.calls[method] += 1
        for part_name, upload in uploads.items():
            if part_name not in params and self.validator.kind(name, part_name) == FILE:
                params[part_name] = upload  # a file sent as a part named after the parameter
        handler = self.api.handlers.get(name)
        mspec = self.spec.method(name) if self.spec else None
        if handler is None and mspec is None:
            raise errors.NOT_FOUND
        validation = self.validator.validate(name, params, set(uploads))
        self._record(self.spec_warnings, validation.warnings)
        self._record(self.spec_violations, validation.violations)
        if validation.error:
            raise errors.bad_request(validation.error)
        if handler is None:
            assert mspec is not None
            self._record(self.spec_warnings, [f"{mspec.name}: not simulated by the local server"])
            if mspec.returns == ("Boolean",):
                return True
            raise errors.bad_request(f"method {mspec.name} is not supported by the local test server")
        try:
            return await handler(validation.params, uploads)
        except TelegramAPIError as exc:
            if exc.error_code == 429:
                self.rate_limited += 1
                self.rate_limited_calls[method] += 1
            raise

    async def _read_params(self, request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = dict(request.query)
        uploads: dict[str, Upload] = {}
        if request.method != "POST" or not request.body_exists:
            return params, uploads
        ctype = request.content_type
        if ctype == "application/json":
            try:
                body = await request.json()
            except json.JSONDecodeError:
                raise errors.bad_request("can't parse JSON request body") from None
            if not isinstance(body, dict):
                raise errors.bad_request("JSON request body must be an object")
            params.update(body)
        elif ctype.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, aiohttp.BodyPartReader) or part.name is None:
                    continue
                if part.filename is not None:
                    data = await part.read(decode=True)
                    uploads[part.name] = Upload(part.name, part.filename, bytes(data),
                                                part.headers.get("Content-Type"))
                else:
                    params[part.name] = await part.text()
        else:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    params[key] = value
                elif isinstance(value, web.FileField):
                    uploads[key] = Upload(key, value.filename, value.file.read(), value.content_type)
        return params, uploads

    async def _network_fault(self, request: web.Request) -> web.StreamResponse | None:
        if self.faults.network_failures <= 0:
            return None
        self.faults.network_failures -= 1
        if self.faults.network_mode == "502":
            return web.Response(status=502, text=_BAD_GATEWAY_HTML, content_type="text/html")
        if request.transport is not None:
            request.transport.abort()
        raise asyncio.CancelledError  # nothing can be sent on a dropped connection

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._network_fault(request)) is not None:
            return fault
        try:
            if request.match_info["token"] != self.token:
                raise errors.UNAUTHORIZED
            params, uploads = await self._read_params(request)
            result = await self.call(request.match_info["method"], params, uploads)
        except TelegramAPIError as exc:
            return web.json_response(exc.to_dict(), status=exc.error_code)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if (fault := await self._network_fault(request)) is not None:
            return fault
        if request.match_info["token"] != self.token:
            return web.json_response(errors.UNAUTHORIZED.to_dict(), status=401)
        record = self.state.files_by_path.get(request.match_info["path"])
        if record is None:
            return web.json_response(errors.NOT_FOUND.to_dict(), status=404)
        return web.Response(body=record.data, content_type=record.mime_type or "application/octet-stream")

    # -- webhook delivery -------------------------------------------------------------------------------------

    def _webhook_changed(self) -> None:
        self._wake_pollers()
        if self.state.webhook.url and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.get_running_loop().create_task(self._webhook_loop())

    async def _webhook_loop(self) -> None:
        """Deliver queued updates by POST; per chat in order, chats in parallel; retry failures."""
        backoff = 0.2
        async with aiohttp.ClientSession() as session:
            while self.state.webhook.url and not self._closing:
                updates = self.state.pending_updates(100)
                if not updates:
                    event = self.state.updates_changed
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(event.wait(), 1.0)
                    continue
                by_chat: dict[Any, list[dict[str, Any]]] = {}
                for update in updates:
                    by_chat.setdefault(_update_chat(update), []).append(update)
                limit = asyncio.Semaphore(self.state.webhook.max_connections)
                delivered: set[int] = set()

                async def run_chat(queue: list[dict[str, Any]], limit: asyncio.Semaphore = limit,
                                   delivered: set[int] = delivered) -> None:
                    async with limit:
                        for update in queue:
                            if not await self._post_update(session, update):
                                return
                            delivered.add(update["update_id"])

                await asyncio.gather(*(run_chat(queue) for queue in by_chat.values()))
                if delivered:
                    state = self.state
                    state.updates = type(state.updates)(u for u in state.updates if u["update_id"] not in delivered)
                if len(delivered) < len(updates):
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, 5.0)
                else:
                    backoff = 0.2

    async def _post_update(self, session: aiohttp.ClientSession, update: dict[str, Any]) -> bool:
        hook = self.state.webhook
        headers = {"X-Telegram-Bot-Api-Secret-Token": hook.secret_token} if hook.secret_token else {}
        try:
            async with session.post(hook.url, json=update, headers=headers,
                                    timeout=aiohttp.ClientTimeout(total=60)) as resp:
                body = await resp.read()
                if resp.status >= 300:
                    raise RuntimeError(f"Wrong response from the webhook: {resp.status} {resp.reason}")
        except (aiohttp.ClientError, TimeoutError, RuntimeError) as exc:
            hook.last_error_date = now_ts()
            hook.last_error_message = str(exc) or type(exc).__name__
            return False
        await self._webhook_reply(body)
        return True

    async def _webhook_reply(self, body: bytes) -> None:
        """Telegram executes a method returned in the webhook response body (its result is discarded)."""
        if not body:
            return
        try:
            payload = json.loads(body)
        except ValueError:
            return
        if isinstance(payload, dict) and isinstance(payload.get("method"), str):
            params = {k: v for k, v in payload.items() if k != "method"}
            with contextlib.suppress(TelegramAPIError):
                await self.call(payload["method"], params)


def _update_chat(update: dict[str, Any]) -> Any:
    payload = update[update_kind(update)]
    if "chat" in payload:
        return payload["chat"].get("id")
    if "message" in payload and isinstance(payload["message"], dict):
        return payload["message"].get("chat", {}).get("id")
    return payload.get("from", {}).get("id")
