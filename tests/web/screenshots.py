"""``python -m tests.web.screenshots`` (``make screenshots``): the README's dashboard screenshots, from a demo.

Why a script: the pictures in the README should show what the code draws today, and anyone can redraw them
after a change to a page. It runs the real app against the local Telegram server (tests/web/webkit.py, the
same kit as the tests) on a throwaway SQLite database, and seeds a demo a command centre would recognise:

* one complaint filed through the real Telegram flow with a real photo (a pothole at Pasar Angso Duo),
  accepted and put in progress by PUPR's group with a reply to the citizen -- the complaint page;
* a dozen more stored directly, spread over the last four weeks, across agencies, categories, statuses
  (new, accepted, in progress, resolved with ratings, rejected) and kecamatan, some past their deadline.

Then Debian's Chromium (Playwright; never ``playwright install``) signs in as the command centre, with every
host but the app unreachable (the map's tiles too: the map shows its boundaries and pins without them), and
saves ``overview.png``, ``map.png`` and ``complaint.png`` at 1280x800 into ``docs/screenshots/``.

    python -m tests.web.screenshots                 # docs/screenshots/*.png
    python -m tests.web.screenshots --out /tmp/shots
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bot.config import AppConfig, load_config
from bot.playground.world import SAMPLE_PHOTOS
from localapi.telegram import TelegramServer
from routing.geo import SAMPLE_GEOJSON, ServiceArea
from storage.db import default_database_url
from storage.models import AuditEntry, Citizen, Complaint
from storage.uow import UnitOfWork
from tests.e2e.conftest import TOKEN, outbox_settled
from tests.e2e.harness import Person, payloads
from tests.playground.browserkit import CHROMIUM, CHROMIUM_ARGS
from tests.web.webkit import DEFAULT_PASSWORD, Clock, WebWorld, create_account, start_web_app

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "screenshots"
USERNAME = "jcoc"
LAYOUT = {"width": 1440, "height": 900}
SCALE = 1280 / 1440
#: background complaints over the last 30 days (most resolved), so the trend and the medians have data
BACKGROUND = 45
#: the featured complaint: where, what and the photo
FEATURED_PLACE = (-1.6034, 103.6213)  # Pasar Angso Duo
FEATURED_TEXT = "Jalan berlubang besar di depan Pasar Angso Duo, sudah dua motor jatuh minggu ini"
FEATURED_PHOTO = "jalan-berlubang"
REPLY = "Terima kasih, tim PUPR dijadwalkan menambal lubang besok pagi."


@dataclass(frozen=True)
class Seed:
    """One stored complaint of the demo: its words, place, and how far it got."""

    category: str
    text: str
    lat: float
    lon: float
    days_ago: float
    status: str
    #: hours from filing to accept / to resolve (None: not yet)
    accept_h: float | None = None
    resolve_h: float | None = None
    rating: int | None = None
    overdue: bool = False
    reason: str | None = None


SEEDS = (
    Seed("sampah", "Sampah menumpuk di TPS dekat Simpang Rimbo, sudah tiga hari tidak diangkut", -1.6531, 103.5636,
         0.3, "baru"),
    Seed("lampu", "Lampu jalan mati sepanjang Jl. Kapten Pattimura, gelap dan rawan", -1.6022, 103.5800, 1.2,
         "diterima", accept_h=2),
    Seed("drainase", "Saluran air tersumbat, air meluap ke jalan setiap hujan", -1.6124, 103.6184, 2.5,
         "diproses", accept_h=1, overdue=True),
    Seed("jalan", "Aspal amblas di tikungan dekat jembatan, berbahaya untuk motor", -1.6632, 103.6216, 4,
         "selesai", accept_h=3, resolve_h=40, rating=5),
    Seed("air", "Air PDAM tidak mengalir sejak pagi di blok C perumahan", -1.6590, 103.6585, 5.5, "selesai",
         accept_h=1, resolve_h=20, rating=4),
    Seed("lalin", "Lampu lalu lintas simpang empat berkedip kuning terus", -1.5950, 103.6177, 7, "diproses",
         accept_h=4),
    Seed("sampah", "Pembakaran sampah di lahan kosong, asapnya masuk ke rumah warga", -1.6385, 103.5535, 9,
         "selesai", accept_h=6, resolve_h=30, rating=4),
    Seed("jalan", "Trotoar rusak dan berlubang di depan sekolah dasar", -1.6629, 103.5931, 12, "diterima",
         accept_h=10, overdue=True),
    Seed("lampu", "Dua lampu taman di Danau Sipin padam", -1.5949, 103.5965, 15, "selesai", accept_h=2,
         resolve_h=50, rating=3),
    Seed("air", "Pipa bocor di pinggir jalan, air terbuang", -1.6076, 103.6626, 18, "ditolak", accept_h=None,
         reason="Pipa milik perumahan, bukan jaringan PDAM"),
    Seed("sampah", "Tong sampah pasar penuh dan berserakan", -1.5570, 103.6519, 22, "selesai", accept_h=5,
         resolve_h=18, rating=5),
    Seed("drainase", "Gorong-gorong ambrol di jalan lingkungan", -1.5620, 103.5826, 26, "selesai", accept_h=8,
         resolve_h=70, rating=4),
)


def background_seeds(area: ServiceArea, count: int = BACKGROUND) -> list[Seed]:
    """Older, mostly settled complaints spread over the city and the month (a fixed random seed: the same
    pictures every run)."""
    rng = random.Random(13)
    shapes = area.kecamatan_shapes()
    texts = {
        "jalan": "Jalan rusak dan berlubang", "drainase": "Saluran air tersumbat", "lampu": "Lampu jalan padam",
        "lalin": "Rambu lalu lintas roboh", "sampah": "Sampah tidak diangkut", "air": "Air PDAM keruh",
    }
    seeds: list[Seed] = []
    for _ in range(count):
        category = rng.choice(list(texts))
        name, shape = rng.choice(shapes)
        minx, miny, maxx, maxy = shape.bounds
        while True:
            lon, lat = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if area.district_at(lat, lon) is not None and area.district_at(lat, lon).name == name:  # type: ignore[union-attr]
                break
        days = rng.uniform(3, 29.5)
        accept = rng.choice([0.5, 1, 2, 3, 5, 8, 20])
        roll = rng.random()
        if roll < 0.65:
            seeds.append(Seed(category, f"{texts[category]} di Kec. {name}", lat, lon, days, "selesai",
                              accept_h=accept, resolve_h=accept + rng.choice([6, 12, 20, 30, 48, 90, 150]),
                              rating=rng.choice([3, 4, 4, 5, 5])))
        elif roll < 0.9:
            status = rng.choice(["diterima", "diproses", "diproses"])
            seeds.append(Seed(category, f"{texts[category]} di Kec. {name}", lat, lon, days, status,
                              accept_h=accept, overdue=rng.random() < 0.4))
        else:
            seeds.append(Seed(category, f"{texts[category]} di Kec. {name}", lat, lon, days, "ditolak",
                              reason="Bukan wewenang instansi ini"))
    return seeds


def demo_config() -> AppConfig:
    """The sample configuration without the daily digest and the nightly purge (as in the tests)."""
    sample = load_config(ROOT / "config.yaml")
    no_purge = sample.privacy.model_copy(update={"messages_days": 0, "inactive_citizen_days": 0})
    return sample.model_copy(update={"deadlines": sample.deadlines.model_copy(update={"digest_at": ""}),
                                     "privacy": no_purge})


async def file_featured(world: WebWorld) -> str:
    """The pothole, filed on Telegram with a real photo, accepted and in progress from PUPR's group."""
    staff = await world.agency_group("pupr", ("Budi", "Rina"))
    citizen = Person(world.server, world.server.create_user("Rahmat", language_code="id"))
    await citizen.say("/start")
    await citizen.tap_and_read("menu:new")
    await citizen.tap_and_read("cat:jalan")
    await citizen.say(FEATURED_TEXT)
    photo = next(s for s in SAMPLE_PHOTOS if s.key == FEATURED_PHOTO).path.read_bytes()
    prompt = await citizen.photo(photo)
    if "photo:done" in payloads(prompt):
        await citizen.tap_and_read("photo:done")
    summary = await citizen.location(*FEATURED_PLACE)
    if "sum:send" not in payloads(summary):
        summary = await citizen.next_matching("JMB")
    await citizen.tap_and_read("sum:send")
    card = await staff[0].next_matching("JMB-")
    await outbox_settled(world)
    number = next(word for word in (card.caption or card.text or "").split() if word.startswith("JMB-"))
    await staff[0].tap(next(p for p in payloads(card) if p.startswith("st:accept:")), card)
    await outbox_settled(world)
    fresh = next(m for m in world.server.messages(card.chat_id) if m.message_id == card.message_id)
    process = next((p for p in payloads(fresh) if p.startswith("st:process:")), None)
    if process is not None:
        await staff[1].tap(process, fresh)
        await outbox_settled(world)
    staff[0].user.send_text(REPLY, chat=card.chat_id, reply_to=card.message_id)  # a reply to the card
    await outbox_settled(world)
    await asyncio.sleep(0.5)
    await outbox_settled(world)
    return number.strip(".,:")


async def store_seeds(world: WebWorld, area: ServiceArea) -> None:
    """The other complaints, stored as the services would have left them (with their audit entries)."""
    assert world.app.runtime is not None
    now = world.app.runtime.clock()
    config = world.config
    async with UnitOfWork(world.app.runtime.sessionmaker) as uow:
        for index, seed in enumerate((*SEEDS, *background_seeds(area)), start=100):
            citizen = Citizen(channel="telegram", channel_user_id=f"demo-{index}", display_name=None,
                              share_name=False)
            uow.session.add(citizen)
            await uow.session.flush()
            created = now - timedelta(days=seed.days_ago)
            agency = config.categories[seed.category].agency
            place = area.place_at(seed.lat, seed.lon)
            resolved = created + timedelta(hours=seed.resolve_h) if seed.resolve_h is not None else None
            due = created + timedelta(days=5)  # a settled one was judged by it; an open one is late only if told
            if seed.overdue:
                due = now - timedelta(hours=6)
            elif seed.status not in ("selesai", "ditolak"):
                due = max(due, now + timedelta(hours=12 + index % 48))
            accept_due = created + timedelta(hours=4)
            complaint = Complaint(
                number=f"JMB-{created.year}-{index:06d}", citizen_id=citizen.id, category=seed.category,
                agency=agency, description=seed.text, latitude=seed.lat, longitude=seed.lon, address=None,
                kecamatan=place.kecamatan, kelurahan=place.kelurahan, status=seed.status, created_at=created,
                updated_at=resolved or created + timedelta(hours=seed.accept_h or 0.1), due_at=due,
                accept_due_at=accept_due,
                resolved_at=resolved, rating=seed.rating, rated_at=resolved + timedelta(hours=3) if (
                    resolved and seed.rating) else None, reject_reason=seed.reason,
                privacy="anonim" if index % 4 == 0 else "", anon_alias=f"Anonim #D{index}X" if index % 4 == 0 else None,
            )
            uow.session.add(complaint)
            await uow.session.flush()
            entries = [AuditEntry(complaint_id=complaint.id, at=created, actor_kind="citizen", actor_id=None,
                                  actor_name=None, action="submit", to_status="baru", to_agency=agency)]
            if seed.accept_h is not None:
                entries.append(AuditEntry(complaint_id=complaint.id, at=created + timedelta(hours=seed.accept_h),
                                          actor_kind="staff", actor_name="Petugas", action="accept",
                                          from_status="baru", to_status="diterima"))
            if seed.status == "diproses":
                entries.append(AuditEntry(complaint_id=complaint.id,
                                          at=created + timedelta(hours=(seed.accept_h or 0) + 1),
                                          actor_kind="staff", actor_name="Petugas", action="process",
                                          from_status="diterima", to_status="diproses"))
            if resolved is not None:
                entries.append(AuditEntry(complaint_id=complaint.id, at=resolved, actor_kind="staff",
                                          actor_name="Petugas", action="resolve", from_status="diproses",
                                          to_status="selesai"))
            if seed.status == "ditolak":
                entries.append(AuditEntry(complaint_id=complaint.id, at=created + timedelta(hours=3),
                                          actor_kind="staff", actor_name="Petugas", action="reject",
                                          from_status="baru", to_status="ditolak", note=seed.reason))
            uow.session.add_all(entries)
        await uow.commit()


async def shoot(world: WebWorld, out: Path, featured: str) -> list[Path]:
    """Sign in as the command centre and save the three pages."""
    from playwright.async_api import async_playwright

    from tests.web.browser_world import open_page, submit_login

    saved: list[Path] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            # a 1600x1000 layout drawn at 0.8: 1280x800 pictures that show a whole screenful of each page
            page = await open_page(browser, world, viewport=LAYOUT, device_scale_factor=SCALE)
            await submit_login(page, USERNAME, DEFAULT_PASSWORD)
            for name, path, ready in (
                ("overview.png", "/dashboard/", "main"),
                ("map.png", "/dashboard/map", ".leaflet-marker-pane > *, .leaflet-overlay-pane path"),
                ("complaint.png", f"/dashboard/complaints/{featured}", "main img[src*='/photos/']"),
            ):
                await page.goto(path)
                await page.locator(ready).first.wait_for()
                await page.evaluate("() => Promise.all([...document.images].map((i) => i.decode().catch(() => 0)))")
                await page.wait_for_timeout(400)  # the map's fitBounds animation, the chart's layout
                target = out / name
                await page.screenshot(path=str(target), type="png")
                saved.append(target)
        finally:
            await browser.close()
    return saved


async def main_async(out: Path) -> list[Path]:
    config = demo_config()
    with tempfile.TemporaryDirectory(prefix="sikesal-screenshots-") as tmp_name:
        tmp = Path(tmp_name)
        async with TelegramServer(TOKEN, rate_limits=False) as server:
            clock = Clock()
            app = await start_web_app(tmp, server, config, default_database_url(tmp / "data"), clock=clock)
            world = WebWorld(server=server, app=app, config=config, tmp=tmp, clock=clock)
            try:
                featured = await file_featured(world)
                await store_seeds(world, ServiceArea.load(SAMPLE_GEOJSON))
                await create_account(world, USERNAME, DEFAULT_PASSWORD, "command")
                return await shoot(world, out, featured)
            finally:
                await world.close_clients()
                await app.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.web.screenshots", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"where the PNGs go (default {OUT.relative_to(ROOT)})")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(main_async(args.out)):
        print(f"{path} ({path.stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())


__all__: list[Any] = ["main"]
