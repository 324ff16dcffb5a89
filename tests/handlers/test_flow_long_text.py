"""A description that arrives in parts (Telegram splits a paste over 4096 characters) belongs
together; over the limit, one message offers to keep the first part (cut at a sentence end) or to
write a shorter one, and the parts that follow are added silently."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers_testkit import all_text, at_step, btn, make_ctx, photo

from handlers.context import Limits
from handlers.events import Incoming, Text
from handlers.flow import handle
from handlers.flow.longtext import cut_at_sentence
from handlers.flow.turn import Outcome
from handlers.state import Conversation, Step

CTX = make_ctx()
T0 = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
SENTENCE = "Jalan di depan pasar berlubang besar dan sering membuat motor jatuh. "


def said(text: str, seconds: float) -> Incoming:
    return Incoming(Text(text), received_at=T0 + timedelta(seconds=seconds))


def bare(payload: str) -> str:
    try:
        from handlers.flow import versions
    except ImportError:  # pragma: no cover
        return payload
    return versions.bare(payload)


def offered(outcome: Outcome) -> list[str]:
    return [bare(b.payload) for m in outcome.messages for row in m.buttons for b in row]


def press(conv: Conversation, payload: str) -> Outcome:
    """Press a button the way the last outcome offered it (with its menu stamp, if any)."""
    stamped = next((p for _label, p in conv.choices if bare(p) == payload), payload)
    return handle(conv, btn(stamped), CTX)


def test_a_paste_in_parts_gets_one_message_and_keeps_the_first_part() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    story = SENTENCE * 60  # ~4100 characters: a client sends it in two parts
    first = handle(conv, said(story[:4000], 0), CTX)
    assert first.conversation.step == Step.DESCRIPTION
    assert {"desc:cut", "desc:short"} <= set(offered(first))
    assert "1000" in all_text(first)
    second = handle(first.conversation, said(story[4000:], 1), CTX)
    assert second.messages == [] and second.conversation.step == Step.DESCRIPTION  # no second error
    kept = press(second.conversation, "desc:cut")
    description = kept.conversation.draft.description or ""
    assert 100 < len(description) <= 1000 and description.endswith("jatuh.")
    assert kept.conversation.step == Step.PHOTOS
    assert "Deskripsi dicatat" in all_text(kept)


def test_write_a_shorter_one_asks_again() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    first = handle(conv, said(SENTENCE * 20, 0), CTX)
    again = press(first.conversation, "desc:short")
    assert again.conversation.step == Step.DESCRIPTION and again.conversation.draft.description is None
    assert again.conversation.paste == {}
    shorter = handle(again.conversation, said(SENTENCE, 60), CTX)
    assert shorter.conversation.draft.description == SENTENCE.strip()


def test_a_quick_answer_after_a_short_description_answers_the_next_step() -> None:
    """Only a message the client may have cut (near 4096 units) can have a rest: "lewati" typed a
    second after a short description is the answer to the photo question, not more description."""
    conv = at_step(Step.DESCRIPTION, CTX)
    first = handle(conv, said("Sampah menumpuk di depan pasar Angso Duo.", 0), CTX)
    assert first.conversation.step == Step.PHOTOS
    second = handle(first.conversation, said("lewati", 1), CTX)
    assert second.conversation.draft.description == "Sampah menumpuk di depan pasar Angso Duo."
    assert second.conversation.draft.photos_skipped and second.conversation.step == Step.LOCATION


def test_with_a_high_limit_the_rest_of_a_paste_is_added_silently() -> None:
    ctx = make_ctx(limits=Limits(description_max=9000))
    conv = at_step(Step.DESCRIPTION, ctx)
    story = SENTENCE * 100
    first = handle(conv, said(story[:4000], 0), ctx)
    assert first.conversation.step == Step.PHOTOS
    second = handle(first.conversation, said(story[4000:].strip(), 1), ctx)
    assert second.messages == [] and second.conversation.step == Step.PHOTOS
    assert len(second.conversation.draft.description or "") > 6000


def test_parts_that_together_are_too_long_go_back_to_the_offer() -> None:
    ctx = make_ctx(limits=Limits(description_max=5000))
    conv = at_step(Step.DESCRIPTION, ctx)
    first = handle(conv, said(SENTENCE * 58, 0), ctx)  # ~4000: accepted, and may have been cut
    assert first.conversation.step == Step.PHOTOS
    second = handle(first.conversation, said(SENTENCE * 58, 1), ctx)  # together ~8000: too long
    assert second.conversation.step == Step.DESCRIPTION
    assert second.conversation.draft.description is None
    assert {"desc:cut", "desc:short"} <= set(offered(second))
    third = handle(second.conversation, said(SENTENCE * 3, 2), ctx)
    assert third.messages == []
    stamped = next((p for _label, p in third.conversation.choices if bare(p) == "desc:cut"), "desc:cut")
    kept = handle(third.conversation, btn(stamped), ctx)
    assert kept.conversation.step == Step.PHOTOS
    assert len(kept.conversation.draft.description or "") <= 5000


def test_a_text_after_the_window_answers_the_step() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    first = handle(conv, said("Sampah menumpuk di depan pasar Angso Duo.", 0), CTX)
    later = handle(first.conversation, said("selesai", 30), CTX)
    assert later.conversation.draft.description == "Sampah menumpuk di depan pasar Angso Duo."
    assert later.conversation.paste == {}


def test_a_photo_ends_the_description() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    first = handle(conv, said("Sampah menumpuk di depan pasar Angso Duo.", 0), CTX)
    with_photo = handle(first.conversation, photo(2), CTX)
    assert with_photo.conversation.paste == {}


def test_an_old_cut_button_without_a_long_text_is_stale() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    out = handle(conv, btn("desc:cut"), CTX)
    assert out.conversation.step == Step.DESCRIPTION and out.conversation.draft.description is None


def test_cut_at_sentence() -> None:
    text = "Satu dua tiga. Empat lima enam! Tujuh delapan sembilan sepuluh"
    assert cut_at_sentence(text, 40) == "Satu dua tiga. Empat lima enam!"
    assert cut_at_sentence("a" * 50, 40) == "a" * 40
    assert cut_at_sentence("kata " * 20, 42).endswith("kata") and len(cut_at_sentence("kata " * 20, 42)) <= 42
    assert cut_at_sentence("pendek.", 40) == "pendek."
