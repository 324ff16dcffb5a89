"""sendDocument from a bot as Telegram takes it: an uploaded file arrives as a document with its name, type and
caption and can be downloaded again; a caption over 1024 characters and an upload over 50 MB are refused."""

from __future__ import annotations

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramEntityTooLarge
from aiogram.types import BufferedInputFile

from localapi.telegram import TelegramServer


async def test_a_json_document_arrives_with_its_name_and_caption(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("/start")  # a bot writes only to users who started it
    data = b'{"complaints": []}'
    sent = await bot.send_document(alice.id, BufferedInputFile(data, filename="sikesal-data-2026-11-29.json"),
                                   caption="<b>Data</b> Anda", parse_mode="HTML")
    assert sent.document is not None and sent.document.file_name == "sikesal-data-2026-11-29.json"
    assert sent.caption == "Data Anda"
    stored = tg.bot_messages(alice.id)[-1]
    assert stored.extra["document"]["file_name"] == "sikesal-data-2026-11-29.json"
    downloaded = await bot.download(sent.document.file_id)
    assert downloaded is not None and downloaded.read() == data


async def test_a_long_caption_and_an_oversized_upload_are_refused(tg: TelegramServer, bot: Bot) -> None:
    alice = tg.create_user("Alice")
    alice.send_text("/start")  # a bot writes only to users who started it
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_document(alice.id, BufferedInputFile(b"{}", filename="a.json"), caption="x" * 1025)
    with pytest.raises((TelegramEntityTooLarge, TelegramBadRequest)):
        await bot.send_document(alice.id, BufferedInputFile(b"0" * (50 * 1024 * 1024 + 1), filename="big.json"))
    assert tg.bot_messages(alice.id) == []
