"""``python -m bench.multiproc`` (part of ``make bench``): two ``sikesal run`` processes against one.

The same kind of workload as ``bench.filings`` (simulated citizens filing complete complaints at once
against the local Bot API server, 8 updates each, waiting for the bot's answer before acting again), but
the bot runs as real ``sikesal run`` processes in webhook mode behind a round-robin reverse proxy (the
set-up README's "Running several processes" describes), on a fresh PostgreSQL database per run. Telegram's
limits are lifted on both sides (the local server's and the processes' ``delivery`` settings), so what is
measured is SiKesal's own work. The figure is updates per second with two processes over one (goal
>= 1.7x); it is printed, never asserted. Results go to ``bench/results/multiproc.json``.

    python -m bench.multiproc                   # 100 citizens, 1 then 2 processes
    python -m bench.multiproc --users 200 --processes 1 2 3

PostgreSQL comes from ``--postgres``, else ``$SIKESAL_BENCH_POSTGRES_URL``, ``$SIKESAL_TEST_POSTGRES_URL``
or postgresql+asyncpg://postgres@127.0.0.1:5432/test (a maintenance URL: a database is created per run
and dropped after); when it cannot be reached the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from bench.common import percentile
from bench.common import postgres_reachable as reachable
from bench.sikesal_side import fresh_database
from bot.services.runtime import Runtime
from bot.services.staff import create_link_code
from localapi.telegram import TelegramServer, make_jpeg
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.media import MediaStore
from tests.multiproc.procs import TOKEN, Cluster, link_groups, make_filings, run_filings, write_config

RESULTS = Path(__file__).resolve().parent / "results"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
DEFAULT_USERS = 100
TARGET_RATIO = 1.7
#: Telegram's limits lifted in the processes (the local server runs with rate_limits=False)
NO_LIMITS = {"global_per_second": 1e6, "private_per_second": 1e6, "group_per_minute": 1e9}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.multiproc", description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help=f"citizens filing at once ({DEFAULT_USERS})")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2], help="process counts to run (1 2)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile every bot process (bench/results/profile-multiproc-<N>-<n>.pstats)")
    parser.add_argument("--postgres", metavar="URL", default=os.environ.get("SIKESAL_BENCH_POSTGRES_URL")
                        or os.environ.get("SIKESAL_TEST_POSTGRES_URL") or DEFAULT_POSTGRES,
                        help="PostgreSQL maintenance URL (a database is created per run)")
    args = parser.parse_args(argv)
    if args.users < 1 or any(n < 1 for n in args.processes):
        parser.error("--users and --processes must be at least 1")
    return args


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc), None if it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


async def transactions(engine: Any) -> int:
    """Transactions PostgreSQL has counted for this database so far (committed and rolled back)."""
    async with engine.connect() as conn:
        return int((await conn.execute(text(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        ))).scalar_one())


def keep_profiles(tmp: Path, processes: int) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    for stats in tmp.glob("bot-*.pstats"):
        stats.replace(RESULTS / f"profile-multiproc-{processes}-{stats.stem.split('-')[1]}.pstats")


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def run_one(processes: int, users: int, postgres: str, *, profile: bool = False) -> dict[str, Any]:
    """One run: a fresh database, the local server, ``processes`` bot processes, ``users`` citizens."""
    with tempfile.TemporaryDirectory(prefix="sikesal-bench-multiproc-") as tmpdir:
        tmp = Path(tmpdir)
        config = write_config(tmp / "config.yaml", delivery=NO_LIMITS)
        async with fresh_database(postgres, tmp) as (url, _backend):
            engine = make_engine(url, poolclass=NullPool)
            try:
                await upgrade_database(engine)  # once, before the processes start (as `sikesal migrate`)
                runtime = Runtime(config=config, sessionmaker=make_sessionmaker(engine), media=MediaStore(tmp / "m"))
                async with TelegramServer(TOKEN, rate_limits=False) as server:
                    cluster = Cluster(processes, server, url, tmp, tmp / "config.yaml", None, log_level="WARNING",
                                      profile_dir=tmp if profile else None)
                    try:
                        await cluster.start()
                        groups = await link_groups(server, config, lambda agency: create_link_code(runtime, agency))
                        filings = make_filings(server, users, 0, photos=[make_jpeg(gray=g) for g in (70, 140, 210)])
                        bot_cpu0 = [cpu_seconds(p.pid) or 0.0 for p in cluster.processes]
                        await asyncio.sleep(1.0)  # PostgreSQL's statistics are flushed about every second
                        xacts0 = await transactions(engine)
                        own0 = own_cpu()
                        outcome = await run_filings(server, filings, groups, timeout=120.0, card_timeout=120.0)
                        bot_cpu = [round((cpu_seconds(p.pid) or 0.0) - c, 1) for p, c in zip(cluster.processes, bot_cpu0,
                                                                                              strict=True)]
                        own = own_cpu() - own0
                        await asyncio.sleep(1.0)
                        xacts = await transactions(engine) - xacts0
                        answered = sorted(cluster.proxy.answered.values())
                        logged = cluster.problems_logged()
                    finally:
                        await cluster.stop()
                    if profile:
                        keep_profiles(tmp, processes)
                    violations = len(server.spec_violations)
            finally:
                await engine.dispose()
    updates = sum(f.updates for f in filings)
    latencies = [x for f in filings for x in f.latencies]
    seconds = outcome.seconds
    return {
        "processes": processes,
        "users": users,
        "filings": sum(1 for f in filings if f.number),
        "updates": updates,
        "seconds": round(seconds, 2),
        "updates_per_s": round(updates / seconds, 1) if seconds else None,
        "filings_per_s": round(users / seconds, 2) if seconds else None,
        "latency_p50_ms": round((percentile(latencies, 50) or 0) * 1000),
        "latency_p99_ms": round((percentile(latencies, 99) or 0) * 1000),
        "bot_cpu_seconds": bot_cpu,
        "load_generator_cpu_seconds": round(own, 1),
        "transactions_per_update": round(xacts / updates, 1) if updates else None,
        "webhooks_per_process": answered,
        "errors": outcome.errors[:10],
        "error_count": len(outcome.errors),
        "logged_problems": logged[:10],
        "spec_violations": violations,
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    head = ["processes", "updates/s", "filings/s", "p50 ms", "p99 ms", "seconds", "bot CPU s", "load gen CPU s",
            "tx/update"]
    lines = [head]
    for r in rows:
        lines.append([
            str(r["processes"]), f"{r['updates_per_s']:.1f}", f"{r['filings_per_s']:.2f}",
            f"{r['latency_p50_ms']:,}", f"{r['latency_p99_ms']:,}", f"{r['seconds']:.1f}",
            " + ".join(f"{c:.0f}" for c in r["bot_cpu_seconds"]), f"{r['load_generator_cpu_seconds']:.0f}",
            f"{r['transactions_per_update']:.1f}",
        ])
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for n, line in enumerate(lines):
        print("  ".join(cell.rjust(widths[i]) for i, cell in enumerate(line)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


async def main_async(args: argparse.Namespace) -> int:
    why = await reachable(args.postgres)
    if why is not None:
        where = make_url(args.postgres).render_as_string(hide_password=True)
        print(f"bench.multiproc: skipped, PostgreSQL unreachable at {where} ({why})")
        return 0
    print(f"Several processes: {args.users} citizens filing at once, webhook mode behind a round-robin proxy,"
          f" PostgreSQL, Telegram's limits lifted; processes: {args.processes}", file=sys.stderr)
    started = time.perf_counter()
    rows = []
    for processes in args.processes:
        print(f"  running {processes} process(es) ...", file=sys.stderr, flush=True)
        rows.append(await run_one(processes, args.users, args.postgres, profile=args.profile))
    print()
    print_table(rows)
    base = next((r for r in rows if r["processes"] == 1), None)
    ratios = {}
    for r in rows:
        if base and r is not base and base["updates_per_s"] and r["updates_per_s"]:
            ratios[r["processes"]] = round(r["updates_per_s"] / base["updates_per_s"], 2)
    for processes, value in ratios.items():
        goal = f"goal >= {TARGET_RATIO}x for two processes" if processes == 2 else "no goal"
        verdict = ("meets" if value >= TARGET_RATIO else "MISSES") if processes == 2 else ""
        print(f"{processes} processes / 1: {value:.2f}x updates/s ({goal}{', ' + verdict if verdict else ''};"
              f" printed, not asserted)")
    print(f"machine: {os.cpu_count()} CPUs; the bot processes, PostgreSQL and the load generator (local server,"
          f" proxy, citizens) share them")
    for r in rows:
        if r["error_count"]:
            print(f"  {r['processes']} process(es): {r['error_count']} filing(s) FAILED, e.g. {r['errors'][0]}")
        for line in r["logged_problems"][:3]:
            print(f"  {r['processes']} process(es) logged: {line}")
        if r["spec_violations"]:
            print(f"  {r['processes']} process(es): {r['spec_violations']} Bot API spec violations")
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "users": args.users,
        "target_ratio_two_over_one": TARGET_RATIO,
        "runs": rows,
        "ratios": ratios,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "multiproc.json").write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {RESULTS / 'multiproc.json'} (total {report['total_seconds']} s)")
    return 1 if any(r["error_count"] for r in rows) else 0


def main(argv: list[str] | None = None) -> int:
    return asyncio.run(main_async(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
