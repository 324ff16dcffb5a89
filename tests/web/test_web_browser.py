"""The dashboard in a real browser (Playwright on Debian's Chromium) against the real app and the local
Telegram server: what the issue's "done when" names, each as a person does it.

Sign in through the form; filter the list; open a complaint (its words and photo); accept it from the web and
see the citizen's Telegram chat get the notice and the group's card change; export the list as CSV (no
name); an agency account cannot open another agency's complaint; wrong passwords are slowed down; the map
shows its pins with no tile server reachable. Each test starts its own app (tests/web/webkit.py's
``web_world``, SQLite) and browser context (tests/web/browser_world.py).
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import Any

from bot.playground.world import SAMPLE_PHOTOS
from tests.e2e.conftest import current
from tests.e2e.harness import body, eventually, payloads
from tests.web.browser_world import (  # noqa: F401  (fixtures: browser, database_url)
    MARKS,
    add_complaint,
    browser,
    database_url,
    filed_complaint,
    open_page,
    sign_in,
    submit_login,
)
from tests.web.webkit import DEFAULT_PASSWORD, WebWorld, create_account

pytestmark = MARKS

#: a complaint of DLH added beside the one filed on Telegram, for the list's filters
DLH_NUMBER = "JMB-2026-000901"


def row_links(page: Any) -> Any:
    """The list's links to complaints (one per row)."""
    return page.locator("main a[href*='/dashboard/complaints/JMB-']")


async def numbers_listed(page: Any) -> set[str]:
    hrefs = await row_links(page).evaluate_all("(links) => links.map((a) => a.getAttribute('href'))")
    return {href.rstrip("/").rsplit("/", 1)[-1] for href in hrefs}


async def test_sign_in_through_the_form_and_out_again(web_world: WebWorld, browser: Any) -> None:  # noqa: F811
    await create_account(web_world, "jcoc", DEFAULT_PASSWORD, "command")
    page = await open_page(browser, web_world, "/dashboard/complaints")
    assert "/dashboard/login" in page.url, "a page of the dashboard asks for a sign-in first"

    await submit_login(page, "jcoc", "not-the-password")
    assert "/dashboard/login" in page.url
    assert await page.locator("[role=alert]").count() == 1, "a wrong password is said so"

    await submit_login(page, "jcoc", DEFAULT_PASSWORD)
    assert page.url.endswith("/dashboard/complaints"), "signed in: on to the page that was asked for"
    assert "jcoc" in await page.locator("header").inner_text()
    assert await page.get_attribute("html", "lang") == "id", "Bahasa Indonesia first"
    async with page.expect_navigation():
        await page.locator("header a.lang").click()
    assert await page.get_attribute("html", "lang") == "en", "English by choice"
    await page.goto("/dashboard/complaints")
    assert await page.get_attribute("html", "lang") == "en", "and remembered"

    async with page.expect_navigation():
        await page.locator("form[action$='/logout'] button").click()
    await page.goto("/dashboard/")
    assert "/dashboard/login" in page.url, "signed out: the dashboard asks again"
    assert page.errors == []


async def test_filter_the_list_by_word_and_status(web_world: WebWorld, browser: Any) -> None:  # noqa: F811
    _citizen, _staff, _card, pupr_number = await filed_complaint(web_world)
    await add_complaint(web_world, DLH_NUMBER, status="selesai")
    page = await sign_in(browser, web_world, "command", path="/dashboard/complaints")
    assert await numbers_listed(page) == {pupr_number, DLH_NUMBER}

    await page.fill("input[name=q]", "sampah")
    async with page.expect_navigation():
        await page.press("input[name=q]", "Enter")
    assert await numbers_listed(page) == {DLH_NUMBER}, "words in the description"
    assert "q=sampah" in page.url, "the filter is in the address (bookmarks, export)"

    await page.goto("/dashboard/complaints")
    status = page.locator("select[name=status], input[name=status][value=baru]").first
    if await status.evaluate("(el) => el.tagName") == "SELECT":
        await status.select_option("baru")
    else:
        await status.check()
    async with page.expect_navigation():
        await page.locator("form:has([name=q]) [type=submit]").first.click()
    assert await numbers_listed(page) == {pupr_number}, "status Baru: only the new one"
    assert page.errors == []


async def test_open_a_complaint_shows_its_words_and_photo(web_world: WebWorld, browser: Any) -> None:  # noqa: F811
    _citizen, _staff, _card, number = await filed_complaint(web_world)
    page = await sign_in(browser, web_world, "command", path="/dashboard/complaints")
    async with page.expect_navigation():
        await row_links(page).first.click()
    assert page.url.endswith(f"/dashboard/complaints/{number}")
    main = await page.locator("main").inner_text()
    assert number in main and "Jalan berlubang besar di depan pasar" in main
    assert "Siti" not in main, "no name without the citizen's consent"
    photo = page.locator("main img[src*='/dashboard/photos/'], main img[src*='/media/']").first
    await photo.wait_for()
    loaded = await photo.evaluate("(img) => img.decode().then(() => img.naturalWidth, () => 0)")
    assert loaded > 0, "the citizen's photo is shown at its size"
    actions = await page.locator("form input[name=action]").evaluate_all("(inputs) => inputs.map((i) => i.value)")
    assert set(actions) == {"reassign", "nudge", "note"}, "the command centre's own actions, not the group's"
    assert page.errors == []

    viewer = await sign_in(browser, web_world, "viewer", path=f"/dashboard/complaints/{number}")
    assert "Jalan berlubang besar" in await viewer.locator("main").inner_text()
    assert await viewer.locator("form input[name=action]").count() == 0, "a viewer reads, changes nothing"


async def test_accept_from_the_web_tells_the_citizen_and_edits_the_card(
    web_world: WebWorld, browser: Any  # noqa: F811
) -> None:
    citizen, _staff, card, number = await filed_complaint(web_world)
    page = await sign_in(browser, web_world, "agency:pupr", path=f"/dashboard/complaints/{number}")
    accept = page.locator("form:has(input[name=action][value=accept]) button[type=submit]")
    async with page.expect_navigation():
        await accept.click()
    assert f"/dashboard/complaints/{number}" in page.url
    assert await page.locator(".flash-ok").count() == 1, "the page says it is done"
    assert await page.locator("form:has(input[name=action][value=accept])").count() == 0
    assert await page.locator("form:has(input[name=action][value=process])").count() == 1, "next step offered"

    notice = await citizen.next_matching(number)
    assert "diterima" in body(notice).lower(), "the citizen's Telegram chat gets the status notice"
    edited = await eventually(
        lambda: "diterima" in body(current(web_world, card)).lower() and current(web_world, card))
    assert edited.edited, "the group's card is edited in place"
    assert any(p.startswith("st:process:") for p in payloads(edited)), "its buttons move on to Proses"
    assert not any(p.startswith("st:accept:") for p in payloads(edited))
    assert page.errors == []


async def test_resolve_with_an_after_photo_uploaded_from_the_browser(
    web_world: WebWorld, browser: Any  # noqa: F811
) -> None:
    citizen, _staff, card, number = await filed_complaint(web_world)
    page = await sign_in(browser, web_world, "agency:pupr", path=f"/dashboard/complaints/{number}")
    for step in ("accept", "process"):
        async with page.expect_navigation():
            await page.locator(f"form:has(input[name=action][value={step}]) button[type=submit]").click()
    resolve = page.locator("form:has(input[name=action][value=resolve])")
    await page.locator("details:has(input[name=action][value=resolve]) summary").click()
    after = next(s for s in SAMPLE_PHOTOS if s.key == "jalan-berlubang").path
    await resolve.locator("input[type=file][name=photo]").set_input_files(str(after))
    await resolve.locator("textarea[name=text]").fill("Lubang sudah ditambal dan dipadatkan")
    async with page.expect_navigation():
        await resolve.locator("button[type=submit]").click()
    assert await page.locator(".flash-ok").count() == 1, await page.locator("main").inner_text()

    notice = await citizen.next_matching("selesai")
    assert notice.photo, "the citizen gets the after photo with the notice"
    await eventually(lambda: "selesai" in body(current(web_world, card)).lower().split("\n", 1)[0])
    photos = page.locator("main img[src*='/dashboard/photos/']")
    assert await photos.count() == 2, "before and after, both on the page"
    sizes = await photos.evaluate_all(
        "(imgs) => Promise.all(imgs.map((i) => i.decode().then(() => i.naturalWidth, () => 0)))")
    assert all(size > 0 for size in sizes), sizes
    assert page.errors == []


async def test_export_csv_has_the_complaint_and_no_name(web_world: WebWorld, browser: Any) -> None:  # noqa: F811
    citizen, _staff, _card, number = await filed_complaint(web_world, citizen_name="Siti Rahmawati")
    page = await sign_in(browser, web_world, "command", path="/dashboard/complaints")
    link = page.locator("a[href*='complaints.csv']").first
    async with page.expect_download() as download_info:
        await link.click()
    download = await download_info.value
    assert download.suggested_filename.endswith(".csv")
    text = (await asyncio.to_thread(Path(await download.path()).read_bytes)).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert len(rows) == 2 and any(number in cell for cell in rows[1]), rows
    assert "Siti" not in text and "Rahmawati" not in text, "no personal name"
    assert str(citizen.user.id) not in text, "no channel id"


async def test_agency_account_cannot_open_another_agencys_complaint(
    web_world: WebWorld, browser: Any  # noqa: F811
) -> None:
    _citizen, _staff, _card, number = await filed_complaint(web_world)  # PUPR's
    page = await sign_in(browser, web_world, "agency:dlh", path="/dashboard/complaints")
    assert number not in await page.locator("main").inner_text(), "not in its list"
    response = await page.goto(f"/dashboard/complaints/{number}")
    assert response is not None and response.status == 404, "nor by its address"
    hidden = (await page.locator("main").inner_text()).replace(number, "N")
    assert "berlubang" not in await page.content(), "nothing of it is shown"
    response = await page.goto("/dashboard/complaints/JMB-2026-999999")
    assert response is not None and response.status == 404
    missing = (await page.locator("main").inner_text()).replace("JMB-2026-999999", "N")
    assert hidden == missing, "the same page as a number that does not exist: its existence is not told"
    export = await page.context.request.get("/dashboard/complaints.csv")
    assert export.ok and number not in await export.text(), "nor in its export"


async def test_repeated_wrong_passwords_are_slowed_down(web_world: WebWorld, browser: Any) -> None:  # noqa: F811
    await create_account(web_world, "jcoc", DEFAULT_PASSWORD, "command")
    page = await open_page(browser, web_world)
    statuses: list[int] = []
    for _ in range(8):  # free failures first, then growing delays: the next try lands inside one
        response = await submit_login(page, "jcoc", "tebak-tebakan-salah")
        statuses.append(response.status)
        if response.status == 429:
            break
    assert statuses[0] != 429 and statuses[-1] == 429, statuses
    assert await page.locator("[role=alert]").count() == 1
    warning = await page.locator("main").inner_text()
    assert "tunggu" in warning.lower() or "detik" in warning.lower(), warning

    web_world.clock.advance(seconds=-30)  # the first delays are seconds: a slow machine must not outwait them
    response = await submit_login(page, "jcoc", DEFAULT_PASSWORD)
    assert response.status == 429 and "/dashboard/login" in page.url, "even the right password waits"


async def test_map_shows_pins_with_no_tiles_reachable(web_world: WebWorld, browser: Any) -> None:  # noqa: F811
    _citizen, _staff, _card, number = await filed_complaint(web_world)
    await add_complaint(web_world, DLH_NUMBER)
    failed: list[str] = []
    page = await sign_in(browser, web_world, "command", path="")
    page.on("requestfailed", lambda request: failed.append(request.url))
    await page.goto("/dashboard/map")
    pins = page.locator(".leaflet-container path.pin")
    await pins.first.wait_for()
    assert await pins.count() == 2, "one pin per open complaint"
    assert await page.locator(".leaflet-container path.pin-baru").count() == 2, "coloured by status"
    assert await page.locator(".leaflet-container path.area").count() >= 5, "the kecamatan are drawn"
    assert any(not url.startswith(web_world.app.http_url) for url in failed), "the tiles were unreachable"
    await pins.first.click()
    popup = page.locator(".leaflet-popup-content")
    await popup.wait_for()
    assert "JMB-" in await popup.inner_text(), "a pin's popup names its complaint"
    assert page.errors == []


async def test_phone_width_pages_have_no_sideways_scroll(web_world: WebWorld, browser: Any) -> None:  # noqa: F811
    _citizen, _staff, _card, number = await filed_complaint(web_world)
    page = await sign_in(browser, web_world, "agency:pupr", path="", viewport={"width": 390, "height": 800})
    for path in ("/dashboard/", "/dashboard/complaints", f"/dashboard/complaints/{number}", "/dashboard/map",
                 "/dashboard/agencies"):
        await page.goto(path)
        overflow = await page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than a phone"
    assert page.errors == []
