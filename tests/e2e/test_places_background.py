"""The geocoder never adds latency to an answer (issue 14): a pin is answered at once with the city's own
boundaries; the street follows in the background (real geopy against the local Nominatim), by an edit of
the Telegram summary, on the complaint, its card and /status; under load lookups are skipped, not queued."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.config import AppConfig
from bot.services import streets
from localapi.nominatim import NominatimServer
from localapi.telegram import TelegramServer
from localapi.twilio import TwilioServer
from storage.models import Complaint, Timer
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current, start_app
from tests.e2e.harness import Person, body, choose, eventually, options, text_of
from tests.e2e.test_channels import summary_from, to_location_step

pytestmark = pytest.mark.e2e

ON_SULTAN_THAHA = (-1.5895, 103.6150)
STREET = "Jl. Sultan Thaha"


def _number(confirmation: Any) -> str:
    found = re.search(r"JMB-\d{4}-\d{6}", text_of(confirmation))
    assert found, text_of(confirmation)
    return found.group(0)


def _lookups(world: World) -> streets.StreetLookups:
    assert world.app.scheduler is not None
    return world.app.scheduler.streets


async def _street_timers(world: World) -> int:
    assert world.app.runtime is not None
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        return int(await uow.session.scalar(select(func.count()).select_from(Timer).where(Timer.kind == streets.KIND))
                   or 0)


async def test_the_answer_to_a_pin_never_waits_for_the_geocoder(geo_world: World, nominatim, channel: str) -> None:  # type: ignore[no-untyped-def]
    """A Nominatim that never answers: the summary comes with the kecamatan all the same; the lookup tried
    in the background gives up and the summary stays as it was."""
    nominatim.set_delay(3600)
    citizen = geo_world.citizen_on(channel)
    await to_location_step(citizen, category="Sampah")
    summary = await summary_from(citizen, await citizen.location(*ON_SULTAN_THAHA))
    assert "Kec. Pasar Jambi" in text_of(summary), "the district comes from the city's own boundaries"
    assert STREET not in text_of(summary)
    await eventually(lambda: _lookups(geo_world).counts[streets.NO_STREET] >= 1, timeout=15)
    assert any(r.path.startswith("/reverse") for r in nominatim.requests), "the lookup was tried, after the answer"
    assert await _street_timers(geo_world) == 0, "nothing waits: the pin keeps its boundary-based place"
    if isinstance(citizen, Person):
        assert STREET not in text_of(current(geo_world, summary))
    assert not await citizen.quiet(0.3), "no further message about it"


async def test_the_street_appears_by_an_edit_of_the_telegram_summary(geo_world: World, nominatim) -> None:  # type: ignore[no-untyped-def]
    staff = await geo_world.agency_group("dlh")
    nominatim.set_delay(1.0)  # the geocoder is slower than the answer (within its timeout)
    citizen = geo_world.citizen()
    await to_location_step(citizen, category="Sampah")
    summary = await summary_from(citizen, await citizen.location(*ON_SULTAN_THAHA))
    assert "Kec. Pasar Jambi" in text_of(summary) and STREET not in text_of(summary)
    await eventually(lambda: STREET in text_of(current(geo_world, summary)), timeout=15)
    edited = current(geo_world, summary)
    assert "Kec. Pasar Jambi" in text_of(edited) and any("Kirim" in o for o in options(edited)), \
        "the same summary, its buttons kept"
    assert not await citizen.quiet(0.3), "an edit, not a new message"
    await choose(citizen, "Kirim")
    card = await staff[0].next_matching("JMB-")
    assert STREET in body(card), "the draft carried the street into the complaint"


async def test_on_whatsapp_the_street_goes_into_the_card_and_status(geo_world: World, nominatim) -> None:  # type: ignore[no-untyped-def]
    """WhatsApp messages cannot be edited: the summary stays; the complaint, its card and /status carry it."""
    staff = await geo_world.agency_group("dlh")
    nominatim.set_delay(1.0)
    citizen = geo_world.whatsapp_citizen()
    await to_location_step(citizen, category="Sampah")
    summary = await summary_from(citizen, await citizen.location(*ON_SULTAN_THAHA))
    assert "Kec. Pasar Jambi" in text_of(summary) and STREET not in text_of(summary)
    await eventually(lambda: _lookups(geo_world).counts[streets.DRAFT] >= 1, timeout=15)
    assert not await citizen.quiet(0.3), "no second summary on WhatsApp"
    confirmation = await choose(citizen, "Kirim")
    card = await staff[0].next_matching("JMB-")
    assert STREET in body(card)
    number = _number(confirmation)
    status = await citizen.say(f"status {number}")
    assert STREET in text_of(status) and "Kec. Pasar Jambi" in text_of(status), text_of(status)


async def test_a_card_already_sent_is_edited_with_the_street(geo_world: World, nominatim, channel: str) -> None:  # type: ignore[no-untyped-def]
    staff = await geo_world.agency_group("dlh")
    nominatim.set_delay(1.5)
    citizen = geo_world.citizen_on(channel)
    await to_location_step(citizen, category="Sampah")
    await summary_from(citizen, await citizen.location(*ON_SULTAN_THAHA))
    confirmation = await choose(citizen, "Kirim")  # before the geocoder answered
    card = await staff[0].next_matching("JMB-")
    assert "Kec. Pasar Jambi" in body(card) and STREET not in body(card)
    await eventually(lambda: STREET in body(current(geo_world, card)), timeout=15)
    assert _lookups(geo_world).counts[streets.CARD] == 1
    assert geo_world.app.runtime is not None
    async with UnitOfWork(geo_world.app.runtime.sessionmaker) as uow:
        complaint = (await uow.session.execute(select(Complaint))).scalars().one()
        assert complaint.address is not None and complaint.address.startswith(STREET)
        assert complaint.kecamatan == "Pasar Jambi"
    number = _number(confirmation)
    status = await citizen.say(f"/status {number}")
    assert STREET in text_of(status), text_of(status)


async def test_a_burst_of_pins_is_skipped_not_queued(geo_world: World, nominatim) -> None:  # type: ignore[no-untyped-def]
    """100 pins planned at once (as 100 citizens sending them would): a few are looked up, the rest are
    skipped at once and counted; no timer is left waiting behind Nominatim's pace."""
    nominatim.set_delay(1.0)
    app = geo_world.app
    assert app.runtime is not None and app.scheduler is not None
    now = app.runtime.clock()
    async with UnitOfWork(app.runtime.sessionmaker) as uow:
        for i in range(100):
            lat, lon = ON_SULTAN_THAHA[0] + i * 1e-4, ON_SULTAN_THAHA[1]
            await uow.timers.plan(streets.KIND, streets.subject_for(10_000 + i, lat, lon), now - timedelta(seconds=1),
                                  now=now)
        await uow.commit()
    await app.scheduler.tick()
    lookups = _lookups(geo_world)
    assert lookups.counts[streets.SKIPPED] >= 100 - streets.CAPACITY
    assert lookups.busy <= streets.CAPACITY
    await eventually(lambda: lookups.busy == 0, timeout=20)
    assert await _street_timers(geo_world) == 0
    reverse = [r for r in nominatim.requests if r.path.startswith("/reverse")]
    assert len(reverse) <= streets.CAPACITY, "only what fits was asked"
    assert sum(lookups.counts.values()) == 100


async def test_a_lookup_planned_before_a_restart_is_done_after_it(
    server: TelegramServer, twilio: TwilioServer, nominatim: NominatimServer, config: AppConfig, database_url: str,
    tmp_path: Path,
) -> None:
    """The lookup is a durable timer: stopped before the geocoder answered, the next start does it, and the
    summary still gets its street."""
    nominatim.set_delay(3600)
    first = await start_app(tmp_path, server, config, database_url, twilio=twilio, nominatim=nominatim)
    world = World(server=server, app=first, config=config, tmp=tmp_path, twilio=twilio)
    try:
        citizen = world.citizen()
        await to_location_step(citizen, category="Sampah")
        summary = await summary_from(citizen, await citizen.location(*ON_SULTAN_THAHA))
    finally:
        await first.stop()  # before the geocoder's timeout: the lookup in flight is dropped, its timer stays
    assert await _street_timers(world) == 1
    nominatim.set_delay(0)
    second = await start_app(tmp_path, server, config, database_url, twilio=twilio, nominatim=nominatim)
    world.app = second
    try:
        await eventually(lambda: STREET in text_of(current(world, summary)), timeout=15)
        assert await _street_timers(world) == 0
    finally:
        await second.stop()


async def test_a_typed_address_the_geocoder_cannot_search_now_is_kept_with_a_pin_suggested(
    geo_world: World, nominatim: NominatimServer, channel: str
) -> None:
    """A typed address is searched while the citizen waits, bounded: when the geocoder fails (or is busy,
    or resting) it is kept as typed at once, and a pin is suggested."""
    nominatim.fail_next(1, status=503)
    citizen = geo_world.citizen_on(channel)
    await to_location_step(citizen, category="Sampah")
    answer = await citizen.say("Jalan Sultan Thaha dekat pasar")
    summary = await summary_from(citizen, answer)
    told = text_of(answer) + text_of(summary)
    assert "belum bisa dicari" in told and "Lokasi" in told, told
    assert "Jalan Sultan Thaha dekat pasar" in text_of(summary)
