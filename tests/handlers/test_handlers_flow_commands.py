"""Global commands and buttons at any step, editing from the summary, language, reminders."""

from __future__ import annotations

import pytest
from handlers_testkit import (
    DESCRIPTION,
    all_text,
    at_step,
    btn,
    cmd,
    make_ctx,
    payloads,
    photo,
    pin,
    run,
    step,
    text,
)

from handlers.context import FlowContext
from handlers.effects import ListComplaints, ShowStatus, SubmitDraft
from handlers.events import Incoming
from handlers.flow import discard_idle, handle, prompt, reminder
from handlers.state import FILING_STEPS, Conversation, Draft, Step

CTX = make_ctx()
FILING = sorted(FILING_STEPS)


# --- /start ---------------------------------------------------------------------------------------


def test_start_greets_in_indonesian_even_with_english_hint(ctx: FlowContext) -> None:
    out = step(Conversation(), Incoming(cmd("start").event, display_name="Budi <b>", language_hint="en-US"), ctx)
    body = all_text(out)
    assert body.startswith("Halo, Budi &lt;b&gt;!")
    assert "Prefer English?" in body
    assert out.conversation.language == "id"
    assert {"lang:id", "lang:en"} <= set(payloads(out))


def test_start_after_choosing_english(ctx: FlowContext) -> None:
    conv = step(Conversation(), btn("lang:en"), ctx).conversation
    out = step(conv, cmd("start"), ctx)
    assert "Welcome to" in all_text(out) and "Prefer English?" not in all_text(out)


@pytest.mark.parametrize("at", FILING)
def test_start_mid_draft_offers_continue_and_keeps_draft(at: Step) -> None:
    conv = at_step(at, CTX)
    out = step(conv, cmd("start"), CTX)
    assert out.conversation.draft == conv.draft and out.conversation.step == at
    # the greeting asks "continue or start over?" itself: its "start over" (new:) is the confirmation
    assert {"draft:continue", "new:", "lang:id", "lang:en"} <= set(payloads(out))
    assert "belum terkirim" in all_text(out)
    again = step(out.conversation, btn("draft:continue"), CTX)
    assert again.conversation.step == at
    assert prompt(conv, CTX)[0].text in all_text(again)


def test_start_over_discards_draft_only_once_confirmed() -> None:
    conv = at_step(Step.SUMMARY, CTX)
    for asking in (btn("menu:new"), cmd("baru")):
        asked = step(conv, asking, CTX)
        assert asked.conversation.draft == conv.draft and asked.conversation.step == Step.SUMMARY
        assert set(payloads(asked)) == {"draft:continue", "new:"}
    out = step(asked.conversation, btn("new:"), CTX)
    assert out.conversation.step == Step.CATEGORY and out.conversation.draft == Draft()
    assert "dihapus" in all_text(out)


# --- /help, /status, /laporan, /bahasa keep the draft ---------------------------------------------


@pytest.mark.parametrize("at", list(Step))
def test_help_keeps_draft_and_reprompts(at: Step) -> None:
    conv = at_step(at, CTX)
    for incoming in (cmd("help"), cmd("bantuan"), btn("menu:help")):
        out = step(conv, incoming, CTX)
        assert out.conversation.draft == conv.draft and out.conversation.step == at
        assert "/baru" in all_text(out)
        assert prompt(conv, CTX)[0].text in all_text(out)


@pytest.mark.parametrize("at", FILING)
def test_status_with_number_mid_draft_keeps_draft(at: Step) -> None:
    conv = at_step(at, CTX)
    out = step(conv, cmd("status", " jmb-2026- 000042 "), CTX)
    assert out.effects == [ShowStatus("JMB-2026-000042")]
    assert out.conversation.draft == conv.draft and out.conversation.step == at
    assert out.followup and prompt(conv, CTX)[0].text in out.followup[0].text


@pytest.mark.parametrize("at", FILING)
def test_status_without_number_returns_to_draft(at: Step) -> None:
    conv = at_step(at, CTX)
    asked = step(conv, cmd("status"), CTX)
    assert asked.conversation.step == Step.STATUS_NUMBER
    assert asked.conversation.return_step == at
    if at == Step.LOCATION:
        assert asked.messages[0].remove_keyboard
    answered = step(asked.conversation, text("jmb-2026-000042"), CTX)
    assert answered.effects == [ShowStatus("JMB-2026-000042")]
    assert answered.conversation.step == at and answered.conversation.draft == conv.draft
    assert answered.followup  # the draft step is re-asked after the status
    cancelled = step(asked.conversation, cmd("cancel"), CTX)
    assert cancelled.conversation.step == at and cancelled.conversation.draft == conv.draft


def test_status_number_from_idle() -> None:
    conv = at_step(Step.STATUS_NUMBER, CTX)
    bad = step(conv, text("halo apa kabar ini bukan nomor"), CTX)
    assert bad.conversation.step == Step.STATUS_NUMBER and not bad.effects
    out = step(conv, text("JMB-2026-000001"), CTX)
    assert out.effects == [ShowStatus("JMB-2026-000001")]
    assert out.conversation.step == Step.IDLE and out.followup == []


def test_status_with_bad_argument_asks_again() -> None:
    out = step(Conversation(), cmd("status", "???"), CTX)
    assert out.conversation.step == Step.STATUS_NUMBER and not out.effects


@pytest.mark.parametrize("incoming", [cmd("laporan"), cmd("mine"), btn("menu:mine")])
def test_list_keeps_draft(incoming: Incoming) -> None:
    conv = at_step(Step.PHOTOS, CTX)
    out = step(conv, incoming, CTX)
    assert out.effects == [ListComplaints()]
    assert out.conversation.draft == conv.draft and out.conversation.step == Step.PHOTOS


def test_show_button_from_my_complaints() -> None:
    out = step(Conversation(), btn("show:JMB-2026-000042"), CTX)
    assert out.effects == [ShowStatus("JMB-2026-000042")]


def test_bahasa_shows_language_buttons() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    out = step(conv, cmd("bahasa"), CTX)
    assert set(payloads(out)) == {"lang:id", "lang:en"}
    assert out.conversation.draft == conv.draft


@pytest.mark.parametrize("at", list(Step))
def test_language_switch_mid_draft_reprompts_in_english(at: Step) -> None:
    conv = at_step(at, CTX)
    out = step(conv, btn("lang:en"), CTX)
    assert out.conversation.language == "en" and out.conversation.language_chosen
    assert out.conversation.draft == conv.draft and out.conversation.step == at
    assert "continue in English" in out.messages[0].text
    assert prompt(out.conversation, CTX)[0].text in all_text(out)
    back = step(out.conversation, btn("lang:id"), CTX)
    assert "Bahasa Indonesia" in back.messages[0].text


def test_unknown_language_is_stale() -> None:
    out = step(Conversation(), btn("lang:fr"), CTX)
    assert out.alert is not None and out.conversation.language == "id"


def test_unknown_command_lists_commands_and_reprompts() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    out = step(conv, cmd("foo"), CTX)
    assert "/foo" in all_text(out) and "/status" in all_text(out)
    assert prompt(conv, CTX)[0].text in all_text(out)
    assert out.conversation.draft == conv.draft


# --- /cancel --------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", FILING)
def test_cancel_discards_draft(at: Step) -> None:
    conv = at_step(at, CTX)
    for incoming in (cmd("cancel"), cmd("batal"), btn("draft:cancel")):
        out = step(conv, incoming, CTX)
        assert out.conversation.step == Step.IDLE and out.conversation.draft == Draft()
        assert "dibatalkan" in all_text(out)
        assert "menu:new" in payloads(out)
        if at == Step.LOCATION:
            assert out.messages[0].remove_keyboard


def test_cancel_from_summary_button() -> None:
    out = step(at_step(Step.SUMMARY, CTX), btn("sum:cancel"), CTX)
    assert out.conversation.step == Step.IDLE and out.conversation.draft == Draft() and not out.effects


def test_cancel_with_nothing_to_cancel() -> None:
    out = step(Conversation(), cmd("cancel"), CTX)
    assert "tidak ada yang perlu dibatalkan" in all_text(out)


# --- editing from the summary ---------------------------------------------------------------------


def _edit(field: str, *events: Incoming) -> tuple[Conversation, Conversation]:
    summary = at_step(Step.SUMMARY, CTX)
    conv, _ = run(summary, CTX, btn("sum:edit"), btn(f"edit:{field}"), *events)
    return summary, conv


def test_edit_category_returns_to_summary() -> None:
    before, after = _edit("category", btn("cat:lampu"))
    assert after.step == Step.SUMMARY and after.draft.category == "lampu" and after.draft.editing is None
    assert after.draft.description == before.draft.description


def test_edit_description_returns_to_summary() -> None:
    _, after = _edit("description", text("Lampu jalan mati total di seluruh gang sejak minggu lalu."))
    assert after.step == Step.SUMMARY and (after.draft.description or "").startswith("Lampu jalan")


def test_edit_location_returns_to_summary() -> None:
    _, after = _edit("location", pin(-1.59, 103.6))
    assert after.step == Step.SUMMARY and after.draft.latitude == -1.59
    _, typed = _edit("location", text("Jl. Gatot Subroto No. 10"))
    assert typed.draft.latitude is None and typed.draft.address == "Jl. Gatot Subroto No. 10"


def test_edit_photos_replaces_them() -> None:
    _, after = _edit("photos", photo(8), photo(9), btn("photo:done"))
    assert after.step == Step.SUMMARY
    assert [p.sha256 for p in after.draft.photos] == [f"{8:064x}", f"{9:064x}"]
    assert after.draft.previous_photos == []


def test_edit_photos_done_without_new_keeps_old() -> None:
    before, after = _edit("photos", btn("photo:done"))
    assert after.step == Step.SUMMARY and after.draft.photos == before.draft.photos


def test_edit_to_required_photo_category_asks_for_photo() -> None:
    conv, _ = run(
        Conversation(), CTX, btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION), btn("photo:skip"), pin()
    )
    assert conv.step == Step.SUMMARY and not conv.draft.photos
    conv, _ = run(conv, CTX, btn("sum:edit"), btn("edit:category"), btn("cat:jalan"))
    assert conv.step == Step.PHOTOS  # jalan needs a photo
    conv, _ = run(conv, CTX, photo(1), btn("photo:done"))
    assert conv.step == Step.SUMMARY


def test_edit_back() -> None:
    before, after = _edit("back")
    assert after.step == Step.SUMMARY and after.draft == before.draft


def test_edited_draft_is_submitted() -> None:
    _, after = _edit("category", btn("cat:air"))
    out = step(after, btn("sum:send"), CTX)
    assert isinstance(out.effects[0], SubmitDraft) and out.effects[0].draft.category == "air"


# --- reminders ------------------------------------------------------------------------------------


@pytest.mark.parametrize("at", FILING)
def test_reminder_for_idle_draft(at: Step) -> None:
    conv = at_step(at, CTX)
    messages = reminder(conv, CTX)
    assert len(messages) == 1
    assert {b.payload for row in messages[0].buttons for b in row} == {"draft:continue", "draft:cancel"}
    out = step(conv, btn("draft:continue"), CTX)
    assert out.conversation == conv or out.conversation.to_dict() == conv.to_dict()


def test_no_reminder_without_draft() -> None:
    assert reminder(Conversation(), CTX) == []


@pytest.mark.parametrize("at", FILING)
def test_discard_idle(at: Step) -> None:
    conv = at_step(at, CTX)
    before = conv.to_dict()
    out = discard_idle(conv, CTX)
    assert conv.to_dict() == before
    assert out.conversation.step == Step.IDLE and out.conversation.draft == Draft()
    assert "kami hapus" in "\n".join(m.text for m in out.messages)
    if at == Step.LOCATION:
        assert out.messages[0].remove_keyboard


def test_discard_idle_without_draft_says_nothing() -> None:
    out = discard_idle(Conversation(), CTX)
    assert out.messages == [] and out.conversation.step == Step.IDLE


def test_continue_without_draft_is_stale() -> None:
    out = step(Conversation(), btn("draft:continue"), CTX)
    assert out.alert is not None


def test_conversation_round_trips_through_json() -> None:
    conv = at_step(Step.STATUS_NUMBER, CTX)
    conv = handle(at_step(Step.PHOTOS, CTX), cmd("status"), CTX).conversation
    assert Conversation.from_dict(conv.to_dict()) == conv
    edited = run(at_step(Step.SUMMARY, CTX), CTX, btn("sum:edit"), btn("edit:photos"))[0]
    assert Conversation.from_dict(edited.to_dict()) == edited
