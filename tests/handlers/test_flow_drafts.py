"""Citizens never lose work without saying so: the pure core's side.

* a draft with progress is discarded only after "Mulai baru" (menu, /baru, an old category list ask);
* early input (a photo before the filing started) is carried into the new complaint, and said so;
* a photo caption is offered as the description, never used silently;
* every button carries the menu version; a press from an older menu never destroys work;
* used buttons are taken off (an edit of the pressed message), "show my name" edits the summary in place;
* "📍 Lokasi diterima." and the summary are one message.
"""

from __future__ import annotations

from handlers_testkit import (
    DESCRIPTION,
    all_text,
    at_step,
    btn,
    cmd,
    payloads,
    photo,
    pin,
    run,
    step,
    text,
)

from handlers.context import FlowContext
from handlers.effects import SubmitDraft
from handlers.events import ButtonPress, Incoming, Text
from handlers.flow import handle
from handlers.flow.versions import bare, split
from handlers.messages import EDIT_BUTTONS, EDIT_CONTENT, MAX_PAYLOAD_BYTES, OutMessage
from handlers.state import Conversation, Draft, Step

CAPTION = "Sampah menumpuk di depan pasar sejak kemarin sore"


def new_citizen() -> Conversation:
    """Someone the bot has greeted already (a first message of any kind gets the welcome)."""
    return Conversation.from_dict({"step": "idle", "greeted": True})


def press(conv: Conversation, payload: str, ctx: FlowContext, message_id: str = "77") -> object:
    """A Telegram press: the payload as the button carried it, under message ``message_id``."""
    return handle(conv, Incoming(ButtonPress(payload, message_id=message_id)), ctx)


def stamped(outcome: object, wanted: str) -> str:
    """The payload (with its version) of the button ``wanted`` names in a raw outcome."""
    for message in [*outcome.messages, *outcome.followup]:  # type: ignore[attr-defined]
        for row in message.buttons:
            for button in row:
                if bare(button.payload) == wanted:
                    return button.payload
    raise AssertionError(f"no button {wanted!r}")


def shown(outcome: object) -> list[OutMessage]:
    """What the citizen reads (edits that only take buttons off left out)."""
    return [m for m in outcome.messages if not m.takes_buttons_off]  # type: ignore[attr-defined]


# --- 1. a draft goes only after "Mulai baru" -------------------------------------------------------


def test_new_complaint_over_a_draft_with_progress_asks_first(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    for asking in (btn("menu:new"), cmd("baru"), cmd("new")):
        asked = step(conv, asking, ctx)
        assert asked.conversation.draft == conv.draft and asked.conversation.step == Step.LOCATION
        assert "belum terkirim" in all_text(asked) and "🗑️ Sampah" in all_text(asked)
        assert set(payloads(asked)) == {"draft:continue", "new:"}
    kept = step(asked.conversation, btn("draft:continue"), ctx)
    assert kept.conversation.draft == conv.draft and kept.conversation.step == Step.LOCATION
    fresh = step(asked.conversation, btn("new:"), ctx)
    assert fresh.conversation.draft == Draft() and fresh.conversation.step == Step.CATEGORY
    assert "dihapus" in all_text(fresh)


def test_any_other_answer_to_the_question_goes_on_with_the_draft(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    asked = step(conv, btn("menu:new"), ctx)
    out = step(asked.conversation, text(DESCRIPTION), ctx)
    assert out.conversation.draft.description == DESCRIPTION and out.conversation.draft.category == "sampah"


def test_a_draft_with_three_photos_survives_an_old_welcome_menu(ctx: FlowContext) -> None:
    start = handle(new_citizen(), cmd("start"), ctx)
    old_new = stamped(start, "menu:new")
    conv = start.conversation
    conv, _ = run(conv, ctx, btn("menu:new"), btn("cat:jalan"), text(DESCRIPTION), photo(1), photo(2), photo(3))
    assert conv.step == Step.LOCATION and len(conv.draft.photos) == 3
    asked = press(conv, old_new, ctx)
    assert asked.conversation.draft == conv.draft  # type: ignore[attr-defined]
    assert {bare(p) for p in payloads(asked)} == {"draft:continue", "new:"}  # type: ignore[arg-type]
    assert "3 foto" in all_text(asked)  # type: ignore[arg-type]


# --- 2. what was sent early is kept ----------------------------------------------------------------


def test_a_photo_sent_while_idle_is_still_there_after_buat_pengaduan(ctx: FlowContext) -> None:
    conv = new_citizen()
    start = handle(conv, cmd("start"), ctx)
    menu_new = stamped(start, "menu:new")
    early = step(start.conversation, photo(5), ctx)
    assert "Foto disimpan" in all_text(early) and early.conversation.step == Step.CATEGORY
    # the welcome menu is older now; pressing it neither asks nor loses the photo
    out = press(early.conversation, menu_new, ctx)
    assert out.conversation.step == Step.CATEGORY  # type: ignore[attr-defined]
    assert [p.sha256 for p in out.conversation.draft.photos] == [f"{5:064x}"]  # type: ignore[attr-defined]
    assert "tetap tersimpan" in all_text(out) and "1 foto" in all_text(out)  # type: ignore[arg-type]
    assert "belum terkirim" not in all_text(out)  # type: ignore[arg-type]
    # and a current "Buat Pengaduan" (e.g. /baru) does the same
    again = step(early.conversation, cmd("baru"), ctx)
    assert len(again.conversation.draft.photos) == 1 and "tetap tersimpan" in all_text(again)


def test_an_early_pin_is_kept_too(ctx: FlowContext) -> None:
    conv, _ = run(new_citizen(), ctx, pin())
    out = step(conv, btn("menu:new"), ctx)
    assert out.conversation.draft.has_location and "lokasi" in all_text(out)


def test_a_caption_is_offered_not_used(ctx: FlowContext) -> None:
    conv, outs = run(new_citizen(), ctx, photo(1, caption=CAPTION), btn("cat:sampah"))
    assert "Keterangan fotonya juga disimpan" in all_text(outs[0])
    assert conv.step == Step.DESCRIPTION and conv.draft.description is None
    assert CAPTION in all_text(outs[1]) and payloads(outs[1]) == ["desc:caption"]
    used = step(conv, btn("desc:caption"), ctx)
    assert used.conversation.draft.description == CAPTION and used.conversation.draft.caption is None
    typed = step(conv, text(DESCRIPTION), ctx)
    assert typed.conversation.draft.description == DESCRIPTION and typed.conversation.draft.caption is None


def test_a_caption_at_the_description_step_is_offered_there(ctx: FlowContext) -> None:
    out = step(at_step(Step.DESCRIPTION, ctx), photo(2, caption=CAPTION), ctx)
    assert out.conversation.step == Step.DESCRIPTION and out.conversation.draft.description is None
    assert "Foto disimpan" in all_text(out) and CAPTION in all_text(out)
    assert payloads(out) == ["desc:caption"]


def test_a_caption_too_short_for_a_description_is_not_offered(ctx: FlowContext) -> None:
    out = step(at_step(Step.DESCRIPTION, ctx), photo(2, caption="pasar"), ctx)
    assert out.conversation.draft.caption is None and payloads(out) == []


def test_use_caption_without_one_is_a_stale_button(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    out = step(conv, btn("desc:caption"), ctx)
    assert out.conversation.draft == conv.draft and out.alert is not None


# --- 3. versions and old presses ---------------------------------------------------------------------


def test_every_button_carries_the_menu_version_within_64_bytes(ctx: FlowContext) -> None:
    conv = new_citizen()
    for incoming in (cmd("start"), btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION), photo(1)):
        out = handle(conv, incoming, ctx)
        conv = out.conversation
        for message in out.messages:
            for row in message.buttons:
                for button in row:
                    base, version = split(button.payload)
                    assert version == conv.menu_version and base == bare(button.payload)
                    assert len(button.payload.encode()) <= MAX_PAYLOAD_BYTES
    assert all("~" not in payload for _label, payload in conv.choices)  # typed answers: bare payloads


def test_the_same_menu_shown_again_keeps_its_version(ctx: FlowContext) -> None:
    conv = at_step(Step.PHOTOS, ctx)
    first = handle(conv, photo(1), ctx)
    second = handle(first.conversation, photo(2), ctx)
    assert stamped(first, "photo:done") == stamped(second, "photo:done")
    done = press(second.conversation, stamped(first, "photo:done"), ctx)  # "Done" under the first photo
    assert done.conversation.step == Step.LOCATION  # type: ignore[attr-defined]


def test_an_old_summary_cannot_send(ctx: FlowContext) -> None:
    conv = at_step(Step.EDIT_MENU, ctx)
    summary = handle(at_step(Step.LOCATION, ctx), pin(), ctx)
    old_send = stamped(summary, "sum:send")
    back = handle(conv, btn("edit:back"), ctx)
    old = press(back.conversation, old_send, ctx)
    assert old.effects == [] and old.conversation.draft == back.conversation.draft  # type: ignore[attr-defined]
    assert "dari pesan lama" in all_text(old) and old.alert is not None  # type: ignore[attr-defined,arg-type]
    assert "Periksa pengaduan" in all_text(old)  # type: ignore[arg-type]  # the current step again
    fresh = press(back.conversation, stamped(back, "sum:send"), ctx)
    assert isinstance(fresh.effects[0], SubmitDraft)  # type: ignore[attr-defined]


def test_old_cancel_buttons_never_discard(ctx: FlowContext) -> None:
    reminded = handle(at_step(Step.PHOTOS, ctx), btn("draft:continue"), ctx)
    conv = handle(reminded.conversation, photo(1), ctx).conversation
    for old in ("draft:cancel~0", "sum:cancel~0", "new:~0"):
        out = press(conv, old, ctx)
        assert out.conversation.draft == conv.draft, old  # type: ignore[attr-defined]


def test_a_press_from_before_versions_is_old_but_a_typed_one_is_not(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    legacy = press(conv, "sum:send", ctx)  # a Telegram message sent before payloads were stamped
    assert legacy.effects == [] and "dari pesan lama" in all_text(legacy)  # type: ignore[attr-defined,arg-type]
    quick_reply = handle(conv, Incoming(ButtonPress("sum:send")), ctx)  # WhatsApp template: no message id
    assert isinstance(quick_reply.effects[0], SubmitDraft)
    typed = handle(conv, Incoming(Text("1"), typed_choices=True), ctx)  # WhatsApp: the last menu
    assert isinstance(typed.effects[0], SubmitDraft)


def test_an_old_category_list_asks_and_starts_with_that_category(ctx: FlowContext) -> None:
    listed = handle(at_step(Step.CATEGORY, ctx), cmd("baru"), ctx)
    old_jalan = stamped(listed, "cat:jalan")
    conv = at_step(Step.PHOTOS, ctx)
    asked = press(conv, old_jalan, ctx)
    assert asked.conversation.draft == conv.draft  # type: ignore[attr-defined]
    start_new = stamped(asked, "new:jalan")
    out = press(asked.conversation, start_new, ctx)  # type: ignore[attr-defined]
    assert out.conversation.draft.category == "jalan" and out.conversation.step == Step.DESCRIPTION  # type: ignore[attr-defined]
    assert out.conversation.draft.photos == []  # type: ignore[attr-defined]


def test_an_old_category_list_without_progress_just_starts(ctx: FlowContext) -> None:
    listed = handle(new_citizen(), btn("menu:new"), ctx)
    old_air = stamped(listed, "cat:air")
    conv, _ = run(handle(listed.conversation, cmd("start"), ctx).conversation, ctx, photo(4))
    out = press(conv, old_air, ctx)
    assert out.conversation.draft.category == "air" and len(out.conversation.draft.photos) == 1  # type: ignore[attr-defined]


def test_harmless_old_buttons_still_work(ctx: FlowContext) -> None:
    start = handle(new_citizen(), cmd("start"), ctx)
    conv = at_step(Step.DESCRIPTION, ctx)
    helped = press(conv, stamped(start, "menu:help"), ctx)
    assert "dari pesan lama" not in all_text(helped) and helped.conversation.draft == conv.draft  # type: ignore[attr-defined,arg-type]
    english = press(conv, stamped(start, "lang:en"), ctx)
    assert english.conversation.language == "en"  # type: ignore[attr-defined]


# --- 3. used buttons are taken off; 4. the name toggle edits in place -------------------------------


def test_a_used_menu_loses_its_buttons(ctx: FlowContext) -> None:
    start = handle(new_citizen(), cmd("start"), ctx)
    out = press(start.conversation, stamped(start, "menu:new"), ctx, message_id="12")
    off = out.messages[0]  # type: ignore[attr-defined]
    assert off.edit is not None and off.edit.message_id == "12" and off.edit.mode == EDIT_BUTTONS
    assert not off.buttons and shown(out)[0].buttons  # then the category list


def test_a_list_to_pick_from_keeps_its_buttons(ctx: FlowContext) -> None:
    out = press(new_citizen(), "show:JMB-2026-000042~0", ctx)
    assert not any(m.edit for m in out.messages)  # type: ignore[attr-defined]


def test_show_my_name_edits_the_summary_in_place(ctx: FlowContext) -> None:
    summary = handle(at_step(Step.LOCATION, ctx), pin(), ctx)
    out = press(summary.conversation, stamped(summary, "sum:name"), ctx, message_id="40")
    assert len(out.messages) == 1  # type: ignore[attr-defined]
    edited = out.messages[0]  # type: ignore[attr-defined]
    assert edited.edit is not None and edited.edit.message_id == "40" and edited.edit.mode == EDIT_CONTENT
    assert "Periksa pengaduan" in edited.text and out.conversation.draft.share_name  # type: ignore[attr-defined]
    # WhatsApp (no message id): a new summary
    typed = step(summary.conversation, btn("sum:name"), ctx)
    assert typed.messages[0].edit is None and "Periksa pengaduan" in all_text(typed)


# --- 5. the location notice and the summary are one message ----------------------------------------


def test_location_received_and_the_summary_are_one_message(ctx: FlowContext) -> None:
    out = step(at_step(Step.LOCATION, ctx), pin(), ctx)
    assert len(out.messages) == 1
    only = out.messages[0]
    assert only.text.startswith("📍 Lokasi diterima.") and "Periksa pengaduan" in only.text
    assert only.remove_keyboard and only.buttons
