"""What happened to the messages we sent the citizen: delivery receipts and notices that did not arrive.

A status notification that cannot reach the citizen (outside WhatsApp's 24-hour window with no approved
template, error 63016, a number that left WhatsApp, a citizen who blocked the Telegram bot) must never
look "sent" to the agency: the reason goes on the complaint and its card is re-rendered to show it. A
later notification that does arrive clears it.
"""

from __future__ import annotations

import logging

from bot.services.complaints import build_view, refresh_card
from bot.services.runtime import Runtime
from storage.models import OutboxMessage
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.receipts")

#: Twilio statuses that mean the message will not reach the phone
FAILED_STATUSES = frozenset({"failed", "undelivered"})
#: statuses that prove it did
ARRIVED_STATUSES = frozenset({"delivered", "read"})
#: outbox roles whose failure the agency must see (status changes, staff replies, the overdue notice of
#: bot.services.reminders: a WhatsApp one outside the window without a template is caught up when the citizen
#: next writes, like a status notice)
WATCHED_ROLES = frozenset({"notification", "staff_reply", "overdue"})
#: only these may go out as the approved status template outside WhatsApp's window (a staff question
#: squeezed into "number / status / agency" would silently lose what staff asked)
TEMPLATE_ROLES = frozenset({"notification"})

#: a notice that could not be sent because WhatsApp's 24-hour window is closed and no template is set
REASON_WINDOW = "window"
#: the citizen blocked the Telegram bot (or stopped WhatsApp messages)
REASON_BLOCKED = "blocked"


def failure_reason(error_code: int | None, error_message: str | None = None) -> str:
    """The stored form of a delivery failure, shown on the agency card: ``window``, ``blocked`` or the
    channel's error code. Never the channel's error text: Twilio's can contain the citizen's number."""
    if error_code == 63016:
        return REASON_WINDOW
    if error_code == 21610:  # the citizen replied STOP: Twilio will not message them until they write START
        return REASON_BLOCKED
    return f"Twilio {error_code}" if error_code is not None else "unknown"


async def note_notice_outcome(
    rt: Runtime,
    uow: UnitOfWork,
    complaint_id: int,
    error: str | None,
    *,
    recipient: tuple[str, str] | None = None,
) -> None:
    """Record (``error``) or clear (None) the complaint's undelivered-notice reason; refresh its card if it
    changed. ``recipient`` (channel, chat id): only the reporter's notices count, not followers'."""
    complaint = await uow.complaints.get(complaint_id)
    if complaint is None:
        return
    if recipient is not None:
        reporter = await uow.citizens.get(complaint.citizen_id)
        if reporter is None or (reporter.channel, reporter.channel_user_id) != recipient:
            return
    if not await uow.complaints.set_notice_error(complaint_id, error):
        return
    if error is not None:
        log.warning("notice about %s did not reach the citizen: %s", complaint.number, error)
    await refresh_card(rt, uow, complaint, await build_view(uow, complaint))


@retry_transient()
async def record_notice_outcome(
    rt: Runtime, complaint_id: int, error: str | None, recipient: tuple[str, str] | None = None
) -> None:
    """A sender's verdict on a notice (failed for good with ``error``, or arrived: None), in its own transaction."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        await note_notice_outcome(rt, uow, complaint_id, error, recipient=recipient)
        await uow.commit()
    rt.on_enqueued()


@retry_transient()
async def record_delivery_status(
    rt: Runtime,
    *,
    channel: str,
    message_id: str,
    status: str,
    error_code: int | None = None,
    error_message: str | None = None,
) -> None:
    """A status callback: store it (out-of-order safe), and surface a failed notice on the agency card."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        change = await uow.receipts.record(
            channel, message_id, now=rt.clock(), status=status, error_code=error_code, error_message=error_message
        )
        if change.changed and change.complaint_id is not None and change.outbox_id is not None:
            row = await uow.session.get(OutboxMessage, change.outbox_id)
            if row is not None and row.link_role in WATCHED_ROLES:
                recipient = (channel, row.chat_id)
                if change.status in FAILED_STATUSES:
                    await note_notice_outcome(
                        rt, uow, change.complaint_id, failure_reason(change.error_code), recipient=recipient
                    )
                elif change.status in ARRIVED_STATUSES:
                    await note_notice_outcome(rt, uow, change.complaint_id, None, recipient=recipient)
        await uow.commit()
    rt.on_enqueued()
