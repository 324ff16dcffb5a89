"""JSON control API of the local Twilio server (playground and non-Python test drivers), under ``/_control``.

Answers are plain JSON (not wrapped); errors are ``{"error": "..."}`` with HTTP 400 (404 for an unknown user).
Numbers in paths may be given as ``+62...`` or ``whatsapp:+62...``.

- ``GET  /_control/info`` -> account SID, sender, base URL, spec file, spec problems, the clock (``now``)
- ``POST /_control/users`` ``{number?, profile_name?}`` -> ``{number, profile_name}``
- ``GET  /_control/users`` -> ``[{number, profile_name, in_window}]``
- ``POST /_control/send`` ``{number, webhook_url, body?, media?: [{data_base64, content_type}], latitude?,
  longitude?, address?, label?, button_payload?, button_text?, reply_to?}`` -> ``{status, sid, params}``:
  the user's message POSTed, signed, to the bot's webhook (``status`` is the webhook's HTTP status)
- ``GET  /_control/users/{number}/messages`` -> the messages the bot sent to that number, oldest first
- ``GET  /_control/users/{number}/events`` -> ``text/event-stream``: ``data: {message}`` for every new
  message to that number and every status change of one (``queued`` -> ``sent`` -> ``delivered`` / ``failed``)
- ``POST /_control/advance`` ``{hours}`` -> ``{now}``: moves the clock the 24-hour window is judged by
- ``POST /_control/faults`` ``{rate_limit?, network?}`` -> the pending fault counts
- ``POST /_control/reset`` -> ``{reset: true}``: forgets users, messages, media, deliveries and faults, and
  puts the clock back to the real time (a playground reset, a new test scenario)
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .server import MessageRecord, TwilioServer

KEEPALIVE_SECONDS = 15.0
SEND_KEYS = ("latitude", "longitude", "address", "label", "button_payload", "button_text", "reply_to")


class ControlError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def message_dict(record: MessageRecord) -> dict[str, Any]:
    """A stored outbound message as the control API shows it: Twilio's resource plus what the bot asked for."""
    return {**record.resource, "content_sid": record.content_sid, "content_variables": record.content_variables,
            "media_urls": record.media_urls, "status_callback": record.status_callback,
            "callbacks": record.callbacks}


def reset_server(server: TwilioServer) -> None:
    """Forget users, messages, media, deliveries and pending faults; the clock goes back to real time.

    Status callbacks of messages already in flight may still be posted (to whatever listened then);
    their records are no longer listed. Recorded spec problems are kept: they are bugs to see.
    """
    server.messages.clear()
    server.phone_log.clear()
    server.received.clear()
    server.deleted.clear()
    server.users.clear()
    server.last_inbound.clear()
    server.media.clear()
    server.inbound.clear()
    server.callback_results.clear()
    server.rate_limited = 0
    server.network_failures = 0
    server.advance(-(server.now() - time.time()) / 3600)


async def wait_for_changes(server: TwilioServer, number: str, seen: dict[str, str],
                           timeout: float = KEEPALIVE_SECONDS) -> list[MessageRecord]:  # noqa: ASYNC109
    """The messages to ``number`` that are new or changed status since ``seen`` (sid -> status), waiting up
    to ``timeout`` seconds for the first one; ``seen`` is updated. An empty list means nothing changed.

    Built on :meth:`TwilioServer.wait_for_message`, so it wakes on the server's own change notifications
    instead of polling.
    """
    def changed(record: MessageRecord) -> bool:
        return seen.get(record.sid) != record.status

    with contextlib.suppress(TimeoutError):
        await server.wait_for_message(number, changed, timeout=timeout, new_only=False)
    records = [record for record in server.messages_to(number) if changed(record)]
    for record in records:
        seen[record.sid] = record.status
    return records


def add_control_routes(app: web.Application, server: TwilioServer) -> None:
    def guarded(func: Any) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                return await func(request)  # type: ignore[no-any-return]
            except ControlError as exc:
                return web.json_response({"error": str(exc)}, status=exc.status)

        return handler

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ControlError("request body must be JSON") from None
        if not isinstance(data, dict):
            raise ControlError("request body must be a JSON object")
        return data

    def number_in(request: web.Request) -> str:
        return request.match_info["number"].strip().removeprefix("whatsapp:")

    async def info(request: web.Request) -> web.StreamResponse:
        return web.json_response({"account_sid": server.account_sid, "whatsapp_from": server.whatsapp_from,
                                  "base_url": server.base_url, "spec": str(server.spec_path or ""),
                                  "spec_violations": server.spec_violations, "now": server.now()})

    async def create_user(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        number = str(data.get("number") or "+6281234567890").strip()
        if not number.removeprefix("whatsapp:").startswith("+"):
            raise ControlError("number must be in E.164 form, like +6281234567890")
        user = server.create_whatsapp_user(number, str(data.get("profile_name") or "Siti"))
        return web.json_response({"number": user.number, "profile_name": user.profile_name})

    async def list_users(request: web.Request) -> web.StreamResponse:
        return web.json_response([{"number": u.number, "profile_name": u.profile_name,
                                   "in_window": server.in_window(u.address)} for u in server.users.values()])

    async def send(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        user = server.users.get(str(data.get("number", "")).removeprefix("whatsapp:"))
        if user is None:
            raise ControlError("unknown user", 404)
        webhook_url = data.get("webhook_url")
        if not isinstance(webhook_url, str) or not webhook_url.startswith(("http://", "https://")):
            raise ControlError("webhook_url (http:// or https://) is required")
        media: list[tuple[bytes, str]] = []
        for item in data.get("media") or []:
            if not isinstance(item, dict) or not item.get("content_type"):
                raise ControlError("media items are {data_base64, content_type}")
            try:
                media.append((base64.b64decode(str(item.get("data_base64") or ""), validate=True),
                              str(item["content_type"])))
            except (binascii.Error, ValueError):
                raise ControlError("media data_base64 is not valid base64") from None
        try:
            delivery = await user.send(webhook_url, data.get("body"), media=media or None,
                                       **{k: data[k] for k in SEND_KEYS if k in data})
        except OSError as exc:  # aiohttp.ClientError included: the webhook is not reachable
            raise ControlError(f"webhook not reachable: {exc}", 502) from None
        return web.json_response({"status": delivery.status, "sid": delivery.params["MessageSid"],
                                  "params": delivery.params})

    async def messages(request: web.Request) -> web.StreamResponse:
        return web.json_response([message_dict(m) for m in server.messages_to(number_in(request))])

    async def events(request: web.Request) -> web.StreamResponse:
        number = number_in(request)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        seen: dict[str, str] = {m.sid: m.status for m in server.messages_to(number)}
        try:
            await response.write(b"retry: 1000\n: connected\n\n")
            while True:
                changed = await wait_for_changes(server, number, seen)
                if not changed:
                    await response.write(b": keep-alive\n\n")
                for record in changed:
                    await response.write(f"data: {json.dumps(message_dict(record))}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response

    async def advance(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        try:
            hours = float(data["hours"])
        except (KeyError, TypeError, ValueError):
            raise ControlError("hours (a number) is required") from None
        server.advance(hours)
        return web.json_response({"now": server.now()})

    async def faults(request: web.Request) -> web.StreamResponse:
        data = await body(request)
        server.inject_rate_limit(int(data.get("rate_limit", 0)))
        server.fail_network(int(data.get("network", 0)))
        return web.json_response({"rate_limited": server.rate_limited, "network_failures": server.network_failures})

    async def reset(request: web.Request) -> web.StreamResponse:
        reset_server(server)
        return web.json_response({"reset": True})

    app.router.add_get("/_control/info", guarded(info))
    app.router.add_post("/_control/users", guarded(create_user))
    app.router.add_get("/_control/users", guarded(list_users))
    app.router.add_post("/_control/send", guarded(send))
    app.router.add_get("/_control/users/{number}/messages", guarded(messages))
    app.router.add_get("/_control/users/{number}/events", guarded(events))
    app.router.add_post("/_control/advance", guarded(advance))
    app.router.add_post("/_control/faults", guarded(faults))
    app.router.add_post("/_control/reset", guarded(reset))
