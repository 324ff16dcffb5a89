"""Fixtures for the WhatsApp adapter tests: the local Twilio server, the real ``twilio`` client (async)
pointed at it the way ``bot/app.py`` does, a :class:`Runtime` on the shared ``sessionmaker`` (SQLite, and
PostgreSQL when configured), and a :class:`MediaFetcher` with the account's credentials.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from bot.config import AppConfig, TwilioSettings, load_config
from bot.services.runtime import Runtime
from bot.whatsapp.translate import MediaFetcher
from localapi.twilio import TwilioServer
from storage.media import MediaStore

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT_SID = "AC" + "5a" * 16
AUTH_TOKEN = "whatsapp-tests-auth-token"
WHATSAPP_FROM = "whatsapp:+14155238886"
CITIZEN = "+6281234567890"


@pytest.fixture
def app_config() -> AppConfig:
    return load_config(ROOT / "config.yaml")


@pytest.fixture
def media_store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[TwilioServer]:
    """The local Twilio server (Messages API + media behind Basic auth), validating against its spec."""
    async with TwilioServer(ACCOUNT_SID, AUTH_TOKEN, whatsapp_from=WHATSAPP_FROM) as server:
        yield server
    assert server.spec_violations == [], server.spec_violations


@pytest.fixture
def twilio_settings(twilio: TwilioServer) -> TwilioSettings:
    return TwilioSettings(
        account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, whatsapp_from=WHATSAPP_FROM, api_base=twilio.base_url
    )


@pytest_asyncio.fixture
async def twilio_client(twilio: TwilioServer) -> AsyncIterator[Client]:
    """The real twilio Client with its async http client, as ``SikesalApp._start_whatsapp`` builds it."""
    http = AsyncTwilioHttpClient(timeout=15)
    client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=http)
    client.api.base_url = twilio.base_url
    try:
        yield client
    finally:
        await http.close()


@pytest_asyncio.fixture
async def http_session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def fetcher(http_session: aiohttp.ClientSession, twilio: TwilioServer) -> MediaFetcher:
    """Downloads media from the local server: api.twilio.com URLs are rewritten to it via ``api_base``."""
    return MediaFetcher(http_session, ACCOUNT_SID, AUTH_TOKEN, twilio.base_url)


@pytest.fixture
def runtime(
    app_config: AppConfig, sessionmaker: async_sessionmaker[AsyncSession], media_store: MediaStore
) -> Runtime:
    """The runtime every service gets, built like ``SikesalApp.start`` does."""
    return Runtime(config=app_config, sessionmaker=sessionmaker, media=media_store)
