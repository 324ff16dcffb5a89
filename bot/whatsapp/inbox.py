"""Works through the WhatsApp inbox: the webhook stored each message and answered Twilio at once; here the
media is downloaded and the conversation core runs, one citizen's messages strictly in arrival order.

Why an inbox rather than doing the work inside the webhook: Twilio gives a webhook 15 seconds, a photo
download plus the flow can take longer on a slow day, and work done after answering Twilio but without a
stored copy would be lost in a crash. Stored first, the message survives a restart and is processed once
(:func:`bot.services.citizen.handle_citizen_event` claims its ``wa:<MessageSid>`` key).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from bot.delivery.loop import InboxLoop
from bot.services.citizen import handle_citizen_event
from bot.whatsapp.translate import CHANNEL, MediaDownloadError, MediaFetcher, download_failed, to_events
from storage.models import InboundMessage, utcnow

if TYPE_CHECKING:

    from bot.services.runtime import Runtime

log = logging.getLogger("sikesal.whatsapp.inbox")


class InboxWorker(InboxLoop):
    """Processes pending ``inbound_messages`` rows, per sender in order, in parallel across senders."""

    name = "whatsapp-inbox"
    channel = CHANNEL

    def __init__(
        self,
        rt: Runtime,
        fetcher: MediaFetcher,
        *,
        max_attempts: int = 12,
        poll_interval: float = 1.0,
        concurrency: int = 8,
        backoff_base: float = 2.0,
        clock: Callable[[], datetime] = utcnow,
        lease_owner: str | None = None,
    ) -> None:
        super().__init__(
            rt.sessionmaker,
            max_attempts=max_attempts,
            poll_interval=poll_interval,
            concurrency=concurrency,
            backoff_base=backoff_base,
            clock=clock,
            lease_owner=lease_owner,
        )
        self.rt = rt
        self.fetcher = fetcher

    async def _process(self, row_id: int) -> bool:
        async with self._db_sem, self.sessionmaker() as session:
            row = await session.get(InboundMessage, row_id)
            if row is None or row.status != "pending":
                return True
            form, sender, attempts = dict(row.payload), row.sender, row.attempts or 0
            received_at = row.received_at
        max_bytes = self.rt.ctx.limits.photo_max_bytes
        try:
            async with self._sem:
                events = await to_events(form, self.fetcher, self.rt.media, max_bytes=max_bytes)
        except (MediaDownloadError, OSError) as exc:  # network trouble, or our media disk
            if attempts + 1 < self.max_attempts:
                await self._finish(row_id, error=f"{type(exc).__name__}: {exc}", retry_in=self._backoff(attempts))
                return False  # later messages of this citizen wait: order matters in a conversation
            log.warning("giving up downloading media of inbound %s: %s", row_id, exc)
            events = download_failed(form)
        except Exception as exc:  # a bug must not spin: back off like any other failure
            log.exception("translating inbound %s failed", row_id)
            return await self._failed(row_id, exc, attempts)
        try:
            for key, incoming in events:
                await handle_citizen_event(
                    self.rt, channel=CHANNEL, channel_user_id=sender, incoming=incoming, update_key=key,
                    received_at=received_at,
                )
        except Exception as exc:  # a bug or a database outage must not drop the message or stop the inbox
            log.exception("processing inbound %s failed", row_id)
            return await self._failed(row_id, exc, attempts)
        await self._finish(row_id)
        return True
