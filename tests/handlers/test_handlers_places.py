"""Pins that mean something: a pin outside the city is refused kindly; a pin inside carries its place."""

from __future__ import annotations

from handlers_testkit import DESCRIPTION, all_text, at_step, btn, cmd, photo, run, step, text

from handlers.context import FlowContext
from handlers.effects import SubmitDraft
from handlers.events import Incoming, Location, PlaceInfo
from handlers.state import Step

INSIDE = PlaceInfo(inside=True, kecamatan="Pasar Jambi", kelurahan="Beringin",
                   display="Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi")
OUTSIDE = PlaceInfo(inside=False)


def located(place: PlaceInfo | None, lat: float = -1.592, lon: float = 103.615) -> Incoming:
    return Incoming(Location(lat, lon, place=place))


def test_a_pin_outside_the_city_is_refused_and_another_is_asked_for(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    refused = step(conv, located(OUTSIDE, -2.99, 104.76), ctx)
    said = all_text(refused)
    assert "luar wilayah" in said and ctx.city_name in said
    assert refused.conversation.step == Step.LOCATION, "the citizen can send another pin"
    assert refused.conversation.draft.latitude is None
    accepted = step(refused.conversation, located(INSIDE), ctx)
    assert accepted.conversation.step == Step.SUMMARY
    assert "Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi" in all_text(accepted)


def test_an_early_pin_outside_is_not_kept(ctx: FlowContext) -> None:
    conv, outs = run(at_step(Step.IDLE, ctx), ctx, cmd("start"), located(OUTSIDE, -2.99, 104.76))
    assert "luar wilayah" in all_text(outs[-1])
    assert conv.draft.latitude is None


def test_the_place_travels_with_the_draft_to_filing(ctx: FlowContext) -> None:
    conv, _ = run(at_step(Step.IDLE, ctx), ctx, cmd("start"), btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION),
                  photo(1), btn("photo:done"), located(INSIDE))
    sent = step(conv, btn("sum:send"), ctx)
    effect = sent.effects[0]
    assert isinstance(effect, SubmitDraft)
    assert (effect.draft.kecamatan, effect.draft.kelurahan) == ("Pasar Jambi", "Beringin")


def test_without_the_geocoder_the_district_is_still_shown(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    offline = PlaceInfo(inside=True, kecamatan="Jelutung")
    summary = step(conv, located(offline), ctx)
    assert "Kec. Jelutung" in all_text(summary)


def test_a_typed_address_replaces_the_pin_and_its_place(ctx: FlowContext) -> None:
    conv = step(at_step(Step.LOCATION, ctx), located(INSIDE), ctx).conversation
    edit = step(conv, btn("sum:edit"), ctx).conversation
    asked = step(edit, btn("edit:location"), ctx).conversation
    typed = step(asked, text("Jl. Gatot Subroto no. 12, depan toko"), ctx)
    assert typed.conversation.draft.kecamatan is None and typed.conversation.draft.place is None
    assert "Jl. Sultan Thaha" not in all_text(typed)


def test_a_typed_address_the_geocoder_places_is_confirmed_by_the_citizen(ctx: FlowContext) -> None:
    from handlers_testkit import payloads, typed_address

    asked = step(at_step(Step.LOCATION, ctx), typed_address(), ctx)
    assert asked.conversation.step == Step.ADDRESS_PICK
    assert payloads(asked) == ["addr:0", "addr:1", "addr:typed", "addr:pin", "nav:menu"]
    labels = [b.label for m in asked.messages for row in m.buttons for b in row]
    assert "📍 Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi" in labels
    picked = step(asked.conversation, btn("addr:0"), ctx)
    draft = picked.conversation.draft
    assert picked.conversation.step == Step.SUMMARY
    assert (draft.latitude, draft.kecamatan) == (-1.5895, "Pasar Jambi")
    assert draft.address == "Jl. Sultan Thaha dekat pasar", "what the citizen typed is kept for staff"


def test_the_citizen_may_keep_the_typed_address_or_share_a_pin(ctx: FlowContext) -> None:
    from handlers_testkit import typed_address

    asked = step(at_step(Step.LOCATION, ctx), typed_address(), ctx).conversation
    typed = step(asked, btn("addr:typed"), ctx)
    assert typed.conversation.step == Step.SUMMARY and typed.conversation.draft.latitude is None
    pin_instead = step(asked, btn("addr:pin"), ctx)
    assert pin_instead.conversation.step == Step.LOCATION
    assert any(b.request_location for m in pin_instead.messages for row in m.keyboard for b in row)
    pinned = step(asked, located(INSIDE), ctx)
    assert pinned.conversation.step == Step.SUMMARY and pinned.conversation.draft.kecamatan == "Pasar Jambi"
