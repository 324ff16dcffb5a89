"""Open311 fixtures: the real app (tests/e2e's ``world``: the local Bot API server, the app's web server) with
the agencies' groups linked and one API key, and a small HTTP client for ``/open311/v2``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
import pytest_asyncio

from bot.open311.keys import new_key
from storage.api_keys import ApiKeyRepo
from storage.uow import UnitOfWork
from tests.e2e.conftest import World, config, server, world  # noqa: F401  (fixtures)
from tests.e2e.harness import Person

APP_NAME = "aplikasi-warga"


@dataclass
class Reply:
    status: int
    text: str
    content_type: str

    def json(self) -> Any:
        assert self.content_type == "application/json", self.content_type
        return json.loads(self.text)

    def xml(self) -> ET.Element:
        assert self.content_type == "text/xml", self.content_type
        return ET.fromstring(self.text.encode())


@dataclass
class Api:
    world: World
    session: aiohttp.ClientSession
    key: str
    staff: dict[str, list[Person]]

    @property
    def base(self) -> str:
        return f"{self.world.app.http_url}/open311/v2"

    async def get(self, path: str, **params: str) -> Reply:
        async with self.session.get(f"{self.base}/{path}", params=params) as response:
            return Reply(response.status, await response.text(), response.content_type)

    async def post(self, path: str, **form: str) -> Reply:
        async with self.session.post(f"{self.base}/{path}", data=form) as response:
            return Reply(response.status, await response.text(), response.content_type)


async def add_key(app_world: World, name: str) -> str:
    key = new_key()
    assert app_world.app.runtime is not None
    async with UnitOfWork(app_world.app.runtime.sessionmaker) as uow:
        assert await ApiKeyRepo(uow.session).add(name, key) is not None
        await uow.commit()
    return key


@pytest_asyncio.fixture
async def api(world: World) -> AsyncIterator[Api]:  # noqa: F811
    staff = {"pupr": await world.agency_group("pupr", ("Budi",)),
             "dishub": await world.agency_group("dishub", ("Dewi",))}
    key = await add_key(world, APP_NAME)
    async with aiohttp.ClientSession() as session:
        yield Api(world=world, session=session, key=key, staff=staff)
