"""The playground page as one person uses it, in Debian's Chromium: panes keep their place when another chat
opens, the photo and place panels fit the pane, bubble times are the city's, Reset leaves nothing unread, a
WhatsApp citizen answers staff with the pane's reply control (Twilio's ``OriginalRepliedMessageSid``), the clock
control moves the bot an hour on (the draft reminder comes at once), and the README's picture.

``docs/playground.png`` is made by the last test::

    SIKESAL_DOCS_SCREENSHOT=1 .venv/bin/pytest -q tests/playground/test_playground_page.py -k docs_picture -p no:cacheprovider
"""

from __future__ import annotations

import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.playground import Playground
from bot.playground.world import SAMPLE_PHOTOS, street_place
from tests.e2e.harness import Person
from tests.playground.browserkit import BROWSER_MARKS, ROOT, WAIT_MS, frames, open_page, save_screenshot
from tests.playground.conftest import Client, body, buttons, number_of
from tests.playground.test_playground_whatsapp import add_wa, say

pytestmark = BROWSER_MARKS

SCROLL = "(list) => ({top: list.scrollTop, height: list.scrollHeight, client: list.clientHeight})"
AT_END = "(list) => list.scrollHeight - list.scrollTop - list.clientHeight < 2"
RECT = "(node) => { const r = node.getBoundingClientRect(); return {top: r.top, bottom: r.bottom, height: r.height}; }"


def pane(page: Any, title: str) -> Any:
    return page.locator(f'section.pane[data-title="{title}"]')


async def scroll_of(pane_: Any) -> dict[str, float]:
    return dict(await pane_.locator(".messages").evaluate(SCROLL))


async def wait_at_end(page: Any, pane_: Any) -> None:
    """Until the pane's message list shows its newest message (scrolls are applied in animation frames)."""
    handle = await pane_.locator(".messages").element_handle()
    await page.wait_for_function(AT_END, arg=handle, timeout=WAIT_MS)


async def test_opening_a_third_chat_keeps_where_each_pane_was_scrolled(
    browser: Any, playground: Playground
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    siti = Person(playground.server, playground.world.citizens[0].user)
    for _ in range(3):  # the welcome three times: more than the pane shows
        await siti.say("/start")
    pupr = playground.world.group_for("pupr")
    rina = pupr.staff[1]
    for index in range(12):
        rina.send_text(f"Catatan lapangan {index + 1}: saluran di Jl. Sultan Thaha perlu dicek lagi besok pagi",
                       chat=pupr.chat_id)

    page = await open_page(browser, playground, height=700)
    siti_pane, pupr_pane = pane(page, "Siti"), pane(page, "Laporan PUPR")
    await expect(pupr_pane.locator(".msg", has_text="Catatan lapangan 12")).to_have_count(1)
    await expect(siti_pane.locator(".msg.bot")).to_have_count(3)
    await frames(page)
    for scrolled in (await scroll_of(siti_pane), await scroll_of(pupr_pane)):
        assert scrolled["height"] > scrolled["client"] + 200, scrolled  # both lists really scroll
    await wait_at_end(page, siti_pane)  # a pane opens at its newest message
    # the reader scrolls PUPR's history up; Siti's pane stays at its end
    await pupr_pane.locator(".messages").evaluate("(list) => { list.scrollTop = 150; }")
    await frames(page)

    await page.locator('.chat-item[data-title="Laporan DLH"] .chat-link').click()
    await expect(pane(page, "Laporan DLH")).to_be_visible()
    await frames(page, 3)
    assert (await scroll_of(pupr_pane))["top"] == 150, "PUPR's pane kept its place"
    assert await siti_pane.locator(".messages").evaluate(AT_END), (await scroll_of(siti_pane), "Siti's pane is still at its newest message")

    # news in a pane the reader scrolled up does not pull it down...
    rina.send_text("Catatan lapangan 13: sudah difoto", chat=pupr.chat_id)
    await expect(pupr_pane.locator(".msg", has_text="Catatan lapangan 13")).to_have_count(1)
    await frames(page, 3)
    assert (await scroll_of(pupr_pane))["top"] == 150
    # ...what the reader sends there does, and a pane at its end follows the bot's answers
    await pupr_pane.locator(".compose-input").fill("Baik, besok saya cek")
    await pupr_pane.locator(".compose-input").press("Enter")
    await expect(pupr_pane.locator(".msg.out", has_text="besok saya cek")).to_have_count(1)
    await wait_at_end(page, pupr_pane)
    await siti_pane.locator(".compose-input").fill("/start")
    await siti_pane.locator(".compose-input").press("Enter")
    await expect(siti_pane.locator(".msg.bot")).to_have_count(4)
    await wait_at_end(page, siti_pane)
    assert page.errors == []


async def test_photo_and_place_panels_use_the_panes_height(browser: Any, playground: Playground) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    await Person(playground.server, playground.world.citizens[0].user).say("/start")
    page = await open_page(browser, playground, height=600)
    siti = pane(page, "Siti")
    await expect(siti.locator(".msg.bot")).to_have_count(1)

    async def layout() -> dict[str, Any]:
        return {"pane": await siti.evaluate(RECT), "header": await siti.locator(".pane-header").evaluate(RECT),
                "panel": await siti.locator(".panel").evaluate(RECT),
                "composer": await siti.locator(".composer").evaluate(RECT),
                "scroll": await siti.locator(".panel").evaluate(
                    "(p) => ({height: p.scrollHeight, client: p.clientHeight})")}

    def assert_inside(box: dict[str, Any]) -> None:
        assert box["header"]["bottom"] <= box["panel"]["top"] + 1, box
        assert box["panel"]["bottom"] <= box["composer"]["top"] + 1, box  # the composer is not pushed away
        assert box["composer"]["bottom"] <= box["pane"]["bottom"] + 1, box  # nothing hangs off the pane

    # a short window: the place list is longer than the room left, so the panel takes that room and scrolls
    await siti.locator(".attach-location").click()
    await expect(siti.locator('.place[data-place="masjid-agung"]')).to_be_visible()
    box = await layout()
    assert_inside(box)
    assert box["panel"]["height"] >= 0.5 * box["pane"]["height"], box  # the pane's height, not a small strip
    assert box["scroll"]["height"] > box["scroll"]["client"], box
    await siti.locator(".panel").evaluate("(p) => { p.scrollTop = p.scrollHeight; }")
    last = await siti.locator('.place[data-place="palembang"]').evaluate(RECT)
    assert box["panel"]["top"] <= last["top"] and last["bottom"] <= box["panel"]["bottom"] + 1, (last, box)
    # a tall window: the whole list shows, nothing to scroll
    await page.set_viewport_size({"width": 1440, "height": 1050})
    await frames(page)
    box = await layout()
    assert_inside(box)
    assert box["scroll"]["height"] <= box["scroll"]["client"] + 1, box
    # the photo panel: samples, file picker and caption inside the pane
    await page.set_viewport_size({"width": 1440, "height": 600})
    await siti.locator(".attach-photo").click()
    await expect(siti.locator(".sample")).to_have_count(len(SAMPLE_PHOTOS))
    box = await layout()
    assert_inside(box)
    caption = await siti.locator(".caption-input").evaluate(RECT)
    assert caption["bottom"] <= box["panel"]["bottom"] + 1 or box["scroll"]["height"] > box["scroll"]["client"]
    assert page.errors == []


async def test_bubble_times_are_the_citys_time_whatever_the_browsers_zone(
    browser: Any, playground: Playground, client: Client
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    city = ZoneInfo(playground.config.city.timezone)
    elsewhere = "America/New_York"  # 11 or 12 hours from Jakarta: its clock never reads the same
    siti_user = playground.world.citizens[0].user
    welcome = await Person(playground.server, siti_user).say("/start")
    wulan = await add_wa(client)
    greeting = await say(client, wulan["number"], "halo")

    page = await open_page(browser, playground, timezone=elsewhere)
    assert await page.evaluate("Intl.DateTimeFormat().resolvedOptions().timeZone") == elsewhere
    expected = datetime.fromtimestamp(welcome.date, city).strftime("%H:%M")
    assert expected != datetime.fromtimestamp(welcome.date, ZoneInfo(elsewhere)).strftime("%H:%M")
    time = pane(page, "Siti").locator(f'.msg[data-msg-id="{welcome.message_id}"] .meta time')
    await expect(time).to_have_text(expected)
    title = await time.get_attribute("title") or ""
    assert title.endswith(f"{expected} WIB"), title  # the full date in the tooltip, with the zone as on cards

    await page.locator('.chat-item[data-title="Wulan"] .chat-link').click()
    wa_time = pane(page, "Wulan").locator(f'.msg[data-msg-id="{greeting["message_id"]}"] .meta time')
    await expect(wa_time).to_have_text(datetime.fromtimestamp(greeting["date"], city).strftime("%H:%M"))
    assert page.errors == []


async def test_the_clock_control_moves_the_bot_an_hour_on_and_the_draft_reminder_comes(
    browser: Any, playground: Playground
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    city = ZoneInfo(playground.config.city.timezone)
    siti = Person(playground.server, playground.world.citizens[0].user)
    await siti.say("/start")
    await siti.tap_and_read("menu:new")  # a draft now waits at the category question

    page = await open_page(browser, playground, timezone="America/New_York")  # the bot's time is the city's
    shown = page.locator("#bot-clock-time")
    await expect(shown).to_have_text(re.compile(r"\d{2}:\d{2} WIB$"))
    await expect(page.locator("#bot-clock-ahead")).to_be_hidden()

    await page.locator("#clock-btn").click()
    await expect(page.locator("#clock-menu")).to_be_visible()
    await page.locator('.clock-step[data-hours="1"]').click()
    await expect(page.locator(".toast", has_text="Jam bot maju +1 jam")).to_have_count(1)  # shown for 3 s
    await expect(page.locator("#clock-menu")).to_be_hidden()
    await expect(page.locator("#bot-clock-ahead")).to_have_text("+1 jam")
    # the bot's draft reminder (drafts.remind_after_minutes: 30) comes now, not after the sweeper's next minute
    await expect(pane(page, "Siti").locator(".msg.bot", has_text="belum terkirim")).to_have_count(1, timeout=8_000)

    moved = datetime.fromisoformat(str(await shown.get_attribute("datetime")).replace("Z", "+00:00"))
    assert abs((moved - datetime.now(city) - timedelta(hours=1)).total_seconds()) < 90
    local = moved.astimezone(city)
    assert (await shown.text_content() or "").endswith(f"{local:%H:%M} WIB")
    assert page.errors == []


async def test_reset_leaves_no_unread_badges(browser: Any, playground: Playground) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    page = await open_page(browser, playground)
    dlh = playground.world.group_for("dlh")
    dlh.staff[1].send_text("Truk sampah berangkat jam 7", chat=dlh.chat_id)  # DLH's pane is closed: unread
    badge = page.locator('.chat-item[data-title="Laporan DLH"] .badge')
    await expect(badge).to_have_text("1")
    await expect(badge).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator("#reset-btn").click()
    await expect(page.locator("#overlay")).to_be_hidden()
    # every group was linked again (those messages reached the page), and none of it counts as unread
    for group in playground.world.groups:
        item = page.locator(f'.chat-item[data-title="{group.title}"]')
        await expect(item.locator(".chat-item-preview")).to_contain_text("terhubung")
    await frames(page)
    await expect(page.locator(".chat-item .badge:not(.hidden)")).to_have_count(0)
    # news after the reset counts again
    dlh = playground.world.group_for("dlh")
    dlh.staff[1].send_text("Truk sampah berangkat jam 8", chat=dlh.chat_id)
    await expect(page.locator('.chat-item[data-title="Laporan DLH"] .badge')).to_have_text("1")
    assert page.errors == []


async def _whatsapp_complaint(client: Client, playground: Playground, name: str = "Wulan",
                              place_name: str = "Jalan Sultan Thaha") -> dict[str, Any]:
    """A WhatsApp citizen files through the page's API (photo, a pin on a sample street); the card and its ids."""
    number = (await add_wa(client, name))["number"]
    greeting = await say(client, number, "halo")
    categories = await say(client, number, number_of(greeting, "Buat Pengaduan"))
    await say(client, number, number_of(categories, "Jalan rusak"))
    await say(client, number, "Jalan berlubang besar di depan ruko, motor sering terjatuh saat hujan")
    photo = await client.post("/api/whatsapp/send", {"number": number, "kind": "photo",
                                                     "sample": SAMPLE_PHOTOS[0].key})
    after = await client.wa_wait_for(number, lambda m: m["from_bot"], after=photo["message_id"])
    if "Selesai" in after["body"]:
        await say(client, number, number_of(after, "Selesai"))
    place = street_place(place_name)
    pin = await client.post("/api/whatsapp/send", {"number": number, "kind": "location", "lat": place.lat,
                                                   "lon": place.lon, "label": place.name})
    summary = await client.wa_wait_for(number, lambda m: m["from_bot"] and "Kirim" in m["body"],
                                       after=pin["message_id"])
    done = await say(client, number, number_of(summary, "Kirim"), lambda m: "JMB-" in m["body"])
    tracking = next(w for w in done["body"].replace("*", " ").split() if w.startswith("JMB-"))
    group = playground.world.group_for("pupr")
    card = await client.wait_for(group.chat_id, lambda m: m["from_bot"] and tracking in body(m))
    return {"number": number, "tracking": tracking, "card": card, "group": group}


async def _staff_answer(client: Client, complaint: dict[str, Any], text: str) -> dict[str, Any]:
    """Budi accepts the card and replies to it; the WhatsApp bubble that carries his words."""
    group, card, number = complaint["group"], complaint["card"], complaint["number"]
    budi = group.staff[0]
    accept = next(b["callback_data"] for b in buttons(card) if b.get("callback_data", "").startswith("st:accept:"))
    await client.post("/api/press", {"user_id": budi.id, "chat_id": group.chat_id,
                                     "message_id": card["message_id"], "callback_data": accept})
    await client.post("/api/send", {"user_id": budi.id, "chat_id": group.chat_id, "kind": "text", "text": text,
                                    "reply_to": card["message_id"]})
    return await client.wa_wait_for(number, lambda m: m["from_bot"] and text in m["body"])


async def test_whatsapp_citizen_answers_staff_with_the_reply_control(
    browser: Any, playground: Playground, client: Client
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    complaint = await _whatsapp_complaint(client, playground)
    relayed = await _staff_answer(client, complaint, "Tim kami menuju lokasi besok pagi")

    page = await open_page(browser, playground)
    await page.locator('.chat-item[data-title="Wulan"] .chat-link').click()
    wulan = pane(page, "Wulan")
    bubble = wulan.locator(f'.msg[data-msg-id="{relayed["message_id"]}"]')
    await expect(bubble).to_contain_text("Tim kami")
    reply_bar = wulan.locator(".wa-reply-bar")
    # swipe the bubble to the right, as on a phone: the reply context appears above the input...
    box = await bubble.locator(".bubble .text").bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + 10, box["y"] + box["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(box["x"] + 50, box["y"] + box["height"] / 2, steps=4)
    await page.mouse.move(box["x"] + 95, box["y"] + box["height"] / 2, steps=4)
    await page.mouse.up()
    await expect(reply_bar).to_be_visible()
    await expect(reply_bar).to_contain_text("Tim kami")
    # ...and can be cancelled
    await reply_bar.locator(".wa-reply-cancel").click()
    await expect(reply_bar).to_be_hidden()
    # "↩ Balas" on the bubble does the same; the answer goes out as a WhatsApp reply to that message
    await bubble.locator(".wa-reply-btn").click()
    await expect(reply_bar).to_contain_text("Tim kami")
    await expect(wulan.locator(".compose-input")).to_be_focused()
    await page.keyboard.type("Terima kasih, lubangnya di sisi kiri jalan")
    await page.keyboard.press("Enter")
    mine = wulan.locator(".msg.out", has_text="sisi kiri")
    await expect(mine.locator(".wa-quote")).to_contain_text("Tim kami")
    await expect(reply_bar).to_be_hidden()
    sent = next(m for m in await client.wa_messages(complaint["number"]) if not m["from_bot"] and "sisi kiri" in m["body"])
    assert sent["reply_to_sid"] == relayed["sid"]  # Twilio's OriginalRepliedMessageSid
    # a photo can answer too: the attach menu's photo goes out with the same reply context
    await bubble.locator(".wa-reply-btn").click()
    await wulan.locator(".wa-attach").click()
    await wulan.locator(".attach-photo").click()
    await wulan.locator(f'.sample[data-sample="{SAMPLE_PHOTOS[1].key}"]').click()
    await expect(wulan.locator(".msg.out", has=page.locator("img.photo")).last.locator(".wa-quote")).to_contain_text(
        "Tim kami")
    photo = [m for m in await client.wa_messages(complaint["number"]) if not m["from_bot"] and m["kind"] == "photo"]
    assert photo[-1]["reply_to_sid"] == relayed["sid"]

    # staff see it in their group as a relay under the complaint's card
    group, card = complaint["group"], complaint["card"]
    in_group = await client.wait_for(group.chat_id, lambda m: m["from_bot"] and "sisi kiri" in body(m))
    assert (in_group.get("reply_to_message_id") == card["message_id"]
            or (in_group.get("reply_to_message") or {}).get("message_id") == card["message_id"]), in_group
    relay = pane(page, "Laporan PUPR").locator(f'.msg[data-msg-id="{in_group["message_id"]}"]')
    await expect(relay).to_contain_text("sisi kiri")
    await expect(relay.locator(".quote")).to_contain_text(complaint["tracking"])
    assert page.errors == []


async def test_docs_picture(browser: Any, playground: Playground, client: Client, tmp_path: Path) -> None:
    """The README's picture: every agency group, a WhatsApp citizen who answered staff, and the card with its
    district (Kec.) line. With ``SIKESAL_DOCS_SCREENSHOT=1`` it is written to ``docs/playground.png``."""
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    complaint = await _whatsapp_complaint(client, playground)
    relayed = await _staff_answer(client, complaint, "Tim kami menuju lokasi besok pagi")
    reply = await client.post("/api/whatsapp/send", {
        "number": complaint["number"], "kind": "text", "text": "Terima kasih, lubangnya di sisi kiri jalan",
        "reply_to": relayed["sid"]})
    group = complaint["group"]
    await client.wait_for(group.chat_id, lambda m: m["from_bot"] and "sisi kiri" in body(m))
    await client.wa_wait_for(complaint["number"], lambda m: m["from_bot"] and m["status"] == "read",
                             after=reply["message_id"] - 1)

    page = await open_page(browser, playground, width=1440, height=900)
    await page.locator("#guide-hide").click()
    await page.locator('section.pane[data-title="Siti"] .close-btn').click()
    await page.locator('.chat-item[data-title="Wulan"] .chat-link').click()
    wulan, pupr = pane(page, "Wulan"), pane(page, "Laporan PUPR")
    await expect(wulan.locator(".msg.out .wa-quote")).to_contain_text("Tim kami")
    card = pupr.locator(f'.msg[data-msg-id="{complaint["card"]["message_id"]}"]')
    await expect(card).to_contain_text("Kec. ")
    await expect(card.locator("img.photo")).to_be_visible()
    await expect(page.locator("#group-list .chat-item")).to_have_count(len(playground.config.agencies))
    await card.locator(".pin, .text").last.evaluate("(n) => n.scrollIntoView({block: 'end'})")
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    await expect(page.locator(".toast")).to_have_count(0)
    await page.mouse.move(0, 0)
    await frames(page, 3)
    shot = save_screenshot(await page.screenshot(), tmp_path, "playground.png")
    if os.environ.get("SIKESAL_DOCS_SCREENSHOT"):
        shutil.copyfile(shot, ROOT / "docs" / "playground.png")
    assert page.errors == []
