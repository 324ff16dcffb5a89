"""Pins become places: outside the city is refused kindly, districts decide the agency (both channels)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.models import Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, current
from tests.e2e.harness import body, choose, eventually, options, text_of
from tests.e2e.test_channels import summary_from, to_location_step

pytestmark = pytest.mark.e2e

PALEMBANG = (-2.9909, 104.7566)
TELANAIPURA = (-1.595, 103.575)



async def test_outside_pin_refused_then_district_routes_the_complaint(wa_world: World, channel: str) -> None:
    staff = await wa_world.agency_group("camat_telanaipura")
    citizen = wa_world.citizen_on(channel)
    await to_location_step(citizen, category="Pelayanan publik")
    refused = await citizen.location(*PALEMBANG)
    assert "luar wilayah" in text_of(refused) and "Kota Jambi" in text_of(refused)
    accepted = await citizen.location(*TELANAIPURA)
    summary = await summary_from(citizen, accepted)
    assert "Kec. Telanaipura" in text_of(summary)
    confirmation = await choose(citizen, "Kirim")
    assert "Telanaipura" in text_of(confirmation), "the district office is named as the handling agency"
    card = await staff[0].next_matching("JMB-")
    assert "Kec. Telanaipura" in body(card)
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        complaint = (await uow.session.execute(select(Complaint))).scalars().one()
        assert (complaint.kecamatan, complaint.agency) == ("Telanaipura", "camat_telanaipura")


async def test_the_geocoder_names_the_street_and_stays_out_of_the_way(geo_world: World, channel: str) -> None:
    """The answer says the district at once; the street follows in the background and reaches the card
    (tests/e2e/test_places_background.py shows the summary's edit, /status and the load limits)."""
    staff = await geo_world.agency_group("dlh")
    citizen = geo_world.citizen_on(channel)
    await to_location_step(citizen, category="Sampah")
    summary = await citizen.location(-1.5895, 103.6150)  # on Jl. Sultan Thaha
    summary = await summary_from(citizen, summary)
    assert "Kec. Pasar Jambi" in text_of(summary)
    await choose(citizen, "Kirim")
    card = await staff[0].next_matching("JMB-")
    await eventually(lambda: "Jl. Sultan Thaha" in body(current(geo_world, card)), timeout=15)


async def test_a_geocoder_timeout_never_blocks_filing(geo_world: World, nominatim, channel: str) -> None:  # type: ignore[no-untyped-def]
    nominatim.set_delay(5)  # far beyond the geocoder's timeout
    citizen = geo_world.citizen_on(channel)
    await to_location_step(citizen, category="Sampah")
    summary = await citizen.location(-1.5895, 103.6150)
    summary = await summary_from(citizen, summary)
    assert "Kec. Pasar Jambi" in text_of(summary), "the district comes from the city's own boundaries"
    assert "Sultan Thaha" not in text_of(summary)


async def test_a_typed_address_is_placed_and_confirmed(geo_world: World, nominatim, channel: str) -> None:  # type: ignore[no-untyped-def]
    staff = await geo_world.agency_group("dlh")
    citizen = geo_world.citizen_on(channel)
    await to_location_step(citizen, category="Sampah")
    asked = await citizen.say("Jalan Sultan Thaha")
    asked = asked if options(asked) else await citizen.next()
    assert any("Jl. Sultan Thaha" in o and "Kec. Pasar Jambi" in o for o in options(asked)), options(asked)
    summary = await choose(citizen, "Jl. Sultan Thaha")
    summary = await summary_from(citizen, summary)
    assert "Kec. Pasar Jambi" in text_of(summary) and "Alamat: Jalan Sultan Thaha" in text_of(summary)
    await choose(citizen, "Kirim")
    card = await staff[0].next_matching("JMB-")
    assert "Kec. Pasar Jambi" in body(card)
    searched = [r for r in nominatim.requests if r.path.startswith("/search")]
    assert searched and all(r.params.get("q", "").casefold() == "jalan sultan thaha" for r in searched), \
        "only the typed address is ever sent to the geocoder"
