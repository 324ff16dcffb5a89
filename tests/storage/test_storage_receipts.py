"""Delivery receipt contract (``message_receipts``) and the complaint's undelivered-notice mark,
on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from storage_testkit import NOW

from storage.models import Complaint, MessageReceipt, OutboxMessage
from storage.repositories import ReceiptChange, ReceiptRepo, count_rows, receipt_rank
from storage.uow import UnitOfWork

SM = async_sessionmaker[AsyncSession]
MakeComplaint = Callable[..., Awaitable[Complaint]]
WA = "whatsapp"
CHAT = "+6281234567890"


async def record(sessionmaker: SM, sid: str, status: str | None, **kw: Any) -> ReceiptChange:
    """One status report in its own transaction, like a webhook call."""
    at = kw.pop("now", NOW)
    async with UnitOfWork(sessionmaker) as uow:
        change = await uow.receipts.record(WA, sid, now=at, status=status, **kw)
        await uow.commit()
    return change


async def outbox_row(sessionmaker: SM, complaint_id: int) -> int:
    """A sent notification about the complaint (what a receipt points back to)."""
    async with UnitOfWork(sessionmaker) as uow:
        row = OutboxMessage(
            channel=WA,
            chat_id=CHAT,
            payload={"text": "Status pengaduan Anda: diproses"},
            complaint_id=complaint_id,
            link_role="notification",
            status="sent",
        )
        uow.session.add(row)
        await uow.commit()
    return row.id


def test_ranks() -> None:
    order = ["queued", "sending", "sent", "failed", "delivered", "read"]
    assert [receipt_rank(s) for s in order] == sorted(receipt_rank(s) for s in order)
    assert receipt_rank("accepted") == receipt_rank("scheduled") == receipt_rank("queued") == 0
    assert receipt_rank("undelivered") == receipt_rank("failed") == 3
    assert receipt_rank("canceled") == receipt_rank(None) == 0
    assert receipt_rank("READ") == 5


async def test_sent_delivered_read(sessionmaker: SM) -> None:
    first = await record(sessionmaker, "SM1", "sent", chat_id=CHAT)
    assert (first.status, first.previous_status, first.changed) == ("sent", None, True)
    assert first.chat_id == CHAT and first.error_code is None

    delivered = await record(sessionmaker, "SM1", "delivered", now=NOW + timedelta(seconds=2))
    assert (delivered.status, delivered.previous_status, delivered.changed) == ("delivered", "sent", True)
    read = await record(sessionmaker, "SM1", "read", now=NOW + timedelta(seconds=9))
    assert (read.status, read.previous_status, read.changed) == ("read", "delivered", True)
    again = await record(sessionmaker, "SM1", "read")  # Twilio retried the callback
    assert (again.status, again.changed) == ("read", False)

    async with UnitOfWork(sessionmaker) as uow:
        receipt = await uow.receipts.by_message(WA, "SM1")
        assert receipt is not None
        assert (receipt.status, receipt.chat_id, receipt.updated_at) == ("read", CHAT, NOW + timedelta(seconds=9))
        assert await uow.receipts.by_message("telegram", "SM1") is None
        assert await uow.receipts.by_message(WA, "SM2") is None
        assert await count_rows(uow.session, MessageReceipt) == 1


async def test_out_of_order_read_before_sent_keeps_read(sessionmaker: SM) -> None:
    await record(sessionmaker, "SM1", "read")
    for late in ("delivered", "sent", "sending", "queued", "failed"):
        change = await record(sessionmaker, "SM1", late)
        assert (change.status, change.previous_status, change.changed) == ("read", "read", False), late
    async with UnitOfWork(sessionmaker) as uow:
        receipt = await uow.receipts.by_message(WA, "SM1")
        assert receipt is not None and receipt.status == "read" and receipt.error_code is None


async def test_failed_keeps_its_error_code(sessionmaker: SM) -> None:
    """63016: outside the 24-hour window. The code survives late lower-rank callbacks and a
    repeated failure that carries no code."""
    await record(sessionmaker, "SM1", "queued")
    failed = await record(
        sessionmaker, "SM1", "failed", error_code=63016, error_message="Outside the allowed window"
    )
    assert (failed.status, failed.changed, failed.error_code) == ("failed", True, 63016)
    assert failed.error_message == "Outside the allowed window"

    late_sent = await record(sessionmaker, "SM1", "sent")
    assert (late_sent.status, late_sent.changed, late_sent.error_code) == ("failed", False, 63016)
    repeat = await record(sessionmaker, "SM1", "failed")
    assert (repeat.status, repeat.changed, repeat.error_code) == ("failed", False, 63016)
    assert repeat.error_message == "Outside the allowed window"

    # an equal-rank failure with its own code is applied
    undelivered = await record(sessionmaker, "SM1", "undelivered", error_code=30008, error_message="Unknown")
    assert (undelivered.status, undelivered.previous_status, undelivered.changed) == ("undelivered", "failed", True)
    assert (undelivered.error_code, undelivered.error_message) == (30008, "Unknown")

    # a later proof of delivery wins and the error no longer applies
    delivered = await record(sessionmaker, "SM1", "delivered")
    assert (delivered.status, delivered.error_code, delivered.error_message) == ("delivered", None, None)


async def test_error_message_is_clipped_and_status_normalised(sessionmaker: SM) -> None:
    change = await record(sessionmaker, "SM1", " Partially_Delivered ", error_message="e" * 5000)
    assert change.status == "partially_delive"  # Twilio's longest status, clipped to the column
    assert change.error_message is not None and len(change.error_message) == 1000


async def test_callback_before_the_send_is_recorded(sessionmaker: SM, make_complaint: MakeComplaint) -> None:
    """The status callback won the race with the sender's commit: it creates the receipt, and the
    sender's own (lower-rank) record then only fills in what the callback could not know."""
    complaint = await make_complaint()
    outbox_id = await outbox_row(sessionmaker, complaint.id)

    early = await record(sessionmaker, "SMx", "undelivered", error_code=63024, error_message="Invalid recipient")
    assert (early.status, early.changed, early.previous_status) == ("undelivered", True, None)
    assert early.outbox_id is None and early.complaint_id is None and early.chat_id is None
    assert early.linked is False

    sender = await record(
        sessionmaker, "SMx", "queued", outbox_id=outbox_id, complaint_id=complaint.id, chat_id=CHAT
    )
    assert (sender.status, sender.changed, sender.previous_status) == ("undelivered", False, "undelivered")
    assert (sender.outbox_id, sender.complaint_id, sender.chat_id) == (outbox_id, complaint.id, CHAT)
    assert sender.error_code == 63024
    assert sender.linked is True  # the sender must look at the failure the callback already stored

    # fields are filled once, never overwritten
    other = await record(sessionmaker, "SMx", None, outbox_id=outbox_id, complaint_id=complaint.id, chat_id="+1")
    assert other.chat_id == CHAT and other.linked is False and other.changed is False

    async with UnitOfWork(sessionmaker) as uow:
        latest = await uow.receipts.latest_for_complaint(complaint.id)
        assert latest is not None and latest.message_id == "SMx"
        assert await uow.receipts.latest_for_complaint(complaint.id + 1000) is None


async def test_sender_record_without_status_and_latest(sessionmaker: SM, make_complaint: MakeComplaint) -> None:
    complaint = await make_complaint()
    first = await record(sessionmaker, "SM1", None, complaint_id=complaint.id)
    assert (first.status, first.changed) == ("queued", False)
    await record(sessionmaker, "SM2", "sent", complaint_id=complaint.id)
    await record(sessionmaker, "SM1", "read")  # an older message's late receipt does not make it "latest"
    async with UnitOfWork(sessionmaker) as uow:
        latest = await uow.receipts.latest_for_complaint(complaint.id)
        assert latest is not None and latest.message_id == "SM2"


async def test_deleting_the_outbox_row_keeps_the_receipt(sessionmaker: SM, make_complaint: MakeComplaint) -> None:
    complaint = await make_complaint()
    outbox_id = await outbox_row(sessionmaker, complaint.id)
    await record(sessionmaker, "SM1", "delivered", outbox_id=outbox_id, complaint_id=complaint.id)
    async with UnitOfWork(sessionmaker) as uow:
        await uow.session.execute(delete(OutboxMessage).where(OutboxMessage.id == outbox_id))
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        receipt = await uow.receipts.by_message(WA, "SM1")
        assert receipt is not None and receipt.outbox_id is None and receipt.complaint_id == complaint.id


async def test_unknown_outbox_id_is_an_error_not_a_conflict(sessionmaker: SM) -> None:
    from sqlalchemy.exc import IntegrityError

    async with UnitOfWork(sessionmaker) as uow:
        with pytest.raises(IntegrityError):
            await uow.receipts.record(WA, "SMbad", now=NOW, status="sent", outbox_id=999_999)


async def test_concurrent_record_of_one_message(sessionmaker: SM) -> None:
    """Callbacks for one SID racing from separate sessions: one row, the highest status wins."""
    statuses = ["queued", "sending", "sent", "delivered", "read", "sent", "queued", "delivered"] * 2
    start = asyncio.Event()

    async def callback(status: str) -> ReceiptChange:
        await start.wait()
        async with UnitOfWork(sessionmaker) as uow:
            change = await uow.receipts.record(WA, "SMrace", now=NOW, status=status)
            await asyncio.sleep(0.002)
            await uow.commit()
            return change

    tasks = [asyncio.create_task(callback(s)) for s in statuses]
    start.set()
    changes = await asyncio.gather(*tasks)
    assert [c.previous_status for c in changes].count(None) == 1  # exactly one created the row
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, MessageReceipt) == 1
        receipt = await uow.receipts.by_message(WA, "SMrace")
        assert receipt is not None and receipt.status == "read"


async def test_concurrent_insert_conflict_is_resolved_in_a_savepoint(
    sessionmaker: SM, database_url: str, make_complaint: MakeComplaint
) -> None:
    """The exact race: the callback's session found no row and inserts while the sender's
    insert of the same SID is not committed yet. On PostgreSQL the second INSERT waits on the
    unique index, fails when the first commits, and is turned into an update of the winner's row
    (SQLite serialises the two transactions, so the second simply finds the row)."""
    complaint = await make_complaint()
    outbox_id = await outbox_row(sessionmaker, complaint.id)
    calls: dict[int, int] = {}
    real_locked = ReceiptRepo._locked

    async def counting(self: ReceiptRepo, channel: str, message_id: str) -> MessageReceipt | None:
        calls[id(self)] = calls.get(id(self), 0) + 1
        return await real_locked(self, channel, message_id)

    with mock.patch.object(ReceiptRepo, "_locked", counting):
        async with UnitOfWork(sessionmaker) as sender_uow:
            await sender_uow.receipts.record(
                WA, "SMrace", now=NOW, status="queued", outbox_id=outbox_id, complaint_id=complaint.id, chat_id=CHAT
            )

            async def callback() -> tuple[ReceiptChange, int]:
                async with UnitOfWork(sessionmaker) as uow:
                    change = await uow.receipts.record(WA, "SMrace", now=NOW, status="delivered")
                    await uow.commit()
                    return change, calls[id(uow.receipts)]

            task = asyncio.create_task(callback())
            await asyncio.sleep(0.3)  # let the callback reach its INSERT (PostgreSQL) / wait (SQLite)
            assert not task.done()
            await sender_uow.commit()
        change, lookups = await task

    assert (change.status, change.previous_status, change.changed) == ("delivered", "queued", True)
    assert (change.outbox_id, change.complaint_id, change.chat_id) == (outbox_id, complaint.id, CHAT)
    if database_url.startswith("postgresql"):
        assert lookups == 2  # the conflict path: not found, insert failed, found the winner's row
    async with UnitOfWork(sessionmaker) as uow:
        assert await count_rows(uow.session, MessageReceipt) == 1


async def test_set_notice_error(sessionmaker: SM, make_complaint: MakeComplaint) -> None:
    complaint = await make_complaint()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.complaints.get(complaint.id)
        assert loaded is not None and loaded.citizen_notice_error is None
        assert await uow.complaints.set_notice_error(complaint.id, "window") is True
        assert loaded.citizen_notice_error == "window"  # a loaded complaint sees the change
        assert await uow.complaints.set_notice_error(complaint.id, "window") is False
        assert await uow.complaints.set_notice_error(complaint.id + 1000, "window") is False
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.complaints.get(complaint.id)
        assert loaded is not None and loaded.citizen_notice_error == "window"
        assert loaded.updated_at == complaint.updated_at  # not a change of the complaint itself
        assert [c.id for c in await uow.complaints.with_notice_error(complaint.citizen_id, "window")] == [
            complaint.id
        ]
        assert await uow.complaints.set_notice_error(complaint.id, "63003: Channel could not find To address")
        assert await uow.complaints.set_notice_error(complaint.id, None) is True
        assert await uow.complaints.set_notice_error(complaint.id, None) is False
        await uow.commit()
    async with UnitOfWork(sessionmaker) as uow:
        loaded = await uow.complaints.get(complaint.id)
        assert loaded is not None and loaded.citizen_notice_error is None
