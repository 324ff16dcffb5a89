"""The bot under test in its own process, for ``bench.speed``: a real ``sikesal run`` or the no-op aiogram bot.

Both are fed by webhook through the same round-robin proxy (``tests.multiproc.procs``) from the local Bot API
server, which runs in the benchmark's own process with the simulated citizens. The bot process's CPU time and
resident memory are read from outside (psutil), so the server, the proxy and the citizens are not counted.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import psutil
import yaml
from sqlalchemy.pool import NullPool

from bot.config import AppConfig, load_config
from bot.services.runtime import Runtime
from bot.services.staff import create_link_code
from localapi.telegram import TelegramServer
from storage.db import make_engine, make_sessionmaker, upgrade_database
from storage.media import MediaStore
from tests.multiproc.procs import (
    ROOT,
    TOKEN,
    WEBHOOK_SECRET,
    Cluster,
    RoundRobinProxy,
    link_groups,
    write_config,
)

#: Telegram's limits lifted in the bot's sender (the local server then runs with rate_limits=False)
NO_LIMITS = {"global_per_second": 1e6, "private_per_second": 1e6, "group_per_minute": 1e9}
_READY = re.compile(r"no-op bot ready on [^ ]+:(\d+)")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process."""
    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def rss_mb(pid: int) -> float:
    return float(psutil.Process(pid).memory_info().rss) / 2**20


@dataclass
class BotUnderTest:
    """What a scenario needs of the running bot."""

    kind: str  # "sikesal" | "noop"
    pid: int
    #: agency -> (group chat id, staff user); empty for the no-op bot
    groups: dict[str, tuple[int, Any]] = field(default_factory=dict)
    config: AppConfig | None = None
    #: the bot's own web server (health, webhooks, Open311)
    url: str = ""
    log: Callable[[], str] = lambda: ""

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> float:
        return rss_mb(self.pid)

    def problems_logged(self, limit: int = 5) -> list[str]:
        lines = [line[:240] for line in self.log().splitlines() if " ERROR " in line or line.startswith("Traceback")]
        return lines[:limit]


def bench_config(path: Path, *, limits: bool, **categories_agency: str) -> AppConfig:
    """``tests.multiproc.procs.write_config`` (one category per agency, no geocoder, no routing rules,
    Selesai at once), with Telegram's limits in the sender unless ``limits`` is false, no daily cap on
    complaints (the flood files 100 through one Open311 application), and ``categories_agency`` overrides."""
    write_config(path, delivery=None if limits else NO_LIMITS)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    raw.setdefault("abuse", {})["complaints_per_day"] = 10_000
    for category, agency in categories_agency.items():
        raw["categories"][category]["agency"] = agency
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_config(path)


async def prepare_database(url: str, config: AppConfig, tmp: Path,
                           seed: Callable[[Any], Any] | None = None) -> None:
    """The schema (as ``sikesal migrate`` before the process starts), then ``seed(sessionmaker)`` if any."""
    engine = make_engine(url, poolclass=NullPool)
    try:
        await upgrade_database(engine)
        if seed is not None:
            await seed(make_sessionmaker(engine))
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def sikesal_bot(server: TelegramServer, url: str, tmp: Path, config: AppConfig, *,
                      link: bool = True) -> AsyncIterator[BotUnderTest]:
    """One ``sikesal run`` process (webhook mode, behind the proxy) on ``url``, its groups linked."""
    engine = make_engine(url, poolclass=NullPool)
    runtime = Runtime(config=config, sessionmaker=make_sessionmaker(engine), media=MediaStore(tmp / "m"))
    cluster = Cluster(1, server, url, tmp, tmp / "config.yaml", None, log_level="WARNING")
    try:
        await cluster.start()
        process = cluster.processes[0]
        groups = await link_groups(server, config, lambda agency: create_link_code(runtime, agency)) if link else {}
        try:
            yield BotUnderTest("sikesal", process.pid, groups, config, process.url, process.log)
        except BaseException:
            print(f"bot process log (last lines):\n{process.tail(40)}", file=sys.stderr)
            raise
    finally:
        await cluster.stop()
        await engine.dispose()


class _NoopProcess:
    """``python -m bench.noop_bot``, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.port = 0

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.noop_bot"], cwd=ROOT, env=self.env,
                                     stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    async def wait_ready(self, within: float = 60.0) -> None:
        """Until the bot says it serves (its webhook set) and answers /healthz."""
        assert self.proc is not None
        deadline = time.monotonic() + within
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"no-op bot exited ({self.proc.returncode}):\n{self.log()[-2000:]}")
                if found := _READY.search(self.log()):
                    self.port = int(found.group(1))
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with session.get(f"http://127.0.0.1:{self.port}/healthz") as response:
                            if response.status == 200:
                                return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"no-op bot not ready after {within} s:\n{self.log()[-2000:]}")
                await asyncio.sleep(0.2)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)
        if self._log is not None:
            self._log.close()


@contextlib.asynccontextmanager
async def noop_bot(server: TelegramServer, tmp: Path) -> AsyncIterator[BotUnderTest]:
    """The no-op aiogram bot in its own process, fed by webhook through the proxy as SiKesal is."""
    proxy = RoundRobinProxy()
    public = await proxy.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "SIKESAL_"))}
    env.update(TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_BASE=server.base_url, SIKESAL_PUBLIC_URL=public,
               TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET, PYTHONUNBUFFERED="1")
    process = _NoopProcess(env, tmp / "noop.log")
    try:
        process.start()
        await process.wait_ready()
        proxy.upstreams = [f"http://127.0.0.1:{process.port}"]
        assert process.proc is not None
        yield BotUnderTest("noop", process.proc.pid, url=f"http://127.0.0.1:{process.port}", log=process.log)
    finally:
        await process.stop()
        await proxy.stop()
