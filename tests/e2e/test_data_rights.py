"""A citizen's data rights on both channels: /dataku ("data saya") sends what SiKesal holds about them, a
JSON file on Telegram (read back through the real aiogram client) and a signed, expiring link on WhatsApp
(opened like a browser would); /privasi ("privasi") says the short version. Another citizen's complaint is
in the same database and must never show up in the copy."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.config import AppConfig, load_config
from storage.models import OutboxMessage
from storage.uow import UnitOfWork
from tests.e2e.conftest import ROOT, World, outbox_settled
from tests.e2e.harness import Person, WhatsAppPerson, choose, text_of
from tests.e2e.test_channels import DESCRIPTION, JAMBI, file_on, photo_of, summary_from

pytestmark = pytest.mark.e2e


@pytest.fixture
def config() -> AppConfig:
    """The sample config with its retention periods (what /privasi says), without the daily digest."""
    sample = load_config(ROOT / "config.yaml")
    return sample.model_copy(update={"deadlines": sample.deadlines.model_copy(update={"digest_at": ""})})

OTHER_STORY = "Sampah menumpuk di gang Melati sudah seminggu, baunya menyengat"


async def _other_citizen_files(world: World) -> str:
    """Budi (Telegram) files a garbage complaint with his own words first."""
    budi = world.citizen("Budi")
    await budi.say("halo")
    await choose(budi, "Buat Pengaduan")
    await choose(budi, "Sampah")
    await budi.say(OTHER_STORY)
    after = await photo_of(budi)
    if "Selesai" in " ".join(str(b.get("text")) for b in after.buttons()):
        await choose(budi, "Selesai")
    await summary_from(budi, await budi.location(*JAMBI))
    confirmation = await choose(budi, "Kirim")
    return text_of(confirmation)


def _check_copy(document: dict[str, Any], *, channel: str, number: str) -> None:
    assert document["profile"]["channel"] == channel
    assert document["profile"]["name"] == "Siti"
    numbers = [c["number"] for c in document["complaints"]]
    assert numbers == [number]
    assert document["complaints"][0]["description"] == DESCRIPTION
    said = [m.get("text") for m in document["messages"]]
    assert "halo" in said and DESCRIPTION in said
    kinds = {m["kind"] for m in document["messages"]}
    assert "photo" in kinds and "location" in kinds
    flat = json.dumps(document, ensure_ascii=False)
    assert OTHER_STORY not in flat and "Budi" not in flat, "nothing of another citizen"
    assert "Rina" not in flat, "no staff identity"


async def test_dataku_on_telegram_sends_a_summary_and_the_json_file(wa_world: World) -> None:
    await wa_world.agency_group("pupr")
    await wa_world.agency_group("dlh")
    other = await _other_citizen_files(wa_world)
    assert "JMB-" in other
    siti = wa_world.citizen("Siti")
    confirmation = await file_on(siti)
    number = confirmation[confirmation.index("JMB-"):][:15]
    await outbox_settled(wa_world)
    summary = await siti.say("/dataku")
    assert "Data Anda di SiKesal" in text_of(summary) and number in text_of(summary)
    assert OTHER_STORY[:20] not in text_of(summary)
    file_message = await siti.next()
    document_info = file_message.extra.get("document")
    assert document_info, "the JSON arrives as a document"
    assert document_info["file_name"].startswith("sikesal-data-") and document_info["file_name"].endswith(".json")
    assert "JSON" in (file_message.caption or "")
    bot = wa_world.app.bot
    assert bot is not None
    found = await bot.get_file(document_info["file_id"])
    assert found.file_path
    buffer = io.BytesIO()
    await bot.download_file(found.file_path, destination=buffer)
    _check_copy(json.loads(buffer.getvalue().decode()), channel="telegram", number=number)
    await outbox_settled(wa_world)
    async with UnitOfWork(wa_world.app.runtime.sessionmaker) as uow:  # type: ignore[union-attr]
        rows = (await uow.session.scalars(select(OutboxMessage))).all()
        documents = [r.payload["document"] for r in rows if r.payload.get("document")]
    assert [d["content"] for d in documents] == [""], "the sent copy is not kept in the outbox"


async def test_data_saya_on_whatsapp_links_to_the_json_and_the_link_is_signed(wa_world: World) -> None:
    await wa_world.agency_group("pupr")
    await wa_world.agency_group("dlh")
    await _other_citizen_files(wa_world)
    siti: WhatsAppPerson = wa_world.whatsapp_citizen("Siti")
    confirmation = await file_on(siti)
    number = confirmation[confirmation.index("JMB-"):][:15]
    await outbox_settled(wa_world)
    summary = await siti.say("data saya")
    assert "Data Anda di SiKesal" in text_of(summary) and number in text_of(summary)
    link_message = await siti.next_matching("/export/")
    url = next(word for word in text_of(link_message).split() if "/export/" in word)
    assert url.startswith(wa_world.app.http_url)
    async with aiohttp.ClientSession() as http:
        async with http.get(url) as response:
            assert response.status == 200
            assert "attachment" in response.headers["Content-Disposition"]
            document = json.loads(await response.text())
        _check_copy(document, channel="whatsapp", number=number)
        assert document["profile"]["channel_id"] == siti.number
        expires, signature, name = url.split("/export/")[1].split("/")
        forged = url.replace(signature, ("A" if signature[0] != "A" else "B") + signature[1:])
        async with http.get(forged) as response:
            assert response.status == 403
        other_id = str(int(name.removesuffix(".json")) - 1) + ".json"
        async with http.get(url.replace(name, other_id)) as response:
            assert response.status == 403, "a link opens one citizen's copy only"
        links = wa_world.app.runtime.exports  # type: ignore[union-attr]
        assert links is not None
        past = int(name.removesuffix(".json"))
        expired = wa_world.app.http_url + links.path(past, expires=1_000_000)
        async with http.get(expired) as response:
            assert response.status == 410


async def test_privasi_on_both_channels(wa_world: World, channel: str) -> None:
    citizen = wa_world.citizen_on(channel)
    await citizen.say("halo")
    answer = await citizen.say("/privasi" if isinstance(citizen, Person) else "privasi")
    said = text_of(answer)
    assert "Privasi di SiKesal" in said and "90" in said
    if isinstance(citizen, Person):
        assert "/dataku" in said and "/hapusdata" in said
    else:
        assert "data saya" in said and "hapus data saya" in said
