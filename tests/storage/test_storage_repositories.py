"""Repository contract suite: every test runs on SQLite and PostgreSQL (``database_url`` params)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from unittest import mock

import pytest
from sqlalchemy import select
from sqlalchemy.exc import StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from storage_testkit import NOW, add_media

from storage.models import Citizen, ComplaintPhoto, ConversationRow, LinkCode, MessageLink
from storage.repositories import LINK_CODE_ALPHABET, CitizenRepo, count_rows
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]
WIB = timezone(timedelta(hours=7), "WIB")


def assert_utc(value: datetime | None) -> None:
    assert value is not None
    assert value.tzinfo is not None and value.utcoffset() == timedelta(0), value


# --- citizens -------------------------------------------------------------------------------------


async def test_citizen_get_or_create(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        created = await uow.citizens.get_or_create("telegram", "1001", display_name="Budi", language="en")
        again = await uow.citizens.get_or_create("telegram", "1001")
        other_channel = await uow.citizens.get_or_create("whatsapp", "1001")
        await uow.commit()
    assert created.id == again.id
    assert other_channel.id != created.id
    assert created.language == "en" and created.display_name == "Budi"
    assert created.share_name is False and created.blocked_bot is False
    assert_utc(created.created_at)

    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.citizens.by_channel("telegram", "1001")
        assert loaded is not None and loaded.id == created.id
        assert (await uow.citizens.get(created.id)) is not None
        assert await uow.citizens.get(999_999) is None
        assert await uow.citizens.by_channel("telegram", "nope") is None
        default_lang = await uow.citizens.get_or_create("whatsapp", "+628123")
        assert default_lang.language == "id"
        renamed = await uow.citizens.get_or_create("telegram", "1001", display_name="Budi S.")
        assert renamed.display_name == "Budi S."


async def test_citizen_get_or_create_conflict_uses_savepoint(sessionmaker: SM) -> None:
    """The race window: our SELECT saw nothing, another transaction inserted the row before our
    INSERT. The savepoint rolls back, the winner is returned, the transaction stays usable."""
    async with UnitOfWork(sessionmaker) as winner:
        existing = await winner.citizens.get_or_create("telegram", "race")
        await winner.commit()

    async with UnitOfWork(sessionmaker) as uow:
        await uow.idempotency.claim("before-the-race")
        real_by_channel = CitizenRepo.by_channel
        calls = 0

        async def stale_first(self: CitizenRepo, channel: str, user_id: str) -> Citizen | None:
            nonlocal calls
            calls += 1
            return None if calls == 1 else await real_by_channel(self, channel, user_id)

        with mock.patch.object(CitizenRepo, "by_channel", stale_first):
            citizen = await uow.citizens.get_or_create("telegram", "race")
        assert citizen.id == existing.id
        assert calls == 2
        await uow.idempotency.claim("after-the-race")
        await uow.commit()

    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, Citizen) == 1
        assert not await uow.idempotency.claim("before-the-race")  # the outer work was committed
        assert not await uow.idempotency.claim("after-the-race")


async def test_citizen_language_and_blocked(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        citizen = await uow.citizens.get_or_create("telegram", "77")
        await uow.citizens.set_language(citizen, "en")
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.citizens.set_blocked("telegram", "77", True)
        assert not await uow.citizens.set_blocked("telegram", "no-such-user", True)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.citizens.get(citizen.id)
        assert loaded is not None and loaded.language == "en" and loaded.blocked_bot is True
        await uow.citizens.set_blocked("telegram", "77", False)
        assert loaded.blocked_bot is False  # the loaded object follows the UPDATE
        await uow.commit()


# --- conversations --------------------------------------------------------------------------------


async def test_conversation_load_creates_idle_row(sessionmaker: SM, make_citizen) -> None:
    citizen = await make_citizen()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        assert row.state == {} and row.step == "idle" and row.reminded_at is None
        assert row.version == 1
        assert_utc(row.updated_at)
        assert (await uow.conversations.load(citizen.id)) is row
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, ConversationRow) == 1


async def test_conversation_save_and_reminders(sessionmaker: SM, make_citizen) -> None:
    citizen = await make_citizen()
    t0 = NOW
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        draft = {"category": "sampah", "photos": [{"sha256": "ab", "file_id": "x"}], "latitude": -1.6}
        await uow.conversations.save(row, draft, "description", now=t0)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        assert row.state == draft and row.step == "description"
        assert row.updated_at == t0
        assert row.version == 2
        await uow.conversations.mark_reminded(row, t0 + timedelta(hours=2))
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        assert row.reminded_at == t0 + timedelta(hours=2)
        assert row.updated_at == t0  # reminding is not citizen activity
        # an event that changes nothing keeps the reminder mark
        await uow.conversations.save(row, dict(row.state), row.step, now=t0 + timedelta(hours=3))
        assert row.reminded_at is not None
        # the citizen continues the draft: the reminder no longer applies
        await uow.conversations.save(row, {**row.state, "description": "bau"}, "photos", now=t0 + timedelta(hours=4))
        assert row.reminded_at is None
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        assert row.reminded_at is None and row.step == "photos" and row.state["description"] == "bau"
        assert row.updated_at == t0 + timedelta(hours=4)


async def test_conversation_state_mutation_is_not_shared(sessionmaker: SM, make_citizen) -> None:
    """save() stores a copy: mutating the caller's dict afterwards changes nothing stored."""
    citizen = await make_citizen()
    state: dict[str, list[str]] = {"photos": []}
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        await uow.conversations.save(row, state, "photos", now=NOW)
        state["photos"].append("late")
        await uow.commit()
    async with sessionmaker() as session:
        stored = await session.get(ConversationRow, citizen.id)
        assert stored is not None and stored.state == {"photos": []}


async def test_idle_drafts(sessionmaker: SM, make_citizen) -> None:
    filing = ["category", "description", "photos", "location", "summary", "edit_menu"]
    idle_since = NOW
    rows: dict[str, int] = {}
    specs = {
        "old_unreminded": ("photos", NOW - timedelta(hours=5), None),
        "older_unreminded": ("category", NOW - timedelta(hours=9), None),
        "old_reminded": ("summary", NOW - timedelta(hours=30), NOW - timedelta(hours=1)),
        "fresh": ("location", NOW + timedelta(minutes=1), None),
        "idle_step": ("idle", NOW - timedelta(days=3), None),
        "exactly_at_cutoff": ("photos", NOW, None),
    }
    for name, (step, updated, reminded) in specs.items():
        citizen = await make_citizen()
        rows[name] = citizen.id
        async with UnitOfWork(sessionmaker) as uow:
            row = await uow.conversations.load(citizen.id)
            await uow.conversations.save(row, {"n": name}, step, now=updated)
            if reminded is not None:
                await uow.conversations.mark_reminded(row, reminded)
            await uow.commit()

    async with UnitOfWork(sessionmaker) as uow:
        to_remind = await uow.conversations.idle_drafts(idle_since=idle_since, steps=filing, reminded=False)
        assert [r.citizen_id for r in to_remind] == [rows["older_unreminded"], rows["old_unreminded"]]
        to_discard = await uow.conversations.idle_drafts(idle_since=idle_since, steps=filing, reminded=True)
        assert [r.citizen_id for r in to_discard] == [rows["old_reminded"]]
        # the cutoff works across time zones (same instant written in WIB)
        in_wib = await uow.conversations.idle_drafts(
            idle_since=idle_since.astimezone(WIB), steps=filing, reminded=False
        )
        assert [r.citizen_id for r in in_wib] == [rows["older_unreminded"], rows["old_unreminded"]]
        limited = await uow.conversations.idle_drafts(idle_since=idle_since, steps=filing, reminded=False, limit=1)
        assert [r.citizen_id for r in limited] == [rows["older_unreminded"]]
        assert await uow.conversations.idle_drafts(idle_since=idle_since, steps=[], reminded=False) == []
        assert await uow.conversations.idle_drafts(idle_since=idle_since, steps=iter(["idle"]), reminded=False) == [
            await uow.conversations.load(rows["idle_step"])
        ]


# --- complaints -----------------------------------------------------------------------------------


async def test_tracking_numbers_per_year(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.complaints.next_number("JMB", 2026) == "JMB-2026-000001"
        assert await uow.complaints.next_number("JMB", 2026) == "JMB-2026-000002"
        assert await uow.complaints.next_number("JMB", 2027) == "JMB-2027-000001"
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.complaints.next_number("JMB", 2026) == "JMB-2026-000003"
        # not committed: the number is handed out again
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.complaints.next_number("JMB", 2026) == "JMB-2026-000003"
        await uow.commit()


async def test_complaint_create_and_queries(sessionmaker: SM, make_citizen) -> None:
    citizen = await make_citizen()
    other = await make_citizen()
    sha_a, sha_b = "a" * 64, "b" * 64
    await add_media(sessionmaker, sha_a)
    await add_media(sessionmaker, sha_b)
    async with UnitOfWork(sessionmaker) as uow:
        number = await uow.complaints.next_number("JMB", 2026)
        complaint = await uow.complaints.create(
            number=number,
            citizen_id=citizen.id,
            category="jalan",
            description="Jalan berlubang",
            agency="pupr",
            latitude=-1.61,
            longitude=103.61,
            address="Jl. Sudirman",
            due_at=NOW + timedelta(days=3),
            now=NOW.astimezone(WIB),
            photos=[(sha_b, "tg-b"), (sha_a, None)],
        )
        assert complaint.id is not None
        assert [p.sha256 for p in complaint.photos] == [sha_b, sha_a]
        await uow.commit()

    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.complaints.get(complaint.id)
        assert loaded is not None
        assert loaded.number == "JMB-2026-000001" and loaded.status == "baru"
        assert (loaded.latitude, loaded.longitude, loaded.address) == (-1.61, 103.61, "Jl. Sudirman")
        assert [(p.position, p.sha256, p.telegram_file_id) for p in loaded.photos] == [
            (0, sha_b, "tg-b"),
            (1, sha_a, None),
        ]
        for value in (loaded.created_at, loaded.updated_at, loaded.due_at):
            assert_utc(value)
        assert loaded.created_at == NOW and loaded.resolved_at is None
        assert (await uow.complaints.by_number("JMB-2026-000001")) is loaded
        assert (await uow.complaints.by_number("  jmb-2026-000001 ")) is loaded
        assert await uow.complaints.by_number("JMB-2026-999999") is None
        assert await uow.complaints.get(10_000) is None
        assert await uow.complaints.get_for_update(10_000) is None

    # newest first, limited, only that citizen's
    for i in range(1, 4):
        async with UnitOfWork(sessionmaker) as uow:
            await uow.complaints.create(
                number=await uow.complaints.next_number("JMB", 2026),
                citizen_id=citizen.id,
                category="sampah",
                description=f"#{i}",
                agency="dlh",
                now=NOW + timedelta(hours=i),
            )
            await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        await uow.complaints.create(
            number=await uow.complaints.next_number("JMB", 2026),
            citizen_id=other.id,
            category="sampah",
            description="other",
            agency="dlh",
        )
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        mine = await uow.complaints.for_citizen(citizen.id)
        assert [c.description for c in mine] == ["#3", "#2", "#1", "Jalan berlubang"]
        assert [c.description for c in await uow.complaints.for_citizen(citizen.id, limit=2)] == ["#3", "#2"]
        assert await uow.complaints.for_citizen(999_999) == []


async def test_complaint_status_and_agency(sessionmaker: SM, make_complaint) -> None:
    complaint = await make_complaint(agency="dlh")
    later = NOW + timedelta(hours=1)
    async with UnitOfWork(sessionmaker) as uow:
        locked = await uow.complaints.get_for_update(complaint.id)
        assert locked is not None
        assert await uow.complaints.set_status(locked, "diproses", now=later) == "baru"
        assert await uow.complaints.set_agency(locked, "pupr", now=later) == "dlh"
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.complaints.get(complaint.id)
        assert loaded is not None
        assert (loaded.status, loaded.agency, loaded.updated_at) == ("diproses", "pupr", later)
        assert loaded.created_at == NOW


async def test_get_for_update_refreshes_loaded_object(sessionmaker: SM, make_complaint) -> None:
    complaint = await make_complaint()
    async with UnitOfWork(sessionmaker) as uow:
        stale = await uow.complaints.get(complaint.id)
        assert stale is not None
        await uow.commit()  # end the transaction (SQLite: release the write lock)
        async with UnitOfWork(sessionmaker) as other:
            fresh = await other.complaints.get(complaint.id)
            assert fresh is not None
            await other.complaints.set_status(fresh, "selesai", now=NOW)
            await other.commit()
        assert stale.status == "baru"
        locked = await uow.complaints.get_for_update(complaint.id)
        assert locked is stale and locked.status == "selesai"


# --- audit ----------------------------------------------------------------------------------------


async def test_audit_history(sessionmaker: SM, make_complaint) -> None:
    complaint = await make_complaint()
    other = await make_complaint()
    async with UnitOfWork(sessionmaker) as uow:
        await uow.audit.add(
            complaint.id, actor_kind="citizen", actor_id=str(complaint.citizen_id), actor_name=None,
            action="submit", to_status="baru", at=NOW,
        )  # fmt: skip
        await uow.audit.add(
            complaint.id, actor_kind="staff", actor_id="555", actor_name="Sari", action="reassign",
            from_agency="dlh", to_agency="pupr", note="bukan wewenang kami", at=NOW + timedelta(minutes=5),
        )  # fmt: skip
        await uow.audit.add(
            complaint.id, actor_kind="staff", actor_id="666", actor_name="Tono", action="resolve",
            refused=True, note="not a member of the agency group", at=NOW + timedelta(minutes=1),
        )  # fmt: skip
        await uow.audit.add(other.id, actor_kind="system", actor_id=None, actor_name=None, action="remind")
        await uow.audit.add(None, actor_kind="system", actor_id=None, actor_name=None, action="link_group")
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        history = await uow.audit.history(complaint.id)
        assert [e.action for e in history] == ["submit", "resolve", "reassign"]
        submit, refused, reassign = history
        assert submit.to_status == "baru" and submit.refused is False and submit.actor_kind == "citizen"
        assert refused.refused is True and refused.actor_name == "Tono"
        assert (reassign.from_agency, reassign.to_agency, reassign.note) == ("dlh", "pupr", "bukan wewenang kami")
        assert_utc(reassign.at)
        assert [e.action for e in await uow.audit.history(complaint.id, limit=1)] == ["submit"]
        assert [e.action for e in await uow.audit.history(other.id)] == ["remind"]


# --- agencies ---------------------------------------------------------------------------------------


async def test_link_codes_one_time_and_expiring(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        code = await uow.agencies.create_link_code("dlh", ttl=timedelta(minutes=30), now=NOW)
        expiring = await uow.agencies.create_link_code("pupr", ttl=timedelta(minutes=30), now=NOW)
        await uow.commit()
    assert len(code) == 8 and set(code) <= set(LINK_CODE_ALPHABET)
    assert not set("01OI") & set(LINK_CODE_ALPHABET)
    assert code != expiring

    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.agencies.consume_link_code("NOPE2345", now=NOW) is None
        assert await uow.agencies.consume_link_code(f" {code.lower()} ", now=NOW + timedelta(minutes=1)) == "dlh"
        assert await uow.agencies.consume_link_code(code, now=NOW + timedelta(minutes=2)) is None  # used
        assert await uow.agencies.consume_link_code(expiring, now=NOW + timedelta(minutes=30)) is None  # expired
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.session.get(LinkCode, code)
        assert row is not None and row.used_at == NOW + timedelta(minutes=1)
        assert_utc(row.expires_at)
        # a rolled-back consumption leaves the code usable
        assert await uow.agencies.consume_link_code(expiring, now=NOW + timedelta(minutes=29)) == "pupr"
        await uow.rollback()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.agencies.consume_link_code(expiring, now=NOW + timedelta(minutes=29)) == "pupr"


async def test_agency_links(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        group = await uow.agencies.link("dlh", -100111, title="DLH Kota", linked_by="42", now=NOW)
        assert group.chat_id == -100111
        await uow.agencies.link("pupr", -100222, title="PUPR", linked_by="43", now=NOW)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.agencies.agency_for_chat(-100111) == "dlh"
        dlh = await uow.agencies.group_for("dlh")
        assert dlh is not None and dlh.title == "DLH Kota" and dlh.linked_by == "42"
        assert_utc(dlh.linked_at)
        assert await uow.agencies.group_for("dishub") is None
        assert await uow.agencies.agency_for_chat(-1) is None

        # relinking the agency replaces its group
        await uow.agencies.link("dlh", -100333, title="DLH baru", linked_by="44", now=NOW + timedelta(days=1))
        # linking a chat that belongs to another agency moves it
        await uow.agencies.link("dishub", -100222, title="Dishub", linked_by="45", now=NOW + timedelta(days=1))
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        groups = await uow.agencies.all_groups()
        assert [(g.agency, g.chat_id, g.title) for g in groups] == [
            ("dishub", -100222, "Dishub"),
            ("dlh", -100333, "DLH baru"),
        ]
        assert await uow.agencies.agency_for_chat(-100111) is None
        assert await uow.agencies.group_for("pupr") is None
        assert await uow.agencies.unlink("dishub")
        assert not await uow.agencies.unlink("dishub")
        await uow.commit()


async def test_migrate_chat(sessionmaker: SM, make_complaint) -> None:
    complaint = await make_complaint(agency="dlh")
    async with UnitOfWork(sessionmaker) as uow:
        await uow.agencies.link("dlh", -4001, title="DLH", linked_by="1", now=NOW)
        await uow.agencies.link("pupr", -4002, title="PUPR", linked_by="1", now=NOW)
        card = await uow.cards.create(complaint.id, "dlh", -4001)
        await uow.cards.set_message(card, 10, "photo")
        other_card = await uow.cards.create(complaint.id, "pupr", -4002)
        await uow.links.add("telegram", -4001, 10, complaint.id, "card")
        await uow.links.add("whatsapp", "-4001", "10", complaint.id, "notification")
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        await uow.agencies.migrate_chat(-4001, -1009999)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.agencies.agency_for_chat(-1009999) == "dlh"
        assert await uow.agencies.agency_for_chat(-4001) is None
        moved = await uow.cards.by_message(-1009999, 10)
        assert moved is not None and moved.id == card.id
        assert await uow.cards.by_message(-4001, 10) is None
        untouched = await uow.cards.get(other_card.id)
        assert untouched is not None and untouched.chat_id == -4002
        assert await uow.links.find("telegram", -1009999, 10) is not None
        assert await uow.links.find("telegram", -4001, 10) is None
        assert await uow.links.find("whatsapp", "-4001", "10") is not None  # other channel untouched


# --- cards ------------------------------------------------------------------------------------------


async def test_cards(sessionmaker: SM, make_complaint) -> None:
    complaint = await make_complaint()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.cards.active_for(complaint.id) is None
        first = await uow.cards.create(complaint.id, "dlh", -5001)
        assert first.message_id is None and first.kind == "text" and first.active
        assert_utc(first.created_at)
        await uow.cards.set_message(first, 77, "photo")
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        found = await uow.cards.by_message(-5001, 77)
        assert found is not None and found.id == first.id and found.kind == "photo"
        assert await uow.cards.by_message(-5001, 78) is None
        assert (await uow.cards.active_for(complaint.id)).id == first.id  # type: ignore[union-attr]
        # reassignment: the old card is deactivated, a new one becomes active
        await uow.cards.deactivate(found)
        second = await uow.cards.create(complaint.id, "pupr", -5002, kind="photo")
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        active = await uow.cards.active_for(complaint.id)
        assert active is not None and active.id == second.id and active.kind == "photo"
        cards = await uow.cards.for_complaint(complaint.id)
        assert [(c.id, c.active) for c in cards] == [(first.id, False), (second.id, True)]
        assert (await uow.cards.get(first.id)).agency == "dlh"  # type: ignore[union-attr]
        assert await uow.cards.get(10_000) is None


# --- message links ----------------------------------------------------------------------------------


async def test_message_links_idempotent(sessionmaker: SM, make_complaint) -> None:
    complaint = await make_complaint()
    async with UnitOfWork(sessionmaker) as uow:
        link = await uow.links.add("telegram", -5001, 12, complaint.id, "reject_prompt", staff_user_id=99)
        again = await uow.links.add("telegram", "-5001", "12", complaint.id, "relay")
        assert again.id == link.id and again.role == "reject_prompt"
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        # a retried delivery in a later transaction: still one row
        await uow.links.add("telegram", -5001, 12, complaint.id, "reject_prompt", staff_user_id=99)
        found = await uow.links.find("telegram", -5001, 12)
        assert found is not None and found.staff_user_id == "99" and found.complaint_id == complaint.id
        assert_utc(found.created_at)
        assert await uow.links.find("whatsapp", -5001, 12) is None
        assert await count_rows(uow.session, MessageLink) == 1
        await uow.commit()


# --- media rows -------------------------------------------------------------------------------------


async def test_media_rows(sessionmaker: SM) -> None:
    sha = "c" * 64
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.media.get(sha) is None
        media = await uow.media.upsert(sha, "cc/cc/x.jpg", "image/jpeg", 10)
        assert media.telegram_file_id is None
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        same = await uow.media.upsert(sha, "cc/cc/x.jpg", "image/jpeg", 10, telegram_file_id="AgAD1")
        assert same.telegram_file_id == "AgAD1"
        kept = await uow.media.upsert(sha, "cc/cc/x.jpg", "image/jpeg", 10)  # no id given: keep the known one
        assert kept.telegram_file_id == "AgAD1"
        await uow.media.set_telegram_file_id(sha, "AgAD2")
        await uow.media.set_telegram_file_id("d" * 64, "ignored")  # unknown: no-op
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.media.get(sha)
        assert loaded is not None and loaded.telegram_file_id == "AgAD2" and loaded.size == 10
        assert_utc(loaded.created_at)


# --- idempotency -------------------------------------------------------------------------------------


async def test_idempotency_claim_and_prune(sessionmaker: SM) -> None:
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.idempotency.claim("tg:1", now=NOW - timedelta(days=3))
        assert not await uow.idempotency.claim("tg:1")
        assert await uow.idempotency.claim("wa:SM1", now=NOW)
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert not await uow.idempotency.claim("tg:1")
        assert await uow.idempotency.claim("tg:2")
        # the event failed: rolling back releases the claim, so the redelivery is processed
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.idempotency.claim("tg:2")
        assert await uow.idempotency.prune(NOW - timedelta(days=1)) == 1
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        assert await uow.idempotency.claim("tg:1")  # forgotten after pruning
        assert not await uow.idempotency.claim("wa:SM1")


# --- datetimes --------------------------------------------------------------------------------------


async def test_datetimes_are_aware_utc(sessionmaker: SM, make_citizen) -> None:
    citizen = await make_citizen()
    wib_time = datetime(2026, 5, 1, 7, 0, tzinfo=WIB)  # = 00:00 UTC
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        await uow.conversations.save(row, {}, "category", now=wib_time)
        await uow.commit()
    async with sessionmaker() as session:
        stored = await session.get(ConversationRow, citizen.id)
        assert stored is not None
        assert stored.updated_at == datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
        assert stored.updated_at.tzinfo is UTC
        raw = (await session.execute(select(ConversationRow.updated_at))).scalar_one()
        assert raw.tzinfo is UTC


async def test_naive_datetimes_are_refused(sessionmaker: SM, make_citizen) -> None:
    """A naive datetime is a bug (whose local time?): refuse it instead of guessing."""
    citizen = await make_citizen()
    async with UnitOfWork(sessionmaker) as uow:
        row = await uow.conversations.load(citizen.id)
        with pytest.raises(StatementError, match="naive datetime"):
            await uow.conversations.save(row, {}, "category", now=datetime(2026, 5, 1, 7, 0))


async def test_complaint_photo_requires_media_row(sessionmaker: SM, make_citizen) -> None:
    from sqlalchemy.exc import IntegrityError

    citizen = await make_citizen()
    async with UnitOfWork(sessionmaker) as uow:
        with pytest.raises(IntegrityError):
            await uow.complaints.create(
                number="JMB-2026-000009", citizen_id=citizen.id, category="c", description="d",
                agency="dlh", photos=[("e" * 64, None)],
            )  # fmt: skip
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, ComplaintPhoto) == 0
