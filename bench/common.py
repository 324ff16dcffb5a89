"""Shared pieces of both benchmark sides: timing of bot messages, statistics, the result record; and the
parent process of the per-backend benchmarks (bench.dashboard, bench.timers, bench.duplicates): one child
process per backend, the table, the JSON report in bench/results/."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import logging
import os
import platform
import resource
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from handlers.flow.versions import bare
from localapi.telegram import StoredMessage, TelegramServer
from localapi.telegram.simulation import SimUser
from localapi.telegram.state import ChatRecord, UserRecord
from routing.geo import SAMPLE_GEOJSON, ServiceArea

TOKEN = "123456:BENCH-token-for-the-load-benchmark"
#: how long one simulated user waits for any single reply before the run counts as failed
STEP_TIMEOUT = 45.0
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi pengendara motor"
JAMBI = (-1.6101, 103.6131)
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
#: how long one backend's child process may run
CHILD_TIMEOUT_S = 3600

Rows = list[dict[str, Any]]


class LogTally(logging.Filter):
    """Counts WARNING+ records; lets only the first few of each logger through to stderr."""

    def __init__(self, show: int = 3) -> None:
        super().__init__()
        self.show = show
        self.counts: Counter[tuple[str, str]] = Counter()  # (level, first line of the message) -> n
        self.per_logger: Counter[str] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return False
        exc = record.exc_info[1] if record.exc_info else None
        text = f"{type(exc).__name__}: {exc}" if exc is not None else record.getMessage()
        self.counts[(record.levelname, text.splitlines()[0][:160] if text else "")] += 1
        self.per_logger[record.name] += 1
        return self.per_logger[record.name] <= self.show

    def summary(self) -> list[str]:
        return [f"{n} x {level} {text}" for (level, text), n in self.counts.most_common(5)]


TALLY = LogTally()


def quiet_logging() -> None:
    """WARNING and above only (aiogram logs every polling start/stop and handled update at INFO); only
    the first few records of each logger reach stderr, all are counted (``TALLY``) for the result."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(TALLY)
    logging.basicConfig(level=logging.WARNING, handlers=[handler], force=True)
    logging.captureWarnings(True)  # warnings go through the tally too (no spam)


class Clock:
    """Records when each bot message appeared in the server (hooked into ``TelegramState.add_message``).

    Latencies are measured from the user's action to this stamp, so the time a waiting simulated user
    needs to be scheduled again is not counted against the bot.
    """

    def __init__(self, server: TelegramServer) -> None:
        self.appeared: dict[tuple[int, int], float] = {}
        state = server.state
        original = state.add_message

        def add_message(chat: ChatRecord, sender: UserRecord, **fields: Any) -> StoredMessage:
            message = original(chat, sender, **fields)
            if message.from_bot:
                self.appeared[(message.chat_id, message.message_id)] = time.perf_counter()
            return message

        state.add_message = add_message  # type: ignore[method-assign]

    def at(self, message: StoredMessage) -> float:
        return self.appeared.get((message.chat_id, message.message_id), time.perf_counter())


class Citizen:
    """One simulated user in their private chat: acts, then waits for the bot's next message."""

    def __init__(self, server: TelegramServer, clock: Clock, user: SimUser, latencies: list[float]) -> None:
        self.server = server
        self.clock = clock
        self.user = user
        self.chat_id = user.id
        self.cursor = 0
        self.latencies = latencies
        self.updates = 0

    async def next(self) -> StoredMessage:
        """The bot's next message after the last one read (the harness's reading rule)."""
        cursor = self.cursor
        message = await self.server.wait_for_message(
            self.chat_id, lambda m: m.message_id > cursor, timeout=STEP_TIMEOUT, new_only=False
        )
        self.cursor = message.message_id
        return message

    async def act(self, action: Callable[[], object]) -> StoredMessage:
        """Perform one action (one update) and wait for the reply; records the latency."""
        started = time.perf_counter()
        action()
        self.updates += 1
        reply = await self.next()
        self.latencies.append(self.clock.at(reply) - started)
        return reply

    def last_with_button(self, payload: str) -> StoredMessage:
        for message in reversed(self.server.bot_messages(self.chat_id)):
            if payload in payloads(message):
                return message
        raise AssertionError(f"no message with button {payload!r} in chat {self.chat_id}")

    async def say(self, text: str) -> StoredMessage:
        return await self.act(lambda: self.user.send_text(text))

    async def tap(self, payload: str) -> StoredMessage:
        target = self.last_with_button(payload)
        return await self.act(lambda: self.user.press_button(target.message_id, real_data(target, payload)))

    async def photo(self, data: bytes) -> StoredMessage:
        return await self.act(lambda: self.user.send_photo(data))

    async def location(self, lat: float, lon: float) -> StoredMessage:
        return await self.act(lambda: self.user.send_location(lat, lon))


def api_calls_note(server: TelegramServer, before: Counter[str], updates: int) -> str:
    """Bot API calls the bot made per simulated update during the run, and the most frequent methods."""
    during = server.calls - before
    per_method = ", ".join(f"{method} {n}" for method, n in during.most_common(6))
    return f"{sum(during.values()) / max(1, updates):.1f} Bot API calls per update ({per_method})"


def body(message: StoredMessage) -> str:
    return (message.text or "") + (message.caption or "")


def payloads(message: StoredMessage) -> list[str]:
    """The buttons' payloads without the menu version the bot stamps on them."""
    return [bare(b["callback_data"]) for b in message.buttons() if "callback_data" in b]


def real_data(message: StoredMessage, payload: str) -> str:
    """The callback data (with the bot's menu version) of the button ``payload`` names on ``message``."""
    return next((str(b["callback_data"]) for b in message.buttons() if bare(str(b.get("callback_data", ""))) == payload),
                payload)


def percentile(values: list[float], q: float) -> float | None:
    """Linearly interpolated percentile (``q`` in 0..100), or None without data."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def peak_rss_mb() -> float:
    """Peak resident set size of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class SideResult:
    """What one side (one subprocess) measured; serialised as JSON for the parent."""

    side: str
    backend: str
    users: int
    filings: int = 0
    updates: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    confirm_to_card: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    errors: list[str] = field(default_factory=list)
    spec_violations: int = 0
    notes: list[str] = field(default_factory=list)
    #: WARNING+ log records of the bot during the run ("count x LEVEL message"), most frequent first
    logged: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Figures only (no raw samples): what the table and latest.json show."""
        seconds = self.seconds or float("nan")
        return {
            "side": self.side,
            "backend": self.backend,
            "users": self.users,
            "filings": self.filings,
            "updates": self.updates,
            "seconds": round(self.seconds, 3),
            "cpu_seconds": round(self.cpu_seconds, 2),
            "updates_per_s": round(self.updates / seconds, 1) if self.seconds else None,
            "filings_per_s": round(self.filings / seconds, 2) if self.seconds else None,
            "latency_p50_ms": _ms(percentile(self.latencies, 50)),
            "latency_p99_ms": _ms(percentile(self.latencies, 99)),
            "confirm_to_card_p50_ms": _ms(percentile(self.confirm_to_card, 50)),
            "confirm_to_card_p99_ms": _ms(percentile(self.confirm_to_card, 99)),
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "errors": self.errors[:20],
            "error_count": len(self.errors),
            "spec_violations": self.spec_violations,
            "logged_problems": self.logged,
            "notes": self.notes,
        }

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "raw": asdict(self)}


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


async def gather_users(coros: list[Any], result: SideResult) -> None:
    """Run every simulated user; a failure is recorded (and the run reported as failed), not raised."""
    outcomes = await asyncio.gather(*coros, return_exceptions=True)
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            result.errors.append(f"{type(outcome).__name__}: {outcome}"[:500])


def places(count: int, *, step: float = 0.0012) -> list[tuple[float, float]]:
    """``count`` points inside Kota Jambi about 130 m apart (further than the 50 m duplicate radius, so no
    citizen is offered another's complaint as "the same problem"), nearest to the centre first."""
    area = ServiceArea.load(SAMPLE_GEOJSON)
    lat0, lon0 = -1.6101, 103.6131
    grid = sorted(itertools.product(range(-20, 21), repeat=2), key=lambda p: (p[0] ** 2 + p[1] ** 2, p))
    found = []
    for i, j in grid:
        lat, lon = round(lat0 + i * step, 6), round(lon0 + j * step, 6)
        if area.contains(lat, lon):
            found.append((lat, lon))
            if len(found) == count:
                return found
    raise ValueError(f"only {len(found)} points found inside the city")


async def postgres_reachable(url: str) -> str | None:
    """None if PostgreSQL answers at ``url``, else the reason (a benchmark then skips that backend)."""
    # imported here: the no-op baseline side imports this module and should not pay for SQLAlchemy
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError
    from sqlalchemy.ext.asyncio import create_async_engine
    from sqlalchemy.pool import NullPool

    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None
    except (OSError, DBAPIError) as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    finally:
        await engine.dispose()


class Summarised(Protocol):
    def summary(self) -> dict[str, Any]: ...


def add_backend_options(
    parser: argparse.ArgumentParser, *, postgres: str,
    postgres_help: str = "PostgreSQL maintenance URL (default $SIKESAL_BENCH_POSTGRES_URL or "
                         "$SIKESAL_TEST_POSTGRES_URL)",
) -> None:
    """The per-backend benchmarks' shared options: --backend, --postgres, --seed, --side and --json."""
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append",
                        help="default: both (PostgreSQL is skipped with a note when unreachable)")
    parser.add_argument("--postgres", metavar="URL", default=postgres, help=postgres_help)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--side", choices=("sqlite", "postgres"), help="run one backend in this process")
    parser.add_argument("--json", action="store_true", help="(with --side) print the result as JSON")


def run_side(
    args: argparse.Namespace,
    run_backend: Callable[[str, argparse.Namespace], Coroutine[Any, Any, Sequence[Summarised]]],
    *, with_ratios: Callable[[Rows], Rows], print_table: Callable[[Rows, int], None],
) -> int:
    """``--side``: one backend in this process; its summaries as one JSON line (``--json``) or the table."""
    results = asyncio.run(run_backend(args.side, args))
    summaries = [r.summary() for r in results]
    if args.json:
        sys.stdout.write(json.dumps(summaries) + "\n")
    else:
        print_table(with_ratios(summaries), args.rows)
    return 0


def forward(args: argparse.Namespace, *names: str) -> list[str]:
    """``args``' options ``names`` (attribute names) as command-line words for the child process."""
    return [word for name in names for word in (f"--{name.replace('_', '-')}", str(getattr(args, name)))]


def progress(backend: str, label: str, enabled: bool) -> Callable[[str], None]:
    """A dataset's progress lines on stderr (``  [sqlite main] ...``), or nothing unless ``enabled``."""
    def say(message: str) -> None:
        if enabled:
            print(f"  [{backend} {label}] {message}", file=sys.stderr, flush=True)
    return say


def run_child(module: str, backend: str, options: Sequence[str]) -> Rows | str:
    """One backend in a subprocess (``python -m module --side backend --json ...options``: a fresh interpreter
    and heap per backend); the summaries it prints as its last line, or why the backend was skipped."""
    print(f"running {backend} ...", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", module, "--side", backend, "--json", *options]
    proc = subprocess.run(command, stdout=subprocess.PIPE, text=True, timeout=CHILD_TIMEOUT_S, cwd=ROOT,
                          check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return f"{backend} failed (exit {proc.returncode}; see stderr)"
    data: Rows = json.loads(lines[-1])
    return data


def run_backends(backends: Sequence[str], postgres_url: str, child: Callable[[str], Rows | str]
                 ) -> tuple[Rows, dict[str, str]]:
    """``child(backend)`` for each backend (PostgreSQL only when it answers at ``postgres_url``): the rows of
    all, and why each skipped backend was skipped."""
    from sqlalchemy.engine import (
        make_url,  # as in postgres_reachable: the baseline side does without SQLAlchemy
    )

    rows: Rows = []
    skipped: dict[str, str] = {}
    for backend in backends:
        if backend == "postgres" and (why := asyncio.run(postgres_reachable(postgres_url))) is not None:
            skipped[backend] = f"PostgreSQL unreachable at {make_url(postgres_url).render_as_string()}: {why}"
            continue
        outcome = child(backend)
        if isinstance(outcome, str):
            skipped[backend] = outcome
        else:
            rows.extend(outcome)
    return rows, skipped


def machine_info() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


def write_report(name: str, fields: dict[str, Any]) -> Path:
    """``bench/results/<name>.json``: when, the machine, then ``fields``."""
    report = {"when": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine_info(), **fields}
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def run_parent(
    name: str, args: argparse.Namespace, *, banner: str, options: Sequence[str],
    with_ratios: Callable[[Rows], Rows], print_table: Callable[[Rows, int], None],
    report: Callable[[Rows], dict[str, Any]],
) -> int:
    """A per-backend benchmark's parent (``python -m bench.<name>``): each of ``args.backend`` (default both)
    in ``run_child`` with ``options``, the table, the skipped backends, and the report (``report(rows)``'s
    fields, then the results) in bench/results/<name>.json. Exit 1 if a backend failed or none ran."""
    print(banner, file=sys.stderr)
    started = time.perf_counter()
    rows, skipped = run_backends(args.backend or ["sqlite", "postgres"], args.postgres,
                                 lambda backend: run_child(f"bench.{name}", backend, options))
    with_ratios(rows)
    print()
    if rows:
        print_table(rows, args.rows)
    for backend, why in skipped.items():
        print(f"  {backend}: SKIPPED ({why})")
    total = round(time.perf_counter() - started, 1)
    path = write_report(name, {**report(rows), "results": rows, "skipped": skipped, "total_seconds": total})
    print(f"\nwritten to {path} (total {total} s)")
    failed = [why for why in skipped.values() if "failed" in why]
    return 1 if failed or not rows else 0
