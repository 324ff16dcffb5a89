"""The page and its JSON/event API.

Answers are ``{"ok": true, "result": ...}`` or ``{"ok": false, "error": "..."}`` (HTTP 400, 404 for
unknown ids, 409 while the world is being rebuilt).

- ``GET  /`` -> the page; ``GET /static/...`` -> its scripts, styles and sample photos
- ``GET  /api/world`` -> ``{bot, ready, citizens: [...], groups: [...], places: [...], samples: [...],
  categories: [...], whatsapp: {from}, timezone: {name, label}, clock, dashboard}`` (``dashboard``: the demo
  command-centre account ``{url, username, password, role}`` for the dashboard at ``url``; ``timezone``: the city's, in which the
  page shows every bubble's time, as the cards do; ``clock``: the bot's time, see below); a citizen has ``channel`` ``telegram`` (``user_id``, ``chat_id``: ints)
  or ``whatsapp`` (``number``; ``chat_id`` is the string ``wa:<number>``); a place is ``{key, name, lat, lon,
  outside}`` (``outside``: beyond the city, for the bot's refusal)
- ``GET  /api/chats/{chat_id}`` -> ``{chat_id, messages: [transcript entry], reply_keyboard}``
- ``POST /api/citizens`` ``{name, language_code?, channel?: "telegram"|"whatsapp"}`` -> citizen
- ``POST /api/send`` ``{user_id, chat_id, kind, reply_to?, ...}`` -> transcript entry; kinds: ``text {text}``,
  ``photo {sample | data_base64, caption?}``, ``location {lat, lon}``, ``share_location {lat, lon}`` (the reply
  keyboard's location button), ``reply_button {text}``, ``sticker {emoji?}``
- ``POST /api/press`` ``{user_id, chat_id, message_id, callback_data}`` -> ``{callback_query_id, answer}``
  (``answer``: the bot's answerCallbackQuery ``{text, show_alert, url}``, or null if it took too long)
- ``POST /api/reset`` -> clears every chat and the database, rebuilds the world
- ``GET  /api/files/{file_id}`` -> the file's bytes (photos in messages)
- ``GET  /api/whatsapp/{number}`` -> ``{chat_id, number, name, messages: [WhatsApp entry], window}``
- ``POST /api/whatsapp/send`` ``{number, kind, reply_to?: sid}`` -> WhatsApp entry; kinds: ``text {text}``,
  ``photo {sample | data_base64, caption?}``, ``location {lat, lon, label?, address?}``, ``voice``, ``sticker``
- ``POST /api/whatsapp/advance`` ``{hours?: 25, database?: true}`` -> a demo control: the local Twilio's clock
  moves on (and, with ``database``, the bot's record of when each WhatsApp citizen last wrote moves back)
- ``GET  /api/whatsapp/files/{key}`` -> a photo a WhatsApp citizen sent from the page
- ``GET  /api/clock`` -> the bot's time ``{now (ISO, UTC), local ("2026-12-01 14:05", the city's zone), zone
  ("WIB"), offset_hours}``
- ``POST /api/clock/advance`` ``{hours}`` (more than 0, at most 720) -> the bot's new time, as above: a demo
  control, the bot's clock (and the local Twilio's, so WhatsApp's 24-hour window moves along) jumps forward
  and the bot looks at its due reminders and timers at once
- ``GET  /api/events`` -> ``text/event-stream``: ``{"type": "message"|"edit", chat_id, message: transcript
  entry, reply_keyboard}``, ``{"type": "delete", chat_id, message_id}``, ``{"type": "callback_answer",
  chat_id, callback_query_id, answer}``, ``{"type": "wa_message", chat_id, message: WhatsApp entry, window}``
  (a new WhatsApp bubble or a new delivery status), ``{"type": "clock", now, local, zone, offset_hours}`` (the
  bot's clock moved), ``{"type": "reset"}`` (the world is being rebuilt) and
  ``{"type": "world"}`` (citizens or groups changed: fetch ``/api/world``)

A transcript entry is the Bot API ``Message`` plus ``from_bot``, ``html``, ``caption_html``,
``parse_mode``, ``edited``, ``reply_markup`` (also reply keyboards and force_reply) and
``reply_to_message_id``, as in the local server's control API. A WhatsApp entry is a bubble of the
playground's own WhatsApp transcript (:class:`bot.playground.whatsapp.WaEntry`): ``message_id``, ``from_bot``,
``kind``, ``body``, ``sid``, ``status`` (Twilio's for the bot's messages), ``error_code``, ``media_url``,
``location``, ...; ``window`` is ``{open, hours_left}`` as the Twilio server judges the 24-hour window.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web

from localapi.telegram import SimulationError, StoredMessage
from localapi.telegram.control import transcript_entry
from localapi.telegram.media import image_size

from .whatsapp import STICKER, VOICE_NOTE, WaEntry, WhatsAppCitizen, next_entry_id
from .world import PLACES, SAMPLE_PHOTOS, STATIC_DIR

if TYPE_CHECKING:
    from .app import Playground

Handler = Callable[[web.Request], Awaitable[Any]]

#: no external anything: scripts, styles, images and connections only from this server
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
MAX_PHOTO_BYTES = 20 * 1024 * 1024
PRESS_ANSWER_TIMEOUT = 10.0
KEEPALIVE_SECONDS = 15.0


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def entry(message: StoredMessage) -> dict[str, Any]:
    """A transcript entry for the page (the control API's shape plus ``parse_mode``)."""
    return {**transcript_entry(message), "parse_mode": message.parse_mode}


def build_web_app(playground: Playground) -> web.Application:
    app = web.Application(client_max_size=60 * 1024 * 1024)
    server = playground.server
    streams: set[asyncio.Queue[dict[str, Any]]] = set()

    def guarded(func: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            try:
                result = await func(request)
            except ApiError as exc:
                return web.json_response({"ok": False, "error": str(exc)}, status=exc.status)
            except SimulationError as exc:
                return web.json_response({"ok": False, "error": str(exc)}, status=400)
            return result if isinstance(result, web.StreamResponse) else web.json_response(
                {"ok": True, "result": result}, dumps=_dumps)

        return handler

    async def body(request: web.Request) -> dict[str, Any]:
        try:
            data = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError("request body must be JSON") from None
        if not isinstance(data, dict):
            raise ApiError("request body must be a JSON object")
        return data

    def chat_state(chat_id: int) -> dict[str, Any]:
        chat = server.state.chats.get(chat_id)
        if chat is None:
            raise ApiError(f"unknown chat {chat_id}", 404)
        return {"chat_id": chat_id, "messages": [entry(m) for m in server.messages(chat_id)],
                "reply_keyboard": chat.reply_keyboard}

    def require_ready() -> None:
        if not playground.world.ready or playground.app is None:
            raise ApiError("the playground is starting or resetting; try again in a moment", 409)

    def actor(data: dict[str, Any]) -> tuple[Any, int]:
        user_id, chat_id = _int(data, "user_id"), _int(data, "chat_id")
        return server.user(user_id), chat_id

    async def index(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC_DIR / "index.html", headers={
            "Content-Security-Policy": CSP, "Cache-Control": "no-cache"})

    async def world(request: web.Request) -> Any:
        config = playground.config
        return {
            "bot": server.state.bot.to_dict(),
            "ready": playground.world.ready,
            "city": config.city.name,
            "timezone": {"name": config.city.timezone, "label": _zone_label(config.city.timezone)},
            "citizens": [c.to_dict() for c in playground.world.citizens]
            + [c.to_dict() for c in playground.world.whatsapp],
            "groups": [g.to_dict() for g in playground.world.groups],
            "places": [p.to_dict() for p in PLACES],
            "samples": [s.to_dict() for s in SAMPLE_PHOTOS],
            "categories": [{"key": key, "emoji": c.emoji, "label": dict(c.label), "agency": c.agency}
                           for key, c in config.categories.items()],
            "whatsapp": {"from": playground.twilio.whatsapp_from},
            "clock": playground.clock_state(),
            "dashboard": playground.demo_account.to_dict(),
        }

    async def chat(request: web.Request) -> Any:
        try:
            chat_id = int(request.match_info["chat_id"])
        except ValueError:
            raise ApiError("chat_id must be an integer") from None
        return chat_state(chat_id)

    async def add_citizen(request: web.Request) -> Any:
        data = await body(request)
        name = str(data.get("name") or "").strip()
        if not name:
            raise ApiError("name is required")
        language = str(data.get("language_code") or "id")
        if language not in ("id", "en"):
            raise ApiError("language_code must be id or en")
        channel = str(data.get("channel") or "telegram")
        if channel == "whatsapp":
            return (await playground.add_whatsapp_citizen(name)).to_dict()
        if channel != "telegram":
            raise ApiError("channel must be telegram or whatsapp")
        return (await playground.add_citizen(name, language)).to_dict()

    def wa_citizen(number: str) -> WhatsAppCitizen:
        try:
            return playground.world.whatsapp_citizen(number)
        except KeyError:
            raise ApiError(f"unknown WhatsApp citizen {number}", 404) from None

    async def wa_chat(request: web.Request) -> Any:
        citizen = wa_citizen(request.match_info["number"])
        return {"chat_id": citizen.chat_id, "number": citizen.number, "name": citizen.name,
                "messages": [e.to_dict() for e in citizen.entries], "window": playground.whatsapp_window(citizen)}

    async def wa_send(request: web.Request) -> Any:
        data = await body(request)
        require_ready()
        citizen = wa_citizen(str(data.get("number") or ""))
        kind = str(data.get("kind") or "text")
        reply_to = str(data["reply_to"]) if data.get("reply_to") else None
        entry = WaEntry(id=next_entry_id(), from_bot=False, date=0.0, kind=kind, reply_to_sid=reply_to)
        extra: dict[str, Any] = {"reply_to": reply_to}
        text: str | None = None
        if kind == "text":
            text = str(data.get("text") or "").strip()[:4096]
            if not text:
                raise ApiError("text is empty")
        elif kind == "photo":
            photo = _photo_bytes(data)
            content_type = _content_type(photo, None)
            text = str(data.get("caption") or "").strip()[:1024] or None
            extra["media"] = [(photo, content_type)]
            sample = data.get("sample")
            if sample:
                entry.media_url = f"/static/samples/{sample}.jpg"
            else:
                key = secrets.token_urlsafe(12)
                playground.whatsapp_files[key] = (photo, content_type)
                entry.media_url = f"/api/whatsapp/files/{key}"
            entry.media_type = content_type
        elif kind == "location":
            lat, lon = _coordinates(data)
            label = str(data.get("label") or "").strip()[:200] or None
            address = str(data.get("address") or "").strip()[:200] or None
            extra.update(latitude=lat, longitude=lon, label=label, address=address)
            entry.location = {"latitude": lat, "longitude": lon, "label": label, "address": address}
        elif kind in ("voice", "sticker"):
            media = VOICE_NOTE if kind == "voice" else STICKER
            extra["media"] = [media]
            entry.media_type = media[1]
        else:
            raise ApiError(f"unknown kind {kind!r}")
        entry.body = text or ""
        sent = await playground.send_whatsapp(citizen, entry, text, **extra)
        return sent.to_dict()

    async def wa_advance(request: web.Request) -> Any:
        data = await body(request)
        require_ready()
        try:
            hours = float(data.get("hours", 25))
        except (TypeError, ValueError):
            raise ApiError("hours must be a number") from None
        if not 0 < hours <= 24 * 30:
            raise ApiError("hours must be between 0 and 720")
        return await playground.advance_whatsapp_clock(hours, database=bool(data.get("database", True)))

    async def clock(request: web.Request) -> Any:
        return playground.clock_state()

    async def clock_advance(request: web.Request) -> Any:
        data = await body(request)
        require_ready()
        try:
            hours = float(data["hours"])
        except (KeyError, TypeError, ValueError):
            raise ApiError("hours (a number) is required") from None
        try:
            return await playground.advance_clock(hours)
        except ValueError as exc:
            raise ApiError(str(exc)) from None

    async def wa_file(request: web.Request) -> web.StreamResponse:
        item = playground.whatsapp_files.get(request.match_info["key"])
        if item is None:
            raise ApiError("file not found", 404)
        return web.Response(body=item[0], content_type=item[1], headers={"Cache-Control": "max-age=3600"})

    async def send(request: web.Request) -> Any:
        data = await body(request)
        require_ready()
        user, chat_id = actor(data)
        chat_ref = None if chat_id == user.id else chat_id
        kind = str(data.get("kind") or "text")
        reply_to = data.get("reply_to")
        if reply_to is not None:
            reply_to = _int(data, "reply_to")
        message: StoredMessage
        if kind == "text":
            text = str(data.get("text") or "").strip()
            if not text:
                raise ApiError("text is empty")
            message = user.send_text(text[:4096], chat=chat_ref, reply_to=reply_to)
        elif kind == "photo":
            caption = str(data.get("caption") or "").strip() or None
            message = user.send_photo(_photo_bytes(data), caption=caption, chat=chat_ref, reply_to=reply_to)
        elif kind in ("location", "share_location"):
            lat, lon = _coordinates(data)
            if kind == "share_location":
                message = user.share_location(lat, lon, chat=chat_ref)
            else:
                message = user.send_location(lat, lon, chat=chat_ref)
        elif kind == "reply_button":
            message = user.press_reply_button(str(data.get("text") or ""), chat=chat_ref)
        elif kind == "sticker":
            message = user.send_sticker(emoji=str(data.get("emoji") or "👍")[:8], chat=chat_ref)
        else:
            raise ApiError(f"unknown kind {kind!r}")
        return entry(message)

    async def press(request: web.Request) -> Any:
        data = await body(request)
        require_ready()
        user, chat_id = actor(data)
        chat_ref = None if chat_id == user.id else chat_id
        query_id = user.press_button(_int(data, "message_id"), str(data.get("callback_data") or ""), chat=chat_ref)
        answer: dict[str, Any] | None
        try:
            answer = await server.wait_callback_answer(query_id, timeout=PRESS_ANSWER_TIMEOUT)
        except (TimeoutError, SimulationError):
            answer = None
        return {"callback_query_id": query_id, "answer": answer}

    async def reset(request: web.Request) -> Any:
        await playground.reset()
        return True

    async def file(request: web.Request) -> web.StreamResponse:
        record = server.state.files.get(request.match_info["file_id"])
        if record is None:
            raise ApiError("file not found", 404)
        return web.Response(body=record.data, content_type=_content_type(record.data, record.mime_type),
                            headers={"Cache-Control": "max-age=3600"})

    def enrich(event: dict[str, Any]) -> dict[str, Any] | None:
        kind = event.get("type")
        if kind in ("message", "edit"):
            chat = server.state.chats.get(int(event.get("chat_id") or 0))
            message_id = (event.get("message") or {}).get("message_id")
            stored = chat.messages.get(message_id) if chat is not None and message_id is not None else None
            if chat is None or stored is None:
                return None
            return {"type": kind, "chat_id": chat.id, "message": entry(stored), "reply_keyboard": chat.reply_keyboard}
        if kind in ("delete", "callback_answer", "reset", "world", "wa_message", "clock"):
            return event
        return None

    async def events(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue = server.subscribe()
        streams.add(queue)
        try:
            await response.write(b"retry: 1000\n: connected\n\n")
            while not playground.closing.is_set():
                try:
                    event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                if event.get("type") == "_close":
                    break
                payload = enrich(event)
                if payload is not None:
                    await response.write(f"data: {_dumps(payload)}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            streams.discard(queue)
            server.unsubscribe(queue)
            with contextlib.suppress(Exception):
                await response.write_eof()
        return response

    async def close_streams(_app: web.Application) -> None:
        for queue in list(streams):
            queue.put_nowait({"type": "_close"})

    async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if request.path == "/" or request.path.startswith("/static/"):
            response.headers.setdefault("Content-Security-Policy", CSP)

    app.on_response_prepare.append(security_headers)
    app.on_shutdown.append(close_streams)
    app.router.add_get("/", index)
    app.router.add_get("/api/world", guarded(world))
    app.router.add_get("/api/chats/{chat_id}", guarded(chat))
    app.router.add_post("/api/citizens", guarded(add_citizen))
    app.router.add_post("/api/send", guarded(send))
    app.router.add_post("/api/press", guarded(press))
    app.router.add_post("/api/reset", guarded(reset))
    app.router.add_get("/api/files/{file_id}", guarded(file))
    app.router.add_get("/api/whatsapp/files/{key}", guarded(wa_file))
    app.router.add_get("/api/whatsapp/{number}", guarded(wa_chat))
    app.router.add_post("/api/whatsapp/send", guarded(wa_send))
    app.router.add_post("/api/whatsapp/advance", guarded(wa_advance))
    app.router.add_get("/api/clock", guarded(clock))
    app.router.add_post("/api/clock/advance", guarded(clock_advance))
    app.router.add_get("/api/events", events)
    app.router.add_static("/static/", STATIC_DIR, append_version=False)
    return app


def _zone_label(timezone: str) -> str:
    """The city zone's short name the cards use (``WIB`` for Asia/Jakarta); the page adds it to bubble times."""
    try:
        return datetime.now(ZoneInfo(timezone)).tzname() or timezone
    except (ZoneInfoNotFoundError, ValueError):
        return timezone


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _int(data: dict[str, Any], key: str) -> int:
    try:
        return int(data[key])
    except (KeyError, TypeError, ValueError):
        raise ApiError(f"{key} (integer) is required") from None


def _coordinates(data: dict[str, Any]) -> tuple[float, float]:
    try:
        lat, lon = float(data["lat"]), float(data["lon"])
    except (KeyError, TypeError, ValueError):
        raise ApiError("lat and lon (numbers) are required") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ApiError("latitude must be within ±90 and longitude within ±180")
    return lat, lon


def _photo_bytes(data: dict[str, Any]) -> bytes:
    sample = data.get("sample")
    if sample:
        for sample_photo in SAMPLE_PHOTOS:
            if sample_photo.key == sample:
                return sample_photo.path.read_bytes()
        raise ApiError(f"unknown sample photo {sample!r}", 404)
    raw = data.get("data_base64")
    if not isinstance(raw, str) or not raw:
        raise ApiError("a photo needs sample or data_base64")
    if "," in raw[:100] and raw.startswith("data:"):
        raw = raw.split(",", 1)[1]  # a data: URL from FileReader.readAsDataURL
    try:
        photo = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError("data_base64 is not valid base64") from None
    if len(photo) > MAX_PHOTO_BYTES:
        raise ApiError("photos are limited to 20 MB here")
    if image_size(photo) is None:
        raise ApiError("that file is not a JPEG, PNG, GIF or WebP image")
    return photo


def _content_type(data: bytes, declared: str | None) -> str:
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return declared or "application/octet-stream"
