"""Where the Twilio account's credentials go when a WhatsApp photo is fetched: to the Twilio API origin
only, compared exactly. A signed webhook whose ``MediaUrl0`` names any other host is refused without a
request; Twilio's redirect to its pre-signed media URL is followed without credentials.

Host names are resolved by a recording resolver that sends every name to 127.0.0.1, so "eviltwilio.com" is
a local server that would see any request made to it (and the resolver sees every name looked up)."""

from __future__ import annotations

import base64
import shutil
import socket
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from sqlalchemy import select

from bot.services.runtime import Runtime
from bot.whatsapp.inbox import InboxWorker
from bot.whatsapp.translate import MAX_REDIRECTS, MediaFetcher, MediaRefused, to_events
from handlers.events import Photo, Unsupported
from localapi.telegram import make_jpeg
from localapi.twilio import TwilioServer
from storage.media import MediaStore
from storage.models import InboundMessage, OutboxMessage
from storage.uow import UnitOfWork
from tests.whatsapp.conftest import ACCOUNT_SID, AUTH_TOKEN, CITIZEN, WHATSAPP_FROM

REAL_TWILIO = "https://api.twilio.com"
MEDIA_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM{'ab' * 16}/Media/ME{'cd' * 16}"
BASIC = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
PHOTO = make_jpeg(32, 24)
MAX_BYTES = 1024 * 1024


class RecordingResolver(AbstractResolver):
    """Every host name is 127.0.0.1; the names asked for are recorded."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        self.asked.append(host)
        return [ResolveResult(hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0,
                              flags=socket.AI_NUMERICHOST)]

    async def close(self) -> None:
        return None


@dataclass
class Host:
    """A local server standing in for some host: what it received, and its port."""

    port: int
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    @property
    def authorizations(self) -> list[str]:
        return [headers["Authorization"] for _path, headers in self.requests if "Authorization" in headers]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serve(handler: Handler, *, tls: ssl.SSLContext | None = None) -> AsyncIterator[Host]:
    """``handler`` for every GET path on 127.0.0.1 (a free port), recording each request first."""
    host = Host(0)

    async def recording(request: web.Request) -> web.StreamResponse:
        host.requests.append((request.path_qs, dict(request.headers)))
        return await handler(request)

    app = web.Application()
    app.router.add_get("/{tail:.*}", recording)
    runner = web.AppRunner(app, shutdown_timeout=0.5, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls).start()
    host.port = int(runner.addresses[0][1])
    try:
        yield host
    finally:
        await runner.cleanup()


async def photo_answer(request: web.Request) -> web.StreamResponse:
    return web.Response(body=PHOTO, content_type="image/jpeg")


@pytest.fixture
def resolver() -> RecordingResolver:
    return RecordingResolver()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for storage.example (the pre-signed media host), made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to serve https locally")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=storage.example", "-addext", "subjectAltName=DNS:storage.example"],
        check=True, capture_output=True,
    )
    return cert, key


@pytest_asyncio.fixture
async def session(resolver: RecordingResolver, certificate: tuple[Path, Path]) -> AsyncIterator[aiohttp.ClientSession]:
    """A client session resolving every name to 127.0.0.1 and trusting storage.example's certificate."""
    trusted = ssl.create_default_context(cafile=str(certificate[0]))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=resolver, ssl=trusted)) as client:
        yield client


@pytest.fixture
def storage_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


# --- refused without a request ----------------------------------------------------------------------


EVIL_URLS = [
    "http://127.0.0.1:{evil}/photo.jpg",  # another port of the same machine is another origin
    "http://eviltwilio.com:{evil}/photo.jpg",
    "http://api.twilio.com.evil.net:{evil}/photo.jpg",
    "http://api.twilio.com:{api}@evil.net:{evil}/photo.jpg",
    "http://evil.net:{evil}@127.0.0.1:{api}/photo.jpg",  # the API origin, but with user info: refused too
    "http://127.0.0.1:{api}\\@evil.net:{evil}/photo.jpg",
    "https://eviltwilio.com/2010-04-01/Media/ME1",
    "https://api.twilio.com.evil.net/2010-04-01/Media/ME1",
    "https://api.twilio.com@evil.net/2010-04-01/Media/ME1",
    "https://evil.net@api.twilio.com/2010-04-01/Media/ME1",
    "https://api.twilio.com:8443/2010-04-01/Media/ME1",
    "http://api.twilio.com/2010-04-01/Media/ME1",
    "//evil.net/photo.jpg",
    "/media/photo.jpg",
    "file:///etc/passwd",
    "ftp://api.twilio.com/photo.jpg",
    "javascript:alert(1)",
    "",
    "http://[::1",
]


@pytest.mark.parametrize("template", EVIL_URLS)
async def test_a_media_url_off_the_api_origin_is_never_requested(
    session: aiohttp.ClientSession, resolver: RecordingResolver, media_store: MediaStore, template: str
) -> None:
    async with serve(photo_answer) as api, serve(photo_answer) as evil:
        url = template.format(api=api.port, evil=evil.port)
        fetcher = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{api.port}")
        assert fetcher.first_url(url) is None
        with pytest.raises(MediaRefused):
            await fetcher.fetch(url, max_bytes=MAX_BYTES)
        form = {"MessageSid": "MM" + "01" * 16, "NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "image/jpeg",
                "Body": "lubang"}
        events = await to_events(form, fetcher, media_store, max_bytes=MAX_BYTES)
        expected = Unsupported("download_failed" if url else "unknown")  # no URL at all: nothing to fetch
        assert events[0][1].event == expected
    assert evil.requests == [] and api.requests == [], "no request at all"
    assert resolver.asked == [], "not even a DNS lookup"


@pytest.mark.parametrize("url", ["https://eviltwilio.com/x.jpg", "https://api.twilio.com.evil.net/x.jpg",
                                 "https://api.twilio.com@evil.net/x.jpg", "https://xn--pi-7ka.twilio.com/x.jpg",
                                 "https://api.twilio.com./x.jpg", "https://twilio.com/x.jpg",
                                 "https://media.twiliocdn.com/x.jpg"])
async def test_in_production_only_api_twilio_com_gets_credentials(
    session: aiohttp.ClientSession, resolver: RecordingResolver, url: str
) -> None:
    production = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN)
    assert production.first_url(url) is None
    with pytest.raises(MediaRefused):
        await production.fetch(url, max_bytes=MAX_BYTES)
    assert resolver.asked == []
    assert str(production.first_url(f"{REAL_TWILIO}{MEDIA_PATH}")) == f"{REAL_TWILIO}{MEDIA_PATH}"
    assert production.first_url(f"https://API.Twilio.com:443{MEDIA_PATH}") is not None


def test_only_the_exact_api_host_is_rewritten_to_api_base(session: aiohttp.ClientSession) -> None:
    local = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN, "http://127.0.0.1:9999/")
    assert local.url_for(f"{REAL_TWILIO}{MEDIA_PATH}") == f"http://127.0.0.1:9999{MEDIA_PATH}"
    for other in ("https://eviltwilio.com/x", "https://api.twilio.com.evil.net/x", "https://media.twilio.com/x"):
        assert local.url_for(other) == other, "never a suffix match"
        assert local.first_url(other) is None


# --- redirects --------------------------------------------------------------------------------------


def twilio_media(location: Callable[[], str], *, status: int = 307) -> Handler:
    """The API origin: the media path needs our Basic auth and redirects to ``location()``."""

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.path != MEDIA_PATH:
            return web.Response(status=404)
        if request.headers.get("Authorization") != BASIC:
            return web.Response(status=401)
        return web.Response(status=status, headers={"Location": location()})

    return handler


async def presigned(request: web.Request) -> web.StreamResponse:
    """Like S3: the signature in the query is the credential; an Authorization header is an error."""
    if "Authorization" in request.headers:
        return web.Response(status=400, text="Only one auth mechanism allowed")
    if request.query.get("Signature") != "s1gn3d":
        return web.Response(status=403, text="Access Denied")
    return web.Response(body=PHOTO, content_type="image/jpeg")


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_the_redirect_to_the_presigned_url_is_followed_without_credentials(
    session: aiohttp.ClientSession, storage_tls: ssl.SSLContext, status: int
) -> None:
    async with serve(presigned, tls=storage_tls) as storage:
        def signed() -> str:
            return f"https://storage.example:{storage.port}/media/ME1?Expires=9&Signature=s1gn3d"

        async with serve(twilio_media(signed, status=status)) as api:
            fetcher = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{api.port}")
            data, size = await fetcher.fetch(f"{REAL_TWILIO}{MEDIA_PATH}", max_bytes=MAX_BYTES)
    assert (data, size) == (PHOTO, len(PHOTO))
    assert api.authorizations == [BASIC], "the API origin got the credentials, once"
    assert len(storage.requests) == 1 and storage.authorizations == [], "the storage host never did"


async def test_a_redirect_back_to_the_api_origin_gets_no_credentials_either(session: aiohttp.ClientSession) -> None:
    seen: list[str | None] = []

    async def api_handler(request: web.Request) -> web.StreamResponse:
        if request.path == MEDIA_PATH:
            return web.Response(status=302, headers={"Location": "/signed/ME1?Signature=s1gn3d"})  # relative
        seen.append(request.headers.get("Authorization"))
        return web.Response(body=PHOTO, content_type="image/jpeg")

    async with serve(api_handler) as api:
        fetcher = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{api.port}")
        data, _size = await fetcher.fetch(f"{REAL_TWILIO}{MEDIA_PATH}", max_bytes=MAX_BYTES)
    assert data == PHOTO
    assert seen == [None]
    assert api.authorizations == [BASIC]


@pytest.mark.parametrize(
    "location",
    [
        "http://storage.example:{evil}/media/ME1",  # plain http off the configured local origin
        "http://127.0.0.1:{evil}/media/ME1",
        "https://user:pass@storage.example:{evil}/media/ME1",
        "ftp://storage.example/media/ME1",
        "",
        "http://[::1",
    ],
)
async def test_a_redirect_that_is_not_https_is_refused(
    session: aiohttp.ClientSession, location: str
) -> None:
    async with serve(photo_answer) as evil:
        async with serve(twilio_media(lambda: location.format(evil=evil.port))) as api:
            fetcher = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{api.port}")
            with pytest.raises(MediaRefused):
                await fetcher.fetch(f"{REAL_TWILIO}{MEDIA_PATH}", max_bytes=MAX_BYTES)
    assert evil.requests == []


async def test_an_endless_redirect_is_given_up(session: aiohttp.ClientSession) -> None:
    async def loop(request: web.Request) -> web.StreamResponse:
        return web.Response(status=307, headers={"Location": request.path_qs})

    async with serve(loop) as api:
        fetcher = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{api.port}")
        with pytest.raises(MediaRefused):
            await fetcher.fetch(f"{REAL_TWILIO}{MEDIA_PATH}", max_bytes=MAX_BYTES)
    assert len(api.requests) == 1 + MAX_REDIRECTS
    assert api.authorizations == [BASIC], "credentials on the first request only"


async def test_the_size_cap_holds_after_a_redirect(
    session: aiohttp.ClientSession, storage_tls: ssl.SSLContext
) -> None:
    big = b"\xff\xd8" + b"0" * (3 * MAX_BYTES)

    async def huge(request: web.Request) -> web.StreamResponse:
        return web.Response(body=big, content_type="image/jpeg")

    async with serve(huge, tls=storage_tls) as storage:
        async with serve(twilio_media(lambda: f"https://storage.example:{storage.port}/big")) as api:
            fetcher = MediaFetcher(session, ACCOUNT_SID, AUTH_TOKEN, f"http://127.0.0.1:{api.port}")
            assert await fetcher.fetch(f"{REAL_TWILIO}{MEDIA_PATH}", max_bytes=MAX_BYTES) == (None, len(big))


# --- the local Twilio server, and the whole way through the inbox -------------------------------------


async def test_the_local_twilio_redirects_like_twilio_and_the_photo_arrives(
    twilio: TwilioServer, fetcher: MediaFetcher, media_store: MediaStore
) -> None:
    url = twilio.add_media(PHOTO, "image/jpeg", "MM" + "ab" * 16).replace(twilio.base_url, REAL_TWILIO)
    form = {"MessageSid": "MM" + "ab" * 16, "NumMedia": "1", "MediaUrl0": url, "MediaContentType0": "image/jpeg"}
    events = await to_events(form, fetcher, media_store, max_bytes=MAX_BYTES)
    event = events[0][1].event
    assert isinstance(event, Photo)
    assert (await media_store.read(MediaStore.relative_path(event.media.sha256, "image/jpeg"))) != PHOTO, "stored re-encoded"
    assert event.media.size > 0
    assert twilio.spec_violations == [], "no credentials reached the pre-signed URL"


async def test_the_local_twilio_catches_credentials_sent_to_its_presigned_url(twilio: TwilioServer) -> None:
    """What a careless client does (aiohttp keeps the Authorization header on a same-host redirect): the
    local server refuses it and records it, so a regression in MediaFetcher fails every photo test."""
    url = twilio.add_media(PHOTO, "image/jpeg", "MM" + "ab" * 16)
    async with aiohttp.ClientSession() as careless, careless.get(url, headers={"Authorization": BASIC}) as answer:
        assert answer.status == 400
    assert twilio.spec_violations and "pre-signed" in twilio.spec_violations[0]
    twilio.spec_violations.clear()


async def test_a_signed_message_pointing_elsewhere_gets_the_could_not_fetch_answer(
    twilio: TwilioServer, fetcher: MediaFetcher, runtime: Runtime
) -> None:
    """The whole way through the inbox: nothing is fetched from the other host, the row is done, and the
    citizen is told the photo could not be fetched (and their text is still handled)."""
    async with serve(photo_answer) as evil:
        sid = "MM" + "ee" * 16
        form = {"MessageSid": sid, "SmsMessageSid": sid, "AccountSid": ACCOUNT_SID, "From": f"whatsapp:{CITIZEN}",
                "To": WHATSAPP_FROM, "NumMedia": "1", "MediaContentType0": "image/jpeg",
                "MediaUrl0": f"http://127.0.0.1:{evil.port}/2010-04-01/Media/ME1", "Body": "", "ProfileName": "Siti"}
        async with UnitOfWork(runtime.sessionmaker) as uow:
            await uow.inbox.add(f"wa:{sid}", "whatsapp", CITIZEN, form, now=runtime.clock())
            await uow.commit()
        worker = InboxWorker(runtime, fetcher, backoff_base=0.01, clock=runtime.clock)
        await worker.drain(10)
    assert evil.requests == []
    async with runtime.sessionmaker() as session:
        rows = list((await session.scalars(select(InboundMessage))).all())
        texts: list[Any] = [o.payload for o in (await session.scalars(select(OutboxMessage))).all()]
    assert [row.status for row in rows] == ["done"]
    expected = runtime.ctx.t("id", "unexpected.download_failed")
    assert any(expected in str(payload) for payload in texts), texts
