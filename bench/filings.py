"""``python -m bench.filings`` (``make bench``): SiKesal next to the framework's ceiling.

Without ``--side`` this is the parent: it runs each side in its own subprocess (so peak RSS is per
side), prints a table and writes ``bench/results/latest.json``. With ``--side`` it runs one side and
prints its figures (``--json``: as JSON on stdout, which is what the parent reads).

    python -m bench.filings                       # 200 users, SQLite, vs the no-op aiogram bot
    python -m bench.filings --quick               # 50 users
    python -m bench.filings --postgres postgresql+asyncpg://postgres@127.0.0.1:5432/test
    python -m bench.filings --side sikesal --users 200 --profile   # cProfile of the SiKesal side
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.common import TALLY, SideResult, quiet_logging

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_USERS = 200
QUICK_USERS = 50
TARGET_RATIO = 0.6
TARGET_CARD_P99_MS = 1000.0
CHILD_TIMEOUT_S = 900

EXPLANATION = """\
Telegram rate limits are lifted on both the local server and SiKesal's sender: Telegram's real
per-group limit (20 messages/minute) would dominate confirm-to-card in a burst (200 cards for 5
agency groups take minutes), so this measures SiKesal's own overhead. Limit compliance is covered by
the e2e and delivery tests. Latencies: user action -> bot reply stored in the server; confirm-to-card:
pressing Send -> the agency card in the group. Each side (local server + bot + simulated users) runs
in its own process; peak RSS is that whole process."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.filings", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=None, help=f"concurrent citizens (default {DEFAULT_USERS})")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_USERS} users")
    parser.add_argument("--side", choices=("sikesal", "baseline"), help="run one side in this process")
    parser.add_argument("--json", action="store_true", help="(with --side) print the result as JSON")
    parser.add_argument("--database-url", help="(with --side sikesal) SQLite URL, or a PostgreSQL URL through "
                        "which a fresh database is created for the run and dropped after")
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append",
                        help="backends for the SiKesal side (default: sqlite, plus postgres with --postgres)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("SIKESAL_BENCH_POSTGRES_URL"),
                        help="PostgreSQL maintenance URL, e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--profile", action="store_true", help="cProfile the SiKesal side (stderr + .pstats)")
    args = parser.parse_args(argv)
    if args.users is None:
        args.users = QUICK_USERS if args.quick else DEFAULT_USERS
    if args.users < 1:
        parser.error("--users must be at least 1")
    return args


# -- one side ------------------------------------------------------------------------------------------------

def run_side(args: argparse.Namespace) -> int:
    quiet_logging()
    result: SideResult
    if args.side == "sikesal":
        from bench import sikesal_side

        result = sikesal_side.main(args.users, args.database_url, profile=args.profile)
    else:
        from bench import baseline_side

        result = baseline_side.main(args.users)
    result.logged = TALLY.summary()
    if args.json:
        json.dump(result.to_json(), sys.stdout)
        sys.stdout.write("\n")
    else:
        print_table([result.summary()], baseline=None)
    for error in result.errors[:5]:
        print(f"error: {error}", file=sys.stderr)
    return 1 if result.errors else 0


# -- the parent ----------------------------------------------------------------------------------------------

def child(side: str, users: int, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.filings", "--side", side, "--users", str(users), "--json", *extra]
    label = f"{side} ({extra[1].split('+')[0].split(':')[0]})" if extra[:1] == ["--database-url"] else side
    print(f"  running {label} with {users} users ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=CHILD_TIMEOUT_S,
                          cwd=Path(__file__).resolve().parents[1], check=False)
    if not proc.stdout.strip():
        raise RuntimeError(f"{side} crashed (exit {proc.returncode}) after {time.perf_counter() - started:.0f} s")
    data: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    summary: dict[str, Any] = data["summary"]
    summary["exit_code"] = proc.returncode
    return summary


def run_parent(args: argparse.Namespace) -> int:
    backends = args.backend or (["sqlite", "postgres"] if args.postgres else ["sqlite"])
    if "postgres" in backends and not args.postgres:
        print("--backend postgres needs --postgres URL (or SIKESAL_BENCH_POSTGRES_URL)", file=sys.stderr)
        return 2
    print(f"SiKesal load benchmark: {args.users} concurrent citizens, complete filings", file=sys.stderr)
    started = time.perf_counter()
    baseline = child("baseline", args.users, [])
    ours: list[dict[str, Any]] = []
    for backend in backends:
        extra = ["--database-url", args.postgres] if backend == "postgres" else []
        if args.profile:
            extra.append("--profile")
        ours.append(child("sikesal", args.users, extra))
    rows = [*ours, baseline]
    print()
    print_table(rows, baseline=baseline)
    print()
    print(EXPLANATION)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "users": args.users,
        "targets": {"ratio_min": TARGET_RATIO, "confirm_to_card_p99_ms_max": TARGET_CARD_P99_MS},
        "sikesal": ours,
        "baseline": baseline,
        "ratios": {r["backend"]: ratio(r, baseline) for r in ours},
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {RESULTS / 'latest.json'} (total {report['total_seconds']} s)")
    failed = [r for r in rows if r["exit_code"] != 0 or r["error_count"]]
    for r in failed:
        print(f"FAILED: {r['side']}/{r['backend']}: {r['error_count']} errors, e.g. {r['errors'][:3]}",
              file=sys.stderr)
    return 1 if failed else 0


def ratio(row: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    ours, ceiling = row.get("updates_per_s"), baseline.get("updates_per_s")
    return round(ours / ceiling, 2) if ours and ceiling else None


def _fmt(value: Any, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,}{suffix}" if isinstance(value, int) else f"{value:,.1f}{suffix}"


def print_table(rows: list[dict[str, Any]], baseline: dict[str, Any] | None) -> None:
    head = ["", "updates/s", "filings/s", "p50 ms", "p99 ms", "card p50 ms", "card p99 ms", "peak RSS MB",
            "CPU s", "ratio"]
    lines = [head]
    for r in rows:
        name = "no-op aiogram (ceiling)" if r["side"] == "baseline" else f"SiKesal ({r['backend']})"
        rat = ratio(r, baseline) if baseline is not None and r["side"] == "sikesal" else None
        lines.append([
            name, _fmt(r["updates_per_s"]), f"{r['filings_per_s']:.2f}" if r["filings_per_s"] else "-",
            _fmt(r["latency_p50_ms"]), _fmt(r["latency_p99_ms"]), _fmt(r["confirm_to_card_p50_ms"]),
            _fmt(r["confirm_to_card_p99_ms"]), _fmt(r["peak_rss_mb"]), _fmt(r["cpu_seconds"]),
            "1.00" if r["side"] == "baseline" and baseline is not None else ("-" if rat is None else f"{rat:.2f}"),
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        print("  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(line)))
        if n == 0:
            print("  ".join("-" * w for w in widths))
    r0 = rows[0]
    timings = ", ".join(f"{r['side']}/{r['backend']} {r['seconds']:.1f} s" for r in rows)
    print(f"\n{r0['users']} users; updates and filings per side: "
          + ", ".join(f"{r['side']}/{r['backend']} {r['updates']}/{r['filings']}" for r in rows)
          + f" (wall time: {timings})")
    print(f"targets: SiKesal/ceiling updates/s >= {TARGET_RATIO} on SQLite; confirm-to-card p99 <= "
          f"{TARGET_CARD_P99_MS:.0f} ms (printed, not asserted)")
    for r in rows:
        if r["side"] != "sikesal":
            continue
        verdicts = []
        rat = ratio(r, baseline) if baseline is not None else None
        if rat is not None and r["backend"] == "sqlite":
            verdicts.append(f"ratio {rat:.2f} {'meets' if rat >= TARGET_RATIO else 'MISSES'} >= {TARGET_RATIO}")
        p99 = r["confirm_to_card_p99_ms"]
        if p99 is not None:
            verdicts.append(f"card p99 {p99:.0f} ms {'meets' if p99 <= TARGET_CARD_P99_MS else 'MISSES'} <= 1 s")
        if verdicts:
            print(f"  SiKesal ({r['backend']}): " + "; ".join(verdicts))
    for r in rows:
        label = "no-op aiogram" if r["side"] == "baseline" else f"SiKesal ({r['backend']})"
        for note in r.get("notes", []):
            print(f"  {label}: {note}")
        if r.get("error_count"):
            print(f"  {label}: {r['error_count']} filing(s) FAILED, e.g. {r['errors'][0]}")
        for line in r.get("logged_problems", []):
            print(f"  {label} logged: {line}")
        if r.get("spec_violations"):
            print(f"  {r['spec_violations']} Bot API spec violations recorded by the local server")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.side:
        return run_side(args)
    try:
        return run_parent(args)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"benchmark crashed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
