"""The JSON control API of the local Twilio server, and the blocking twilio client run in a thread."""

from __future__ import annotations

import asyncio

import aiohttp
from twilio.rest import Client

from localapi.twilio import TwilioServer

SID = "AC" + "fedcba9876543210" * 2
TOKEN = "control-token"
BOT = "whatsapp:+14155238886"


async def test_sync_client_in_thread_and_control_api() -> None:
    async with TwilioServer(SID, TOKEN) as tw:
        client = Client(SID, TOKEN)
        client.api.base_url = tw.base_url
        async with aiohttp.ClientSession(base_url=tw.base_url) as http:
            async with http.post("/_control/users", json={"number": "+628111", "profile_name": "Budi"}) as r:
                assert (await r.json()) == {"number": "+628111", "profile_name": "Budi"}
            async with http.get("/_control/info") as r:
                assert (await r.json())["account_sid"] == SID
            tw.last_inbound["+628111"] = tw.now()
            msg = await asyncio.to_thread(client.messages.create, to="whatsapp:+628111", from_=BOT, body="hai")
            assert msg.status == "queued"
            await tw.wait_for_message("+628111", lambda m: m.status == "delivered")
            async with http.get("/_control/users/whatsapp:+628111/messages") as r:
                [stored] = await r.json()
                assert (stored["sid"], stored["body"], stored["status"]) == (msg.sid, "hai", "delivered")
            async with http.post("/_control/advance", json={"hours": 25}) as r:
                assert r.status == 200
            assert not tw.in_window("whatsapp:+628111")
            async with http.post("/_control/faults", json={"rate_limit": 2}) as r:
                assert (await r.json())["rate_limited"] == 2
