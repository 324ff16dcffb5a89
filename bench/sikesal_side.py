"""The SiKesal side: the real ``SikesalApp`` in-process against the local server, citizens filing."""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import io
import pstats
import re
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from bench.common import (
    DESCRIPTION,
    JAMBI,
    STEP_TIMEOUT,
    TOKEN,
    Citizen,
    Clock,
    SideResult,
    api_calls_note,
    body,
    cpu_seconds,
    gather_users,
    payloads,
    peak_rss_mb,
    places,
    real_data,
)
from bot.app import SikesalApp
from bot.config import AppConfig, load_config
from bot.delivery.ratelimit import RateLimits
from bot.services.staff import create_link_code
from localapi.telegram import StoredMessage, TelegramServer, make_jpeg
from storage.db import default_database_url

ROOT = Path(__file__).resolve().parents[1]
#: Telegram's limits lifted: the per-group 20 messages/minute would otherwise dominate
#: confirm-to-card in a burst (200 cards for 5 groups = minutes). The e2e and delivery tests cover
#: limit compliance; the benchmark measures SiKesal's own overhead.
NO_LIMITS = RateLimits(global_per_second=1e6, private_per_second=1e6, group_per_minute=1e9)
#: one category per agency, so cards spread over the five agency groups
CATEGORIES = ("jalan", "lampu", "sampah", "air", "layanan")
TRACKING = re.compile(r"[A-Z]{2,5}-\d{4}-\d{4,}")
BENCH_DB_PREFIX = "sikesal_bench_"
RESULTS = Path(__file__).resolve().parent / "results"


@contextlib.asynccontextmanager
async def fresh_database(url: str | None, tmp: Path) -> AsyncIterator[tuple[str, str]]:
    """(database URL, backend name): a temporary SQLite file, or a new PostgreSQL database created
    through ``url`` (a maintenance database such as ``postgresql+asyncpg://postgres@127.0.0.1/test``)
    and dropped afterwards."""
    if url is None or make_url(url).get_backend_name() == "sqlite":
        yield (url or default_database_url(tmp / "data")), "sqlite"
        return
    name = f"{BENCH_DB_PREFIX}{int(time.time())}_{secrets.token_hex(4)}"
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(url).set(database=name).render_as_string(hide_password=False), "postgres"
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def link_groups(server: TelegramServer, app: SikesalApp, config: AppConfig) -> dict[str, int]:
    """One group per agency, linked the way an admin does it: a link code and ``/link CODE``."""
    assert app.runtime is not None
    groups: dict[str, int] = {}
    for agency in config.agencies:
        staff = server.create_user(f"Staf {agency.upper()}")
        group = server.create_group(f"Laporan {agency.upper()}", [staff], admins=[staff])
        code = await create_link_code(app.runtime, agency)
        await server.wait_for_message(group.id, lambda m: "/link" in body(m), timeout=STEP_TIMEOUT, new_only=False)
        staff.send_text(f"/link {code}", chat=group.id)
        name: str = config.agencies[agency].name["id"]

        def linked(message: StoredMessage, name: str = name) -> bool:
            return name in body(message)

        await server.wait_for_message(group.id, linked, timeout=STEP_TIMEOUT, new_only=False)
        groups[agency] = group.id
    return groups


async def file_one(
    citizen: Citizen, category: str, group_id: int, photo: bytes, confirm_to_card: list[float],
    spot: tuple[float, float] = JAMBI,
) -> None:
    """The whole filing, as the e2e ``file_complaint`` walks it, then wait for the agency card."""
    greeting = await citizen.say("/start")
    if "menu:new" not in payloads(greeting):
        raise AssertionError(f"no menu after /start: {body(greeting)[:80]!r}")
    await citizen.tap("menu:new")
    await citizen.tap(f"cat:{category}")
    await citizen.say(DESCRIPTION)
    location_prompt = await citizen.photo(photo)
    if "photo:done" in payloads(location_prompt):  # asked for more photos: we are done
        location_prompt = await citizen.tap("photo:done")
    ack = await citizen.location(*spot)  # "📍 Lokasi diterima." and the summary: one message
    # its buttons are put on right after it is sent (the same message loses the location keyboard)
    deadline = time.monotonic() + STEP_TIMEOUT
    while "sum:send" not in payloads(ack):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    summary = ack
    if "sum:send" not in payloads(summary):
        raise AssertionError(f"no summary after the location: {body(summary)[:80]!r}")
    target = citizen.last_with_button("sum:send")
    sent_at = time.perf_counter()
    confirmation = await citizen.act(lambda: citizen.user.press_button(target.message_id, real_data(target, "sum:send")))
    found = TRACKING.search(body(confirmation))
    if found is None:
        raise AssertionError(f"no tracking number in the confirmation: {body(confirmation)[:120]!r}")
    number = found.group(0)
    card = await citizen.server.wait_for_message(
        group_id, lambda m: number in body(m), timeout=STEP_TIMEOUT, new_only=False
    )
    confirm_to_card.append(citizen.clock.at(card) - sent_at)


async def run(users: int, database_url: str | None, *, profile: bool = False, polling_timeout: int = 10) -> SideResult:
    config = load_config(ROOT / "config.yaml")
    photo = make_jpeg()
    with tempfile.TemporaryDirectory(prefix="sikesal-bench-") as tmpdir:
        tmp = Path(tmpdir)
        async with fresh_database(database_url, tmp) as (url, backend):
            result = SideResult(side="sikesal", backend=backend, users=users)
            async with TelegramServer(TOKEN, rate_limits=False) as server:
                clock = Clock(server)
                app = SikesalApp(
                    config,
                    database_url=url,
                    media_dir=tmp / "media",
                    token=TOKEN,
                    api_base=server.base_url,
                    polling_timeout=polling_timeout,
                    rate_limits=NO_LIMITS,
                    sweep_interval=3600,
                    http_port=0,  # the web server always runs (health, webhooks): any free port
                )
                await app.start()
                statements = count_statements(app) if profile else None
                try:
                    groups = await link_groups(server, app, config)
                    citizens = [
                        Citizen(server, clock, server.create_user(f"Warga {i}"), result.latencies)
                        for i in range(users)
                    ]
                    calls_before = Counter(server.calls)
                    if statements is not None:
                        statements.update(sql=0, tx=0)
                    profiler = cProfile.Profile() if profile else None
                    cpu0 = cpu_seconds()
                    started = time.perf_counter()
                    if profiler is not None:
                        profiler.enable()
                    coros = []
                    # every citizen at their own spot: nobody is offered another's complaint as "the same problem"
                    spots = places(len(citizens))
                    for i, citizen in enumerate(citizens):
                        category = CATEGORIES[i % len(CATEGORIES)]
                        agency = config.categories[category].agency
                        coros.append(file_one(citizen, category, groups[agency], photo, result.confirm_to_card,
                                              spots[i]))
                    await gather_users(coros, result)
                    if profiler is not None:
                        profiler.disable()
                        report_profile(profiler)
                    result.seconds = time.perf_counter() - started
                    result.cpu_seconds = cpu_seconds() - cpu0
                    result.filings = len(result.confirm_to_card)
                    result.updates = sum(c.updates for c in citizens)
                    result.notes.append(api_calls_note(server, calls_before, result.updates))
                    if statements is not None:
                        result.notes.append(
                            f"{statements['sql'] / max(1, result.updates):.1f} SQL statements and "
                            f"{statements['tx'] / max(1, result.updates):.1f} transactions per update"
                        )
                finally:
                    await app.stop()
                result.spec_violations = len(server.spec_violations)
    result.peak_rss_mb = peak_rss_mb()
    return result


def count_statements(app: SikesalApp) -> dict[str, int]:
    """SQL statements and transactions (BEGIN) the app runs (only with ``--profile``: it costs a little)."""
    assert app.engine is not None
    counts = {"sql": 0, "tx": 0}

    @event.listens_for(app.engine.sync_engine, "before_cursor_execute")
    def _statement(*_args: Any) -> None:
        counts["sql"] += 1

    @event.listens_for(app.engine.sync_engine, "begin")
    def _begin(*_args: Any) -> None:
        counts["tx"] += 1

    return counts


def report_profile(profiler: cProfile.Profile) -> None:
    """Top functions by own time and by cumulative time, on stderr; the raw stats in bench/results."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "profile-sikesal.pstats"
    profiler.dump_stats(str(path))
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(30)
    stats.sort_stats("cumulative").print_stats(40)
    print(out.getvalue(), file=sys.stderr)
    print(f"profile written to {path} (open with: python -m pstats {path})", file=sys.stderr)


def main(users: int, database_url: str | None, *, profile: bool = False) -> SideResult:
    return asyncio.run(run(users, database_url, profile=profile))
