"""Before sending: "is it the same problem as one of these?" when open complaints are close by."""

from __future__ import annotations

from handlers_testkit import all_text, at_step, btn, payloads, send_near, step

from handlers.context import FlowContext
from handlers.effects import FollowComplaint, SubmitDraft
from handlers.state import Step


def test_send_with_nothing_nearby_files_at_once(ctx: FlowContext) -> None:
    sent = step(at_step(Step.SUMMARY, ctx), btn("sum:send"), ctx)
    assert isinstance(sent.effects[0], SubmitDraft)


def test_nearby_complaints_are_offered_with_one_menu(ctx: FlowContext) -> None:
    offered = step(at_step(Step.SUMMARY, ctx), send_near("JMB-2026-000007", "JMB-2026-000009"), ctx)
    assert offered.effects == [] and offered.conversation.step == Step.DUPLICATES
    said = all_text(offered)
    assert "2 laporan serupa" in said and "JMB-2026-000007" in said and "±12 m" in said
    menus = [m for m in offered.messages if m.buttons]
    assert len(menus) == 1, "one menu, so a typed number on WhatsApp means one thing"
    assert payloads(offered) == ["dup:new", "dup:JMB-2026-000007", "dup:JMB-2026-000009", "dup:back", "nav:menu"]


def test_same_problem_follows_instead_of_filing(ctx: FlowContext) -> None:
    conv = step(at_step(Step.SUMMARY, ctx), send_near("JMB-2026-000007"), ctx).conversation
    same = step(conv, btn("dup:JMB-2026-000007"), ctx)
    assert same.conversation.step == Step.IDLE
    effect = same.effects[0]
    assert isinstance(effect, FollowComplaint) and effect.number == "JMB-2026-000007"
    assert effect.draft.category == "sampah"


def test_a_number_not_offered_is_stale(ctx: FlowContext) -> None:
    conv = step(at_step(Step.SUMMARY, ctx), send_near("JMB-2026-000007"), ctx).conversation
    forged = step(conv, btn("dup:JMB-2026-000001"), ctx)
    assert forged.effects == [] and forged.conversation.step == Step.DUPLICATES


def test_different_problem_files_and_back_returns_to_the_summary(ctx: FlowContext) -> None:
    conv = step(at_step(Step.SUMMARY, ctx), send_near(), ctx).conversation
    assert isinstance(step(conv, btn("dup:new"), ctx).effects[0], SubmitDraft)
    back = step(conv, btn("dup:back"), ctx)
    assert back.conversation.step == Step.SUMMARY and "sum:send" in payloads(back)
    again = step(back.conversation, send_near(), ctx)
    assert again.conversation.step == Step.DUPLICATES, "asked again after going back"


def test_typed_number_on_whatsapp_picks_from_the_offer(ctx: FlowContext) -> None:
    from dataclasses import replace

    from handlers_testkit import text

    conv = step(at_step(Step.SUMMARY, ctx), send_near("JMB-2026-000007"), ctx).conversation
    picked = step(conv, replace(text("2"), typed_choices=True), ctx)
    assert isinstance(picked.effects[0], FollowComplaint)
    again = step(conv, replace(text("1"), typed_choices=True), ctx)
    assert isinstance(again.effects[0], SubmitDraft), "a second '1' (send) files the citizen's own complaint"
