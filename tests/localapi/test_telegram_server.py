"""The local Telegram server, driven by the real aiogram Bot like the project's e2e tests do."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
)
from aiogram.types import (
    BufferedInputFile,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyParameters,
)

from localapi.telegram import RateLimits, SimulationError, TelegramServer, make_jpeg
from localapi.telegram.errors import MESSAGE_NOT_MODIFIED


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=d, callback_data=d) for d in data]])


def make_bot(server: TelegramServer) -> Bot:
    return Bot(server.token, session=AiohttpSession(api=TelegramAPIServer.from_base(server.base_url)))


async def test_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456 and me.username == "sikesal_bot"


async def test_long_poll_wakes_on_user_message(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    loop = asyncio.get_running_loop()
    loop.call_later(0.2, alice.send_text, "/start")
    started = time.monotonic()
    updates = await bot.get_updates(timeout=10)
    assert time.monotonic() - started < 2
    assert len(updates) == 1
    message = updates[0].message
    assert message is not None and message.text == "/start" and message.from_user is not None
    assert message.from_user.id == alice.id and message.chat.type == "private"
    assert message.entities is not None and message.entities[0].type == "bot_command"


async def test_get_updates_offset_confirms(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    for text in ("one", "two", "three"):
        alice.send_text(text)
    first = await bot.get_updates(limit=2)
    assert [u.message.text for u in first if u.message] == ["one", "two"]
    rest = await bot.get_updates(offset=first[-1].update_id + 1)
    assert [u.message.text for u in rest if u.message] == ["three"]
    assert await bot.get_updates(offset=rest[-1].update_id + 1) == []
    assert len(tg.state.updates) == 0


async def test_allowed_updates_filters(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hello")
    sent = await bot.send_message(alice.id, "pick", reply_markup=keyboard("a"))
    alice.press_button(sent.message_id, "a")
    updates = await bot.get_updates(allowed_updates=["callback_query"])
    assert [u.callback_query is not None for u in updates] == [True]


async def test_send_message_html_entities(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("/start")
    html = ('<b>Laporan</b> <i>diterima</i> &lt;#12&gt; <a href="https://kota.go.id/l/1">cek</a> '
            "<code>A-1</code> <tg-spoiler>x</tg-spoiler> <u>u</u> <s>s</s>\n<blockquote>q</blockquote>")
    sent = await bot.send_message(alice.id, html, parse_mode="HTML")
    assert sent.text == "Laporan diterima <#12> cek A-1 x u s\nq"
    kinds = [(e.type, e.offset, e.length) for e in sent.entities or []]
    assert kinds == [("bold", 0, 7), ("italic", 8, 8), ("text_link", 23, 3), ("code", 27, 3), ("spoiler", 31, 1),
                     ("underline", 33, 1), ("strikethrough", 35, 1), ("blockquote", 37, 1)]
    stored = tg.bot_messages(alice.id)[-1]
    assert stored.html == html and stored.text == sent.text and stored.from_bot
    assert tg.spec_violations == []


async def test_entity_offsets_are_utf16(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    sent = await bot.send_message(alice.id, "🚧 <b>Jalan</b>", parse_mode="HTML")
    assert sent.entities is not None and (sent.entities[0].offset, sent.entities[0].length) == (3, 5)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("a <foo>b</foo>", 'Bad Request: can\'t parse entities: Unsupported start tag "foo" at byte offset 2'),
        ("<b>bold", 'Bad Request: can\'t parse entities: Can\'t find end tag corresponding to start tag "b"'),
        ("line<br>break", 'Bad Request: can\'t parse entities: Unsupported start tag "br" at byte offset 4'),
    ],
)
async def test_malformed_html_is_rejected(tg: TelegramServer, bot: Bot, html: str, expected: str) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(alice.id, html, parse_mode="HTML")
    assert info.value.message == expected


async def test_markdown_v2_requires_escaping(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    with pytest.raises(TelegramBadRequest, match=r"Character '\.' is reserved"):
        await bot.send_message(alice.id, "Jl. Sudirman", parse_mode="MarkdownV2")
    sent = await bot.send_message(alice.id, "*Jl\\. Sudirman*", parse_mode="MarkdownV2")
    assert sent.text == "Jl. Sudirman" and sent.entities and sent.entities[0].type == "bold"


async def test_text_and_caption_limits(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    await bot.send_message(alice.id, "x" * 4096)
    await bot.send_message(alice.id, "<b>" + "x" * 4096 + "</b>", parse_mode="HTML")  # counted after parsing
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(alice.id, "x" * 4097)
    assert info.value.message == "Bad Request: message is too long"
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_photo(alice.id, BufferedInputFile(make_jpeg(), "p.jpg"), caption="c" * 1025)
    assert info.value.message == "Bad Request: message caption is too long"
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(alice.id, "  \n ")
    assert info.value.message == "Bad Request: message text is empty"


async def test_callback_data_limits(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    await bot.send_message(alice.id, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(alice.id, "too long", reply_markup=keyboard("x" * 65))
    assert info.value.message == "Bad Request: BUTTON_DATA_INVALID"
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(alice.id, "multi-byte", reply_markup=keyboard("é" * 33))


async def test_cant_initiate_conversation_then_blocked(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    with pytest.raises(TelegramForbiddenError) as info:
        await bot.send_message(alice.id, "hello?")
    assert info.value.message == "Forbidden: bot can't initiate conversation with a user"
    alice.send_text("/start")
    await bot.send_message(alice.id, "hi")
    tg.block_bot(alice)
    with pytest.raises(TelegramForbiddenError) as info:
        await bot.send_message(alice.id, "still there?")
    assert info.value.message == "Forbidden: bot was blocked by the user"
    updates = await bot.get_updates()
    member_updates = [u.my_chat_member for u in updates if u.my_chat_member]
    assert member_updates[-1].new_chat_member.status == "kicked"
    tg.unblock_bot(alice)
    await bot.send_message(alice.id, "welcome back")


async def test_chat_not_found(bot: Bot) -> None:
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(424242, "hi")
    assert info.value.message == "Bad Request: chat not found"


async def test_injected_flood_gives_retry_after(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    tg.inject_flood(chat_id=alice.id, retry_after=7, count=1)
    with pytest.raises(TelegramRetryAfter) as info:
        await bot.send_message(alice.id, "x")
    assert info.value.retry_after == 7
    assert info.value.message.endswith("Original description: Too Many Requests: retry after 7")
    await bot.send_message(alice.id, "x")


async def test_network_failure(tg: TelegramServer, bot: Bot) -> None:
    tg.fail_network(1)
    with pytest.raises(TelegramNetworkError):
        await bot.get_me()
    assert (await bot.get_me()).is_bot


async def test_group_migration(tg: TelegramServer, bot: Bot) -> None:
    alice, bob = tg.create_user("Alice"), tg.create_user("Bob")
    group = tg.create_group("Warga RT 05", [alice, bob], admins=[bob])
    await bot.send_message(group.id, "halo warga")
    new_id = tg.migrate_to_supergroup(group.id)
    assert str(new_id).startswith("-100")
    with pytest.raises(TelegramMigrateToChat) as info:
        await bot.send_message(group.id, "halo lagi")
    assert info.value.migrate_to_chat_id == new_id
    assert "Bad Request: group chat was upgraded to a supergroup chat" in info.value.message
    sent = await bot.send_message(new_id, "halo supergroup")
    assert sent.chat.type == "supergroup"
    updates = await bot.get_updates()
    migrate = [u.message for u in updates if u.message and (u.message.migrate_to_chat_id
                                                             or u.message.migrate_from_chat_id)]
    assert migrate[0].migrate_to_chat_id == new_id and migrate[1].migrate_from_chat_id == group.id


async def test_group_creation_updates_and_members(tg: TelegramServer, bot: Bot) -> None:
    alice, bob, carol = tg.create_user("Alice"), tg.create_user("Bob"), tg.create_user("Carol")
    group = tg.create_group("Kelurahan", [alice, bob], admins=[bob])
    updates = await bot.get_updates()
    assert updates[0].my_chat_member is not None and updates[0].my_chat_member.new_chat_member.status == "member"
    assert updates[1].message is not None and updates[1].message.new_chat_members
    assert updates[1].message.new_chat_members[0].id == 123456
    statuses = {u.id: (await bot.get_chat_member(group.id, u.id)).status for u in (alice, bob, carol)}
    assert statuses == {alice.id: "creator", bob.id: "administrator", carol.id: "left"}
    tg.add_member(group, carol)
    assert (await bot.get_chat_member(group.id, carol.id)).status == "member"
    admins = await bot.get_chat_administrators(group.id)
    assert [a.user.id for a in admins] == [alice.id, bob.id]
    with pytest.raises(TelegramBadRequest, match="user not found"):
        await bot.get_chat_member(group.id, 999)
    chat = await bot.get_chat(group.id)
    assert chat.title == "Kelurahan" and chat.type == "group"
    tg.kick_bot(group)
    with pytest.raises(TelegramForbiddenError) as info:
        await bot.send_message(group.id, "x")
    assert info.value.message == "Forbidden: bot was kicked from the group chat"


async def test_photo_upload_file_id_reuse_and_download(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    jpeg = make_jpeg(640, 480)
    sent = await bot.send_photo(alice.id, BufferedInputFile(jpeg, "foto.jpg"), caption="<b>Foto</b>",
                                parse_mode="HTML")
    assert sent.photo is not None and len(sent.photo) >= 3
    assert (sent.photo[-1].width, sent.photo[-1].height) == (640, 480)
    assert sent.caption == "Foto" and sent.caption_entities and sent.caption_entities[0].type == "bold"
    again = await bot.send_photo(alice.id, sent.photo[-1].file_id)
    assert again.photo is not None and again.photo[-1].file_unique_id == sent.photo[-1].file_unique_id
    file = await bot.get_file(sent.photo[-1].file_id)
    assert file.file_path
    downloaded = await bot.download(file)
    assert downloaded is not None and downloaded.read() == jpeg


async def test_user_photo_and_document(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_photo(caption="jalan rusak")
    alice.send_document(b"%PDF-1.4", "laporan.pdf", "application/pdf", file_size=15 * 1024 * 1024)
    alice.send_document(b"big", "video.mov", "video/quicktime", file_size=25 * 1024 * 1024)
    updates = await bot.get_updates()
    photo_msg, doc_msg, big_msg = (u.message for u in updates)
    assert photo_msg is not None and photo_msg.photo is not None and len(photo_msg.photo) == 3
    assert photo_msg.caption == "jalan rusak"
    assert doc_msg is not None and doc_msg.document is not None
    assert doc_msg.document.file_size == 15 * 1024 * 1024 and doc_msg.document.file_name == "laporan.pdf"
    data = await bot.download(photo_msg.photo[-1].file_id)
    assert data is not None and data.read().startswith(b"\xff\xd8")
    with pytest.raises(TelegramBadRequest, match=r"wrong file identifier|type of file mismatch"):
        await bot.send_photo(alice.id, doc_msg.document.file_id)
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_photo(alice.id, "nonexistent-file-id")
    assert info.value.message == "Bad Request: wrong file identifier/HTTP URL specified"
    assert big_msg is not None and big_msg.document is not None
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(big_msg.document.file_id)


async def test_send_media_group(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    media: list[Any] = [InputMediaPhoto(media=BufferedInputFile(make_jpeg(), f"{i}.jpg"), caption=f"foto {i}")
             for i in range(3)]
    album = await bot.send_media_group(alice.id, media)
    assert len(album) == 3 and len({m.media_group_id for m in album}) == 1 and album[0].media_group_id
    assert [m.caption for m in album] == ["foto 0", "foto 1", "foto 2"]
    with pytest.raises(TelegramBadRequest, match="wrong number of media"):
        await bot.send_media_group(alice.id, media[:1])
    assert tg.spec_violations == []


async def test_location_and_venue(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    loc = await bot.send_location(alice.id, -6.2, 106.8)
    assert loc.location is not None and loc.location.latitude == pytest.approx(-6.2)
    venue = await bot.send_venue(alice.id, -6.2, 106.8, "Kantor Lurah", "Jl. Merdeka 1")
    assert venue.venue is not None and venue.venue.title == "Kantor Lurah" and venue.location is not None


async def test_edits(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    user_msg = alice.send_text("hi")
    sent = await bot.send_message(alice.id, "Status: <b>baru</b>", parse_mode="HTML", reply_markup=keyboard("a"))
    waiter = asyncio.create_task(tg.wait_for_edit(alice.id, sent.message_id))
    edited = await bot.edit_message_text("Status: <b>diproses</b>", chat_id=alice.id, message_id=sent.message_id,
                                         parse_mode="HTML", reply_markup=keyboard("a"))
    assert not isinstance(edited, bool) and edited.text == "Status: diproses" and edited.edit_date
    assert (await waiter).text == "Status: diproses"
    with pytest.raises(TelegramBadRequest) as info:
        await bot.edit_message_text("Status: <b>diproses</b>", chat_id=alice.id, message_id=sent.message_id,
                                    parse_mode="HTML", reply_markup=keyboard("a"))
    assert info.value.message == f"Bad Request: {MESSAGE_NOT_MODIFIED}"
    # Same text without the keyboard is a modification (the keyboard is removed).
    await bot.edit_message_text("Status: <b>diproses</b>", chat_id=alice.id, message_id=sent.message_id,
                                parse_mode="HTML")
    assert tg.messages(alice.id)[-1].reply_markup is None
    with pytest.raises(TelegramBadRequest) as info:
        await bot.edit_message_text("x", chat_id=alice.id, message_id=9999)
    assert info.value.message == "Bad Request: message to edit not found"
    with pytest.raises(TelegramBadRequest) as info:
        await bot.edit_message_text("x", chat_id=alice.id, message_id=user_msg.message_id)
    assert info.value.message == "Bad Request: message can't be edited"
    photo = await bot.send_photo(alice.id, BufferedInputFile(make_jpeg(), "p.jpg"), caption="lama")
    edited = await bot.edit_message_caption(chat_id=alice.id, message_id=photo.message_id, caption="baru")
    assert not isinstance(edited, bool) and edited.caption == "baru"
    edited = await bot.edit_message_reply_markup(chat_id=alice.id, message_id=photo.message_id,
                                                 reply_markup=keyboard("b"))
    assert not isinstance(edited, bool) and edited.reply_markup is not None
    stored = tg.messages(alice.id)
    assert stored[-1].caption == "baru" and stored[-1].edited


async def test_delete_and_copy(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    original = alice.send_text("tolong")
    copy = await bot.copy_message(alice.id, alice.id, original.message_id)
    assert tg.messages(alice.id)[-1].text == "tolong" and tg.messages(alice.id)[-1].from_bot
    assert await bot.delete_message(alice.id, copy.message_id)
    assert [m.text for m in tg.messages(alice.id)] == ["tolong"]
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(alice.id, copy.message_id)
    forwarded = await bot.forward_message(alice.id, alice.id, original.message_id)
    assert forwarded.forward_origin is not None


async def test_reply_parameters(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    question = alice.send_text("kapan?")
    sent = await bot.send_message(alice.id, "besok", reply_parameters=ReplyParameters(message_id=question.message_id))
    assert sent.reply_to_message is not None and sent.reply_to_message.text == "kapan?"
    assert tg.messages(alice.id)[-1].reply_to_message_id == question.message_id
    with pytest.raises(TelegramBadRequest) as info:
        await bot.send_message(alice.id, "x", reply_parameters=ReplyParameters(message_id=777))
    assert info.value.message == "Bad Request: message to be replied not found"
    ok = await bot.send_message(
        alice.id, "x", reply_parameters=ReplyParameters(message_id=777, allow_sending_without_reply=True))
    assert ok.reply_to_message is None


async def test_press_button_and_alert(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("/start")
    sent = await bot.send_message(alice.id, "Kategori?", reply_markup=keyboard("jalan", "sampah"))
    await bot.get_updates()
    query_id = alice.press_button(sent.message_id, "sampah")
    updates = await bot.get_updates(offset=-1)
    query = updates[-1].callback_query
    assert query is not None and query.id == query_id and query.data == "sampah"
    assert query.message is not None and query.message.message_id == sent.message_id
    assert tg.callback_answer(query_id) is None
    await bot.answer_callback_query(query_id, text="Dipilih: sampah", show_alert=True)
    answer = await tg.wait_callback_answer(query_id)
    assert answer["text"] == "Dipilih: sampah" and answer["show_alert"] is True
    with pytest.raises(TelegramBadRequest) as info:
        await bot.answer_callback_query(query_id)
    assert info.value.message == ("Bad Request: query is too old and response timeout expired or query ID is "
                                  "invalid")


async def test_press_missing_button_is_refused(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("/start")
    sent = await bot.send_message(alice.id, "Kategori?", reply_markup=keyboard("jalan"))
    with pytest.raises(SimulationError):
        alice.press_button(sent.message_id, "banjir")
    with pytest.raises(SimulationError):
        alice.press_button(9999, "jalan")


async def test_reply_keyboard_and_share_location(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("/lapor")
    with pytest.raises(SimulationError):
        alice.share_location(-6.2, 106.8)
    markup = ReplyKeyboardMarkup(keyboard=[[KeyboardButton(text="Kirim lokasi", request_location=True)],
                                           [KeyboardButton(text="Batal")]], one_time_keyboard=True)
    await bot.send_message(alice.id, "Lokasi?", reply_markup=markup)
    shared = alice.share_location(-6.2, 106.8)
    assert shared.extra["location"]["latitude"] == -6.2
    await bot.send_message(alice.id, "Lagi?", reply_markup=markup)
    pressed = alice.press_reply_button("Batal")
    assert pressed.text == "Batal"
    with pytest.raises(SimulationError):
        alice.press_reply_button("Batal")  # one-time keyboard is gone


async def test_wait_for_message(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    await bot.send_message(alice.id, "old")
    waiter = asyncio.create_task(tg.wait_for_message(alice.id))
    await asyncio.sleep(0)
    await bot.send_message(alice.id, "new")
    assert (await waiter).text == "new"
    found = await tg.wait_for_message(alice.id, lambda m: m.text == "old")
    assert found.text == "old"
    with pytest.raises(TimeoutError):
        await tg.wait_for_message(alice.id, timeout=0.05)


async def test_subscribe_events(tg: TelegramServer, bot: Bot) -> None:
    queue = tg.subscribe()
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    sent = await bot.send_message(alice.id, "halo")
    await bot.delete_message(alice.id, sent.message_id)
    kinds = [queue.get_nowait()["type"] for _ in range(queue.qsize())]
    assert kinds == ["message", "message", "delete"]


async def test_commands(bot: Bot) -> None:
    from aiogram.types import BotCommand

    assert await bot.set_my_commands([BotCommand(command="lapor", description="Buat laporan")])
    assert [c.command for c in await bot.get_my_commands()] == ["lapor"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []


async def test_group_rate_limit() -> None:
    limits = RateLimits(group_per_minute=3)
    async with TelegramServer(rate_limits=limits) as tg:
        bot = make_bot(tg)
        try:
            alice = tg.create_user("Alice")
            group = tg.create_group("G", [alice])
            for i in range(3):
                await bot.send_message(group.id, f"m{i}")
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(group.id, "one too many")
            assert 55 <= info.value.retry_after <= 60
            assert info.value.message.endswith(f"Too Many Requests: retry after {info.value.retry_after}")
            # edits count toward the group limit too
            with pytest.raises(TelegramRetryAfter):
                await bot.edit_message_text("e", chat_id=group.id, message_id=3)
        finally:
            await bot.session.close()


async def test_private_rate_limit_allows_bursts() -> None:
    async with TelegramServer(rate_limits=RateLimits(private_burst=3)) as tg:
        bot = make_bot(tg)
        try:
            alice = tg.create_user("Alice")
            alice.send_text("hi")
            for i in range(3):
                await bot.send_message(alice.id, f"m{i}")
            with pytest.raises(TelegramRetryAfter) as info:
                await bot.send_message(alice.id, "burst over")
            assert info.value.retry_after == 1
        finally:
            await bot.session.close()


async def test_webhook(tg: TelegramServer, bot: Bot) -> None:
    from aiohttp import web

    received: list[tuple[dict[str, object], str | None]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(TelegramConflictError) as info:
            await bot.get_updates()
        assert "can't use getUpdates method while webhook is active" in info.value.message
        alice = tg.create_user("Alice")
        alice.send_text("/start")
        for _ in range(100):
            if received:
                break
            await asyncio.sleep(0.02)
        assert received and received[0][1] == "s3cret"
        assert received[0][0]["message"]["text"] == "/start"  # type: ignore[index]
        info_obj = await bot.get_webhook_info()
        assert info_obj.url.endswith("/hook") and info_obj.pending_update_count == 0
        assert await bot.delete_webhook()
        assert await bot.get_updates() == []
    finally:
        await runner.cleanup()


async def test_raw_http_errors_and_encodings(tg: TelegramServer) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("hi")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{tg.base_url}/bot999:WRONG/getMe") as resp:
            assert resp.status == 401
            assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        async with http.get(f"{tg.base_url}/bot{tg.token}/noSuchMethod") as resp:
            assert resp.status == 404 and (await resp.json())["description"] == "Not Found"
        async with http.get(f"{tg.base_url}/bot{tg.token}/GETME") as resp:
            assert (await resp.json())["result"]["username"] == "sikesal_bot"
        url = f"{tg.base_url}/bot{tg.token}/sendMessage"
        async with http.post(url, json={"chat_id": alice.id, "text": "json", "reply_markup": {
                "inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}}) as resp:
            assert (await resp.json())["result"]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "a"
        async with http.post(url, data={"chat_id": str(alice.id), "text": "12345",
                                        "disable_notification": "true"}) as resp:
            body = await resp.json()
            assert body["ok"] and body["result"]["text"] == "12345"
        async with http.get(url, params={"chat_id": str(alice.id), "text": "query"}) as resp:
            assert (await resp.json())["result"]["text"] == "query"
        form = aiohttp.FormData()
        form.add_field("chat_id", str(alice.id))
        form.add_field("photo", make_jpeg(), filename="direct.jpg", content_type="image/jpeg")
        async with http.post(f"{tg.base_url}/bot{tg.token}/sendPhoto", data=form) as resp:
            assert len((await resp.json())["result"]["photo"]) >= 3
        async with http.post(url, data={"chat_id": str(alice.id), "text": "x",
                                        "reply_markup": "{not json"}) as resp:
            assert resp.status == 400
    assert tg.spec_warnings == []


async def test_spec_validation() -> None:
    async with TelegramServer(rate_limits=False) as tg:
        if tg.spec is None:
            pytest.skip("shared/specs/telegram-bot-api.json not found next to the project")
        alice = tg.create_user("Alice")
        alice.send_text("hi")
        async with aiohttp.ClientSession() as http:
            url = f"{tg.base_url}/bot{tg.token}/sendMessage"
            async with http.post(url, json={"chat_id": alice.id}) as resp:
                assert resp.status == 400
                assert (await resp.json())["description"] == "Bad Request: message text is empty"
            assert any("missing required parameter 'text'" in v for v in tg.spec_violations)
            tg.spec_violations.clear()
            async with http.post(url, json={"text": "x"}) as resp:
                assert (await resp.json())["description"] == "Bad Request: chat_id is empty"
            async with http.post(url, json={"chat_id": alice.id, "text": "x", "disable_notification": "maybe"}) as r:
                assert r.status == 400
            async with http.post(url, json={"chat_id": alice.id, "text": "x", "reply_markup": {
                    "inline_keyboard": [[{"callback_data": "no text"}]]}}) as resp:
                assert resp.status == 400
            assert tg.spec_violations
            async with http.post(url, json={"chat_id": alice.id, "text": "x", "brand_new_param": 1}) as resp:
                assert resp.status == 200
            assert any("brand_new_param" in w for w in tg.spec_warnings)


async def test_without_spec_still_decodes_forms() -> None:
    async with TelegramServer(spec_path=False, rate_limits=False) as tg:
        assert tg.spec is None
        bot = make_bot(tg)
        try:
            alice = tg.create_user("Alice")
            alice.send_text("hi")
            sent = await bot.send_message(alice.id, "hi", reply_markup=keyboard("a"))
            assert sent.reply_markup is not None
            await bot.send_location(alice.id, 1.5, 2.5)
        finally:
            await bot.session.close()
