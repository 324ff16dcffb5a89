"""Every step x every unexpected input: the draft and the step stay, a short re-prompt follows."""

from __future__ import annotations

import pytest
from handlers_testkit import (
    UNSUPPORTED_KINDS,
    at_step,
    btn,
    make_ctx,
    step,
    text,
    too_large,
    unsupported,
)

from handlers.events import Incoming, Location
from handlers.flow import prompt
from handlers.state import Step

CTX = make_ctx()

#: a button that is not valid in each step (from another step, or garbage)
STALE_BUTTONS = ("cat:sampah", "sum:send", "sum:edit", "edit:category", "photo:done", "cat:nope", "zzz", "st:accept:1")
#: steps where typed text is not what is expected (a button is)
TEXT_UNEXPECTED = (Step.CATEGORY, Step.SUMMARY, Step.EDIT_MENU, Step.PHOTOS)


def _cases() -> list[tuple[Step, str, Incoming]]:
    cases: list[tuple[Step, str, Incoming]] = []
    for s in Step:
        for kind in UNSUPPORTED_KINDS:
            cases.append((s, f"unsupported:{kind}", unsupported(kind)))
        cases.append((s, "too_large", too_large()))
        for payload in STALE_BUTTONS:
            valid_here = (s == Step.CATEGORY and payload == "cat:sampah") or (
                s == Step.SUMMARY and payload in ("sum:send", "sum:edit")
            ) or (s == Step.EDIT_MENU and payload == "edit:category") or (s == Step.PHOTOS and payload == "photo:done")
            if not valid_here:
                cases.append((s, f"button:{payload}", btn(payload)))
    for s in TEXT_UNEXPECTED:
        cases.append((s, "text", text("halo pak")))
    return cases


@pytest.mark.parametrize(("at", "label", "incoming"), _cases(), ids=lambda v: str(v) if isinstance(v, str) else None)
def test_unexpected_input_keeps_draft_and_reprompts(at: Step, label: str, incoming: Incoming) -> None:
    conv = at_step(at, CTX)
    out = step(conv, incoming, CTX)
    assert out.conversation.step == conv.step
    assert out.conversation.draft == conv.draft
    assert out.effects == []
    expected = prompt(conv, CTX)
    assert expected[0].text in out.messages[0].text  # says what is expected right now
    assert out.messages[0].buttons == expected[0].buttons
    assert out.messages[0].keyboard == expected[0].keyboard
    if label.startswith("button:"):
        assert out.alert is not None and out.alert.text
    else:
        assert out.alert is None


def test_sticker_in_photo_step_says_why() -> None:
    conv = at_step(Step.PHOTOS, CTX)
    out = step(conv, unsupported("sticker"), CTX)
    assert "stiker" in out.messages[0].text.lower()
    assert "foto" in out.messages[0].text.lower()


def test_too_large_says_sizes() -> None:
    conv = at_step(Step.PHOTOS, CTX)
    out = step(conv, too_large(size=int(12.5 * 1024 * 1024), max_bytes=10 * 1024 * 1024), CTX)
    assert "12,5 MB" in out.messages[0].text and "10 MB" in out.messages[0].text
    english = at_step(Step.PHOTOS, CTX, language="en")
    out = step(english, too_large(size=int(12.5 * 1024 * 1024)), CTX)
    assert "12.5 MB" in out.messages[0].text


def test_stale_category_button_from_old_message() -> None:
    conv = at_step(Step.SUMMARY, CTX)
    out = step(conv, btn("cat:jalan"), CTX)
    assert out.conversation.draft.category == "sampah"
    assert out.alert is not None and "tidak aktif" in out.alert.text


def test_invalid_pin_is_refused_politely() -> None:
    conv = at_step(Step.LOCATION, CTX)
    out = step(conv, Incoming(Location(float("nan"), 1.0)), CTX)
    assert out.conversation.draft == conv.draft and out.conversation.step == Step.LOCATION


def test_handle_never_raises_on_garbage() -> None:
    conv = at_step(Step.PHOTOS, CTX)
    weird = Incoming(event=None)  # type: ignore[arg-type]
    out = step(conv, weird, CTX)
    assert out.conversation.draft == conv.draft
    broken = step(conv, btn("lang:"), CTX)
    assert broken.alert is not None
