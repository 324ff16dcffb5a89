"""The street of a citizen's pin, found in the background: the geocoder never adds latency to an answer
(issue 14).

The answer to a pin says at once what the city's own boundaries say (kelurahan, kecamatan:
:func:`bot.services.places.describe_pin`). The same transaction plans a ``street`` timer
(:func:`plan`): durable, so a restart loses no lookup. The scheduler hands due ``street`` timers to
:class:`StreetLookups` (only the scheduler's leader does, so with several processes one of them asks
Nominatim), which looks the street up outside any transaction and then, in one short transaction:

* puts the street on the **draft** (``Draft.place``), so every later summary and the complaint carry it;
* on **Telegram**, edits the summary the citizen sees, if it is still the last message of the chat and
  still shows the boundary-only place (a summary not delivered yet is waited for: the timer is moved
  one second on, at most :data:`SUMMARY_WAITS` times). WhatsApp messages cannot be edited: there the
  street reaches only the complaint, its card and ``/status``;
* when the citizen already pressed *Kirim*, puts it on the **complaint** and edits its **card** through the
  outbox's merged card edits (:meth:`storage.outbox.OutboxRepo.enqueue_card_edit`); a card still waiting
  to be posted is rendered as the complaint is when it goes out.

Nothing here sends: edits are outbox rows like every message. Under load lookups are **skipped, never
queued**: at most :data:`CAPACITY` lookups wait or run in a process; more, a geocoder resting after
failures (:meth:`routing.geocode.Geocoder.resting`), or a timer older than :data:`MAX_AGE`, and the timer
is dropped with the boundary-based place kept (counted in :attr:`StreetLookups.counts` and the
``sikesal_timers_fired{kind="street"}`` metric). Requests keep Nominatim's pace (one a second): the worker
waits for a free slot itself rather than reserving ones ahead, so a citizen's typed-address search
(:func:`bot.services.places.find_address`) is never pushed back by background lookups.

A timer is deleted once handled (not kept as history): its subject holds the pin's coordinates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bot.services.places import clip_name, place_line
from handlers.events import Incoming, Location
from handlers.messages import EDIT_CONTENT, EditTarget, OutMessage
from handlers.state import Conversation, Step
from handlers.views import esc
from routing.geocode import Address
from storage.models import Citizen, Complaint, ConversationRow, OutboxMessage, Timer
from storage.outbox import PENDING, SENT, as_utc
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from bot.ops.metrics import Metrics
    from bot.services.runtime import Runtime

log = logging.getLogger("sikesal.streets")

#: the timer kind (``timers.kind``)
KIND = "street"
SUBJECT_PREFIX = "pin:"
#: lookups waiting or running in one process; a pin beyond it keeps its boundary-based place
CAPACITY = 4
#: a lookup planned longer ago than this (a process that was down) is dropped
MAX_AGE = timedelta(hours=1)
#: how often (one second apart) a street waits for the summary it edits to be delivered
SUMMARY_WAITS = 10
SUMMARY_WAIT = timedelta(seconds=1)
#: coordinates in the subject have six decimals (about 11 cm)
_EPSILON = 2e-6

# outcomes (counts, metrics)
EDITED = "edited"  # the Telegram summary was edited
DRAFT = "draft"  # on the draft only (WhatsApp, or the summary is no longer the last message)
CARD = "card"  # on the complaint, and its card edited
SKIPPED = "skipped"  # no capacity, or the geocoder resting
STALE = "stale"  # too old
NO_STREET = "no_street"  # the geocoder had no street there, or failed
GONE = "gone"  # the pin is no longer the draft's nor a complaint's (changed, cancelled), or taken elsewhere
WAITING = "waiting"  # the summary is not delivered yet: tried again in a second


class DueStreet(Protocol):
    """What the scheduler hands over of a due timer (``bot.services.scheduler.DueTimer``)."""

    @property
    def id(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def outcome(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Job:
    timer_id: int
    citizen_id: int
    latitude: float
    longitude: float
    waits: int


def subject_for(citizen_id: int, latitude: float, longitude: float) -> str:
    """``pin:<citizen id>:<lat>,<lon>``: the job carries the pin (the draft may have changed by then)."""
    return f"{SUBJECT_PREFIX}{citizen_id}:{latitude:.6f},{longitude:.6f}"


def parse_subject(subject: str) -> tuple[int, float, float] | None:
    try:
        citizen, pin = subject.removeprefix(SUBJECT_PREFIX).split(":", 1)
        lat, lon = pin.split(",", 1)
        return int(citizen), float(lat), float(lon)
    except ValueError:
        return None


def _waits(outcome: str | None) -> int:
    """How often the job already waited for its summary (``waiting:<n>`` in ``timers.outcome``)."""
    if outcome and outcome.startswith(WAITING + ":"):
        with contextlib.suppress(ValueError):
            return int(outcome.split(":", 1)[1])
    return 0


async def plan(
    rt: Runtime, uow: UnitOfWork, citizen: Citizen, row: ConversationRow, incoming: Incoming,
    conversation: Conversation, now: datetime,
) -> bool:
    """In the citizen's transaction: a pin inside the city that the draft now holds gets a street lookup,
    due at once. ``round`` is the conversation's version, so each pin is its own job while a retried
    transaction plans it once."""
    event = incoming.event
    if rt.geocoder is None or not isinstance(event, Location) or event.place is None or not event.place.inside:
        return False
    draft = conversation.draft
    if draft.latitude is None or draft.longitude is None:
        return False
    if abs(draft.latitude - event.latitude) > _EPSILON or abs(draft.longitude - event.longitude) > _EPSILON:
        return False  # refused, or not stored
    subject = subject_for(citizen.id, draft.latitude, draft.longitude)
    return await uow.timers.plan(KIND, subject, now, round=int(row.version or 0), now=now)


class StreetLookups:
    """The bounded background worker (one per scheduler). :meth:`offer` never waits for the geocoder."""

    def __init__(self, rt: Runtime, *, capacity: int = CAPACITY) -> None:
        self.rt = rt
        self.capacity = capacity
        self._queue: asyncio.Queue[Job] = asyncio.Queue()
        #: timers waiting or running here (the scheduler offers a still-due timer again each tick)
        self._taken: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        #: outcomes since start (tests, the operator); ``skipped`` is what load or an outage cost
        self.counts: Counter[str] = Counter()
        self.metrics: Metrics | None = None

    # ------------------------------------------------------------------ the scheduler's side

    async def offer(self, timers: Sequence[DueStreet]) -> None:
        """Take what fits; drop the rest at once (one short transaction), never queue it."""
        dropped: list[int] = []
        geocoder = self.rt.geocoder
        for timer in timers:
            if timer.id in self._taken:
                continue
            parsed = parse_subject(timer.subject)
            if parsed is None or geocoder is None or geocoder.resting() or len(self._taken) >= self.capacity:
                dropped.append(timer.id)
                continue
            self._taken.add(timer.id)
            self._queue.put_nowait(Job(timer.id, *parsed, waits=_waits(timer.outcome)))
        if dropped:
            async with UnitOfWork(self.rt.sessionmaker) as uow:
                done = await uow.timers.delete_unfired(dropped)
                await uow.commit()
            self._count(SKIPPED, done)
            log.info("street lookups: %d skipped (busy or geocoder resting), %d waiting", done, len(self._taken))
        if self._taken and (self._task is None or self._task.done()):
            self._task = asyncio.create_task(self._run(), name="street-lookups")

    @property
    def busy(self) -> int:
        """Lookups waiting or running here now."""
        return len(self._taken)

    async def stop(self) -> None:
        """Stop the worker; an unfinished lookup's timer stays due for the next start."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._taken.clear()
        self._queue = asyncio.Queue()

    # ------------------------------------------------------------------ the worker

    async def _run(self) -> None:
        while True:
            job = await self._queue.get()
            try:
                self._count(await self._process(job))
            except SQLAlchemyError:  # the timer stays due: the next tick offers it again
                log.warning("street lookup for timer %s failed on the database; tried again", job.timer_id,
                            exc_info=True)
            except Exception:  # a bug or bad data: given up, the boundary-based place stays
                log.exception("street lookup for timer %s failed; given up", job.timer_id)
                await self._finish(job)
                self._count("error")
            finally:
                self._taken.discard(job.timer_id)

    async def _process(self, job: Job) -> str:
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            timer = await uow.session.get(Timer, job.timer_id)
            created_at = as_utc(timer.created_at) if timer is not None and timer.fired_at is None else None
        if created_at is None:
            return ""  # handled meanwhile (a tick that read it before): not counted again
        if self.rt.clock() - created_at > MAX_AGE:
            return await self._finish(job, STALE)
        address = await self._lookup(job)
        if address is None:
            return await self._finish(job, NO_STREET)
        return await self._apply(job, created_at, address)

    async def _lookup(self, job: Job) -> Address | None:
        """The address at the pin, outside any transaction, at Nominatim's pace; None: no street."""
        geocoder = self.rt.geocoder
        if geocoder is None:
            return None
        hit, address = geocoder.cached_reverse(job.latitude, job.longitude)
        if not hit:
            if geocoder.resting():
                return None
            await asyncio.sleep(geocoder.seconds_until_free())  # wait here: a typed search may go first
            address = await geocoder.reverse(job.latitude, job.longitude, max_wait=0.0)
        return address if address is not None and address.street else None

    async def _finish(self, job: Job, outcome: str = GONE) -> str:
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            await uow.timers.delete_unfired([job.timer_id])
            await uow.commit()
        return outcome

    async def _apply(self, job: Job, created_at: datetime, address: Address) -> str:
        """One short transaction: the draft (and the Telegram summary) or the complaint (and its card)."""
        now = self.rt.clock()
        async with UnitOfWork(self.rt.sessionmaker) as uow:
            citizen = await uow.citizens.get(job.citizen_id)
            if citizen is None or citizen.erased_at is not None:
                outcome = GONE
            else:
                outcome = await self._on_draft(uow, citizen, job, created_at, address, now)
                if outcome == GONE:
                    outcome = await self._on_complaint(uow, citizen, job, created_at, address)
            if outcome == WAITING:
                await uow.timers.defer(job.timer_id, now + SUMMARY_WAIT, outcome=f"{WAITING}:{job.waits + 1}")
                await uow.commit()
                return WAITING
            if not await uow.timers.delete_unfired([job.timer_id]):
                await uow.rollback()
                return GONE  # handled by another process meanwhile
            await uow.commit()
        if outcome in (EDITED, CARD):
            self.rt.on_enqueued()
        return outcome

    async def _on_draft(
        self, uow: UnitOfWork, citizen: Citizen, job: Job, created_at: datetime, address: Address, now: datetime,
    ) -> str:
        row = await uow.session.get(ConversationRow, citizen.id)
        if row is None or not row.state:
            return GONE
        conversation = Conversation.from_dict(row.state)
        draft = conversation.draft
        if not _same_pin(draft.latitude, draft.longitude, job):
            return GONE
        plain = place_line(None, draft.kelurahan, draft.kecamatan)
        if draft.place != plain:
            return DRAFT  # a typed address's match, or the street is already there
        kelurahan = draft.kelurahan or clip_name(address.kelurahan)
        street = place_line(address.street, kelurahan, draft.kecamatan)
        edit = None
        if citizen.channel == "telegram" and conversation.step == Step.SUMMARY and plain:
            edit = await self._summary_edit(uow, citizen, conversation.language, plain, street or plain, created_at)
            if edit == WAITING:
                if job.waits < SUMMARY_WAITS:
                    return WAITING
                edit = None  # waited long enough: the street goes on the draft only
        draft.kelurahan, draft.place = kelurahan, street
        await uow.conversations.save(row, conversation.to_dict(), conversation.step.value, now=now)
        if isinstance(edit, OutMessage):
            await uow.outbox.enqueue(citizen.channel, citizen.channel_user_id, edit, now=now)
            return EDITED
        return DRAFT

    async def _summary_edit(
        self, uow: UnitOfWork, citizen: Citizen, language: str, plain: str, street: str, created_at: datetime,
    ) -> OutMessage | str | None:
        """The edit that puts the street into the summary the citizen sees: only when the last message of
        the chat is that summary (a later message means the citizen moved on; editing above it would
        undo what came after). ``WAITING``: not delivered yet. None: nothing to edit."""
        latest = (await uow.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.channel == citizen.channel, OutboxMessage.chat_id == citizen.channel_user_id,
                   OutboxMessage.created_at >= created_at)
            .order_by(OutboxMessage.id.desc()).limit(1)
        )).first()
        if latest is None or not latest.payload:
            return None
        ctx = self.rt.ctx_for(citizen.channel)
        old_line = ctx.t(language, "summary.place", place=esc(plain))
        new_line = ctx.t(language, "summary.place", place=esc(street))
        try:
            shown = OutMessage.from_dict(latest.payload)
        except (KeyError, TypeError, ValueError):
            return None
        if old_line not in shown.text or not shown.buttons:
            return None
        if latest.status == PENDING:
            return WAITING
        if latest.status != SENT:
            return None
        if shown.edit is not None:
            message_id = shown.edit.message_id
        elif latest.result_message_ids:
            message_id = str(latest.result_message_ids[-1])
        else:
            return None
        return OutMessage(shown.text.replace(old_line, new_line, 1), buttons=shown.buttons,
                          edit=EditTarget(message_id, EDIT_CONTENT))

    async def _on_complaint(
        self, uow: UnitOfWork, citizen: Citizen, job: Job, created_at: datetime, address: Address,
    ) -> str:
        """The citizen sent before the street came: it goes on their complaint and its card."""
        found = (await uow.session.scalars(
            select(Complaint.id)
            .where(Complaint.citizen_id == citizen.id, Complaint.created_at >= created_at,
                   Complaint.latitude.between(job.latitude - _EPSILON, job.latitude + _EPSILON),
                   Complaint.longitude.between(job.longitude - _EPSILON, job.longitude + _EPSILON))
            .order_by(Complaint.id.desc()).limit(1)
        )).first()
        complaint = await uow.complaints.get_for_update(found) if found is not None else None
        if complaint is None or complaint.address != place_line(None, complaint.kelurahan, complaint.kecamatan):
            return GONE  # followed another complaint, or a typed address
        kelurahan = complaint.kelurahan or clip_name(address.kelurahan)
        complaint.kelurahan = kelurahan
        complaint.address = place_line(address.street, kelurahan, complaint.kecamatan)
        from bot.services.complaints import build_view, refresh_card  # the card's renderer, when needed

        await refresh_card(self.rt, uow, complaint, await build_view(uow, complaint))
        return CARD

    def _count(self, outcome: str, n: int = 1) -> None:
        if n <= 0 or not outcome:
            return
        self.counts[outcome] += n
        if self.metrics is not None:
            self.metrics.timers_fired.labels(KIND, outcome).inc(n)


def _same_pin(latitude: float | None, longitude: float | None, job: Job) -> bool:
    return (latitude is not None and longitude is not None
            and abs(latitude - job.latitude) <= _EPSILON and abs(longitude - job.longitude) <= _EPSILON)


__all__ = ["CAPACITY", "KIND", "StreetLookups", "parse_subject", "plan", "subject_for"]
