"""The follow-up conversation's table, cell by cell, without a database: "is it fixed?", the rating and its
comment, the reason that reopens, the appeal; text read as the answer while the question is open (and not
when it clearly starts something else); old and foreign presses; WhatsApp's typed numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from handlers_testkit import check_message, make_ctx, media

from bot.whatsapp.render import render_whatsapp
from handlers import followup as fu
from handlers.events import ButtonPress, Command, Incoming, Photo, Text
from handlers.flow.versions import bare
from handlers.followup import Appeal, Comment, ConfirmFixed, FuStep, Rate, Reopen, Subject
from handlers.messages import OutMessage
from handlers.state import Conversation, Step

CTX = make_ctx()
WA = CTX.for_channel("whatsapp")
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
ASKED = Subject(7, "JMB-2026-000007", "selesai", "pupr", confirmation="asked", reopen_open=True,
                reopen_days=14, command_centre="jcoc")
REJECTED = Subject(9, "JMB-2026-000009", "ditolak", "dlh", appeal_open=True, command_centre="jcoc")


def _payloads(outcome: fu.FuOutcome) -> list[str]:
    return [bare(b.payload) for m in outcome.messages for row in m.buttons for b in row]


def _text(outcome: fu.FuOutcome) -> str:
    return "\n".join(m.text for m in outcome.messages)


def _check(outcome: fu.FuOutcome) -> fu.FuOutcome:
    for message in outcome.messages:
        check_message(message)
    return outcome


def asked(subject: Subject = ASKED) -> Conversation:
    return _check(fu.ask(Conversation(greeted=True), CTX, subject, T0)).conversation


def press(payload: str, message_id: str | None = "55") -> Incoming:
    return Incoming(ButtonPress(payload, message_id=message_id))


def say(value: str, *, whatsapp: bool = False) -> Incoming:
    return Incoming(Text(value), typed_choices=whatsapp, received_at=T0)


def run(conv: Conversation, incoming: Incoming, subject: Subject = ASKED, now: datetime = T0) -> fu.FuOutcome:
    before = conv.to_dict()
    outcome = _check(fu.handle(conv, incoming, CTX, subject, now))
    assert conv.to_dict() == before, "handle() mutated its input"
    return outcome


def test_the_question_names_its_complaint_on_every_button() -> None:
    outcome = fu.ask(Conversation(greeted=True), CTX, ASKED, T0)
    assert "JMB-2026-000007" in _text(outcome) and "sudah beres" in _text(outcome)
    assert _payloads(outcome) == ["fu:yes:7", "fu:no:7"]
    assert fu.pending(outcome.conversation) is not None
    assert outcome.conversation.choices, "a typed 1 / 2 on WhatsApp means Sudah / Belum"
    whatsapp = "\n".join(render_whatsapp(outcome.messages[0], language="id", ctx=WA).bodies)
    assert "1. ✅ Sudah" in whatsapp and "2. ❌ Belum" in whatsapp


def test_sudah_then_four_stars_then_a_comment() -> None:
    conv = asked()
    yes = run(conv, press("fu:yes:7"))
    assert yes.effects == [ConfirmFixed(7)]
    assert _payloads(yes) == [f"fu:rate:7:{n}" for n in range(1, 6)]
    assert yes.messages[0].edit is not None, "the question's buttons come off (Telegram)"
    rated = run(yes.conversation, press("fu:rate:7:4"), replace(ASKED, confirmation="yes"))
    assert rated.effects == [Rate(7, 4, None)]
    assert _payloads(rated)[-1] == "fu:skip:7"
    done = run(rated.conversation, say("Cepat sekali, terima kasih"),
               replace(ASKED, confirmation="yes", rated=True))
    assert done.effects == [Comment(7, "Cepat sekali, terima kasih")]
    assert "menu:new" in _payloads(done), "the end of the question is never a dead end"
    assert fu.pending(done.conversation) is None


def test_text_while_the_question_is_open_becomes_the_comment() -> None:
    conv = asked()
    assert fu.wants(conv, say("Sudah bagus, mantap"), CTX, ASKED, T0)
    kept = run(conv, say("Sudah bagus, mantap"))
    assert kept.effects == [] and _payloads(kept) == ["fu:yes:7", "fu:no:7"], "the buttons stay"
    yes = run(kept.conversation, press("fu:yes:7"))
    rated = run(yes.conversation, press("fu:rate:7:5"), replace(ASKED, confirmation="yes"))
    assert rated.effects == [Rate(7, 5, "Sudah bagus, mantap")]
    assert fu.pending(rated.conversation) is None, "no comment question: it was written already"


def test_typed_rating_and_typed_comment_at_the_rating() -> None:
    conv = run(asked(), press("fu:yes:7")).conversation
    subject = replace(ASKED, confirmation="yes")
    comment = run(conv, say("petugasnya ramah"), subject)
    assert comment.effects == [] and len(_payloads(comment)) == 5, "the comment is kept, the stars asked again"
    four = run(comment.conversation, say("4"), subject)
    assert four.effects == [Rate(7, 4, "petugasnya ramah")]


def test_belum_reason_and_photo_reopen() -> None:
    conv = asked()
    no = run(conv, press("fu:no:7"))
    assert fu.pending(no.conversation).step == FuStep.REASON  # type: ignore[union-attr]
    assert "fu:send:7" not in _payloads(no), "nothing to send yet"
    told = run(no.conversation, say("Masih berlubang di ujung jalan"))
    assert "fu:send:7" in _payloads(told)
    pic = Incoming(Photo(media(1)), received_at=T0)
    assert fu.wants(told.conversation, pic, CTX, ASKED, T0)
    shown = run(told.conversation, pic)
    sent = run(shown.conversation, press("fu:send:7"))
    assert sent.effects == [Reopen(7, "Masih berlubang di ujung jalan", (media(1),))]
    assert fu.pending(sent.conversation) is None


def test_belum_after_the_reopen_window_is_answered_kindly() -> None:
    late = replace(ASKED, reopen_open=False)
    outcome = run(asked(), press("fu:no:7"), late)
    assert outcome.effects == [] and "14 hari" in _text(outcome) and "pengaduan baru" in _text(outcome)
    assert "menu:new" in _payloads(outcome)
    assert fu.pending(outcome.conversation) is None


def test_what_clearly_starts_something_else_is_left_to_the_flow() -> None:
    conv = asked()
    for wish in ("mau lapor jalan rusak di depan pasar", "menu", "status JMB-2026-000007", "batal"):
        assert not fu.wants(conv, say(wish), CTX, ASKED, T0), wish
    assert not fu.wants(conv, Incoming(Command("baru")), CTX, ASKED, T0)
    drafting = replace(conv, step=Step.DESCRIPTION)
    assert not fu.wants(drafting, say("lubangnya besar sekali"), CTX, ASKED, T0), "text belongs to the draft"
    assert fu.wants(drafting, press("fu:yes:7"), CTX, ASKED, T0), "its own buttons work at any step"


def test_a_press_on_an_old_question_acts_on_its_own_complaint_only() -> None:
    conv = asked()  # the open question is about 7
    other = Subject(8, "JMB-2026-000008", "selesai", "dlh", confirmation="asked", reopen_open=True)
    outcome = run(conv, press("fu:yes:8"), other)
    assert outcome.effects == [ConfirmFixed(8)]
    answered = replace(ASKED, confirmation="yes", rated=True)
    stale = run(conv, press("fu:no:7"), answered)
    assert stale.effects == [] and stale.alert is not None
    assert run(conv, press("fu:rate:7:3"), answered).effects == [], "rated once"


def test_whatsapp_numbers_answer_the_last_list() -> None:
    conv = asked()
    assert fu.subject_ref(conv, say("2", whatsapp=True)) == "7"
    no = run(conv, say("2", whatsapp=True))
    assert fu.pending(no.conversation).step == FuStep.REASON  # type: ignore[union-attr]
    yes = run(asked(), say("1", whatsapp=True))
    four = run(yes.conversation, say("4", whatsapp=True), replace(ASKED, confirmation="yes"))
    assert four.effects == [Rate(7, 4, None)]


def test_a_template_quick_reply_names_the_complaint_by_number() -> None:
    assert fu.parse("fu:yes:JMB-2026-000007") == fu.Press(fu.Verb.YES, "JMB-2026-000007")
    assert fu.subject_ref(Conversation(), Incoming(ButtonPress("fu:no:JMB-2026-000007"))) == "JMB-2026-000007"
    assert fu.parse("fu:rate:7:9x") is None and fu.parse("fu:nope:7") is None and fu.parse("cat:jalan") is None


def test_appeal_once_with_a_written_reason() -> None:
    conv = Conversation(greeted=True)
    asked_why = run(conv, press("fu:appeal:9"), REJECTED)
    assert "JMB-2026-000009" in _text(asked_why) and "fu:send:9" not in _payloads(asked_why)
    why = run(asked_why.conversation, say("Lokasinya jelas di dalam kota"), REJECTED)
    assert "fu:send:9" in _payloads(why)
    sent = run(why.conversation, press("fu:send:9"), REJECTED)
    assert sent.effects == [Appeal(9, "Lokasinya jelas di dalam kota")]
    again = run(sent.conversation, press("fu:appeal:9"), replace(REJECTED, appeal_open=False))
    assert again.effects == [] and "sudah pernah" in _text(again)


def test_an_unanswered_rating_lapses_after_a_day() -> None:
    conv = run(asked(), press("fu:yes:7")).conversation
    subject = replace(ASKED, confirmation="yes")
    assert fu.wants(conv, say("bagus"), CTX, subject, T0 + timedelta(hours=2))
    assert not fu.wants(conv, say("halo"), CTX, subject, T0 + timedelta(hours=25))
    assert fu.lapsed(asked(), replace(ASKED, confirmation="auto"), T0), "closed unanswered"


@pytest.mark.parametrize("step", list(FuStep))
def test_every_input_at_every_step_gets_an_answer(step: FuStep) -> None:
    conv = asked()
    conv.followup["step"] = step.value
    subjects = (ASKED, replace(ASKED, confirmation="yes"), REJECTED, replace(ASKED, status="diproses"))
    inputs = [say("apa ini"), say("3"), Incoming(Photo(media(2))), *(press(f"fu:{v.value}:7") for v in fu.Verb),
              press("fu:rate:7:5"), press("fu:send:9")]
    for subject in subjects:
        for incoming in inputs:
            outcome = run(conv, incoming, subject)
            assert outcome.messages or outcome.effects, (step, subject, incoming)
            assert all(isinstance(m, OutMessage) for m in outcome.messages)


def test_batal_or_menu_leaves_a_reason_being_written_but_not_the_question() -> None:
    reason = run(asked(), press("fu:no:7")).conversation
    assert fu.abandons(reason, Incoming(Command("batal")), CTX)
    assert fu.abandons(reason, say("menu"), CTX) and fu.abandons(reason, say("gak jadi"), CTX)
    assert not fu.abandons(reason, say("masih bocor"), CTX)
    assert not fu.abandons(asked(), Incoming(Command("batal")), CTX), "is it fixed? stays open"
