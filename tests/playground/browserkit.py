"""Shared parts of the playground's browser tests: Debian's Chromium driven by Playwright, a page opened on a
running playground, screenshots kept under ``test-results/playground/``.

Needs ``/usr/bin/chromium`` and the ``playwright`` Python package (never ``playwright install``: the system
Chromium is used through ``executable_path``). Tests using it are skipped with the reason when either is missing.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from bot.playground import Playground

ROOT = Path(__file__).resolve().parents[2]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WAIT_MS = 20_000

#: every browser test module sets ``pytestmark = BROWSER_MARKS``
BROWSER_MARKS = [
    pytest.mark.e2e,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser test needs Debian's Chromium at /usr/bin/chromium"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="browser test needs the playwright Python package (pip install playwright)"),
]


@pytest_asyncio.fixture
async def browser() -> AsyncIterator[Any]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            await chromium.close()


async def open_page(browser: Any, playground: Playground, width: int = 1440, height: int = 900,
                    timezone: str = "Asia/Jakarta") -> Any:
    """The page in a fresh browser context, once the world is ready (``page.errors``: uncaught script errors)."""
    page = await browser.new_page(viewport={"width": width, "height": height}, timezone_id=timezone,
                                  locale="id-ID")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    await page.goto(playground.url)
    await page.locator("#overlay.hidden").wait_for(state="attached", timeout=WAIT_MS)
    return page


def save_screenshot(data: bytes, tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    target.write_bytes(data)
    results = ROOT / "test-results" / "playground"
    results.mkdir(parents=True, exist_ok=True)
    (results / name).write_bytes(data)
    return target


async def frames(page: Any, count: int = 2) -> None:
    """Let the page finish what it queued for the next animation frames (scrolls are applied there)."""
    await page.evaluate("(n) => new Promise((done) => { const step = (k) => k ? requestAnimationFrame(() => step(k - 1)) "
                        ": done(); step(n); })", count)
