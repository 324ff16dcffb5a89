"""In-memory state of the simulated Telegram: users, chats, messages, the update queue and files.

Everything is keyed by id in dicts so a request does O(1) work even with hundreds of simulated users
(the benchmark runs ~200 concurrent conversations); nothing here scans all messages.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import secrets
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from . import errors
from .errors import bad_request, forbidden

DEFAULT_ALLOWED_UPDATES = frozenset(
    {
        "message", "edited_message", "channel_post", "edited_channel_post", "business_connection",
        "business_message", "edited_business_message", "deleted_business_messages", "inline_query",
        "chosen_inline_result", "callback_query", "shipping_query", "pre_checkout_query", "purchased_paid_media",
        "poll", "poll_answer", "my_chat_member", "chat_join_request", "chat_boost", "removed_chat_boost",
    }
)  # everything except chat_member, message_reaction and message_reaction_count, as documented
_FOLDERS = {"photo": ("photos", "jpg"), "document": ("documents", ""), "sticker": ("stickers", "webp"),
            "voice": ("voice", "oga"), "video": ("videos", "mp4"), "audio": ("music", "mp3"),
            "animation": ("animations", "mp4"), "video_note": ("video_notes", "mp4")}
_ID_PREFIX = {"photo": "AgACAgUAAxkBAA", "document": "BQACAgUAAxkBAA", "sticker": "CAACAgIAAxkBAA",
              "voice": "AwACAgUAAxkBAA", "video": "BAACAgUAAxkBAA", "audio": "CQACAgUAAxkBAA",
              "animation": "CgACAgQAAxkBAA", "video_note": "DQACAgUAAxkBAA"}


def update_kind(update: dict[str, Any]) -> str:
    """The payload key of an Update ("message", "callback_query", ...)."""
    return next(key for key in update if key != "update_id")


def now_ts() -> int:
    """Telegram dates are Unix seconds."""
    return int(time.time())


@dataclass
class UserRecord:
    """A Telegram account (simulated human or the bot itself)."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Bot API ``User`` object."""
        data: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass
class FileRecord:
    """A stored file; ``file_size`` may exceed ``len(data)`` to simulate huge uploads cheaply."""

    file_id: str
    file_unique_id: str
    kind: str
    data: bytes
    file_size: int
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """The Bot API object for this file (PhotoSize, Document, Voice, ...)."""
        data: dict[str, Any] = {"file_id": self.file_id, "file_unique_id": self.file_unique_id}
        for key in ("width", "height", "duration", "file_name", "mime_type"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        data["file_size"] = self.file_size
        return data


@dataclass
class StoredMessage:
    """Latest version of one message in a chat transcript (both directions)."""

    chat_id: int
    message_id: int
    date: int
    from_bot: bool
    sender: dict[str, Any]
    chat: dict[str, Any]
    text: str | None = None
    html: str | None = None  # the text exactly as the bot sent it (before parse_mode), or the user's text
    entities: list[dict[str, Any]] = field(default_factory=list)
    caption: str | None = None
    caption_html: str | None = None
    caption_entities: list[dict[str, Any]] = field(default_factory=list)
    photo: list[dict[str, Any]] | None = None
    reply_markup: dict[str, Any] | None = None
    reply_to: StoredMessage | None = None
    edited: bool = False
    edit_date: int | None = None
    deleted: bool = False
    media_group_id: str | None = None
    parse_mode: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # document, location, venue, service fields, ...
    #: the inline keyboards the message had before its edits, oldest first: a client that has not
    #: caught up with an edit still shows one, and Telegram delivers a press on it (see press_button)
    earlier_markups: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reply_to_message_id(self) -> int | None:
        """Id of the message this one replies to."""
        return self.reply_to.message_id if self.reply_to else None

    @property
    def inline_keyboard(self) -> list[list[dict[str, Any]]]:
        """Rows of inline buttons (empty when the markup is not an inline keyboard)."""
        if self.reply_markup and "inline_keyboard" in self.reply_markup:
            return list(self.reply_markup["inline_keyboard"])
        return []

    def earlier_buttons(self) -> Iterator[dict[str, Any]]:
        """The inline buttons of the message's earlier versions (before edits), oldest first."""
        for markup in self.earlier_markups:
            for row in markup.get("inline_keyboard", []):
                yield from row

    def buttons(self) -> Iterator[dict[str, Any]]:
        """All inline buttons, row by row."""
        for row in self.inline_keyboard:
            yield from row

    def to_dict(self, *, with_reply: bool = True) -> dict[str, Any]:
        """Bot API ``Message`` object."""
        data: dict[str, Any] = {"message_id": self.message_id, "from": self.sender, "chat": self.chat,
                                "date": self.date}
        if with_reply and self.reply_to is not None and not self.reply_to.deleted:
            data["reply_to_message"] = self.reply_to.to_dict(with_reply=False)
        if self.edit_date is not None:
            data["edit_date"] = self.edit_date
        if self.media_group_id is not None:
            data["media_group_id"] = self.media_group_id
        if self.text is not None:
            data["text"] = self.text
            if self.entities:
                data["entities"] = self.entities
        if self.photo is not None:
            data["photo"] = self.photo
        data.update(self.extra)
        if self.caption is not None:
            data["caption"] = self.caption
            if self.caption_entities:
                data["caption_entities"] = self.caption_entities
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            data["reply_markup"] = self.reply_markup  # only inline keyboards are part of a Message
        return data


@dataclass
class ChatRecord:
    """A chat as the bot sees it, with its transcript and membership."""

    id: int
    type: str  # "private" | "group" | "supergroup"
    title: str | None = None
    user: UserRecord | None = None  # the other party of a private chat
    members: set[int] = field(default_factory=set)
    admins: set[int] = field(default_factory=set)
    creator: int | None = None
    bot_status: str = "member"  # member | administrator | left | kicked
    migrated_to: int | None = None
    started: bool = False  # private: the user wrote to the bot, so the bot may message them
    blocked: bool = False
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    reply_keyboard: dict[str, Any] | None = None
    edit_log: list[StoredMessage] = field(default_factory=list)  # every edit, in order (for wait_for_edit)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def is_group(self) -> bool:
        """Groups and supergroups share group semantics (limits, membership)."""
        return self.type in ("group", "supergroup")

    def to_dict(self) -> dict[str, Any]:
        """Bot API ``Chat`` object as embedded in messages."""
        if self.type == "private" and self.user is not None:
            data = {"id": self.id, "type": "private", "first_name": self.user.first_name}
            if self.user.last_name:
                data["last_name"] = self.user.last_name
            if self.user.username:
                data["username"] = self.user.username
            return data
        data = {"id": self.id, "type": self.type, "title": self.title or ""}
        if self.type == "group":
            data["all_members_are_administrators"] = False
        return data

    def notify(self) -> None:
        """Wake everything waiting for a change in this chat."""
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass
class CallbackRecord:
    """A callback query created by a simulated button press."""

    id: str
    user: UserRecord
    message: StoredMessage
    data: str
    created: float
    answer: dict[str, Any] | None = None
    answered: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class WebhookConfig:
    """Current ``setWebhook`` settings."""

    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


class TelegramState:
    """All mutable state of one simulated bot and its world."""

    def __init__(self, bot_id: int, bot_username: str, bot_first_name: str) -> None:
        self.bot = UserRecord(id=bot_id, first_name=bot_first_name, username=bot_username, is_bot=True)
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.updates: deque[dict[str, Any]] = deque()
        self.allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self.updates_changed = asyncio.Event()
        self.files: dict[str, FileRecord] = {}
        self.files_by_path: dict[str, FileRecord] = {}
        self.photo_sets: dict[str, list[FileRecord]] = {}
        self.callbacks: dict[str, CallbackRecord] = {}
        self.webhook = WebhookConfig()
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self._user_ids = itertools.count(1_000_000)
        self._group_ids = itertools.count(4_000_000_001)
        self._supergroup_ids = itertools.count(1_000_000_000_001)
        self._update_ids = itertools.count(100_000_001)
        self._file_seq = itertools.count(1)
        self._media_groups = itertools.count(13_000_000_000_000_001)

    # -- ids --------------------------------------------------------------------------------------------------

    def new_user_id(self) -> int:
        """Next simulated user id (from 1,000,000)."""
        return next(self._user_ids)

    def new_group_id(self, supergroup: bool) -> int:
        """Negative ids like Telegram's: -4xxxxxxxxx for groups, -100xxxxxxxxxx for supergroups."""
        return -next(self._supergroup_ids) if supergroup else -next(self._group_ids)

    def new_media_group_id(self) -> str:
        """Album identifier shared by the messages of one media group."""
        return str(next(self._media_groups))

    # -- chats ------------------------------------------------------------------------------------------------

    def resolve_chat_id(self, chat_id: Any) -> int:
        """Turn the ``chat_id`` parameter (int or "@username"/numeric string) into a known chat id."""
        if isinstance(chat_id, str):
            text = chat_id.strip()
            if text.startswith("@"):
                for chat in self.chats.values():
                    if chat.user is not None and chat.user.username and f"@{chat.user.username}" == text:
                        return chat.id
                raise bad_request(errors.CHAT_NOT_FOUND)
            try:
                chat_id = int(text)
            except ValueError:
                raise bad_request(errors.CHAT_NOT_FOUND) from None
        if not isinstance(chat_id, int) or chat_id not in self.chats:
            raise bad_request(errors.CHAT_NOT_FOUND)
        return chat_id

    def chat(self, chat_id: Any) -> ChatRecord:
        """The chat for a ``chat_id`` parameter, or 400 "chat not found"."""
        return self.chats[self.resolve_chat_id(chat_id)]

    def writable_chat(self, chat_id: Any) -> ChatRecord:
        """The chat the bot wants to post into, enforcing Telegram's 400/403 rules."""
        chat = self.chat(chat_id)
        if chat.migrated_to is not None:
            raise bad_request(errors.GROUP_MIGRATED, {"migrate_to_chat_id": chat.migrated_to})
        if chat.type == "private":
            if chat.blocked:
                raise forbidden(errors.BLOCKED)
            if not chat.started:
                raise forbidden(errors.CANT_INITIATE)
        elif chat.bot_status == "kicked":
            raise forbidden(errors.KICKED_SUPERGROUP if chat.type == "supergroup" else errors.KICKED_GROUP)
        elif chat.bot_status == "left":
            raise forbidden(errors.NOT_MEMBER)
        return chat

    # -- messages ---------------------------------------------------------------------------------------------

    def add_message(self, chat: ChatRecord, sender: UserRecord, **fields: Any) -> StoredMessage:
        """Append a message to a chat transcript and notify waiters/subscribers."""
        message = StoredMessage(
            chat_id=chat.id, message_id=chat.next_message_id, date=now_ts(), from_bot=sender.is_bot,
            sender=sender.to_dict(), chat=chat.to_dict(), **fields,
        )
        chat.next_message_id += 1
        chat.messages[message.message_id] = message
        chat.notify()
        self.publish({"type": "message", "chat_id": chat.id, "message": message.to_dict()})
        return message

    def get_message(self, chat: ChatRecord, message_id: Any) -> StoredMessage | None:
        """A live (not deleted) message by id."""
        message = chat.messages.get(message_id) if isinstance(message_id, int) else None
        return None if message is None or message.deleted else message

    # -- updates ----------------------------------------------------------------------------------------------

    def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates/webhook delivery and wake long-polling requests."""
        update = {"update_id": next(self._update_ids), kind: payload}
        self.updates.append(update)
        self.updates_changed.set()
        self.updates_changed = asyncio.Event()
        return update

    def confirm_updates(self, offset: int) -> None:
        """Drop updates with ids below ``offset`` (a negative offset keeps only the last ``-offset``)."""
        if offset < 0:
            while len(self.updates) > -offset:
                self.updates.popleft()
            return
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()

    def pending_updates(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` queued updates of allowed kinds; disallowed ones are discarded like Telegram."""
        allowed = self.allowed_updates
        kept = deque(update for update in self.updates if update_kind(update) in allowed)
        if len(kept) != len(self.updates):
            self.updates = kept
        return list(itertools.islice(kept, limit))

    # -- files ------------------------------------------------------------------------------------------------

    def store_file(self, kind: str, data: bytes, *, file_size: int | None = None, unique_salt: str = "",
                   **meta: Any) -> FileRecord:
        """Keep uploaded bytes and mint Telegram-looking file ids (unique id = content hash)."""
        seq = next(self._file_seq)
        folder, ext = _FOLDERS.get(kind, ("documents", ""))
        name = meta.get("file_name") or ""
        if not ext:
            ext = name.rsplit(".", 1)[-1] if "." in name else "bin"
        digest = hashlib.sha256(data + unique_salt.encode()).digest()
        record = FileRecord(
            file_id=_ID_PREFIX.get(kind, "BQACAgUAAxkBAA") + secrets.token_urlsafe(30),
            file_unique_id="AQAD" + base64.urlsafe_b64encode(digest[:9]).decode(),
            kind=kind, data=data, file_size=len(data) if file_size is None else file_size,
            file_path=f"{folder}/file_{seq}.{ext}", **meta,
        )
        self.files[record.file_id] = record
        self.files_by_path[record.file_path] = record
        return record

    # -- events -----------------------------------------------------------------------------------------------

    def publish(self, event: dict[str, Any]) -> None:
        """Fan an event out to ``subscribe()`` queues (the playground's live view)."""
        for queue in self.subscribers:
            queue.put_nowait(event)


def store_photo(state: TelegramState, data: bytes, width: int, height: int) -> list[FileRecord]:
    """Store a photo as Telegram does: several PhotoSize entries (thumbnail ladder), smallest first.

    The bytes are shared (no real resizing); sizes and file sizes are scaled so they look plausible.
    """
    from .media import photo_dimensions

    sizes: list[FileRecord] = []
    for index, (w, h) in enumerate(photo_dimensions(width, height)):
        ratio = (w * h) / max(1, width * height)
        record = state.store_file("photo", data, file_size=max(1, int(len(data) * ratio)),
                                  unique_salt=f"{index}:{w}x{h}", width=w, height=h)
        sizes.append(record)
    for record in sizes:
        state.photo_sets[record.file_id] = sizes
    return sizes
