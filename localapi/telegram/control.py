"""JSON control API of the simulated Telegram (for the browser playground and the benchmark).

All routes live under ``/_control``; bodies and answers are JSON, answers are ``{"ok": true, "result": ...}``
or ``{"ok": false, "error": "..."}`` with HTTP 400 (404 for unknown ids).

- ``GET  /_control/info`` -> bot user, token-free base info, spec version, problem lists, ``rate_limits``
  (``"off"``, ``"strict"`` or ``"buckets"``), ``rate_limited`` (429s answered) and ``rate_limited_calls``
- ``POST /_control/users`` ``{first_name, last_name?, username?, language_code?}`` -> User
- ``GET  /_control/users`` -> [User]
- ``POST /_control/groups`` ``{title, member_ids: [int], admin_ids?: [int], supergroup?: bool, creator_id?,
  bot_admin?: bool}`` -> Chat
- ``GET  /_control/chats`` -> [Chat]
- ``GET  /_control/chats/{chat_id}/messages`` -> [transcript entry]: Bot API Message plus ``from_bot``, ``html``,
  ``caption_html``, ``edited``, ``reply_markup`` (also reply keyboards) and ``reply_to_message_id``
- ``POST /_control/send`` ``{user_id, chat_id?, kind, reply_to?, ...}`` -> transcript entry; kinds:
  ``text {text}`` (over 4096 UTF-16 units: sent as several messages like the apps do, all listed in ``parts``),
  ``photo {data_base64?, caption?}``, ``document {data_base64?, file_name?, mime_type?,
  file_size?, caption?}``, ``location {lat, lon, live_period?}``, ``venue {lat, lon, title, address}``,
  ``contact {phone, first_name}``, ``poll {question, options}``, ``sticker``, ``voice``, ``video``, ``audio``,
  ``animation``, ``video_note``, ``reply_button {text}``, ``share_location {lat, lon}``, ``edit {message_id, text}``
- ``POST /_control/press`` ``{user_id, chat_id?, message_id, callback_data, stale_ok?}`` -> ``{callback_query_id}``
  (``stale_ok``: the button may be one the message had before an edit, as on a client lagging behind)
- ``GET  /_control/callbacks/{callback_query_id}`` -> answer or null
- ``POST /_control/block`` ``{user_id, blocked: bool}``; ``POST /_control/migrate`` ``{chat_id}`` -> ``{chat_id}``
- ``POST /_control/members`` ``{chat_id, user_id, action: "add"|"remove"}``
- ``POST /_control/faults`` ``{flood?: {chat_id?, retry_after?, count?}, network_failures?: int, mode?}``
- ``GET  /_control/files/{file_id}`` -> raw bytes (to show photos)
- ``GET  /_control/events`` -> ``text/event-stream`` of subscribe() events (``data: {json}``)
- ``POST /_control/reset`` -> empties the world
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import SimulationError
from .state import StoredMessage

if TYPE_CHECKING:
    from .server import TelegramServer
    from .simulation import SimUser

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def transcript_entry(message: StoredMessage) -> dict[str, Any]:
    """A message as the playground shows it: Bot API shape plus simulation metadata."""
    return {**message.to_dict(), "from_bot": message.from_bot, "html": message.html,
            "caption_html": message.caption_html, "edited": message.edited, "reply_markup": message.reply_markup,
            "reply_to_message_id": message.reply_to_message_id}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _fail(message: str, status: int = 400) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.body_exists:
        return {}
    try:
        body = await request.json()
    except json.JSONDecodeError:
        raise SimulationError("request body must be JSON") from None
    if not isinstance(body, dict):
        raise SimulationError("request body must be a JSON object")
    return body


def _int(body: dict[str, Any], key: str) -> int:
    try:
        return int(body[key])
    except (KeyError, TypeError, ValueError):
        raise SimulationError(f"{key} (integer) is required") from None


def _data(body: dict[str, Any]) -> bytes | None:
    raw = body.get("data_base64")
    if raw is None:
        return None
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SimulationError("data_base64 is not valid base64") from None


def _send(server: TelegramServer, user: SimUser, body: dict[str, Any]) -> StoredMessage:
    """Dispatch ``/_control/send`` by kind to the SimUser methods."""
    kind = body.get("kind", "text")
    chat = _int(body, "chat_id") if body.get("chat_id") is not None else None
    reply_to = body.get("reply_to")
    if kind == "text":
        return user.send_text(str(body.get("text", "")), chat=chat, reply_to=reply_to)
    if kind == "photo":
        return user.send_photo(_data(body), caption=body.get("caption"), chat=chat, reply_to=reply_to)
    if kind == "document":
        return user.send_document(_data(body) or b"%PDF-1.4\n", str(body.get("file_name", "document.pdf")),
                                  str(body.get("mime_type", "application/pdf")), file_size=body.get("file_size"),
                                  caption=body.get("caption"), chat=chat, reply_to=reply_to)
    if kind in ("location", "share_location", "venue"):
        try:
            lat, lon = float(body["lat"]), float(body["lon"])
        except (KeyError, TypeError, ValueError):
            raise SimulationError("lat and lon are required") from None
        if kind == "share_location":
            return user.share_location(lat, lon, chat=chat)
        if kind == "venue":
            return user.send_venue(lat, lon, str(body.get("title", "")), str(body.get("address", "")), chat=chat)
        return user.send_location(lat, lon, live_period=body.get("live_period"), chat=chat)
    if kind == "contact":
        return user.send_contact(str(body.get("phone", "")), str(body.get("first_name", user.first_name)), chat=chat)
    if kind == "poll":
        return user.send_poll(str(body.get("question", "")), [str(o) for o in body.get("options", [])], chat=chat)
    if kind == "reply_button":
        return user.press_reply_button(str(body.get("text", "")), chat=chat)
    if kind == "edit":
        return user.edit_text(_int(body, "message_id"), str(body.get("text", "")), chat=chat)
    simple: dict[str, Callable[..., StoredMessage]] = {
        "sticker": user.send_sticker, "voice": user.send_voice, "video": user.send_video, "audio": user.send_audio,
        "animation": user.send_animation, "video_note": user.send_video_note,
    }
    if kind not in simple:
        raise SimulationError(f"unknown kind {kind!r}")
    return simple[kind](chat=chat)


def add_control_routes(app: web.Application, server: TelegramServer) -> None:
    """Register the ``/_control`` routes on ``app``."""

    def guarded(func: Callable[[web.Request], Awaitable[Any]]) -> Route:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = await func(request)
            except SimulationError as exc:
                return _fail(str(exc))
            except KeyError as exc:
                return _fail(f"not found: {exc}", 404)
            return result if isinstance(result, web.StreamResponse) else _ok(result)

        return handler

    async def info(request: web.Request) -> Any:
        return {"bot": server.state.bot.to_dict(), "spec_version": server.spec.version if server.spec else None,
                "spec_violations": server.spec_violations, "spec_warnings": server.spec_warnings,
                "pending_updates": len(server.state.updates), "webhook_url": server.state.webhook.url,
                "rate_limits": "off" if server.rate_limits is None else "strict" if server.rate_limits.strict
                else "buckets", "rate_limited": server.rate_limited,
                "rate_limited_calls": dict(server.rate_limited_calls)}

    async def create_user(request: web.Request) -> Any:
        body = await _body(request)
        if not body.get("first_name"):
            raise SimulationError("first_name is required")
        user = server.create_user(str(body["first_name"]), last_name=body.get("last_name"),
                                  username=body.get("username"), language_code=body.get("language_code", "id"))
        return user.to_dict()

    async def list_users(request: web.Request) -> Any:
        return [user.to_dict() for user in server.sim_users.values()]

    async def create_group(request: web.Request) -> Any:
        body = await _body(request)
        members = [server.user(int(uid)) for uid in body.get("member_ids", [])]
        admins = [server.user(int(uid)) for uid in body.get("admin_ids", [])]
        creator = server.user(int(body["creator_id"])) if body.get("creator_id") is not None else None
        chat = server.create_group(str(body.get("title") or "Group"), members, admins=admins,
                                   supergroup=bool(body.get("supergroup")), creator=creator,
                                   bot_admin=bool(body.get("bot_admin")))
        return chat.to_dict()

    async def list_chats(request: web.Request) -> Any:
        return [{**chat.to_dict(), "migrated_to": chat.migrated_to, "blocked": chat.blocked,
                 "started": chat.started, "bot_status": chat.bot_status, "members": sorted(chat.members)}
                for chat in server.state.chats.values()]

    async def chat_messages(request: web.Request) -> Any:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            raise SimulationError("chat_id must be an integer") from None
        return [transcript_entry(message) for message in server.messages(chat_id)]

    async def send(request: web.Request) -> Any:
        body = await _body(request)
        user = server.user(_int(body, "user_id"))
        if body.get("kind", "text") == "text":  # a long paste goes out as several messages, as in the apps
            chat = _int(body, "chat_id") if body.get("chat_id") is not None else None
            sent = user.send_text_parts(str(body.get("text", "")), chat=chat, reply_to=body.get("reply_to"))
            entry = transcript_entry(sent[0])
            return {**entry, "parts": [transcript_entry(m) for m in sent]} if len(sent) > 1 else entry
        return transcript_entry(_send(server, user, body))

    async def press(request: web.Request) -> Any:
        body = await _body(request)
        user = server.user(_int(body, "user_id"))
        chat = _int(body, "chat_id") if body.get("chat_id") is not None else None
        query_id = user.press_button(_int(body, "message_id"), str(body.get("callback_data", "")), chat=chat,
                                     stale_ok=bool(body.get("stale_ok")))
        return {"callback_query_id": query_id}

    async def callback(request: web.Request) -> Any:
        return server.callback_answer(request.match_info["query_id"])

    async def block(request: web.Request) -> Any:
        body = await _body(request)
        user = server.user(_int(body, "user_id"))
        if body.get("blocked", True):
            server.block_bot(user)
        else:
            server.unblock_bot(user)
        return True

    async def migrate(request: web.Request) -> Any:
        body = await _body(request)
        return {"chat_id": server.migrate_to_supergroup(_int(body, "chat_id"))}

    async def members(request: web.Request) -> Any:
        body = await _body(request)
        user = server.user(_int(body, "user_id"))
        action = body.get("action", "add")
        if action == "add":
            return transcript_entry(server.add_member(_int(body, "chat_id"), user))
        if action == "remove":
            return transcript_entry(server.remove_member(_int(body, "chat_id"), user))
        raise SimulationError("action must be add or remove")

    async def faults(request: web.Request) -> Any:
        body = await _body(request)
        if isinstance(flood := body.get("flood"), dict):
            server.inject_flood(flood.get("chat_id"), int(flood.get("retry_after", 3)), int(flood.get("count", 1)))
        if body.get("network_failures"):
            server.fail_network(int(body["network_failures"]), mode=str(body.get("mode", "disconnect")))
        return True

    async def file(request: web.Request) -> web.StreamResponse:
        record = server.state.files.get(request.match_info["file_id"])
        if record is None:
            return _fail("file not found", 404)
        return web.Response(body=record.data, content_type=record.mime_type or (
            "image/jpeg" if record.kind == "photo" else "application/octet-stream"))

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        queue = server.subscribe()
        try:
            await response.write(b": connected\n\n")
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), 15.0)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                await response.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            server.unsubscribe(queue)
            with contextlib.suppress(Exception):
                await response.write_eof()
        return response

    async def reset(request: web.Request) -> Any:
        server.reset()
        return True

    routes: list[tuple[str, str, Callable[[web.Request], Awaitable[Any]]]] = [
        ("GET", "/_control/info", info), ("POST", "/_control/users", create_user),
        ("GET", "/_control/users", list_users), ("POST", "/_control/groups", create_group),
        ("GET", "/_control/chats", list_chats), ("GET", "/_control/chats/{chat_id}/messages", chat_messages),
        ("POST", "/_control/send", send), ("POST", "/_control/press", press),
        ("GET", "/_control/callbacks/{query_id}", callback), ("POST", "/_control/block", block),
        ("POST", "/_control/migrate", migrate), ("POST", "/_control/members", members),
        ("POST", "/_control/faults", faults), ("GET", "/_control/files/{file_id}", file),
        ("POST", "/_control/reset", reset),
    ]
    for method, path, func in routes:
        app.router.add_route(method, path, guarded(func))
    app.router.add_get("/_control/events", events)
