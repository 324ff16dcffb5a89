"""Smoke test of ``bench.speed`` (``make bench``'s table of issue 14's goals) at a tiny size.

Why: the full run takes minutes and is not part of the suite, so without this its parts could rot unnoticed:
the bot processes it starts (a real ``sikesal run`` and the no-op aiogram bot), the bulk-seeded drafts, the
Open311 flood, how a whole answer and confirm-to-card are timed from what the server recorded, and the
PASS/MISS verdicts. Figures are not asserted (timing goals belong to the benchmark), only that they exist.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from bench import speed, speed_load, speed_scenarios
from bench.speed_flows import Person, card_delays, whole_answers
from tests.multiproc.procs import Recorder, Seen


def _person(chat_id: int, actions: list[float], filed: list[tuple[float, str]] | None = None) -> Person:
    person = Person(cast(Any, None), cast(Any, SimpleNamespace(id=chat_id)))
    person.actions = actions
    person.filed = filed or []
    return person


def _recorder(*seen: tuple[float, str, int, str]) -> Recorder:
    events = [Seen(at, kind, chat, {"message_id": n, "text": text}) for n, (at, kind, chat, text) in enumerate(seen)]
    return cast(Recorder, SimpleNamespace(seen=events))


def test_a_whole_answer_ends_with_the_last_message_or_edit_before_the_next_action() -> None:
    recorder = _recorder(
        (10.2, "message", 1, "menu"),
        (20.1, "message", 1, "summary"), (20.4, "edit", 1, "summary + buttons"),  # one answer, two parts
        (30.3, "message", 1, "confirmation JMB-2026-000001"),
        (31.0, "message", -5, "Baru · JMB-2026-000001"),  # the card, in the group
        (10.5, "message", 2, "other chat"),
    )
    person = _person(1, [10.0, 20.0, 30.0], filed=[(30.0, "JMB-2026-000001")])
    answers = whole_answers(recorder, [person])
    assert [round(a, 2) for a in answers] == [0.2, 0.4, 0.3]
    delays, missing = card_delays(recorder, [person], [-5])
    assert [round(d, 2) for d in delays] == [1.0] and missing == 0
    late = _person(3, [1.0], filed=[(1.0, "JMB-2026-000002")])
    assert card_delays(recorder, [late], [-5]) == ([], 1)


def test_the_table_puts_each_figure_beside_its_goal_and_says_pass_or_miss() -> None:
    results = {
        "lifted_noop": {"cpu_ms_per_update": 2.0, "updates_per_s": 400.0, "bot_rss_mb": 170.0},
        "lifted_sqlite": {"cpu_ms_per_update": 6.0, "updates_per_s": 100.0},
        "pace_noop": {"answer_p50_ms": 20.0, "answer_p99_ms": 100.0, "429s": 0},
        "pace_sikesal": {"answer_p50_ms": 50.0, "answer_p99_ms": 300.0, "card_p99_ms": 800.0, "429s": 0},
        "saturated": {"citizens": 100, "send_rate_per_s": 25.0, "busiest_second": 31, "429s": 2},
        "flood": {"complaints": 100, "all_visible_seconds": None, "visible_by_timeout": 90, "timeout_seconds": 180.0,
                  "429s": 0},
        "drafts": {"drafts": 10_000, "rss_mb": 260.0, "extrapolated": True},
    }
    rows = {row[0]: row for row in speed.table_rows(results)}
    assert rows["CPU ms per update, limits lifted (SQLite)"][4] == "PASS"  # 3x <= 4x
    assert rows["updates/s, limits lifted (SQLite)"][4] == "MISS"  # 0.25x < 0.3x
    assert rows["whole answer p99 ms, person's pace, limits on"][4] == "MISS"  # 3x > 2x
    assert rows["confirm-to-card p99 ms, person's pace"][4] == "PASS"
    assert rows["send rate msg/s, 100 at once, limits on"][4] == "PASS"  # 25/30 >= 0.8
    assert rows["busiest 1-s window, messages"][4] == "MISS" and rows["429s, saturated"][4] == "MISS"
    flood = rows["flood: s until all 100 visible in the group"]
    assert flood[1].startswith("> 180") and flood[4] == "MISS"
    drafts = rows["RSS MB, 10,000 open drafts (extrapolated)"]
    assert drafts[1] == "260.0" and drafts[2].startswith("170.0") and drafts[4] == "MISS"
    speed.print_table(list(rows.values()))


async def test_the_scenarios_run_at_a_tiny_size() -> None:
    noop = await speed_scenarios.lifted("noop", 2)
    assert noop["updates"] == 16 and noop["error_count"] == 0 and noop["cpu_ms_per_update"] is not None
    ours = await speed_scenarios.lifted("sikesal", 2)
    assert ours["updates"] >= 16 and ours["filings"] == 2 and ours["card_samples"] == 2, ours
    assert ours["error_count"] == 0 and ours["bot_rss_mb"] > 0
    flood = await speed_load.flood(5, 1.0, give_up=60.0)
    assert flood["filed"] == 5 and flood["visible_by_timeout"] == 5 and flood["all_visible_seconds"] is not None, flood
    drafts = await speed_load.drafts(30, budget=60.0)
    assert drafts["touched"] == 30 and drafts["drafts_not_updated"] == 0 and drafts["error_count"] == 0, drafts
