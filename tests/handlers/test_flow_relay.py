"""Plain text soon after staff wrote: "Kirim ke petugas untuk JMB-…? Ya / Bukan", decided by the pure core.

The service passes the complaints staff wrote about lately as ``Incoming.recent_staff``; these tests
build such events directly and drive :func:`handlers.flow.handle` through the invariant-checking driver.
"""

from __future__ import annotations

from dataclasses import replace

from handlers_testkit import after_staff, at_step, btn, cmd, make_ctx, media, photo, step, text

from handlers.effects import RelayToAgency
from handlers.events import Incoming, Photo, RecentStaff, Text
from handlers.flow import prompt
from handlers.flow.relay import RELAY_NO, RELAY_TO, RELAY_YES
from handlers.state import Conversation, Step

CTX = make_ctx()
FIRST, SECOND = "JMB-2026-000001", "JMB-2026-000002"
ANSWER = "Depan masjid Al-Ikhlas, sebelah warung"


def bare(payload: str) -> str:
    """A payload without the menu version the flow may stamp on it (``relay:yes~1f``)."""
    return payload.partition("~")[0]


def plain_payloads(outcome: object) -> list[str]:
    """The payloads of the outcome's buttons without their menu version stamp."""
    return [bare(b.payload) for m in outcome.messages for row in m.buttons for b in row]  # type: ignore[attr-defined]


def idle(language: str = "id") -> Conversation:
    """A citizen at the menu who has talked to the bot before (they filed what staff wrote about)."""
    conv = step(Conversation(language=language, language_chosen=True), cmd("start"), CTX).conversation
    assert conv.step == Step.IDLE
    return conv


def asked(*numbers: str, incoming: Incoming | None = None) -> Conversation:
    out = step(idle(), incoming or after_staff(ANSWER, *numbers), CTX)
    assert out.conversation.step == Step.RELAY_CONFIRM
    return out.conversation


def with_staff(incoming: Incoming, *numbers: str) -> Incoming:
    return replace(incoming, recent_staff=tuple(RecentStaff(n, "pupr") for n in numbers or (FIRST,)))


def test_plain_text_after_staff_wrote_is_offered_to_the_agency_first() -> None:
    out = step(idle(), after_staff(ANSWER), CTX)
    assert out.conversation.step == Step.RELAY_CONFIRM
    assert out.effects == [], "nothing reaches staff before the citizen says so"
    question = out.messages[-1].text
    assert FIRST in question and "petugas" in question and "Dinas PUPR" in question
    assert plain_payloads(out) == [RELAY_YES, RELAY_NO]
    assert [b.label for row in out.messages[-1].buttons for b in row] == ["✅ Ya", "✖️ Bukan"]


def test_without_staff_writing_lately_text_is_ordinary() -> None:
    plain = step(idle(), text(ANSWER), CTX)
    assert plain.conversation.step == Step.IDLE and plain.effects == []
    assert RELAY_YES not in plain_payloads(plain)


def test_ya_relays_exactly_what_was_written_and_returns_to_the_menu() -> None:
    out = step(asked(FIRST), btn(RELAY_YES), CTX)
    assert out.effects == [RelayToAgency(FIRST, ANSWER, ())]
    assert out.conversation.step == Step.IDLE
    assert out.conversation.relay is None and out.conversation.to_dict()["relay"] is None


def test_typed_ya_and_bukan_work_like_the_buttons() -> None:
    for word in ("ya", "Iya", "YES", "ok"):
        out = step(asked(FIRST), with_staff(text(word)), CTX)
        assert out.effects == [RelayToAgency(FIRST, ANSWER, ())], word
    for word in ("bukan", "Tidak", "no"):
        out = step(asked(FIRST), with_staff(text(word)), CTX)
        assert out.effects == [] and out.conversation.step == Step.IDLE, word


def test_bukan_handles_the_text_as_ordinary_idle_text() -> None:
    conv = asked(FIRST)
    out = step(conv, btn(RELAY_NO), CTX)
    ordinary = step(idle(), text(ANSWER), CTX)
    assert out.effects == []
    assert out.conversation.step == ordinary.conversation.step == Step.IDLE
    assert "tidak dikirim ke petugas" in out.messages[0].text
    assert ordinary.messages[-1].text in out.messages[-1].text, "then what idle text always gets"


def test_several_complaints_ask_which_one() -> None:
    conv = asked(FIRST, SECOND, incoming=after_staff(ANSWER, SECOND, FIRST))
    question = prompt(conv, CTX)[-1]
    assert [bare(b.payload) for row in question.buttons for b in row] == [
        f"{RELAY_TO}{SECOND}", f"{RELAY_TO}{FIRST}", RELAY_NO,
    ], "the complaint staff wrote about last comes first"
    assert "PUPR" in question.buttons[0][0].label
    out = step(conv, btn(f"{RELAY_TO}{FIRST}"), CTX)
    assert out.effects == [RelayToAgency(FIRST, ANSWER, ())]
    # "ya" does not say which: asked again, nothing sent, nothing added
    again = step(conv, with_staff(text("ya"), SECOND, FIRST), CTX)
    assert again.effects == [] and again.conversation.step == Step.RELAY_CONFIRM
    assert again.conversation.relay == conv.relay
    # typing the number does
    typed = step(conv, with_staff(text(SECOND.lower()), SECOND, FIRST), CTX)
    assert typed.effects == [RelayToAgency(SECOND, ANSWER, ())]


def test_a_press_for_a_complaint_not_asked_about_is_stale() -> None:
    conv = asked(FIRST, SECOND)
    out = step(conv, btn(f"{RELAY_TO}JMB-2026-000999"), CTX)
    assert out.effects == [] and out.alert is not None
    assert out.conversation.step == Step.RELAY_CONFIRM
    single_yes = step(conv, btn(RELAY_YES), CTX)  # "Ya" of a one-complaint question: which one?
    assert single_yes.effects == [] and single_yes.alert is not None


def test_more_text_before_answering_joins_the_waiting_message() -> None:
    conv = asked(FIRST)
    out = step(conv, with_staff(text("yang ada pohon mangganya")), CTX)
    assert out.conversation.step == Step.RELAY_CONFIRM and out.effects == []
    sent = step(out.conversation, btn(RELAY_YES), CTX)
    assert sent.effects == [RelayToAgency(FIRST, f"{ANSWER}\n\nyang ada pohon mangganya", ())]


def test_a_photo_after_staff_wrote_is_offered_too_and_relayed_with_its_caption() -> None:
    out = step(idle(), with_staff(photo(1, caption="ini sudah diperbaiki?")), CTX)
    assert out.conversation.step == Step.RELAY_CONFIRM
    assert "foto ini" in out.messages[-1].text
    sent = step(out.conversation, btn(RELAY_YES), CTX)
    assert sent.effects == [RelayToAgency(FIRST, "ini sudah diperbaiki?", (media(1),))]


def test_text_then_photo_go_together() -> None:
    conv = asked(FIRST)
    out = step(conv, with_staff(photo(2)), CTX)
    assert "pesan dan foto ini" in out.messages[-1].text
    sent = step(out.conversation, btn(RELAY_YES), CTX)
    assert sent.effects == [RelayToAgency(FIRST, ANSWER, (media(2),))]


def test_bukan_on_a_photo_starts_a_draft_with_it_as_at_the_menu() -> None:
    conv = step(idle(), with_staff(photo(3)), CTX).conversation
    out = step(conv, btn(RELAY_NO), CTX)
    ordinary = step(idle(), photo(3), CTX)
    assert out.conversation.step == ordinary.conversation.step
    assert out.conversation.draft.photos == ordinary.conversation.draft.photos == [media(3)]


def test_no_question_while_a_draft_is_in_progress() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    out = step(conv, after_staff("Jalan berlubang besar di depan pasar"), CTX)
    assert out.conversation.step != Step.RELAY_CONFIRM and out.effects == []
    assert out.conversation.draft.description == "Jalan berlubang besar di depan pasar"


def test_an_unanswered_question_lapses_when_staff_no_longer_wrote_lately() -> None:
    conv = asked(FIRST)
    out = step(conv, text("halo"), CTX)  # hours later: the service passes no recent staff messages
    assert out.conversation.step == Step.IDLE and out.effects == []
    assert out.conversation.relay is None
    fresh = step(conv, after_staff("halo", SECOND), CTX)  # staff wrote about another one since
    assert fresh.conversation.step == Step.RELAY_CONFIRM
    assert fresh.conversation.relay is not None and fresh.conversation.relay.targets == [(SECOND, "pupr")]
    assert fresh.conversation.relay.texts == ["halo"]


def test_commands_and_the_menu_still_work_while_asked() -> None:
    conv = asked(FIRST)
    cancelled = step(conv, cmd("batal"), CTX)
    assert cancelled.conversation.step == Step.IDLE and cancelled.effects == []
    new = step(conv, btn("menu:new"), CTX)
    assert new.conversation.step == Step.CATEGORY
    helped = step(conv, cmd("bantuan"), CTX)
    assert helped.conversation.step == Step.RELAY_CONFIRM
    assert FIRST in helped.messages[-1].text, "help, then the question again"


def test_the_waiting_text_survives_a_round_trip_through_storage_only_while_asked() -> None:
    conv = asked(FIRST)
    restored = Conversation.from_dict(conv.to_dict())
    assert restored.relay == conv.relay and restored.step == Step.RELAY_CONFIRM
    out = step(restored, btn(RELAY_YES), CTX)
    assert out.effects == [RelayToAgency(FIRST, ANSWER, ())]


def test_english_question() -> None:
    out = step(idle("en"), after_staff(ANSWER), CTX)
    assert "Send this message to the Public Works Agency staff" in out.messages[-1].text
    assert [b.label for row in out.messages[-1].buttons for b in row] == ["✅ Yes", "✖️ No"]


def test_whatsapp_numbers_answer_the_question() -> None:
    conv = asked(FIRST)
    numbered = Incoming(Text("1"), typed_choices=True, recent_staff=(RecentStaff(FIRST, "pupr"),))
    out = step(conv, numbered, CTX)
    assert out.effects == [RelayToAgency(FIRST, ANSWER, ())]
    assert isinstance(photo(1).event, Photo)


def test_a_typed_wish_is_done_not_offered_to_the_agency() -> None:
    for wish in ("menu", "mau lapor jalan rusak di depan pasar", f"status {FIRST}"):
        out = step(idle(), after_staff(wish), CTX)
        assert out.conversation.step != Step.RELAY_CONFIRM, wish
        assert not [e for e in out.effects if isinstance(e, RelayToAgency)], wish
    # while asked, too: the question is dropped and the wish done
    out = step(asked(FIRST), with_staff(text("mau lapor sampah menumpuk")), CTX)
    assert out.conversation.step == Step.CATEGORY or out.conversation.step not in (Step.RELAY_CONFIRM, Step.IDLE)
    assert out.conversation.relay is None
