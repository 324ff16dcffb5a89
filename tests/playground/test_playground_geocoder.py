"""The playground's local Nominatim: street names for pins, matches for typed addresses, the outside spot."""

from __future__ import annotations

from typing import Any

import pytest

from bot.playground import Playground
from bot.playground.app import GEOCODER_USER_AGENT
from bot.playground.world import OUTSIDE_PLACE, PLACES, SAMPLE_PHOTOS
from localapi.nominatim import STREETS
from tests.playground.conftest import Client, bare, body, buttons, has_button, real_payload

pytestmark = pytest.mark.e2e

SULTAN_THAHA = next(p for p in PLACES if p.key == "jl-sultan-thaha")


async def press(client: Client, user_id: int, message: dict[str, Any], payload: str) -> None:
    await client.post("/api/press", {"user_id": user_id, "chat_id": user_id, "message_id": message["message_id"],
                                     "callback_data": real_payload(message, payload)})


async def send(client: Client, user_id: int, kind: str, **fields: Any) -> dict[str, Any]:
    return await client.post("/api/send", {"user_id": user_id, "chat_id": user_id, "kind": kind, **fields})


async def answer_to(client: Client, user_id: int, mine: dict[str, Any], check: Any = None) -> dict[str, Any]:
    """The bot's first message after ``mine`` (matching ``check``)."""
    return await client.wait_for(user_id, lambda m: m["from_bot"] and m["message_id"] > mine["message_id"]
                                 and (check is None or check(m)))


async def to_location_step(client: Client, user_id: int) -> None:
    """/start, new complaint, garbage, a description, a sample photo (and "done" when offered), until the bot
    asks where."""
    await send(client, user_id, "text", text="/start")
    await press(client, user_id, await client.wait_for(user_id, has_button("menu:new")), "menu:new")
    await press(client, user_id, await client.wait_for(user_id, has_button("cat:sampah")), "cat:sampah")
    await client.wait_for(user_id, lambda m: m["from_bot"] and "Ceritakan masalahnya" in body(m))
    described = await send(client, user_id, "text", text="Sampah menumpuk di pinggir jalan sudah seminggu, bau sekali")
    await answer_to(client, user_id, described, lambda m: "Kirim foto" in body(m))
    photo = await send(client, user_id, "photo", sample=SAMPLE_PHOTOS[1].key)
    asked = await answer_to(client, user_id, photo, lambda m: has_button("photo:done")(m) or where(m))
    if not where(asked):
        await press(client, user_id, asked, "photo:done")
        await answer_to(client, user_id, asked, where)


def where(message: dict[str, Any]) -> bool:
    """The bot's location prompt."""
    return bool(message["from_bot"]) and "Di mana lokasinya" in body(message)


async def test_world_lists_street_places_and_the_outside_spot(client: Client, playground: Playground) -> None:
    places = {p["key"]: p for p in (await client.get("/api/world"))["places"]}
    assert places[OUTSIDE_PLACE.key]["outside"] is True and places[OUTSIDE_PLACE.key]["name"] == "Palembang"
    assert places[SULTAN_THAHA.key] == {"key": "jl-sultan-thaha", "name": "Jl. Sultan Thaha", "outside": False,
                                        "lat": SULTAN_THAHA.lat, "lon": SULTAN_THAHA.lon}
    street = next(s for s in STREETS if s.name == "Jalan Sultan Thaha")
    assert playground.nominatim.nearest_street(SULTAN_THAHA.lat, SULTAN_THAHA.lon) == street
    assert sum(1 for p in places.values() if p["key"].startswith("jl-")) >= 3
    assert playground.nominatim.base_url == f"{playground.url}/nominatim"
    async with client.session.get(f"{playground.nominatim.base_url}/status") as response:
        assert response.status == 200 and await response.text() == "OK"


async def test_outside_refused_typed_address_matched_pin_named(client: Client, playground: Playground) -> None:
    siti = (await client.get("/api/world"))["citizens"][0]["user_id"]
    await to_location_step(client, siti)

    # the spot outside Kota Jambi: refused kindly, with the city's name
    outside = await send(client, siti, "location", lat=OUTSIDE_PLACE.lat, lon=OUTSIDE_PLACE.lon)
    refusal = await answer_to(client, siti, outside, lambda m: bool(m["from_bot"]) and "wilayah" in body(m))
    assert "luar wilayah" in body(refusal) and "Kota Jambi" in body(refusal), body(refusal)

    # a typed address: the local Nominatim's match is offered as a button
    typed = await send(client, siti, "text", text="Jalan Sultan Thaha")
    offer = await answer_to(client, siti, typed, lambda m: bool(buttons(m)))
    labels = {bare(b["callback_data"]): b["text"] for b in buttons(offer)}
    assert "Jl. Sultan Thaha" in labels["addr:0"] and "Kec. Pasar Jambi" in labels["addr:0"], labels
    assert {"addr:typed", "addr:pin"} <= set(labels)

    # "share a pin instead", then the sample place on Jl. Sultan Thaha: the summary names the district at
    # once, and the street when the geocoder answered, by an edit (bot.services.streets)
    await press(client, siti, offer, "addr:pin")
    await answer_to(client, siti, offer, lambda m: "📍" in body(m))
    pin = await send(client, siti, "location", lat=SULTAN_THAHA.lat, lon=SULTAN_THAHA.lon)
    summary = await answer_to(client, siti, pin, has_button("sum:send"))
    assert "Kec. Pasar Jambi" in body(summary), body(summary)
    summary = await client.wait_for(siti, lambda m: m["message_id"] == summary["message_id"]
                                    and "Jl. Sultan Thaha" in body(m) and has_button("sum:send")(m))
    assert "Kel. Beringin" in body(summary) and "Kec. Pasar Jambi" in body(summary), body(summary)

    # the bot's geocoder identified itself and searched only what was typed
    assert set(playground.nominatim.user_agents) == {GEOCODER_USER_AGENT}
    searched = [r.params.get("q", "") for r in playground.nominatim.requests if r.path.endswith("/search")]
    assert [q.casefold() for q in searched] == ["jalan sultan thaha"], searched


async def test_reset_forgets_nominatim_requests_and_faults(client: Client, playground: Playground) -> None:
    async with client.session.get(f"{playground.nominatim.base_url}/reverse",
                                  params={"lat": str(SULTAN_THAHA.lat), "lon": str(SULTAN_THAHA.lon)}) as response:
        assert (await response.json())["name"] == "Jalan Sultan Thaha"
    playground.nominatim.set_delay(3)
    playground.nominatim.fail_next(2)
    assert await client.post("/api/reset") is True
    assert playground.nominatim.requests == [] and playground.nominatim.faults.delay == 0
    assert playground.nominatim.faults.fail_next == 0
    assert playground.app is not None and playground.app.geocoder is not None
    assert playground.app.geocoder_settings == playground.geocoder_settings()
