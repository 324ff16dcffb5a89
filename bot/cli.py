"""The ``sikesal`` command.

    sikesal run                      start the bot (long polling or webhook) with delivery and reminders, the
                                     web server (webhooks, /healthz, /readyz) and the metrics server;
                                     without TELEGRAM_BOT_TOKEN, start the playground instead
    sikesal playground [--host H] [--port P]
                                     the whole system in a browser, no token, no internet
    sikesal migrate                  create or upgrade the database schema
    sikesal check-config             validate config.yaml and exit
    sikesal agency list              agencies and the groups linked to them (warns about broken links and
                                     a bot that is not an administrator of its group)
    sikesal agency link-code AGENCY  print a one-time code; send "/link CODE" in the agency's group
    sikesal outbox list [--failed] [--channel C] [--limit N]
                                     messages waiting or failed for good (no message text)
    sikesal outbox retry ID... | --all-failed [--channel C]
                                     put failed messages back in the queue
    sikesal backup DIR               SQLite: a consistent copy of the database and the media files, safe
                                     while the bot runs (PostgreSQL: prints the pg_dump commands)
    sikesal report [--since DATE] [--until DATE] [--format table|csv]
                                     per agency and category: received, accepted and resolved on time,
                                     median times, overdue now, reopen rate, mean rating (city days, inclusive)
    sikesal apikey add NAME | revoke NAME | list
                                     Open311 applications' API keys (add prints the key alone on its last line)
    sikesal user add NAME --role command|agency:KEY|viewer [--password-stdin] | passwd NAME | list
                 | disable NAME | enable NAME
                                     dashboard accounts (passwords asked twice, or one line of stdin)
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bot.config import AppConfig, ConfigError, Settings, geocoder_settings, load_config, load_service_area
from bot.logs import RedactSecrets, setup_logging

if TYPE_CHECKING:
    from storage.outbox_admin import OutboxRow, QueueSummary

EXIT_CONFIG = 2
#: the command ran but did not do what was asked (a backup that could not be made, nothing retried)
EXIT_FAILED = 1


def _load(settings: Settings) -> AppConfig:
    return load_config(settings.config_path)


async def _migrate(settings: Settings, config: AppConfig) -> tuple[int, int]:
    """Upgrade the schema, then give complaints stored before the clocks existed their clocks (a migration
    cannot read config.yaml, which decides them) and re-encode photos stored before issue 12 without their
    metadata (it needs the media directory); returns how many complaints were filled and photos re-encoded."""
    from bot.services.clocks import fill_missing_clocks
    from bot.services.photos import reencode_stored_photos
    from storage.db import make_engine, make_sessionmaker, upgrade_database
    from storage.media import MediaStore

    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        sessionmaker = make_sessionmaker(engine)
        filled = await fill_missing_clocks(_Clocks(config, sessionmaker), datetime.now(UTC))
        photos = await reencode_stored_photos(sessionmaker, MediaStore(settings.media_dir))
        return filled, photos.reencoded + photos.unreadable
    finally:
        await engine.dispose()


class _Clocks(NamedTuple):
    """What :func:`bot.services.clocks.fill_missing_clocks` needs (no full runtime: no geography, no media)."""

    config: AppConfig
    sessionmaker: Any


def _secret_key(settings: Settings) -> bytes | None:
    """The dashboard's session key from SIKESAL_SECRET_KEY; None: one process keeps its own in the data
    directory. PostgreSQL may be shared by several processes, which must all sign cookies with one key."""
    from bot.web.secret import SecretKeyError, parse

    if settings.secret_key:
        try:
            return parse(settings.secret_key)
        except SecretKeyError as exc:
            raise SystemExit(str(exc)) from None
    if settings.resolved_database_url.startswith("postgresql"):
        raise SystemExit(
            "SIKESAL_SECRET_KEY is not set. With PostgreSQL several processes may share the database, and "
            "they must all sign the dashboard's session cookies with the same key: set SIKESAL_SECRET_KEY "
            "in every process to 32 random bytes in URL-safe base64 (44 characters), e.g. the output of "
            'python3 -c "import base64,secrets;print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())"'
        )
    return None


async def _run(settings: Settings, config: AppConfig) -> None:
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    from bot.app import SikesalApp
    from bot.ops.metrics import MetricsPortError
    from storage.db import DatabaseInUse

    assert settings.telegram_bot_token is not None
    try:
        twilio = settings.twilio()
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    _check_webhook(settings)
    try:
        geocoder = geocoder_settings(config, settings.nominatim_url, load_service_area(config))
    except ConfigError as exc:
        raise SystemExit(str(exc)) from None
    app = SikesalApp(
        config,
        database_url=settings.resolved_database_url,
        media_dir=settings.media_dir,
        token=settings.telegram_bot_token,
        api_base=settings.telegram_api_base,
        twilio=twilio,
        http_host=settings.http_host,
        http_port=settings.http_port,
        telegram_webhook=settings.telegram_webhook,
        public_url=settings.public_url,
        telegram_webhook_secret=settings.telegram_webhook_secret,
        geocoder=geocoder,
        metrics_host=settings.metrics_host,
        metrics_port=settings.metrics_port,
        redis_url=settings.redis_url,
        media_secret=settings.media_secret,
        secret_key=_secret_key(settings),
        trusted_proxies=tuple(config.dashboard.trusted_proxies),
    )
    try:
        await app.start()
    except DatabaseInUse as exc:  # a second process on one SQLite file
        await app.stop()
        raise SystemExit(str(exc)) from None
    except TelegramUnauthorizedError:
        await app.stop()
        raise SystemExit("Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token BotFather gave you.") from None
    except MetricsPortError as exc:  # SIKESAL_METRICS_PORT is taken
        await app.stop()
        raise SystemExit(str(exc)) from None
    except OSError as exc:  # the web server's port is taken
        await app.stop()
        raise SystemExit(f"Cannot serve the web server (webhooks, /healthz, /readyz) on {settings.http_host}:"
                         f"{settings.http_port}: {exc}. Set SIKESAL_HTTP_PORT to a free port.") from None
    except TelegramNetworkError as exc:
        await app.stop()
        where = settings.telegram_api_base or "api.telegram.org"
        detail = RedactSecrets([settings.telegram_bot_token]).redact(str(exc))  # may carry the request URL
        raise SystemExit(f"Cannot reach the Telegram Bot API at {where}: {detail}. Check the network or TELEGRAM_API_BASE.") from None
    channels = "Telegram (webhook)" if settings.telegram_webhook else "Telegram (long polling)"
    if twilio is not None:
        channels += " and WhatsApp"
    served = f"web server on {settings.http_host}:{app.http_port} (/healthz, /readyz)"
    if app.metrics_server is not None:
        served += f", metrics at {app.metrics_server.url}/metrics"
    print(f"SiKesal is running: {channels}; {served}. Press Ctrl+C to stop.", flush=True)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # finish in-flight work, then stop (systemd sends SIGTERM)
        loop.add_signal_handler(sig, stopping.set)
    waiter = asyncio.create_task(stopping.wait())
    runner = asyncio.create_task(app.wait())
    try:
        await asyncio.wait({waiter, runner}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():
            runner.result()  # a crashed component surfaces here
    finally:
        waiter.cancel()
        await app.stop()


def _check_webhook(settings: Settings) -> None:
    if settings.telegram_webhook and not settings.public_url:
        raise SystemExit("TELEGRAM_WEBHOOK is on but SIKESAL_PUBLIC_URL is not set: Telegram needs the https"
                         " address to post updates to (or unset TELEGRAM_WEBHOOK to use long polling).")


async def _with_runtime_db(settings: Settings, config: AppConfig, action: str, agency: str | None) -> int:
    from bot.services.runtime import Runtime
    from bot.services.staff import create_link_code
    from storage.db import make_engine, make_sessionmaker, upgrade_database
    from storage.media import MediaStore
    from storage.uow import UnitOfWork

    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        rt = Runtime(config=config, sessionmaker=make_sessionmaker(engine), media=MediaStore(settings.media_dir))
        if action == "link-code":
            assert agency is not None
            code = await create_link_code(rt, agency)
            name = config.agencies[agency].name.get("id", agency)
            print(f"Link code for {name}: {code}")
            print(f"Add the bot to the agency's Telegram group, then send there:  /link {code}")
            print(f"The code works once and expires in {config.link_codes.ttl_minutes} minutes.")
            return 0
        async with UnitOfWork(rt.sessionmaker) as uow:  # read plain values: rows expire when it closes
            groups = {
                g.agency: _Group(g.agency, g.chat_id, g.title, g.bot_status, g.broken_reason, g.broken_at)
                for g in await uow.agencies.all_groups()
            }
        for key, agency_config in config.agencies.items():
            group = groups.get(key)
            where = f"linked to chat {group.chat_id} ({group.title or 'untitled'})" if group else "NOT LINKED"
            print(f"{key:10} {agency_config.name.get('id', key)}: {where}")
            if group is not None:
                for warning in _group_warnings(config, group):
                    print(f"{'':10} {warning}")
        return 0
    finally:
        await engine.dispose()


#: the bot's statuses in a group that receive chat_member updates (staff joining and leaving)
_ADMIN_STATUSES = ("administrator", "creator")


class _Group(NamedTuple):
    """What ``agency list`` shows of a linked group (plain values, read inside the transaction)."""

    agency: str
    chat_id: int
    title: str | None
    bot_status: str | None
    broken_reason: str | None
    broken_at: datetime | None


def _group_warnings(config: AppConfig, group: _Group) -> list[str]:
    """What an operator must fix about a linked group: a broken link first, else a bot that is no admin."""
    from zoneinfo import ZoneInfo

    if group.broken_reason:
        since = ""
        if group.broken_at is not None:
            since = f" since {group.broken_at.astimezone(ZoneInfo(config.city.timezone)):%Y-%m-%d %H:%M %Z}"
        fallback = config.routing.fallback_agency
        if group.agency == fallback:
            where = "this is the command centre's own group, so its cards cannot be delivered at all"
        else:
            where = f"cards go to the command centre ({fallback})"
        return [f"✖ BROKEN{since}: {group.broken_reason} — {where};"
                f" re-link with `sikesal agency link-code {group.agency}`"]
    if group.bot_status in _ADMIN_STATUSES:
        return []
    if group.bot_status is None:
        state = "the bot's status in the group is unknown (status unknown)"
    else:
        state = f"bot is not an administrator (it is {group.bot_status})"
    return [f"⚠ {state}: make it an admin so staff who leave lose access at once"]


def _ago(delta: timedelta) -> str:
    """12s, 5m, 3h, 2d: short enough for a table column."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


async def _outbox(settings: Settings, args: argparse.Namespace) -> int:
    from storage import outbox_admin
    from storage.db import make_engine, make_sessionmaker, upgrade_database
    from storage.models import utcnow

    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        sessionmaker = make_sessionmaker(engine)
        now = utcnow()
        if args.outbox_command == "list":
            async with sessionmaker() as session:
                queues = await outbox_admin.summary(session)
                rows = await outbox_admin.list_rows(
                    session, failed_only=args.failed, limit=args.limit, channel=args.channel
                )
            _print_outbox(queues, rows, now, args)
            return 0
        async with sessionmaker() as session:
            if args.all_failed:
                count = await outbox_admin.retry_all_failed(session, now=now, channel=args.channel)
                await session.commit()
                if not count:
                    print("No failed messages" + (f" on {args.channel}." if args.channel else "."))
                    return 0
                print(f"Put {count} failed message(s) back in the queue; a running bot sends them within a few seconds.")
                return 0
            result = await outbox_admin.retry(session, args.ids, now=now)
            await session.commit()
        for row_id, why in sorted(result.skipped.items()):
            print(f"#{row_id} {why}", file=sys.stderr)
        if result.retried:
            ids = ", ".join(f"#{i}" for i in result.retried)
            print(f"Put {ids} back in the queue; a running bot sends them within a few seconds.")
            return 0
        return EXIT_FAILED
    finally:
        await engine.dispose()


def _print_outbox(queues: list[QueueSummary], rows: list[OutboxRow], now: datetime, args: argparse.Namespace) -> None:
    if queues:
        parts = []
        for q in queues:
            oldest = f" (the oldest for {_ago(now - q.oldest_pending_at)})" if q.oldest_pending_at else ""
            parts.append(f"{q.channel}: {q.pending} pending{oldest}, {q.failed} failed")
        print("Outbox: " + "; ".join(parts))
    if not rows:
        print("No failed messages." if args.failed else "Nothing waiting and nothing failed.")
        return
    print(f"{'id':>8}  {'channel':9} {'chat':16} {'kind':10} {'status':8} {'tries':>5}  {'age':>5}  {'next':8} last error")
    for row in rows:
        if row.status != "pending":
            next_at = "-"
        elif row.leased(now):
            next_at = f"sending ({row.lease_owner})"
        elif row.next_attempt_at <= now:
            next_at = "due"
        else:
            next_at = f"in {_ago(row.next_attempt_at - now)}"
        error = (row.last_error or "").splitlines()[0][:70] if row.last_error else ""
        print(f"{row.id:>8}  {row.channel:9} {row.chat_id:16} {row.kind:10} {row.status:8} {row.attempts:>5}"
              f"  {_ago(now - row.created_at):>5}  {next_at:8} {error}")
    total = sum(q.failed + (0 if args.failed else q.pending) for q in queues
                if args.channel is None or q.channel == args.channel)
    if total > len(rows):
        print(f"(the newest {len(rows)} of {total}; --limit N shows more)")


async def _citizen(settings: Settings, args: argparse.Namespace) -> int:
    """``sikesal citizen block|unblock <number>`` (bot.ops.citizens; the database only, no config)."""
    from bot.ops.citizens import block_command
    from storage.db import make_engine, make_sessionmaker, upgrade_database

    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        code, said = await block_command(make_sessionmaker(engine), args.number, block=args.citizen_command == "block",
                                         reason=getattr(args, "reason", None), now=datetime.now(UTC))
    finally:
        await engine.dispose()
    print(said, file=sys.stderr if code else sys.stdout)
    return code


def _backup(settings: Settings, target: Path) -> int:
    from storage.backup import BackupError, postgres_instructions, run_backup, sqlite_database

    url = settings.resolved_database_url
    try:
        database = sqlite_database(url)
    except BackupError as exc:
        print(f"sikesal backup: {exc}.", file=sys.stderr)
        if "PostgreSQL" in str(exc):
            print(postgres_instructions(url, target.resolve(), settings.media_dir.resolve()), file=sys.stderr)
        return EXIT_FAILED
    try:
        result = asyncio.run(run_backup(database, settings.media_dir, target))
    except BackupError as exc:
        print(f"sikesal backup: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"Backup of {database} written to {result.folder}")
    revision = f"schema {result.revision}, " if result.revision else ""
    print(f"  sikesal.db   {_size(result.database_bytes)} ({revision}PRAGMA integrity_check: ok)")
    if result.media is not None:
        print(f"  media/       {result.media_files} files, {_size(result.media_bytes)}")
    else:
        print(f"  media/       none yet ({settings.media_dir} does not exist)")
    print("  RESTORE.txt  how to restore it")
    return 0


def _size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"


async def _report(settings: Settings, config: AppConfig, args: argparse.Namespace) -> int:
    """Compute the report (storage.reports) and print it (bot.ops.report formats)."""
    from bot.ops import report
    from storage.db import make_engine, make_sessionmaker, upgrade_database
    from storage.models import utcnow
    from storage.reports import complaint_report

    if args.since and args.until and args.until < args.since:
        print("sikesal report: --until is before --since.", file=sys.stderr)
        return EXIT_FAILED
    start, end = report.period(args.since, args.until, config.city.timezone)
    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        now = utcnow()
        async with make_sessionmaker(engine)() as session:
            rows = await complaint_report(session, since=start, until=end, now=now)
    finally:
        await engine.dispose()
    if args.format == "csv":
        sys.stdout.write(report.format_csv(rows))
    else:
        sys.stdout.write(report.format_table(rows, title=report.title_for(args.since, args.until, config.city.timezone, now)))
    return 0


async def _playground(settings: Settings, config: AppConfig, host: str, port: int) -> None:
    from bot.playground import run_playground
    from bot.playground.dashboard import DemoAccount

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(url: str) -> None:
        print(f"SiKesal playground: open {url} in your browser (Ctrl+C to stop)", flush=True)

    def dashboard(url: str, account: DemoAccount) -> None:
        print(f"Command-centre dashboard: {url} (demo account: {account.username} / {account.password}, "
              f"role {account.role}; a new password at every start)", flush=True)

    await run_playground(
        config,
        database_url=settings.playground_database_url,
        media_dir=settings.data_dir / "playground-media",
        host=host,
        port=port,
        ready=ready,
        stop=stop,
        dashboard=dashboard,
    )


def _start_playground(settings: Settings, config: AppConfig, host: str | None, port: int | None) -> int:
    from bot.playground import PlaygroundError

    try:
        asyncio.run(
            _playground(settings, config, host or settings.playground_host, port or settings.playground_port)
        )
    except PlaygroundError as exc:
        print(f"Playground: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sikesal", description="SiKesal complaint channel")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start the bot (long polling), delivery and reminders")
    playground = sub.add_parser("playground", help="the whole system in a browser (no token needed)")
    playground.add_argument("--host", default=None, help="default SIKESAL_PLAYGROUND_HOST or 127.0.0.1")
    playground.add_argument("--port", type=int, default=None, help="default SIKESAL_PLAYGROUND_PORT or 8080")
    sub.add_parser("migrate", help="create or upgrade the database schema")
    sub.add_parser("check-config", help="validate config.yaml")
    agency = sub.add_parser("agency", help="agency groups")
    agency_sub = agency.add_subparsers(dest="agency_command", required=True)
    agency_sub.add_parser("list", help="agencies and their linked groups")
    link = agency_sub.add_parser("link-code", help="print a one-time code to link a group")
    link.add_argument("agency", help="agency key from config.yaml, e.g. pupr")
    outbox = sub.add_parser("outbox", help="messages waiting to be sent or failed for good")
    outbox_sub = outbox.add_subparsers(dest="outbox_command", required=True)
    listing = outbox_sub.add_parser("list", help="pending and failed messages, newest first (no message text)")
    listing.add_argument("--failed", action="store_true", help="only messages that failed for good")
    listing.add_argument("--channel", choices=("telegram", "whatsapp"), default=None)
    listing.add_argument("--limit", type=_positive, default=50, help="at most this many rows (default 50)")
    retry = outbox_sub.add_parser("retry", help="put failed messages back in the queue")
    which = retry.add_mutually_exclusive_group(required=True)
    which.add_argument("ids", nargs="*", type=int, default=[], metavar="ID", help="outbox ids (see outbox list)")
    which.add_argument("--all-failed", action="store_true", help="every failed message")
    retry.add_argument("--channel", choices=("telegram", "whatsapp"), default=None,
                       help="with --all-failed: only this channel's")
    citizen = sub.add_parser("citizen", help="block or unblock the citizen behind a complaint (the command centre)")
    citizen_sub = citizen.add_subparsers(dest="citizen_command", required=True)
    blocking = citizen_sub.add_parser("block", help="their messages get one short notice, then are ignored")
    blocking.add_argument("number", help="a complaint of theirs, e.g. JMB-2026-000123")
    blocking.add_argument("--reason", default=None, help="why (kept in the complaint's audit trail, staff only)")
    unblocking = citizen_sub.add_parser("unblock", help="answer their messages again")
    unblocking.add_argument("number", help="a complaint of theirs, e.g. JMB-2026-000123")
    backup = sub.add_parser("backup", help="back up the SQLite database and the media files (safe while running)")
    backup.add_argument("dir", type=Path, help="a new folder sikesal-YYYYmmdd-HHMMSS is created in it")
    from bot.ops.report import parse_day

    report = sub.add_parser("report", help="performance per agency and category (table or CSV)")
    report.add_argument("--since", type=parse_day, default=None, metavar="DATE",
                        help="first day of filing, YYYY-MM-DD in the city's time (default: from the start)")
    report.add_argument("--until", type=parse_day, default=None, metavar="DATE",
                        help="last day of filing, included (default: up to now)")
    report.add_argument("--format", choices=("table", "csv"), default="table")
    from bot.ops.apikey_cli import add_parser as add_apikey_parser

    add_apikey_parser(sub)  # sikesal apikey add|revoke|list (Open311)
    from bot.ops.accounts_cli import add_parser as add_user_parser

    add_user_parser(sub)  # sikesal user add|passwd|list|disable|enable (dashboard accounts)
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return number


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    settings = Settings()
    setup_logging(
        settings.log_level,
        [settings.telegram_bot_token or "", settings.database_url or "", settings.twilio_auth_token or "",
         settings.redis_url or "", settings.secret_key or ""],
    )
    # these need the database only: a broken config.yaml must not stop a backup or a retry
    if args.command == "backup":
        return _backup(settings, args.dir)
    if args.command == "citizen":
        return asyncio.run(_citizen(settings, args))
    if args.command == "apikey":
        from bot.ops.apikey_cli import main as apikey_main

        return apikey_main(settings.resolved_database_url, args)
    if args.command == "user":
        from bot.ops.accounts_cli import main as user_main

        return user_main(settings, args)
    if args.command == "outbox":
        if args.outbox_command == "retry" and args.channel and not args.all_failed:
            parser.error("--channel goes with --all-failed")
        return asyncio.run(_outbox(settings, args))
    try:
        config = _load(settings)
    except ConfigError as exc:
        print(f"Configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check-config":
        print(f"{settings.config_path}: OK ({len(config.categories)} categories, {len(config.agencies)} agencies)")
        return 0
    if args.command == "migrate":
        filled, photos = asyncio.run(_migrate(settings, config))
        print("Database is up to date." + (f" Clocks set for {filled} stored complaints." if filled else "")
              + (f" {photos} stored photos re-encoded without metadata." if photos else ""))
        return 0
    if args.command == "agency":
        if args.agency_command == "link-code" and args.agency not in config.agencies:
            known = ", ".join(config.agencies)
            print(f"Unknown agency {args.agency!r}. Known agencies: {known}", file=sys.stderr)
            return EXIT_CONFIG
        return asyncio.run(_with_runtime_db(settings, config, args.agency_command, getattr(args, "agency", None)))
    if args.command == "playground":
        return _start_playground(settings, config, args.host, args.port)
    if args.command == "report":
        return asyncio.run(_report(settings, config, args))
    if args.command == "run":
        if not settings.telegram_bot_token:
            print(
                "TELEGRAM_BOT_TOKEN is not set: starting the playground (no Telegram needed).\n"
                "To serve real citizens, create a bot with @BotFather in Telegram, then run:\n"
                "    export TELEGRAM_BOT_TOKEN=123456:ABC...   # the token BotFather gave you\n"
                "    make run",
                file=sys.stderr,
            )
            return _start_playground(settings, config, None, None)
        try:
            asyncio.run(_run(settings, config))
        except KeyboardInterrupt:
            pass
        return 0
    return EXIT_CONFIG


if __name__ == "__main__":
    sys.exit(main())
