"""Nearby open complaints (the duplicate check) and followers, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from storage_testkit import NOW

from storage.models import Citizen
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]
MakeCitizen = Callable[..., Awaitable[Citizen]]
PASAR = (-1.5920, 103.6150)
#: about 30 m north-east, about 80 m east, the same spot
NEAR, FAR = (-1.59180, 103.61520), (-1.5920, 103.61572)


async def _file(sessionmaker: SM, citizen: Citizen, number: str, point: tuple[float, float], *,
                category: str = "jalan", status: str = "baru") -> int:
    async with UnitOfWork(sessionmaker) as uow:
        complaint = await uow.complaints.create(
            number=number, citizen_id=citizen.id, category=category, description="lubang", agency="pupr",
            latitude=point[0], longitude=point[1], status=status, now=NOW, kecamatan="Pasar Jambi",
        )
        await uow.commit()
        return complaint.id


async def test_nearby_open_finds_same_category_within_radius_nearest_first(sessionmaker: SM, make_citizen: MakeCitizen) -> None:
    ani, budi = await make_citizen(user_id="1"), await make_citizen(user_id="2")
    exact = await _file(sessionmaker, ani, "JMB-2026-000001", PASAR)
    near = await _file(sessionmaker, ani, "JMB-2026-000002", NEAR)
    await _file(sessionmaker, ani, "JMB-2026-000003", FAR)  # 58 m: outside 50 m
    await _file(sessionmaker, ani, "JMB-2026-000004", PASAR, category="sampah")
    await _file(sessionmaker, ani, "JMB-2026-000005", PASAR, status="selesai")
    async with UnitOfWork(sessionmaker) as uow:
        found = await uow.complaints.nearby_open("jalan", *PASAR, 50)
        assert [c.id for c, _ in found] == [exact, near]
        assert found[0][1] < 1 and 20 < found[1][1] < 50
        assert await uow.complaints.nearby_open("jalan", *PASAR, 50, exclude_citizen_id=ani.id) == []
        assert len(await uow.complaints.nearby_open("jalan", *PASAR, 100, exclude_citizen_id=budi.id)) == 3
        assert len(await uow.complaints.nearby_open("jalan", *PASAR, 100, limit=1)) == 1
        complaint = await uow.complaints.get(exact)
        assert complaint is not None and complaint.kecamatan == "Pasar Jambi"


async def test_followers_are_counted_once(sessionmaker: SM, make_citizen: MakeCitizen) -> None:
    ani, budi, citra = await make_citizen(user_id="1"), await make_citizen(user_id="2"), await make_citizen(user_id="3")
    complaint = await _file(sessionmaker, ani, "JMB-2026-000001", PASAR)
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.followers.add(complaint, budi.id, now=NOW)
        assert not await uow.followers.add(complaint, budi.id, now=NOW), "following twice changes nothing"
        assert await uow.followers.add(complaint, citra.id, now=NOW)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.followers.count(complaint) == 2
        assert await uow.followers.citizen_ids(complaint) == [budi.id, citra.id]
        assert await uow.followers.follows(complaint, budi.id)
        assert not await uow.followers.follows(complaint, ani.id)
