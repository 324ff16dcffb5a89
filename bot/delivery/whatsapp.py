"""The WhatsApp sender: delivers ``whatsapp`` outbox rows through the real ``twilio`` client (async).

Same contract as the Telegram sender (:mod:`bot.delivery.telegram`): send outside transactions, record the
outcome in a short one afterwards, per-chat FIFO from :class:`~bot.delivery.loop.FifoWorkLoop`, errors by
kind. What WhatsApp adds:

* **No inline buttons.** A message is rendered to plain WhatsApp text with a numbered menu
  (:mod:`bot.whatsapp.render`); a long one goes out in several parts, each part's SID saved before the
  next is sent, so a retry sends only what is missing. Where the operator registered a quick-reply
  template for a menu (``whatsapp.menu_templates``), the text goes first and the template's buttons
  (with a short prompt as its one variable) replace the numbered list.
* **The 24-hour customer-service window.** Free text only reaches a citizen who wrote to us in the last
  24 hours. Outside it, a status notification goes as the approved ``whatsapp.status_template``
  (``ContentSid`` + ``ContentVariables``); without one the row fails at once with the reason recorded and
  shown on the agency card, never pretending to be sent. Twilio's own verdict (63016 in a status callback
  or in the API answer) is recorded the same way.
* **Receipts.** Every SID is stored (``message_receipts``) and linked to the complaint, so status callbacks
  and the citizen's swipe-replies (``OriginalRepliedMessageSid``) find their way back.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.rest import Client

from bot.config import TemplateConfig, TwilioSettings, WhatsAppConfig
from bot.delivery.loop import RECORD_RETRIES, OutboxLoop, Stopped
from bot.delivery.ratelimit import RateLimiter, RateLimits
from bot.media_links import MediaLinks
from bot.services.receipts import (
    FAILED_STATUSES,
    REASON_WINDOW,
    TEMPLATE_ROLES,
    WATCHED_ROLES,
    failure_reason,
    note_notice_outcome,
)
from bot.whatsapp.render import render_whatsapp, split_bodies
from handlers.lifecycle import status_label
from handlers.messages import OutMessage
from handlers.views import agency_display
from storage.models import OutboxMessage, utcnow
from storage.outbox import ERASED_ROLE, KIND_TWILIO_DELETE, PENDING, TWILIO_DELETE_CHAT, OutboxRepo, as_utc
from storage.uow import UnitOfWork

if TYPE_CHECKING:

    from bot.services.runtime import Runtime

log = logging.getLogger("sikesal.delivery.whatsapp")

CHANNEL = "whatsapp"
#: the link role of the follow-up's "is it fixed?" question (bot.services.followup.QUESTION_ROLE)
RESOLUTION_ROLE = "fu_question"
#: the link role of the citizen's overdue notice (bot.services.reminders.OVERDUE_ROLE)
OVERDUE_ROLE = "overdue"
#: WhatsApp's customer-service window, minus a minute so a message does not race its closing
WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=1)
#: WhatsApp shows at most this many characters under a photo
MEDIA_CAPTION_MAX = 1024

#: Twilio error codes that no retry can fix for this recipient
#: 63016 outside the window; 21610 the user replied STOP; 21211/21614/63024 not a valid WhatsApp user;
#: 63003 the channel could not find the recipient; 63032 user's WhatsApp does not accept business messages
BLOCKED_CODES = frozenset({21610})
RETRYABLE_CODES = frozenset({20429, 20500, 20503, 63018, 63038})  # rate limits, Twilio's own trouble


@dataclass(slots=True)
class _Template:
    content_sid: str
    variables: dict[str, str]


@dataclass(slots=True)
class _Job:
    row_id: int
    chat_id: str
    attempts: int
    complaint_id: int | None
    link_role: str | None
    parts: list[str] = field(default_factory=list)
    template: _Template | None = None
    progress: list[str] = field(default_factory=list)
    #: signed links to the message's photos, for Twilio to fetch (see bot.media_links)
    media_urls: list[str] = field(default_factory=list)
    #: a job deleting this message at Twilio (an erased citizen's, see bot.services.erasure), not a message
    delete_sid: str | None = None


Action = Literal["sent", "retry", "failed"]


@dataclass(slots=True)
class _Outcome:
    action: Action
    message_ids: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    error: str = ""
    #: what to show the agency when a watched notice failed (see bot.services.receipts.failure_reason)
    reason: str | None = None
    blocked: bool = False
    delay: float | None = None


def _with_media(steps: list[dict[str, object]], urls: list[str]) -> list[dict[str, object]]:
    """One photo per WhatsApp message: the first carries the first text part as its caption when that
    fits, the others follow it alone, then the rest of the text; a first part too long for a caption
    goes after the photos."""
    if not urls:
        return steps
    alone: list[dict[str, object]] = [{"media_url": [url]} for url in urls]
    if steps and len(str(steps[0].get("body", ""))) <= MEDIA_CAPTION_MAX:
        return [{**steps[0], "media_url": [urls[0]]}, *alone[1:], *steps[1:]]
    return [*alone, *steps]


def _menu_name(message: OutMessage) -> str | None:
    """The payload prefix all of a message's buttons share (``sum`` for ``sum:send``...), if they do."""
    prefixes = {button.payload.split(":", 1)[0] for row in message.buttons for button in row}
    return prefixes.pop() if len(prefixes) == 1 else None


class WhatsAppSender(OutboxLoop):
    """Delivers pending ``whatsapp`` outbox rows. ``client`` is a twilio ``Client`` with an async http client."""

    name = "whatsapp-delivery"
    channel = CHANNEL

    def __init__(
        self,
        rt: Runtime,
        client: Client,
        twilio: TwilioSettings,
        config: WhatsAppConfig,
        *,
        status_callback: str | None = None,
        max_attempts: int = 10,
        poll_interval: float = 1.0,
        concurrency: int = 8,
        backoff_base: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
        lease_owner: str | None = None,
        retry_for: timedelta | None = None,
        backoff_cap: float = 60.0,
        media_links: MediaLinks | None = None,
    ) -> None:
        super().__init__(
            rt.sessionmaker,
            max_attempts=max_attempts,
            poll_interval=poll_interval,
            concurrency=concurrency,
            backoff_base=backoff_base,
            clock=clock,
            lease_owner=lease_owner,
            retry_for=retry_for,
            backoff_cap=backoff_cap,
        )
        self.rt = rt
        self.client = client
        self.twilio = twilio
        self.config = config
        self.status_callback = status_callback
        #: photos go out as ``MediaUrl`` links to our own web server; without a public URL, as a note
        self.media_links = media_links
        self._warned_no_media_url = False
        rate = config.messages_per_second
        self.limiter = RateLimiter(
            RateLimits(global_per_second=rate, global_burst=max(1, int(rate)), private_per_second=5, private_burst=5),
            now=time.monotonic(),
        )
        self.sent = 0
        self.failed = 0

    # ------------------------------------------------------------------ one row

    async def _process(self, row_id: int) -> bool:
        loaded = await self._load(row_id)
        if loaded is None:
            return True
        job, outcome = loaded
        if outcome is None:
            outcome = await self._attempt(job)
        for pause in RECORD_RETRIES:
            try:
                await self._record(job, outcome)
                break
            except SQLAlchemyError:
                # Twilio may already have the message: losing this commit would send it again later
                if pause is None:
                    raise
                log.warning("could not record whatsapp outbox row %s; retrying in %.1fs", job.row_id, pause,
                            exc_info=True)
                await asyncio.sleep(pause)
        return outcome.action != "retry"

    async def _load(self, row_id: int) -> tuple[_Job, _Outcome | None] | None:
        """Copy the row out and decide how it can go: free text, a template, or not at all (window)."""
        now = self.clock()
        async with self._db_sem, UnitOfWork(self.rt.sessionmaker) as uow:
            row = await uow.session.get(OutboxMessage, row_id)
            if row is None or row.status != PENDING:
                return None
            job = _Job(
                row_id=row.id,
                chat_id=row.chat_id,
                attempts=row.attempts or 0,
                complaint_id=row.complaint_id,
                link_role=row.link_role,
                progress=list(row.result_message_ids or []),
            )
            if row.kind == KIND_TWILIO_DELETE:
                job.delete_sid = str((row.payload or {}).get("sid") or "")
                return job, None if job.delete_sid else _Outcome("failed", error="no sid to delete")
            try:
                message = OutMessage.from_dict(row.payload)
            except (KeyError, TypeError, ValueError) as exc:
                return job, _Outcome("failed", error=f"malformed payload: {exc!r}")
            if message.takes_buttons_off:
                # a numbered list cannot be taken back: nothing to send (a content edit, by contrast,
                # is rendered below as a new message: WhatsApp cannot change a sent one)
                return job, _Outcome("sent")
            citizen = await uow.citizens.by_channel(CHANNEL, row.chat_id)
            language = citizen.language if citizen else self.rt.ctx.catalog.default_language
            last = citizen.last_inbound_at if citizen else None
            # the answer to an erasure: the citizen just wrote (their row no longer knows the chat)
            in_window = row.link_role == ERASED_ROLE or (last is not None and now - as_utc(last) < WINDOW - WINDOW_MARGIN)
            if not in_window:
                template = await self._status_template(uow, job, language)
                if template is None:
                    return job, _Outcome(
                        "failed",
                        error="outside WhatsApp's 24-hour window and no approved template for this message",
                        reason=REASON_WINDOW,
                    )
                job.template = template
                return job, None
            if message.photos:
                message = await self._attach_photos(uow, job, message, language)
            menu = _menu_name(message)
            menu_template = self.config.menu_templates.get(menu) if menu else None
            # the hints under a menu and a location request are WhatsApp words: its catalog overlay
            rendered = render_whatsapp(message, language=language, ctx=self.rt.ctx_for(CHANNEL))
            if menu_template is not None and (sid := menu_template.sid_for(language)):
                # the text as free-form parts, then the quick-reply template with a short prompt: template
                # variables cannot hold our multi-line texts (no newlines, at most 1024 characters)
                job.parts = list(split_bodies(rendered.text_without_menu)) if rendered.text_without_menu else []
                job.template = _Template(sid, {"1": self.rt.ctx_for(CHANNEL).t(language, "whatsapp.template_prompt")})
            else:
                job.parts = list(rendered.bodies)
            return job, None

    async def _attach_photos(self, uow: UnitOfWork, job: _Job, message: OutMessage, language: str) -> OutMessage:
        """Signed links to the message's stored photos go in ``job.media_urls``. Without a public URL Twilio
        cannot fetch anything: the text then says honestly that a photo came with it (logged once)."""
        links = self.media_links
        if links is not None and links.public_url:
            for photo in message.photos:
                stored = await uow.media.get(photo.sha256)
                if stored is None or not await self.rt.media.exists(stored.path):
                    log.warning("photo %s of whatsapp outbox row %s is not stored; sent without it",
                                photo.sha256[:12], job.row_id)
                    continue
                url = links.url(photo.sha256, stored.mime_type)
                if url is not None:
                    job.media_urls.append(url)
            return message
        if not self._warned_no_media_url:
            self._warned_no_media_url = True
            log.warning("SIKESAL_PUBLIC_URL is not set: photos to WhatsApp citizens are replaced by a note"
                        " (Twilio needs a public URL to fetch them from)")
        note = self.rt.ctx_for(CHANNEL).t(language, "relay.photo_not_shown")
        return dataclasses.replace(message, text=f"{message.text}\n\n{note}" if message.text else note)

    async def _status_template(self, uow: UnitOfWork, job: _Job, language: str) -> _Template | None:
        """The approved status template, filled for this row's complaint (only status notifications use it),
        or the resolution question's (:meth:`_resolution_template`) or the overdue notice's
        (:meth:`_overdue_template`)."""
        if job.link_role == RESOLUTION_ROLE:
            return await self._resolution_template(uow, job, language)
        if job.link_role == OVERDUE_ROLE:
            return await self._overdue_template(uow, job, language)
        config: TemplateConfig | None = self.config.status_template
        if config is None or job.complaint_id is None or job.link_role not in TEMPLATE_ROLES:
            return None
        sid = config.sid_for(language)
        complaint = await uow.complaints.get(job.complaint_id)
        if sid is None or complaint is None:
            return None
        ctx = self.rt.ctx_for(CHANNEL)
        return _Template(
            sid,
            {
                "1": complaint.number,
                "2": status_label(complaint.status, language, ctx),
                "3": agency_display(complaint.agency, language, ctx),
            },
        )

    async def _overdue_template(self, uow: UnitOfWork, job: _Job, language: str) -> _Template | None:
        """"Your complaint is overdue; the agency was reminded" outside the window: ``whatsapp.overdue_template``
        with {{1}} the tracking number and {{2}} the agency. Without one the notice is not sent (the card says
        so) and the citizen gets the current status when they next write."""
        config: TemplateConfig | None = self.config.overdue_template
        complaint = await uow.complaints.get(job.complaint_id) if job.complaint_id is not None else None
        sid = config.sid_for(language) if config is not None else None
        if sid is None or complaint is None:
            return None
        ctx = self.rt.ctx_for(CHANNEL)
        return _Template(sid, {"1": complaint.number, "2": agency_display(complaint.agency, language, ctx)})

    async def _resolution_template(self, uow: UnitOfWork, job: _Job, language: str) -> _Template | None:
        """"Apakah masalahnya sudah beres?" outside the window: ``whatsapp.resolution_template`` with {{1}} the
        tracking number and {{2}} the agency; its Quick Reply ids (``fu:yes:{{1}}``, ``fu:no:{{1}}``) come back
        as the button payloads the follow-up understands. Only the question itself, not its later steps."""
        config: TemplateConfig | None = self.config.resolution_template
        complaint = await uow.complaints.get(job.complaint_id) if job.complaint_id is not None else None
        sid = config.sid_for(language) if config is not None else None
        if sid is None or complaint is None or complaint.confirmation != "asked":
            return None
        ctx = self.rt.ctx_for(CHANNEL)
        return _Template(sid, {"1": complaint.number, "2": agency_display(complaint.agency, language, ctx)})

    async def _throttled_create(self, job: _Job, **params: object) -> object:
        while True:
            async with self._sem:
                wait = self.limiter.acquire(job.chat_id, time.monotonic())
                if wait <= 0:
                    if self.status_callback:
                        params["status_callback"] = self.status_callback
                    return await self.client.messages.create_async(
                        to=f"whatsapp:{job.chat_id}", from_=self.twilio.whatsapp_from, **params  # type: ignore[arg-type]
                    )
            await self._sleep(wait)

    async def _delete(self, sid: str) -> _Outcome:
        """Delete one message at Twilio (its body and media): 204, or 404 when it is gone already. A message
        still being sent cannot be deleted yet: that and every transient error is retried later."""
        try:
            async with self._sem:
                await self.client.messages(sid).delete_async()
            return _Outcome("sent")
        except TwilioRestException as exc:
            if int(exc.status) == 404:
                return _Outcome("sent")
            outcome = self._classify(exc)
            return _Outcome("retry", error=outcome.error) if int(exc.status) in (400, 409) else outcome
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return _Outcome("retry", error=f"{type(exc).__name__}: {exc}")

    async def _attempt(self, job: _Job) -> _Outcome:
        if job.delete_sid:
            return await self._delete(job.delete_sid)
        ids = list(job.progress)
        statuses: list[str] = []
        try:
            # text parts first, then the template (a menu's quick replies, or a status notice)
            steps = _with_media([{"body": body} for body in job.parts], job.media_urls)
            if job.template is not None:
                steps.append({
                    "content_sid": job.template.content_sid,
                    "content_variables": json.dumps(job.template.variables, ensure_ascii=False),
                })
            for index, params in enumerate(steps):
                if index < len(job.progress):
                    continue  # delivered by an earlier attempt
                message = await self._throttled_create(job, **params)
                ids.append(str(message.sid))  # type: ignore[attr-defined]
                statuses.append(str(message.status))  # type: ignore[attr-defined]
                if index + 1 < len(steps):
                    await self._save_progress(job.row_id, ids)
            return _Outcome("sent", message_ids=ids, statuses=statuses)
        except (TwilioRestException, TwilioServiceException) as exc:
            return self._classify(exc)
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return _Outcome("retry", error=f"{type(exc).__name__}: {exc}")
        except Stopped:
            raise
        except Exception as exc:  # the per-row safety net: one bad row must not stop delivery
            log.exception("unexpected error delivering whatsapp outbox row %s", job.row_id)
            return _Outcome("retry", error=f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _classify(exc: TwilioRestException | TwilioServiceException) -> _Outcome:
        code = int(exc.code) if exc.code is not None else None
        status = int(exc.status)
        text = exc.msg if isinstance(exc, TwilioRestException) else (exc.detail or exc.title)
        detail = f"Twilio {code or status}: {text}"
        if status == 429 or status >= 500 or code in RETRYABLE_CODES:
            return _Outcome("retry", error=detail)
        if status in (401, 403) and code not in BLOCKED_CODES:
            log.error("twilio refused our credentials: %s", detail)  # configuration trouble: retry slowly
            return _Outcome("retry", error=detail)
        return _Outcome("failed", error=detail, reason=failure_reason(code), blocked=code in BLOCKED_CODES)

    async def _save_progress(self, row_id: int, ids: list[str]) -> None:
        async with self._db_sem, self.rt.sessionmaker() as session, session.begin():
            row = await session.get(OutboxMessage, row_id)
            if row is not None and row.status == PENDING:
                OutboxRepo(session).save_progress(row, ids)

    async def _record_sent_parts(
        self, uow: UnitOfWork, row: OutboxMessage, sids: list[str], statuses: dict[str, str], now: datetime
    ) -> None:
        """Receipts for every SID Twilio accepted, and links so a swipe-reply finds its complaint."""
        for sid in sids:
            change = await uow.receipts.record(
                CHANNEL, sid, now=now, status=statuses.get(sid, "queued"), outbox_id=row.id,
                complaint_id=row.complaint_id, chat_id=row.chat_id,
            )
            # a "failed" callback that overtook this record could not know the complaint then
            if change.linked and change.status in FAILED_STATUSES and row.complaint_id is not None \
                    and row.link_role in WATCHED_ROLES:
                reason = failure_reason(change.error_code)
                await note_notice_outcome(self.rt, uow, row.complaint_id, reason, recipient=(CHANNEL, row.chat_id))
            if row.complaint_id is not None and row.link_role:
                await uow.links.add(CHANNEL, row.chat_id, sid, row.complaint_id, row.link_role)

    async def _record(self, job: _Job, outcome: _Outcome) -> None:
        """Apply the outcome to the row (and receipts, links, the complaint's card) in one transaction."""
        now = self.clock()
        async with self._db_sem, UnitOfWork(self.rt.sessionmaker) as uow:
            repo = uow.outbox
            row = await uow.session.get(OutboxMessage, job.row_id)
            if row is None or row.status != PENDING:
                return
            action = outcome.action
            if action == "retry" and self._exhausted(row):
                action, outcome.error = "failed", f"gave up after {(row.attempts or 0) + 1} attempts: {outcome.error}"
            if action == "sent":
                repo.mark_sent(row, outcome.message_ids, now=now)
                if job.link_role == ERASED_ROLE:  # the answer to an erasure goes from Twilio too, later
                    for sid in outcome.message_ids:
                        await repo.enqueue_job(CHANNEL, f"{TWILIO_DELETE_CHAT}{sid}", KIND_TWILIO_DELETE, {"sid": sid},
                                               now=now)
                fresh = outcome.message_ids[len(outcome.message_ids) - len(outcome.statuses):]
                await self._record_sent_parts(
                    uow, row, outcome.message_ids, dict(zip(fresh, outcome.statuses, strict=False)), now
                )
                self.processed += 1
                if job.delete_sid:  # a job, not a message: not counted as one sent
                    log.info("whatsapp outbox row %s: message deleted at Twilio", row.id)
                else:
                    self.sent += 1
                    self._count("sent")
                    log.info("delivered whatsapp outbox row %s (%s)", row.id, ",".join(outcome.message_ids))
            elif action == "failed":
                # parts of a long message that did go out still get receipts and reply links
                await self._record_sent_parts(uow, row, list(row.result_message_ids or []), {}, now)
                repo.mark_failed(row, error=outcome.error, now=now)
                self.failed += 1
                self.processed += 1
                self._count("failed")
                if outcome.blocked:
                    await uow.citizens.set_blocked(CHANNEL, row.chat_id, True)
                if row.complaint_id is not None and row.link_role in WATCHED_ROLES:
                    reason = outcome.reason or "unknown"
                    await note_notice_outcome(self.rt, uow, row.complaint_id, reason, recipient=(CHANNEL, row.chat_id))
                log.warning("whatsapp outbox row %s failed for good: %s", row.id, outcome.error)
            else:
                delay = outcome.delay if outcome.delay is not None else self._backoff(row.attempts or 0)
                repo.mark_retry(row, error=outcome.error, delay=delay, now=now)
                self._count("flood" if outcome.delay is not None else "retry")
                log.warning("whatsapp outbox row %s: retry in %.1fs: %s", row.id, delay, outcome.error)
            await uow.commit()
        self.rt.on_enqueued()
