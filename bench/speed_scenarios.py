"""``bench.speed``'s chat scenarios: limits lifted (CPU per update, updates/s), a person's pace and saturation
(limits on). Each runs a fresh local server, a fresh database and a fresh bot process, and returns its figures
as a plain dict (seconds, not milliseconds, except where the key says ``_ms``)."""

from __future__ import annotations

import random
import tempfile
from pathlib import Path
from typing import Any

from bench.common import percentile, places
from bench.sikesal_side import fresh_database
from bench.speed_flows import (
    DESCRIPTIONS,
    Outcome,
    Person,
    answers_by_kind,
    card_delays,
    no_pause,
    noop_filing,
    person_pace,
    run_people,
    sends,
    sikesal_filing,
    wait_until,
    whole_answers,
)
from bench.speed_procs import BotUnderTest, bench_config, noop_bot, prepare_database, sikesal_bot
from localapi.telegram import TelegramServer, make_jpeg
from tests.multiproc.procs import CATEGORY_AGENCY, TOKEN, Recorder

CATEGORIES = list(CATEGORY_AGENCY)
#: how long the cards of a run may take to appear after the last citizen filed
CARD_TIMEOUT = 120.0


def server_limits() -> str:
    """The limits the local server enforces in the limits-on scenarios: Telegram's, counted strictly in sliding
    windows ("at most N in any W seconds": 30 in any second overall, 3 in any second and 10 in any 10 s per
    private chat, 20 sends and edits in any 60 s per group), not the lenient buckets of the default mode."""
    return "strict"


def flood_count(server: TelegramServer, recorder: Recorder) -> int:
    """The 429s the server answered (its own count; the recorder's if it is higher, which it never should be)."""
    return max(server.rate_limited, len(recorder.floods))


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def latency_figures(values: list[float], prefix: str) -> dict[str, Any]:
    return {f"{prefix}_p50_ms": ms(percentile(values, 50)), f"{prefix}_p99_ms": ms(percentile(values, 99)),
            f"{prefix}_samples": len(values)}


async def _cards_in(recorder: Recorder, people: list[Person], bot: BotUnderTest, within: float) -> list[float]:
    """Confirm-to-card delays, once every complaint is in its group (or ``within`` seconds passed)."""
    group_ids = [chat for chat, _staff in bot.groups.values()]
    await wait_until(lambda: card_delays(recorder, people, group_ids)[1] == 0, within, step=0.25)
    return card_delays(recorder, people, group_ids)[0]


def _errors(outcome: Outcome, bot: BotUnderTest) -> dict[str, Any]:
    return {"errors": outcome.errors[:5], "error_count": len(outcome.errors), "logged": bot.problems_logged()}


async def lifted(side: str, users: int, *, postgres: str | None = None) -> dict[str, Any]:
    """Telegram's limits lifted, ``users`` citizens filing at once without pause: bot CPU per update and
    updates/s (first action to the last citizen's confirmation and, for SiKesal, the last card)."""
    photo = make_jpeg()
    with tempfile.TemporaryDirectory(prefix="sikesal-speed-") as tmpdir:
        tmp = Path(tmpdir)
        async with TelegramServer(TOKEN, rate_limits=False) as server:
            recorder = Recorder(server)
            if side == "noop":
                async with noop_bot(server, tmp) as bot:
                    people = [Person(server, server.create_user(f"Warga {i}")) for i in range(users)]
                    spots = places(users)
                    cpu0 = bot.cpu()
                    outcome = await run_people([noop_filing(p, photo, spots[i], DESCRIPTIONS[0], no_pause)
                                                for i, p in enumerate(people)])
                    cpu = bot.cpu() - cpu0
                    return _lifted_figures(side, "-", people, outcome, outcome.seconds, cpu, bot, recorder, [])
            async with fresh_database(postgres, tmp) as (url, backend):
                config = bench_config(tmp / "config.yaml", limits=False)
                await prepare_database(url, config, tmp)
                async with sikesal_bot(server, url, tmp, config) as bot:
                    people = [Person(server, server.create_user(f"Warga {i}")) for i in range(users)]
                    spots = places(users)
                    cpu0 = bot.cpu()
                    outcome = await run_people([
                        sikesal_filing(p, CATEGORIES[i % len(CATEGORIES)], spots[i], photo, DESCRIPTIONS[0], no_pause)
                        for i, p in enumerate(people)])
                    cards = await _cards_in(recorder, people, bot, CARD_TIMEOUT)
                    cpu = bot.cpu() - cpu0
                    last_card = max((s.at for s in recorder.seen if s.chat_id < 0), default=outcome.ended)
                    seconds = max(outcome.ended, last_card) - outcome.started
                    return _lifted_figures(side, backend, people, outcome, seconds, cpu, bot, recorder, cards)
    raise AssertionError("unreachable")


def _lifted_figures(side: str, backend: str, people: list[Person], outcome: Outcome, seconds: float, cpu: float,
                    bot: BotUnderTest, recorder: Recorder, cards: list[float]) -> dict[str, Any]:
    updates = sum(len(p.actions) for p in people)
    return {
        "side": side, "backend": backend, "users": len(people), "updates": updates,
        "filings": sum(len(p.filed) for p in people) if side == "sikesal" else len(people) - len(outcome.errors),
        "seconds": round(seconds, 2),
        "updates_per_s": round(updates / seconds, 1) if seconds else None,
        "bot_cpu_seconds": round(cpu, 2),
        "cpu_ms_per_update": round(cpu / updates * 1000, 2) if updates else None,
        "bot_rss_mb": round(bot.rss(), 1),
        **latency_figures(whole_answers(recorder, people), "answer"),
        **latency_figures(cards, "card"),
        **_errors(outcome, bot),
    }


async def pace(side: str, citizens: int, rounds: int, *, seed: int) -> dict[str, Any]:
    """Limits on: ``citizens`` citizens filing ``rounds`` complaints each, 1-3 s between actions. The whole
    answer to each action (all its messages) and, for SiKesal, confirm-to-card."""
    rng = random.Random(seed)
    photo = make_jpeg()
    spots = places(citizens * rounds)

    async def one(person: Person, index: int, bot: BotUnderTest) -> None:
        pause = person_pace(random.Random(rng.random()))
        await pause()  # people do not start at the same instant
        for r in range(rounds):
            spot, description = spots[index * rounds + r], DESCRIPTIONS[(index + r) % len(DESCRIPTIONS)]
            if bot.kind == "noop":
                await noop_filing(person, photo, spot, description, pause)
            else:
                category = CATEGORIES[(index + r) % len(CATEGORIES)]
                await sikesal_filing(person, category, spot, photo, description, pause)
            await pause()

    with tempfile.TemporaryDirectory(prefix="sikesal-speed-") as tmpdir:
        tmp = Path(tmpdir)
        async with TelegramServer(TOKEN, rate_limits=server_limits()) as server:
            recorder = Recorder(server)
            if side == "noop":
                async with noop_bot(server, tmp) as bot:
                    people = [Person(server, server.create_user(f"Warga {i}")) for i in range(citizens)]
                    outcome = await run_people([one(p, i, bot) for i, p in enumerate(people)])
                    return _pace_figures(side, people, outcome, bot, server, recorder, [])
            async with fresh_database(None, tmp) as (url, _backend):
                config = bench_config(tmp / "config.yaml", limits=True)
                await prepare_database(url, config, tmp)
                async with sikesal_bot(server, url, tmp, config) as bot:
                    people = [Person(server, server.create_user(f"Warga {i}")) for i in range(citizens)]
                    outcome = await run_people([one(p, i, bot) for i, p in enumerate(people)])
                    cards = await _cards_in(recorder, people, bot, CARD_TIMEOUT)
                    return _pace_figures(side, people, outcome, bot, server, recorder, cards)
    raise AssertionError("unreachable")


def _pace_figures(side: str, people: list[Person], outcome: Outcome, bot: BotUnderTest, server: TelegramServer,
                  recorder: Recorder, cards: list[float]) -> dict[str, Any]:
    return {
        "side": side, "citizens": len(people), "updates": sum(len(p.actions) for p in people),
        "seconds": round(outcome.seconds, 1),
        **latency_figures(whole_answers(recorder, people), "answer"),
        "answer_p99_ms_by_action": {kind: ms(percentile(values, 99))
                                    for kind, values in sorted(answers_by_kind(recorder, people).items())},
        **latency_figures(cards, "card"),
        "429s": flood_count(server, recorder),
        **_errors(outcome, bot),
    }


async def saturated(citizens: int) -> dict[str, Any]:
    """Limits on: ``citizens`` citizens filing at once without pause (SiKesal). The send rate over the busy
    period (first to last message the bot sent, the agency cards included) and in the busiest second, against
    the overall 30 messages a second, and the server's 429s."""
    photo = make_jpeg()
    with tempfile.TemporaryDirectory(prefix="sikesal-speed-") as tmpdir:
        tmp = Path(tmpdir)
        async with TelegramServer(TOKEN, rate_limits=server_limits()) as server:
            recorder = Recorder(server)
            async with fresh_database(None, tmp) as (url, _backend):
                config = bench_config(tmp / "config.yaml", limits=True)
                await prepare_database(url, config, tmp)
                async with sikesal_bot(server, url, tmp, config) as bot:
                    people = [Person(server, server.create_user(f"Warga {i}")) for i in range(citizens)]
                    spots = places(citizens)
                    outcome = await run_people([
                        sikesal_filing(p, CATEGORIES[i % len(CATEGORIES)], spots[i], photo, DESCRIPTIONS[0], no_pause)
                        for i, p in enumerate(people)])
                    cards = await _cards_in(recorder, people, bot, CARD_TIMEOUT)
                    stamps = sorted(sends(recorder, since=outcome.started))
                    busy = stamps[-1] - stamps[0] if len(stamps) > 1 else 0.0
                    return {
                        "side": "sikesal", "citizens": citizens, "updates": sum(len(p.actions) for p in people),
                        "messages_sent": len(stamps), "busy_seconds": round(busy, 1),
                        "send_rate_per_s": round(len(stamps) / busy, 1) if busy else None,
                        "busiest_second": Recorder.busiest_window(stamps, 1.0),
                        "429s": flood_count(server, recorder),
                        "429s_in_groups": sum(1 for flood in recorder.floods if flood[2] < 0),
                        "429s_by_method": dict(server.rate_limited_calls),
                        "429s_by_limit": dict(server.limiter.refused_by) if server.limiter is not None else {},
                        **latency_figures(whole_answers(recorder, people), "answer"),
                        **latency_figures(cards, "card"),
                        **_errors(outcome, bot),
                    }
