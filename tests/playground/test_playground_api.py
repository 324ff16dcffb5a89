"""The playground's JSON and event API, with the real bot behind it."""

from __future__ import annotations

import asyncio
import base64
import json
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import AppConfig
from bot.playground import Playground, PlaygroundError, run_playground
from bot.playground.world import PLACES, SAMPLE_PHOTOS, STATIC_DIR
from localapi.telegram import make_jpeg
from storage.models import AgencyGroup
from storage.uow import UnitOfWork
from tests.playground.conftest import FAST, Client, body, buttons, has_button, real_payload

pytestmark = pytest.mark.e2e


async def start_chat(client: Client, user_id: int) -> dict[str, Any]:
    await client.post("/api/send", {"user_id": user_id, "chat_id": user_id, "kind": "text", "text": "/start"})
    return await client.wait_for(user_id, has_button("menu:new"))


async def test_world_has_every_agency_group_linked_with_two_staff(
    client: Client, playground: Playground, config: AppConfig
) -> None:
    world = await client.get("/api/world")
    assert world["ready"] is True
    assert [c["name"] for c in world["citizens"]] == ["Siti"]
    assert [g["agency"] for g in world["groups"]] == list(config.agencies)
    for group in world["groups"]:
        assert group["linked"] is True
        assert len(group["staff"]) == 2
        short = config.agencies[group["agency"]].short
        assert all(f"({short})" in s["name"] for s in group["staff"])
        transcript = await client.messages(group["chat_id"])
        assert any(m["text"].startswith("/link ") for m in transcript if not m["from_bot"] and m.get("text"))
        name = config.agencies[group["agency"]].name["id"]
        assert any(name in body(m) for m in transcript if m["from_bot"]), "the bot confirmed the link"
    assert world["groups"][0]["staff"][0]["name"] == "Budi (PUPR)"
    assert {p["name"] for p in world["places"]} >= {"Masjid Agung Al-Falah", "Simpang Rimbo"}
    assert len(world["samples"]) == len(SAMPLE_PHOTOS) >= 3
    assert playground.app is not None and playground.app.runtime is not None
    async with UnitOfWork(playground.app.runtime.sessionmaker) as uow:  # linked in the bot's own database
        linked = {g.agency: g.chat_id for g in await uow.agencies.all_groups()}
    assert linked == {g["agency"]: g["chat_id"] for g in world["groups"]}


async def test_the_bot_reaches_the_local_server_over_http(playground: Playground) -> None:
    assert playground.server.base_url == f"{playground.url}/tg"
    assert playground.app is not None and playground.app.api_base == playground.server.base_url
    assert playground.server.calls["getUpdates"] > 0 or playground.server.calls["getupdates"] > 0


async def test_add_citizen(client: Client) -> None:
    citizen = await client.post("/api/citizens", {"name": "Ani", "language_code": "en"})
    assert citizen["name"] == "Ani" and citizen["chat_id"] == citizen["user_id"]
    world = await client.get("/api/world")
    assert [c["name"] for c in world["citizens"]] == ["Siti", "Ani"]
    assert (await client.get(f"/api/chats/{citizen['chat_id']}"))["messages"] == []
    error = await client.post("/api/citizens", {"name": "  "}, status=400)
    assert "name" in error["error"]


async def test_text_gets_the_bot_answer_in_the_transcript(client: Client) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    sent = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "text", "text": "/start"})
    assert sent["from_bot"] is False and sent["text"] == "/start"
    greeting = await client.wait_for(siti, has_button("menu:new"))
    assert greeting["parse_mode"] == "HTML" and "<b>" in (greeting["html"] or "")
    assert greeting["message_id"] > sent["message_id"]


async def test_press_returns_the_callback_answer_and_the_bot_moves_on(client: Client) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    menu = await start_chat(client, siti)
    result = await client.post("/api/press", {"user_id": siti, "chat_id": siti, "message_id": menu["message_id"],
                                              "callback_data": real_payload(menu, "menu:new")})
    assert result["callback_query_id"] and result["answer"] is not None
    await client.wait_for(siti, has_button("cat:jalan"))
    error = await client.post("/api/press", {"user_id": siti, "chat_id": siti, "message_id": menu["message_id"],
                                             "callback_data": "nope"}, status=400)
    assert "no button" in error["error"]


async def test_photo_sample_and_upload(client: Client) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    await start_chat(client, siti)
    sample = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "photo",
                                             "sample": SAMPLE_PHOTOS[0].key, "caption": "lubang"})
    assert sample["photo"] and sample["caption"] == "lubang"
    largest = sample["photo"][-1]
    assert (largest["width"], largest["height"]) == (640, 480)
    async with client.session.get(f"{client.base}/api/files/{largest['file_id']}") as response:
        assert response.status == 200 and response.content_type == "image/jpeg"
        assert await response.read() == SAMPLE_PHOTOS[0].path.read_bytes()
    upload = make_jpeg(200, 100, gray=90)
    data_url = "data:image/jpeg;base64," + base64.b64encode(upload).decode()
    uploaded = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "photo",
                                               "data_base64": data_url})
    assert uploaded["photo"][-1]["width"] == 200
    # the bot keeps the early photo for the draft and says so
    await client.wait_for(siti, lambda m: m["from_bot"] and m["message_id"] > uploaded["message_id"])
    bad = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "photo",
                                          "data_base64": base64.b64encode(b"not an image").decode()}, status=400)
    assert "image" in bad["error"]
    await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "photo", "sample": "nope"}, status=404)
    for sample_photo in SAMPLE_PHOTOS:
        assert sample_photo.path.read_bytes().startswith(b"\xff\xd8"), "samples are JPEGs"


async def test_location_and_keyboard_location_button(client: Client) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    await start_chat(client, siti)
    place = PLACES[0]
    pin = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "location",
                                          "lat": place.lat, "lon": place.lon})
    assert pin["location"] == {"latitude": place.lat, "longitude": place.lon}
    # without a request_location keyboard the "share" kind is refused, like the Telegram app would not offer it
    error = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "share_location",
                                            "lat": place.lat, "lon": place.lon}, status=400)
    assert "request_location" in error["error"]
    await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "location", "lat": 91, "lon": 0},
                      status=400)


async def test_sticker_and_reply_to_a_message(client: Client) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    menu = await start_chat(client, siti)
    sticker = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "sticker"})
    assert sticker["sticker"]["emoji"]
    reply = await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "text", "text": "halo",
                                            "reply_to": menu["message_id"]})
    assert reply["reply_to_message_id"] == menu["message_id"]
    assert reply["reply_to_message"]["message_id"] == menu["message_id"]


async def test_staff_cannot_write_in_a_citizen_chat_and_unknown_chat_is_404(client: Client) -> None:
    world = await client.get("/api/world")
    siti = world["citizens"][0]["user_id"]
    budi = world["groups"][0]["staff"][0]["user_id"]
    error = await client.post("/api/send", {"user_id": budi, "chat_id": siti, "kind": "text", "text": "hai"},
                              status=400)
    assert "private chat" in error["error"]
    await client.get("/api/chats/123", status=404)
    await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "nope"}, status=400)


async def read_events(response: aiohttp.ClientResponse, wanted: int, check: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async with asyncio.timeout(15):
        while len(found) < wanted:
            line = (await response.content.readline()).decode()
            if line.startswith("data: "):
                event = json.loads(line[6:])
                if check(event):
                    found.append(event)
    return found


async def test_event_stream_delivers_messages_with_transcript_details(client: Client) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    async with client.session.get(f"{client.base}/api/events") as response:
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert (await response.content.readline()).startswith(b"retry:")
        await client.post("/api/send", {"user_id": siti, "chat_id": siti, "kind": "text", "text": "/start"})
        events = await read_events(response, 2, lambda e: e.get("chat_id") == siti and e["type"] == "message")
    mine, answer = events
    assert mine["message"]["text"] == "/start" and not mine["message"]["from_bot"]
    assert answer["message"]["from_bot"] and answer["message"]["html"] is not None
    assert "reply_keyboard" in answer


async def test_event_stream_reports_edits_and_callback_answers(client: Client) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    menu = await start_chat(client, siti)
    async with client.session.get(f"{client.base}/api/events") as response:
        await response.content.readline()
        await client.post("/api/press", {"user_id": siti, "chat_id": siti, "message_id": menu["message_id"],
                                         "callback_data": real_payload(menu, "menu:new")})
        events = await read_events(response, 1, lambda e: e["type"] == "callback_answer")
    assert events[0]["chat_id"] == siti


async def test_reset_clears_chats_and_relinks_groups(client: Client, playground: Playground) -> None:
    world = await client.get("/api/world")
    siti = world["citizens"][0]["user_id"]
    await client.post("/api/citizens", {"name": "Ani"})
    await start_chat(client, siti)
    assert await client.post("/api/reset") is True
    world = await client.get("/api/world")
    assert world["ready"] and [c["name"] for c in world["citizens"]] == ["Siti"]
    siti = world["citizens"][0]["user_id"]
    assert await client.messages(siti) == []
    assert all(g["linked"] for g in world["groups"])
    assert playground.app is not None and playground.app.runtime is not None
    async with UnitOfWork(playground.app.runtime.sessionmaker) as uow:
        from sqlalchemy import func, select

        from storage.models import Citizen

        assert (await uow.session.execute(select(func.count()).select_from(Citizen))).scalar_one() == 0
        assert (await uow.session.execute(select(func.count()).select_from(AgencyGroup))).scalar_one() == len(
            world["groups"])
    # the restarted bot answers the new world (update ids start over after a reset)
    await start_chat(client, siti)


async def test_page_and_assets_are_served_without_external_references(client: Client) -> None:
    async with client.session.get(client.base + "/") as response:
        assert response.status == 200
        html = await response.text()
        csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert '<script src="/static/app.js">' in html
    for name in ("index.html", "app.js", "clock.js", "i18n.js", "style.css"):
        text = (STATIC_DIR / name).read_text(encoding="utf-8")
        urls = set(re.findall(r"https?://[a-z0-9.-]+", text, flags=re.I))
        assert not urls, (name, urls)
        assert not re.search(r"""(src=|href=|url\()["']?//""", text), name  # protocol-relative
        assert "@import" not in text
    for path in ("/static/app.js", "/static/clock.js", "/static/style.css", f"/static/samples/{SAMPLE_PHOTOS[0].key}.jpg"):
        async with client.session.get(client.base + path) as response:
            assert response.status == 200, path


async def test_run_playground_reports_its_address_and_stops(config: AppConfig, tmp_path: Path) -> None:
    urls: list[str] = []
    stop = asyncio.Event()

    def ready(url: str) -> None:
        urls.append(url)
        stop.set()

    await asyncio.wait_for(run_playground(config, database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}",
                                          media_dir=tmp_path / "media", port=0, ready=ready, stop=stop), 60)
    assert len(urls) == 1 and re.fullmatch(r"http://127\.0\.0\.1:\d+", urls[0])


async def test_a_taken_port_is_a_clear_error(config: AppConfig, tmp_path: Path, playground: Playground) -> None:
    port = int(playground.url.rsplit(":", 1)[1])
    other = Playground(config, database_url=f"sqlite+aiosqlite:///{tmp_path / 'other.db'}",
                       media_dir=tmp_path / "m", port=port, rate_limits=FAST)
    with pytest.raises(PlaygroundError, match="another port"):
        await other.start()
    await other.stop()


def test_buttons_helper() -> None:
    assert buttons({"reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "x"}]]}}) == [
        {"text": "a", "callback_data": "x"}]


async def test_stop_ends_open_event_streams_promptly(client: Client, playground: Playground) -> None:
    async with client.session.get(f"{client.base}/api/events") as response:
        await response.content.readline()
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(playground.stop(), 10)
        assert asyncio.get_running_loop().time() - started < 5
        async with asyncio.timeout(5):
            while await response.content.readline():
                pass  # the stream ends
