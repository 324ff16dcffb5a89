"""``python -m bench.speed`` (first part of ``make bench``): SiKesal beside the no-op ceiling, every goal of
issue 14 in one table.

The bot under test runs in its own process (a real ``sikesal run`` in webhook mode, or the no-op aiogram bot
of ``bench.noop_bot``); the local Bot API server, the proxy and the simulated citizens run here, so the bot
process's CPU seconds and RSS are its own. Scenarios, each on a fresh server, database and bot process:

* lifted: Telegram's limits lifted (server and sender), citizens filing complete complaints at once:
  bot CPU per update and updates/s, SQLite and PostgreSQL, against the no-op bot doing the same updates;
* pace: limits on (the server enforcing Telegram's limits), 15 citizens filing at a person's pace (1-3 s
  between actions): the whole answer to an action (all its messages) and confirm-to-card;
* saturated: limits on, 100 citizens filing at once: send rate against the overall 30/s, the server's 429s;
* flood: limits on, 100 complaints for one agency group within a minute (through Open311, the bot's own
  filing service): time until every number is visible in the group (card or digest), 429s;
* drafts: 10,000 citizens with open drafts (seeded in bulk, each then touched by one update): bot RSS.

    python -m bench.speed                 # everything (about 8 minutes)
    python -m bench.speed --quick         # smaller runs (about 3 minutes)
    python -m bench.speed --only lifted pace

Goals are printed beside the figures, never asserted; exit 1 only when a scenario crashed or citizens failed.
Figures go to bench/results/speed.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine
from typing import Any

from bench.common import TALLY, machine_info, postgres_reachable, quiet_logging, write_report

DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SCENARIOS = ("lifted", "pace", "saturated", "flood", "drafts")
GOAL_CPU = 4.0  # SiKesal's CPU per update at most 4x the no-op's
GOAL_RATE, STRETCH_RATE = 0.3, 0.5  # updates/s at least 0.3x the no-op's (stretch 0.5x)
GOAL_ANSWER = 2.0  # whole-answer p99 at a person's pace at most 2x the no-op's
GOAL_CARD_MS = 1000.0
GOAL_SEND_FRACTION, LIMIT_PER_S = 0.8, 30.0
GOAL_FLOOD_S = 120.0
GOAL_RSS_MB = 150.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs (30 users, 1 round, 40 saturating, "
                        "1,000 drafts)")
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, help="run only these scenarios")
    parser.add_argument("--users", type=int, help="citizens filing at once with limits lifted (100)")
    parser.add_argument("--pace-citizens", type=int, default=15, help="citizens at a person's pace (15)")
    parser.add_argument("--rounds", type=int, help="complaints each at a person's pace (2)")
    parser.add_argument("--saturate", type=int, help="citizens at once with limits on (100)")
    parser.add_argument("--flood", type=int, default=100, help="complaints to one group (100)")
    parser.add_argument("--flood-spread", type=float, default=30.0, help="seconds they are filed within (30)")
    parser.add_argument("--drafts", type=int, help="citizens with open drafts (10000)")
    parser.add_argument("--drafts-budget", type=float, help="seconds to touch them in; the rest is extrapolated "
                        "(240)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("SIKESAL_BENCH_POSTGRES_URL")
                        or os.environ.get("SIKESAL_TEST_POSTGRES_URL") or DEFAULT_POSTGRES,
                        help="PostgreSQL maintenance URL (a database is created per run and dropped)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args(argv)
    quick = args.quick
    args.users = args.users or (30 if quick else 100)
    args.rounds = args.rounds or (1 if quick else 2)
    args.saturate = args.saturate or (40 if quick else 100)
    args.drafts = args.drafts or (1000 if quick else 10_000)
    args.drafts_budget = args.drafts_budget or (60.0 if quick else 240.0)
    return args


Figures = dict[str, Any]


def _run(label: str, make: Callable[[], Coroutine[Any, Any, Figures]], failures: list[str]) -> Figures | None:
    """One scenario in a fresh event loop; a crash is reported and the others still run."""
    print(f"  {label} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        figures = asyncio.run(make())
    except Exception as exc:  # any crash of one scenario is reported, the rest still run
        traceback.print_exc()
        failures.append(f"{label}: {type(exc).__name__}: {exc}"[:300])
        return None
    figures["wall_seconds"] = round(time.perf_counter() - started, 1)
    if figures.get("error_count"):
        failures.append(f"{label}: {figures['error_count']} failed, e.g. {figures['errors'][:1]}")
    shown = ", ".join(f"{k} {v}" for k, v in figures.items() if k not in ("errors", "logged", "side") and v is not None)
    print(f"  {label}: {shown}", file=sys.stderr, flush=True)
    return figures


def run_all(args: argparse.Namespace) -> tuple[dict[str, Any], list[str], list[str]]:
    from bench import speed_load
    from bench import speed_scenarios as sc

    wanted = set(args.only or SCENARIOS)
    results: dict[str, Any] = {}
    failures: list[str] = []
    notes: list[str] = []

    def step(key: str, label: str, make: Callable[[], Coroutine[Any, Any, Figures]]) -> None:
        """Run one scenario and keep what is known so far in bench/results/speed-partial.json (a run cut
        short still leaves its figures)."""
        results[key] = _run(label, make, failures)
        write_report("speed-partial", {"results": results, "failures": failures, "notes": notes})

    if "lifted" in wanted:
        step("lifted_noop", "limits lifted: no-op", lambda: sc.lifted("noop", args.users))
        step("lifted_sqlite", "limits lifted: SiKesal/SQLite", lambda: sc.lifted("sikesal", args.users))
        why = "--no-postgres" if args.no_postgres else asyncio.run(postgres_reachable(args.postgres))
        if why is None:
            step("lifted_postgres", "limits lifted: SiKesal/PostgreSQL",
                 lambda: sc.lifted("sikesal", args.users, postgres=args.postgres))
        else:
            notes.append(f"PostgreSQL skipped: {why}")
    if "pace" in wanted:
        step("pace_noop", "person's pace: no-op", lambda: sc.pace("noop", args.pace_citizens, args.rounds, seed=args.seed))
        step("pace_sikesal", "person's pace: SiKesal",
             lambda: sc.pace("sikesal", args.pace_citizens, args.rounds, seed=args.seed))
    if "saturated" in wanted:
        step("saturated", "saturated: SiKesal", lambda: sc.saturated(args.saturate))
    if "flood" in wanted:
        step("flood", "flood: SiKesal", lambda: speed_load.flood(args.flood, args.flood_spread))
    if "drafts" in wanted:
        step("drafts", "drafts: SiKesal", lambda: speed_load.drafts(args.drafts, budget=args.drafts_budget))
    return results, failures, notes


# -- the table -----------------------------------------------------------------------------------------------

def _num(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def _verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "MISS")


def _get(results: dict[str, Any], scenario: str, key: str) -> Any:
    figures = results.get(scenario)
    return None if figures is None else figures.get(key)


def _ratio(ours: Any, ceiling: Any) -> float | None:
    return ours / ceiling if isinstance(ours, int | float) and isinstance(ceiling, int | float) and ceiling else None


def table_rows(r: dict[str, Any]) -> list[list[str]]:
    """[figure, SiKesal, no-op, goal, verdict] for every figure measured."""
    rows: list[list[str]] = []
    noop_cpu = _get(r, "lifted_noop", "cpu_ms_per_update")
    noop_rate = _get(r, "lifted_noop", "updates_per_s")
    for backend in ("sqlite", "postgres"):
        key = f"lifted_{backend}"
        if key not in r:
            continue
        name = "SQLite" if backend == "sqlite" else "PostgreSQL"
        cpu = _ratio(_get(r, key, "cpu_ms_per_update"), noop_cpu)
        rows.append([f"CPU ms per update, limits lifted ({name})", _num(_get(r, key, "cpu_ms_per_update"), 2),
                     _num(noop_cpu, 2), f"<= {GOAL_CPU:g}x no-op (now {_num(cpu, 1)}x)",
                     _verdict(None if cpu is None else cpu <= GOAL_CPU)])
        rate = _ratio(_get(r, key, "updates_per_s"), noop_rate)
        stretch = " (stretch met)" if rate is not None and rate >= STRETCH_RATE else ""
        rows.append([f"updates/s, limits lifted ({name})", _num(_get(r, key, "updates_per_s")), _num(noop_rate),
                     f">= {GOAL_RATE:g}x no-op, stretch {STRETCH_RATE:g}x (now {_num(rate, 2)}x){stretch}",
                     _verdict(None if rate is None else rate >= GOAL_RATE)])
    if "pace_sikesal" in r or "pace_noop" in r:
        p50, p99 = _get(r, "pace_sikesal", "answer_p50_ms"), _get(r, "pace_sikesal", "answer_p99_ms")
        n50, n99 = _get(r, "pace_noop", "answer_p50_ms"), _get(r, "pace_noop", "answer_p99_ms")
        rows.append(["whole answer p50 ms, person's pace, limits on", _num(p50), _num(n50), "(no goal)", "-"])
        ratio = _ratio(p99, n99)
        rows.append(["whole answer p99 ms, person's pace, limits on", _num(p99), _num(n99),
                     f"<= {GOAL_ANSWER:g}x no-op (now {_num(ratio, 1)}x)",
                     _verdict(None if ratio is None else ratio <= GOAL_ANSWER)])
        card = _get(r, "pace_sikesal", "card_p99_ms")
        rows.append(["confirm-to-card p99 ms, person's pace", _num(card), "-", f"<= {GOAL_CARD_MS:,.0f}",
                     _verdict(None if card is None else card <= GOAL_CARD_MS)])
        ours, theirs = _get(r, "pace_sikesal", "429s"), _get(r, "pace_noop", "429s")
        rows.append(["429s, person's pace", _num(ours), _num(theirs), "0", _verdict(None if ours is None else ours == 0)])
    if "saturated" in r:
        rate = _get(r, "saturated", "send_rate_per_s")
        fraction = None if rate is None else rate / LIMIT_PER_S
        rows.append([f"send rate msg/s, {_num(_get(r, 'saturated', 'citizens'))} at once, limits on", _num(rate), "-",
                     f">= {GOAL_SEND_FRACTION:g} x 30/s (now {_num(fraction, 2)})",
                     _verdict(None if fraction is None else fraction >= GOAL_SEND_FRACTION)])
        peak = _get(r, "saturated", "busiest_second")
        rows.append(["busiest 1-s window, messages", _num(peak), "-", f"<= {LIMIT_PER_S:g} (the limit)",
                     _verdict(None if peak is None else peak <= LIMIT_PER_S)])
        floods = _get(r, "saturated", "429s")
        rows.append(["429s, saturated", _num(floods), "-", "0", _verdict(None if floods is None else floods == 0)])
    if "flood" in r:
        seconds = _get(r, "flood", "all_visible_seconds")
        visible = _get(r, "flood", "visible_by_timeout")
        label = _num(seconds) if seconds is not None else f"> {_num(_get(r, 'flood', 'timeout_seconds'))} ({visible} seen)"
        rows.append([f"flood: s until all {_num(_get(r, 'flood', 'complaints'))} visible in the group", label, "-",
                     f"<= {GOAL_FLOOD_S:g}", _verdict(None if r["flood"] is None else
                                                     seconds is not None and seconds <= GOAL_FLOOD_S)])
        floods = _get(r, "flood", "429s")
        rows.append(["429s, flood", _num(floods), "-", "0", _verdict(None if floods is None else floods == 0)])
    if "drafts" in r:
        rss = _get(r, "drafts", "rss_mb")
        extrapolated = " (extrapolated)" if _get(r, "drafts", "extrapolated") else ""
        rows.append([f"RSS MB, {_num(_get(r, 'drafts', 'drafts'))} open drafts{extrapolated}", _num(rss),
                     _num(_get(r, "lifted_noop", "bot_rss_mb")) + " (idle)", f"<= {GOAL_RSS_MB:g}",
                     _verdict(None if rss is None else rss <= GOAL_RSS_MB)])
    return rows


def print_table(rows: list[list[str]]) -> None:
    head = ["figure", "SiKesal", "no-op", "goal", ""]
    lines = [head, *rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        print("  ".join(cell.ljust(widths[i]) if i in (0, 3) else cell.rjust(widths[i]) for i, cell in enumerate(line)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def print_details(r: dict[str, Any]) -> None:
    """The figures behind the table (counts, durations, what the bot logged)."""
    for key, figures in r.items():
        if figures is None:
            print(f"  {key}: FAILED (see stderr)")
            continue
        shown = {k: v for k, v in figures.items() if k not in ("errors", "logged", "side") and v is not None}
        print(f"  {key}: " + ", ".join(f"{k} {v}" for k, v in shown.items()))
        for line in figures.get("logged") or []:
            print(f"    logged: {line}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    quiet_logging()
    load_before = os.getloadavg()
    print("SiKesal beside the no-op aiogram bot, each in its own process (issue 14's goals)", file=sys.stderr)
    started = time.perf_counter()
    results, failures, notes = run_all(args)
    rows = table_rows(results)
    print()
    print_table(rows)
    print()
    print_details(results)
    machine = machine_info()
    load_after = os.getloadavg()
    print(f"\nmachine: {machine['cpus']} CPUs, Python {machine['python']}, {machine['platform']}; load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after (the bot, the local server and the citizens "
          f"share the cores)")
    for note in notes + TALLY.summary():
        print(f"note: {note}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    total = round(time.perf_counter() - started, 1)
    path = write_report("speed", {
        "options": {k: v for k, v in vars(args).items() if k != "postgres"},
        "load_average": {"before": load_before, "after": load_after},
        "table": [dict(zip(["figure", "sikesal", "noop", "goal", "verdict"], row, strict=True)) for row in rows],
        "results": results, "failures": failures, "notes": notes, "total_seconds": total,
    })
    print(f"\nwritten to {path} (total {total} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
