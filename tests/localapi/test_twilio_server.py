"""The local Twilio server, driven by the real twilio client (async) like the bot will use it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from yarl import URL

from localapi.twilio import TwilioServer

SID = "AC" + "1234567890abcdef" * 2
TOKEN = "secret-token"
BOT = "whatsapp:+14155238886"
CITIZEN = "+6281234567890"
TEMPLATE = "HX" + "ab" * 16


@pytest.fixture
async def tw() -> AsyncIterator[TwilioServer]:
    async with TwilioServer(SID, TOKEN) as server:
        yield server


def basic(login: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode()}


def make_client(server: TwilioServer, token: str = TOKEN) -> Client:
    client = Client(SID, token, http_client=AsyncTwilioHttpClient())
    client.api.base_url = server.base_url
    return client


@pytest.fixture
async def client(tw: TwilioServer) -> AsyncIterator[Client]:
    client = make_client(tw)
    yield client
    await client.http_client.close()


class Receiver:
    """A tiny webhook endpoint that checks Twilio's signature like the bot must."""

    def __init__(self) -> None:
        self.validator = RequestValidator(TOKEN)
        self.received: list[tuple[str, dict[str, str], bool]] = []
        self.base_url = ""
        self.event = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        params = {k: str(v) for k, v in (await request.post()).items()}
        url = self.base_url + request.path_qs
        valid = self.validator.validate(url, params, request.headers.get("X-Twilio-Signature", ""))
        self.received.append((request.path, params, valid))
        self.event.set()
        return web.Response(text="<Response/>", content_type="text/xml", status=200 if valid else 403)

    async def wait(self, count: int, timeout: float = 5) -> None:
        async with asyncio.timeout(timeout):
            while len(self.received) < count:
                self.event.clear()
                await self.event.wait()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post("/twilio/{kind}", rec.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    yield rec
    await runner.cleanup()


async def create(client: Client, **kwargs: Any) -> Any:
    return await client.messages.create_async(**kwargs)


async def test_create_and_fetch(tw: TwilioServer, client: Client) -> None:
    tw.last_inbound[CITIZEN] = tw.now()
    msg = await create(client, to="whatsapp:" + CITIZEN, from_=BOT, body="Halo Siti")
    assert msg.sid.startswith("SM") and len(msg.sid) == 34
    assert (msg.status, msg.body, msg.to, msg.from_, msg.account_sid) == ("queued", "Halo Siti",
                                                                          "whatsapp:" + CITIZEN, BOT, SID)
    assert msg.api_version == "2010-04-01" and msg.error_code is None and msg.date_created is not None
    assert msg.num_media == "0"
    delivered = await tw.wait_for_message(CITIZEN, lambda m: m.status == "delivered")
    fetched = await client.messages(msg.sid).fetch_async()
    assert delivered.sid == fetched.sid == msg.sid and fetched.status == "delivered"
    assert [m.body for m in tw.messages_to("whatsapp:" + CITIZEN)] == ["Halo Siti"]
    assert tw.spec is None or tw.spec_violations == []


async def test_bad_token_missing_to_and_rate_limit(tw: TwilioServer, client: Client) -> None:
    bad = make_client(tw, "wrong")
    with pytest.raises(TwilioRestException) as err:
        await create(bad, to="whatsapp:" + CITIZEN, from_=BOT, body="x")
    await bad.http_client.close()
    assert (err.value.status, err.value.code) == (401, 20003)
    async with aiohttp.ClientSession() as session:
        url = f"{tw.base_url}/2010-04-01/Accounts/{SID}/Messages.json"
        async with session.post(url, data={"From": BOT, "Body": "x"}, headers=basic(SID, TOKEN)) as r:
            assert r.status == 400
            assert (await r.json())["code"] == 21604
        async with session.post(url, data={"From": BOT}, headers=basic(SID, "nope")) as r:
            assert await r.json() == {"code": 20003, "message": "Authenticate",
                                      "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401}
    if tw.spec is not None:
        assert any("To is missing" in v for v in tw.spec_violations)
    tw.inject_rate_limit(1)
    with pytest.raises(TwilioRestException) as err:
        await create(client, to="whatsapp:" + CITIZEN, from_=BOT, body="x")
    assert (err.value.status, err.value.code) == (429, 20429)
    tw.fail_network(1)
    with pytest.raises(aiohttp.ClientError):
        await create(client, to="whatsapp:" + CITIZEN, from_=BOT, body="x")
    await create(client, to="whatsapp:" + CITIZEN, from_=BOT, body="x")  # recovered


async def test_window_63016_vs_template(tw: TwilioServer, client: Client, receiver: Receiver) -> None:
    siti = tw.create_whatsapp_user(CITIZEN, "Siti")
    callback = receiver.base_url + "/twilio/status"
    await siti.send(receiver.base_url + "/twilio/whatsapp", "halo")
    inside = await create(client, to=siti.address, from_=BOT, body="inside", status_callback=callback)
    tw.advance(25)
    outside = await create(client, to=siti.address, from_=BOT, body="outside", status_callback=callback)
    assert outside.status == "queued"  # accepted, fails asynchronously like Twilio
    template = await create(client, to=siti.address, from_=BOT, content_sid=TEMPLATE,
                            content_variables='{"1": "ADU-1"}', status_callback=callback)
    await receiver.wait(1 + 2 + 1 + 2)
    by_sid: dict[str, list[dict[str, str]]] = {}
    for path, params, valid in receiver.received[1:]:
        assert path == "/twilio/status" and valid
        by_sid.setdefault(params["MessageSid"], []).append(params)
    assert [p["MessageStatus"] for p in by_sid[inside.sid]] == ["sent", "delivered"]
    assert [(p["MessageStatus"], p["ErrorCode"]) for p in by_sid[outside.sid]] == [("failed", "63016")]
    assert [p["MessageStatus"] for p in by_sid[template.sid]] == ["sent", "delivered"]
    fetched = await client.messages(outside.sid).fetch_async()
    assert (fetched.status, fetched.error_code) == ("failed", 63016)
    assert tw.spec is None or tw.spec_violations == []


async def test_signed_inbound_with_media_location_button(tw: TwilioServer, receiver: Receiver) -> None:
    siti = tw.create_whatsapp_user(CITIZEN, "Siti")
    hook = receiver.base_url + "/twilio/whatsapp"
    delivery = await siti.send(hook, "jalan rusak", media=[(b"\xff\xd8jpeg", "image/jpeg")])
    assert delivery.status == 200
    await siti.send(hook, latitude=-6.2, longitude=106.8, address="Jl. Sudirman", label="Kantor")
    await siti.send(hook, button_payload="menu_1", button_text="Lapor")
    await siti.redeliver(hook)
    _, first, valid = receiver.received[0]
    assert valid
    assert first["From"] == "whatsapp:" + CITIZEN and first["To"] == BOT and first["AccountSid"] == SID
    assert (first["Body"], first["NumMedia"], first["MediaContentType0"]) == ("jalan rusak", "1", "image/jpeg")
    assert (first["ProfileName"], first["WaId"], first["SmsStatus"]) == ("Siti", "6281234567890", "received")
    assert first["MessageSid"] == first["SmsMessageSid"]
    loc, button, again = (r[1] for r in receiver.received[1:4])
    assert (loc["Latitude"], loc["Longitude"], loc["Address"], loc["Label"]) == ("-6.2", "106.8", "Jl. Sudirman",
                                                                                  "Kantor")
    assert (button["ButtonPayload"], button["ButtonText"]) == ("menu_1", "Lapor")
    assert again["MessageSid"] == button["MessageSid"]
    async with aiohttp.ClientSession() as session:
        async with session.get(first["MediaUrl0"]) as r:
            assert r.status == 401
        # like Twilio: the authenticated media URL redirects to a pre-signed one, fetched without credentials
        async with session.get(first["MediaUrl0"], headers=basic(SID, TOKEN), allow_redirects=False) as r:
            assert r.status in (301, 302, 303, 307, 308)
            signed = r.headers["Location"]
        async with session.get(URL(first["MediaUrl0"]).join(URL(signed))) as r:
            assert r.status == 200 and r.content_type == "image/jpeg"
            assert await r.read() == b"\xff\xd8jpeg"
    # a forged signature is refused by the receiver's validator
    async with aiohttp.ClientSession() as session:
        async with session.post(hook, data={"Body": "x"}, headers={"X-Twilio-Signature": "forged"}) as r:
            assert r.status == 403


async def test_out_of_order_callbacks_and_wait(client: Client, receiver: Receiver) -> None:
    async with TwilioServer(SID, TOKEN, out_of_order=True, read_receipts=True) as tw:
        c = make_client(tw)
        siti = tw.create_whatsapp_user(CITIZEN)
        await siti.send(receiver.base_url + "/twilio/whatsapp", "halo")
        waiter = asyncio.create_task(tw.wait_for_message(CITIZEN))
        await asyncio.sleep(0)
        msg = await create(c, to=siti.address, from_=BOT, body="x",
                           status_callback=receiver.base_url + "/twilio/status")
        assert (await waiter).sid == msg.sid
        await receiver.wait(4)
        assert [r[1]["MessageStatus"] for r in receiver.received[1:]] == ["read", "delivered", "sent"]
        assert tw.messages_to(CITIZEN)[0].status == "read"
        await c.http_client.close()
