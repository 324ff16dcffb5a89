"""Several real ``sikesal run`` processes on one PostgreSQL database, driven like production.

Used by ``tests/multiproc`` and by ``bench/multiproc.py``:

* :class:`RoundRobinProxy`: a tiny reverse proxy (aiohttp, in the caller's event loop) in front of the bot
  processes. It is the webhook URL every process registers (``SIKESAL_PUBLIC_URL``); each POST, with its
  headers (the secret token), goes to the next process and the process's answer goes back to the local
  Telegram server. A process that does not answer (refused or dropped connection: it was killed) is skipped
  for the next one, as nginx's ``proxy_next_upstream error`` does; Telegram updates are idempotent on
  ``update_id``, so a POST that reached a dying process may safely go to another.
* :class:`BotProcess` / :class:`Cluster`: ``python -m bot.cli run`` subprocesses with the environment an
  operator sets (webhook mode, one HTTP and one metrics port each, the shared media directory, Redis for
  the limits), logs to files.
* :class:`Recorder`: hooks on the in-process ``TelegramServer`` recording every bot message and edit as it
  was at that moment (the server keeps only the latest version) and every 429 the server answered.
* The workload: citizens filing complete complaints (:func:`file_complaint`), staff pressing the buttons
  on their cards (:func:`work_card`), and the checks on the transcripts (:func:`check_transcripts`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import aiohttp
import yaml
from aiohttp import web

from bench.common import places
from bot.config import AppConfig, load_config
from handlers.flow.versions import bare
from localapi.telegram import StoredMessage, TelegramAPIError, TelegramServer
from localapi.telegram.simulation import SimUser
from localapi.telegram.state import ChatRecord

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:MULTIPROC-token-for-several-processes"
WEBHOOK_SECRET = "multiproc-webhook-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
DESCRIPTION = "Jalan berlubang besar di depan pasar, sangat berbahaya bagi pengendara motor"
TRACKING = re.compile(r"[A-Z]{2,6}-\d{4}-\d{4,}")
#: one category per agency group in the test configuration, so cards spread over all seven groups
CATEGORY_AGENCY = {
    "jalan": "pupr",
    "drainase": "camat_telanaipura",
    "lampu": "dishub",
    "lalin": "camat_kotabaru",
    "sampah": "dlh",
    "air": "pdam",
    "layanan": "jcoc",
}
#: after every filing is in, some citizens send these at once without waiting for the answers: five
#: different replies due in one chat within a fraction of a second (beyond the private chat's burst of 3-4)
#: and, from 20 citizens together, ~100 sends due at once overall (beyond the global burst)
BURST = ("/help", "/laporan", "/status {number}", "/bahasa", "/status")
#: how each of the burst's replies begins (handlers/locales/id), in the order sent
BURST_REPLIES = ("Cara membuat pengaduan", "📋 Pengaduan Anda", "📄 Pengaduan {number}", "Silakan pilih bahasa",
                 "🔎 Ketik nomor pengaduan")
#: how the summary begins (handlers/locales/id: summary.title)
SUMMARY_MARK = "Periksa pengaduan Anda"
#: the lifecycle order of the statuses a card and the notices go through
LIFECYCLE = ("baru", "diterima", "diproses", "selesai")
#: the staff button that moves a complaint into each status
ACTION_FOR = {"diterima": "accept", "diproses": "process", "selesai": "resolve"}
#: how the citizen's status notices read (handlers/locales/id: notify.*)
NOTICE_MARK = {"sudah diterima oleh": "diterima", "sedang ditangani oleh": "diproses",
               "sudah selesai ditangani oleh": "selesai"}
#: the card's first line is "<status label> · <number>" (card.header)
CARD_STATUS = {"baru": "baru", "diterima": "diterima", "diproses": "diproses", "selesai": "selesai"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def body(message: StoredMessage | dict[str, Any]) -> str:
    if isinstance(message, dict):
        return str(message.get("text") or "") + str(message.get("caption") or "")
    return (message.text or "") + (message.caption or "")


def payloads(message: StoredMessage | dict[str, Any]) -> list[str]:
    if isinstance(message, dict):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        return [bare(b["callback_data"]) for row in rows for b in row if "callback_data" in b]
    return [bare(b["callback_data"]) for b in message.buttons() if "callback_data" in b]


def real_data(message: StoredMessage, payload: str) -> str:
    """The callback data (with the bot's menu version) of the button ``payload`` names on ``message``."""
    return next((str(b["callback_data"]) for b in message.buttons() if bare(str(b.get("callback_data", ""))) == payload),
                payload)


# -- configuration and places ------------------------------------------------------------------------------


def write_config(path: Path, *, delivery: dict[str, Any] | None = None) -> AppConfig:
    """A copy of config.yaml for the processes: one category per agency (all seven groups get cards), no
    kecamatan rules, no geocoder (no internet in tests), ``delivery`` overrides (Telegram's real limits
    unless the caller lifts them). Validated like ``sikesal run`` does."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text(encoding="utf-8"))
    raw.setdefault("geography", {}).setdefault("geocoder", {})["enabled"] = False
    for category, agency in CATEGORY_AGENCY.items():
        raw["categories"][category]["agency"] = agency
    for category in raw["categories"].values():  # Selesai resolves at once: these runs race the status presses
        category["proof_photo"] = "off"
    raw["routing"]["rules"] = []
    if delivery:
        raw.setdefault("delivery", {}).update(delivery)
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return load_config(path)


# -- the reverse proxy -------------------------------------------------------------------------------------


class RoundRobinProxy:
    """Forwards every request to the next upstream (see the module docstring)."""

    def __init__(self, upstreams: Sequence[str] = ()) -> None:
        self.upstreams = list(upstreams)
        #: upstream -> requests it answered
        self.answered: Counter[str] = Counter()
        #: requests that had to skip a dead upstream, and requests no upstream answered
        self.skipped = 0
        self.unanswered = 0
        self._turn = itertools.count()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
        app = web.Application(client_max_size=1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.url = f"http://{host}:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        data = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() in (SECRET_HEADER.lower(), "content-type")}
        upstreams = list(self.upstreams)
        first = next(self._turn)
        for n in range(len(upstreams)):
            upstream = upstreams[(first + n) % len(upstreams)]
            try:
                async with self._session.request(
                    request.method, upstream + request.path_qs, data=data, headers=headers,
                    timeout=aiohttp.ClientTimeout(total=60),
                ) as response:
                    answer = await response.read()
                    self.answered[upstream] += 1
                    return web.Response(status=response.status, body=answer,
                                        content_type=response.content_type or "text/plain")
            except (aiohttp.ClientConnectionError, TimeoutError):
                self.skipped += 1  # refused or dropped: the process is gone, the next one takes it
        self.unanswered += 1
        return web.Response(status=502, text="no upstream answered")


# -- bot processes -----------------------------------------------------------------------------------------


def bot_env(
    *, api_base: str, database_url: str, data_dir: Path, config_path: Path, public_url: str, http_port: int,
    metrics_port: int, redis_url: str | None, log_level: str = "INFO",
) -> dict[str, str]:
    """What an operator puts in /etc/sikesal/env, per process (ports differ); nothing inherited that could
    change the bot's behaviour (TWILIO_*, NOMINATIM_URL, another DATABASE_URL...)."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("TELEGRAM_", "TWILIO_", "SIKESAL_", "NOMINATIM_", "DATABASE_URL"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE=api_base,
        DATABASE_URL=database_url,
        SIKESAL_DATA_DIR=str(data_dir),
        SIKESAL_CONFIG=str(config_path),
        TELEGRAM_WEBHOOK="true",
        SIKESAL_PUBLIC_URL=public_url,
        TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        SIKESAL_HTTP_HOST="127.0.0.1",
        SIKESAL_HTTP_PORT=str(http_port),  # 0: any free port
        SIKESAL_METRICS_PORT=str(metrics_port),
        SIKESAL_LOG_LEVEL=log_level,
        SIKESAL_SECRET_KEY="c2lrZXNhbC1tdWx0aXByb2MtdGVzdC1zZWNyZXQtayE=",  # the dashboard's, one for all
        PYTHONUNBUFFERED="1",
    )
    if redis_url:
        env["SIKESAL_REDIS_URL"] = redis_url
    return env


#: what ``sikesal run`` prints once it serves (bot.cli)
_SERVING = re.compile(r"SiKesal is running: .*web server on [^ ]+:(\d+)")


@dataclass
class BotProcess:
    """One ``python -m bot.cli run`` (what ``sikesal run`` is), its output in ``log_path``."""

    index: int
    env: dict[str, str]
    http_port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    #: write a cProfile of the process here when it stops cleanly (SIGTERM), for the benchmark
    profile: Path | None = None
    _log: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def owner_pattern(self) -> str:
        """A SQL LIKE pattern matching this process's lease owner (``host:pid:random``)."""
        return f"%:{self.pid}:%"

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        profiler = ["-m", "cProfile", "-o", str(self.profile)] if self.profile is not None else []
        self.proc = subprocess.Popen(
            [sys.executable, *profiler, "-m", "bot.cli", "run"], cwd=ROOT, env=self.env, stdout=self._log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Until the process says it runs (after setWebhook) and answers /healthz; learns its web server's
        port from that line (the processes bind port 0: no race with anything else on the machine)."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if not self.alive():
                    raise RuntimeError(f"bot process {self.index} exited ({self.proc and self.proc.returncode}):\n"
                                       f"{self.tail()}")
                found = _SERVING.search(self.log())
                if found:
                    self.http_port = int(found.group(1))
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        async with session.get(self.url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                            if r.status == 200:
                                return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bot process {self.index} not ready after {timeout} s:\n{self.tail()}")
                await asyncio.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as a crash or the OOM killer."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._close_log()

    async def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (finish in-flight work, as systemd does), then SIGKILL if it hangs."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)
        self._close_log()
        return self.proc.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Cluster:
    """``count`` bot processes sharing one database, one media directory and one Redis, behind the proxy."""

    count: int
    server: TelegramServer
    database_url: str
    workdir: Path
    config_path: Path
    redis_url: str | None
    log_level: str = "INFO"
    #: cProfile every process into this directory (``bot-<n>.pstats``)
    profile_dir: Path | None = None
    proxy: RoundRobinProxy = field(default_factory=RoundRobinProxy)
    processes: list[BotProcess] = field(default_factory=list)

    async def start(self, timeout: float = 90.0) -> None:
        public_url = await self.proxy.start()
        data_dir = self.workdir / "data"  # one media directory, as on one host
        data_dir.mkdir(parents=True, exist_ok=True)
        for i in range(self.count):
            env = bot_env(  # ports 0: each process binds free ones (and says which)
                api_base=self.server.base_url, database_url=self.database_url, data_dir=data_dir,
                config_path=self.config_path, public_url=public_url, http_port=0, metrics_port=0,
                redis_url=self.redis_url, log_level=self.log_level,
            )
            profile = self.profile_dir / f"bot-{i}.pstats" if self.profile_dir is not None else None
            self.processes.append(BotProcess(i, env, 0, self.workdir / f"bot-{i}.log", profile=profile))
        for process in self.processes:
            process.start()
        await asyncio.gather(*(p.wait_ready(timeout) for p in self.processes))
        self.proxy.upstreams = [p.url for p in self.processes]  # no update is on its way before this

    async def stop(self) -> list[int | None]:
        """Stop every process (SIGTERM) and the proxy; the exit codes (-9 for a killed one)."""
        codes = await asyncio.gather(*(p.stop() for p in self.processes), return_exceptions=True)
        await self.proxy.stop()
        return [c if isinstance(c, int) or c is None else -1 for c in codes]

    def problems_logged(self) -> list[str]:
        """ERROR lines and tracebacks in the processes' logs (for the report; some are expected)."""
        found = []
        for process in self.processes:
            for line in process.log().splitlines():
                if " ERROR " in line or line.startswith("Traceback"):
                    found.append(f"bot-{process.index}: {line[:300]}")
        return found


async def flush_redis(url: str) -> None:
    """Empty the Redis database the processes will share (a fresh db number per test)."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


async def redis_reachable(url: str) -> bool:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=2)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


# -- what the server saw -----------------------------------------------------------------------------------


@dataclass
class Seen:
    """One bot message or edit as the server stored it at that moment."""

    at: float
    kind: str  # "message" | "edit"
    chat_id: int
    message: dict[str, Any]

    @property
    def message_id(self) -> int:
        return int(self.message["message_id"])


class Recorder:
    """Hooks on the server: every bot message and edit (snapshots, in order) and every 429 it answered."""

    def __init__(self, server: TelegramServer) -> None:
        self.server = server
        self.seen: list[Seen] = []
        #: (monotonic time, method, chat id, retry_after) of every 429
        self.floods: list[tuple[float, str, int, str]] = []
        state = server.state
        publish = state.publish

        def record(event: dict[str, Any]) -> None:
            message = event.get("message")
            if event.get("type") in ("message", "edit") and isinstance(message, dict):
                if (message.get("from") or {}).get("is_bot"):
                    self.seen.append(Seen(time.monotonic(), str(event["type"]), int(event["chat_id"]),
                                          json.loads(json.dumps(message))))
            publish(event)

        state.publish = record  # type: ignore[method-assign]
        throttle = server.api._throttle

        def checked(method: str, chat: ChatRecord, *, cost: int = 1, edit: bool = False) -> None:
            try:
                throttle(method, chat, cost=cost, edit=edit)
            except TelegramAPIError as exc:
                if exc.error_code == 429:
                    self.floods.append((time.monotonic(), method, chat.id, exc.description))
                raise

        server.api._throttle = checked  # type: ignore[method-assign]
        #: (start, end) of every stretch the server's event loop (this test process) did not run for at
        #: least STALL seconds: requests sent during it reach the server's counters together afterwards
        self.stalls: list[tuple[float, float]] = []
        self._watch = asyncio.get_running_loop().create_task(self._watch_loop())

    STALL = 0.5
    TICK = 0.05
    #: a 429 this long after a stall ended is still put down to the stall (the requests queued during
    #: it, and those the bots counted meanwhile on their own stalled loops, arrive over the next seconds)
    AFTERMATH = 5.0

    async def _watch_loop(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.TICK)
            after = time.monotonic()
            if after - before - self.TICK >= self.STALL:
                self.stalls.append((before, after))

    def unexcused_floods(self) -> list[tuple[float, str, int, str]]:
        """The 429s that no stall of the server's own loop explains.

        The bots count a send when it leaves, the server when its loop gets to the request. When this
        loaded two-core machine does not schedule the test process for a second or more, requests the
        bots spaced correctly reach the server's counters bunched, and it answers 429 although together
        the bots kept every limit. Telegram, on its own machines, sees the spacing the bots kept."""
        return [f for f in self.floods if not any(self._explains(stall, f[0], f[2]) for stall in self.stalls)]

    #: Telegram's group window: what a stall bunched in a group is still counted by the server that much later
    GROUP_WINDOW = 60.0

    def _explains(self, stall: tuple[float, float], at: float, chat_id: int) -> bool:
        """A stall explains a 429 that follows it within :attr:`AFTERMATH`; in a group also one up to a
        window later. The bots counted a group's actions before the stall, the server after it, so the
        server forgets them up to the stall's length later than the bots do: the bots' next minute of
        actions meets a server window that still holds the bunched ones."""
        start, end = stall
        if start <= at <= end + self.AFTERMATH:
            return True
        return chat_id < 0 and start <= at <= end + self.GROUP_WINDOW + self.AFTERMATH

    def flood_report(self) -> str:
        return (f"429s no stall explains: {self.unexcused_floods()[:5]}; all 429s: {len(self.floods)};"
                f" server stalls (start, seconds): {[(round(a, 1), round(b - a, 1)) for a, b in self.stalls]}")

    def dump(self, path: Path) -> None:
        """Everything seen, as JSON lines (for looking into a failure). The run is over: stops watching."""
        self._watch.cancel()
        with path.open("w", encoding="utf-8") as out:
            for start, end in self.stalls:
                out.write(json.dumps({"at": start, "kind": "stall", "seconds": end - start}) + "\n")
            for s in self.seen:
                out.write(json.dumps({"at": s.at, "kind": s.kind, "chat": s.chat_id, "id": s.message_id,
                                      "text": body(s.message)[:120]}, ensure_ascii=False) + "\n")
            for flood in self.floods:
                out.write(json.dumps({"at": flood[0], "kind": "429", "method": flood[1], "chat": flood[2],
                                      "text": flood[3]}) + "\n")

    def sends(self, chat_id: int) -> list[Seen]:
        return [s for s in self.seen if s.chat_id == chat_id and s.kind == "message"]

    def group_actions(self, chat_id: int) -> list[float]:
        """When the bot sent or edited in a group (what Telegram's 20 per minute counts)."""
        return [s.at for s in self.seen if s.chat_id == chat_id]

    @staticmethod
    def busiest_window(stamps: Iterable[float], window: float) -> int:
        """The largest number of stamps within any ``window`` seconds."""
        ordered = sorted(stamps)
        best, start = 0, 0
        for end, stamp in enumerate(ordered):
            while ordered[start] <= stamp - window:
                start += 1
            best = max(best, end - start + 1)
        return best


# -- the workload ------------------------------------------------------------------------------------------


@dataclass
class Filing:
    """One citizen's complaint and the presses staff make on its card."""

    index: int
    user: SimUser
    category: str
    place: tuple[float, float]
    #: the statuses staff move it to, in order (each is one button press)
    chain: tuple[str, ...]
    photo: bytes
    #: sends :data:`BURST` once every citizen has filed
    burst: bool = False
    number: str | None = None
    card_message_id: int | None = None
    group_id: int | None = None
    #: seconds from the first action to each of the bot's replies (the benchmark's latency)
    latencies: list[float] = field(default_factory=list)
    updates: int = 0
    done_at: float | None = None


def chains(count: int, presses: int) -> list[tuple[str, ...]]:
    """Spread ``presses`` over ``count`` complaints: as many whole lifecycles (accept, process, resolve) as
    fit in about 90% of the presses, then single accepts; the rest are left untouched."""
    full = min(count, (presses * 9 // 10) // 3)
    singles = min(count - full, presses - 3 * full)
    plan: list[tuple[str, ...]] = [()] * count
    order = [i for i in range(count) if i % 10 < 3] + [i for i in range(count) if i % 10 >= 3]
    for n, i in enumerate(order):
        if n < full:
            plan[i] = ("diterima", "diproses", "selesai")
        elif n < full + singles:
            plan[i] = ("diterima",)
    assert sum(len(c) for c in plan) == min(presses, 3 * full + singles)
    return plan


class Citizen:
    """A Telegram user in the private chat with the bot: acts, then waits for the bot's next message."""

    def __init__(self, server: TelegramServer, filing: Filing, timeout: float) -> None:
        self.server = server
        self.filing = filing
        self.user = filing.user
        self.timeout = timeout
        self.cursor = 0

    async def next(self) -> StoredMessage:
        cursor = self.cursor
        message = await self.server.wait_for_message(
            self.user.id, lambda m: m.message_id > cursor, timeout=self.timeout, new_only=False
        )
        self.cursor = message.message_id
        return message

    async def act(self, action: Callable[[], object]) -> StoredMessage:
        started = time.perf_counter()
        action()
        self.filing.updates += 1
        reply = await self.next()
        self.filing.latencies.append(time.perf_counter() - started)
        return reply

    def latest_with_button(self, payload: str) -> StoredMessage | None:
        for message in reversed(self.server.bot_messages(self.user.id)):
            if payload in payloads(message):
                return message
        return None

    def last_with_button(self, payload: str) -> StoredMessage:
        message = self.latest_with_button(payload)
        if message is None:
            raise AssertionError(f"no message with button {payload!r} in chat {self.user.id}")
        return message

    async def tap(self, payload: str) -> StoredMessage:
        target = self.last_with_button(payload)
        return await self.act(lambda: self.user.press_button(target.message_id, real_data(target, payload)))


async def file_complaint(server: TelegramServer, filing: Filing, *, timeout: float = 60.0) -> str:
    """The whole filing as a citizen does it (8 updates); returns the tracking number."""
    citizen = Citizen(server, filing, timeout)
    user = filing.user
    greeting = await citizen.act(lambda: user.send_text("/start"))
    if "menu:new" not in payloads(greeting):
        raise AssertionError(f"no menu after /start: {body(greeting)[:80]!r}")
    await citizen.tap("menu:new")
    await citizen.tap(f"cat:{filing.category}")
    await citizen.act(lambda: user.send_text(DESCRIPTION))
    after_photo = await citizen.act(lambda: user.send_photo(filing.photo))
    if "photo:done" in payloads(after_photo):
        await citizen.tap("photo:done")
    await citizen.act(lambda: user.send_location(*filing.place))
    # "📍 Lokasi diterima." and the summary are one message; its buttons are put on right after it. After a
    # process is killed the message may come twice (sent, not recorded, sent again): the buttons go on the
    # copy the bot recorded, so look at the latest message with them.
    summary = await _until(lambda: citizen.latest_with_button("sum:send"), timeout, "the summary's buttons")
    if "sum:send" not in payloads(summary):
        raise AssertionError(f"no summary after the location: {body(summary)[:80]!r}")
    confirmation = await citizen.tap("sum:send")
    found = TRACKING.search(body(confirmation))
    if found is None:
        raise AssertionError(f"no tracking number in the confirmation: {body(confirmation)[:120]!r}")
    filing.number = found.group(0)
    return filing.number


async def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out: {what}")
        await asyncio.sleep(0.1)


async def work_card(server: TelegramServer, filing: Filing, group_id: int, staff: SimUser, *,
                    timeout: float = 120.0) -> None:
    """Staff find the complaint's card in their group and press its buttons, each once the card (edited
    after the previous press) offers it, as a person would."""
    assert filing.number is not None
    number = filing.number
    card = await server.wait_for_message(group_id, lambda m: number in body(m), timeout=timeout, new_only=False)
    filing.card_message_id, filing.group_id = card.message_id, group_id

    def latest_card() -> StoredMessage:
        """The card as the bot knows it: after a process is killed a card may come twice (sent, not
        recorded, sent again), and the bot edits the copy it recorded, the later one."""
        cards = [m for m in server.bot_messages(group_id) if number in body(m).split("\n", 1)[0]]
        return cards[-1] if cards else card

    for status in filing.chain:
        prefix = f"st:{ACTION_FOR[status]}:"

        def button(prefix: str = prefix) -> tuple[int, str] | None:
            current = latest_card()
            found = next((p for p in payloads(current) if p.startswith(prefix)), None)
            return (current.message_id, found) if found else None

        message_id, payload = await _until(button, timeout, f"{prefix} on the card of {number}")
        query = staff.press_button(message_id, payload, chat=group_id)
        answer = await server.wait_callback_answer(query, timeout=timeout)
        if answer.get("show_alert"):
            raise AssertionError(f"{payload} on {number} refused: {answer}")
    if filing.chain:
        final = CARD_STATUS[filing.chain[-1]]
        await _until(lambda: card_status(body(latest_card())) == final, timeout,
                     f"the card of {number} showing {final}")


def card_status(text: str) -> str | None:
    """The status a card shows in its first line (``Diterima · JMB-…``)."""
    first = text.split("\n", 1)[0].lower()
    for status in reversed(LIFECYCLE):
        if status in first:
            return status
    return None


def notice_status(text: str) -> str | None:
    first = text.split("\n", 1)[0]
    for mark, status in NOTICE_MARK.items():
        if mark in first:
            return status
    return None


async def burst(server: TelegramServer, filing: Filing, *, timeout: float = 60.0) -> None:
    """Send the :data:`BURST` commands at once, then wait for the answer to the last one."""
    assert filing.number is not None
    for command in BURST:
        filing.user.send_text(command.format(number=filing.number))
        filing.updates += 1
    last = BURST_REPLIES[-1]
    await server.wait_for_message(filing.user.id, lambda m: body(m).startswith(last), timeout=timeout,
                                  new_only=False)


async def link_groups(server: TelegramServer, config: AppConfig, make_code: Callable[[str], Any], *,
                      timeout: float = 60.0) -> dict[str, tuple[int, SimUser]]:
    """One group per agency with one staff member (an admin; the bot is an admin too), linked the way an
    operator does it: a link code and ``/link CODE`` in the group. Returns agency -> (chat id, staff)."""

    async def link(agency: str) -> tuple[str, tuple[int, SimUser]]:
        staff = server.create_user(f"Staf {agency}")
        group = server.create_group(f"Laporan {agency}", [staff], admins=[staff], bot_admin=True)
        await server.wait_for_message(group.id, lambda m: "/link" in body(m), timeout=timeout, new_only=False)
        code = await make_code(agency)
        staff.send_text(f"/link {code}", chat=group.id)
        name: str = config.agencies[agency].name["id"]
        await server.wait_for_message(group.id, lambda m: name in body(m), timeout=timeout, new_only=False)
        return agency, (group.id, staff)

    return dict(await asyncio.gather(*(link(agency) for agency in config.agencies)))


@dataclass
class Outcome:
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


async def run_filings(server: TelegramServer, filings: Sequence[Filing], groups: dict[str, tuple[int, SimUser]],
                      *, timeout: float = 60.0, card_timeout: float = 150.0,
                      on_filed: Callable[[Filing], None] | None = None) -> Outcome:
    """Every citizen files at once; staff work each card as soon as it arrives; once every citizen has filed,
    the ``burst`` citizens send :data:`BURST` together."""
    everyone_filed = asyncio.Event()
    filed = 0

    async def one(filing: Filing) -> None:
        nonlocal filed
        try:
            await file_complaint(server, filing, timeout=timeout)
        finally:
            filed += 1
            if filed == len(filings):
                everyone_filed.set()
        if on_filed is not None:
            on_filed(filing)
        group_id, staff = groups[CATEGORY_AGENCY[filing.category]]
        staff_work = asyncio.ensure_future(work_card(server, filing, group_id, staff, timeout=card_timeout))
        try:
            if filing.burst:
                await asyncio.wait_for(everyone_filed.wait(), card_timeout)
                await burst(server, filing, timeout=timeout)
        finally:
            await staff_work
        filing.done_at = time.perf_counter()

    started = time.perf_counter()
    results = await asyncio.gather(*(one(f) for f in filings), return_exceptions=True)
    outcome = Outcome(seconds=time.perf_counter() - started)
    for filing, result in zip(filings, results, strict=True):
        if isinstance(result, BaseException):
            outcome.errors.append(f"citizen {filing.index} ({filing.number}): {type(result).__name__}: {result}"[:400])
    return outcome


def make_filings(server: TelegramServer, count: int, presses: int, *, photos: Sequence[bytes],
                 burst_every: int = 0) -> list[Filing]:
    """``count`` citizens, one category each in turn (so every agency group gets cards), ``presses`` spread
    by :func:`chains`; every ``burst_every``-th citizen sends the :data:`BURST` (0: nobody)."""
    categories = list(CATEGORY_AGENCY)
    spots = places(count)
    plan = chains(count, presses)
    return [
        Filing(i, server.create_user(f"Warga {i}"), categories[i % len(categories)], spots[i], plan[i],
               photos[i % len(photos)], burst=bool(burst_every) and i % burst_every == 0)
        for i in range(count)
    ]


def replies_in_order(recorder: Recorder, chat_ids: Sequence[int], starts: Sequence[str]) -> list[str]:
    """Each chat got one answer starting with each of ``starts``, in that order (the order of its updates)."""
    problems = []
    for chat in chat_ids:
        texts = [body(s.message) for s in sorted(recorder.sends(chat), key=lambda s: s.message_id)]
        got = [start for text in texts for start in starts if text.startswith(start)]
        if got != list(starts):
            problems.append(f"chat {chat}: answers {got}")
    return problems


# -- checks on the transcripts -----------------------------------------------------------------------------


def _signature(message: dict[str, Any]) -> str:
    return json.dumps([message.get("text"), message.get("caption"), bool(message.get("photo")),
                       message.get("reply_markup")], ensure_ascii=False, sort_keys=True)


def duplicate_messages(recorder: Recorder, chat_ids: Iterable[int]) -> list[str]:
    """Bot messages sent twice to one chat (the same text/caption, photo and buttons at send time)."""
    problems = []
    for chat_id in chat_ids:
        counts = Counter(_signature(s.message) for s in recorder.sends(chat_id))
        for signature, n in counts.items():
            if n > 1:
                problems.append(f"chat {chat_id}: sent {n} times: {signature[:160]}")
    return problems


def citizen_order(recorder: Recorder, filing: Filing, *, allow_repeats: bool = False) -> list[str]:
    """The bot's messages in the citizen's chat follow the conversation: the summary, then the confirmation
    with the number, then one notice per status change in lifecycle order (exactly the presses made).
    ``allow_repeats``: a notice sent twice in a row (a killed process's unrecorded send) is not an error
    here (:func:`duplicate_messages` accounts for it)."""
    problems: list[str] = []
    sent = sorted(recorder.sends(filing.user.id), key=lambda s: s.message_id)
    texts = [body(s.message) for s in sent]
    where = f"citizen {filing.index} ({filing.number})"
    # the summary goes out with the location keyboard's removal and gets its buttons by an edit right after:
    # as sent, it is known by its title
    summary = next((i for i, s in enumerate(sent) if "sum:send" in payloads(s.message) or SUMMARY_MARK in texts[i]),
                   None)
    confirm = next((i for i, t in enumerate(texts) if filing.number and filing.number in t), None)
    if summary is None or confirm is None or not summary < confirm:
        problems.append(f"{where}: summary at {summary}, confirmation at {confirm}")
        return problems
    notices = [(i, notice_status(t)) for i, t in enumerate(texts) if notice_status(t) and filing.number in t]
    if any(i < confirm for i, _ in notices):
        problems.append(f"{where}: a status notice came before the confirmation")
    if filing.burst:
        marks = [m.format(number=filing.number) for m in BURST_REPLIES]
        found = [next((i for i, t in enumerate(texts) if t.startswith(m)), None) for m in marks]
        if None in found or found != sorted(found) or found[0] < confirm:  # type: ignore[type-var]
            problems.append(f"{where}: the burst's answers at {found}, expected in the order sent")
    statuses = [status for _, status in notices]
    if allow_repeats:
        statuses = [s for n, s in enumerate(statuses) if n == 0 or statuses[n - 1] != s]
    if statuses != list(filing.chain):
        problems.append(f"{where}: notices {statuses}, expected {list(filing.chain)}")
    return problems


def card_history(recorder: Recorder, filings: Sequence[Filing]) -> list[str]:
    """Exactly one card per complaint in its group, and its edits never go backwards in the lifecycle."""
    problems: list[str] = []
    for filing in filings:
        if filing.group_id is None or filing.number is None:
            problems.append(f"group ?: citizen {filing.index}: no card seen")
            continue
        where = f"group {filing.group_id}: {filing.number}"
        cards = [s for s in recorder.sends(filing.group_id) if filing.number in body(s.message)]
        if len(cards) != 1:
            problems.append(f"{where}: {len(cards)} cards")
            continue
        versions = [s for s in recorder.seen if s.chat_id == filing.group_id and s.message_id == cards[0].message_id]
        shown = [card_status(body(s.message)) for s in versions]
        ranks = [LIFECYCLE.index(s) if s in LIFECYCLE else -1 for s in shown]
        if ranks != sorted(ranks) or -1 in ranks:
            problems.append(f"{where}: the card went {shown}")
        expected = filing.chain[-1] if filing.chain else "baru"
        if shown[-1] != expected:
            problems.append(f"{where}: the card ends at {shown[-1]}, expected {expected}")
    return problems


def limit_report(recorder: Recorder, group_ids: Iterable[int]) -> dict[str, Any]:
    """What the limits looked like from the server: 429s and the busiest windows."""
    sends = [s.at for s in recorder.seen if s.kind == "message"]
    per_group = {g: Recorder.busiest_window(recorder.group_actions(g), 60.0) for g in group_ids}
    by_chat: dict[int, list[float]] = defaultdict(list)
    for s in recorder.seen:
        if s.kind == "message" and s.chat_id > 0:
            by_chat[s.chat_id].append(s.at)
    return {
        "429s": len(recorder.floods),
        "first_429s": recorder.floods[:5],
        "busiest_second_overall": Recorder.busiest_window(sends, 1.0),
        "busiest_minute_per_group": per_group,
        "group_actions": {g: len(recorder.group_actions(g)) for g in group_ids},
        "busiest_second_private": max((Recorder.busiest_window(v, 1.0) for v in by_chat.values()), default=0),
    }
