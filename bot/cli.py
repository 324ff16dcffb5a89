"""The ``sikesal`` command.

    sikesal run                      start the bot (long polling) with delivery and reminders;
                                     without TELEGRAM_BOT_TOKEN, start the playground instead
    sikesal playground [--host H] [--port P]
                                     the whole system in a browser, no token, no internet
    sikesal migrate                  create or upgrade the database schema
    sikesal check-config             validate config.yaml and exit
    sikesal agency list              agencies and the groups linked to them
    sikesal agency link-code AGENCY  print a one-time code; send "/link CODE" in the agency's group
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

from bot.config import AppConfig, ConfigError, Settings, geocoder_settings, load_config, load_service_area
from bot.logs import RedactSecrets, setup_logging

EXIT_CONFIG = 2


def _load(settings: Settings) -> AppConfig:
    return load_config(settings.config_path)


async def _migrate(settings: Settings) -> None:
    from storage.db import make_engine, upgrade_database

    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
    finally:
        await engine.dispose()


async def _run(settings: Settings, config: AppConfig) -> None:
    from aiogram.exceptions import TelegramNetworkError, TelegramUnauthorizedError

    from bot.app import SikesalApp

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
    )
    try:
        await app.start()
    except TelegramUnauthorizedError:
        await app.stop()
        raise SystemExit("Telegram refused TELEGRAM_BOT_TOKEN (401 Unauthorized): check the token BotFather gave you.") from None
    except OSError as exc:  # the webhook port is taken
        await app.stop()
        raise SystemExit(f"Cannot serve the WhatsApp webhooks on {settings.http_host}:{settings.http_port}: {exc}."
                         " Set SIKESAL_HTTP_PORT to a free port.") from None
    except TelegramNetworkError as exc:
        await app.stop()
        where = settings.telegram_api_base or "api.telegram.org"
        detail = RedactSecrets([settings.telegram_bot_token]).redact(str(exc))  # may carry the request URL
        raise SystemExit(f"Cannot reach the Telegram Bot API at {where}: {detail}. Check the network or TELEGRAM_API_BASE.") from None
    channels = "Telegram (webhook)" if settings.telegram_webhook else "Telegram (long polling)"
    if twilio is not None:
        channels += f" and WhatsApp (webhooks on port {app.http_port})"
    print(f"SiKesal is running: {channels}. Press Ctrl+C to stop.", flush=True)
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
            groups = {g.agency: (g.chat_id, g.title) for g in await uow.agencies.all_groups()}
        for key, agency_config in config.agencies.items():
            group = groups.get(key)
            where = f"linked to chat {group[0]} ({group[1] or 'untitled'})" if group else "NOT LINKED"
            print(f"{key:10} {agency_config.name.get('id', key)}: {where}")
        return 0
    finally:
        await engine.dispose()


async def _playground(settings: Settings, config: AppConfig, host: str, port: int) -> None:
    from bot.playground import run_playground

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def ready(url: str) -> None:
        print(f"SiKesal playground: open {url} in your browser (Ctrl+C to stop)", flush=True)

    await run_playground(
        config,
        database_url=settings.playground_database_url,
        media_dir=settings.data_dir / "playground-media",
        host=host,
        port=port,
        ready=ready,
        stop=stop,
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings()
    setup_logging(
        settings.log_level,
        [settings.telegram_bot_token or "", settings.database_url or "", settings.twilio_auth_token or ""],
    )
    try:
        config = _load(settings)
    except ConfigError as exc:
        print(f"Configuration error:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "check-config":
        print(f"{settings.config_path}: OK ({len(config.categories)} categories, {len(config.agencies)} agencies)")
        return 0
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        print("Database is up to date.")
        return 0
    if args.command == "agency":
        if args.agency_command == "link-code" and args.agency not in config.agencies:
            known = ", ".join(config.agencies)
            print(f"Unknown agency {args.agency!r}. Known agencies: {known}", file=sys.stderr)
            return EXIT_CONFIG
        return asyncio.run(_with_runtime_db(settings, config, args.agency_command, getattr(args, "agency", None)))
    if args.command == "playground":
        return _start_playground(settings, config, args.host, args.port)
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
