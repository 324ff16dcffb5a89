"""Telegram in webhook mode: updates arrive on the same web server as the WhatsApp webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from bot.config import AppConfig
from localapi.telegram import TelegramServer
from localapi.twilio import TwilioServer
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, start_app
from tests.e2e.harness import text_of
from tests.e2e.test_channels import file_on

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def hook_world(
    server: TelegramServer, twilio: TwilioServer, config: AppConfig, database_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    app = await start_app(tmp_path, server, config, database_url, twilio=twilio, telegram_webhook=True)
    try:
        yield World(server=server, app=app, config=config, tmp=tmp_path, twilio=twilio)
    finally:
        await app.stop()


async def test_both_channels_file_through_one_web_server(hook_world: World) -> None:
    assert hook_world.server.state.webhook.url == hook_world.app.http_url + "/telegram/webhook"
    staff = await hook_world.agency_group("pupr")
    people = ((hook_world.citizen("Siti"), "Jalan rusak"), (hook_world.whatsapp_citizen("Ani"), "Drainase"))
    for citizen, category in people:  # two different problems (the same one would be offered as such)
        assert "JMB-" in await file_on(citizen, category=category)
        card = await staff[0].next_matching("JMB-")
        assert card.photo


async def test_an_update_without_the_secret_token_is_refused(hook_world: World) -> None:
    update = {"update_id": 999, "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
                                             "from": {"id": 5, "is_bot": False, "first_name": "X"}, "text": "/start"}}
    async with aiohttp.ClientSession() as session:
        url = hook_world.app.http_url + "/telegram/webhook"
        for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
            async with session.post(url, json=update, headers=headers) as response:
                assert response.status in (401, 403)
    async with UnitOfWork(hook_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        assert await uow.idempotency.claim("tg:999"), "the forged update was never processed"
    citizen = hook_world.citizen()
    assert "Selamat datang" in text_of(await citizen.say("/start")), "real updates still get through"
