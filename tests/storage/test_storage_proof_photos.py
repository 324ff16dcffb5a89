"""A clerk's "after" photo (complaint_photos kind ``proof``) never passes for the citizen's photo: the first
photo offered with a nearby duplicate is the citizen's, and a complaint filed without photos offers none
even once its proof is stored (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import ComplaintPhoto
from storage.uow import UnitOfWork

REPORT = "a" * 64
PROOF = "b" * 64


async def test_first_photos_are_the_citizens_never_the_proof(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        for sha in (REPORT, PROOF):
            await uow.media.upsert(sha, f"{sha[:2]}/{sha}.jpg", "image/jpeg", 1000, None)
        citizen = await uow.citizens.get_or_create("telegram", "u1")
        with_photo = await uow.complaints.create(
            number="JMB-2026-000001", citizen_id=citizen.id, category="jalan", description="Lubang",
            agency="pupr", photos=[(REPORT, "AgAC1")],
        )
        without = await uow.complaints.create(
            number="JMB-2026-000002", citizen_id=citizen.id, category="lampu", description="Lampu mati",
            agency="dishub",
        )
        with_photo.photos.append(ComplaintPhoto(position=1, sha256=PROOF, telegram_file_id="AgAC2", kind="proof"))
        without.photos.append(ComplaintPhoto(position=0, sha256=PROOF, telegram_file_id="AgAC2", kind="proof"))
        await uow.commit()
        ids = (with_photo.id, without.id)
    async with UnitOfWork(sessionmaker) as uow:
        first = await uow.complaints.first_photos(list(ids))
        assert first == {ids[0]: (REPORT, "AgAC1")}
        reloaded = await uow.complaints.get(ids[0])
        assert reloaded is not None and [(p.kind, p.sha256) for p in reloaded.photos] == [("report", REPORT), ("proof", PROOF)]
