"""The playground's clock control: ``POST /api/clock/advance`` moves the bot's clock (and the local Twilio's),
and what the bot does at a time happens at once: a draft left alone gets its reminder an hour later, a complaint
left *baru* its reminder in the agency group, an overdue one its escalation card in the command centre's group."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.config import AppConfig, load_config
from bot.playground import Playground
from localapi.telegram import make_jpeg
from tests.e2e.harness import Person, payloads
from tests.e2e.harness import body as tg_body
from tests.playground.conftest import ROOT, Client, body, has_button, real_payload
from tests.playground.test_playground_whatsapp import add_wa, say

pytestmark = pytest.mark.e2e

REMINDER = "belum terkirim"  # reminder.text: "⏰ Anda punya pengaduan yang belum terkirim. Mau melanjutkannya?"
#: far below the draft sweeper's one-minute poll: the control wakes it
PROMPT = 8.0


@pytest.fixture
def config() -> AppConfig:
    """The sample configuration without quiet hours and digests: what the clock brings does not depend on
    the hour the test runs at (quiet hours would hold reminders until 06:00 WIB)."""
    base = load_config(ROOT / "config.yaml")
    calm = base.deadlines.model_copy(update={"quiet_hours": "", "digest_at": ""})
    return base.model_copy(update={"deadlines": calm})


def bot_clock(playground: Playground) -> datetime:
    assert playground.app is not None and playground.app.runtime is not None
    return playground.app.runtime.clock()


async def start_draft(client: Client, user_id: int) -> None:
    """Siti opens the menu and starts a complaint: a draft waits at the category question."""
    await client.post("/api/send", {"user_id": user_id, "chat_id": user_id, "kind": "text", "text": "/start"})
    menu = await client.wait_for(user_id, has_button("menu:new"))
    await client.post("/api/press", {"user_id": user_id, "chat_id": user_id, "message_id": menu["message_id"],
                                     "callback_data": real_payload(menu, "menu:new")})
    await client.wait_for(user_id, has_button("cat:jalan"))


def reminders(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m["from_bot"] and REMINDER in body(m)]


async def test_an_hour_later_the_draft_reminder_arrives_at_once(client: Client, playground: Playground) -> None:
    world = await client.get("/api/world")
    assert world["clock"]["offset_hours"] == 0 and world["clock"]["zone"] == "WIB"
    siti = world["citizens"][0]["user_id"]
    await start_draft(client, siti)
    assert reminders(await client.messages(siti)) == []  # drafts.remind_after_minutes is 30

    before = datetime.now(UTC)
    state = await client.post("/api/clock/advance", {"hours": 1})
    assert state["offset_hours"] == 1
    moved = datetime.fromisoformat(state["now"])
    assert timedelta(minutes=59) < moved - before < timedelta(minutes=61)
    assert timedelta(minutes=59) < bot_clock(playground) - datetime.now(UTC) < timedelta(minutes=61)
    assert 3590 < playground.twilio.now() - time.time() < 3610, "the local Twilio's clock moved along"
    local = moved.astimezone(ZoneInfo(playground.config.city.timezone))
    assert state["local"] == local.strftime("%Y-%m-%d %H:%M")

    reminder = await client.wait_for(siti, lambda m: m["from_bot"] and REMINDER in body(m), timeout=PROMPT)
    assert has_button("draft:continue")(reminder)
    # the same hour again: the reminder is once per draft
    await client.post("/api/clock/advance", {"hours": 1})
    await asyncio.sleep(1.0)
    assert len(reminders(await client.messages(siti))) == 1
    assert (await client.get("/api/clock"))["offset_hours"] == 2


async def test_the_page_hears_about_the_clock_and_reset_goes_back_to_real_time(
    client: Client, playground: Playground
) -> None:
    async with client.session.get(f"{client.base}/api/events") as response:
        await response.content.readline()
        await client.post("/api/clock/advance", {"hours": 24})
        event: dict[str, Any] = {}
        async with asyncio.timeout(5):
            while event.get("type") != "clock":
                line = (await response.content.readline()).decode()
                if line.startswith("data: "):
                    event = json.loads(line[6:])
    assert event["offset_hours"] == 24 and event["zone"] == "WIB"
    assert await client.post("/api/reset") is True
    assert (await client.get("/api/world"))["clock"]["offset_hours"] == 0
    assert abs((bot_clock(playground) - datetime.now(UTC)).total_seconds()) < 5
    assert abs(playground.twilio.now() - time.time()) < 5


async def test_whatsapp_window_closes_for_the_bot_and_twilio_alike(client: Client, playground: Playground) -> None:
    number = (await add_wa(client, "Wulan"))["number"]
    await say(client, number, "halo")
    assert (await client.get(f"/api/whatsapp/{number}"))["window"]["open"]
    await client.post("/api/clock/advance", {"hours": 25})
    state = await client.get(f"/api/whatsapp/{number}")
    assert not state["window"]["open"]
    note = state["messages"][-1]
    assert note["kind"] == "clock" and note["status"] == "bot" and note["body"] == "25"
    # the citizen writes again: both clocks see a fresh window, and the bot answers in it
    await say(client, number, "menu")
    assert (await client.get(f"/api/whatsapp/{number}"))["window"]["open"]


@pytest.mark.parametrize("payload", [{}, {"hours": "x"}, {"hours": 0}, {"hours": -1}, {"hours": 721},
                                     {"hours": "nan"}])
async def test_clock_advance_refuses_nonsense(client: Client, playground: Playground,
                                              payload: dict[str, Any]) -> None:
    error = await client.post("/api/clock/advance", payload, status=400)
    assert "hours" in error["error"]
    assert (await client.get("/api/clock"))["offset_hours"] == 0


async def file_road_complaint(citizen: Person) -> str:
    """Siti files a damaged road (PUPR, 72 hours) from her chat; the tracking number."""
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say("Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor")
    after_photo = await citizen.photo(make_jpeg())
    if "photo:done" in payloads(after_photo):
        await citizen.tap_and_read("photo:done")
    summary = await citizen.location(-1.6101, 103.6131)
    assert "sum:send" in payloads(summary)
    confirmation = tg_body(await citizen.tap_and_read("sum:send"))
    return next(word.strip(".,:<>") for word in confirmation.replace("<", " <").replace(">", "> ").split()
                if word.startswith("JMB-"))


async def test_the_clock_brings_the_agency_reminder_then_the_escalation(
    client: Client, playground: Playground, config: AppConfig
) -> None:
    number = await file_road_complaint(Person(playground.server, playground.world.citizens[0].user))
    pupr = playground.world.group_for("pupr").chat_id
    centre = playground.world.group_for(config.command_centre).chat_id
    await client.wait_for(pupr, lambda m: m["from_bot"] and number in body(m) and "st:accept" in json.dumps(m))

    def reminder(m: dict[str, Any]) -> bool:
        return m["from_bot"] and number in body(m) and "belum diterima" in body(m)

    assert not [m for m in await client.messages(pupr) if reminder(m)]
    await client.post("/api/clock/advance", {"hours": config.deadlines.accept_hours + 1})
    await client.wait_for(pupr, reminder, timeout=PROMPT)

    def escalation(m: dict[str, Any]) -> bool:
        return m["from_bot"] and number in body(m) and "Eskalasi" in body(m)

    assert not [m for m in await client.messages(centre) if escalation(m)]
    await client.post("/api/clock/advance", {"hours": config.categories["jalan"].target_hours})
    card = await client.wait_for(centre, escalation, timeout=PROMPT)
    assert "terlambat" in body(card)
