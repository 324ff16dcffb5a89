"""DeleteMessage on the local Twilio server, through the real twilio client: what the bot relies on when a
citizen erases their data (bot.services.erasure): 204 and gone, 404 for an unknown sid, 20009 while a
message is still on its way; the user's phone keeps what it received."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from localapi.twilio import TwilioServer

SID = "AC" + "1234567890abcdef" * 2
TOKEN = "secret-token"
BOT = "whatsapp:+14155238886"
CITIZEN = "+6281234567890"


@pytest.fixture
async def tw() -> AsyncIterator[TwilioServer]:
    async with TwilioServer(SID, TOKEN, whatsapp_from=BOT, callback_delay=0.3) as server:
        yield server


async def _hook(_request: web.Request) -> web.Response:
    return web.Response(text="<Response/>")


def client_for(server: TwilioServer) -> Client:
    client = Client(SID, TOKEN, http_client=AsyncTwilioHttpClient())
    client.api.base_url = server.base_url
    return client


async def test_a_delivered_message_is_deleted_and_then_unknown(tw: TwilioServer) -> None:
    user = tw.create_whatsapp_user(CITIZEN, "Sari")
    app = web.Application()
    app.router.add_post("/hook", _hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await user.send(f"http://127.0.0.1:{port}/hook", "halo")  # the user writes first (opens the window)
    finally:
        await runner.cleanup()
    inbound = next(iter(tw.received))
    client = client_for(tw)
    sent = await client.messages.create_async(to=f"whatsapp:{CITIZEN}", from_=BOT, body="Halo Sari")
    with pytest.raises(TwilioRestException) as early:  # still queued: Twilio refuses until it is done
        await client.messages(sent.sid).delete_async()
    assert (early.value.status, early.value.code) == (409, 20009)
    await tw.wait_for_message(CITIZEN, lambda m: m.sid == sent.sid and m.status == "delivered", new_only=False)
    assert await client.messages(sent.sid).delete_async() is True
    assert await client.messages(inbound).delete_async() is True, "the user's own message too"
    assert tw.deleted == [sent.sid, inbound] and not tw.stored_to(CITIZEN) and inbound not in tw.received
    assert [m.sid for m in tw.messages_to(CITIZEN)] == [sent.sid], "the phone keeps what it received"
    with pytest.raises(TwilioRestException) as gone:
        await client.messages(sent.sid).fetch_async()
    assert gone.value.status == 404
    with pytest.raises(TwilioRestException) as again:
        await client.messages(sent.sid).delete_async()
    assert again.value.status == 404
    assert tw.spec_violations == []
