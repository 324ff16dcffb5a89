"""The pure rules for floods in an agency group (handlers.group_flood): when a group gets digests, what they
list, how they are kept within the group's budget, and how one reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from handlers_testkit import check_message, make_ctx

from handlers import group_flood as gf
from handlers.views import telegram_length

CTX = make_ctx()
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 10:00 WIB
BUDGET = gf.Budget(group_per_window=20, window=60.0)


def waiting(n: int, start: int = 1) -> list[gf.Waiting]:
    return [gf.Waiting(i, f"JMB-2026-{i:06d}", "jalan", "Telanaipura", NOW - timedelta(minutes=1))
            for i in range(start, start + n)]


def digest(did: int, ids: range | tuple[int, ...], *, posted: bool = True, age: float = 30.0,
           shown_done: frozenset[int] = frozenset(), edit_pending: bool = False, end_pending: bool = True) -> gf.Digest:
    return gf.Digest(did, tuple(ids), posted, NOW - timedelta(seconds=age), shown_done, len(ids), edit_pending,
                     end_pending)


def test_a_queue_that_drains_within_a_window_gets_no_digest() -> None:
    assert gf.card_capacity(20) == 16 and gf.digest_share(20) == 4
    assert gf.plan(waiting(16), [], BUDGET, NOW).empty
    assert not gf.flooded(16, 20) and gf.flooded(17, 20)


def test_a_flood_lists_every_waiting_complaint_in_digests_of_thirty_in_order() -> None:
    plan = gf.plan(waiting(80), [], BUDGET, NOW)
    assert [len(d) for d in plan.new] == [30, 30, 20]
    assert [cid for d in plan.new for cid in d] == list(range(1, 81))
    assert not plan.edits and not plan.grow


def test_digest_posts_stay_within_the_digests_share_of_the_window() -> None:
    plan = gf.plan(waiting(200), [], gf.Budget(20, 60.0, digest_actions=2), NOW)
    assert len(plan.new) == 2  # 4 per window, 2 already used: the rest waits for the next look
    assert gf.plan(waiting(200), [], gf.Budget(20, 60.0, digest_actions=4), NOW).new == ()


def test_new_arrivals_join_a_digest_not_yet_posted_for_free() -> None:
    queued = digest(1, range(1, 21), posted=False)
    plan = gf.plan(waiting(25), [queued], BUDGET, NOW)
    assert plan.grow == {1: tuple(range(21, 26))} and plan.edits == () and plan.new == ()


def test_new_arrivals_join_a_recent_posted_digest_with_one_edit_or_get_their_own() -> None:
    posted = digest(1, range(1, 21))
    plan = gf.plan(waiting(25), [posted], BUDGET, NOW)
    assert plan.grow == {1: tuple(range(21, 26))} and plan.edits == (1,)
    full = digest(1, range(1, 31))
    plan = gf.plan(waiting(35), [full], BUDGET, NOW)
    assert plan.new == (tuple(range(31, 36)),) and plan.grow == {}
    old = digest(1, range(1, 21), age=120)  # posted two windows ago: far up the chat
    assert gf.plan(waiting(25), [old], BUDGET, NOW).new == (tuple(range(21, 26)),)


def test_progress_edits_are_merged_throttled_and_only_for_a_change() -> None:
    listed = digest(1, range(1, 31))
    still = waiting(29, start=2)  # 1 got its card
    assert gf.plan(still, [listed], BUDGET, NOW).edits == (1,)
    assert gf.plan(still, [digest(1, range(1, 31), age=5)], BUDGET, NOW).edits == ()  # within 10 s of the last
    shown = digest(1, range(1, 31), shown_done=frozenset({1}))
    assert gf.plan(still, [shown], BUDGET, NOW).edits == ()  # nothing new to show
    pending = digest(1, range(1, 31), edit_pending=True)
    assert gf.plan(still, [pending], BUDGET, NOW).edits == ()  # the queued edit is rendered when it goes
    assert gf.plan(still, [listed], gf.Budget(20, 60.0, digest_actions=4), NOW).edits == ()  # share used up


def test_every_digest_with_waiting_lines_has_a_closing_edit_queued() -> None:
    plan = gf.plan(waiting(30, start=2), [digest(1, range(1, 31), end_pending=False)], BUDGET, NOW)
    assert plan.ends == (1,)
    assert gf.plan([], [digest(1, range(1, 31), end_pending=False)], BUDGET, NOW).ends == ()


def test_a_digest_reads_clearly_within_telegrams_limits() -> None:
    long_place = "<b>Kecamatan</b> " + "Sangat Panjang Sekali " * 10
    lines = [gf.Line(i, f"JMB-2026-{i:06d}", "jalan", long_place, NOW - timedelta(minutes=i),
                     gf.WAITING if i % 3 else gf.DONE, f"https://t.me/c/1234/{i}" if i % 3 == 0 else None)
             for i in range(1, gf.MAX_LINES + 1)]
    message = gf.render_digest(lines, CTX, now=NOW, waiting_total=97, per_window=20)
    check_message(message)
    assert telegram_length(message.text) <= 4096
    assert "97 laporan menunggu kartunya" in message.text and "per 10:00" in message.text
    assert "<b>Kecamatan</b>" not in message.text and "&lt;b&gt;Kecamatan" in message.text
    assert "⏳ <b>JMB-2026-000001</b>" in message.text and "1 mnt" in message.text
    assert '✅ <b>JMB-2026-000003</b> · <a href="https://t.me/c/1234/3">kartu</a> sudah dikirim' in message.text
    payloads = [b.payload for row in message.buttons for b in row]
    assert payloads == [gf.card_payload(i) for i in range(1, gf.MAX_LINES + 1) if i % 3]
    assert all(len(p.encode()) <= 64 for p in payloads) and max(len(r) for r in message.buttons) <= 5
    assert message.buttons[0][0].label == "📋 #1"


def test_a_digest_whose_complaints_all_have_cards_says_so() -> None:
    lines = [gf.Line(1, "JMB-2026-000001", "jalan", None, NOW, gf.DONE),
             gf.Line(2, "JMB-2026-000002", "jalan", None, NOW, gf.GONE)]
    message = gf.render_digest(lines, CTX, now=NOW, waiting_total=0, per_window=20, language="en")
    check_message(message)
    assert "Every complaint in this list has its card" in message.text and message.buttons == ()
    assert "no longer waiting in this group" in message.text


def test_ages_read_as_people_say_them() -> None:
    assert gf.age_text(NOW - timedelta(seconds=30), NOW, CTX) == "baru saja"
    assert gf.age_text(NOW - timedelta(minutes=4), NOW, CTX) == "4 mnt"
    assert gf.age_text(NOW - timedelta(minutes=65), NOW, CTX, "en") == "1 h 5 min"


def test_the_button_payload_round_trips_and_refuses_anything_else() -> None:
    assert gf.parse_card_payload(gf.card_payload(2_000_000_000)) == 2_000_000_000
    for bad in ("gf:", "gf:-1", "gf:x", "gf:99999999999", "st:1:terima", "gf:１２"):
        assert gf.parse_card_payload(bad) is None
