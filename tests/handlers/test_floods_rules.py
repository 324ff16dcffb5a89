"""Floods and abuse in the pure core: the message rate (an album and a split paste count as one), the
daily complaint cap at the start of a filing, the same text filed again offered before sending."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from handlers_testkit import all_text, at_step, btn, cmd, payloads, photo, pin, send_near, step, text

from handlers.context import FlowContext
from handlers.effects import SubmitDraft
from handlers.floods import Rate, Verdict, admit, after_filing, filed_today, normalise, same_text
from handlers.state import Conversation, Step

T0 = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def _run(units: list[tuple[float, str | None, bool]], per_minute: int = 20) -> list[Verdict]:
    """(seconds after T0, group, continues) per message -> the verdicts."""
    rate, verdicts = Rate(), []
    for seconds, group, continues in units:
        rate, verdict = admit(rate, now=T0 + timedelta(seconds=seconds), per_minute=per_minute, group=group,
                              continues=continues)
        verdicts.append(verdict)
    return verdicts


def test_twenty_five_messages_in_a_minute_get_one_warning_and_the_rest_are_held() -> None:
    verdicts = _run([(i, None, False) for i in range(25)])
    assert verdicts[:20] == [Verdict.PASS] * 20
    assert verdicts[20] == Verdict.WARN
    assert verdicts[21:] == [Verdict.HOLD] * 4


def test_after_a_quiet_minute_the_citizen_is_answered_again() -> None:
    rate = Rate()
    for i in range(25):
        rate, _ = admit(rate, now=T0 + timedelta(seconds=i), per_minute=20)
    rate, later = admit(rate, now=T0 + timedelta(seconds=24 + 61), per_minute=20)
    assert later == Verdict.PASS and not rate.warned
    # a new flood later gets its own one warning
    verdicts = []
    for _ in range(30):
        rate, verdict = admit(rate, now=T0 + timedelta(seconds=200), per_minute=20)
        verdicts.append(verdict)
    assert verdicts.count(Verdict.WARN) == 1


def test_a_steady_flood_stays_held() -> None:
    verdicts = _run([(i * 2.0, None, False) for i in range(120)])  # 30 a minute for four minutes
    assert verdicts.count(Verdict.WARN) == 1 and verdicts[-20:] == [Verdict.HOLD] * 20


def test_an_album_counts_as_one_message() -> None:
    units = [(0.0, None, False)] * 18 + [(1.0, "tg:album", False)] * 5 + [(1.5, None, False)] * 2
    verdicts = _run(units)
    assert verdicts[:24] == [Verdict.PASS] * 24, "18 messages, one album of 5 photos and one more: 20"
    assert verdicts[24] == Verdict.WARN


def test_an_album_beyond_the_limit_is_held_whole() -> None:
    units = [(0.0, None, False)] * 20 + [(1.0, "tg:album", False)] * 5
    verdicts = _run(units)
    assert verdicts[20:] == [Verdict.WARN, Verdict.HOLD, Verdict.HOLD, Verdict.HOLD, Verdict.HOLD]


def test_the_parts_of_a_split_paste_count_as_one() -> None:
    units = [(0.0, None, False)] * 19 + [(1.0, None, False), (2.0, None, True), (3.0, None, True)] + [(4.0, None, False)]
    verdicts = _run(units)
    assert verdicts[:22] == [Verdict.PASS] * 22 and verdicts[22] == Verdict.WARN


def test_photos_of_the_same_group_far_apart_are_separate_messages() -> None:
    rate = Rate()
    rate, _ = admit(rate, now=T0, per_minute=1, group="wa:photos")
    rate, verdict = admit(rate, now=T0 + timedelta(seconds=5), per_minute=1, group="wa:photos")
    assert verdict == Verdict.PASS  # within the group window: the same selection
    rate, verdict = admit(rate, now=T0 + timedelta(seconds=30), per_minute=1, group="wa:photos")
    assert verdict == Verdict.WARN


def test_zero_switches_the_limit_off() -> None:
    assert set(_run([(0.0, None, False)] * 100, per_minute=0)) == {Verdict.PASS}


def test_the_daily_count_resets_at_local_midnight() -> None:
    # 23:30 WIB on the 29th is 16:30 UTC; 00:10 WIB on the 30th is 17:10 UTC
    late = datetime(2026, 11, 29, 16, 30, tzinfo=UTC)
    day, count = after_filing(None, 0, late, "Asia/Jakarta")
    day, count = after_filing(day, count, late, "Asia/Jakarta")
    assert (day, count) == ("2026-11-29", 2)
    assert filed_today(day, count, late + timedelta(minutes=20), "Asia/Jakarta") == 2
    assert filed_today(day, count, late + timedelta(minutes=40), "Asia/Jakarta") == 0


def test_same_text_ignores_case_spacing_and_punctuation() -> None:
    assert same_text("Jalan rusak di depan pasar!!", "  jalan RUSAK, di depan   pasar ")
    assert not same_text("Jalan rusak di depan pasar", "Jalan rusak di belakang pasar")
    assert not same_text("!!!", "...")  # nothing left to compare
    assert normalise("Ｊａｌａｎ  rusak") == "jalan rusak"


# --- the core ---------------------------------------------------------------------------------------


def _paused(incoming, cap: int = 5):  # type: ignore[no-untyped-def]
    return replace(incoming, filing_paused=cap)


def test_the_daily_cap_explains_instead_of_starting(ctx: FlowContext) -> None:
    idle = Conversation()
    for attempt in (btn("menu:new"), cmd("baru"), photo(), pin()):
        outcome = step(idle, _paused(attempt), ctx)
        said = all_text(outcome)
        assert outcome.conversation.step == Step.IDLE, attempt
        assert "5 pengaduan" in said and "besok" in said, said
        assert outcome.effects == []


def test_the_daily_cap_lets_status_and_the_menu_through(ctx: FlowContext) -> None:
    shown = step(Conversation(), _paused(cmd("status", "JMB-2026-000001")), ctx)
    assert "besok" not in all_text(shown)


def test_the_daily_cap_does_not_stop_a_draft_in_progress(ctx: FlowContext) -> None:
    sent = step(at_step(Step.SUMMARY, ctx), _paused(btn("sum:send")), ctx)
    assert isinstance(sent.effects[0], SubmitDraft)


def test_the_same_text_again_is_offered_as_already_filed(ctx: FlowContext) -> None:
    summary = at_step(Step.SUMMARY, ctx)
    offered = step(summary, replace(btn("sum:send"), refiled="JMB-2026-000004"), ctx)
    assert offered.effects == [] and offered.conversation.step == Step.SUMMARY
    said = all_text(offered)
    assert "sudah dilaporkan" in said and "JMB-2026-000004" in said
    assert payloads(offered)[:2] == ["show:JMB-2026-000004", "refile:send"]
    assert offered.conversation.draft.refiled_offered == "JMB-2026-000004"
    anyway = step(offered.conversation, replace(btn("refile:send"), refiled="JMB-2026-000004"), ctx)
    assert isinstance(anyway.effects[0], SubmitDraft)


def test_send_anyway_still_offers_the_nearby_complaints(ctx: FlowContext) -> None:
    summary = at_step(Step.SUMMARY, ctx)
    anyway = step(summary, replace(send_near("JMB-2026-000007"), event=btn("refile:send").event), ctx)
    assert anyway.conversation.step == Step.DUPLICATES


def test_a_blocked_citizen_may_still_ask_for_their_data_or_its_erasure(ctx: FlowContext) -> None:
    from handlers.floods import rights_request

    idle = Conversation()
    for asked in (cmd("dataku"), cmd("hapusdata"), cmd("privasi"), text("data saya"), text("Hapus data saya!"),
                  btn("erase:yes")):
        assert rights_request(idle, asked.event, ctx), asked
    for other in (cmd("start"), cmd("baru"), text("halo"), text("data saya salah semua di laporan"), btn("menu:new"),
                  photo()):
        assert not rights_request(idle, other.event, ctx), other
    # a typed "1" answers the erasure's question where menus are numbered lists
    asking = replace(idle, choices=[("Ya, hapus", "erase:yes"), ("Tidak", "erase:no")])
    assert rights_request(asking, text("1").event, ctx)
