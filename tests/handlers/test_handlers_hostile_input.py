"""Hostile text and forged buttons in the conversation core: invisible descriptions are "too short",
control characters never reach a draft, and no payload or typed number makes the flow or the staff
payload parser raise (every outcome is a normal answer, never "error.generic")."""

from __future__ import annotations

import pytest
from handlers_testkit import (
    DESCRIPTION,
    all_text,
    at_step,
    btn,
    make_ctx,
    photo,
    run,
    step,
    text,
    typed_address,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from handlers.cards import StaffPayload, parse_staff_payload
from handlers.context import FlowContext
from handlers.events import Incoming, Text
from handlers.flow import Outcome
from handlers.lifecycle import Action
from handlers.state import Conversation, Step

FAMILY = "👨\u200d👩\u200d👧"
CTX = make_ctx()
STEPS = {target: at_step(target, CTX) for target in Step}
#: what the flow says when a handler raised (the testkit's ``step`` only catches a missing catalog key)
GENERIC = [CTX.t(language, "error.generic") for language in ("id", "en")]


def answered(conv: Conversation, incoming: Incoming) -> Outcome:
    """``step`` (the testkit's invariants) plus: no handler raised."""
    out = step(conv, incoming, CTX)
    assert not any(generic in all_text(out) for generic in GENERIC), "a handler raised"
    return out


# --- descriptions and addresses -------------------------------------------------------------------


@pytest.mark.parametrize("invisible", ["\u200b\u202e ", "\u200b" * 20, "\u202e\u2066\u2069" * 10, " \t\n" * 10,
                                       "\u3164" * 12, "\x00" * 30, "\ufe0f\u0301" * 10])
def test_a_description_of_invisible_characters_is_too_short(ctx: FlowContext, invisible: str) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    out = step(conv, text(invisible), ctx)
    assert out.conversation.step == Step.DESCRIPTION, "asked again, kindly"
    assert out.conversation.draft.description is None
    assert "minimal 10" in all_text(out) and "(0 karakter)" in all_text(out)


def test_an_emoji_counts_as_one_character(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    short = step(conv, text(FAMILY * 9), ctx)
    assert short.conversation.step == Step.DESCRIPTION and "(9 karakter)" in all_text(short)
    enough = step(conv, text(FAMILY * 10), ctx)
    assert enough.conversation.draft.description == FAMILY * 10
    assert enough.conversation.step == Step.PHOTOS


def test_a_description_with_nul_and_bidi_is_stored_without_them(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    out = step(conv, text("Sampah\x00 menumpuk\u202e di depan pasar\r\nsejak kemarin\u200b"), ctx)
    assert out.conversation.draft.description == "Sampah menumpuk di depan pasar\nsejak kemarin"
    assert out.conversation.step == Step.PHOTOS


def test_an_invisible_caption_does_not_become_the_description(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    out = step(conv, photo(1, caption="\u200b" * 30), ctx)
    assert out.conversation.draft.description is None and out.conversation.step == Step.DESCRIPTION
    assert out.conversation.draft.caption is None, "nothing visible to offer"
    captioned = step(conv, photo(2, caption="Sampah\x00 menumpuk di depan pasar"), ctx)
    assert captioned.conversation.draft.caption == "Sampah menumpuk di depan pasar"  # offered, cleaned


def test_an_invisible_address_is_refused_and_a_dirty_one_is_cleaned(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    out = step(conv, text("\u200b\u202e" * 10), ctx)
    assert out.conversation.step == Step.LOCATION and out.conversation.draft == conv.draft
    assert "(sekarang 0)" in all_text(out)
    kept = step(conv, text("Jl.\x00 Sultan\u202e Thaha"), ctx)
    assert kept.conversation.draft.address == "Jl. Sultan Thaha"


# --- numbers in buttons and typed menus -----------------------------------------------------------


@pytest.mark.parametrize("payload", ["addr:-1", "addr:2", "addr:99999999999999999999", "addr:١", "addr:+0",
                                     "addr: 0", "addr:", "addr:0_0"])
def test_a_forged_address_choice_is_an_old_button(ctx: FlowContext, payload: str) -> None:
    conv, _ = run(at_step(Step.LOCATION, ctx), ctx, typed_address())
    assert conv.step == Step.ADDRESS_PICK and len(conv.draft.address_matches) == 2
    out = answered(conv, btn(payload))
    assert out.alert is not None, "the stale-button toast"
    assert out.conversation.step == Step.ADDRESS_PICK and out.conversation.draft == conv.draft
    chosen = step(conv, btn("addr:1"), ctx)
    assert chosen.conversation.step == Step.SUMMARY and chosen.conversation.draft.kecamatan == "Jelutung"


@pytest.mark.parametrize("typed", ["²", "١", "３", "0", "9", "99999999999999999999", "-1", "1_0"])
def test_a_category_number_must_be_plain_digits_in_range(ctx: FlowContext, typed: str) -> None:
    conv = at_step(Step.CATEGORY, ctx)
    out = answered(conv, text(typed))
    assert out.conversation.step == Step.CATEGORY and out.conversation.draft.category is None
    assert step(conv, text("3"), ctx).conversation.draft.category == "sampah"


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("st:accept:2147483647", StaffPayload("st", Action.ACCEPT, 2147483647)),
        ("st:accept:99999999999999999999", None),
        ("st:accept:2147483648", None),
        ("st:accept:-1", None),
        ("st:accept:0", None),
        ("st:accept:１２", None),
        ("st:accept:²", None),
        ("st:accept: 12", None),
        ("st:accept:1_2", None),
        ("ra:99999999999999999999:dishub", None),
        ("ra:12:dishub\n", None),
        ("st:accept:12\n", None),
    ],
)
def test_staff_payload_numbers_fit_the_database(payload: str, expected: StaffPayload | None) -> None:
    assert parse_staff_payload(payload) == expected


staff_like = st.one_of(
    st.text(max_size=80),
    st.builds(lambda kind, mid, last: f"{kind}:{mid}:{last}", st.sampled_from(["st", "ra", "cat", ""]),
              st.one_of(st.sampled_from([a.value for a in Action]), st.text(max_size=25)),
              st.one_of(st.integers(-(2**70), 2**70).map(str), st.text(max_size=25))),
)


@settings(max_examples=300)
@given(staff_like)
@example("st:accept:99999999999999999999")
@example("st:accept:-1")
@example("st:accept:１２")
def test_parse_staff_payload_never_raises(payload: str) -> None:
    parsed = parse_staff_payload(payload)
    assert parsed is None or 1 <= parsed.complaint_id <= 2**31 - 1


PREFIXES = ["cat:", "addr:", "dup:", "show:", "lang:", "edit:", "sum:", "photo:", "menu:", "draft:", "st:", "ra:", ""]
citizen_payloads = st.one_of(
    st.text(max_size=70),
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(PREFIXES),
              st.one_of(st.text(max_size=40), st.integers(-(2**70), 2**70).map(str),
                        st.sampled_from(["１２", "²", "١", "0", "-1", "99999999999999999999"]))),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(STEPS, key=lambda s: s.value)), citizen_payloads, st.booleans())
@example(Step.ADDRESS_PICK, "addr:99999999999999999999", False)
@example(Step.DUPLICATES, "dup:-1", True)
@example(Step.CATEGORY, "cat:\x00", False)
def test_no_button_payload_breaks_the_citizen_flow(target: Step, payload: str, typed_choices: bool) -> None:
    """Whatever a forged callback or a WhatsApp quick reply carries, the answer is a normal one: ``step``
    fails on "error.generic" (the flow's catch-all for exceptions) and on broken messages."""
    conv: Conversation = STEPS[target]
    answered(conv, Incoming(btn(payload).event, typed_choices=typed_choices))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(STEPS, key=lambda s: s.value)),
       st.one_of(st.text(max_size=60), st.sampled_from(["²", "١٢", "３", "0", "99999999999999999999", " 1 ", "1."])))
def test_no_typed_text_breaks_the_citizen_flow(target: Step, typed: str) -> None:
    """Typed answers, numbered-menu style (WhatsApp), including digits Python's ``int`` treats oddly."""
    answered(STEPS[target], Incoming(Text(typed), typed_choices=True))


def test_the_description_fixture_is_still_accepted(ctx: FlowContext) -> None:
    out = step(at_step(Step.DESCRIPTION, ctx), text(DESCRIPTION), ctx)
    assert out.conversation.draft.description == DESCRIPTION
