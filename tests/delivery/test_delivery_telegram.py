"""The Telegram sender end to end: the real aiogram Bot against the local Bot API server, a real
database (SQLite, and PostgreSQL when configured), and the outbox in between."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.ratelimit import RateLimits
from bot.delivery.telegram import TelegramSender
from handlers.events import MediaRef
from handlers.messages import Button, KeyboardButton, MessageRef, OutMessage
from localapi.telegram.ratelimit import RateLimiter as ServerLimiter
from localapi.telegram.ratelimit import RateLimits as ServerLimits
from localapi.telegram.server import TelegramServer
from storage.models import (
    AgencyGroup,
    Card,
    Citizen,
    Complaint,
    MediaFile,
    MessageLink,
    OutboxMessage,
    utcnow,
)
from storage.outbox import OutboxRepo
from storage.uow import UnitOfWork

pytestmark = pytest.mark.e2e

SM = async_sessionmaker[AsyncSession]
MakeSender = Callable[..., TelegramSender]
MakeCard = Callable[..., Awaitable[Card]]
MakeComplaint = Callable[..., Awaitable[Complaint]]
StorePhoto = Callable[..., Awaitable[str]]

BUTTONS = ((Button("Terima", "acc:1"), Button("Tolak", "rej:1")),)


async def enqueue(sm: SM, chat_id: int | str, message: OutMessage, **kw: Any) -> int:
    async with UnitOfWork(sm) as uow:
        row = await uow.outbox.enqueue("telegram", chat_id, message, **kw)
        await uow.flush()
        row_id = row.id
        await uow.commit()
    return row_id


async def enqueue_card(sm: SM, card: Card, message: OutMessage) -> int:
    async with UnitOfWork(sm) as uow:
        row = await uow.outbox.enqueue_card(card, message)
        await uow.flush()
        row_id = row.id
        await uow.commit()
    return row_id


async def enqueue_edit(sm: SM, card: Card, message: OutMessage) -> int:
    async with UnitOfWork(sm) as uow:
        row = await uow.outbox.enqueue_card_edit(card, message)
        await uow.flush()
        row_id = row.id
        await uow.commit()
    return row_id


async def get_row(sm: SM, row_id: int) -> OutboxMessage:
    async with sm() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        return row


async def get_card(sm: SM, card_id: int) -> Card:
    async with sm() as session:
        card = await session.get(Card, card_id)
        assert card is not None
        return card


async def links(sm: SM, complaint_id: int) -> list[tuple[str, str, str]]:
    async with sm() as session:
        rows = await session.scalars(
            select(MessageLink).where(MessageLink.complaint_id == complaint_id).order_by(MessageLink.id)
        )
        return [(link.chat_id, link.message_id, link.role) for link in rows]


def started_user(server: TelegramServer, name: str = "Siti") -> Any:
    user = server.create_user(name)
    user.send_text("/start")  # the bot may only write to users who wrote first
    return user


def texts(server: TelegramServer, chat_id: int) -> list[str | None]:
    return [m.text or m.caption for m in server.bot_messages(chat_id)]


# ---------------------------------------------------------------------------------------------- rendering


async def test_private_message_with_keyboard_and_reply(sessionmaker: SM, server: TelegramServer,
                                                       make_sender: MakeSender) -> None:
    user = started_user(server)
    first = await enqueue(sessionmaker, user.id, OutMessage("<b>Halo</b> &amp; selamat datang"))
    kb = OutMessage("Kirim lokasi", keyboard=((KeyboardButton("📍 Lokasi", request_location=True),),))
    await enqueue(sessionmaker, user.id, kb)
    await enqueue(sessionmaker, user.id, OutMessage("Alasan?", force_reply=True))
    assert await make_sender().drain(5) == 3
    sent = server.bot_messages(user.id)
    assert [m.text for m in sent] == ["Halo & selamat datang", "Kirim lokasi", "Alasan?"]
    assert sent[0].entities and sent[0].entities[0]["type"] == "bold"
    assert sent[1].reply_markup is not None and sent[1].reply_markup["keyboard"][0][0]["request_location"] is True
    assert sent[1].reply_markup["one_time_keyboard"] is True
    assert sent[2].reply_markup == {"force_reply": True, "selective": True}
    row = await get_row(sessionmaker, first)
    assert row.status == "sent" and row.result_message_ids == [str(sent[0].message_id)] and row.attempts == 1

    reply = OutMessage("Balasan", reply_to=MessageRef("message", message_id=sent[0].message_id),
                       remove_keyboard=True)
    await enqueue(sessionmaker, user.id, reply)
    await make_sender().drain(5)
    last = server.bot_messages(user.id)[-1]
    assert last.text == "Balasan" and last.reply_to_message_id == sent[0].message_id
    assert not server.spec_violations, server.spec_violations


async def test_card_delivery_sets_message_id_and_links(sessionmaker: SM, server: TelegramServer,
                                                       make_sender: MakeSender, make_card: MakeCard) -> None:
    staff = server.create_user("Budi")
    group = server.create_group("DLH", [staff])
    card = await make_card(group.id)
    row_id = await enqueue_card(sessionmaker, card, OutMessage("<b>JMB-1</b> Sampah", buttons=BUTTONS))
    await make_sender().drain(5)
    message = server.bot_messages(group.id)[-1]
    assert message.text == "JMB-1 Sampah"
    assert [b["callback_data"] for b in message.buttons()] == ["acc:1", "rej:1"]
    stored = await get_card(sessionmaker, card.id)
    assert stored.message_id == message.message_id and stored.kind == "text"
    assert await links(sessionmaker, card.complaint_id) == [(str(group.id), str(message.message_id), "card")]
    assert (await get_row(sessionmaker, row_id)).status == "sent"


async def test_photo_card_uploads_once_then_reuses_the_file_id(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard, store_photo: StorePhoto
) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    sha = await store_photo()
    card = await make_card(group.id)
    await enqueue_card(sessionmaker, card, OutMessage("Foto <i>laporan</i>", buttons=BUTTONS, photos=(MediaRef(sha),),
                                                      location=(-1.6, 103.6)))
    await make_sender().drain(5)
    message = server.bot_messages(group.id)[-1]
    assert message.photo and message.caption == "Foto laporan" and list(message.buttons())
    assert len(server.bot_messages(group.id)) == 1  # no extra location message on Telegram
    stored = await get_card(sessionmaker, card.id)
    assert stored.message_id == message.message_id and stored.kind == "photo"
    async with sessionmaker() as session:
        media = await session.get(MediaFile, sha)
        assert media is not None and media.telegram_file_id == message.photo[-1]["file_id"]
    uploads_before = server.calls["sendPhoto"]
    await enqueue(sessionmaker, group.id, OutMessage("lagi", photos=(MediaRef(sha),)))
    await make_sender().drain(5)
    again = server.bot_messages(group.id)[-1]
    assert again.photo and again.photo[-1]["file_id"] == message.photo[-1]["file_id"]
    assert server.calls["sendPhoto"] == uploads_before + 1


async def test_long_caption_goes_as_separate_text(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard, store_photo: StorePhoto
) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    sha = await store_photo()
    card = await make_card(group.id)
    long_text = "<b>Laporan</b> " + "x" * 1100
    await enqueue_card(sessionmaker, card, OutMessage(long_text, buttons=BUTTONS, photos=(MediaRef(sha),)))
    await make_sender().drain(5)
    photo, text = server.bot_messages(group.id)
    assert photo.photo and photo.caption is None and not list(photo.buttons())
    assert text.text is not None and text.text.startswith("Laporan ") and list(text.buttons())
    assert text.reply_to_message_id == photo.message_id
    stored = await get_card(sessionmaker, card.id)
    assert stored.message_id == text.message_id and stored.kind == "text"
    assert await links(sessionmaker, card.complaint_id) == [
        (str(group.id), str(photo.message_id), "album"),
        (str(group.id), str(text.message_id), "card"),
    ]


async def test_album_card_then_text_with_buttons(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard, store_photo: StorePhoto
) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    shas = [await store_photo(gray=g) for g in (40, 90, 140)]
    card = await make_card(group.id)
    row_id = await enqueue_card(
        sessionmaker, card, OutMessage("Tiga foto", buttons=BUTTONS, photos=tuple(MediaRef(s) for s in shas))
    )
    await make_sender().drain(5)
    sent = server.bot_messages(group.id)
    assert [bool(m.photo) for m in sent] == [True, True, True, False]
    assert len({m.media_group_id for m in sent[:3]}) == 1 and sent[0].media_group_id
    assert sent[3].text == "Tiga foto" and sent[3].reply_to_message_id == sent[0].message_id
    stored = await get_card(sessionmaker, card.id)
    assert stored.message_id == sent[3].message_id and stored.kind == "text"
    roles = [role for _chat, _mid, role in await links(sessionmaker, card.complaint_id)]
    assert roles == ["album", "album", "album", "card"]
    assert (await get_row(sessionmaker, row_id)).result_message_ids == [str(m.message_id) for m in sent]


async def test_notification_links_with_role_and_staff(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_complaint: MakeComplaint
) -> None:
    user = started_user(server)
    complaint = await make_complaint(user.id)
    await enqueue(sessionmaker, user.id, OutMessage("Status berubah"), complaint_id=complaint.id,
                  link_role="notification")
    group = server.create_group("DLH", [server.create_user("Budi")])
    await enqueue(sessionmaker, group.id, OutMessage("Alasan penolakan?", force_reply=True),
                  complaint_id=complaint.id, link_role="reject_prompt", link_staff_user_id=555)
    await make_sender().drain(5)
    async with sessionmaker() as session:
        rows = (await session.scalars(select(MessageLink).order_by(MessageLink.id))).all()
        assert [(r.chat_id, r.role, r.staff_user_id) for r in rows] == [
            (str(user.id), "notification", None),
            (str(group.id), "reject_prompt", "555"),
        ]


# ---------------------------------------------------------------------------------------------- edits


async def test_edits_coalesce_and_wait_for_the_card(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard, store_photo: StorePhoto
) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    card = await make_card(group.id)
    # the edits are queued before the card itself has been delivered
    await enqueue_card(sessionmaker, card, OutMessage("v1", buttons=BUTTONS))
    for version in ("v2", "v3", "v4"):
        await enqueue_edit(sessionmaker, card, OutMessage(version, buttons=BUTTONS))
    await make_sender().drain(5)
    assert server.calls["editMessageText"] == 1
    message = server.bot_messages(group.id)[-1]
    assert message.text == "v4" and message.edited
    async with sessionmaker() as session:
        statuses = (await session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id))).all()
    assert statuses == ["sent", "superseded", "superseded", "sent"]

    # an identical edit is "message is not modified": success, not failure
    await enqueue_edit(sessionmaker, card, OutMessage("v4", buttons=BUTTONS))
    await make_sender().drain(5)
    async with sessionmaker() as session:
        last = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()))).first()
        assert last is not None and last.status == "sent"

    # a photo card is edited through its caption, and the buttons can go away
    sha = await store_photo()
    photo_card = await make_card(group.id)
    await enqueue_card(sessionmaker, photo_card, OutMessage("foto v1", buttons=BUTTONS, photos=(MediaRef(sha),)))
    await enqueue_edit(sessionmaker, photo_card, OutMessage("foto <b>selesai</b>"))
    await make_sender().drain(5)
    edited = server.bot_messages(group.id)[-1]
    assert edited.caption == "foto selesai" and not list(edited.buttons())


async def test_edit_of_a_card_that_failed_fails_too(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard
) -> None:
    card = await make_card(-999_999)  # no such chat
    await enqueue_card(sessionmaker, card, OutMessage("v1"))
    await enqueue_edit(sessionmaker, card, OutMessage("v2"))
    await make_sender().drain(5)
    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [r.status for r in rows] == ["failed", "failed"]
    assert "chat not found" in (rows[0].last_error or "")


async def test_reply_to_a_card_not_yet_delivered_waits_for_it(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard
) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    card = await make_card(group.id)
    # the reply is queued before the card (the worst order): the card still goes first
    reply_id = await enqueue(sessionmaker, group.id,
                             OutMessage("Balasan warga", reply_to=MessageRef("card", complaint_id=card.complaint_id)))
    await enqueue_card(sessionmaker, card, OutMessage("Kartu", buttons=BUTTONS))
    await make_sender().drain(5)
    card_message, reply = server.bot_messages(group.id)
    assert card_message.text == "Kartu" and reply.text == "Balasan warga"
    assert reply.reply_to_message_id == card_message.message_id
    assert (await get_row(sessionmaker, reply_id)).attempts == 1  # waiting was not a failed attempt


# ---------------------------------------------------------------------------------------------- limits


async def test_burst_of_30_cards_to_one_group_in_order_exactly_once(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard
) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    cards = [await make_card(group.id) for _ in range(30)]
    for n, card in enumerate(cards):
        await enqueue_card(sessionmaker, card, OutMessage(f"Kartu {n}", buttons=BUTTONS))
    assert await make_sender().drain(10) == 30
    assert texts(server, group.id) == [f"Kartu {n}" for n in range(30)]
    for card in cards:
        assert (await get_card(sessionmaker, card.id)).message_id is not None
    async with sessionmaker() as session:
        assert await OutboxRepo(session).pending_count() == 0


async def test_our_limiter_keeps_the_server_group_limit_from_ever_answering_429(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    """Time-scaled: the server's clock runs 100x fast, so its 60-second group window lasts 0.6 s."""
    scale = 100.0
    server_limits = ServerLimits(group_per_minute=5)
    server.api.limiter = ServerLimiter(server_limits, clock=lambda: time.monotonic() * scale)
    group = server.create_group("DLH", [server.create_user("Budi")])
    for n in range(16):
        await enqueue(sessionmaker, group.id, OutMessage(f"m{n}"))
    limits = RateLimits(group_per_minute=5, group_window=60.0 / scale, margin=0.05)
    started = time.monotonic()
    await make_sender(limits=limits).drain(15)
    elapsed = time.monotonic() - started
    assert texts(server, group.id) == [f"m{n}" for n in range(16)]
    assert server.calls["sendMessage"] == 16  # not one call refused
    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
        assert all(r.status == "sent" and r.attempts == 1 and r.last_error is None for r in rows)
    assert elapsed >= 3 * 0.6  # 16 messages at 5 per window need three full windows


async def test_429_storm_waits_then_delivers_everything_once(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    users = [started_user(server, f"U{i}") for i in range(3)]
    group = server.create_group("DLH", [server.create_user("Budi")])
    chats = [u.id for u in users] + [group.id]
    for n in range(4):
        for chat in chats:
            await enqueue(sessionmaker, chat, OutMessage(f"{chat}:{n}"))
    server.inject_flood(retry_after=1, count=6)
    started = time.monotonic()
    await make_sender().drain(20)
    assert time.monotonic() - started >= 1.0
    for chat in chats:
        assert texts(server, chat) == [f"{chat}:{n}" for n in range(4)]
    async with sessionmaker() as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
        assert all(r.status == "sent" for r in rows)
        assert all(r.attempts == 1 for r in rows)  # a flood wait is not a failed attempt
        assert any("retry" in (r.last_error or "").lower() for r in rows)


# ---------------------------------------------------------------------------------------------- failures


@pytest.mark.parametrize("mode", ["disconnect", "502"])
async def test_network_failure_is_retried(sessionmaker: SM, server: TelegramServer, make_sender: MakeSender,
                                          mode: str) -> None:
    user = started_user(server)
    row_id = await enqueue(sessionmaker, user.id, OutMessage("tetap sampai"))
    server.fail_network(2, mode=mode)
    await make_sender().drain(10)
    assert texts(server, user.id) == ["tetap sampai"]
    row = await get_row(sessionmaker, row_id)
    assert row.status == "sent" and row.attempts == 3 and row.last_error


async def test_gives_up_after_max_attempts(sessionmaker: SM, server: TelegramServer,
                                           make_sender: MakeSender) -> None:
    user = started_user(server)
    row_id = await enqueue(sessionmaker, user.id, OutMessage("tidak sampai"))
    server.fail_network(100, mode="502")
    await make_sender(max_attempts=3).drain(10)
    row = await get_row(sessionmaker, row_id)
    assert row.status == "failed" and row.attempts == 3 and "gave up after 3 attempts" in (row.last_error or "")


async def test_blocked_user_fails_once_and_is_marked(sessionmaker: SM, server: TelegramServer,
                                                     make_sender: MakeSender, make_complaint: MakeComplaint) -> None:
    user = started_user(server)
    await make_complaint(user.id)  # the citizen row exists
    server.block_bot(user)
    first = await enqueue(sessionmaker, user.id, OutMessage("satu"))
    await enqueue(sessionmaker, user.id, OutMessage("dua"))
    await make_sender().drain(5)
    row = await get_row(sessionmaker, first)
    assert row.status == "failed" and row.attempts == 1 and "blocked" in (row.last_error or "")
    assert server.calls["sendMessage"] == 2  # one try each, no retries
    async with sessionmaker() as session:
        citizen = (await session.scalars(select(Citizen).where(Citizen.channel_user_id == str(user.id)))).one()
        assert citizen.blocked_bot is True


async def test_user_who_never_started_the_bot(sessionmaker: SM, server: TelegramServer,
                                              make_sender: MakeSender) -> None:
    user = server.create_user("Diam")
    row_id = await enqueue(sessionmaker, user.id, OutMessage("halo"))
    await make_sender().drain(5)
    row = await get_row(sessionmaker, row_id)
    assert row.status == "failed" and "initiate" in (row.last_error or "")


async def test_group_migrated_to_supergroup(sessionmaker: SM, server: TelegramServer,
                                            make_sender: MakeSender, make_card: MakeCard) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    async with UnitOfWork(sessionmaker) as uow:
        await uow.agencies.link("dlh", group.id, title="DLH", linked_by=None, now=utcnow())
        await uow.commit()
    new_id = server.migrate_to_supergroup(group.id)
    card = await make_card(group.id)
    row_id = await enqueue_card(sessionmaker, card, OutMessage("Kartu", buttons=BUTTONS))
    await enqueue(sessionmaker, group.id, OutMessage("sesudahnya"))
    await make_sender().drain(5)
    assert texts(server, new_id) == ["Kartu", "sesudahnya"]
    row = await get_row(sessionmaker, row_id)
    assert row.status == "sent" and row.chat_id == str(new_id) and row.attempts == 1
    async with sessionmaker() as session:
        agency = await session.get(AgencyGroup, "dlh")
        assert agency is not None and agency.chat_id == new_id
    stored = await get_card(sessionmaker, card.id)
    assert stored.chat_id == new_id and stored.message_id == server.bot_messages(new_id)[-2].message_id


async def test_bad_request_fails_with_the_description(sessionmaker: SM, server: TelegramServer,
                                                      make_sender: MakeSender) -> None:
    user = started_user(server)
    bad = await enqueue(sessionmaker, user.id, OutMessage("<b>unclosed"))
    good = await enqueue(sessionmaker, user.id, OutMessage("berikutnya"))
    await make_sender().drain(5)
    row = await get_row(sessionmaker, bad)
    assert row.status == "failed" and (row.last_error or "").startswith("Bad Request")
    assert (await get_row(sessionmaker, good)).status == "sent"


async def test_unexpected_exception_retries_the_row_and_keeps_going(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = started_user(server)
    other = started_user(server, "Other")
    row_id = await enqueue(sessionmaker, user.id, OutMessage("halo"))
    await enqueue(sessionmaker, other.id, OutMessage("lainnya"))
    sender = make_sender()
    original = sender.bot.send_message
    calls = {"n": 0}

    async def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("boom")
        return await original(*args, **kwargs)

    monkeypatch.setattr(sender.bot, "send_message", flaky)
    await sender.drain(5)
    assert texts(server, user.id) == ["halo"] and texts(server, other.id) == ["lainnya"]
    row = await get_row(sessionmaker, row_id)
    assert row.status == "sent" and row.attempts == 2 and "boom" in (row.last_error or "")


# ---------------------------------------------------------------------------------------------- crash safety


async def test_rows_marked_sent_are_never_resent(sessionmaker: SM, server: TelegramServer,
                                                 make_sender: MakeSender) -> None:
    user = started_user(server)
    for n in range(5):
        await enqueue(sessionmaker, user.id, OutMessage(f"m{n}"))
    await make_sender().drain(5)
    assert await make_sender().drain(2) == 0  # a new instance (a restart) finds nothing to do
    assert texts(server, user.id) == [f"m{n}" for n in range(5)]


async def test_kill_between_send_and_commit_resends_at_most_once(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = started_user(server)
    await enqueue(sessionmaker, user.id, OutMessage("penting"))
    await enqueue(sessionmaker, user.id, OutMessage("berikutnya"))
    sender = make_sender(poll_interval=0.01)
    sent = asyncio.Event()

    async def hang(*_args: Any, **_kw: Any) -> None:
        sent.set()
        await asyncio.Event().wait()  # the process "dies" here: Telegram said 200, we never commit

    monkeypatch.setattr(sender, "_record", hang)
    task = asyncio.create_task(sender.run())
    await asyncio.wait_for(sent.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert texts(server, user.id) == ["penting"]

    await make_sender().drain(5)  # the restarted process
    assert texts(server, user.id) == ["penting", "penting", "berikutnya"]
    await make_sender().drain(2)
    assert texts(server, user.id) == ["penting", "penting", "berikutnya"]


async def test_album_progress_survives_a_failure_of_the_text(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, make_card: MakeCard,
    store_photo: StorePhoto, monkeypatch: pytest.MonkeyPatch,
) -> None:
    group = server.create_group("DLH", [server.create_user("Budi")])
    shas = [await store_photo(gray=g) for g in (40, 90)]
    card = await make_card(group.id)
    await enqueue_card(sessionmaker, card, OutMessage("Dua foto", buttons=BUTTONS,
                                                      photos=tuple(MediaRef(s) for s in shas)))
    sender = make_sender()
    original = sender.bot.send_message
    failures = {"n": 0}

    async def fail_once(*args: Any, **kwargs: Any) -> Any:
        if failures["n"] == 0:
            failures["n"] += 1
            server.fail_network(1)
        return await original(*args, **kwargs)

    monkeypatch.setattr(sender.bot, "send_message", fail_once)
    await sender.drain(5)
    sent = server.bot_messages(group.id)
    assert [bool(m.photo) for m in sent] == [True, True, False]  # the album went once
    assert server.calls["sendMediaGroup"] == 1
    stored = await get_card(sessionmaker, card.id)
    assert stored.message_id == sent[2].message_id


async def test_run_delivers_promptly_when_woken_and_stops_cleanly(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    user = started_user(server)
    sender = make_sender(poll_interval=30)
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop))
    await asyncio.sleep(0.1)
    await enqueue(sessionmaker, user.id, OutMessage("cepat"))
    sender.wake()
    message = await server.wait_for_message(user.id, timeout=2)
    assert message.text == "cepat"
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_other_channels_are_left_alone(sessionmaker: SM, server: TelegramServer,
                                             make_sender: MakeSender) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        await uow.outbox.enqueue("whatsapp", "whatsapp:+6281234", OutMessage("wa"))
        await uow.commit()
    assert await make_sender().drain(1) == 0
    async with sessionmaker() as session:
        assert await OutboxRepo(session).pending_count() == 1


async def test_deferred_rows_respect_next_attempt_at(sessionmaker: SM, server: TelegramServer,
                                                     make_sender: MakeSender) -> None:
    user = started_user(server)
    await enqueue(sessionmaker, user.id, OutMessage("nanti"), now=utcnow() + timedelta(seconds=0.5))
    started = time.monotonic()
    await make_sender().drain(5)
    assert time.monotonic() - started >= 0.4
    assert texts(server, user.id) == ["nanti"]


async def test_refused_file_id_falls_back_to_the_stored_bytes(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender, store_photo: StorePhoto
) -> None:
    user = started_user(server)
    sha = await store_photo()
    await enqueue(sessionmaker, user.id, OutMessage("foto", photos=(MediaRef(sha, telegram_file_id="stale-id"),)))
    await make_sender().drain(5)
    message = server.bot_messages(user.id)[-1]
    assert message.photo and message.caption == "foto"
    async with sessionmaker() as session:
        media = await session.get(MediaFile, sha)
        assert media is not None and media.telegram_file_id == message.photo[-1]["file_id"]
