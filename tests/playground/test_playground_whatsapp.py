"""WhatsApp citizens in the playground: the local Twilio server inside it, the bot's webhooks, the page's API."""

from __future__ import annotations

from typing import Any

import pytest

from bot.playground import Playground
from bot.playground.world import PLACES, SAMPLE_PHOTOS
from tests.playground.conftest import Client, body, menu, number_of

pytestmark = pytest.mark.e2e


async def add_wa(client: Client, name: str = "Wulan") -> dict[str, Any]:
    return await client.post("/api/citizens", {"name": name, "channel": "whatsapp"})


async def say(client: Client, number: str, text: str, check: Any = None) -> dict[str, Any]:
    """Type ``text`` as the WhatsApp citizen; the bot's next bubble (matching ``check``)."""
    mine = await client.post("/api/whatsapp/send", {"number": number, "kind": "text", "text": text})
    assert mine["from_bot"] is False and mine["status"] == "sent", mine
    return await client.wa_wait_for(number, lambda m: m["from_bot"] and (check is None or check(m)),
                                    after=mine["message_id"])


async def test_whatsapp_citizen_files_a_complaint_by_typing_numbers(
    client: Client, playground: Playground
) -> None:
    wulan = await add_wa(client)
    number = wulan["number"]
    assert wulan["channel"] == "whatsapp" and wulan["chat_id"] == f"wa:{number}" and number.startswith("+62812")
    world = await client.get("/api/world")
    assert [(c["name"], c["channel"]) for c in world["citizens"]] == [("Siti", "telegram"), ("Wulan", "whatsapp")]
    assert (await client.get(f"/api/whatsapp/{number}"))["messages"] == []

    greeting = await say(client, number, "halo")
    assert "Buat Pengaduan" in " ".join(menu(greeting)), greeting["body"]
    categories = await say(client, number, number_of(greeting, "Buat Pengaduan"))
    assert any("Jalan rusak" in label for label in menu(categories)), categories["body"]
    await say(client, number, number_of(categories, "Jalan rusak"))
    await say(client, number, "Jalan berlubang besar di depan masjid, sangat berbahaya bagi motor")
    photo = await client.post("/api/whatsapp/send", {"number": number, "kind": "photo",
                                                     "sample": SAMPLE_PHOTOS[0].key})
    assert photo["media_url"] == f"/static/samples/{SAMPLE_PHOTOS[0].key}.jpg"
    after_photo = await client.wa_wait_for(number, lambda m: m["from_bot"], after=photo["message_id"])
    if any("Selesai" in label for label in menu(after_photo)):
        await say(client, number, number_of(after_photo, "Selesai"))
    place = PLACES[0]
    pin = await client.post("/api/whatsapp/send", {"number": number, "kind": "location", "lat": place.lat,
                                                   "lon": place.lon, "label": place.name})
    assert pin["location"]["label"] == place.name
    summary = await client.wa_wait_for(number, lambda m: m["from_bot"] and "Kirim" in " ".join(menu(m)),
                                       after=pin["message_id"])
    confirmation = await say(client, number, number_of(summary, "Kirim"), lambda m: "JMB-" in m["body"])
    tracking = next(word for word in confirmation["body"].replace("*", " ").split() if word.startswith("JMB-"))

    pupr = next(g for g in world["groups"] if g["agency"] == "pupr")
    card = await client.wait_for(pupr["chat_id"], lambda m: m["from_bot"] and tracking in body(m))
    assert card["photo"], "the citizen's photo reaches the group's card"
    assert "berlubang" in body(card)
    # delivery status of the bot's messages comes from the Twilio server's callbacks
    read = await client.wa_wait_for(number, lambda m: m["from_bot"] and m["status"] == "read")
    assert read["sid"].startswith("SM") and read["error_code"] is None


async def test_refusals_status_events_and_the_window_demo(client: Client, playground: Playground) -> None:
    number = (await add_wa(client, "Rudi"))["number"]
    await say(client, number, "halo")
    voice = await client.post("/api/whatsapp/send", {"number": number, "kind": "voice"})
    assert voice["media_type"] == "audio/ogg"
    refusal = await client.wa_wait_for(number, lambda m: m["from_bot"], after=voice["message_id"])
    assert refusal["body"]
    sticker = await client.post("/api/whatsapp/send", {"number": number, "kind": "sticker"})
    await client.wa_wait_for(number, lambda m: m["from_bot"], after=sticker["message_id"])
    state = await client.get(f"/api/whatsapp/{number}")
    assert state["window"]["open"] and state["window"]["hours_left"] > 23

    # Twilio's clock only: the bot still thinks the window is open, Twilio refuses with 63016
    result = await client.post("/api/whatsapp/advance", {"hours": 25, "database": False})
    assert result["citizens_shifted"] == 0 and result["twilio_offset_hours"] >= 24.9
    state = await client.get(f"/api/whatsapp/{number}")
    assert not state["window"]["open"]
    assert state["messages"][-1]["kind"] == "clock"
    assert playground.app is not None and playground.app.runtime is not None
    await _notify_citizen(playground, number)
    failed = await client.wa_wait_for(number, lambda m: m["from_bot"] and m["status"] == "failed")
    assert failed["error_code"] == 63016 and "window" in (failed["error_message"] or "")

    # both clocks: the bot knows the window closed; the citizen writes again and the window reopens
    result = await client.post("/api/whatsapp/advance", {"hours": 25})
    assert result["citizens_shifted"] == 1
    await say(client, number, "halo")
    assert (await client.get(f"/api/whatsapp/{number}"))["window"]["open"]


async def _notify_citizen(playground: Playground, number: str) -> None:
    """Something the bot sends on its own (not an answer): here, a free-form message through its outbox."""
    from bot.delivery.whatsapp import CHANNEL
    from bot.services.runtime import Runtime
    from handlers.messages import OutMessage
    from storage.uow import UnitOfWork

    assert playground.app is not None and playground.app.runtime is not None
    runtime: Runtime = playground.app.runtime
    async with UnitOfWork(runtime.sessionmaker) as uow:
        await uow.outbox.enqueue(CHANNEL, number, OutMessage(text="Kabar pengaduan Anda"))
        await uow.commit()
    if runtime.on_enqueued is not None:
        runtime.on_enqueued()


async def test_whatsapp_api_errors(client: Client) -> None:
    number = (await add_wa(client, "Ani"))["number"]
    await client.post("/api/citizens", {"name": "X", "channel": "sms"}, status=400)
    await client.get("/api/whatsapp/+62999", status=404)
    await client.post("/api/whatsapp/send", {"number": "+62999", "kind": "text", "text": "a"}, status=404)
    await client.post("/api/whatsapp/send", {"number": number, "kind": "text", "text": " "}, status=400)
    await client.post("/api/whatsapp/send", {"number": number, "kind": "nope"}, status=400)
    await client.post("/api/whatsapp/send", {"number": number, "kind": "photo", "sample": "nope"}, status=404)
    await client.post("/api/whatsapp/send", {"number": number, "kind": "location", "lat": 91, "lon": 0},
                      status=400)
    await client.post("/api/whatsapp/advance", {"hours": -1}, status=400)
    await client.get("/api/whatsapp/files/nope", status=404)


async def test_reset_forgets_whatsapp_citizens(client: Client, playground: Playground) -> None:
    number = (await add_wa(client))["number"]
    await say(client, number, "halo")
    await client.post("/api/whatsapp/advance", {"hours": 25})
    assert await client.post("/api/reset") is True
    world = await client.get("/api/world")
    assert [c["channel"] for c in world["citizens"]] == ["telegram"]
    assert playground.twilio.users == {} and playground.twilio.messages == {}
    await client.get(f"/api/whatsapp/{number}", status=404)
    again = await add_wa(client)
    assert again["number"] == number, "numbers start over"
    greeting = await say(client, number, "halo")
    assert menu(greeting)
