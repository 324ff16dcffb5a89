"""The report's "accepted within the accept clock" is about the complaint's current agency: after a
reassignment the clock restarts there, and an accept at the agency it left does not count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import AuditEntry, Citizen, Complaint
from storage.reports import complaint_report

FILED = datetime(2026, 10, 5, 1, 0, tzinfo=UTC)
H = timedelta(hours=1)


async def test_an_accept_before_a_reassignment_does_not_count_for_the_new_agency(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with sessionmaker() as session:
        citizen = Citizen(channel="telegram", channel_user_id="4242", language="id")
        session.add(citizen)
        await session.flush()
        # both accepted at pupr after 1 h, reassigned to dlh after 2 h (new accept clock: 4 h from then);
        # the first is never accepted at dlh, the second is, 1 h after it arrived
        for n, accepted_there in ((1, False), (2, True)):
            complaint = Complaint(
                number=f"JMB-2026-{n:06d}", citizen_id=citizen.id, category="sampah", agency="dlh", status="baru",
                description="Sampah menumpuk", created_at=FILED, updated_at=FILED,
                accept_due_at=FILED + 6 * H, due_at=FILED + 48 * H,
            )
            session.add(complaint)
            await session.flush()
            entries = [("accept", FILED + H), ("reassign", FILED + 2 * H)]
            if accepted_there:
                entries.append(("accept", FILED + 3 * H))
            for action, at in entries:
                session.add(AuditEntry(complaint_id=complaint.id, actor_kind="staff", action=action, at=at))
        await session.commit()
        rows = await complaint_report(session, since=None, until=None, now=FILED + 10 * H)
    city = rows[-1]
    assert (city.received, city.accepted_on_time) == (2, 1)
    assert city.accept_hours == [3.0], "the time to accept counts from filing, at the agency that has it"
