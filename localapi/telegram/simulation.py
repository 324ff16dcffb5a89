"""The user side of the simulated Telegram: people, groups and what they do in the Telegram app.

Tests, the benchmark and the playground drive conversations through this API; each action produces the
same updates (message, callback_query, my_chat_member, ...) that Telegram would deliver to the bot.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from .errors import SimulationError
from .formatting import detect_user_entities, utf16_len
from .media import image_size, make_jpeg
from .methods import MAX_TEXT, BotApi
from .state import ChatRecord, StoredMessage, TelegramState, UserRecord, store_photo

ChatRef = ChatRecord | int | None
MessageRef = StoredMessage | int


class SimUser:
    """A simulated Telegram user; its methods are what the person does in the app."""

    def __init__(self, sim: Simulation, record: UserRecord) -> None:
        self._sim = sim
        self.record = record

    @property
    def id(self) -> int:
        """Telegram user id (also the id of the private chat with the bot)."""
        return self.record.id

    @property
    def first_name(self) -> str:
        """First name shown in Telegram."""
        return self.record.first_name

    @property
    def username(self) -> str | None:
        """@username without the @."""
        return self.record.username

    def to_dict(self) -> dict[str, Any]:
        """Bot API ``User`` object."""
        return self.record.to_dict()

    def __repr__(self) -> str:
        return f"SimUser(id={self.id}, first_name={self.first_name!r})"

    # -- messages -----------------------------------------------------------------------------------------------

    def send_text(self, text: str, *, chat: ChatRef = None, reply_to: MessageRef | None = None) -> StoredMessage:
        """Type and send text; commands get ``bot_command`` entities like in the Telegram app. A text
        over 4096 UTF-16 units is sent as several messages, as the apps do (:func:`split_like_client`);
        the first is returned (:meth:`send_text_parts` returns them all)."""
        return self.send_text_parts(text, chat=chat, reply_to=reply_to)[0]

    def send_text_parts(self, text: str, *, chat: ChatRef = None,
                        reply_to: MessageRef | None = None) -> list[StoredMessage]:
        """Send text the way a Telegram app does: one message, or for a long paste several messages
        in a row (only the first replies to ``reply_to``), each delivered to the bot as its own update."""
        if not text or not text.strip():
            raise SimulationError("Telegram clients cannot send empty messages")
        sent = []
        for index, part in enumerate(split_like_client(text)):
            sent.append(self._sim.user_message(self, chat, reply_to if index == 0 else None, text=part, html=part,
                                               entities=detect_user_entities(part)))
        return sent

    def send_photo(self, data: bytes | None = None, *, caption: str | None = None, chat: ChatRef = None,
                   reply_to: MessageRef | None = None) -> StoredMessage:
        """Send a photo (default: a generated 320x240 JPEG); the bot sees several PhotoSize entries."""
        data = make_jpeg() if data is None else data
        width, height = image_size(data) or (320, 240)
        sizes = store_photo(self._sim.state, data, width, height)
        return self._sim.user_message(self, chat, reply_to, photo=[s.to_dict() for s in sizes],
                                      **_caption(caption))

    def send_document(self, data: bytes = b"", file_name: str = "document.pdf",
                      mime_type: str = "application/pdf", *, file_size: int | None = None,
                      caption: str | None = None, chat: ChatRef = None,
                      reply_to: MessageRef | None = None) -> StoredMessage:
        """Send a file; ``file_size`` overrides the reported size (simulate 10 MB+ without allocating)."""
        record = self._sim.state.store_file("document", data, file_size=file_size, file_name=file_name,
                                            mime_type=mime_type)
        return self._sim.user_message(self, chat, reply_to, extra={"document": record.to_dict()},
                                      **_caption(caption))

    def _send_file(self, kind: str, data: bytes, chat: ChatRef, reply_to: MessageRef | None,
                   caption: str | None = None, **meta: Any) -> StoredMessage:
        record = self._sim.state.store_file(kind, data, **meta)
        return self._sim.user_message(self, chat, reply_to, extra={kind: record.to_dict()}, **_caption(caption))

    def send_sticker(self, *, emoji: str = "👍", chat: ChatRef = None) -> StoredMessage:
        """Send a (static) sticker."""
        record = self._sim.state.store_file("sticker", b"RIFF\x00\x00\x00\x00WEBP", width=512, height=512)
        payload = {**record.to_dict(), "type": "regular", "is_animated": False, "is_video": False, "emoji": emoji}
        return self._sim.user_message(self, chat, None, extra={"sticker": payload})

    def send_voice(self, data: bytes = b"OggS", *, duration: int = 3, chat: ChatRef = None) -> StoredMessage:
        """Send a voice note."""
        return self._send_file("voice", data, chat, None, duration=duration, mime_type="audio/ogg")

    def send_video(self, data: bytes = b"\x00\x00\x00\x18ftypmp42", *, duration: int = 5,
                   caption: str | None = None, chat: ChatRef = None) -> StoredMessage:
        """Send a video."""
        return self._send_file("video", data, chat, None, caption, duration=duration, width=640, height=360,
                               mime_type="video/mp4", file_name="video.mp4")

    def send_audio(self, data: bytes = b"ID3", *, duration: int = 30, chat: ChatRef = None) -> StoredMessage:
        """Send a music file."""
        return self._send_file("audio", data, chat, None, duration=duration, mime_type="audio/mpeg",
                               file_name="audio.mp3")

    def send_animation(self, data: bytes = b"GIF89a", *, chat: ChatRef = None) -> StoredMessage:
        """Send a GIF (Telegram also adds a ``document`` field to animation messages)."""
        record = self._sim.state.store_file("animation", data, duration=2, width=200, height=200,
                                            mime_type="video/mp4", file_name="animation.mp4")
        payload = record.to_dict()
        return self._sim.user_message(self, chat, None, extra={"animation": payload, "document": payload})

    def send_video_note(self, data: bytes = b"\x00\x00\x00\x18ftypmp42", *, chat: ChatRef = None) -> StoredMessage:
        """Send a round video message."""
        record = self._sim.state.store_file("video_note", data, duration=3)
        payload = {**record.to_dict(), "length": 240}
        return self._sim.user_message(self, chat, None, extra={"video_note": payload})

    def send_location(self, lat: float, lon: float, *, live_period: int | None = None,
                      chat: ChatRef = None) -> StoredMessage:
        """Share a location (a live location when ``live_period`` is given)."""
        location: dict[str, Any] = {"latitude": float(lat), "longitude": float(lon)}
        if live_period is not None:
            location["live_period"] = live_period
        return self._sim.user_message(self, chat, None, extra={"location": location})

    def send_venue(self, lat: float, lon: float, title: str, address: str, *, chat: ChatRef = None) -> StoredMessage:
        """Share a venue (the message carries both ``venue`` and ``location``)."""
        location = {"latitude": float(lat), "longitude": float(lon)}
        venue = {"location": location, "title": title, "address": address}
        return self._sim.user_message(self, chat, None, extra={"venue": venue, "location": location})

    def send_contact(self, phone: str, first_name: str, *, last_name: str | None = None,
                     user_id: int | None = None, chat: ChatRef = None) -> StoredMessage:
        """Share a contact card."""
        contact: dict[str, Any] = {"phone_number": phone, "first_name": first_name}
        if last_name:
            contact["last_name"] = last_name
        if user_id is not None:
            contact["user_id"] = user_id
        return self._sim.user_message(self, chat, None, extra={"contact": contact})

    def send_poll(self, question: str, options: list[str], *, chat: ChatRef = None) -> StoredMessage:
        """Send a regular anonymous poll."""
        poll = {"id": str(secrets.randbits(60)), "question": question,
                "options": [{"persistent_id": str(i), "text": option, "voter_count": 0}
                            for i, option in enumerate(options)],
                "total_voter_count": 0, "is_closed": False, "is_anonymous": True, "type": "regular",
                "allows_multiple_answers": False, "allows_revoting": False, "members_only": False}
        return self._sim.user_message(self, chat, None, extra={"poll": poll})

    def edit_text(self, message: MessageRef, text: str, *, chat: ChatRef = None) -> StoredMessage:
        """Edit one of the user's own text messages (the bot gets an ``edited_message`` update)."""
        return self._sim.user_edit(self, message, text, chat)

    # -- keyboards -------------------------------------------------------------------------------------------

    def press_button(self, message: MessageRef, callback_data: str, *, chat: ChatRef = None,
                     stale_ok: bool = False) -> str:
        """Tap an inline button; returns the callback_query id. The message must have that button, or
        with ``stale_ok`` have had it before an edit (a client showing an outdated keyboard)."""
        return self._sim.press_button(self, message, callback_data, chat, stale_ok=stale_ok)

    def press_reply_button(self, text: str, *, chat: ChatRef = None) -> StoredMessage:
        """Tap a button of the reply keyboard the bot last showed in this chat."""
        target = self._sim.chat_for(self, chat)
        button = self._sim.find_reply_button(target, lambda b: _button_text(b) == text)
        if button is None:
            raise SimulationError(f"no reply keyboard button {text!r} in chat {target.id}")
        if isinstance(button, dict) and (button.get("request_location") or button.get("request_contact")):
            raise SimulationError("that button shares a location/contact: use share_location()/share_contact()")
        self._sim.used_reply_keyboard(target)
        return self.send_text(text, chat=target)

    def share_location(self, lat: float, lon: float, *, chat: ChatRef = None) -> StoredMessage:
        """Tap the keyboard's ``request_location`` button and confirm: a normal location message."""
        target = self._sim.chat_for(self, chat)
        if self._sim.find_reply_button(target, lambda b: isinstance(b, dict) and bool(b.get("request_location"))
                                       ) is None:
            raise SimulationError(f"the reply keyboard in chat {target.id} has no request_location button")
        self._sim.used_reply_keyboard(target)
        return self.send_location(lat, lon, chat=target)

    def share_contact(self, phone: str, *, chat: ChatRef = None) -> StoredMessage:
        """Tap the keyboard's ``request_contact`` button: the user's own contact card."""
        target = self._sim.chat_for(self, chat)
        if self._sim.find_reply_button(target, lambda b: isinstance(b, dict) and bool(b.get("request_contact"))
                                       ) is None:
            raise SimulationError(f"the reply keyboard in chat {target.id} has no request_contact button")
        self._sim.used_reply_keyboard(target)
        return self.send_contact(phone, self.first_name, last_name=self.record.last_name, user_id=self.id,
                                 chat=target)


#: how far back from the limit a client looks for a nicer place to split (characters)
SPLIT_LOOKBACK = 512
_SENTENCE_GAP = re.compile(r"[.!?…][\"'”’)\]]*\s")


def _fitting(text: str, limit: int) -> int:
    """How many code points of ``text`` fit in ``limit`` UTF-16 units (a surrogate pair is never cut)."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_like_client(text: str, limit: int = MAX_TEXT) -> list[str]:
    """A text as Telegram's apps send it: whole when it fits in ``limit`` (4096 UTF-16 units), else
    in parts. Like the apps, each cut is looked for a little before the limit: a blank line first,
    then a line break, then the end of a sentence, then a space; only a text without any of them is
    cut hard at the limit. The whitespace at a cut is dropped and every part is trimmed (Telegram
    Android's ``processSendingText`` works this way; Telegram Desktop cuts at the same kinds of place)."""
    rest = text.strip()
    parts: list[str] = []
    while utf16_len(rest) > limit:
        fit = _fitting(rest, limit)
        window, floor = rest[:fit], max(1, fit - SPLIT_LOOKBACK)
        cut = -1
        for separator in ("\n\n", "\n"):
            cut = window.rfind(separator, floor)
            if cut > 0:
                break
        if cut <= 0:
            gaps = [m.end() - 1 for m in _SENTENCE_GAP.finditer(window, floor)]
            cut = gaps[-1] if gaps else -1
        if cut <= 0:
            cut = max(window.rfind(" ", floor), window.rfind("\t", floor))
        if cut <= 0:
            cut = fit
        part, rest = rest[:cut].strip(), rest[cut:].strip()
        if part:
            parts.append(part)
    if rest:
        parts.append(rest)
    return parts


def _caption(caption: str | None) -> dict[str, Any]:
    if caption is None:
        return {}
    return {"caption": caption, "caption_html": caption, "caption_entities": detect_user_entities(caption)}


def _button_text(button: Any) -> str:
    return str(button.get("text", "")) if isinstance(button, dict) else str(button)


class Simulation:
    """Python API of the simulated world; ``TelegramServer`` adds HTTP on top."""

    state: TelegramState
    api: BotApi

    def __init__(self, *, privacy_mode: bool = False) -> None:
        self.privacy_mode = privacy_mode
        self.sim_users: dict[int, SimUser] = {}

    # -- world building ----------------------------------------------------------------------------------------

    def create_user(self, first_name: str, *, last_name: str | None = None, username: str | None = None,
                    language_code: str | None = "id") -> SimUser:
        """Create a Telegram account (ids from 1,000,000); its private chat with the bot exists but is not
        started, so the bot cannot message it until it writes first."""
        record = UserRecord(id=self.state.new_user_id(), first_name=first_name, last_name=last_name,
                            username=username, language_code=language_code)
        self.state.users[record.id] = record
        self.state.chats[record.id] = ChatRecord(id=record.id, type="private", user=record)
        user = SimUser(self, record)
        self.sim_users[record.id] = user
        return user

    def user(self, user_id: int) -> SimUser:
        """Look up a simulated user by id."""
        try:
            return self.sim_users[user_id]
        except KeyError:
            raise SimulationError(f"unknown user {user_id}") from None

    def create_group(self, title: str, members: Iterable[SimUser], *, admins: Iterable[SimUser] = (),
                     supergroup: bool = False, creator: SimUser | None = None,
                     bot_admin: bool = False) -> ChatRecord:
        """Create a group with the bot in it; the bot gets ``my_chat_member`` and a ``new_chat_members`` message.

        The creator defaults to the first member (or first admin).
        """
        member_list, admin_list = list(members), list(admins)
        people = member_list + [a for a in admin_list if a not in member_list]
        owner = creator or (people[0] if people else None)
        if owner is not None and owner not in people:
            people.append(owner)
        chat = ChatRecord(id=self.state.new_group_id(supergroup), type="supergroup" if supergroup else "group",
                          title=title, members={p.id for p in people}, admins={a.id for a in admin_list},
                          creator=owner.id if owner else None, bot_status="left")
        self.state.chats[chat.id] = chat
        adder = owner.record if owner else self.state.bot
        self._set_bot_status(chat, "administrator" if bot_admin else "member", adder)
        service = self.state.add_message(chat, adder, extra={"new_chat_members": [self.state.bot.to_dict()]})
        self.state.push_update("message", service.to_dict())
        return chat

    def _set_bot_status(self, chat: ChatRecord, status: str, actor: UserRecord) -> None:
        old = self.api.member_dict(chat, self.state.bot.id)
        chat.bot_status = status
        new = self.api.member_dict(chat, self.state.bot.id)
        self.state.push_update("my_chat_member", {"chat": chat.to_dict(), "from": actor.to_dict(),
                                                  "date": int(time.time()), "old_chat_member": old,
                                                  "new_chat_member": new})

    def _member_update(self, chat: ChatRecord, user: SimUser, change: Callable[[], None]) -> None:
        old = self.api.member_dict(chat, user.id)
        change()
        new = self.api.member_dict(chat, user.id)
        self.state.push_update("chat_member", {"chat": chat.to_dict(), "from": user.to_dict(),
                                               "date": int(time.time()), "old_chat_member": old,
                                               "new_chat_member": new})

    def add_member(self, chat: ChatRef, user: SimUser) -> StoredMessage:
        """User joins the group: ``chat_member`` update (if allowed) and a ``new_chat_members`` message."""
        target = self.group(chat)
        self._member_update(target, user, lambda: target.members.add(user.id))
        return self._service(target, user.record, {"new_chat_members": [user.to_dict()]})

    def remove_member(self, chat: ChatRef, user: SimUser) -> StoredMessage:
        """User leaves the group: ``chat_member`` update (if allowed) and a ``left_chat_member`` message."""
        target = self.group(chat)
        self._member_update(target, user, lambda: target.members.discard(user.id))
        return self._service(target, user.record, {"left_chat_member": user.to_dict()})

    def kick_bot(self, chat: ChatRef, by: SimUser | None = None) -> None:
        """An admin removes the bot: ``my_chat_member`` (kicked); later sends get 403."""
        target = self.group(chat)
        actor = by.record if by else self.state.users.get(target.creator or 0, self.state.bot)
        self._set_bot_status(target, "kicked", actor)

    def _service(self, chat: ChatRecord, actor: UserRecord, extra: dict[str, Any]) -> StoredMessage:
        message = self.state.add_message(chat, actor, extra=extra)
        if chat.bot_status in ("member", "administrator"):
            self.state.push_update("message", message.to_dict())
        return message

    def migrate_to_supergroup(self, chat_id: ChatRef) -> int:
        """Upgrade a basic group like Telegram: service messages in both chats, old id then fails with 400."""
        old = self.group(chat_id)
        if old.type != "group" or old.migrated_to is not None:
            raise SimulationError(f"chat {old.id} is not a basic group")
        new = ChatRecord(id=self.state.new_group_id(True), type="supergroup", title=old.title,
                         members=set(old.members), admins=set(old.admins), creator=old.creator,
                         bot_status=old.bot_status)
        self.state.chats[new.id] = new
        actor = self.state.users.get(old.creator or 0, self.state.bot)
        old.migrated_to = new.id
        self._service(old, actor, {"migrate_to_chat_id": new.id})
        self._service(new, actor, {"migrate_from_chat_id": old.id})
        return new.id

    def block_bot(self, user: SimUser) -> None:
        """User blocks the bot: ``my_chat_member`` (kicked); sends get 403 "bot was blocked by the user"."""
        chat = self.state.chats[user.id]
        if not chat.blocked:
            self._private_status(chat, user, blocked=True)

    def unblock_bot(self, user: SimUser) -> None:
        """User unblocks (restarts) the bot: ``my_chat_member`` back to member."""
        chat = self.state.chats[user.id]
        if chat.blocked:
            self._private_status(chat, user, blocked=False)

    def _private_status(self, chat: ChatRecord, user: SimUser, *, blocked: bool) -> None:
        bot = self.state.bot.to_dict()
        member, kicked = {"status": "member", "user": bot}, {"status": "kicked", "user": bot, "until_date": 0}
        chat.blocked = blocked
        self.state.push_update("my_chat_member", {
            "chat": chat.to_dict(), "from": user.to_dict(), "date": int(time.time()),
            "old_chat_member": member if blocked else kicked, "new_chat_member": kicked if blocked else member})

    # -- resolution helpers -------------------------------------------------------------------------------------

    def group(self, chat: ChatRef) -> ChatRecord:
        """A group/supergroup by record or id."""
        target = self.state.chats.get(chat.id if isinstance(chat, ChatRecord) else chat or 0)
        if target is None or not target.is_group:
            raise SimulationError(f"unknown group {chat!r}")
        return target

    def chat_for(self, user: SimUser, chat: ChatRef) -> ChatRecord:
        """The chat a user acts in: default is their private chat with the bot."""
        if chat is None:
            return self.state.chats[user.id]
        chat_id = chat.id if isinstance(chat, ChatRecord) else chat
        target = self.state.chats.get(chat_id)
        if target is None:
            raise SimulationError(f"unknown chat {chat_id}")
        if target.type == "private" and target.id != user.id:
            raise SimulationError("users can only write in their own private chat with the bot")
        return target

    def find_message(self, chat: ChatRecord, message: MessageRef) -> StoredMessage:
        """A live message by record or id."""
        message_id = message.message_id if isinstance(message, StoredMessage) else message
        found = self.state.get_message(chat, message_id)
        if found is None:
            raise SimulationError(f"message {message_id} not found in chat {chat.id}")
        return found

    def find_reply_button(self, chat: ChatRecord, match: Callable[[Any], bool]) -> Any:
        """A button of the chat's current reply keyboard satisfying ``match``."""
        keyboard = chat.reply_keyboard or {}
        for row in keyboard.get("keyboard", []):
            for button in row:
                if match(button):
                    return button
        return None

    @staticmethod
    def used_reply_keyboard(chat: ChatRecord) -> None:
        """One-time keyboards disappear after a tap."""
        if chat.reply_keyboard and chat.reply_keyboard.get("one_time_keyboard"):
            chat.reply_keyboard = None

    # -- actions ---------------------------------------------------------------------------------------------

    def _bot_sees(self, chat: ChatRecord, message: StoredMessage) -> bool:
        if chat.type == "private":
            return True
        if chat.bot_status not in ("member", "administrator") or chat.migrated_to is not None:
            return False
        if not self.privacy_mode or chat.bot_status == "administrator":
            return True
        text = message.text or message.caption or ""
        replying_to_bot = message.reply_to is not None and message.reply_to.from_bot
        return text.startswith("/") or replying_to_bot or f"@{self.state.bot.username}" in text

    def user_message(self, user: SimUser, chat: ChatRef, reply_to: MessageRef | None,
                     **fields: Any) -> StoredMessage:
        """Store a message from ``user`` and deliver it to the bot as a ``message`` update."""
        target = self.chat_for(user, chat)
        if target.is_group:
            if target.migrated_to is not None:
                raise SimulationError(f"group {target.id} was upgraded to supergroup {target.migrated_to}")
            if user.id not in target.members:
                raise SimulationError(f"{user!r} is not a member of chat {target.id}")
        elif target.blocked:
            self.unblock_bot(user)  # writing to a blocked bot restarts it
        reply = self.find_message(target, reply_to) if reply_to is not None else None
        message = self.state.add_message(target, user.record, reply_to=reply, **fields)
        if target.type == "private":
            target.started = True
        if self._bot_sees(target, message):
            self.state.push_update("message", message.to_dict())
        return message

    def user_edit(self, user: SimUser, message: MessageRef, text: str, chat: ChatRef) -> StoredMessage:
        """Edit a user's own text message and deliver ``edited_message``."""
        target = self.chat_for(user, chat)
        found = self.find_message(target, message)
        if found.sender.get("id") != user.id or found.text is None:
            raise SimulationError("users can only edit their own text messages")
        found.text, found.html, found.entities = text, text, detect_user_entities(text)
        found.edited, found.edit_date = True, int(time.time())
        target.edit_log.append(found)
        target.notify()
        self.state.publish({"type": "edit", "chat_id": target.id, "message": found.to_dict()})
        if self._bot_sees(target, found):
            self.state.push_update("edited_message", found.to_dict())
        return found

    def press_button(self, user: SimUser, message: MessageRef, callback_data: str, chat: ChatRef, *,
                     stale_ok: bool = False) -> str:
        """Create a ``callback_query`` update for an inline button that really is on the message, or
        (``stale_ok``) was on it before an edit: Telegram clients can show an outdated keyboard for a
        while and Telegram delivers such a press with the old data and the message as it is now, so
        only the bot can decide whether the press still makes sense."""
        target = self.chat_for(user, chat)
        found = self.find_message(target, message)
        buttons = [*found.buttons(), *(found.earlier_buttons() if stale_ok else ())]
        if not any(button.get("callback_data") == callback_data for button in buttons):
            raise SimulationError(f"message {found.message_id} has no button with callback_data {callback_data!r}")
        from .state import CallbackRecord

        query_id = str(secrets.randbits(63))
        self.state.callbacks[query_id] = CallbackRecord(id=query_id, user=user.record, message=found,
                                                        data=callback_data, created=time.monotonic())
        self.state.push_update("callback_query", {
            "id": query_id, "from": user.to_dict(), "message": found.to_dict(),
            "chat_instance": str(abs(hash((target.id, self.state.bot.id))) % (10**18)), "data": callback_data})
        return query_id

    # -- transcript --------------------------------------------------------------------------------------------

    def _chat(self, chat_id: ChatRef) -> ChatRecord:
        key = chat_id.id if isinstance(chat_id, ChatRecord) else chat_id
        chat = self.state.chats.get(key or 0)
        if chat is None:
            raise SimulationError(f"unknown chat {chat_id!r}")
        return chat

    def messages(self, chat_id: ChatRef) -> list[StoredMessage]:
        """The chat transcript in order, both directions, latest version of each, without deleted ones."""
        return [m for m in self._chat(chat_id).messages.values() if not m.deleted]

    def bot_messages(self, chat_id: ChatRef) -> list[StoredMessage]:
        """Only the bot's messages of the transcript."""
        return [m for m in self.messages(chat_id) if m.from_bot]

    async def wait_for_message(self, chat_id: ChatRef, predicate: Callable[[StoredMessage], bool] | None = None,
                               timeout: float = 5.0,  # noqa: ASYNC109 - documented public API
                               *, new_only: bool | None = None) -> StoredMessage:
        """Wait for a bot message: without ``predicate`` a NEW one (sent after this call started); with a
        predicate the first matching one, including earlier messages unless ``new_only``."""
        chat = self._chat(chat_id)
        only_new = predicate is None if new_only is None else new_only
        cursor = chat.next_message_id if only_new else 1
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            while cursor < chat.next_message_id:
                message = chat.messages.get(cursor)
                cursor += 1
                if message and message.from_bot and not message.deleted and (predicate is None or predicate(message)):
                    return message
            await self._wait_change(chat, deadline, f"no matching bot message in chat {chat.id}")

    async def wait_for_edit(self, chat_id: ChatRef, message_id: int | None = None,
                            predicate: Callable[[StoredMessage], bool] | None = None,
                            timeout: float = 5.0) -> StoredMessage:  # noqa: ASYNC109
        """Wait for an edit (by the bot or a user) made after this call started."""
        chat = self._chat(chat_id)
        cursor = len(chat.edit_log)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            while cursor < len(chat.edit_log):
                message = chat.edit_log[cursor]
                cursor += 1
                if (message_id is None or message.message_id == message_id) and (
                    predicate is None or predicate(message)
                ):
                    return message
            await self._wait_change(chat, deadline, f"no matching edit in chat {chat.id}")

    async def _wait_change(self, chat: ChatRecord, deadline: float, what: str) -> None:
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            recent = [(m.message_id, "bot" if m.from_bot else "user", m.text or m.caption)
                      for m in list(chat.messages.values())[-5:]]
            raise TimeoutError(f"{what}; last messages: {recent}")
        try:
            await asyncio.wait_for(chat.changed.wait(), remaining)
        except TimeoutError:
            pass

    def callback_answer(self, callback_query_id: str) -> dict[str, Any] | None:
        """The bot's answerCallbackQuery for a pressed button ({text, show_alert, url, cache_time}) or None."""
        query = self.state.callbacks.get(callback_query_id)
        return query.answer if query else None

    async def wait_callback_answer(self, callback_query_id: str,
                                   timeout: float = 5.0) -> dict[str, Any]:  # noqa: ASYNC109
        """Wait until the bot answers a callback query."""
        query = self.state.callbacks.get(callback_query_id)
        if query is None:
            raise SimulationError(f"unknown callback query {callback_query_id}")
        await asyncio.wait_for(query.answered.wait(), timeout)
        assert query.answer is not None
        return query.answer

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue receiving every change: message, edit, delete, callback_answer events."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.state.subscribers.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        """Stop delivering events to ``queue``."""
        if queue in self.state.subscribers:
            self.state.subscribers.remove(queue)
