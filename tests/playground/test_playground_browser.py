"""The page in a real browser (Debian's Chromium driven by Playwright): a complaint from citizen to agency
and back, the sanitizer, and the narrow-screen layout.

Needs ``/usr/bin/chromium`` and the ``playwright`` Python package (never ``playwright install``: the
system Chromium is used). Skipped with the reason when either is missing. Screenshots go to the
test's ``tmp_path`` and to ``test-results/playground/``. The README's picture (``docs/playground.png``) is
made by ``test_docs_picture`` in ``test_playground_page.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.playground import Playground
from localapi.telegram import make_jpeg
from tests.playground.browserkit import BROWSER_MARKS, WAIT_MS, open_page, save_screenshot

pytestmark = BROWSER_MARKS


async def test_citizen_files_a_complaint_and_staff_handle_it(
    browser: Any, playground: Playground, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    page = await open_page(browser, playground)
    siti = page.locator('section.pane[data-title="Siti"]')
    pupr = page.locator('section.pane[data-title="Laporan PUPR"]')
    await expect(pupr.locator(".msg.bot").last).to_contain_text("Dinas Pekerjaan Umum")  # linked at start

    def bot_button(pane: Any, text: str) -> Any:
        return pane.locator(".msg.bot .inline-kb .kb-btn", has_text=text).last

    # -- the citizen files: start, category, description, photo, location, send ---------------------------
    await siti.locator(".start-btn").click()
    await bot_button(siti, "Buat Pengaduan").click()
    await bot_button(siti, "Jalan rusak").click()
    await expect(siti.locator(".msg.bot").last).to_contain_text("Ceritakan masalahnya")
    await siti.locator(".compose-input").fill("Jalan berlubang besar di depan masjid, sangat berbahaya bagi motor")
    await siti.locator(".compose-input").press("Enter")
    await expect(siti.locator(".msg.bot").last).to_contain_text("foto")
    await siti.locator(".attach-photo").click()
    await siti.locator('.sample[data-sample="jalan-berlubang"]').click()
    await expect(siti.locator(".msg.out img.photo")).to_have_count(1)
    await bot_button(siti, "✅ Selesai").click()
    location_button = siti.locator(".reply-kb .request-location")
    await location_button.click()  # the bot's "send location" keyboard button opens the chooser
    await expect(siti.locator('.place[data-place="palembang"] .place-outside')).to_have_text("di luar Kota Jambi")
    await siti.locator('.place[data-place="masjid-agung"]').click()
    await expect(siti.locator(".msg.out .pin")).to_contain_text("Masjid Agung Al-Falah")
    await expect(siti.locator(".msg.out .pin .coords")).to_contain_text("-1.61640, 103.61490")
    await expect(location_button).to_have_count(0)  # the keyboard went away
    # the local Nominatim names the nearest sample street in the summary
    await expect(siti.locator(".msg.bot", has_text="Jl. Hayam Wuruk")).to_have_count(1)
    await bot_button(siti, "Kirim").click()
    await expect(siti.locator(".msg.bot", has_text="JMB-").last).to_be_visible()

    # -- the agency group shows the card; Budi accepts, Rina processes and resolves -----------------------
    card = pupr.locator(".msg.bot", has=page.locator("img.photo"), has_text="JMB-").last
    await expect(card).to_contain_text("Jalan berlubang besar")
    await expect(card.locator("img.photo")).to_be_visible()
    card_id = await card.get_attribute("data-msg-id")
    card = pupr.locator(f'.msg[data-msg-id="{card_id}"]')
    await card.locator(".kb-btn", has_text="Terima").click()
    await expect(siti.locator(".msg.bot", has_text="sudah diterima")).to_have_count(1)
    await pupr.locator(".actor-select").select_option(label="Rina (PUPR)")
    await card.locator(".kb-btn", has_text="Proses").click()
    await expect(card.locator(".kb-btn", has_text="Selesai")).to_be_visible()
    await card.locator(".kb-btn", has_text="Selesai").click()
    # Selesai asks for the "after" photo (jalan: required); the prompt's force-reply opens the reply bar
    await expect(pupr.locator(".msg.bot", has_text="foto sesudah perbaikan")).to_have_count(1)
    await pupr.locator(".attach-photo").first.click()
    await pupr.locator('.sample[data-sample="jalan-berlubang"]').click()
    await expect(siti.locator(".msg.bot", has_text="sudah selesai ditangani")).to_have_count(1)
    await expect(siti.locator(".msg.bot", has_text="sudah selesai ditangani").locator("img.photo")).to_have_count(1)
    await expect(card.locator(".edited")).to_have_text("diedit")  # the card was edited in place
    await expect(card.locator(".kb-btn")).to_have_count(0)  # a resolved complaint has no buttons
    await expect(card).to_contain_text("Selesai")
    notifications = siti.locator(".msg.bot", has_text="JMB-")
    await expect(notifications.filter(has_text="sudah diterima")).to_have_count(1)
    await expect(notifications.filter(has_text="sudah selesai")).to_have_count(1)

    await page.locator("#guide-hide").click()
    await expect(page.locator(".toast")).to_have_count(0)
    await page.mouse.move(0, 0)
    save_screenshot(await page.screenshot(), tmp_path, "playground-complaint.png")
    assert page.errors == []


async def test_reply_add_citizen_language_and_no_html_injection(
    browser: Any, playground: Playground, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    page = await open_page(browser, playground)
    await page.locator("#citizen-name").fill("Ani")
    await page.locator("#add-citizen button").click()
    ani = page.locator('section.pane[data-title="Ani"]')
    await ani.locator(".start-btn").click()
    greeting = ani.locator(".msg.bot").first
    await expect(greeting).to_be_visible()
    await expect(greeting.locator(".text b").first).to_be_visible()  # the bot's HTML formatting is rendered
    # reply to the greeting with text that looks like HTML: it is shown as text, never run
    await greeting.locator(".reply-action").click()
    await expect(ani.locator(".reply-bar")).to_contain_text("Membalas SiKesal")
    evil = '<img src=x onerror="window.__owned=1"><b>tebal</b>'
    await ani.locator(".compose-input").fill(evil)
    await ani.locator(".compose-input").press("Enter")
    mine = ani.locator(".msg.out").last
    await expect(mine.locator(".text")).to_have_text(evil)
    await expect(mine.locator(".quote")).to_contain_text("SiKesal")
    await expect(ani.locator(".reply-bar")).to_be_hidden()
    assert await page.evaluate("window.__owned") is None
    assert await mine.locator("img").count() == 0
    cleaned = await page.evaluate(
        "SikesalPlayground.sanitize('<b>a</b><script>window.__owned=2</script><i onclick=\"x()\">i</i>"
        "<a href=\"javascript:alert(1)\">j</a><a href=\"https://example.org\">k</a><tg-spoiler>s</tg-spoiler>"
        "<img src=x onerror=\"window.__owned=3\">')")
    assert "<script" not in cleaned and "onclick" not in cleaned and "onerror" not in cleaned
    assert "<b>a</b>" in cleaned and "<i>i</i>" in cleaned and "javascript:" not in cleaned
    assert 'href="https://example.org/"' in cleaned and 'class="spoiler"' in cleaned
    assert await page.evaluate("window.__owned") is None
    # callback answers: show_alert is a dialog, a plain answer a toast
    await page.evaluate("SikesalPlayground.showAnswer(null, {text: 'Sudah diterima', show_alert: true})")
    await expect(page.locator("#modal")).to_be_visible()
    await expect(page.locator("#modal-text")).to_have_text("Sudah diterima")
    await page.locator("#modal-ok").click()
    await expect(page.locator("#modal")).to_be_hidden()
    # the sticker button: unexpected input the bot answers politely
    await ani.locator(".sticker-btn").click()
    await expect(ani.locator(".msg.out .sticker")).to_have_count(1)
    # a photo from the file picker
    photo = tmp_path / "foto.jpg"
    photo.write_bytes(make_jpeg(240, 180, gray=70))
    await ani.locator(".attach-photo").click()
    await ani.locator(".file-input").set_input_files(str(photo))
    await expect(ani.locator(".msg.out img.photo")).to_have_count(1)
    # the page speaks English on request (page texts only; the bot keeps its own language)
    await page.locator('.lang-toggle button[data-lang="en"]').click()
    await expect(page.locator("#reset-btn")).to_have_text("Reset")
    await expect(page.locator(".section-title").first).to_have_text("Citizens")
    await expect(ani.locator(".compose-input")).to_have_attribute("placeholder", "Write a message…")
    await page.locator('.lang-toggle button[data-lang="id"]').click()
    await expect(page.locator(".section-title").first).to_have_text("Warga")
    assert page.errors == []


async def test_narrow_screen_shows_a_chat_list_then_one_chat(
    browser: Any, playground: Playground, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    page = await open_page(browser, playground, width=390, height=800)
    await expect(page.locator("#sidebar")).to_be_visible()
    await expect(page.locator("#panes")).to_be_hidden()
    await page.locator('.chat-item[data-title="Laporan DLH"] .chat-link').click()
    dlh = page.locator('section.pane[data-title="Laporan DLH"]')
    await expect(dlh).to_be_visible()
    await expect(page.locator("#sidebar")).to_be_hidden()
    await expect(page.locator('section.pane[data-title="Siti"]')).to_be_hidden()
    await expect(dlh.locator(".msg.bot").last).to_contain_text("Dinas Lingkungan Hidup")
    save_screenshot(await page.screenshot(), tmp_path, "playground-mobile.png")
    await dlh.locator(".back-btn").click()
    await expect(page.locator("#sidebar")).to_be_visible()
    assert page.errors == []


async def test_reset_button_clears_the_chats(browser: Any, playground: Playground) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    page = await open_page(browser, playground)
    siti = page.locator('section.pane[data-title="Siti"]')
    await siti.locator(".start-btn").click()
    await expect(siti.locator(".msg.bot").first).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    await page.locator("#reset-btn").click()
    await expect(siti.locator(".start-btn")).to_be_visible()
    await expect(siti.locator(".msg")).to_have_count(0)
    await expect(page.locator('section.pane[data-title="Laporan PUPR"] .msg.bot').last).to_contain_text(
        "Dinas Pekerjaan Umum")
    await expect(page.locator("#overlay")).to_be_hidden()
    assert page.errors == []


async def test_reject_prompt_is_a_force_reply_answered_from_the_reply_bar(
    browser: Any, playground: Playground
) -> None:
    from playwright.async_api import expect

    from tests.e2e.harness import Person, payloads

    expect.set_options(timeout=WAIT_MS)
    # Siti files through the simulation's Python API (the page test above does it through the page)
    siti = Person(playground.server, playground.world.citizens[0].user)
    await siti.say("/start")
    await siti.tap_and_read("menu:new")
    await siti.tap_and_read("cat:jalan")
    await siti.say("Jalan berlubang besar di depan pasar, sangat berbahaya bagi motor")
    prompt = await siti.photo(make_jpeg())
    if "photo:done" in payloads(prompt):
        prompt = await siti.tap_and_read("photo:done")
    ack = await siti.location(-1.6034, 103.6213)
    summary = ack if "sum:send" in payloads(ack) else await siti.next()
    await siti.tap_and_read("sum:send", summary)

    page = await open_page(browser, playground)
    pupr = page.locator('section.pane[data-title="Laporan PUPR"]')
    card_id = await pupr.locator(".msg.bot", has_text="JMB-").last.get_attribute("data-msg-id")
    card = pupr.locator(f'.msg[data-msg-id="{card_id}"]')
    await card.locator(".kb-btn", has_text="Tolak").click()
    # the bot asks for the reason with force_reply: the page opens the reply bar on that prompt
    await expect(pupr.locator(".reply-bar")).to_be_visible()
    await expect(pupr.locator(".reply-bar")).to_contain_text("SiKesal")
    await expect(pupr.locator(".compose-input")).to_be_focused()
    await page.keyboard.type("Jalan ini kewenangan provinsi")
    await page.keyboard.press("Enter")
    await expect(pupr.locator(".msg.out").last.locator(".quote")).to_be_visible()
    await expect(card).to_contain_text("Ditolak")
    siti_pane = page.locator('section.pane[data-title="Siti"]')
    await expect(siti_pane.locator(".msg.bot", has_text="tidak dapat ditindaklanjuti")).to_have_count(1)
    await expect(siti_pane.locator(".msg.bot", has_text="kewenangan provinsi")).to_have_count(1)
    assert page.errors == []


async def test_whatsapp_citizen_types_numbers_and_sees_delivery_ticks(
    browser: Any, playground: Playground, tmp_path: Path
) -> None:
    from playwright.async_api import expect

    expect.set_options(timeout=WAIT_MS)
    page = await open_page(browser, playground)
    await page.locator("#citizen-name").fill("Wulan")
    await page.locator("#citizen-channel").select_option("whatsapp")
    await page.locator("#add-citizen button").click()
    wulan = page.locator('section.pane.whatsapp[data-title="Wulan"]')
    await expect(wulan.locator(".wa-header")).to_contain_text("WhatsApp · +62812")
    await expect(wulan.locator(".empty")).to_contain_text("halo")
    await wulan.locator(".compose-input").fill("halo")
    await wulan.locator(".compose-input").press("Enter")
    menu = wulan.locator(".msg.bot").last
    await expect(menu).to_contain_text("1. 📝 Buat Pengaduan")
    await expect(menu.locator(".ticks.read")).to_be_visible()  # Twilio's read receipt: blue ticks
    await expect(wulan.locator(".wa-window.open")).to_be_visible()
    await wulan.locator(".compose-input").fill("1")
    await wulan.locator(".compose-input").press("Enter")
    await expect(wulan.locator(".msg.bot").last).to_contain_text("Jalan rusak")
    await expect(wulan.locator(".msg.out .text")).to_have_text(["halo", "1"])
    # the attach menu: a voice note gets a friendly refusal
    await wulan.locator(".wa-attach").click()
    await wulan.locator(".attach-voice").click()
    await expect(wulan.locator(".msg.out .wa-voice")).to_have_count(1)
    # the window demo: 25 hours later (Twilio's clock and the bot's database), shown as a note
    await wulan.locator(".wa-advance").click()
    await expect(wulan.locator(".wa-explain")).to_contain_text("63016")
    await wulan.locator(".advance-both").click()
    await expect(wulan.locator(".msg.wa-clock")).to_contain_text("25 jam kemudian")
    await expect(wulan.locator(".wa-window")).to_have_text("jendela 24 jam tertutup")
    # WhatsApp's markers become formatting; anything looking like HTML stays text
    formatted = await page.evaluate("SikesalPlayground.waFormat('*Status* _baru_ ~lama~ <b>x</b>')")
    assert formatted == "<b>Status</b> <i>baru</i> <s>lama</s> &lt;b&gt;x&lt;/b&gt;"
    await page.mouse.move(0, 0)
    save_screenshot(await wulan.screenshot(), tmp_path, "playground-whatsapp.png")
    assert page.errors == []
