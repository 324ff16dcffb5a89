"""No dead ends: every question has a way out and still understands what else the citizen means;
two unusable answers in a row bring the menu; a forgotten question expires; a first message of any
kind gets the welcome; keywords work with arguments and in any case."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from handlers_testkit import (
    DESCRIPTION,
    all_text,
    at_step,
    btn,
    cmd,
    make_ctx,
    photo,
    pin,
    run,
    step,
    text,
    unsupported,
)

from handlers.choices import resolve
from handlers.effects import ListComplaints, ShowStatus
from handlers.events import Command, Incoming, Text
from handlers.flow import handle, normalise_number
from handlers.flow.intents import Intent, command_takes_args, recognise
from handlers.flow.tables import GLOBAL_COMMANDS
from handlers.state import FILING_STEPS, Conversation, Step

CTX = make_ctx()
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
NUMBER = "JMB-2026-000007"


def bare(payload: str) -> str:
    """A payload without a menu-version stamp, if the flow adds one."""
    try:
        from handlers.flow import versions
    except ImportError:  # pragma: no cover - before menu versions existed
        return payload
    return versions.bare(payload)


def offered(outcome) -> list[str]:  # type: ignore[no-untyped-def]
    return [bare(b.payload) for m in [*outcome.messages, *outcome.followup] for row in m.buttons for b in row]


def at(when: datetime, incoming: Incoming) -> Incoming:
    return Incoming(incoming.event, received_at=when)


def greeted(conv: Conversation | None = None) -> Conversation:
    conv = conv or Conversation()
    conv.greeted = True
    return conv


# --- the way out is visible ------------------------------------------------------------------------


def test_the_number_question_shows_cancel_and_menu() -> None:
    out = step(greeted(), btn("menu:status"), CTX)
    assert out.conversation.step == Step.STATUS_NUMBER
    assert {"nav:back", "nav:menu"} <= set(offered(out))


@pytest.mark.parametrize("target", [Step.ADDRESS_PICK, Step.DUPLICATES])
def test_choice_questions_show_the_menu(target: Step) -> None:
    conv = at_step(target, CTX)
    out = step(conv, cmd("help"), CTX)
    assert "nav:menu" in offered(out)


def test_cancel_under_the_number_question_goes_back_to_the_draft() -> None:
    conv = step(at_step(Step.PHOTOS, CTX), btn("menu:status"), CTX).conversation
    out = step(conv, btn("nav:back"), CTX)
    assert out.conversation.step == Step.PHOTOS and out.conversation.draft == conv.draft


def test_menu_under_the_number_question_leaves_it() -> None:
    conv = step(greeted(), btn("menu:status"), CTX).conversation
    out = step(conv, btn("nav:menu"), CTX)
    assert out.conversation.step == Step.IDLE
    assert "menu:new" in offered(out)


# --- "🔎 Cek Status" followed by anything but a number no longer loops ------------------------------


def test_two_wrong_answers_to_the_number_question_bring_the_menu() -> None:
    conv, outs = run(greeted(), CTX, btn("menu:status"), text("halo"), text("saya tidak tahu nomornya"))
    first, second = outs[1], outs[2]
    assert first.conversation.step == Step.STATUS_NUMBER and not first.effects
    assert "halo" in all_text(first) and {"nav:back", "nav:menu"} <= set(offered(first))
    assert conv.step == Step.IDLE and conv.misses == 0
    assert {"menu:new", "menu:status", "menu:mine"} <= set(offered(second))
    # and the next text is no longer read as a tracking number
    after = step(conv, text("halo lagi"), CTX)
    assert "bukan nomor" not in all_text(after) and "nomor pengaduan di" not in all_text(after)


def test_two_wrong_answers_mid_draft_offer_the_way_back_to_it() -> None:
    draft_conv = at_step(Step.PHOTOS, CTX)
    conv, outs = run(draft_conv, CTX, btn("menu:status"), text("???"), text("hmm"))
    assert conv.step == Step.PHOTOS and conv.draft == draft_conv.draft
    assert "draft:continue" in offered(outs[-1]) and "menu:new" in offered(outs[-1])
    back = step(conv, btn("draft:continue"), CTX)
    assert back.conversation.step == Step.PHOTOS


def test_a_usable_answer_resets_the_count() -> None:
    conv, _ = run(greeted(), CTX, btn("menu:status"), text("halo"))
    assert conv.misses == 1
    conv, _ = run(conv, CTX, cmd("help"))
    assert conv.misses == 0 and conv.step == Step.STATUS_NUMBER


@pytest.mark.parametrize("word", ["menu", "MENU", "Menu!", "kembali ke menu"])
def test_menu_words_leave_the_number_question(word: str) -> None:
    conv = step(greeted(), btn("menu:status"), CTX).conversation
    out = step(conv, text(word), CTX)
    assert out.conversation.step == Step.IDLE and "menu:new" in offered(out)


@pytest.mark.parametrize("word", ["batal", "gak jadi", "Nggak jadi.", "cancel", "tidak jadi"])
def test_cancel_words_leave_the_number_question_and_keep_the_draft(word: str) -> None:
    draft_conv = at_step(Step.LOCATION, CTX)
    conv = step(draft_conv, btn("menu:status"), CTX).conversation
    out = step(conv, text(word), CTX)
    assert out.conversation.step == Step.LOCATION and out.conversation.draft == draft_conv.draft


@pytest.mark.parametrize("words", ["laporan saya", "Pengaduan saya", "my complaints"])
def test_my_complaints_words_are_understood_while_waiting(words: str) -> None:
    conv = step(greeted(), btn("menu:status"), CTX).conversation
    out = step(conv, text(words), CTX)
    assert out.effects == [ListComplaints()]


@pytest.mark.parametrize("words", ["bantuan", "tolong", "help"])
def test_help_words_are_understood_while_waiting(words: str) -> None:
    conv = step(greeted(), btn("menu:status"), CTX).conversation
    out = step(conv, text(words), CTX)
    assert "/bantuan" in all_text(out) or "/help" in all_text(out)


def test_mau_lapor_with_a_category_and_a_description_starts_filing() -> None:
    conv = step(greeted(), btn("menu:status"), CTX).conversation
    out = step(conv, text("saya mau melapor jalan rusak di depan pasar, lubangnya besar sekali"), CTX)
    draft = out.conversation.draft
    assert draft.category == "jalan"
    assert draft.description == "jalan rusak di depan pasar, lubangnya besar sekali"
    assert out.conversation.step == Step.PHOTOS


@pytest.mark.parametrize("words", ["mau lapor", "Lapor", "lapor!", "buat pengaduan"])
def test_mau_lapor_alone_asks_the_category(words: str) -> None:
    out = step(greeted(), text(words), CTX)
    assert out.conversation.step == Step.CATEGORY
    assert any(p.startswith("cat:") for p in offered(out))


def test_mau_lapor_jalan_rusak_chooses_the_category_only() -> None:
    out = step(greeted(), text("mau lapor jalan rusak"), CTX)
    assert out.conversation.draft.category == "jalan" and out.conversation.draft.description is None
    assert out.conversation.step == Step.DESCRIPTION


def test_a_category_name_while_waiting_starts_filing() -> None:
    conv = step(greeted(), btn("menu:status"), CTX).conversation
    out = step(conv, text("🗑️ sampah"), CTX)
    assert out.conversation.draft.category == "sampah" and out.conversation.step == Step.DESCRIPTION


def test_mau_lapor_over_a_draft_asks_before_discarding_it() -> None:
    draft_conv = at_step(Step.SUMMARY, CTX)
    conv = step(draft_conv, btn("menu:status"), CTX).conversation
    out = step(conv, text("mau lapor sampah menumpuk"), CTX)
    assert out.conversation.draft == draft_conv.draft
    assert "draft:continue" in offered(out)
    assert any(p.startswith("new:") for p in offered(out))


@pytest.mark.parametrize("target", sorted(FILING_STEPS - {Step.DESCRIPTION, Step.CATEGORY}))
def test_menu_words_are_understood_at_every_waiting_step(target: Step) -> None:
    conv = at_step(target, CTX)
    out = step(conv, text("cek status"), CTX)
    assert out.conversation.step == Step.STATUS_NUMBER and out.conversation.return_step == target
    assert out.conversation.draft == conv.draft


def test_an_address_is_still_an_address() -> None:
    conv = at_step(Step.LOCATION, CTX)
    out = step(conv, text("Jl. Sultan Thaha no. 5, dekat pasar"), CTX)
    assert out.conversation.draft.address == "Jl. Sultan Thaha no. 5, dekat pasar"


def test_two_unusable_texts_at_the_duplicates_question_offer_the_menu_and_the_draft() -> None:
    conv = at_step(Step.DUPLICATES, CTX)
    conv, outs = run(conv, CTX, text("hmm"), text("entahlah"))
    assert conv.step == Step.DUPLICATES
    assert "draft:continue" in offered(outs[-1])


# --- a question nobody answered expires -------------------------------------------------------------


def test_a_day_later_the_number_question_is_forgotten() -> None:
    conv = step(greeted(), at(T0, btn("menu:status")), CTX).conversation
    assert conv.detour_since is not None
    out = step(conv, at(T0 + timedelta(days=1), text("halo")), CTX)
    assert out.conversation.step == Step.IDLE
    assert "nomor pengaduan di" not in all_text(out)
    assert "menu:new" in offered(out)


def test_a_day_later_the_number_question_gives_the_draft_back() -> None:
    draft_conv = at_step(Step.PHOTOS, CTX)
    conv = step(draft_conv, at(T0, btn("menu:status")), CTX).conversation
    out = step(conv, at(T0 + timedelta(days=1), photo(2)), CTX)
    assert out.conversation.step in (Step.PHOTOS, Step.LOCATION)
    assert len(out.conversation.draft.photos) == len(draft_conv.draft.photos) + 1


def test_a_number_shortly_after_the_question_still_counts() -> None:
    conv = step(greeted(), at(T0, btn("menu:status")), CTX).conversation
    out = step(conv, at(T0 + timedelta(minutes=5), text("jmb-2026-7")), CTX)
    assert out.effects == [ShowStatus(NUMBER)]


# --- keywords with arguments, any case --------------------------------------------------------------


@pytest.mark.parametrize(
    "typed", ["status JMB-2026-000007", "STATUS jmb-2026-7", "cek jmb-2026-7", "Cek status jmb 2026 7", "jmb-2026-7"]
)
def test_status_with_a_number_typed_any_way(typed: str) -> None:
    out = step(greeted(), text(typed), CTX)
    assert out.effects == [ShowStatus(NUMBER)]


@pytest.mark.parametrize("typed", ["status JMB-2026-000007", "STATUS jmb-2026-7", "Status: jmb 2026 7"])
def test_status_with_a_number_on_whatsapp(typed: str) -> None:
    out = step(greeted(), Incoming(Text(typed), typed_choices=True), CTX)
    assert out.effects == [ShowStatus(NUMBER)]


def test_slash_status_with_a_spaced_short_number() -> None:
    out = step(greeted(), cmd("status", "jmb 2026 7"), CTX)
    assert out.effects == [ShowStatus(NUMBER)]


@pytest.mark.parametrize("target", [Step.PHOTOS, Step.SUMMARY, Step.DESCRIPTION, Step.LOCATION])
def test_status_with_a_number_mid_draft_keeps_it(target: str) -> None:
    conv = at_step(Step(target), CTX)
    out = step(conv, text("status jmb-2026-7"), CTX)
    assert out.effects == [ShowStatus(NUMBER)]
    assert out.conversation.draft == conv.draft and out.conversation.step == target


def test_a_description_starting_with_status_is_a_description_on_whatsapp() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    story = "status jalan ini rusak parah sejak bulan lalu"
    out = step(conv, Incoming(Text(story), typed_choices=True), CTX)
    assert out.conversation.draft.description == story


def test_choices_resolve_a_command_word_with_arguments() -> None:
    conv = Conversation()
    resolved = resolve(conv, Incoming(Text("STATUS jmb-2026-7"), typed_choices=True),
                       commands=GLOBAL_COMMANDS.keys(), takes_args=command_takes_args)
    assert resolved.event == Command("status", "jmb-2026-7")
    sentence = resolve(conv, Incoming(Text("status jalan rusak"), typed_choices=True),
                       commands=GLOBAL_COMMANDS.keys(), takes_args=command_takes_args)
    assert sentence.event == Text("status jalan rusak")


@pytest.mark.parametrize(
    ("typed", "number"),
    [("jmb-2026-7", NUMBER), ("JMB 2026 7", NUMBER), ("jmb-2026-000007", NUMBER), ("#jmb-2026- 42", "JMB-2026-000042")],
)
def test_short_numbers_are_zero_padded(typed: str, number: str) -> None:
    assert normalise_number(typed) == number


def test_recognise_knows_both_languages() -> None:
    assert recognise("Gak jadi", CTX) == Intent("cancel")
    assert recognise("never mind", CTX) == Intent("cancel")
    assert recognise("mau lapor", CTX) == Intent("new", "")
    assert recognise("I want to report rubbish near the market", CTX) == Intent("new", "rubbish near the market")
    assert recognise("Jl. Sudirman no 5", CTX) is None


# --- a first message of any kind gets the welcome ----------------------------------------------------


@pytest.mark.parametrize("first", [text("halo"), text("P"), text("selamat pagi"), unsupported("sticker")])
def test_a_first_message_of_any_kind_gets_the_welcome(first: Incoming) -> None:
    out = step(Conversation(), first, CTX)
    body = all_text(out)
    assert "Selamat datang" in body
    assert {"lang:id", "lang:en", "menu:new"} <= set(offered(out))
    assert out.conversation.greeted
    again = step(out.conversation, text("halo"), CTX)
    assert "Selamat datang" not in all_text(again)


@pytest.mark.parametrize("first", [photo(1), pin()])
def test_a_first_photo_or_pin_starts_a_draft_and_still_welcomes(first: Incoming) -> None:
    out = step(Conversation(), first, CTX)
    assert out.conversation.step == Step.CATEGORY
    assert "Selamat datang" in out.messages[0].text
    assert {"lang:id", "lang:en"} <= set(offered(out))
    assert any(p.startswith("cat:") for p in offered(out))


def test_a_first_status_question_is_answered_and_welcomed() -> None:
    out = step(Conversation(), text("status jmb-2026-7"), CTX)
    assert out.effects == [ShowStatus(NUMBER)]
    assert "Selamat datang" in all_text(out)


def test_start_is_not_welcomed_twice() -> None:
    out = step(Conversation(), cmd("start"), CTX)
    assert all_text(out).count("Selamat datang") == 1


def test_a_stored_conversation_from_before_counts_as_greeted() -> None:
    old = Conversation.from_dict({"step": "idle", "language": "id"})
    assert old.greeted
    assert not Conversation.from_dict(None).greeted
    out = step(old, text("halo"), CTX)
    assert "Selamat datang" not in all_text(out)


def test_state_round_trips_with_the_new_fields() -> None:
    conv = step(greeted(), at(T0, btn("menu:status")), CTX).conversation
    conv = step(conv, at(T0, text("halo")), CTX).conversation
    assert Conversation.from_dict(conv.to_dict()) == conv


def test_handle_never_mutates_and_description_still_works() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    out = handle(conv, text(DESCRIPTION), CTX)
    assert out.conversation.draft.description == DESCRIPTION
