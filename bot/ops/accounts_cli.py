"""``sikesal user add|passwd|list|disable|enable``: the dashboard's accounts (issue 13).

``add NAME --role command|agency:<key>|viewer`` and ``passwd NAME`` ask for the password twice (without
echo), or read one line from standard input with ``--password-stdin`` (for scripts: ``printf '%s\\n' "$PW" |
sikesal user add ...``). Passwords have at least :data:`bot.web.passwords.MIN_LENGTH` characters and are
stored as argon2id hashes only. ``passwd`` and ``disable`` bump the account's version, which ends its open
sessions on their next request. ``list`` never shows a hash. The database only, plus config.yaml when a
role names an agency (to check the key).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.web.passwords import MIN_LENGTH, hash_password
from handlers.web_roles import RoleError, RoleKind, parse_role
from storage.accounts import AccountExistsError, WebAccountRepo
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from bot.config import Settings

#: exit codes (0: done)
FAILED = 1
NOT_FOUND = 2
CONFIG = 2

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


class PasswordError(ValueError):
    pass


def add_parser(sub: Any) -> None:
    """``user`` and its commands on the ``sikesal`` parser."""
    user = sub.add_parser("user", help="dashboard accounts (the command centre, agency supervisors, viewers)")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", help="create an account (asks for its password)")
    add.add_argument("username", help="2 to 64 of a-z 0-9 . _ - (case-insensitive)")
    add.add_argument("--role", required=True, help="command, viewer, or agency:<key> (a key from config.yaml)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    passwd = user_sub.add_parser("passwd", help="set a new password (ends the account's sessions)")
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    user_sub.add_parser("list", help="accounts, roles, created, last sign-in, disabled (no passwords)")
    disable = user_sub.add_parser("disable", help="stop an account from signing in (ends its sessions)")
    disable.add_argument("username")
    enable = user_sub.add_parser("enable", help="let a disabled account sign in again")
    enable.add_argument("username")


def read_password(from_stdin: bool, *, prompt: Callable[[str], str] | None = None) -> str:
    """The new password: one line of stdin, or typed twice; :class:`PasswordError` says what is wrong."""
    prompt = prompt or getpass.getpass
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = prompt("New password: ")
        if len(password) >= MIN_LENGTH and prompt("Repeat the password: ") != password:
            raise PasswordError("The two passwords differ; nothing was changed.")
    if len(password) < MIN_LENGTH:
        raise PasswordError(f"The password must have at least {MIN_LENGTH} characters; nothing was changed.")
    return password


def _agency_keys(settings: Settings) -> set[str]:
    from bot.config import load_config

    return set(load_config(settings.config_path).agencies)


def check_role(settings: Settings, text: str) -> str:
    """The role as stored (``command``, ``viewer``, ``agency:<key>`` with a known key); RoleError or
    ConfigError otherwise."""
    role = parse_role(text)
    if role.kind is RoleKind.AGENCY:
        role = parse_role(text, _agency_keys(settings))
    return str(role)


async def add(sessionmaker: async_sessionmaker[AsyncSession], username: str, role: str, from_stdin: bool,
              now: datetime) -> tuple[int, str]:
    async with UnitOfWork(sessionmaker) as uow:
        if await WebAccountRepo(uow.session).by_username(username) is not None:
            return FAILED, f"An account named {username!r} exists already (sikesal user passwd changes its password)."
    password = await asyncio.to_thread(read_password, from_stdin)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with UnitOfWork(sessionmaker) as uow:
        try:
            await WebAccountRepo(uow.session).add(username, password_hash, role, now)
        except AccountExistsError:
            return FAILED, f"An account named {username!r} exists already."
        await uow.commit()
    return 0, f"Account {username!r} created with the role {role}. It signs in at /dashboard/login."


async def passwd(sessionmaker: async_sessionmaker[AsyncSession], username: str, from_stdin: bool) -> tuple[int, str]:
    async with UnitOfWork(sessionmaker) as uow:
        if await WebAccountRepo(uow.session).by_username(username) is None:
            return NOT_FOUND, f"No account named {username!r} (sikesal user list shows them)."
    password = await asyncio.to_thread(read_password, from_stdin)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with UnitOfWork(sessionmaker) as uow:
        accounts = WebAccountRepo(uow.session)
        row = await accounts.by_username(username)
        if row is None:
            return NOT_FOUND, f"No account named {username!r}."
        await accounts.set_password(row, password_hash)
        await uow.commit()
    return 0, f"Password of {username!r} changed; its open sessions have ended."


async def set_disabled(sessionmaker: async_sessionmaker[AsyncSession], username: str, *, disabled: bool,
                       now: datetime) -> tuple[int, str]:
    async with UnitOfWork(sessionmaker) as uow:
        accounts = WebAccountRepo(uow.session)
        row = await accounts.by_username(username)
        if row is None:
            return NOT_FOUND, f"No account named {username!r} (sikesal user list shows them)."
        if disabled:
            if row.disabled_at is None:
                await accounts.disable(row, now)
            said = f"Account {username!r} is disabled; its open sessions have ended."
        else:
            row.disabled_at = None
            said = f"Account {username!r} may sign in again."
        await uow.commit()
    return 0, said


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment is not None else "-"


async def listing(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
    lines = ["username\trole\tcreated\tlast sign-in\tdisabled"]
    async with UnitOfWork(sessionmaker) as uow:
        for row in await WebAccountRepo(uow.session).all():
            lines.append(f"{row.username}\t{row.role}\t{_when(row.created_at)}\t{_when(row.last_login_at)}\t"
                         f"{_when(row.disabled_at)}")
    if len(lines) == 1:
        return 0, "No dashboard accounts (sikesal user add NAME --role command creates one)."
    return 0, "\n".join(lines)


async def _run(settings: Settings, args: argparse.Namespace, role: str | None) -> tuple[int, str]:
    from storage.db import make_engine, make_sessionmaker, upgrade_database

    engine = make_engine(settings.resolved_database_url)
    try:
        await upgrade_database(engine)
        sessionmaker = make_sessionmaker(engine)
        now = datetime.now(UTC)
        command = args.user_command
        if command == "list":
            return await listing(sessionmaker)
        username = args.username.strip().lower()
        if command == "add":
            assert role is not None
            return await add(sessionmaker, username, role, args.password_stdin, now)
        if command == "passwd":
            return await passwd(sessionmaker, username, args.password_stdin)
        return await set_disabled(sessionmaker, username, disabled=command == "disable", now=now)
    finally:
        await engine.dispose()


def main(settings: Settings, args: argparse.Namespace) -> int:
    """Run ``sikesal user ...``; messages to stdout, errors to stderr."""
    from bot.config import ConfigError

    role = None
    if args.user_command == "add":
        if not USERNAME.match(args.username.strip().lower()):
            print("The username must have 2 to 64 characters: letters a-z, digits, '.', '_' or '-', "
                  "starting with a letter or digit.", file=sys.stderr)
            return FAILED
        try:
            role = check_role(settings, args.role)
        except RoleError as exc:
            print(f"Cannot create the account: {exc}.", file=sys.stderr)
            return CONFIG
        except ConfigError as exc:
            print(f"Configuration error (the agency keys come from {settings.config_path}):\n{exc}", file=sys.stderr)
            return CONFIG
    try:
        code, said = asyncio.run(_run(settings, args, role))
    except PasswordError as exc:
        print(str(exc), file=sys.stderr)
        return FAILED
    except (EOFError, KeyboardInterrupt):
        print("\nNothing was changed.", file=sys.stderr)
        return FAILED
    print(said, file=sys.stderr if code else sys.stdout)
    return code


__all__ = ["add_parser", "check_role", "main", "read_password"]
