"""Editing a citizen's message on WhatsApp, where a sent message cannot change: the real twilio client
against the local Twilio server, SQLite and PostgreSQL. Taking used buttons off is nothing to do (a
numbered list cannot be taken back); a changed message goes out as a new one."""

from __future__ import annotations

import pytest

from handlers.messages import EDIT_BUTTONS, EDIT_CONTENT, Button, EditTarget, OutMessage
from localapi.twilio import TwilioServer
from storage.models import OutboxMessage
from tests.whatsapp.conftest import *  # noqa: F403 - the WhatsApp fixtures (runtime, twilio, client)
from tests.whatsapp.test_sender import SM, MakeSender, enqueue, get, make_citizen, make_sender  # noqa: F401

pytestmark = pytest.mark.e2e

MENU = ((Button("📨 Kirim", "sum:send~3"),), (Button("✏️ Ubah", "sum:edit~3"),))


async def test_buttons_off_sends_nothing_and_a_content_edit_is_a_new_message(
    sessionmaker: SM, twilio: TwilioServer, make_sender: MakeSender,  # noqa: F811 - the fixture imported above
) -> None:
    citizen = await make_citizen(sessionmaker, twilio)
    off = await enqueue(sessionmaker, OutMessage("", edit=EditTarget("SM123", EDIT_BUTTONS)))
    changed = OutMessage("<b>Ringkasan</b>\nNama: ditampilkan", buttons=MENU, edit=EditTarget("SM123", EDIT_CONTENT))
    anew = await enqueue(sessionmaker, changed)
    await make_sender().drain(5)
    [sent] = twilio.messages_to(citizen.channel_user_id)
    assert sent.body.startswith("*Ringkasan*\nNama: ditampilkan\n\n1. 📨 Kirim\n2. ✏️ Ubah")
    assert (await get(sessionmaker, OutboxMessage, off)).status == "sent"
    row = await get(sessionmaker, OutboxMessage, anew)
    assert row.status == "sent" and row.result_message_ids == [sent.sid]
