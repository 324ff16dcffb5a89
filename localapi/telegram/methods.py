"""Bot API method implementations (the bot side), following https://core.telegram.org/bots/api.

Each handler receives already-decoded parameters and either returns the ``result`` value or raises
``TelegramAPIError`` with Telegram's exact status and description.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .errors import TelegramAPIError, bad_request
from .formatting import format_text
from .media import image_size, make_jpeg
from .ratelimit import RateLimiter
from .state import (
    DEFAULT_ALLOWED_UPDATES,
    ChatRecord,
    FileRecord,
    StoredMessage,
    TelegramState,
    now_ts,
    store_photo,
)

MAX_TEXT = 4096
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files
MAX_UPLOAD = 50 * 1024 * 1024  # a bot uploads files (sendDocument, ...) of at most 50 MB
CALLBACK_QUERY_TTL = 15 * 60.0
FILE_KINDS = ("photo", "document", "sticker", "voice", "video", "audio", "animation", "video_note")
CHAT_ACTIONS = frozenset({"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                          "upload_document", "choose_sticker", "find_location", "record_video_note",
                          "upload_video_note"})
_INLINE_ACTIONS = ("url", "callback_data", "web_app", "login_url", "switch_inline_query",
                   "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
                   "callback_game", "pay")


@dataclass
class Upload:
    """A file part of a multipart request."""

    name: str
    filename: str | None
    data: bytes
    content_type: str | None = None


@dataclass
class Faults:
    """Explicitly injected failures (flood waits, network errors) for resilience tests."""

    floods: list[list[Any]] = field(default_factory=list)  # [chat_id | None, retry_after, remaining]
    network_failures: int = 0
    network_mode: str = "disconnect"

    def take_flood(self, chat_id: int) -> int | None:
        """Consume one injected flood matching ``chat_id`` and return its retry_after."""
        for flood in self.floods:
            if flood[0] is None or flood[0] == chat_id:
                flood[2] -= 1
                if flood[2] <= 0:
                    self.floods.remove(flood)
                return int(flood[1])
        return None


Handler = Callable[[dict[str, Any], dict[str, Upload]], Awaitable[Any]]


def _is_send(method: str) -> bool:
    return (method.startswith("send") and method != "sendchataction") or method in (
        "copymessage", "copymessages", "forwardmessage", "forwardmessages")


class BotApi:
    """Implements the Bot API methods on top of ``TelegramState``."""

    def __init__(self, state: TelegramState, limiter: RateLimiter | None, faults: Faults) -> None:
        self.state = state
        self.limiter = limiter
        self.faults = faults
        self.on_webhook_change: Callable[[], None] = lambda: None
        self.closing = False
        self._poll_generation = 0
        self.handlers: dict[str, Handler] = {
            "getme": self.get_me, "getupdates": self.get_updates, "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook, "getwebhookinfo": self.get_webhook_info,
            "sendmessage": self.send_message, "sendphoto": self.send_photo, "sendmediagroup": self.send_media_group,
            "sendlocation": self.send_location, "sendvenue": self.send_venue, "sendcontact": self.send_contact,
            "senddocument": self.send_document, "sendsticker": self.send_document,
            "sendvoice": self.send_document, "sendvideo": self.send_document, "sendaudio": self.send_document,
            "sendanimation": self.send_document, "sendvideonote": self.send_document,
            "editmessagetext": self.edit_message_text, "editmessagecaption": self.edit_message_caption,
            "editmessagereplymarkup": self.edit_message_reply_markup, "editmessagemedia": self.edit_message_media,
            "answercallbackquery": self.answer_callback_query, "getfile": self.get_file, "getchat": self.get_chat,
            "getchatmember": self.get_chat_member, "getchatadministrators": self.get_chat_administrators,
            "getchatmembercount": self.get_chat_member_count, "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands, "deletemycommands": self.delete_my_commands,
            "deletemessage": self.delete_message, "deletemessages": self.delete_messages,
            "copymessage": self.copy_message, "forwardmessage": self.forward_message,
            "sendchataction": self.send_chat_action, "leavechat": self.leave_chat,
            "close": self.return_true, "logout": self.return_true,
        }

    # -- shared helpers ---------------------------------------------------------------------------------------

    def _throttle(self, method: str, chat: ChatRecord, *, cost: int = 1, edit: bool = False) -> None:
        """Apply injected floods and the rate limiter; raises 429 with retry_after."""
        if _is_send(method) and (retry := self.faults.take_flood(chat.id)) is not None:
            raise errors.too_many_requests(retry)
        if self.limiter is not None:
            wait = self.limiter.check(chat.id, is_group=chat.is_group, cost=cost, edit=edit)
            if wait > 0:
                raise errors.too_many_requests(int(wait) + (0 if wait.is_integer() else 1))

    def _text(self, params: dict[str, Any], key: str, limit: int) -> tuple[str | None, list[dict[str, Any]]]:
        raw = params.get(key)
        if raw is None or raw == "":
            return None, []
        entities_key = "entities" if key == "text" else "caption_entities"
        text, entities = format_text(str(raw), params.get("parse_mode"), params.get(entities_key))
        if len(text) > limit:
            raise bad_request(errors.MESSAGE_TOO_LONG if key == "text" else errors.CAPTION_TOO_LONG)
        return text, entities

    def _required_text(self, params: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
        text, entities = self._text(params, "text", MAX_TEXT)
        if not text:
            raise bad_request(errors.TEXT_EMPTY)
        return text, entities

    def _caption(self, params: dict[str, Any]) -> dict[str, Any]:
        caption, entities = self._text(params, "caption", MAX_CAPTION)
        if caption is None:
            return {}
        return {"caption": caption, "caption_entities": entities, "caption_html": str(params.get("caption"))}

    @staticmethod
    def check_markup(markup: Any) -> dict[str, Any] | None:
        """Validate reply_markup the way Telegram does (button data size, one action per button)."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request('field "inline_keyboard" must be an Array of Array')
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                        raise bad_request("can't parse inline keyboard button: Text must be a String")
                    actions = [key for key in _INLINE_ACTIONS if key in button]
                    if not actions:
                        raise bad_request(
                            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                            raise bad_request(errors.BUTTON_DATA_INVALID)
                    if "url" in button and not str(button["url"]).startswith(("http://", "https://", "tg://")):
                        raise bad_request(f"inline keyboard button URL '{button['url']}' is invalid: "
                                          "Wrong HTTP URL")
        elif "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request('field "keyboard" must be an Array of Array')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text:
                        raise bad_request("can't parse keyboard button: Text must be non-empty")
        elif not (markup.get("remove_keyboard") or markup.get("force_reply")):
            raise bad_request("can't find reply keyboard in the request")
        return markup

    def _reply_target(self, chat: ChatRecord, params: dict[str, Any]) -> StoredMessage | None:
        reply = params.get("reply_parameters")
        if isinstance(reply, dict):
            message_id = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply"))
            target_chat = self.state.chat(reply["chat_id"]) if reply.get("chat_id") is not None else chat
        elif params.get("reply_to_message_id") is not None:
            message_id = params["reply_to_message_id"]
            allow = bool(params.get("allow_sending_without_reply"))
            target_chat = chat
        else:
            return None
        target = self.state.get_message(target_chat, message_id)
        if target is None and not allow:
            raise bad_request(errors.REPLY_NOT_FOUND)
        return target

    def _deliver(self, chat: ChatRecord, params: dict[str, Any], **fields: Any) -> StoredMessage:
        """Create the bot's message in ``chat`` and track the reply keyboard the user now sees."""
        markup = params.get("reply_markup")
        message = self.state.add_message(chat, self.state.bot, reply_markup=markup, **fields)
        if isinstance(markup, dict):
            if "keyboard" in markup:
                chat.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        return message

    def _prepare(self, method: str, params: dict[str, Any], cost: int = 1) -> tuple[ChatRecord, dict[str, Any]]:
        """Common checks of every send method; returns the chat and message fields (reply/markup)."""
        chat = self.state.writable_chat(params.get("chat_id"))
        self.check_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        return chat, {"reply_to": reply_to}

    def resolve_file(self, value: Any, kind: str, uploads: dict[str, Upload]) -> list[FileRecord]:
        """Turn an InputFile/file_id/URL parameter into stored file(s); photos yield all their sizes."""
        upload: Upload | None = value if isinstance(value, Upload) else None
        if isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(errors.WRONG_FILE_ID)
        if upload is not None:
            return self.store_upload(upload, kind)
        if not isinstance(value, str) or not value:
            raise bad_request(errors.WRONG_FILE_ID)
        if value.startswith(("http://", "https://")):
            placeholder = Upload(name=kind, filename=value.rsplit("/", 1)[-1] or "file", data=make_jpeg()
                                 if kind == "photo" else b"")
            return self.store_upload(placeholder, kind)
        record = self.state.files.get(value)
        if record is None:
            raise bad_request(errors.WRONG_FILE_ID)
        if kind == "photo":
            if record.kind != "photo":
                raise bad_request(errors.FILE_TYPE_MISMATCH)
            return self.state.photo_sets[record.file_id]
        if record.kind != kind and (kind != "document" or record.kind in ("photo", "sticker")):
            raise bad_request(errors.FILE_TYPE_MISMATCH)
        return [record]

    def store_upload(self, upload: Upload, kind: str) -> list[FileRecord]:
        """Store freshly uploaded bytes; photos must be real images, like on Telegram."""
        if kind == "photo":
            size = image_size(upload.data)
            if size is None:
                raise bad_request("IMAGE_PROCESS_FAILED")
            return store_photo(self.state, upload.data, *size)
        if len(upload.data) > MAX_UPLOAD:  # Telegram answers an oversized upload with HTTP 413
            raise TelegramAPIError(413, "Request Entity Too Large")
        meta: dict[str, Any] = {}
        if kind in ("document", "audio", "video", "animation"):
            meta["file_name"] = upload.filename or kind
            meta["mime_type"] = upload.content_type or "application/octet-stream"
        if kind in ("sticker",):
            meta.update(width=512, height=512)
        if kind in ("voice", "video", "audio", "video_note", "animation"):
            meta["duration"] = 1
        return [self.state.store_file(kind, upload.data, **meta)]

    # -- getMe / updates / webhook ----------------------------------------------------------------------------

    async def get_me(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """The bot's User object with bot capabilities."""
        return {**self.state.bot.to_dict(), "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False}

    async def return_true(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """Methods whose only effect here is success (close, logOut)."""
        return True

    def _set_allowed(self, value: Any) -> None:
        if isinstance(value, list):
            self.state.allowed_updates = frozenset(value) if value else DEFAULT_ALLOWED_UPDATES

    async def get_updates(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """Long polling: confirm ``offset``, then wait up to ``timeout`` seconds for updates."""
        if self.state.webhook.url:
            raise errors.WEBHOOK_CONFLICT
        self._poll_generation += 1
        generation = self._poll_generation
        self.state.updates_changed.set()  # terminate an older pending getUpdates with 409, like Telegram
        self.state.updates_changed = asyncio.Event()
        offset = params.get("offset")
        if isinstance(offset, int) and offset:
            self.state.confirm_updates(offset)
        self._set_allowed(params.get("allowed_updates"))
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0, int(params.get("timeout") or 0))
        deadline = time.monotonic() + timeout
        while True:
            updates = self.state.pending_updates(limit)
            remaining = deadline - time.monotonic()
            if updates or remaining <= 0:
                return updates
            event = self.state.updates_changed
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                pass
            if self.closing:
                return []
            if generation != self._poll_generation:
                raise errors.POLLING_CONFLICT

    async def set_webhook(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """Switch to webhook delivery (an empty url removes the webhook)."""
        url = str(params.get("url") or "")
        if url and not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and (not 1 <= len(str(secret)) <= 256):
            raise bad_request("bad webhook: secret token is invalid")
        if params.get("drop_pending_updates"):
            self.state.updates.clear()
        self._set_allowed(params.get("allowed_updates"))
        self.state.webhook.url = url
        self.state.webhook.secret_token = str(secret) if secret else None
        self.state.webhook.max_connections = max(1, min(100, int(params.get("max_connections") or 40)))
        self.on_webhook_change()
        return True

    async def delete_webhook(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """Back to getUpdates."""
        if params.get("drop_pending_updates"):
            self.state.updates.clear()
        self.state.webhook.url = ""
        self.state.webhook.secret_token = None
        self.on_webhook_change()
        return True

    async def get_webhook_info(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """WebhookInfo object."""
        hook = self.state.webhook
        info: dict[str, Any] = {"url": hook.url, "has_custom_certificate": False,
                                "pending_update_count": len(self.state.updates)}
        if hook.url:
            info["max_connections"] = hook.max_connections
            if self.state.allowed_updates != DEFAULT_ALLOWED_UPDATES:
                info["allowed_updates"] = sorted(self.state.allowed_updates)
        if hook.last_error_date is not None:
            info["last_error_date"] = hook.last_error_date
            info["last_error_message"] = hook.last_error_message or ""
        return info

    # -- sending ----------------------------------------------------------------------------------------------

    async def send_message(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendMessage: HTML/Markdown parsing, 4096 limit, reply and keyboard checks."""
        text, entities = self._required_text(params)
        chat, fields = self._prepare("sendmessage", params)
        self._throttle("sendmessage", chat)
        message = self._deliver(chat, params, text=text, entities=entities, html=str(params["text"]),
                                parse_mode=params.get("parse_mode"), **fields)
        return message.to_dict()

    async def send_photo(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendPhoto: upload (multipart/attach://), file_id reuse or URL."""
        caption = self._caption(params)
        chat, fields = self._prepare("sendphoto", params)
        if params.get("photo") in (None, ""):
            raise bad_request("there is no photo in the request")
        sizes = self.resolve_file(params["photo"], "photo", uploads)
        self._throttle("sendphoto", chat)
        message = self._deliver(chat, params, photo=[size.to_dict() for size in sizes],
                                parse_mode=params.get("parse_mode"), **caption, **fields)
        return message.to_dict()

    async def send_document(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendDocument and the other single-file senders (sticker, voice, video, audio, ...)."""
        kind = next((k for k in FILE_KINDS[1:] if k in params), "document")
        caption = self._caption(params) if kind != "sticker" else {}
        chat, fields = self._prepare(f"send{kind}", params)
        if params.get(kind) in (None, ""):
            raise bad_request(f"there is no {kind.replace('_', ' ')} in the request")
        record = self.resolve_file(params[kind], kind, uploads)[0]
        self._throttle(f"send{kind}", chat)
        payload = record.to_dict()
        if kind == "sticker":
            payload.update(type="regular", is_animated=False, is_video=False, emoji=params.get("emoji") or "🙂")
        message = self._deliver(chat, params, extra={kind: payload}, parse_mode=params.get("parse_mode"),
                                **caption, **fields)
        return message.to_dict()

    async def send_media_group(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendMediaGroup: 2-10 items sharing a media_group_id; returns an array of Messages."""
        media = params.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise bad_request(errors.WRONG_MEDIA_COUNT)
        chat, fields = self._prepare("sendmediagroup", params)
        items: list[tuple[dict[str, Any], dict[str, Any]]] = []
        kinds = set()
        for item in media:
            if not isinstance(item, dict) or item.get("type") not in ("photo", "video", "document", "audio"):
                raise bad_request("wrong type of media specified")
            kind = item["type"]
            kinds.add(kind)
            caption = self._caption({"caption": item.get("caption"), "parse_mode": item.get("parse_mode"),
                                     "caption_entities": item.get("caption_entities")})
            records = self.resolve_file(item.get("media"), kind, uploads)
            content = ({"photo": [r.to_dict() for r in records]} if kind == "photo"
                       else {"extra": {kind: records[0].to_dict()}})
            items.append((content, caption))
        if len(kinds) > 1 and kinds & {"document", "audio"}:
            raise bad_request(f"{sorted(kinds & {'document', 'audio'})[0]} can't be mixed with other media types")
        self._throttle("sendmediagroup", chat, cost=len(items))
        group_id = self.state.new_media_group_id()
        messages = [
            self.state.add_message(chat, self.state.bot, media_group_id=group_id, **content, **caption, **fields)
            for content, caption in items
        ]
        return [message.to_dict() for message in messages]

    async def send_location(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendLocation."""
        chat, fields = self._prepare("sendlocation", params)
        location = _location(params)
        self._throttle("sendlocation", chat)
        return self._deliver(chat, params, extra={"location": location}, **fields).to_dict()

    async def send_venue(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendVenue: the message carries both ``venue`` and ``location``."""
        chat, fields = self._prepare("sendvenue", params)
        location = _location(params)
        if not params.get("title") or not params.get("address"):
            raise bad_request("venue title and address must be non-empty")
        venue = {"location": location, "title": str(params["title"]), "address": str(params["address"])}
        for key in ("foursquare_id", "foursquare_type", "google_place_id", "google_place_type"):
            if params.get(key):
                venue[key] = params[key]
        self._throttle("sendvenue", chat)
        return self._deliver(chat, params, extra={"venue": venue, "location": location}, **fields).to_dict()

    async def send_contact(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendContact."""
        chat, fields = self._prepare("sendcontact", params)
        if not params.get("phone_number") or not params.get("first_name"):
            raise bad_request("phone number and first name must be non-empty")
        contact = {"phone_number": str(params["phone_number"]), "first_name": str(params["first_name"])}
        if params.get("last_name"):
            contact["last_name"] = str(params["last_name"])
        self._throttle("sendcontact", chat)
        return self._deliver(chat, params, extra={"contact": contact}, **fields).to_dict()

    async def send_chat_action(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """sendChatAction: only validated (the typing indicator is not simulated)."""
        self.state.writable_chat(params.get("chat_id"))
        if params.get("action") not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    async def copy_message(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """copyMessage: same content without a link to the original; returns a MessageId."""
        source = self._source_message(params)
        chat, fields = self._prepare("copymessage", params)
        caption = self._caption(params) if "caption" in params else {
            key: getattr(source, key) for key in ("caption", "caption_entities", "caption_html")
            if getattr(source, key) is not None
        }
        self._throttle("copymessage", chat)
        message = self._deliver(chat, params, text=source.text, entities=list(source.entities), html=source.html,
                                photo=source.photo, extra=_copyable(source.extra), **caption, **fields)
        return {"message_id": message.message_id}

    async def forward_message(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """forwardMessage: content plus ``forward_origin``."""
        source = self._source_message(params)
        chat = self.state.writable_chat(params.get("chat_id"))
        origin = {"type": "user", "sender_user": source.sender, "date": source.date}
        self._throttle("forwardmessage", chat)
        message = self.state.add_message(
            chat, self.state.bot, text=source.text, entities=list(source.entities), html=source.html,
            photo=source.photo, caption=source.caption, caption_entities=list(source.caption_entities),
            extra={**_copyable(source.extra), "forward_origin": origin, "forward_date": source.date},
        )
        return message.to_dict()

    def _source_message(self, params: dict[str, Any]) -> StoredMessage:
        source_chat = self.state.chat(params.get("from_chat_id"))
        source = self.state.get_message(source_chat, params.get("message_id"))
        if source is None:
            raise bad_request("message to copy not found")
        return source

    # -- editing / deleting -----------------------------------------------------------------------------------

    def _editable(self, params: dict[str, Any]) -> tuple[ChatRecord, StoredMessage]:
        if params.get("inline_message_id"):
            raise bad_request("MESSAGE_ID_INVALID")
        if params.get("chat_id") in (None, ""):
            raise bad_request("chat_id is empty")
        chat = self.state.chat(params.get("chat_id"))
        if chat.migrated_to is not None:
            raise bad_request(errors.GROUP_MIGRATED, {"migrate_to_chat_id": chat.migrated_to})
        message = self.state.get_message(chat, params.get("message_id"))
        if message is None:
            raise bad_request(errors.MESSAGE_TO_EDIT_NOT_FOUND)
        if not message.from_bot:
            raise bad_request(errors.MESSAGE_CANT_BE_EDITED)
        return chat, message

    def _apply_edit(self, chat: ChatRecord, message: StoredMessage, params: dict[str, Any],
                    **changes: Any) -> Any:
        markup = self.check_markup(params.get("reply_markup"))
        if markup is not None and "inline_keyboard" not in markup:
            raise bad_request("inline keyboard expected")
        compared = [key for key in changes if key not in ("html", "caption_html", "parse_mode")]
        same_content = all(getattr(message, key) == changes[key] for key in compared)
        if same_content and message.inline_keyboard == (markup or {}).get("inline_keyboard", []):
            raise bad_request(errors.MESSAGE_NOT_MODIFIED)
        self._throttle("edit", chat, edit=True)
        for key, value in changes.items():
            setattr(message, key, value)
        if message.inline_keyboard and message.inline_keyboard != (markup or {}).get("inline_keyboard", []):
            message.earlier_markups.append(message.reply_markup or {})  # a stale client may still press these
        message.reply_markup = markup
        message.edited = True
        message.edit_date = now_ts()
        chat.edit_log.append(message)
        chat.notify()
        self.state.publish({"type": "edit", "chat_id": chat.id, "message": message.to_dict()})
        return message.to_dict()

    async def edit_message_text(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """editMessageText; leaving out reply_markup removes the inline keyboard, as on Telegram."""
        chat, message = self._editable(params)
        text, entities = self._required_text(params)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        return self._apply_edit(chat, message, params, text=text, entities=entities, html=str(params["text"]),
                                parse_mode=params.get("parse_mode"))

    async def edit_message_caption(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """editMessageCaption (empty caption removes it)."""
        chat, message = self._editable(params)
        if message.text is not None:
            raise bad_request("there is no caption in the message to edit")
        caption = self._caption(params)
        return self._apply_edit(
            chat, message, params, caption=caption.get("caption"), caption_entities=caption.get("caption_entities", []),
            caption_html=caption.get("caption_html"),
        )

    async def edit_message_media(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """editMessageMedia for a photo message: a new photo (upload or file id) and its caption."""
        chat, message = self._editable(params)
        media = params.get("media")
        if not isinstance(media, dict) or media.get("type") != "photo":
            raise bad_request("wrong type of media specified")
        if message.photo is None:
            raise bad_request("there is no media in the message to edit")
        caption = self._caption({"caption": media.get("caption"), "parse_mode": media.get("parse_mode"),
                                 "caption_entities": media.get("caption_entities")})
        sizes = self.resolve_file(media.get("media"), "photo", uploads)
        return self._apply_edit(
            chat, message, params, photo=[size.to_dict() for size in sizes], caption=caption.get("caption"),
            caption_entities=caption.get("caption_entities", []), caption_html=caption.get("caption_html"),
        )

    async def edit_message_reply_markup(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """editMessageReplyMarkup (no markup = remove the keyboard)."""
        chat, message = self._editable(params)
        return self._apply_edit(chat, message, params)

    def _delete(self, chat: ChatRecord, message_id: Any) -> None:
        message = self.state.get_message(chat, message_id)
        if message is None:
            raise bad_request(errors.MESSAGE_TO_DELETE_NOT_FOUND)
        if chat.is_group and not message.from_bot and chat.bot_status != "administrator":
            raise bad_request(errors.MESSAGE_CANT_BE_DELETED)
        message.deleted = True
        chat.notify()
        self.state.publish({"type": "delete", "chat_id": chat.id, "message_id": message.message_id})

    async def delete_message(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """deleteMessage."""
        self._delete(self.state.chat(params.get("chat_id")), params.get("message_id"))
        return True

    async def delete_messages(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """deleteMessages: missing messages are skipped."""
        chat = self.state.chat(params.get("chat_id"))
        ids = params.get("message_ids")
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            raise bad_request("message identifiers are not specified")
        for message_id in ids:
            try:
                self._delete(chat, message_id)
            except TelegramAPIError:
                continue
        return True

    # -- callback queries / files -----------------------------------------------------------------------------

    async def answer_callback_query(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """answerCallbackQuery: once per query, within the query's lifetime."""
        query = self.state.callbacks.get(str(params.get("callback_query_id") or ""))
        if query is None or query.answer is not None or time.monotonic() - query.created > CALLBACK_QUERY_TTL:
            raise bad_request(errors.QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.answer = {"text": text, "show_alert": bool(params.get("show_alert")), "url": params.get("url"),
                        "cache_time": params.get("cache_time") or 0}
        query.answered.set()
        self.state.publish({"type": "callback_answer", "callback_query_id": query.id,
                            "chat_id": query.message.chat_id, "answer": query.answer})
        return True

    async def get_file(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """getFile: File with a file_path for /file/bot<token>/<file_path> (max 20 MB)."""
        record = self.state.files.get(str(params.get("file_id") or ""))
        if record is None:
            raise bad_request("invalid file_id")
        if record.file_size > MAX_DOWNLOAD:
            raise bad_request(errors.FILE_TOO_BIG)
        return {"file_id": record.file_id, "file_unique_id": record.file_unique_id,
                "file_size": record.file_size, "file_path": record.file_path}

    # -- chats / members / commands ---------------------------------------------------------------------------

    async def get_chat(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """getChat: ChatFullInfo."""
        chat = self.state.chat(params.get("chat_id"))
        info = {**chat.to_dict(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                                        "premium_subscription": False, "gifts_from_channels": False}}
        info.pop("all_members_are_administrators", None)
        if chat.migrated_to is not None:
            info["migrate_to_chat_id"] = chat.migrated_to  # not a real ChatFullInfo field; harmless extra
        return info

    def member_dict(self, chat: ChatRecord, user_id: int) -> dict[str, Any]:
        """The ChatMember object for a user (or the bot) in a chat."""
        if user_id == self.state.bot.id:
            status = {"member": "member", "administrator": "administrator", "left": "left",
                      "kicked": "kicked"}[chat.bot_status]
            user = self.state.bot
        else:
            found = self.state.users.get(user_id)
            if found is None:
                raise bad_request(errors.USER_NOT_FOUND)
            user = found
            if chat.type == "private":
                status = "member" if chat.id == user_id else "left"
            elif user_id == chat.creator and user_id in chat.members:
                status = "creator"
            elif user_id in chat.admins and user_id in chat.members:
                status = "administrator"
            elif user_id in chat.members:
                status = "member"
            else:
                status = "left"
        data: dict[str, Any] = {"status": status, "user": user.to_dict()}
        if status == "creator":
            data["is_anonymous"] = False
        elif status == "administrator":
            data.update(dict.fromkeys(("can_be_edited", "is_anonymous", "can_promote_members"), False))
            data.update(dict.fromkeys(("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                                       "can_restrict_members", "can_change_info", "can_invite_users",
                                       "can_post_stories", "can_edit_stories", "can_delete_stories",
                                       "can_send_welcome_messages", "can_pin_messages"), True))
        elif status == "kicked":
            data["until_date"] = 0
        return data

    async def get_chat_member(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """getChatMember: creator/administrator/member/left."""
        chat = self.state.chat(params.get("chat_id"))
        user_id = params.get("user_id")
        if not isinstance(user_id, int) or user_id <= 0:
            raise bad_request(errors.USER_ID_INVALID)
        return self.member_dict(chat, user_id)

    async def get_chat_administrators(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """getChatAdministrators: creator first, then admins (and the bot when it is one)."""
        chat = self.state.chat(params.get("chat_id"))
        if not chat.is_group:
            raise bad_request("there are no administrators in the private chat")
        ids = [chat.creator] if chat.creator in chat.members else []
        ids += sorted(uid for uid in chat.admins if uid != chat.creator and uid in chat.members)
        if chat.bot_status == "administrator":
            ids.append(self.state.bot.id)
        return [self.member_dict(chat, uid) for uid in ids if uid is not None]

    async def get_chat_member_count(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """getChatMemberCount (the bot counts when it is in the chat)."""
        chat = self.state.chat(params.get("chat_id"))
        if chat.type == "private":
            return 2
        return len(chat.members) + (1 if chat.bot_status in ("member", "administrator") else 0)

    async def leave_chat(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """leaveChat: afterwards sends fail with 403."""
        chat = self.state.chat(params.get("chat_id"))
        if not chat.is_group:
            raise bad_request("chat member status can't be changed in private chats")
        chat.bot_status = "left"
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> str:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)

    async def set_my_commands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """setMyCommands: command names 1-32 chars of [a-z0-9_], descriptions 1-256 chars."""
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be an array of at most 100 BotCommand")
        for command in commands:
            name = str(command.get("command", "")) if isinstance(command, dict) else ""
            name = name.removeprefix("/")
            if not 1 <= len(name) <= 32 or not all(c.islower() or c.isdigit() or c == "_" for c in name):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description is empty")
        self.state.commands[self._commands_key(params)] = [
            {"command": str(c["command"]).removeprefix("/"), "description": str(c["description"])} for c in commands
        ]
        return True

    async def get_my_commands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """getMyCommands for a scope/language."""
        return self.state.commands.get(self._commands_key(params), [])

    async def delete_my_commands(self, params: dict[str, Any], uploads: dict[str, Upload]) -> Any:
        """deleteMyCommands for a scope/language."""
        self.state.commands.pop(self._commands_key(params), None)
        return True


def _location(params: dict[str, Any]) -> dict[str, Any]:
    lat, lon = params.get("latitude"), params.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float) or isinstance(lat, bool):
        raise bad_request("wrong latitude or longitude specified")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise bad_request("wrong latitude or longitude specified")
    location: dict[str, Any] = {"latitude": float(lat), "longitude": float(lon)}
    for key in ("horizontal_accuracy", "live_period", "heading", "proximity_alert_radius"):
        if params.get(key) is not None:
            location[key] = params[key]
    return location


def _copyable(extra: dict[str, Any]) -> dict[str, Any]:
    skip = {"forward_origin", "forward_date", "new_chat_members", "left_chat_member", "migrate_to_chat_id",
            "migrate_from_chat_id", "group_chat_created"}
    return {key: value for key, value in extra.items() if key not in skip}
