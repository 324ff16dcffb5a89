"""The dashboard's browser tests' kit: Debian's Chromium (Playwright) on the real app of ``web_world``.

* :func:`open_page` -- a page in a fresh browser context (its own cookies) whose base URL is the app, at
  1280x800 in the city's zone and Indonesian; every request to another host is refused, as if the map's tile
  server (and the internet) were unreachable, so no test ever depends on the network. ``page.errors`` lists
  uncaught script errors.
* :func:`sign_in` -- an account made with ``role`` (as ``sikesal user add`` does) and signed in through the
  login form, as a person would: fields ``username`` and ``password``, the submit button.
* :func:`filed_complaint` -- the PUPR group linked and a citizen's complaint filed through the real Telegram
  flow (tests/e2e's ``file_complaint``); returns the citizen, the group's staff, the card and the tracking number.

Browser tests run on SQLite only (the ``database_url`` fixture of this module's users is overridden): the
HTTP-level tests of each dashboard part run on both backends, and a second browser pass would only double
the time. The browser itself is tests/playground/browserkit.py's (never ``playwright install``: the system
Chromium through ``executable_path``; tests are skipped with the reason when it is missing).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from storage.models import Citizen, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import outbox_settled
from tests.e2e.harness import Person
from tests.e2e.test_filing import file_complaint
from tests.playground.browserkit import BROWSER_MARKS, WAIT_MS, browser
from tests.web.webkit import DEFAULT_PASSWORD, WebWorld, create_account

ROOT = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1280, "height": 800}
TRACKING = re.compile(r"JMB-\d{4}-\d{6}")
#: what every browser test module sets: the playground's marks (Chromium and playwright present)
MARKS = BROWSER_MARKS


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only for the browser tests (see the module docstring)."""
    from storage.db import default_database_url

    return default_database_url(tmp_path / "data")


async def open_page(browser: Any, world: WebWorld, path: str = "/dashboard/login", *,
                    viewport: dict[str, int] | None = None, lang: str = "id-ID",
                    device_scale_factor: float = 1.0) -> Any:
    """A page of a new browser context on the app at ``path``; other hosts are unreachable."""
    base = world.app.http_url
    local = urlsplit(base).netloc
    context = await browser.new_context(viewport=viewport or VIEWPORT, timezone_id=world.config.city.timezone,
                                        locale=lang, base_url=base, accept_downloads=True,
                                        device_scale_factor=device_scale_factor)

    async def only_local(route: Any) -> None:
        if urlsplit(route.request.url).netloc == local or route.request.url.startswith(("data:", "blob:")):
            await route.continue_()
        else:
            await route.abort("internetdisconnected")

    await context.route("**/*", only_local)
    page = await context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    if path:
        await page.goto(path)
    return page


async def submit_login(page: Any, username: str, password: str) -> Any:
    """Fill the login form and press its button; returns the response of the page it leads to."""
    if "/dashboard/login" not in page.url:
        await page.goto("/dashboard/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    async with page.expect_navigation() as navigation:
        await page.locator("form[action$='/login'] button[type=submit]").click()
    return await navigation.value


async def sign_in(browser: Any, world: WebWorld, role: str = "command", username: str | None = None,
                  *, path: str = "/dashboard/", password: str = DEFAULT_PASSWORD, **page_options: Any) -> Any:
    """A page signed in as a new account with ``role``, then at ``path``."""
    name = username or re.sub(r"[^a-z0-9]+", "-", role)
    await create_account(world, name, password, role)
    page = await open_page(browser, world, **page_options)
    await submit_login(page, name, password)
    assert "/dashboard/login" not in page.url, f"sign-in as {name} failed: {await page.content()}"
    if path and urlsplit(page.url).path != path:
        await page.goto(path)
    return page


async def filed_complaint(world: WebWorld, agency: str = "pupr", category: str = "jalan",
                          citizen_name: str = "Siti") -> tuple[Person, list[Person], Any, str]:
    """A complaint filed through the real Telegram flow into ``agency``'s linked group.

    Returns ``(citizen, staff, card, tracking number)``; ``card`` is the group's card message as posted.
    """
    staff = await world.agency_group(agency)
    citizen = world.citizen(citizen_name)
    confirmation = await file_complaint(world, citizen, category=category)
    found = TRACKING.search(confirmation)
    assert found, confirmation
    card = await staff[0].next_matching(found.group(0))
    await outbox_settled(world)  # the card's message link is recorded before the web edits it
    return citizen, staff, card, found.group(0)


async def add_complaint(world: WebWorld, number: str, **fields: Any) -> int:
    """A complaint row stored directly (for lists that need more rows than one Telegram filing gives),
    by a citizen who did not share a name; returns its id."""
    assert world.app.runtime is not None
    now = world.app.runtime.clock()
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        citizen = Citizen(channel="telegram", channel_user_id=f"seed-{number}",
                          display_name="Warga Uji", share_name=False)
        uow.session.add(citizen)
        await uow.session.flush()
        values: dict[str, Any] = dict(
            number=number, citizen_id=citizen.id, category="sampah", agency="dlh",
            description="Sampah menumpuk di pinggir jalan, baunya menyengat", latitude=-1.6034, longitude=103.6213,
            address="Pasar Angso Duo", kecamatan="Pasar Jambi", status="baru", created_at=now - timedelta(hours=5),
            updated_at=now - timedelta(hours=4), due_at=now + timedelta(days=1), anon_alias=None,
        )
        values.update(fields)
        complaint = Complaint(**values)
        uow.session.add(complaint)
        await uow.session.flush()
        await uow.commit()
        return complaint.id


__all__ = ["MARKS", "VIEWPORT", "add_complaint", "browser", "database_url", "filed_complaint", "open_page",
           "sign_in", "submit_login"]
