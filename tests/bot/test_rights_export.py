"""The /dataku document against the database (SQLite and PostgreSQL): the citizen's own rows only, staff named
by role, a followed complaint by number and status; the signed link's checks; a link opened after the citizen
erased their data serves nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import load_config
from bot.export_links import ExportLinks
from bot.services import rights
from bot.services.citizen import file_draft
from bot.services.runtime import Runtime
from handlers.state import Draft
from storage.media import MediaStore
from storage.uow import UnitOfWork

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def runtime(sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path) -> Runtime:
    rt = Runtime(config=load_config(ROOT / "config.yaml"), sessionmaker=sessionmaker,
                 media=MediaStore(tmp_path / "media"), clock=lambda: NOW)
    if hasattr(rt, "secret"):
        rt.secret = b"rights-test-secret-0123456789abcd"
    return rt


async def _setup(rt: Runtime) -> tuple[int, int]:
    async with UnitOfWork(rt.sessionmaker) as uow:
        siti = await uow.citizens.get_or_create("telegram", "7001", display_name="Siti", language="id")
        budi = await uow.citizens.get_or_create("telegram", "7002", display_name="Budi", language="id")
        mine = await file_draft(rt, uow, siti, Draft(category="jalan", description="Lubang besar di depan pasar Siti",
                                                  latitude=-1.61, longitude=103.61))
        other = await file_draft(rt, uow, budi, Draft(category="sampah", description="Sampah menumpuk di gang Budi",
                                                   latitude=-1.62, longitude=103.62))
        await uow.audit.add(mine.id, actor_kind="staff", actor_id="555", actor_name="Rina Petugas", action="accept",
                            from_status="baru", to_status="diterima", note="dicek oleh Rina", at=NOW)
        await uow.followers.add(other.id, siti.id, now=NOW)
        await uow.inbox.add("tg:1", "telegram", "tg:7001", {"message": {"text": "halo dari Siti"}}, now=NOW)
        await uow.inbox.add("tg:2", "telegram", "tg:7002", {"message": {"text": "halo dari Budi"}}, now=NOW)
        await uow.commit()
        return siti.id, budi.id


async def test_the_copy_holds_the_citizens_own_data_only(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    siti_id, _ = await _setup(rt)
    built = await rights.build_for_link(rt, siti_id)
    assert built is not None
    document, filename = built
    assert filename == "sikesal-data-2026-12-01.json"
    assert document["profile"]["name"] == "Siti" and document["profile"]["channel_id"] == "7001"
    [complaint] = document["complaints"]
    assert complaint["description"] == "Lubang besar di depan pasar Siti"
    accepted = [h for h in complaint["history"] if h["action"] == "accept"]
    assert accepted == [{"at": NOW.isoformat(), "by": "staff", "action": "accept", "from_status": "baru",
                         "to_status": "diterima", "agency": None, "note": None}], "no staff name, no staff note"
    assert [f["number"] for f in document["following"]] == ["JMB-2026-000002"]
    assert [m["text"] for m in document["messages"]] == ["halo dari Siti"]
    flat = str(document)
    assert "Budi" not in flat and "Sampah menumpuk" not in flat and "Rina" not in flat


async def test_an_erased_citizens_link_serves_nothing(
    sessionmaker: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    rt = runtime(sessionmaker, tmp_path)
    siti_id, _ = await _setup(rt)
    async with UnitOfWork(rt.sessionmaker) as uow:
        citizen = await uow.citizens.get(siti_id)
        assert citizen is not None
        citizen.erased_at = NOW
        await uow.commit()
    assert await rights.build_for_link(rt, siti_id) is None
    assert await rights.build_for_link(rt, 999_999) is None


def test_a_file_too_big_for_telegram_keeps_the_newest_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rights, "DOCUMENT_LIMIT", 4000)
    messages = [{"received_at": None, "kind": "text", "text": f"pesan nomor {i} " + "x" * 40} for i in range(200)]
    content = rights.as_file({"profile": {}, "complaints": [], "messages": messages})
    assert len(content.encode()) <= 4000
    kept = json.loads(content)
    assert kept["messages_truncated"] is True and kept["messages"][-1]["text"].startswith("pesan nomor 199 ")
    assert rights.as_file({"messages": messages[:2]}) == json.dumps({"messages": messages[:2]}, ensure_ascii=False,
                                                                       indent=2), "a small copy is left whole"


def test_link_signatures_are_per_citizen_and_expire() -> None:
    clock = [NOW]
    links = ExportLinks.from_media_secret(b"m" * 32, public_url="https://kota.example/", ttl=timedelta(minutes=60),
                                          clock=lambda: clock[0])
    url = links.url(42)
    assert url is not None and url.startswith("https://kota.example/export/") and url.endswith("/42.json")
    expires, signature = url.split("/")[-3:-1]
    assert links.check("42", expires, signature) == 200
    assert links.check("43", expires, signature) == 403, "another citizen's id with this signature"
    assert links.check("42", str(int(expires) + 1), signature) == 403, "a longer life cannot be forged"
    clock[0] = NOW + timedelta(minutes=61)
    assert links.check("42", expires, signature) == 410
    other = ExportLinks.from_media_secret(b"n" * 32)
    assert other.check("42", expires, signature) == 403, "another deployment's secret"
