"""Hostile Twilio webhook forms, properly signed (twilio's own RequestValidator), POSTed to the real
:class:`TwilioWebhooks` endpoint and then processed by the real :class:`InboxWorker`, on SQLite and
PostgreSQL: unicode, control characters (NUL included), fields up to and past the 256 KiB body limit, empty
and missing fields, unknown message types, ``NumMedia`` garbage, media URLs on other hosts.

What must hold for every form: no exception escapes, Twilio gets an answer (empty TwiML, or a deliberate
400 for a form that cannot be stored, or 413 past the body limit), nothing stored contains a NUL, every
stored message ends ``done`` (none stuck ``pending``, none ``failed``), and no other host is ever asked for
anything."""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest_asyncio
from aiohttp import web
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from bot.config import AppConfig, TwilioSettings
from bot.services.runtime import Runtime
from bot.whatsapp.inbox import InboxWorker
from bot.whatsapp.translate import MediaFetcher
from bot.whatsapp.webhook import SENDER_RE, SID_RE, TwilioWebhooks
from localapi.telegram import make_jpeg
from localapi.twilio import TwilioServer
from storage.models import Citizen, ConversationRow, InboundMessage
from tests.whatsapp.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, WHATSAPP_FROM

BODY_LIMIT = 256 * 1024
REAL_TWILIO = "https://api.twilio.com"
VALIDATOR = RequestValidator(AUTH_TOKEN)
SENDERS = ["+6281234567890", "+6281111111111", "+628222"]


@dataclass
class Recorder:
    """A host that must never be asked for anything."""

    port: int = 0
    requests: list[str] = field(default_factory=list)


@dataclass
class World:
    url: str
    status_url: str
    runtime: Runtime
    fetcher: MediaFetcher
    twilio: TwilioServer
    evil: Recorder
    photo_url: str
    session: aiohttp.ClientSession


@pytest_asyncio.fixture
async def world(
    runtime: Runtime, app_config: AppConfig, twilio: TwilioServer, fetcher: MediaFetcher
) -> AsyncIterator[World]:
    """The webhook served like SikesalApp serves it (256 KiB body limit), a host standing in for an
    attacker's, and one photo on the local Twilio server."""
    evil = Recorder()

    async def record(request: web.Request) -> web.StreamResponse:
        evil.requests.append(request.path_qs)
        return web.Response(body=make_jpeg(), content_type="image/jpeg")

    evil_app = web.Application()
    evil_app.router.add_get("/{tail:.*}", record)
    evil_runner = web.AppRunner(evil_app, access_log=None)
    await evil_runner.setup()
    await web.TCPSite(evil_runner, "127.0.0.1", 0).start()
    evil.port = int(evil_runner.addresses[0][1])

    settings_ = TwilioSettings(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, whatsapp_from=WHATSAPP_FROM)
    webhooks = TwilioWebhooks(runtime, settings_)  # no public URL: the URL signed is the one called
    app = web.Application(client_max_size=BODY_LIMIT)
    app.router.add_routes(webhooks.routes(app_config.whatsapp.webhook_path, app_config.whatsapp.status_path))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    local = f"http://127.0.0.1:{runner.addresses[0][1]}"
    runners = [evil_runner, runner]
    photo = twilio.add_media(make_jpeg(40, 30), "image/jpeg", "MM" + "ab" * 16).replace(twilio.base_url, REAL_TWILIO)
    try:
        async with aiohttp.ClientSession() as session:
            yield World(local + app_config.whatsapp.webhook_path, local + app_config.whatsapp.status_path, runtime,
                        fetcher, twilio, evil, photo, session)
    finally:
        for runner in runners:
            await runner.cleanup()


# --- the forms ----------------------------------------------------------------------------------------

#: every character UTF-8 can carry (no lone surrogates: no HTTP client can send them), controls included
any_char = st.characters(codec="utf-8")
hostile_text = st.one_of(
    st.text(any_char, max_size=40),
    st.lists(st.sampled_from(["\x00", "\u202e", "\u200b", "\r", "\n", "\t", "\ufeff", "\u2066", "a", " ",
                              "👨\u200d👩\u200d👧", "e\u0301", "١", "²", "\x1b", "\x7f", "\u0085"]), max_size=40).map("".join),
    st.sampled_from(["", " ", "1", "2", "3", "9", "0", "batal", "halo", "menu", "/start", "bantuan", "kirim", "selesai",
                     "lewati", "Sampah menumpuk di depan pasar sejak tiga hari", "Jl. Sultan Thaha depan pasar"]),
)
huge_text = st.builds(lambda unit, count: unit * count, st.sampled_from(["x", "é", "\x00", "👨\u200d👩\u200d👧", "\u202e"]),
                      st.integers(1000, 120_000))
field_text = st.one_of(hostile_text, hostile_text, hostile_text, huge_text)
good_sids = st.builds(lambda prefix: prefix + secrets.token_hex(16), st.sampled_from(["SM", "MM"]))


def mostly(good: st.SearchStrategy[str], bad: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``good`` about nine times in ten: the inbox must see plenty of stored messages, not only 400s."""
    return st.integers(0, 9).flatmap(lambda n: bad if n == 9 else good)


sids = mostly(good_sids, hostile_text)
payloads = st.one_of(hostile_text, st.sampled_from([
    "menu:new", "cat:sampah", "cat:jalan", "cat:\x00", "sum:send", "photo:skip", "photo:done", "addr:-1", "addr:0",
    "addr:99999999999999999999", "dup:-1", "show:JMB-2026-000001", "lang:en", "lang:\u202e", "st:accept:１２",
    "st:accept:99999999999999999999", "draft:continue", "edit:description",
]))
num_media = st.one_of(st.sampled_from(["0", "1", "2", "-1", "abc", "999", "²", "١", "", " 1", "10", "11", "1e3", "0x1"]),
                      hostile_text)
content_types = st.sampled_from(["image/jpeg", "image/png", "image/jpg", "image/webp", "audio/ogg", "video/mp4",
                                 "application/pdf", "text/vcard", "", "image/jpeg; charset=\x00", "\u202eimage/jpeg"])
coordinates = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(str),
                        st.sampled_from(["-1.6101", "103.6131", "nan", "inf", "1e999", "", "١", "-91", "181"]),
                        hostile_text)
message_types = st.one_of(st.sampled_from(["text", "image", "location", "button", "sticker", "audio", "video",
                                           "contacts", "document", "interactive", "reaction", "unknown", ""]),
                          hostile_text)


def media_urls(w: World) -> st.SearchStrategy[str]:
    return st.sampled_from([
        w.photo_url,
        f"{REAL_TWILIO}/media/MM{'ab' * 16}/MEdeadbeef",  # on the API origin, but gone
        f"http://127.0.0.1:{w.evil.port}/photo.jpg",
        f"http://api.twilio.com:{w.evil.port}@127.0.0.1:{w.evil.port}/photo.jpg",
        "https://eviltwilio.com/2010-04-01/Media/ME1",
        "https://api.twilio.com.evil.net/x",
        "",
        "\x00",
        "javascript:alert(1)",
    ])


def forms(w: World) -> st.SearchStrategy[dict[str, str]]:
    good = st.sampled_from(SENDERS).map(lambda n: f"whatsapp:{n}")
    sender = mostly(good, st.one_of(hostile_text.map(lambda t: f"whatsapp:{t}"),
                                    st.sampled_from([CITIZEN, "", "whatsapp:", "whatsapp:+" + "9" * 70])))
    urls = st.one_of(media_urls(w), hostile_text)
    optional: dict[str, st.SearchStrategy[str]] = {
        "Body": field_text,
        "ProfileName": field_text,
        "NumMedia": num_media,
        "MediaUrl0": urls,
        "MediaContentType0": content_types,
        "MediaUrl1": urls,
        "MediaContentType1": content_types,
        "MessageType": message_types,
        "Latitude": coordinates,
        "Longitude": coordinates,
        "Address": field_text,
        "Label": field_text,
        "ButtonPayload": payloads,
        "ButtonText": field_text,
        "OriginalRepliedMessageSid": hostile_text,
        "WaId": hostile_text,
        "SmsStatus": hostile_text,
        "AccountSid": st.sampled_from([ACCOUNT_SID, ""]),
    }
    base = st.fixed_dictionaries({"MessageSid": sids, "From": sender}, optional=optional)
    extra = st.dictionaries(st.text(any_char, min_size=1, max_size=12), hostile_text, max_size=3)
    return st.builds(lambda fixed, more: {**more, **fixed}, base, extra)


# --- the property ---------------------------------------------------------------------------------------


def encoded_size(form: dict[str, str]) -> int:
    return len(urlencode(form).encode())


FORM_TYPE = "application/x-www-form-urlencoded"


async def post_signed(w: World, form: dict[str, str], url: str | None = None) -> tuple[int, str, str]:
    """POST ``form`` urlencoded as Twilio does (encoded here: aiohttp's FormData refuses control characters
    in field names, which is the client's business, not the webhook's), signed over ``url``."""
    target = url or w.url
    headers = {"X-Twilio-Signature": VALIDATOR.compute_signature(target, form), "Content-Type": FORM_TYPE}
    async with w.session.post(target, data=urlencode(form).encode(), headers=headers) as response:
        return response.status, response.content_type, await response.text()


async def settle(w: World) -> list[InboundMessage]:
    """Work the inbox until nothing is pending; every row as it ended."""
    worker = InboxWorker(w.runtime, w.fetcher, max_attempts=3, backoff_base=0.01, poll_interval=0.05,
                         clock=w.runtime.clock)
    await worker.drain(30)
    async with w.runtime.sessionmaker() as session:
        return list((await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all())


def has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(v) for v in value)
    return False


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large, HealthCheck.large_base_example])
@given(data=st.data())
async def test_any_signed_form_is_answered_and_processed(world: World, data: st.DataObject) -> None:
    form = data.draw(forms(world), label="form")
    status, content_type, text = await post_signed(world, form)
    size = encoded_size(form)
    event(f"HTTP {status}")
    if status == 413:
        assert size > BODY_LIMIT * 0.9, f"413 for a body of {size} bytes"
    elif status == 400:
        sid, sender = form["MessageSid"], form["From"].removeprefix("whatsapp:")
        assert not (SID_RE.fullmatch(sid) and SENDER_RE.fullmatch(sender)), "400 only for an unusable sid or sender"
    else:
        assert status == 200, (status, text[:200])
        assert content_type == "text/xml"
        root = ET.fromstring(text)
        assert root.tag == "Response" and len(root) == 0
        assert size <= BODY_LIMIT

    rows = await settle(world)
    assert [(r.status, r.last_error) for r in rows if r.status != "done"] == []
    assert not any(has_nul(r.payload) for r in rows), "stored forms are cleaned"
    assert world.evil.requests == [], "no other host is ever asked for media"


# --- the same, spelled out -------------------------------------------------------------------------------


async def test_nul_and_bidi_never_reach_the_database(world: World) -> None:
    """A description with NUL and a right-to-left override, from a "Siti" whose profile name has them too:
    PostgreSQL would refuse the NUL; everything is stored clean and the citizen gets on with filing."""
    sender = "+6281234567890"

    async def say(**fields: str) -> None:
        form = {"MessageSid": "SM" + secrets.token_hex(16), "AccountSid": ACCOUNT_SID, "From": f"whatsapp:{sender}",
                "To": WHATSAPP_FROM, "NumMedia": "0", "ProfileName": "Si\x00ti\u202e", **fields}
        status, _type, _text = await post_signed(world, form)
        assert status == 200
        assert [r.status for r in await settle(world)].count("pending") == 0

    await say(ButtonPayload="menu:new", Body="📝 Buat Pengaduan")
    await say(ButtonPayload="cat:sampah", Body="Sampah")
    await say(Body="Sampah\x00 menumpuk\u202e di depan pasar\r\nsejak kemarin\u200b")
    async with world.runtime.sessionmaker() as session:
        citizen = (await session.scalars(select(Citizen))).one()
        conversation = await session.get(ConversationRow, citizen.id)
        rows = list((await session.scalars(select(InboundMessage))).all())
    assert citizen.display_name == "Siti"
    assert conversation is not None
    assert conversation.state["draft"]["description"] == "Sampah menumpuk di depan pasar\nsejak kemarin"
    assert conversation.step == "photos"
    assert all(r.status == "done" and not has_nul(r.payload) for r in rows)


async def test_an_unusable_sid_or_sender_is_a_deliberate_400(world: World) -> None:
    for fields in ({"MessageSid": "SM" + "0" * 200}, {"MessageSid": "SM 1/../2"},
                   {"From": "whatsapp:+62" + "9" * 80}, {"From": "whatsapp:siti"}):
        form = {"MessageSid": "SM" + secrets.token_hex(16), "From": f"whatsapp:{CITIZEN}", "Body": "halo", **fields}
        status, _type, _text = await post_signed(world, form)
        assert status == 400, fields
    assert await settle(world) == []


async def test_a_status_callback_with_a_weird_error_code_is_answered(world: World) -> None:
    status_url = world.status_url
    for code in ("²", "99999999999999999999", "-1", "６３０２４", "\x00"):
        form = {"MessageSid": "SM" + secrets.token_hex(16), "MessageStatus": "undelivered", "ErrorCode": code,
                "ErrorMessage": "gagal\x00\u202e", "AccountSid": ACCOUNT_SID}
        status, _type, _text = await post_signed(world, form, status_url)
        assert status in (200, 204), (code, status)
