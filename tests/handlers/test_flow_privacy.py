"""The summary's "🔒 Privasi" choice (Biasa / Anonim / Rahasia) in the pure core: what the citizen sees,
what is filed, the name toggle under Anonim, old buttons, typed numbers on WhatsApp, and the nearby
offer of a Rahasia complaint (category, distance and status only)."""

from __future__ import annotations

from handlers_testkit import all_text, at_step, btn, payloads, run, step

from handlers import privacy
from handlers.context import FlowContext
from handlers.effects import SubmitDraft
from handlers.events import ButtonPress, Incoming, MediaRef, Nearby, Text
from handlers.flow import handle
from handlers.flow.versions import bare
from handlers.messages import EDIT_CONTENT
from handlers.state import Step


def _stamped(outcome: object, wanted: str) -> str:
    for message in outcome.messages:  # type: ignore[attr-defined]
        for row in message.buttons:
            for button in row:
                if bare(button.payload) == wanted:
                    return button.payload
    raise AssertionError(f"no button {wanted!r}")


def test_the_summary_offers_privacy_and_shows_the_choice(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    summary = step(conv, btn("sum:privacy"), ctx)
    assert summary.conversation.step == Step.SUMMARY
    text = all_text(summary)
    assert "Siapa yang boleh melihat" in text and "Anonim" in text and "Rahasia" in text
    assert payloads(summary) == ["priv:biasa", "priv:anonim", "priv:rahasia", "priv:back"]
    assert summary.messages[0].buttons[0][0].label == "✅ Biasa"  # the current choice is ticked
    chosen = step(summary.conversation, btn("priv:rahasia"), ctx)
    assert chosen.conversation.draft.privacy == "rahasia" and chosen.conversation.step == Step.SUMMARY
    assert "Periksa pengaduan" in all_text(chosen) and "Privasi: <b>🔒 Rahasia</b>" in all_text(chosen)
    assert "sum:name" in payloads(chosen)  # Rahasia says nothing about the name
    sent = step(chosen.conversation, btn("sum:send"), ctx)
    submit = sent.effects[0]
    assert isinstance(submit, SubmitDraft) and submit.draft.privacy == "rahasia"


def test_anonim_hides_the_name_and_its_toggle(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    conv, outs = run(conv, ctx, btn("sum:name"), btn("sum:privacy"), btn("priv:anonim"))
    anon = outs[-1]
    assert conv.draft.privacy == "anonim" and not conv.draft.share_name
    assert "sum:name" not in payloads(anon) and "sum:privacy" in payloads(anon)
    assert "tidak bisa dikaitkan" in all_text(anon) and "🕶️ Anonim" in all_text(anon)
    still = step(conv, btn("sum:name"), ctx)  # a name press that reaches it anyway changes nothing
    assert not still.conversation.draft.share_name
    sent = step(conv, btn("sum:send"), ctx)
    assert isinstance(sent.effects[0], SubmitDraft) and sent.effects[0].draft.privacy == "anonim"
    assert not sent.effects[0].draft.share_name
    # back to Biasa: the name toggle is offered again (off)
    back = run(conv, ctx, btn("sum:privacy"), btn("priv:biasa"))[1][-1]
    assert back.conversation.draft.privacy == "" and "sum:name" in payloads(back)


def test_privacy_back_keeps_the_choice(ctx: FlowContext) -> None:
    conv, _ = run(at_step(Step.SUMMARY, ctx), ctx, btn("sum:privacy"), btn("priv:anonim"), btn("sum:privacy"))
    back = step(conv, btn("priv:back"), ctx)
    assert back.conversation.draft.privacy == "anonim" and "Periksa pengaduan" in all_text(back)
    bogus = step(conv, btn("priv:everyone"), ctx)
    assert bogus.conversation.draft.privacy == "anonim"


def test_telegram_changes_the_summary_in_place(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    summary = handle(conv, Incoming(ButtonPress("sum:name")), ctx)  # a summary with stamps
    opened = handle(summary.conversation, Incoming(ButtonPress(_stamped(summary, "sum:privacy"), message_id="40")), ctx)
    menu = opened.messages[0]
    assert menu.edit is not None and menu.edit.message_id == "40" and menu.edit.mode == EDIT_CONTENT
    chosen = handle(opened.conversation, Incoming(ButtonPress(_stamped(opened, "priv:rahasia"), message_id="40")), ctx)
    assert chosen.messages[0].edit is not None and chosen.conversation.draft.privacy == "rahasia"
    # the summary's buttons from before the choice are old now: pressing its "🔒 Privasi" again changes nothing
    old = handle(chosen.conversation, Incoming(ButtonPress(_stamped(opened, "priv:anonim"), message_id="40")), ctx)
    assert old.conversation.draft.privacy == "rahasia"


def test_whatsapp_numbers_pick_the_choice(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    opened = handle(conv, Incoming(ButtonPress("sum:privacy")), ctx)
    from handlers.flow.versions import present

    present(opened.conversation, opened.messages)  # what the service does: the last menu is remembered
    typed = handle(opened.conversation, Incoming(Text("2"), typed_choices=True), ctx)
    assert typed.conversation.draft.privacy == "anonim"


def test_a_rahasia_nearby_complaint_shows_no_words_and_no_photo(ctx: FlowContext) -> None:
    conv = at_step(Step.SUMMARY, ctx)
    found = (
        Nearby("JMB-2026-000007", "Sampah menumpuk di depan rumah Pak Budi", "diterima", 12.0,
               photo=MediaRef(sha256=f"{7:064x}"), public=False),
        Nearby("JMB-2026-000008", "Sampah di pinggir jalan besar", "baru", 30.0, photo=MediaRef(sha256=f"{8:064x}")),
    )
    out = step(conv, Incoming(ButtonPress("sum:send"), nearby=found), ctx)
    secret = next(m for m in out.messages if "JMB-2026-000007" in m.text)
    assert "Pak Budi" not in secret.text and not secret.photos
    assert "Sampah" in secret.text and "±12 m" in secret.text and "Diterima" in secret.text
    assert "rahasia" in secret.text
    public = next(m for m in out.messages if "JMB-2026-000008" in m.text)
    assert "pinggir jalan" in public.text and public.photos


def test_the_rule_for_exports() -> None:
    assert privacy.is_public("") and privacy.is_public("anonim") and not privacy.is_public("rahasia")
    assert privacy.is_anonymous("anonim") and not privacy.is_anonymous("rahasia")
    assert privacy.normalise("ANONIM") == "anonim" and privacy.normalise("everyone") == ""
    one, two = privacy.new_anonymous_alias(), privacy.new_anonymous_alias()
    assert one.startswith("Anonim #") and one != two


# --- what staff and the citizen read: the card, the moved card, /status, the history -------------


def test_cards_show_the_mark_and_never_an_anonymous_name(ctx: FlowContext) -> None:
    from handlers_testkit import make_view

    from handlers.cards import render_card

    anon = make_view(privacy="anonim", reporter_alias="Anonim #K7QF2M", reporter_name="Siti Rahayu")
    text = render_card(anon, ctx).text
    assert "Anonim #K7QF2M" in text and "🕶️ Anonim" in text and "Siti" not in text
    secret = render_card(make_view(privacy="rahasia"), ctx)
    assert "🔒 Rahasia" in secret.text and "Lubang besar" in secret.text and secret.photos
    plain = render_card(make_view(), ctx).text
    assert "Anonim" not in plain and "Rahasia" not in plain


def test_a_moved_rahasia_card_drops_words_history_and_photo(ctx: FlowContext) -> None:
    from handlers_testkit import make_view

    from handlers.cards import render_card

    moved = render_card(make_view(privacy="rahasia"), ctx, active=False, moved_to_agency="dishub")
    assert "Lubang besar" not in moved.text and "rahasia" in moved.text.lower()
    assert not moved.photos and not moved.buttons and moved.neutral_photo
    assert "Dishub" in moved.text or "Perhubungan" in moved.text
    ordinary = render_card(make_view(), ctx, active=False, moved_to_agency="dishub")
    assert "Lubang besar" in ordinary.text and not ordinary.neutral_photo
    text_only = render_card(make_view(privacy="rahasia", photos=()), ctx, active=False, moved_to_agency="dishub")
    assert "Lubang besar" not in text_only.text and not text_only.neutral_photo


def test_status_and_history_name_the_choice(ctx: FlowContext) -> None:
    from datetime import UTC, datetime

    from handlers_testkit import make_view

    from handlers.views import HistoryEntry, render_status

    created = datetime(2026, 11, 28, 8, 4, tzinfo=UTC)
    view = make_view(privacy="rahasia", history=(HistoryEntry(created, "submit", None, None, "baru", None, "pupr",
                                                               "rahasia"),))
    text = render_status("id", view, ctx).text
    assert "Privasi: 🔒 Rahasia" in text and "Pengaduan dibuat · 🔒 Rahasia" in text
    assert "Privasi" not in render_status("id", make_view(), ctx).text


def test_the_escalation_card_shows_the_mark(ctx: FlowContext) -> None:
    from datetime import UTC, datetime

    from handlers_testkit import make_view

    from handlers.escalation import EscalationInfo, render_escalation

    info = EscalationInfo(level=0, levels=2, now=datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    card = render_escalation(make_view(privacy="anonim", reporter_name="Siti Rahayu"), info, ctx)
    assert "🕶️ Anonim" in card.text and "Siti" not in card.text
