"""The bot as a real separate process (``sikesal run``), for tests that kill it with SIGKILL.

The local Telegram server runs in the test process; the bot talks to it over HTTP exactly as to
api.telegram.org. :class:`BotProcess` starts it with its own configuration (Telegram's delivery limits
lifted so the test is not throttled, no geocoder), waits until its web server answers ``/healthz``,
kills it with ``kill -9`` and restarts it with the same environment. Everything the processes print goes to
one log file (:meth:`BotProcess.log_tail` for a failure message).

Each bot process (and each ``sikesal agency link-code``) is forked from :mod:`tests.chaos.forkserver`, which
has imported the bot once per test session (importing takes seconds of CPU, a restart should not) and runs
``bot.cli.main(argv)`` in the child with the bot's environment, exactly what the ``sikesal`` script runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

import bot

#: the project root whose code the bot process runs: the tree the tests import ``bot`` from (a private
#: worktree when the tests run from one), not wherever the ``sikesal`` script was installed from
ROOT = Path(bot.__file__).resolve().parents[1]
FORKSERVER = Path(__file__).with_name("forkserver.py")
TOKEN = "123456:CHAOS-token-for-kill-tests"
LINK_CODE = re.compile(r"^Link code for .*: (\S+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fast_config(tmp: Path) -> Path:
    """A copy of config.yaml with Telegram's limits lifted and no geocoder (no internet in tests)."""
    data: dict[str, Any] = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    delivery = data.setdefault("delivery", {})
    delivery.update(global_per_second=1000, private_per_second=1000, group_per_minute=100000)
    geography = data.setdefault("geography", {})
    geography.setdefault("geocoder", {})["enabled"] = False
    for category in data["categories"].values():  # Selesai resolves at once: the kills race status presses
        category["proof_photo"] = "off"
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def bot_env(tmp: Path, *, api_base: str, database_url: str, http_port: int) -> dict[str, str]:
    """The environment of ``sikesal run`` against the local server (no ``.env`` from the developer's checkout:
    the process runs in ``tmp``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SIKESAL_", "TELEGRAM_", "TWILIO_"))}
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=api_base,
        DATABASE_URL=database_url,
        SIKESAL_DATA_DIR=str(tmp / "data"),
        SIKESAL_CONFIG=str(fast_config(tmp)),
        SIKESAL_HTTP_HOST="127.0.0.1",
        SIKESAL_HTTP_PORT=str(http_port),
        SIKESAL_METRICS_PORT="0",
        SIKESAL_LOG_LEVEL="WARNING",
        SIKESAL_SECRET_KEY="c2lrZXNhbC1tdWx0aXByb2MtdGVzdC1zZWNyZXQtayE=",  # the dashboard's, one for all
        PYTHONPATH=str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        PYTHONUNBUFFERED="1",
    )
    return env


class ForkServer:
    """The running :mod:`tests.chaos.forkserver` (one per test session)."""

    def __init__(self, log: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"]
                                                        if os.environ.get("PYTHONPATH") else "")}
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, str(FORKSERVER)], cwd=ROOT, env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # seconds: it imports the bot
        assert line.strip() == b"warm", f"the fork server did not start: {log.read_text(errors='replace')}"

    def fork(self, argv: list[str], *, env: dict[str, str], cwd: Path, output: Path) -> int:
        """A new ``sikesal <argv>`` process; returns its pid at once (a fork takes milliseconds)."""
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.poll() is None
        request = {"argv": argv, "env": env, "cwd": str(cwd), "output": str(output)}
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        self.proc.stdin.flush()
        return int(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def gone(pid: int, timeout: float) -> bool:
    """Until the process has ended (False: still there after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.01)
    return True


class BotProcess:
    """``sikesal run`` in ``tmp`` (forked from the fork server); start, kill -9, restart, stop."""

    def __init__(self, forks: ForkServer, tmp: Path, *, api_base: str, database_url: str) -> None:
        self.forks = forks
        self.tmp = tmp
        self.http_port = free_port()
        self.env = bot_env(tmp, api_base=api_base, database_url=database_url, http_port=self.http_port)
        self.log_path = tmp / "bot.log"
        self.pid: int | None = None
        self.starts = 0
        self.kills = 0
        #: (what, seconds since the test started) of every start, ready and kill, for the report
        self.events: list[tuple[str, float]] = []
        self._t0 = time.monotonic()
        self._cli_runs = 0

    def _event(self, what: str) -> None:
        self.events.append((what, round(time.monotonic() - self._t0, 2)))

    def start(self) -> None:
        """A new bot process (returns at once; :meth:`wait_ready` waits until it serves)."""
        assert not self.alive(), "the bot is still running"
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts} =====\n".encode())
        self.pid = self.forks.fork(["run"], env=self.env, cwd=self.tmp, output=self.log_path)
        self._event(f"start #{self.starts} (pid {self.pid})")

    def alive(self) -> bool:
        return alive(self.pid)

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until ``/healthz`` answers (the bot has connected, migrated, registered its commands, serves)."""
        url = f"http://127.0.0.1:{self.http_port}/healthz"
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while True:
                if not self.alive():
                    raise AssertionError(f"the bot exited:\n{self.log_tail()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(url) as resp:
                        if resp.status == 200:
                            self._event(f"ready #{self.starts}")
                            return
                if time.monotonic() > deadline:
                    raise AssertionError(f"the bot did not answer /healthz in {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.05)

    def sigkill(self) -> None:
        """Send ``kill -9`` now (synchronous: usable inside the local server while it handles the bot's call)."""
        assert self.pid is not None and self.alive(), "the bot is not running"
        os.kill(self.pid, signal.SIGKILL)

    async def kill(self, *, signalled: bool = False) -> None:
        """``kill -9`` (unless :meth:`sigkill` already sent it) and wait until the process is gone: no shutdown,
        no cleanup, whatever was in flight is cut off."""
        if not signalled:
            self.sigkill()
        assert self.pid is not None
        assert await gone(self.pid, 10), f"pid {self.pid} survived SIGKILL"
        self.kills += 1
        self._event(f"kill #{self.kills}")

    async def restart(self, timeout: float = 60.0) -> None:
        self.start()
        await self.wait_ready(timeout)

    async def stop(self, *, graceful: bool = False, timeout: float = 20.0) -> None:
        """End the bot: SIGKILL (the test is over), or SIGTERM first when ``graceful``."""
        if not self.alive():
            return
        assert self.pid is not None
        if graceful:
            os.kill(self.pid, signal.SIGTERM)
            if await gone(self.pid, timeout):
                return
        os.kill(self.pid, signal.SIGKILL)
        await gone(self.pid, 10)

    async def cli(self, *args: str) -> str:
        """Another ``sikesal`` command with the bot's environment, as an operator runs it beside the bot."""
        self._cli_runs += 1
        output = self.tmp / f"cli-{self._cli_runs}.out"
        pid = self.forks.fork(list(args), env=self.env, cwd=self.tmp, output=output)
        assert await gone(pid, 60), f"sikesal {' '.join(args)} did not finish"
        text = output.read_text(encoding="utf-8", errors="replace") if output.exists() else ""
        status = output.with_name(output.name + ".exit")
        code = status.read_text().strip() if status.exists() else "?"
        assert code == "0", f"sikesal {' '.join(args)} exited with {code}:\n{text}"
        return text

    async def link_code(self, agency: str) -> str:
        """``sikesal agency link-code AGENCY``, as an operator runs it; returns the code."""
        output = await self.cli("agency", "link-code", agency)
        match = LINK_CODE.search(output)
        assert match, f"no link code in:\n{output}"
        return match.group(1)

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])
