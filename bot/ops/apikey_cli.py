"""``sikesal apikey add|revoke|list``: the Open311 applications allowed to post requests.

``add NAME`` prints the new key alone on its last line (scripts take ``| tail -n 1``); it is shown once,
only its sha256 is stored. ``revoke NAME`` stops the key at once (its complaints stay). ``list`` names the
applications, never a key. The database only: no config.yaml needed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.open311.keys import new_key
from storage.api_keys import ApiKeyRepo
from storage.uow import UnitOfWork

#: exit codes (0: done)
EXISTS = 1
NOT_FOUND = 2
NAME_MAX = 64


def add_parser(sub: Any) -> None:
    """``apikey`` and its commands on the ``sikesal`` parser."""
    apikey = sub.add_parser("apikey", help="Open311 API keys of applications that post requests")
    apikey_sub = apikey.add_subparsers(dest="apikey_command", required=True)
    add = apikey_sub.add_parser("add", help="create a key (printed once, alone on the last line)")
    add.add_argument("name", help="the application's name, e.g. jaki-app")
    revoke = apikey_sub.add_parser("revoke", help="revoke an application's key")
    revoke.add_argument("name")
    apikey_sub.add_parser("list", help="applications and whether their key is active (no keys)")


async def add(sessionmaker: async_sessionmaker[AsyncSession], name: str, *, now: datetime) -> tuple[int, list[str]]:
    name = name.strip()
    if not name or len(name) > NAME_MAX:
        return EXISTS, [f"The name must have 1 to {NAME_MAX} characters."]
    key = new_key()
    async with UnitOfWork(sessionmaker) as uow:
        if await ApiKeyRepo(uow.session).add(name, key, now=now) is None:
            return EXISTS, [f"An application named {name!r} exists already (revoke it, or choose another name)."]
        await uow.commit()
    return 0, [f"API key for {name!r} created. It is shown only now; store it in the application:", key]


async def revoke(sessionmaker: async_sessionmaker[AsyncSession], name: str, *, now: datetime) -> tuple[int, list[str]]:
    async with UnitOfWork(sessionmaker) as uow:
        row = await ApiKeyRepo(uow.session).revoke(name.strip(), now=now)
        if row is None:
            return NOT_FOUND, [f"No application named {name!r}."]
        await uow.commit()
    return 0, [f"The API key of {name!r} is revoked."]


async def listing(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, list[str]]:
    lines = []
    async with UnitOfWork(sessionmaker) as uow:
        for row in await ApiKeyRepo(uow.session).all():
            state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M} UTC" if row.revoked_at else "active"
            lines.append(f"{row.name}\tcreated {row.created_at:%Y-%m-%d %H:%M} UTC\t{state}")
    return 0, lines or ["No API keys."]


async def _run(database_url: str, args: argparse.Namespace) -> tuple[int, list[str]]:
    from storage.db import make_engine, make_sessionmaker, upgrade_database

    engine = make_engine(database_url)
    try:
        await upgrade_database(engine)
        sessionmaker = make_sessionmaker(engine)
        now = datetime.now(UTC)
        if args.apikey_command == "add":
            return await add(sessionmaker, args.name, now=now)
        if args.apikey_command == "revoke":
            return await revoke(sessionmaker, args.name, now=now)
        return await listing(sessionmaker)
    finally:
        await engine.dispose()


def main(database_url: str, args: argparse.Namespace) -> int:
    """Run the command; what it says goes to stdout, or stderr when it failed."""
    code, lines = asyncio.run(_run(database_url, args))
    print("\n".join(lines), file=sys.stderr if code else sys.stdout)
    return code


__all__ = ["EXISTS", "NOT_FOUND", "add", "add_parser", "listing", "main", "revoke"]
