"""What the conversation core gets from a Twilio WhatsApp form: text, commands, pins, button taps, photos
downloaded from the (local) Twilio server with the account's credentials, and a clear verdict for
everything else. The events are checked as the core would receive them; the last test runs them through the inbox."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.services.runtime import Runtime
from bot.whatsapp.inbox import InboxWorker
from bot.whatsapp.translate import MediaDownloadError, MediaFetcher, to_events
from handlers.events import (
    ButtonPress,
    Command,
    Incoming,
    Location,
    Photo,
    Text,
    TooLarge,
    Unsupported,
)
from localapi.telegram import make_jpeg
from localapi.twilio import TwilioServer
from storage.images import is_clean_jpeg
from storage.media import MediaStore
from storage.models import InboundMessage, MediaFile
from storage.uow import UnitOfWork
from tests.whatsapp.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, WHATSAPP_FROM

MAX_BYTES = 1024 * 1024
SID = "SM" + "0123456789abcdef" * 2
MEDIA_SID = "MM" + "0123456789abcdef" * 2
REAL_TWILIO = "https://api.twilio.com"


def form(**fields: str) -> dict[str, str]:
    """An incoming-message form as Twilio posts it (the fields every message has, plus ``fields``)."""
    base = {
        "SmsMessageSid": SID, "MessageSid": SID, "SmsSid": SID, "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{CITIZEN}", "To": WHATSAPP_FROM, "Body": "", "NumMedia": "0", "NumSegments": "1",
        "SmsStatus": "received", "ApiVersion": "2010-04-01", "ProfileName": "Siti", "WaId": CITIZEN[1:],
        "MessageType": "text",
    }
    return {**base, **fields}


def media_form(twilio: TwilioServer, items: list[tuple[bytes, str]], body: str = "", *,
               as_real_twilio: bool = True, **fields: str) -> dict[str, str]:
    """A form with media stored on the local server. ``as_real_twilio``: the URLs name api.twilio.com,
    as Twilio's do, and only the fetcher's ``api_base`` brings them to the local server."""
    extra: dict[str, str] = {"MessageSid": MEDIA_SID, "SmsMessageSid": MEDIA_SID, "SmsSid": MEDIA_SID,
                             "NumMedia": str(len(items)), "Body": body, "MessageType": "image"}
    for index, (data, content_type) in enumerate(items):
        url = twilio.add_media(data, content_type, MEDIA_SID)
        if as_real_twilio:
            url = url.replace(twilio.base_url, REAL_TWILIO)
        extra[f"MediaUrl{index}"] = url
        extra[f"MediaContentType{index}"] = content_type
    return form(**{**extra, **fields})


Translate = Callable[[dict[str, str]], Awaitable[list[tuple[str, Incoming]]]]


@pytest.fixture
def translate(fetcher: MediaFetcher, media_store: MediaStore) -> Translate:
    async def run(fields: dict[str, str]) -> list[tuple[str, Incoming]]:
        return await to_events(fields, fetcher, media_store, max_bytes=MAX_BYTES)

    return run


async def only_event(translate: Translate, fields: dict[str, str]) -> Incoming:
    events = await translate(fields)
    assert len(events) == 1, events
    key, incoming = events[0]
    assert key == f"wa:{fields['MessageSid']}"
    return incoming


@asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    """Run ``app`` on a free local port; yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


# --- text, commands, pins, buttons ------------------------------------------------------------------------


async def test_body_becomes_text_with_the_profile_name(translate: Translate) -> None:
    incoming = await only_event(translate, form(Body="Jalan berlubang di depan pasar"))
    assert incoming.event == Text("Jalan berlubang di depan pasar")
    assert incoming.display_name == "Siti"
    assert incoming.reply_to_message_id is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [("/status JMB-1", Command("status", "JMB-1")), ("  /batal  ", Command("batal")), ("/BARU", Command("baru"))],
)
async def test_slash_commands_become_commands(translate: Translate, body: str, expected: Command) -> None:
    assert (await only_event(translate, form(Body=body))).event == expected


async def test_shared_location_carries_the_place(translate: Translate) -> None:
    pin = form(Latitude="-1.6101", Longitude="103.6131", Label="Pasar Angso Duo", Address="Jl. Sultan Thaha",
               MessageType="location")
    event = (await only_event(translate, pin)).event
    assert event == Location(-1.6101, 103.6131, "Pasar Angso Duo, Jl. Sultan Thaha")

    bare = (await only_event(translate, form(Latitude="-1.6", Longitude="103.6", MessageType="location"))).event
    assert bare == Location(-1.6, 103.6, None), "a dropped pin without a place name has no address"


async def test_a_quick_reply_tap_is_a_button_press(translate: Translate) -> None:
    tap = form(ButtonPayload="sum:send", ButtonText="📨 Kirim", Body="📨 Kirim", MessageType="button")
    assert (await only_event(translate, tap)).event == ButtonPress("sum:send")


async def test_a_swipe_reply_points_at_our_message(translate: Translate) -> None:
    ours = "SM" + "ab" * 16
    incoming = await only_event(translate, form(Body="lubangnya di sisi kiri", OriginalRepliedMessageSid=ours))
    assert incoming.reply_to_message_id == ours


async def test_every_event_lets_the_citizen_type_a_menu_choice(translate: Translate, twilio: TwilioServer) -> None:
    forms = [
        form(Body="1"),
        form(Body="/menu"),
        form(Latitude="-1.6", Longitude="103.6"),
        form(ButtonPayload="sum:send"),
        media_form(twilio, [(make_jpeg(), "image/jpeg"), (b"OggS", "audio/ogg")]),
        form(MessageType="sticker"),
    ]
    for fields in forms:
        for _key, incoming in await translate(fields):
            assert incoming.typed_choices is True, incoming


# --- media ----------------------------------------------------------------------------------------------


async def test_a_jpeg_is_downloaded_stored_by_hash_and_captioned(
    translate: Translate, twilio: TwilioServer, media_store: MediaStore
) -> None:
    data = make_jpeg(64, 48)
    fields = media_form(twilio, [(data, "image/jpeg")], body="Sampah menumpuk di pinggir jalan")
    assert fields["MediaUrl0"].startswith(REAL_TWILIO + "/"), "the form names api.twilio.com, like Twilio's"
    event = (await only_event(translate, fields)).event
    assert isinstance(event, Photo)
    stored = media_store.path_for(MediaStore.relative_path(event.media.sha256, "image/jpeg")).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == event.media.sha256, "stored by the hash of what is stored"
    assert (event.media.mime_type, event.media.size) == ("image/jpeg", len(stored))
    assert is_clean_jpeg(stored), "the stored file is the re-encoded photo, without metadata"
    assert event.caption == "Sampah menumpuk di pinggir jalan"


async def test_image_jpg_is_stored_as_jpeg_and_a_photo_without_body_has_no_caption(
    translate: Translate, twilio: TwilioServer
) -> None:
    event = (await only_event(translate, media_form(twilio, [(make_jpeg(), "image/jpg")]))).event
    assert isinstance(event, Photo)
    assert event.media.mime_type == "image/jpeg" and event.caption is None


def test_only_twilio_urls_are_rewritten_to_api_base(http_session: aiohttp.ClientSession) -> None:
    fetcher = MediaFetcher(http_session, ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:9999/")
    real = f"{REAL_TWILIO}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MEDIA_SID}/Media/ME1"
    assert fetcher.url_for(real) == f"http://127.0.0.1:9999/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{MEDIA_SID}/Media/ME1"
    assert fetcher.url_for("https://example.org/x.jpg") == "https://example.org/x.jpg"
    production = MediaFetcher(http_session, ACCOUNT_SID, AUTH_TOKEN)
    assert production.url_for(real) == real, "without api_base the URL is used as Twilio gave it"


async def test_media_needs_the_account_credentials(
    http_session: aiohttp.ClientSession, twilio: TwilioServer, media_store: MediaStore
) -> None:
    """A fetcher with the wrong auth token gets 401 from Twilio: a rotated token is worth retrying (the
    inbox backs off and tries again), never a photo silently thrown away."""
    wrong = MediaFetcher(http_session, ACCOUNT_SID, "not-the-token", twilio.base_url)
    with pytest.raises(MediaDownloadError):
        await to_events(media_form(twilio, [(make_jpeg(), "image/jpeg")]), wrong, media_store, max_bytes=MAX_BYTES)


@pytest.mark.parametrize(
    ("content_type", "kind"),
    [
        ("image/webp", "sticker"),
        ("audio/ogg", "voice"),
        ("audio/ogg; codecs=opus", "voice"),
        ("application/pdf", "document"),
        ("video/mp4", "video"),
        ("audio/mpeg", "audio"),
        ("text/vcard", "contact"),
    ],
)
async def test_media_the_flow_cannot_use_is_named_not_downloaded(
    translate: Translate, twilio: TwilioServer, media_store: MediaStore, content_type: str, kind: str
) -> None:
    event = (await only_event(translate, media_form(twilio, [(b"not a photo", content_type)]))).event
    assert event == Unsupported(kind)
    assert not media_store.root.exists(), "nothing is stored for media the flow cannot use"


async def test_a_photo_over_the_limit_is_too_large(
    translate: Translate, twilio: TwilioServer, media_store: MediaStore
) -> None:
    big = b"\xff\xd8\xff\xe0" + b"0" * (3 * MAX_BYTES)
    event = (await only_event(translate, media_form(twilio, [(big, "image/jpeg")]))).event
    assert event == TooLarge(size=len(big), max_bytes=MAX_BYTES)
    assert not media_store.root.exists()


async def test_an_endless_download_without_length_stops_at_the_limit(
    http_session: aiohttp.ClientSession, media_store: MediaStore
) -> None:
    """A media host answering without Content-Length is read only until the limit is passed."""
    written = 0
    chunk = b"\0" * (64 * 1024)

    async def endless(request: web.Request) -> web.StreamResponse:
        nonlocal written
        response = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(2048):  # 128 MB if nobody stops reading
                await response.write(chunk)
                written += len(chunk)
        except (ConnectionResetError, aiohttp.ClientConnectionResetError):
            pass
        return response

    app = web.Application()
    app.router.add_get("/{name}", endless)
    async with serve(app) as base:
        fetcher = MediaFetcher(http_session, ACCOUNT_SID, AUTH_TOKEN, base)  # credentials go to the API origin only
        data, size = await fetcher.fetch(f"{REAL_TWILIO}/photo.jpg", max_bytes=MAX_BYTES)
    assert data is None and MAX_BYTES < size <= MAX_BYTES + len(chunk)
    assert written < 64 * MAX_BYTES, f"the server had to send {written} bytes"
    assert not media_store.root.exists()


async def test_twilio_unreachable_is_a_download_error_worth_retrying(
    translate: Translate, twilio: TwilioServer
) -> None:
    fields = media_form(twilio, [(make_jpeg(), "image/jpeg")])
    await twilio.stop()
    with pytest.raises(MediaDownloadError):
        await translate(fields)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_a_server_error_is_a_download_error_worth_retrying(
    http_session: aiohttp.ClientSession, media_store: MediaStore, status: int
) -> None:
    async def failing(request: web.Request) -> web.Response:
        return web.Response(status=status, text="try again later")

    app = web.Application()
    app.router.add_get("/{tail:.*}", failing)
    async with serve(app) as base:
        fetcher = MediaFetcher(http_session, ACCOUNT_SID, AUTH_TOKEN, base)
        fields = form(NumMedia="1", MediaUrl0=f"{REAL_TWILIO}/media/ME1", MediaContentType0="image/jpeg")
        with pytest.raises(MediaDownloadError):
            await to_events(fields, fetcher, media_store, max_bytes=MAX_BYTES)


async def test_media_that_is_gone_is_reported_not_retried(translate: Translate, twilio: TwilioServer) -> None:
    fields = form(NumMedia="1", MediaContentType0="image/jpeg",
                  MediaUrl0=f"{REAL_TWILIO}/media/{MEDIA_SID}/MEdeadbeef")
    assert (await only_event(translate, fields)).event == Unsupported("download_failed")


async def test_several_media_become_several_events_with_their_own_keys(
    translate: Translate, twilio: TwilioServer
) -> None:
    first, second = make_jpeg(gray=10), make_jpeg(gray=200)
    replied = "SM" + "cd" * 16
    fields = media_form(twilio, [(first, "image/jpeg"), (second, "image/png"), (b"RIFF", "image/webp")],
                        body="dua foto", OriginalRepliedMessageSid=replied)
    events = await translate(fields)
    assert [key for key, _ in events] == [f"wa:{MEDIA_SID}", f"wa:{MEDIA_SID}:1", f"wa:{MEDIA_SID}:2"]
    photos = [incoming.event for _key, incoming in events]
    assert isinstance(photos[0], Photo) and isinstance(photos[1], Photo)
    assert photos[0].media.sha256 != photos[1].media.sha256
    assert photos[0].caption == "dua foto" and photos[1].caption is None
    assert photos[1].media.mime_type == "image/jpeg", "a PNG is stored re-encoded, as a JPEG"
    assert photos[2] == Unsupported("sticker")
    # every item answers the message replied to (a photo of a reply reaches the agency too)
    assert [incoming.reply_to_message_id for _key, incoming in events] == [replied, replied, replied]
    assert all(incoming.display_name == "Siti" for _key, incoming in events)


@pytest.mark.parametrize(("message_type", "kind"), [("sticker", "sticker"), ("audio", "voice"), ("reaction", "reaction"),
                                                     ("", "unknown")])
async def test_an_empty_message_is_named_by_its_type(translate: Translate, message_type: str, kind: str) -> None:
    assert (await only_event(translate, form(MessageType=message_type))).event == Unsupported(kind)


async def test_the_inbox_retries_a_photo_twilio_could_not_serve(
    twilio: TwilioServer, fetcher: MediaFetcher, runtime: Runtime
) -> None:
    """Twilio's media host is down for a moment: the message waits in the inbox, is not lost, and the
    photo is taken once the host is back (the citizen's later messages wait behind it)."""
    fields = media_form(twilio, [(make_jpeg(), "image/jpeg")], body="lubang")
    async with UnitOfWork(runtime.sessionmaker) as uow:
        await uow.inbox.add(f"wa:{MEDIA_SID}", "whatsapp", CITIZEN, fields, now=runtime.clock())
        await uow.inbox.add(f"wa:{SID}", "whatsapp", CITIZEN, form(Body="halo"), now=runtime.clock())
        await uow.commit()
    port = int(twilio.base_url.rsplit(":", 1)[1])
    await twilio.stop()
    worker = InboxWorker(runtime, fetcher, backoff_base=0.05, clock=runtime.clock)
    async with runtime.sessionmaker() as session:
        rows = list((await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all())
    assert await worker._process(rows[0].id) is False, "later messages of this citizen wait"
    async with runtime.sessionmaker() as session:
        first = await session.get(InboundMessage, rows[0].id)
        assert first is not None
        assert (first.status, first.attempts) == ("pending", 1)
        assert "media download" in (first.last_error or "")
        assert await session.scalar(select(func.count()).select_from(MediaFile)) == 0

    await twilio.start(port=port)  # back, with the same media
    await worker.drain(10)
    async with runtime.sessionmaker() as session:
        done = list((await session.scalars(select(InboundMessage).order_by(InboundMessage.id))).all())
        assert [(r.status, r.attempts) for r in done] == [("done", 2), ("done", 1)]
        assert await session.scalar(select(func.count()).select_from(MediaFile)) == 1
