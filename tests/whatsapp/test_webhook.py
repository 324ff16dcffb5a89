"""The two endpoints Twilio calls, mounted on a real aiohttp server with a real database: what is stored,
what is refused, and what Twilio is answered. Signed requests come from the local Twilio server (twilio's
own RequestValidator computes the signatures on both sides)."""

from __future__ import annotations

import asyncio
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from sqlalchemy import func, select
from twilio.rest import Client
from yarl import URL

from bot.config import AppConfig, TwilioSettings
from bot.services.runtime import Runtime
from bot.whatsapp.webhook import TwilioWebhooks
from localapi.twilio import TwilioServer
from storage.models import Citizen, InboundMessage, MessageReceipt
from storage.repositories import ReceiptRepo
from tests.whatsapp.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, WHATSAPP_FROM

PUBLIC = "https://sikesal.example.org"
WEBHOOK = "/twilio/whatsapp"
STATUS = "/twilio/status"


@dataclass
class Endpoint:
    """The webhooks as served: ``local`` is what this process listens on, ``public`` what Twilio calls."""

    webhooks: TwilioWebhooks
    local: str
    public: str
    runtime: Runtime
    stored: list[None] = field(default_factory=list)

    @property
    def webhook_url(self) -> str:
        return self.local + WEBHOOK

    @property
    def status_url(self) -> str:
        return self.local + STATUS


StartEndpoint = Callable[..., Awaitable[Endpoint]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest_asyncio.fixture
async def start_endpoint(runtime: Runtime, app_config: AppConfig) -> AsyncIterator[StartEndpoint]:
    """Serve TwilioWebhooks like SikesalApp does. ``public_url`` is SIKESAL_PUBLIC_URL (None: unset);
    ``local_is_public``: the public URL is this server's own (no proxy in between)."""
    runners: list[web.AppRunner] = []

    async def start(public_url: str | None = None, *, local_is_public: bool = False) -> Endpoint:
        port = free_port()
        local = f"http://127.0.0.1:{port}"
        settings = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, whatsapp_from=WHATSAPP_FROM,
                                  public_url=local if local_is_public else public_url)
        stored: list[None] = []
        webhooks = TwilioWebhooks(runtime, settings, on_stored=lambda: stored.append(None))
        app = web.Application(client_max_size=256 * 1024)
        app.add_routes(webhooks.routes(app_config.whatsapp.webhook_path, app_config.whatsapp.status_path))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return Endpoint(webhooks, local, public_url or local, runtime, stored)

    yield start
    for runner in runners:
        await runner.cleanup()


async def eventually(check: Callable[[], Awaitable[bool]], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def post(url: str, params: dict[str, str], signature: str | None) -> tuple[int, str, str]:
    """POST a form like Twilio; returns (status, content type, body)."""
    headers = {"X-Twilio-Signature": signature} if signature is not None else {}
    target = URL(url, encoded=True)  # sent exactly as given, like Twilio does (no requoting)
    async with aiohttp.ClientSession() as session, session.post(target, data=params, headers=headers) as response:
        return response.status, response.content_type, await response.text()


async def inbox_rows(runtime: Runtime) -> list[InboundMessage]:
    async with runtime.sessionmaker() as session:
        return list((await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all())


def assert_empty_twiml(content_type: str, text: str) -> None:
    assert content_type == "text/xml"
    root = ET.fromstring(text)
    assert root.tag == "Response" and len(root) == 0 and not (root.text or "").strip()


def incoming_form(twilio: TwilioServer, **fields: str) -> dict[str, str]:
    sid = "SM" + "7e" * 16
    return {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": twilio.account_sid, "From": f"whatsapp:{CITIZEN}",
            "To": WHATSAPP_FROM, "Body": "halo", "NumMedia": "0", "SmsStatus": "received", "ProfileName": "Siti",
            **fields}


# --- incoming messages ----------------------------------------------------------------------------------


async def test_a_signed_message_is_stored_once_and_answered_with_empty_twiml(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    endpoint = await start_endpoint()
    user = twilio.create_whatsapp_user(CITIZEN, "Siti")
    delivery = await user.send(endpoint.webhook_url, "Jalan berlubang")
    assert delivery.status == 200
    async with aiohttp.ClientSession() as session, session.post(
        endpoint.webhook_url, data=delivery.params,
        headers={"X-Twilio-Signature": twilio.sign(endpoint.webhook_url, delivery.params)},
    ) as response:
        assert_empty_twiml(response.content_type, await response.text())

    again = await user.redeliver(endpoint.webhook_url)  # Twilio's retry after a timeout
    assert again.status == 200
    rows = await inbox_rows(endpoint.runtime)
    assert len(rows) == 1, "a redelivery of the same MessageSid stores nothing new"
    row = rows[0]
    assert (row.key, row.channel, row.sender, row.status) == (
        f"wa:{delivery.params['MessageSid']}", "whatsapp", CITIZEN, "pending")
    assert row.payload["Body"] == "Jalan berlubang" and row.payload["ProfileName"] == "Siti"
    assert len(endpoint.stored) == 1, "the inbox is woken once, for the one stored message"
    assert endpoint.webhooks.refused == 0


async def test_two_messages_of_one_citizen_are_both_stored_in_order(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    endpoint = await start_endpoint()
    user = twilio.create_whatsapp_user(CITIZEN)
    first = await user.send(endpoint.webhook_url, "halo")
    second = await user.send(endpoint.webhook_url, "1")
    assert [r.key for r in await inbox_rows(endpoint.runtime)] == [
        f"wa:{first.params['MessageSid']}", f"wa:{second.params['MessageSid']}"]


@pytest.mark.parametrize("signature", [None, "", "forged", "c2lnbmVkIGZvciBzb21lb25lIGVsc2U="])
async def test_an_unsigned_or_forged_message_is_refused_and_not_stored(
    start_endpoint: StartEndpoint, twilio: TwilioServer, signature: str | None
) -> None:
    endpoint = await start_endpoint()
    status, _type, _text = await post(endpoint.webhook_url, incoming_form(twilio), signature)
    assert status == 403
    assert await inbox_rows(endpoint.runtime) == []
    assert endpoint.stored == [] and endpoint.webhooks.refused == 1


async def test_a_signature_over_other_parameters_is_refused(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    """Someone replaying a real signature with a changed Body (or From) gets nothing in."""
    endpoint = await start_endpoint()
    params = incoming_form(twilio)
    signature = twilio.sign(endpoint.webhook_url, params)
    status, _type, _text = await post(endpoint.webhook_url, {**params, "Body": "/batal"}, signature)
    assert status == 403
    assert await inbox_rows(endpoint.runtime) == []


async def test_behind_a_proxy_the_public_url_is_what_twilio_signed(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    endpoint = await start_endpoint(PUBLIC)
    params = incoming_form(twilio)
    # Twilio signs the https URL it called; the proxy hands the request on to http://127.0.0.1:<port>
    status, content_type, text = await post(endpoint.webhook_url, params, twilio.sign(PUBLIC + WEBHOOK, params))
    assert status == 200
    assert_empty_twiml(content_type, text)
    assert len(await inbox_rows(endpoint.runtime)) == 1


async def test_with_a_public_url_a_signature_over_the_local_url_is_refused(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    endpoint = await start_endpoint(PUBLIC)
    params = incoming_form(twilio)
    status, _type, _text = await post(endpoint.webhook_url, params, twilio.sign(endpoint.webhook_url, params))
    assert status == 403
    assert await inbox_rows(endpoint.runtime) == []


async def test_the_query_string_is_part_of_the_signed_url(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    """An operator may configure the webhook with a query (``?src=wa``): Twilio signs it too."""
    endpoint = await start_endpoint(PUBLIC)
    params = incoming_form(twilio)
    query = "?src=wa&region=jambi"
    good = await post(endpoint.webhook_url + query, params, twilio.sign(PUBLIC + WEBHOOK + query, params))
    assert good[0] == 200
    without_query = await post(endpoint.webhook_url + query, {**params, "MessageSid": "SM" + "1" * 32},
                               twilio.sign(PUBLIC + WEBHOOK, params))
    assert without_query[0] == 403
    assert len(await inbox_rows(endpoint.runtime)) == 1


async def test_a_message_for_another_twilio_account_is_refused(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    endpoint = await start_endpoint()
    params = incoming_form(twilio, AccountSid="AC" + "9" * 32)
    status, _type, _text = await post(endpoint.webhook_url, params, twilio.sign(endpoint.webhook_url, params))
    assert status == 403
    assert await inbox_rows(endpoint.runtime) == []


async def test_an_sms_to_the_same_number_is_answered_and_ignored(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    endpoint = await start_endpoint()
    params = incoming_form(twilio, From=CITIZEN, To="+14155238886")
    status, content_type, text = await post(endpoint.webhook_url, params, twilio.sign(endpoint.webhook_url, params))
    assert status == 200, "Twilio must not retry it"
    assert_empty_twiml(content_type, text)
    assert await inbox_rows(endpoint.runtime) == []
    assert endpoint.stored == []


# --- status callbacks -------------------------------------------------------------------------------------


async def receipt(runtime: Runtime, sid: str) -> MessageReceipt | None:
    async with runtime.sessionmaker() as session:
        return await ReceiptRepo(session).by_message("whatsapp", sid)


def callback_form(sid: str, status: str, **fields: str) -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": ACCOUNT_SID, "From": WHATSAPP_FROM, "To": f"whatsapp:{CITIZEN}",
            "ApiVersion": "2010-04-01", "ChannelPrefix": "whatsapp", **fields}


async def test_status_callbacks_update_the_receipt_even_out_of_order(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    endpoint = await start_endpoint()
    sid = "SM" + "5e" * 16
    for status in ("read", "delivered", "sent"):  # the order Twilio sometimes manages
        params = callback_form(sid, status)
        answer = await post(endpoint.status_url, params, twilio.sign(endpoint.status_url, params))
        assert answer[0] in (200, 204)
    stored = await receipt(endpoint.runtime, sid)
    assert stored is not None and stored.status == "read", "a late 'sent' never undoes 'read'"


async def test_a_failed_callback_keeps_twilios_error(start_endpoint: StartEndpoint, twilio: TwilioServer) -> None:
    endpoint = await start_endpoint()
    sid = "SM" + "fa" * 16
    params = callback_form(sid, "undelivered", ErrorCode="63024", ErrorMessage="Invalid message recipient")
    await post(endpoint.status_url, params, twilio.sign(endpoint.status_url, params))
    stored = await receipt(endpoint.runtime, sid)
    assert stored is not None
    assert (stored.status, stored.error_code, stored.error_message) == (
        "undelivered", 63024, "Invalid message recipient")


async def test_a_forged_status_callback_changes_nothing(start_endpoint: StartEndpoint, twilio: TwilioServer) -> None:
    endpoint = await start_endpoint(PUBLIC)
    sid = "SM" + "0f" * 16
    params = callback_form(sid, "read")
    for signature in (None, "forged", twilio.sign(endpoint.status_url, params)):  # the last: not the public URL
        status, _type, _text = await post(endpoint.status_url, params, signature)
        assert status == 403
    assert await receipt(endpoint.runtime, sid) is None


async def test_callbacks_from_the_local_twilio_reach_the_receipt(
    start_endpoint: StartEndpoint, twilio: TwilioServer, twilio_client: Client
) -> None:
    """The whole way: a message created through the real client with our status callback URL; the server
    posts signed sent/delivered/read callbacks last-first, and the receipt ends at "read"."""
    endpoint = await start_endpoint(local_is_public=True)
    twilio.out_of_order = True
    twilio.read_receipts = True
    twilio.create_whatsapp_user(CITIZEN)
    twilio.last_inbound[CITIZEN] = twilio.now()  # the citizen wrote: the window is open
    message = await twilio_client.messages.create_async(
        to=f"whatsapp:{CITIZEN}", from_=WHATSAPP_FROM, body="Laporan diterima", status_callback=endpoint.status_url)
    record = twilio.messages[message.sid]

    async def all_answered() -> bool:
        return len(twilio.callback_results) == 3

    await eventually(all_answered)
    assert [p["MessageStatus"] for p in record.callbacks] == ["read", "delivered", "sent"]
    assert all(result.status in (200, 204) for result in twilio.callback_results)
    stored = await receipt(endpoint.runtime, message.sid)
    assert stored is not None and stored.status == "read"


async def test_nothing_about_the_citizen_is_created_by_the_webhook(
    start_endpoint: StartEndpoint, twilio: TwilioServer
) -> None:
    """The webhook only stores; the citizen appears when the inbox processes the message."""
    endpoint = await start_endpoint()
    await twilio.create_whatsapp_user(CITIZEN).send(endpoint.webhook_url, "halo")
    async with endpoint.runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Citizen)) == 0


@pytest.mark.parametrize("query", ["?key=a%2Fb%3D%3D", "?note=dua%20kata&x=%7Esiti", "?q=a+b"])
@pytest.mark.parametrize("public_url", [PUBLIC, None])
async def test_an_encoded_query_is_checked_as_twilio_signed_it(
    start_endpoint: StartEndpoint, twilio: TwilioServer, query: str, public_url: str | None
) -> None:
    """Twilio signs the webhook URL exactly as configured, percent-escapes included (a secret ``?key=``
    with ``/`` or ``=`` in it must not turn every message away)."""
    endpoint = await start_endpoint(public_url)
    params = incoming_form(twilio)
    status, _type, _text = await post(endpoint.webhook_url + query, params,
                                      twilio.sign(endpoint.public + WEBHOOK + query, params))
    assert status == 200
    assert len(await inbox_rows(endpoint.runtime)) == 1
