"""``bench.speed``'s load scenarios: the flood (100 complaints to one agency group within a minute, limits on)
and memory with 10,000 open drafts. Each runs a fresh local server, database and bot process."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from bench.common import places
from bench.sikesal_side import fresh_database
from bench.speed_flows import DESCRIPTIONS, Person, wait_until
from bench.speed_procs import bench_config, prepare_database, sikesal_bot
from bench.speed_scenarios import flood_count, server_limits
from localapi.telegram import TelegramServer
from storage.api_keys import ApiKeyRepo
from storage.models import Citizen, ConversationRow
from tests.multiproc.procs import CATEGORY_AGENCY, TOKEN, TRACKING, Recorder, body

OPEN311_KEY = "bench-speed-open311-key-0123456789"
#: the flood's category and so its one agency group (no photo required: Open311 files it without one)
FLOOD_CATEGORY = "lampu"
#: the drafts' category (no photo required) and the step every seeded citizen is in
DRAFT_CATEGORY = "layanan"


async def _add_key(sessionmaker: Any) -> None:
    async with sessionmaker() as session:
        await ApiKeyRepo(session).add("bench-speed", OPEN311_KEY)
        await session.commit()


async def flood(count: int, spread: float, *, give_up: float = 180.0) -> dict[str, Any]:
    """``count`` complaints for one agency filed through Open311 (the bot's own filing service) evenly within
    ``spread`` seconds, limits on. Seconds from the first filing until every complaint's number has appeared in
    the agency's group (in a card or a digest), and the server's 429s. Stops there: the cards' full drain at
    20 a minute is not waited for."""
    with tempfile.TemporaryDirectory(prefix="sikesal-speed-") as tmpdir:
        tmp = Path(tmpdir)
        async with TelegramServer(TOKEN, rate_limits=server_limits()) as server:
            recorder = Recorder(server)
            async with fresh_database(None, tmp) as (url, _backend):
                config = bench_config(tmp / "config.yaml", limits=True)
                await prepare_database(url, config, tmp, seed=_add_key)
                async with sikesal_bot(server, url, tmp, config) as bot:
                    group = bot.groups[CATEGORY_AGENCY[FLOOD_CATEGORY]][0]
                    floods_before = flood_count(server, recorder)
                    seen_from = len(recorder.seen)
                    filed: dict[str, float] = {}
                    errors: list[str] = []
                    spots = places(count)
                    started = time.monotonic()

                    async def post(session: aiohttp.ClientSession, n: int) -> None:
                        await asyncio.sleep(max(0.0, started + n * spread / count - time.monotonic()))
                        form = {"api_key": OPEN311_KEY, "service_code": FLOOD_CATEGORY, "lat": str(spots[n][0]),
                                "long": str(spots[n][1]), "description": f"{DESCRIPTIONS[1]} (tiang {n + 1})"}
                        at = time.monotonic()
                        async with session.post(f"{bot.url}/open311/v2/requests.json", data=form) as response:
                            text = await response.text()
                        found = TRACKING.search(text)
                        if response.status != 201 or found is None:
                            errors.append(f"POST {n}: {response.status} {text[:160]}")
                        else:
                            filed[found.group(0)] = at

                    async with aiohttp.ClientSession() as session:
                        await asyncio.gather(*(post(session, n) for n in range(count)))
                    first_seen: dict[str, float] = {}

                    def all_visible() -> bool:
                        for seen in recorder.seen[seen_from:]:
                            if seen.chat_id == group:
                                for number in TRACKING.findall(body(seen.message)):
                                    first_seen.setdefault(number, seen.at)
                        return all(number in first_seen for number in filed)

                    done = await wait_until(all_visible, max(1.0, started + give_up - time.monotonic()), step=0.25)
                    visible = [first_seen[n] - filed[n] for n in filed if n in first_seen]
                    group_sends = [s for s in recorder.seen[seen_from:] if s.chat_id == group]
                    return {
                        "side": "sikesal", "complaints": count, "filed": len(filed), "spread_seconds": spread,
                        "all_visible_seconds": round(max(first_seen[n] for n in filed) - started, 1)
                        if done and filed else None,
                        "visible_by_timeout": sum(1 for n in filed if n in first_seen),
                        "timeout_seconds": give_up,
                        "longest_wait_seconds": round(max(visible), 1) if visible else None,
                        "group_messages": sum(1 for s in group_sends if s.kind == "message"),
                        "group_edits": sum(1 for s in group_sends if s.kind == "edit"),
                        "429s": flood_count(server, recorder) - floods_before,
                        "errors": errors[:5], "error_count": len(errors) + (count - len(filed) if not errors else 0),
                        "logged": bot.problems_logged(),
                    }
    raise AssertionError("unreachable")


async def _seed_drafts(url: str, template_user: int, user_ids: list[int]) -> None:
    """Copy the template citizen (and their conversation, a draft waiting for its description) to every one
    of ``user_ids``, in bulk."""
    from sqlalchemy.pool import NullPool

    from storage.db import make_engine

    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as conn:
            citizen = (await conn.execute(select(Citizen.__table__).where(
                Citizen.channel_user_id == str(template_user)))).mappings().one()
            conversation = (await conn.execute(select(ConversationRow.__table__).where(
                ConversationRow.citizen_id == citizen["id"]))).mappings().one()
            first = int((await conn.execute(select(func.max(Citizen.id)))).scalar_one()) + 1
            citizens, conversations = [], []
            for n, user_id in enumerate(user_ids):
                citizens.append({**citizen, "id": first + n, "channel_user_id": str(user_id),
                                 "display_name": f"Warga {n + 1}"})
                conversations.append({**conversation, "citizen_id": first + n})
            for chunk in range(0, len(citizens), 2000):
                await conn.execute(insert(Citizen), citizens[chunk:chunk + 2000])
                await conn.execute(insert(ConversationRow), conversations[chunk:chunk + 2000])
    finally:
        await engine.dispose()


async def drafts(count: int, *, concurrency: int = 100, budget: float = 240.0) -> dict[str, Any]:
    """RSS of the bot process with ``count`` citizens with open drafts, limits lifted. One citizen starts a
    draft through the bot (``/start``, new complaint, category); the others are copies of that citizen and
    their conversation inserted in bulk. Then every citizen sends their description (an update that loads
    and saves their draft), ``concurrency`` at a time, and the bot process's RSS is read (also sampled
    throughout: the peak). Citizens not reached within ``budget`` seconds are left out and the RSS for all
    ``count`` is extrapolated from the growth per touched draft (said in the figures)."""
    with tempfile.TemporaryDirectory(prefix="sikesal-speed-") as tmpdir:
        tmp = Path(tmpdir)
        async with TelegramServer(TOKEN, rate_limits=False) as server:
            async with fresh_database(None, tmp) as (url, _backend):
                config = bench_config(tmp / "config.yaml", limits=False)
                await prepare_database(url, config, tmp)
                async with sikesal_bot(server, url, tmp, config, link=False) as bot:
                    people = [Person(server, server.create_user(f"Warga {i}")) for i in range(count)]
                    template = people[0]
                    await template.act(lambda: template.user.send_text("/start"))
                    await template.tap("menu:new")
                    await template.tap(f"cat:{DRAFT_CATEGORY}")
                    seeded_at = time.monotonic()
                    await _seed_drafts(url, template.chat_id, [p.chat_id for p in people[1:]])
                    seed_seconds = time.monotonic() - seeded_at
                    rss_before = bot.rss()
                    peak = rss_before
                    limit = asyncio.Semaphore(concurrency)
                    errors: list[str] = []

                    touched = 0

                    async def describe(person: Person) -> None:
                        nonlocal touched
                        async with limit:
                            if time.monotonic() - started > budget:
                                return
                            touched += 1
                            try:
                                await person.act(lambda: person.user.send_text(DESCRIPTIONS[2]))
                            except (AssertionError, TimeoutError) as exc:
                                errors.append(f"{type(exc).__name__}: {exc}"[:200])

                    async def sample() -> None:
                        nonlocal peak
                        while True:
                            with contextlib.suppress(Exception):
                                peak = max(peak, bot.rss())
                            await asyncio.sleep(0.5)

                    sampler = asyncio.create_task(sample())
                    started = time.monotonic()
                    try:
                        await asyncio.gather(*(describe(p) for p in people))
                    finally:
                        sampler.cancel()
                    seconds = time.monotonic() - started
                    rss_after = bot.rss()
                    waiting = await _still_at(url, "description") - (count - touched)
                    per_draft = (rss_after - rss_before) / max(1, touched)
                    return {
                        "side": "sikesal", "drafts": count, "seed_seconds": round(seed_seconds, 1),
                        "touched": touched, "budget_seconds": budget,
                        "touch_seconds": round(seconds, 1), "updates_per_s": round(touched / seconds, 1),
                        "rss_before_mb": round(rss_before, 1), "rss_after_mb": round(rss_after, 1),
                        "rss_peak_mb": round(max(peak, rss_after), 1),
                        "kb_per_draft": round(per_draft * 1024, 2),
                        "rss_mb": round(rss_after + per_draft * (count - touched), 1),
                        "extrapolated": touched < count,
                        "drafts_not_updated": waiting,
                        "errors": errors[:5], "error_count": len(errors), "logged": bot.problems_logged(),
                    }
    raise AssertionError("unreachable")


async def _still_at(url: str, step: str) -> int:
    """Conversations still at ``step`` (a draft the bot did not update)."""
    from sqlalchemy.pool import NullPool

    from storage.db import make_engine

    engine = make_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(
                select(func.count()).select_from(ConversationRow).where(ConversationRow.step == step))).scalar_one())
    finally:
        await engine.dispose()
