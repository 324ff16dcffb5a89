"""The whole filing conversation, start to SubmitDraft, plus the out-of-order shortcuts."""

from __future__ import annotations

from handlers_testkit import DESCRIPTION, all_text, at_step, btn, cmd, payloads, photo, pin, run, step, text

from handlers.context import FlowContext
from handlers.effects import SubmitDraft
from handlers.messages import KeyboardButton
from handlers.state import Conversation, Draft, Step


def test_happy_path_files_one_complaint(ctx: FlowContext) -> None:
    conv, outs = run(
        Conversation(),
        ctx,
        cmd("start"),
        btn("menu:new"),
        btn("cat:sampah"),
        text(DESCRIPTION),
        photo(1),
        photo(2),
        btn("photo:done"),
        pin(),
    )
    start, new, cat, desc, p1, p2, done, located = outs
    assert "SiKesal" in all_text(start)
    assert "Kategori: 🗑️ Sampah ✅" in all_text(cat)
    assert {"lang:id", "lang:en", "menu:new", "menu:status", "menu:mine", "menu:help"} <= set(payloads(start))
    assert {f"cat:{c.key}" for c in ctx.categories} == set(payloads(new))
    assert all(len(row) <= 2 for row in new.messages[0].buttons)
    assert desc.conversation.step == Step.PHOTOS
    assert "photo:skip" in payloads(desc)  # sampah: photo optional, skip shown from the start
    assert "Foto 1 dari 3" in all_text(p1) and payloads(p1) == ["photo:done"]
    assert "Foto 2 dari 3" in all_text(p2)
    assert done.conversation.step == Step.LOCATION
    keyboard = done.messages[-1].keyboard
    assert keyboard == ((KeyboardButton("📍 Kirim Lokasi", request_location=True),),)
    # "📍 Lokasi diterima." and the summary are one message, which also takes the keyboard away
    assert len(located.messages) == 1 and located.messages[0].remove_keyboard
    assert all_text(located).startswith("📍 Lokasi diterima.")
    assert conv.step == Step.SUMMARY
    summary = all_text(located)
    assert "🗑️ Sampah" in summary and "Foto: 2" in summary and "-1.61010, 103.61310" in summary
    assert set(payloads(located)) == {"sum:send", "sum:edit", "sum:cancel", "sum:name", "sum:privacy"}

    sent = step(conv, btn("sum:send"), ctx)
    assert sent.conversation.step == Step.IDLE and sent.conversation.draft == Draft()
    assert len(sent.effects) == 1 and isinstance(sent.effects[0], SubmitDraft)
    draft = sent.effects[0].draft
    assert draft.category == "sampah" and draft.description == DESCRIPTION
    assert [p.sha256 for p in draft.photos] == [f"{1:064x}", f"{2:064x}"]
    assert (draft.latitude, draft.longitude) == (-1.6101, 103.6131) and draft.editing is None


def test_double_send_yields_exactly_one_submit(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    conv, outs = run(conv, ctx, btn("sum:send"), btn("sum:send"))
    submits = [e for o in outs for e in o.effects if isinstance(e, SubmitDraft)]
    assert len(submits) == 1
    assert outs[1].alert is not None and outs[1].alert.text
    assert conv.step == Step.IDLE


def test_typed_address_instead_of_pin(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    out = step(conv, text("Jl. Kapten Pattimura, depan RS"), ctx)
    assert out.conversation.step == Step.SUMMARY
    assert out.conversation.draft.address == "Jl. Kapten Pattimura, depan RS"
    assert out.conversation.draft.latitude is None
    assert out.messages[0].remove_keyboard
    assert "Jl. Kapten Pattimura" in all_text(out)


def test_address_bounds(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    for typed in ("Jl.", "x" * 301):
        out = step(conv, text(typed), ctx)
        assert out.conversation.step == Step.LOCATION
        assert out.conversation.draft == conv.draft
        assert "5–300" in all_text(out) and str(len(typed)) in all_text(out)


def test_pin_with_place_name_keeps_the_address(ctx: FlowContext) -> None:
    conv = at_step(Step.LOCATION, ctx)
    out = step(conv, pin(address="Pasar Angso Duo"), ctx)
    assert out.conversation.draft.address == "Pasar Angso Duo"
    assert out.conversation.draft.latitude == -1.6101


def test_photo_before_asked_is_kept_and_photo_step_skipped(ctx: FlowContext) -> None:
    conv = at_step(Step.CATEGORY, ctx)
    conv, outs = run(conv, ctx, photo(7), btn("cat:sampah"), text(DESCRIPTION))
    assert "Foto disimpan" in all_text(outs[0])
    assert outs[0].conversation.step == Step.CATEGORY
    assert conv.step == Step.LOCATION  # PHOTOS skipped: there is a photo already
    assert [p.sha256 for p in conv.draft.photos] == [f"{7:064x}"]


def test_photo_in_description_step_is_kept(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    out = step(conv, photo(3), ctx)
    assert out.conversation.step == Step.DESCRIPTION
    assert len(out.conversation.draft.photos) == 1


def test_caption_is_offered_as_description_when_missing(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    out = step(conv, photo(3, caption=DESCRIPTION), ctx)
    assert out.conversation.draft.description is None and out.conversation.step == Step.DESCRIPTION
    assert DESCRIPTION in all_text(out) and payloads(out) == ["desc:caption"]
    used = step(out.conversation, btn("desc:caption"), ctx)
    assert used.conversation.draft.description == DESCRIPTION
    assert used.conversation.step == Step.LOCATION


def test_short_caption_is_not_used(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    out = step(conv, photo(3, caption="lihat"), ctx)
    assert out.conversation.draft.description is None
    assert out.conversation.step == Step.DESCRIPTION


def test_pin_before_location_step_skips_it(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    conv, outs = run(conv, ctx, pin(), text(DESCRIPTION), photo(1), btn("photo:done"))
    assert "Lokasi disimpan" in all_text(outs[0])
    assert conv.step == Step.SUMMARY
    assert conv.draft.latitude == -1.6101


def test_photo_in_idle_starts_a_draft(ctx: FlowContext) -> None:
    out = step(Conversation(), photo(5), ctx)
    assert out.conversation.step == Step.CATEGORY
    assert len(out.conversation.draft.photos) == 1
    assert {f"cat:{c.key}" for c in ctx.categories} <= set(payloads(out))


def test_pin_in_idle_starts_a_draft(ctx: FlowContext) -> None:
    out = step(Conversation(), pin(), ctx)
    assert out.conversation.step == Step.CATEGORY
    assert out.conversation.draft.has_location


def test_category_typed_as_text(ctx: FlowContext) -> None:
    conv = at_step(Step.CATEGORY, ctx)
    for typed in ("lampu jalan", "LAMPU", "💡 Lampu Jalan", "Street Lights", "4"):
        out = step(conv, text(typed), ctx)
        assert out.conversation.draft.category == "lampu", typed
        assert out.conversation.step == Step.DESCRIPTION


def test_description_bounds(ctx: FlowContext) -> None:
    conv = at_step(Step.DESCRIPTION, ctx)
    short = step(conv, text("rusak"), ctx)
    assert short.conversation.step == Step.DESCRIPTION and short.conversation.draft.description is None
    assert "5 karakter" in all_text(short) and "10" in all_text(short)
    long = step(conv, text("a" * 1001), ctx)
    assert long.conversation.step == Step.DESCRIPTION
    assert "1000" in all_text(long) and {"desc:cut", "desc:short"} <= set(payloads(long))  # keep the start, or shorter
    exact = step(conv, text("a" * 1000), ctx)
    assert exact.conversation.step == Step.PHOTOS


def test_photo_max_moves_on_automatically(ctx: FlowContext) -> None:
    conv = at_step(Step.PHOTOS, ctx)
    conv, outs = run(conv, ctx, photo(1), photo(2), photo(3))
    assert "Foto 3 dari 3" in all_text(outs[-1])
    assert conv.step == Step.LOCATION and len(conv.draft.photos) == 3
    extra = step(conv, photo(4), ctx)  # a fourth one, in the location step: not kept
    assert len(extra.conversation.draft.photos) == 3
    assert extra.conversation.step == Step.LOCATION


def test_skip_photos_for_optional_category(ctx: FlowContext) -> None:
    conv = at_step(Step.PHOTOS, ctx)
    out = step(conv, btn("photo:skip"), ctx)
    assert out.conversation.step == Step.LOCATION
    assert out.conversation.draft.photos_skipped


def test_typed_keywords_in_photo_step(ctx: FlowContext) -> None:
    conv = at_step(Step.PHOTOS, ctx)
    assert step(conv, text("Lewati"), ctx).conversation.step == Step.LOCATION
    assert step(conv, text("skip"), ctx).conversation.step == Step.LOCATION
    with_photo = step(conv, photo(1), ctx).conversation
    assert step(with_photo, text("selesai"), ctx).conversation.step == Step.LOCATION
    assert step(with_photo, text("done"), ctx).conversation.step == Step.LOCATION


def test_required_photo_cannot_be_skipped(ctx: FlowContext) -> None:
    conv, _ = run(Conversation(), ctx, btn("menu:new"), btn("cat:jalan"), text(DESCRIPTION))
    assert conv.step == Step.PHOTOS
    out = step(conv, btn("photo:done"), ctx)  # no skip button is shown, "done" with no photo
    assert out.conversation.step == Step.PHOTOS
    assert "photo:skip" not in payloads(step(conv, cmd("help"), ctx))
    typed = step(conv, text("lewati"), ctx)
    assert typed.conversation.step == Step.PHOTOS and "minimal satu foto" in all_text(typed)
    stale_skip = step(conv, btn("photo:skip"), ctx)
    assert stale_skip.conversation.step == Step.PHOTOS


def test_name_is_hidden_from_staff_unless_the_citizen_agrees(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    assert not conv.draft.share_name
    shown = step(conv, btn("sum:name"), ctx)
    assert shown.conversation.step == Step.SUMMARY and shown.conversation.draft.share_name
    assert "ditampilkan" in all_text(shown) and "sum:name" in payloads(shown)
    hidden = step(shown.conversation, btn("sum:name"), ctx)
    assert not hidden.conversation.draft.share_name
    agreed = step(shown.conversation, btn("sum:send"), ctx)
    submit = agreed.effects[0]
    assert isinstance(submit, SubmitDraft) and submit.draft.share_name
