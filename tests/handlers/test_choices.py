"""Menus answered by typing (handlers.choices): WhatsApp shows menus as numbered lists, so the
citizen answers "1" or the option's word; on Telegram only the word counts (numbers stay text)."""

from __future__ import annotations

from handlers_testkit import DESCRIPTION, all_text, at_step, cmd, make_view, media, run, step, text

from handlers import choices, flow
from handlers.context import FlowContext, Limits
from handlers.effects import ListComplaints, ShowStatus, SubmitDraft
from handlers.events import ButtonPress, Command, Incoming, Photo, Text
from handlers.messages import Button, OutMessage
from handlers.state import Conversation, Step


def wa(typed: str) -> Incoming:
    """A text typed on WhatsApp, where menus are numbered lists."""
    return Incoming(Text(typed), typed_choices=True)


def submitted(outcome: flow.Outcome) -> bool:
    return any(isinstance(e, SubmitDraft) for e in outcome.effects)


# --- transcripts on WhatsApp ----------------------------------------------------------------------


def test_whatsapp_one_picks_the_first_language(ctx: FlowContext) -> None:
    conv = Conversation(language="en", language_chosen=True)
    conv, (asked, chosen) = run(conv, ctx, wa("language"), wa("1"))
    assert [label for label, _ in asked.conversation.choices] == ["🇮🇩 Bahasa Indonesia", "🇬🇧 English"]
    assert chosen.conversation.language == "id"
    assert "Bahasa Indonesia" in all_text(chosen)


def test_whatsapp_menu_then_category_by_number_and_by_word(ctx: FlowContext) -> None:
    conv, (menu, new, category) = run(Conversation(), ctx, wa("menu"), wa("1"), wa("sampah"))
    assert menu.conversation.choices[0] == ("📝 Buat Pengaduan", "menu:new")
    assert new.conversation.step == Step.CATEGORY
    assert category.conversation.draft.category == "sampah"
    assert conv.step == Step.DESCRIPTION
    assert conv.choices == []  # "describe it" is not a menu: a later "1" must not pick anything

    first = step(at_step(Step.CATEGORY, ctx), wa("1"), ctx)
    assert first.conversation.draft.category == ctx.categories[0].key


def test_whatsapp_one_at_the_summary_sends(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    assert conv.choices[0] == ("📨 Kirim", "sum:send")
    for typed in ("1", " 1 ", "1.", "1)", "kirim", "Kirim!", "✅ Kirim"):
        out = step(conv, wa(typed), ctx)
        assert submitted(out), typed
        assert out.conversation.step == Step.IDLE


def test_whatsapp_two_at_the_summary_opens_the_edit_menu(ctx: FlowContext) -> None:
    conv, (edit, field) = run(at_step(Step.SUMMARY, ctx), ctx, wa("2"), wa("2"))
    assert edit.conversation.step == Step.EDIT_MENU
    assert field.conversation.step == Step.DESCRIPTION  # second item of the edit menu
    assert conv.draft.editing == "description"


def test_whatsapp_out_of_range_number_at_the_summary_loses_nothing(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    out = step(conv, wa("9"), ctx)
    assert not out.effects
    assert out.conversation.step == Step.SUMMARY
    assert out.conversation.draft == conv.draft
    assert out.conversation.choices == conv.choices
    assert "Mohon pilih salah satu pilihan di bawah ini." in all_text(out)
    assert "🗑️ Sampah" in all_text(out)  # the summary again, to answer it properly
    assert submitted(step(out.conversation, wa("1"), ctx))


def test_whatsapp_command_words_need_no_slash(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    helped = step(conv, wa("Bantuan"), ctx)
    assert helped.conversation.step == Step.LOCATION and "/baru" in all_text(helped)
    cancelled = step(at_step(Step.DESCRIPTION, ctx), wa("batal"), ctx)
    assert cancelled.conversation.step == Step.IDLE


def test_a_command_word_can_never_be_a_description() -> None:
    """Why command words are commands even at the description step: none is long enough."""
    assert max(len(name) for name in flow.GLOBAL_COMMANDS) < Limits().description_min


def test_whatsapp_reminder_menu_replaces_the_summary_menu(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    reminded = flow.remind(conv, ctx)
    assert conv.choices[1][1] == "sum:edit", "remind() must not mutate its input"
    assert [payload for _, payload in reminded.conversation.choices] == ["draft:continue", "draft:cancel"]
    out = step(reminded.conversation, wa("2"), ctx)
    assert out.conversation.step == Step.IDLE and not out.effects  # cancelled, not "edit"


def test_discarded_draft_remembers_the_main_menu(ctx: FlowContext) -> None:
    out = flow.discard_idle(at_step(Step.SUMMARY, ctx), ctx)
    assert out.conversation.choices[0] == ("📝 Buat Pengaduan", "menu:new")


def test_the_service_remembers_what_it_adds_for_effects(ctx: FlowContext) -> None:
    """"My complaints" is rendered by the service: it calls remember() with everything it sends."""
    listed = step(Conversation(), wa("laporan"), ctx)
    assert listed.effects == [ListComplaints()]
    rendered = flow.render_my_complaints("id", [make_view()], ctx)
    conv = listed.conversation
    choices.remember(conv, [*listed.messages, rendered, *listed.followup])
    out = step(conv, wa("1"), ctx)
    assert out.effects == [ShowStatus("JMB-2026-000042")]


# --- Telegram: real buttons, so numbers are just text ---------------------------------------------


def test_telegram_one_at_the_summary_does_not_send(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    out = step(conv, text("1"), ctx)
    assert not submitted(out)
    assert out.conversation.step == Step.SUMMARY and out.conversation.draft == conv.draft


def test_telegram_typed_label_counts_but_command_words_do_not(ctx: FlowContext) -> None:
    assert submitted(step(at_step(Step.SUMMARY, ctx), text("kirim"), ctx))
    # "laporan" is the /laporan command word, but Telegram users type slashes: too short, said so
    # ("batal" is understood everywhere as a cancel word: see test_flow_dead_ends)
    out = step(at_step(Step.DESCRIPTION, ctx), text("laporan"), ctx)
    assert out.conversation.step == Step.DESCRIPTION and not out.effects


# --- the pieces -----------------------------------------------------------------------------------

MENU = (
    (Button("📨 Kirim", "sum:send"),),
    (Button("✏️ Ubah", "sum:edit"), Button("❌ Batal", "sum:cancel")),
)


def test_flatten_numbers_row_by_row() -> None:
    assert [b.payload for b in choices.flatten(MENU)] == ["sum:send", "sum:edit", "sum:cancel"]


def test_remember_keeps_the_last_menu_and_forgets_it_after_a_question() -> None:
    conv = Conversation()
    choices.remember(conv, [OutMessage("a", buttons=MENU), OutMessage("b", buttons=(MENU[1],)), OutMessage("c")])
    assert conv.choices == [("✏️ Ubah", "sum:edit"), ("❌ Batal", "sum:cancel")]
    choices.remember(conv, [])
    assert len(conv.choices) == 2  # nothing said yet: the service will add its messages
    choices.remember(conv, [OutMessage("Describe it")])
    assert conv.choices == []


def test_resolve_changes_only_the_event() -> None:
    conv = Conversation()
    choices.remember(conv, [OutMessage("?", buttons=MENU)])
    incoming = Incoming(Text("3"), display_name="Sari", reply_to_message_id="77", typed_choices=True)
    resolved = choices.resolve(conv, incoming)
    assert resolved.event == ButtonPress("sum:cancel")
    assert (resolved.display_name, resolved.reply_to_message_id, resolved.typed_choices) == ("Sari", "77", True)


def test_resolve_leaves_what_it_cannot_place() -> None:
    conv = Conversation()
    choices.remember(conv, [OutMessage("?", buttons=(*MENU, (Button("Kirim", "other:send"),)))])
    for typed in ("0", "5", "12 3", "kirim", "kirim sekarang", "", "🙂"):  # "kirim": two buttons say it
        assert choices.resolve(conv, wa(typed)) == wa(typed), typed
    photo = Incoming(Photo(media(1)), typed_choices=True)
    assert choices.resolve(conv, photo) is photo
    assert choices.resolve(Conversation(), wa("1")) == wa("1")  # no menu remembered


def test_command_words_only_where_menus_are_typed() -> None:
    commands = flow.GLOBAL_COMMANDS.keys()
    conv = Conversation()
    assert choices.resolve(conv, wa(" Menu! "), commands=commands).event == Command("menu")
    assert choices.resolve(conv, wa("/bantuan"), commands=commands).event == Command("bantuan")
    assert choices.resolve(conv, text("menu"), commands=commands).event == Text("menu")
    assert choices.resolve(conv, wa("menu utama"), commands=commands).event == Text("menu utama")
    assert choices.resolve(conv, wa("menu")).event == Text("menu")  # no command names given


def test_label_key_ignores_emoji_punctuation_case_and_spacing() -> None:
    assert choices.label_key("🌊 Drainase & Banjir") == choices.label_key("drainase   banjir!")
    assert choices.label_key("✅ Kirim") == choices.label_key("📨 kirim") == "kirim"


# --- persistence ----------------------------------------------------------------------------------


def test_choices_survive_a_round_trip(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    restored = Conversation.from_dict(conv.to_dict())
    assert restored.choices == conv.choices and len(restored.choices) == 5
    assert submitted(step(restored, wa("1"), ctx))


def test_older_or_damaged_rows_have_no_choices(ctx: FlowContext) -> None:
    stored = at_step(Step.SUMMARY, ctx).to_dict()
    del stored["choices"]
    assert Conversation.from_dict(stored).choices == []
    for bad in (None, "x", {"a": 1}, [["only one"]], [[1, 2]], [["", "p"]]):
        assert Conversation.from_dict({**stored, "choices": bad}).choices == [], bad
    mixed = {**stored, "choices": [["ok", "sum:send"], "junk", ["x"]]}
    assert Conversation.from_dict(mixed).choices == [("ok", "sum:send")]
    assert Conversation.from_dict(stored).draft.description == DESCRIPTION
    assert step(Conversation.from_dict(stored), cmd("start"), ctx).conversation.choices
