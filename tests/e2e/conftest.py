"""End-to-end fixtures: the local Bot API server, the real app (aiogram Bot over HTTP), linked groups.

``app`` runs on each backend of the shared ``database_url`` fixture (SQLite, and PostgreSQL when
``SIKESAL_TEST_POSTGRES_URL`` is set).
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.app import SikesalApp
from bot.config import AppConfig, TwilioSettings, load_config
from bot.delivery.ratelimit import RateLimits
from bot.services.staff import create_link_code
from localapi.nominatim import NominatimServer
from localapi.telegram import TelegramServer
from localapi.twilio import TwilioServer
from routing.geocode import KOTA_JAMBI_VIEWBOX, GeocoderSettings
from tests.e2e.harness import Person, WhatsAppPerson

TOKEN = "123456:TEST-token-for-e2e-tests"
ROOT = Path(__file__).resolve().parents[2]
TWILIO_SID = "AC" + "e2e0" * 8
TWILIO_TOKEN = "e2e-twilio-auth-token"
TWILIO_FROM = "whatsapp:+14155238886"
FAST = RateLimits(global_per_second=1000, private_per_second=1000, group_per_minute=100000)


@pytest.fixture
def config() -> AppConfig:
    """The sample config.yaml without the daily digest: these tests run on the real clock, and one running
    across 07:30 WIB would see a "Ringkasan harian" in its groups (tests of the digest set their own). Nor the
    nightly retention purge (a clock moved past 02:30 WIB would fire it; tests of retention set their own)."""
    sample = load_config(ROOT / "config.yaml")
    no_purge = sample.privacy.model_copy(update={"messages_days": 0, "inactive_citizen_days": 0})
    return sample.model_copy(update={
        "deadlines": sample.deadlines.model_copy(update={"digest_at": ""}), "privacy": no_purge,
    })


@pytest_asyncio.fixture
async def server() -> AsyncIterator[TelegramServer]:
    async with TelegramServer(TOKEN, rate_limits=False) as srv:
        yield srv
    assert srv.spec_violations == [], srv.spec_violations


@pytest_asyncio.fixture
async def twilio() -> AsyncIterator[TwilioServer]:
    async with TwilioServer(TWILIO_SID, TWILIO_TOKEN, whatsapp_from=TWILIO_FROM) as srv:
        yield srv
    assert srv.spec_violations == [], srv.spec_violations


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class World:
    server: TelegramServer
    app: SikesalApp
    config: AppConfig
    tmp: Path
    twilio: TwilioServer | None = None

    def citizen(self, name: str = "Siti", language_code: str = "id") -> Person:
        return Person(self.server, self.server.create_user(name, language_code=language_code))

    @property
    def webhook_url(self) -> str:
        return self.app.http_url + self.config.whatsapp.webhook_path

    def whatsapp_citizen(self, name: str = "Siti", number: str | None = None) -> WhatsAppPerson:
        assert self.twilio is not None, "this world has no WhatsApp: use the wa_world fixture"
        number = number or f"+62812{len(self.twilio.users) + 1:07d}"
        return WhatsAppPerson(self.twilio, self.twilio.create_whatsapp_user(number, name), self.webhook_url)

    def citizen_on(self, channel: str, name: str = "Siti") -> Person | WhatsAppPerson:
        return self.whatsapp_citizen(name) if channel == "whatsapp" else self.citizen(name)

    async def agency_group(
        self, agency: str, staff_names: tuple[str, ...] = ("Budi", "Rina"), *, bot_admin: bool = False
    ) -> list[Person]:
        """Create a group with staff, add the bot (an administrator with ``bot_admin``, else a plain
        member), link it with a one-time code (as an admin would)."""
        users = [self.server.create_user(n) for n in staff_names]
        group = self.server.create_group(f"Laporan {agency.upper()}", users, admins=users[:1], bot_admin=bot_admin)
        staff = [Person(self.server, u, group.id) for u in users]
        assert self.app.runtime is not None
        code = await create_link_code(self.app.runtime, agency)
        welcome = await staff[0].next()  # the bot explains /link when it is added to a group
        assert "/link" in (welcome.text or "")
        staff[0].user.send_text(f"/link {code}", chat=group.id)
        name = self.config.agencies[agency].name["id"]
        await staff[0].next_matching(name)
        for person in staff[1:]:
            person.cursor = staff[0].cursor
        return staff


@pytest.fixture(params=["telegram", "whatsapp"])
def channel(request: pytest.FixtureRequest) -> str:
    """Run a citizen scenario once per channel (staff always work in Telegram groups)."""
    return str(request.param)


def current(world: World, message: Any) -> Any:
    """A group message as it is now (cards are edited in place)."""
    return next(m for m in world.server.messages(message.chat_id) if m.message_id == message.message_id)


async def outbox_settled(world: World, timeout: float = 10.0) -> None:
    """Wait until every queued message is delivered *and recorded* (message links committed).

    A person answers a message seconds after it appears; a test answers within microseconds, before
    the sender has committed what it sent. Waiting here makes the test behave like a person.
    """
    import asyncio

    from storage.uow import UnitOfWork

    assert world.app.runtime is not None
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
            if await uow.outbox.pending_count() == 0:
                return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("outbox did not drain")
        await asyncio.sleep(0.02)


async def start_app(
    world_tmp: Path,
    server: TelegramServer,
    config: AppConfig,
    database_url: str,
    clock: Callable[[], datetime] | None = None,
    twilio: TwilioServer | None = None,
    telegram_webhook: bool = False,
    nominatim: NominatimServer | None = None,
    rate_limits: RateLimits | None = None,
) -> SikesalApp:
    """The real app against the local server(s), with Telegram's limits lifted for speed."""
    settings = None
    port = free_port()
    if twilio is not None:
        settings = TwilioSettings(
            account_sid=twilio.account_sid,
            auth_token=twilio.auth_token,
            whatsapp_from=twilio.whatsapp_from,
            api_base=twilio.base_url,
            public_url=f"http://127.0.0.1:{port}",
        )
    app = SikesalApp(
        config,
        database_url=database_url,
        media_dir=world_tmp / "media",
        token=TOKEN,
        api_base=server.base_url,
        clock=clock,
        polling_timeout=1,
        rate_limits=rate_limits or FAST,
        sweep_interval=3600,
        twilio=settings,
        http_host="127.0.0.1",
        http_port=port,
        telegram_webhook=telegram_webhook,
        public_url=f"http://127.0.0.1:{port}",
        geocoder=(
            GeocoderSettings.from_url(nominatim.base_url, user_agent="SiKesal end-to-end tests", timeout=2.0,
                                      min_delay_seconds=0.05, viewbox=KOTA_JAMBI_VIEWBOX)
            if nominatim is not None else None
        ),
    )
    await app.start()
    return app


@pytest_asyncio.fixture
async def world(
    server: TelegramServer, config: AppConfig, database_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    app = await start_app(tmp_path, server, config, database_url)
    try:
        yield World(server=server, app=app, config=config, tmp=tmp_path)
    finally:
        await app.stop()


@pytest_asyncio.fixture
async def wa_world(
    server: TelegramServer, twilio: TwilioServer, config: AppConfig, database_url: str, tmp_path: Path
) -> AsyncIterator[World]:
    """The app with both channels: Telegram polling and the WhatsApp webhooks against the local Twilio."""
    app = await start_app(tmp_path, server, config, database_url, twilio=twilio)
    try:
        yield World(server=server, app=app, config=config, tmp=tmp_path, twilio=twilio)
    finally:
        await app.stop()


@pytest_asyncio.fixture
async def nominatim() -> AsyncIterator[NominatimServer]:
    async with NominatimServer() as srv:
        yield srv


@pytest_asyncio.fixture
async def geo_world(
    server: TelegramServer, twilio: TwilioServer, nominatim: NominatimServer, config: AppConfig,
    database_url: str, tmp_path: Path,
) -> AsyncIterator[World]:
    """Both channels plus geopy's real Nominatim client against the local Nominatim server."""
    app = await start_app(tmp_path, server, config, database_url, twilio=twilio, nominatim=nominatim)
    try:
        yield World(server=server, app=app, config=config, tmp=tmp_path, twilio=twilio)
    finally:
        await app.stop()
