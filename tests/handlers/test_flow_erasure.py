"""/hapusdata in the pure core: the question says what goes and what stays, "Tidak jadi" changes nothing
(a draft in progress stays), the confirmation is the EraseMyData effect from any step and from an older
message (a double tap: the service says it was done), and the words are understood on WhatsApp."""

from __future__ import annotations

from dataclasses import replace

from handlers_testkit import all_text, at_step, btn, cmd, payloads, step, text

from handlers.context import FlowContext
from handlers.effects import EraseMyData
from handlers.events import ButtonPress
from handlers.flow.erasure import ERASE_NO, ERASE_YES
from handlers.state import Conversation, Step


def test_the_question_names_what_goes_and_what_stays(ctx: FlowContext) -> None:
    for command in ("hapusdata", "erasedata"):
        asked = step(Conversation(greeted=True), cmd(command), ctx)
        assert "Hapus data Anda?" in all_text(asked) and "Yang tetap" in all_text(asked)
        assert payloads(asked) == [ERASE_YES, ERASE_NO] and not asked.effects


def test_not_confirming_keeps_the_draft(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    asked = step(conv, cmd("hapusdata"), ctx)
    assert asked.conversation.step == Step.SUMMARY, "asking changes nothing"
    kept = step(asked.conversation, btn(ERASE_NO), ctx)
    assert "Data Anda tetap tersimpan" in all_text(kept) and not kept.effects
    assert kept.conversation.step == Step.SUMMARY and kept.conversation.draft == conv.draft
    assert "Periksa pengaduan" in all_text(kept), "the summary again"


def test_confirming_is_the_effect_from_any_step_and_from_an_old_message(ctx: FlowContext) -> None:
    for where in (Step.IDLE, Step.DESCRIPTION, Step.SUMMARY):
        conv = at_step(where, ctx) if where != Step.IDLE else Conversation(greeted=True)
        asked = step(conv, cmd("hapusdata"), ctx)
        done = step(asked.conversation, btn(ERASE_YES), ctx)
        assert done.effects == [EraseMyData()] and not [m for m in done.messages if m.text]
    # pressed again later, on a conversation that never saw the question (the erased chat's new start)
    stale = btn(ERASE_YES)
    stale = replace(stale, event=ButtonPress(f"{ERASE_YES}~5", message_id="12"))
    assert step(Conversation(greeted=True), stale, ctx).effects == [EraseMyData()]


def test_the_words_on_whatsapp(ctx: FlowContext) -> None:
    for typed in ("hapus data saya", "Hapus data saya!", "delete my data", "hapusdata"):
        conv = at_step(Step.DESCRIPTION, ctx)
        incoming = replace(text(typed), typed_choices=True)
        asked = step(conv, incoming, ctx)
        assert "Hapus data Anda?" in all_text(asked), typed
        assert asked.conversation.draft.description is None, "never taken as a description"
        chosen = step(asked.conversation, replace(text("1"), typed_choices=True), ctx)
        assert chosen.effects == [EraseMyData()], typed
