"""Editing a message in a citizen's chat, through the outbox: the real aiogram Bot against the local Bot
API server (validated against the spec), SQLite and PostgreSQL.

* taking used buttons off (editMessageReplyMarkup without a keyboard); "not modified" is done; a
  message that cannot be edited keeps its buttons and nothing else happens;
* changing a message in place (editMessageText); one that cannot be edited is sent anew;
* a message that must both take the reply keyboard away and show inline buttons is ONE message:
  sent with the keyboard removal, then given its buttons (Telegram takes one markup per call), and a
  retry after the text went out only adds the buttons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.telegram import TelegramSender
from handlers.messages import EDIT_BUTTONS, EDIT_CONTENT, Button, EditTarget, KeyboardButton, OutMessage
from localapi.telegram.server import TelegramServer
from storage.models import OutboxMessage
from storage.uow import UnitOfWork

pytestmark = pytest.mark.e2e

SM = async_sessionmaker[AsyncSession]
MakeSender = Callable[..., TelegramSender]
MENU = ((Button("📨 Kirim", "sum:send~3"),), (Button("✏️ Ubah", "sum:edit~3"),))


async def enqueue(sm: SM, chat_id: int, message: OutMessage, progress: list[str] | None = None) -> int:
    async with UnitOfWork(sm) as uow:
        row = await uow.outbox.enqueue("telegram", chat_id, message)
        if progress is not None:
            uow.outbox.save_progress(row, progress)
        await uow.flush()
        row_id = row.id
        await uow.commit()
    return row_id


async def row_of(sm: SM, row_id: int) -> OutboxMessage:
    async with sm() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        return row


def citizen(server: TelegramServer) -> Any:
    user = server.create_user("Siti")
    user.send_text("/start")
    return user


async def test_used_buttons_are_taken_off_and_not_modified_counts_as_done(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    user = citizen(server)
    await enqueue(sessionmaker, user.id, OutMessage("Silakan pilih:", buttons=MENU))
    await make_sender().drain(5)
    (menu,) = server.bot_messages(user.id)
    off = OutMessage("", edit=EditTarget(str(menu.message_id), EDIT_BUTTONS))
    first = await enqueue(sessionmaker, user.id, off)
    again = await enqueue(sessionmaker, user.id, off)  # nothing left to take off: "not modified"
    await make_sender().drain(5)
    assert list(menu.buttons()) == [] and menu.text == "Silakan pilih:"
    assert [b["callback_data"] for b in menu.earlier_buttons()] == ["sum:send~3", "sum:edit~3"]
    assert len(server.bot_messages(user.id)) == 1, "an edit sends nothing new"
    for row_id in (first, again):  # done, and nothing new was sent (the outbox counts messages sent)
        row = await row_of(sessionmaker, row_id)
        assert row.status == "sent" and row.result_message_ids == []
    assert not server.spec_violations, server.spec_violations


async def test_buttons_of_a_message_that_cannot_be_edited_stay_and_nothing_is_sent(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    user = citizen(server)
    gone = await enqueue(sessionmaker, user.id, OutMessage("", edit=EditTarget("999999", EDIT_BUTTONS)))
    users_own = await enqueue(sessionmaker, user.id, OutMessage("", edit=EditTarget("1", EDIT_BUTTONS)))
    await make_sender().drain(5)
    assert server.bot_messages(user.id) == []
    for row_id in (gone, users_own):
        assert (await row_of(sessionmaker, row_id)).status == "sent"  # done: there was nothing to take off


async def test_a_message_is_changed_in_place_or_sent_anew_when_it_cannot_be(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    user = citizen(server)
    await enqueue(sessionmaker, user.id, OutMessage("<b>Ringkasan</b>\nNama: tidak ditampilkan", buttons=MENU))
    await make_sender().drain(5)
    (summary,) = server.bot_messages(user.id)
    changed = OutMessage("<b>Ringkasan</b>\nNama: ditampilkan", buttons=MENU,
                         edit=EditTarget(str(summary.message_id), EDIT_CONTENT))
    await enqueue(sessionmaker, user.id, changed)
    await enqueue(sessionmaker, user.id, changed)  # the same again: "not modified", done
    await make_sender().drain(5)
    assert len(server.bot_messages(user.id)) == 1
    assert summary.text == "Ringkasan\nNama: ditampilkan" and summary.edited and len(list(summary.buttons())) == 2

    summary.deleted = True  # the citizen deleted it: the change must still reach them
    anew = await enqueue(sessionmaker, user.id, changed)
    await make_sender().drain(5)
    (fresh,) = server.bot_messages(user.id)
    assert fresh.message_id != summary.message_id and fresh.text == "Ringkasan\nNama: ditampilkan"
    assert len(list(fresh.buttons())) == 2
    assert (await row_of(sessionmaker, anew)).result_message_ids == [str(fresh.message_id)]
    assert not server.spec_violations, server.spec_violations


async def test_removing_the_keyboard_and_showing_buttons_is_one_message(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    user = citizen(server)
    ask = OutMessage("📍 Di mana lokasinya?", keyboard=((KeyboardButton("📍 Kirim Lokasi", request_location=True),),))
    await enqueue(sessionmaker, user.id, ask)
    await make_sender().drain(5)
    assert server.state.chat(user.id).reply_keyboard is not None
    combined = OutMessage("📍 Lokasi diterima.\n\n<b>Ringkasan</b>", buttons=MENU, remove_keyboard=True)
    row_id = await enqueue(sessionmaker, user.id, combined)
    await make_sender().drain(5)
    _ask, summary = server.bot_messages(user.id)
    assert summary.text == "📍 Lokasi diterima.\n\nRingkasan"
    assert [b["callback_data"] for b in summary.buttons()] == ["sum:send~3", "sum:edit~3"]
    assert server.state.chat(user.id).reply_keyboard is None, "the location keyboard is gone"
    assert (await row_of(sessionmaker, row_id)).result_message_ids == [str(summary.message_id)]
    assert not server.spec_violations, server.spec_violations


async def test_a_retry_after_the_text_went_out_only_adds_the_buttons(
    sessionmaker: SM, server: TelegramServer, make_sender: MakeSender
) -> None:
    user = citizen(server)
    await enqueue(sessionmaker, user.id, OutMessage("📍 Lokasi diterima.\n\nRingkasan", remove_keyboard=True))
    await make_sender().drain(5)
    (sent,) = server.bot_messages(user.id)
    # the same message again, as a retry finds it: its text is out (progress), its buttons are not
    combined = OutMessage("📍 Lokasi diterima.\n\nRingkasan", buttons=MENU, remove_keyboard=True)
    row_id = await enqueue(sessionmaker, user.id, combined, progress=[str(sent.message_id)])
    await make_sender().drain(5)
    assert server.bot_messages(user.id) == [sent], "not sent twice"
    assert len(list(sent.buttons())) == 2
    assert (await row_of(sessionmaker, row_id)).status == "sent"
