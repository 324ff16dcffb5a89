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


def _help(update_id: int, chat: int) -> dict[str, object]:
    return {"update_id": update_id, "message": {
        "message_id": update_id, "date": 0, "chat": {"id": chat, "type": "private", "first_name": "Warga"},
        "from": {"id": chat, "is_bot": False, "first_name": "Warga"}, "text": "/help"}}


async def test_an_update_is_answered_200_only_once_stored_and_a_redelivery_changes_nothing(
    hook_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    import bot.telegram.intake as intake

    citizen = hook_world.citizen()
    assert "Selamat datang" in text_of(await citizen.say("/start"))  # the chat exists, as in Telegram
    update = _help(424242, citizen.user.id)
    url = hook_world.app.http_url + "/telegram/webhook"
    headers = {"X-Telegram-Bot-Api-Secret-Token": hook_world.app.telegram_webhook_secret}
    real_store = intake.store_updates

    async def database_down(*args: object, **kwargs: object) -> int:
        raise OperationalError("INSERT", {}, Exception("connection refused"))

    async with aiohttp.ClientSession() as session:
        monkeypatch.setattr(intake, "store_updates", database_down)
        async with session.post(url, json=update, headers=headers) as response:
            assert response.status == 503, "not stored: Telegram must send it again"
        assert await citizen.quiet(0.3) == []
        monkeypatch.setattr(intake, "store_updates", real_store)
        for _ in range(3):  # Telegram's redeliveries
            async with session.post(url, json=update, headers=headers) as response:
                assert response.status == 200
        for body in (b"not json", b"[1, 2]", b'{"update_id": "7"}', b'{"update_id": -1}'):
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 400, body
    await citizen.next()  # the help text
    assert await citizen.quiet(0.5) == [], "three deliveries of one update: one answer"
    async with UnitOfWork(hook_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        assert await uow.inbox.pending_count(channel="telegram") == 0
