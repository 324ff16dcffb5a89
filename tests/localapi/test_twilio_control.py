"""The JSON control API of the local Twilio server, and the blocking twilio client run in a thread."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import aiohttp
from aiohttp import web
from twilio.rest import Client

from localapi.twilio import TwilioServer
from localapi.twilio.control import wait_for_changes

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


async def _webhook_sink() -> tuple[web.AppRunner, str, list[dict[str, str]]]:
    """A stand-in for the bot's webhook: records every form it receives."""
    received: list[dict[str, str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append({k: str(v) for k, v in (await request.post()).items()})
        return web.Response(text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}/hook", received


async def test_send_as_user_with_media_location_and_reply() -> None:
    runner, hook, received = await _webhook_sink()
    try:
        async with TwilioServer(SID, TOKEN) as tw, aiohttp.ClientSession(base_url=tw.base_url) as http:
            await http.post("/_control/users", json={"number": "+628222", "profile_name": "Ani"})
            async with http.post("/_control/send", json={"number": "whatsapp:+628222", "webhook_url": hook,
                                                         "body": "halo"}) as r:
                sent = await r.json()
                assert sent["status"] == 200 and sent["sid"].startswith("SM")
            photo = base64.b64encode(b"\xff\xd8jpeg").decode()
            async with http.post("/_control/send", json={
                "number": "+628222", "webhook_url": hook, "media": [{"data_base64": photo,
                                                                     "content_type": "image/jpeg"}],
                "reply_to": "SM123"}) as r:
                assert (await r.json())["sid"].startswith("MM")
            async with http.post("/_control/send", json={"number": "+628222", "webhook_url": hook,
                                                         "latitude": -1.61, "longitude": 103.61,
                                                         "label": "Masjid"}) as r:
                assert r.status == 200
            text, media, pin = received
            assert (text["Body"], text["From"], text["ProfileName"]) == ("halo", "whatsapp:+628222", "Ani")
            assert media["NumMedia"] == "1" and media["MediaContentType0"] == "image/jpeg"
            assert media["OriginalRepliedMessageSid"] == "SM123"
            assert (pin["MessageType"], pin["Latitude"], pin["Label"]) == ("location", "-1.61", "Masjid")
            assert tw.in_window("+628222")
            async with http.get("/_control/users") as r:
                assert await r.json() == [{"number": "+628222", "profile_name": "Ani", "in_window": True}]
            # errors: unknown user, missing webhook, bad base64, bad JSON, bad hours
            async with http.post("/_control/send", json={"number": "+62999", "webhook_url": hook}) as r:
                assert r.status == 404
            async with http.post("/_control/send", json={"number": "+628222"}) as r:
                assert r.status == 400 and "webhook_url" in (await r.json())["error"]
            async with http.post("/_control/send", json={"number": "+628222", "webhook_url": hook,
                                                         "media": [{"data_base64": "%%",
                                                                    "content_type": "image/jpeg"}]}) as r:
                assert r.status == 400
            async with http.post("/_control/users", data=b"not json") as r:
                assert r.status == 400
            async with http.post("/_control/advance", json={"hours": "x"}) as r:
                assert r.status == 400
    finally:
        await runner.cleanup()


async def test_events_stream_reports_new_messages_and_status_changes() -> None:
    async with TwilioServer(SID, TOKEN, read_receipts=True) as tw, \
            aiohttp.ClientSession(base_url=tw.base_url) as http:
        tw.create_whatsapp_user("+628333", "Budi")
        tw.last_inbound["+628333"] = tw.now()
        client = Client(SID, TOKEN)
        client.api.base_url = tw.base_url
        async with http.get("/_control/users/+628333/events") as stream:
            assert (await stream.content.readline()).startswith(b"retry:")
            msg = await asyncio.to_thread(client.messages.create, to="whatsapp:+628333", from_=BOT, body="hai")
            statuses: list[str] = []
            async with asyncio.timeout(10):
                while "read" not in statuses:
                    line = (await stream.content.readline()).decode()
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        assert event["sid"] == msg.sid
                        statuses.append(event["status"])
        assert statuses[-1] == "read" and statuses == sorted(set(statuses), key=statuses.index)


async def test_wait_for_changes_and_reset() -> None:
    async with TwilioServer(SID, TOKEN) as tw, aiohttp.ClientSession(base_url=tw.base_url) as http:
        tw.create_whatsapp_user("+628444", "Sari")
        seen: dict[str, str] = {}
        assert await wait_for_changes(tw, "+628444", seen, timeout=0.05) == []
        client = Client(SID, TOKEN)
        client.api.base_url = tw.base_url
        await asyncio.to_thread(client.messages.create, to="whatsapp:+628444", from_=BOT, body="di luar jendela")
        async with asyncio.timeout(5):
            while "failed" not in seen.values():
                assert await wait_for_changes(tw, "+628444", seen, timeout=1), "woken by a change"
        [record] = tw.messages_to("+628444")
        assert (record.status, record.error_code) == ("failed", 63016)  # never wrote: outside the window
        async with http.post("/_control/advance", json={"hours": 30}) as r:
            assert (await r.json())["now"] > time.time() + 29 * 3600
        async with http.post("/_control/reset") as r:
            assert await r.json() == {"reset": True}
        assert tw.users == {} and tw.messages == {} and tw.media == {} and tw.last_inbound == {}
        assert abs(tw.now() - time.time()) < 5, "the clock is back to real time"
        async with http.get("/_control/users/+628444/messages") as r:
            assert await r.json() == []
