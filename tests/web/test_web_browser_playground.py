"""The playground's visitor story in a real browser: a complaint filed in the simulated Telegram chat shows up
on the dashboard's map, reached from the playground's header link and signed in with the demo account the
page shows (the dashboard served through the playground's own port, bot/playground/dashboard.py)."""

from __future__ import annotations

from typing import Any

from bot.playground import Playground
from tests.e2e.harness import Person
from tests.e2e.test_filing import file_complaint
from tests.playground.browserkit import BROWSER_MARKS, WAIT_MS, browser, open_page  # noqa: F401  (fixture)
from tests.playground.conftest import config, playground  # noqa: F401  (fixtures)

pytestmark = BROWSER_MARKS


async def test_a_visitor_files_in_the_chat_and_watches_it_on_the_dashboard_map(
    playground: Playground, browser: Any  # noqa: F811
) -> None:
    citizen = Person(playground.server, playground.world.citizens[0].user)
    confirmation = await file_complaint(None, citizen)  # type: ignore[arg-type]  # (the helper needs no world)
    assert "JMB-" in confirmation

    page = await open_page(browser, playground, width=1280, height=800)
    link = page.locator("#dashboard-link")
    assert await link.inner_text() == "Dasbor" and await link.get_attribute("href") == "/dashboard/"
    await page.locator("#dashboard-account-btn").click()
    await page.locator("#dashboard-menu").wait_for()
    username = await page.locator("#dashboard-username").inner_text()
    password = await page.locator("#dashboard-password").inner_text()
    assert (username, password) == (playground.demo_account.username, playground.demo_account.password)

    async with page.context.expect_page() as opened:
        await link.click()
    dashboard = await opened.value
    dashboard.set_default_timeout(WAIT_MS)
    await dashboard.wait_for_load_state()
    assert dashboard.url.startswith(playground.url + "/dashboard/login"), "the same address, then the sign-in"
    await dashboard.fill("input[name=username]", username)
    await dashboard.fill("input[name=password]", password)
    async with dashboard.expect_navigation():
        await dashboard.locator("form[action$='/login'] button[type=submit]").click()
    assert "/dashboard/login" not in dashboard.url, await dashboard.content()

    await dashboard.goto(playground.url + "/dashboard/map")
    pin = dashboard.locator(".leaflet-container path.pin")
    await pin.first.wait_for()
    assert await pin.count() == 1, "the visitor's complaint is on the map"
    assert page.errors == []
