"""Floods in an agency group: the digests of complaints whose cards wait, and the cards brought up on demand.

The decision and the drawing are pure (:mod:`handlers.group_flood`); this module reads the group's state,
calls them and queues what they say, in one short transaction each:

* :func:`refresh_group` runs in the Telegram sender (its hook, :mod:`bot.delivery.group_flood`) before a
  group's next row goes out: it posts, grows or edits the group's digests, renders every queued digest from
  the state *now* (so several changes cost one message), and names the rows that go ahead of the regular
  cards (digests, cards brought up on demand, edits of delivered cards, answers to staff).
* :func:`handle_digest_button` is a digest button (``gf:<complaint id>``) pressed by a member of the group.
* :func:`bring_forward` is used by ``/cari`` for a card that is still queued.

**One active card per complaint.** A card brought up on demand is the complaint's queued card itself: its
outbox row is marked :data:`CARD_NOW_ROLE` and goes out next, ahead of the regular cards. Nothing is
created, so nothing can be sent twice: a double tap, a tap while that row is already on its way, or a tap
after it arrived, all end in the one card. (Creating a second card and dropping the queued row would race
with a sender already waiting for the group's limit with that row in hand.)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from bot.delivery.ratelimit import RateLimits
from bot.services.complaints import GROUP_CHANNEL
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor
from handlers import cards
from handlers import group_flood as core
from handlers.messages import EDIT_BUTTONS, Alert, EditTarget, OutMessage
from handlers.staff_tools import message_link
from handlers.views import esc
from storage.models import Card, Complaint, GroupDigest, OutboxMessage
from storage.outbox import KIND_EDIT_CARD, KIND_SEND, PENDING, SENT, SUPERSEDED, as_utc
from storage.retry import retry_transient
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = logging.getLogger("sikesal.group_flood")

#: ``link_role`` of a regular card's first send (:meth:`storage.outbox.OutboxRepo.enqueue_card`)
CARD_ROLE = "card"
#: ``link_role`` of a card's send that goes ahead of the regular cards: brought up from a digest, or by /cari
CARD_NOW_ROLE = "card_now"
#: ``link_role`` of a digest's send and of its edits
DIGEST_ROLE = "digest"
DIGEST_EDIT_ROLE = "digest_edit"
#: ``link_role`` of a digest's closing edit: queued behind the cards it lists, never sent ahead of them
DIGEST_END_ROLE = "digest_end"
#: what counts against the digests' share of the group's window (a closing edit replaces a progress edit)
DIGEST_ROLES = (DIGEST_ROLE, DIGEST_EDIT_ROLE)
#: rows sent ahead of the regular cards per look (the next look comes before the next row)
JUMP_LIMIT = 10


@dataclass(frozen=True, slots=True)
class GroupStep:
    """What the sender does before a group's next row: these rows first, and re-read its head row when
    ``reload`` (its face changed: a digest rendered now)."""

    ahead: tuple[int, ...] = ()
    reload: bool = False


def _int_chat(chat_id: str) -> int | None:
    try:
        return int(chat_id)
    except ValueError:
        return None


def _regular_cards(chat_id: str) -> Any:
    return select(func.count()).select_from(OutboxMessage).where(
        OutboxMessage.chat_id == chat_id, OutboxMessage.status == PENDING, OutboxMessage.kind == KIND_SEND,
        OutboxMessage.link_role == CARD_ROLE, OutboxMessage.card_id.is_not(None),
    ).scalar_subquery()


def _open_digests(chat_id: str) -> Any:
    return select(func.count()).select_from(GroupDigest).where(
        GroupDigest.chat_id == chat_id, GroupDigest.closed.is_(False)
    ).scalar_subquery()


@retry_transient()
async def refresh_group(rt: Runtime, limits: RateLimits, chat_id: str, head_id: int) -> GroupStep:
    """Before the group's head row ``head_id`` goes out: keep its digests true and say what goes first.
    A group with no flood and no digest costs one read-only query."""
    per_window = max(1, int(limits.group_per_minute))
    async with rt.sessionmaker() as session:
        regular, open_digests = (await session.execute(select(_regular_cards(chat_id), _open_digests(chat_id)))).one()
    if not open_digests and not core.flooded(int(regular or 0), per_window):
        return GroupStep()
    now = rt.clock()
    async with UnitOfWork(rt.sessionmaker) as uow:
        session = uow.session
        regular = int(await session.scalar(select(_regular_cards(chat_id))) or 0)
        digests = list((await session.scalars(
            select(GroupDigest).where(GroupDigest.chat_id == chat_id, GroupDigest.closed.is_(False))
            .order_by(GroupDigest.id)
        )).all())
        waiting = await _waiting(session, chat_id)
        budget = core.Budget(per_window, limits.group_window, await _digest_actions(session, chat_id, now, limits))
        states = [await _state(session, d) for d in digests]
        decision = core.plan(waiting, states, budget, now, regular_waiting=regular)
        reload = await _apply(rt, uow, chat_id, decision, digests, waiting, per_window, now, head_id)
        ahead = await _ahead(session, chat_id, head_id, now)
        await uow.commit()
    return GroupStep(ahead=ahead, reload=reload)


async def _waiting(session: AsyncSession, chat_id: str) -> list[core.Waiting]:
    """The complaints whose card is still queued for the group, in the order the cards go out."""
    rows = await session.execute(
        select(Complaint.id, Complaint.number, Complaint.category, Complaint.kecamatan, Complaint.created_at)
        .join(OutboxMessage, OutboxMessage.complaint_id == Complaint.id)
        .where(
            OutboxMessage.chat_id == chat_id, OutboxMessage.status == PENDING, OutboxMessage.kind == KIND_SEND,
            OutboxMessage.card_id.is_not(None), OutboxMessage.link_role.in_((CARD_ROLE, CARD_NOW_ROLE)),
        )
        .order_by(OutboxMessage.id)
    )
    seen: set[int] = set()
    out = []
    for cid, number, category, kecamatan, created_at in rows.all():
        if cid not in seen:
            seen.add(cid)
            out.append(core.Waiting(int(cid), number, category, kecamatan, as_utc(created_at)))
    return out


async def _digest_actions(session: AsyncSession, chat_id: str, now: datetime, limits: RateLimits) -> int:
    """Digest posts and edits queued for the group within the current window (superseded ones cost nothing)."""
    since = now - timedelta(seconds=limits.group_window + limits.margin)
    return int(await session.scalar(
        select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.chat_id == chat_id, OutboxMessage.link_role.in_(DIGEST_ROLES),
            OutboxMessage.created_at >= since, OutboxMessage.status != SUPERSEDED,
        )
    ) or 0)


async def _state(session: AsyncSession, digest: GroupDigest) -> core.Digest:
    send = await session.get(OutboxMessage, digest.outbox_id)
    return core.Digest(
        digest_id=digest.id, complaint_ids=tuple(digest.complaint_ids or ()),
        posted=send is not None and send.status == SENT,
        changed_at=as_utc(digest.changed_at), shown_done=frozenset(digest.shown_done or ()),
        shown_lines=digest.shown_lines or 0,
        edit_pending=await _pending(session, digest.edit_outbox_id) is not None,
        end_pending=await _pending(session, digest.end_outbox_id) is not None,
    )


async def _pending(session: AsyncSession, row_id: int | None) -> OutboxMessage | None:
    """The outbox row ``row_id`` if it is still queued."""
    row = await session.get(OutboxMessage, row_id) if row_id is not None else None
    return row if row is not None and row.status == PENDING else None


def _message_id(send: OutboxMessage | None) -> str | None:
    ids = (send.result_message_ids or []) if send is not None else []
    return str(ids[-1]) if ids else None


async def _lines(
    session: AsyncSession, chat_id: str, complaint_ids: Sequence[int], waiting: set[int]
) -> list[core.Line]:
    """The listed complaints as they are now: waiting, their card delivered in this group, or gone."""
    if not complaint_ids:
        return []
    found = {
        int(c.id): c for c in (await session.scalars(
            select(Complaint).where(Complaint.id.in_(list(complaint_ids)))
        )).all()
    }
    chat = _int_chat(chat_id)
    delivered: dict[int, int] = {}
    if chat is not None:
        for card in (await session.scalars(
            select(Card).where(Card.complaint_id.in_(list(complaint_ids)), Card.chat_id == chat,
                               Card.message_id.is_not(None)).order_by(Card.id)
        )).all():
            delivered[int(card.complaint_id)] = int(card.message_id or 0)
    lines = []
    for cid in complaint_ids:
        complaint = found.get(cid)
        if complaint is None:
            continue
        if cid in waiting:
            state, link = core.WAITING, None
        elif cid in delivered and complaint.status != "ditarik":
            state, link = core.DONE, message_link(chat, delivered[cid]) if chat is not None else None
        else:
            state, link = core.GONE, None
        lines.append(core.Line(cid, complaint.number, complaint.category, complaint.kecamatan,
                               as_utc(complaint.created_at), state, link))
    return lines


async def _render(
    rt: Runtime, session: AsyncSession, digest: GroupDigest, waiting: Sequence[core.Waiting], per_window: int,
    now: datetime, *, edit_of: str | None,
) -> tuple[OutMessage, list[core.Line]]:
    """The digest as it is now (and remember what it shows)."""
    waiting_ids = {w.complaint_id for w in waiting}
    lines = await _lines(session, digest.chat_id, list(digest.complaint_ids or ()), waiting_ids)
    digest.shown_done = [line.complaint_id for line in lines if line.state != core.WAITING]
    digest.shown_lines = len(lines)
    message = core.render_digest(lines, rt.ctx, now=now, waiting_total=len(waiting), per_window=per_window)
    if edit_of is not None:
        message = OutMessage(text=message.text, buttons=message.buttons, edit=EditTarget(edit_of))
    return message, lines


#: what a digest edit holds until it is rendered (right before it may go): should it ever go out as it is,
#: it asks Telegram to change the buttons of no message, which posts nothing
PLACEHOLDER = OutMessage(text="", edit=EditTarget("0", EDIT_BUTTONS))


async def _queue_edit(uow: UnitOfWork, chat_id: str, role: str, now: datetime) -> OutboxMessage:
    """A digest edit, due now; its face (and the message it edits) is filled in when it may go."""
    return await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, PLACEHOLDER, link_role=role, now=now)


def _supersede(row: OutboxMessage | None, why: str) -> None:
    if row is not None and row.status == PENDING:
        row.status, row.last_error = SUPERSEDED, why


async def _apply(
    rt: Runtime, uow: UnitOfWork, chat_id: str, decision: core.Plan, digests: list[GroupDigest],
    waiting: Sequence[core.Waiting], per_window: int, now: datetime, head_id: int,
) -> bool:
    """Queue what the plan says and render every digest row that may go now from the state now. True when
    the head row is one of them (the sender reads it again)."""
    session = uow.session
    by_id = {d.id: d for d in digests}
    for digest_id, added in decision.grow.items():
        digest = by_id[digest_id]
        digest.complaint_ids = [*(digest.complaint_ids or []), *added]
    for digest_id in decision.edits:
        digest = by_id[digest_id]
        digest.edit_outbox_id = (await _queue_edit(uow, chat_id, DIGEST_EDIT_ROLE, now)).id
        digest.changed_at = now
    for digest_id in decision.ends:
        by_id[digest_id].end_outbox_id = (await _queue_edit(uow, chat_id, DIGEST_END_ROLE, now)).id
    for listed in decision.new:
        row = await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, PLACEHOLDER, link_role=DIGEST_ROLE, now=now)
        closing = await _queue_edit(uow, chat_id, DIGEST_END_ROLE, now)
        digest = GroupDigest(chat_id=chat_id, outbox_id=row.id, complaint_ids=list(listed), shown_done=[],
                             shown_lines=0, end_outbox_id=closing.id, created_at=now, changed_at=now, closed=False)
        session.add(digest)
        digests.append(digest)
        log.info("group %s: a digest of %d complaints waiting for their card", chat_id, len(listed))
    await session.flush()
    reload = False
    waiting_ids = {w.complaint_id for w in waiting}
    for digest in digests:
        send = await session.get(OutboxMessage, digest.outbox_id)
        if send is not None and send.status == PENDING:
            send.payload = (await _render(rt, session, digest, waiting, per_window, now, edit_of=None))[0].to_dict()
            reload = reload or send.id == head_id
            continue
        target = _message_id(send)
        edit = await _pending(session, digest.edit_outbox_id)
        end = await _pending(session, digest.end_outbox_id)
        if end is not None and end.id == head_id:
            reload = True
            if any(cid in waiting_ids for cid in digest.complaint_ids or ()):
                # lines added after it was queued still wait: it goes behind their cards instead
                _supersede(end, "a closing edit queued again behind the digest's newer lines")
                digest.end_outbox_id = (await _queue_edit(uow, chat_id, DIGEST_END_ROLE, now)).id
                continue
            _supersede(edit, "merged into the digest's closing edit")
            edit = None
            if target is None:
                _supersede(end, "the digest never reached the group")
            else:
                end.payload = (await _render(rt, session, digest, waiting, per_window, now, edit_of=target))[0].to_dict()
            digest.closed = True
            continue
        if edit is not None and target is not None:
            edit.payload = (await _render(rt, session, digest, waiting, per_window, now, edit_of=target))[0].to_dict()
            reload = reload or edit.id == head_id
        elif edit is not None:
            _supersede(edit, "the digest never reached the group")
    return reload


async def _ahead(session: AsyncSession, chat_id: str, head_id: int, now: datetime) -> tuple[int, ...]:
    """The due rows of the group that go before its regular cards: digests, cards brought up on demand,
    edits of delivered cards, and anything that is not a card (answers to staff, prompts, relays) unless it
    replies to a card still queued. In queue order."""
    rows = (await session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.chat_id == chat_id, OutboxMessage.status == PENDING, OutboxMessage.id > head_id,
            OutboxMessage.next_attempt_at <= now,
        ).where((OutboxMessage.link_role.is_(None)) | OutboxMessage.link_role.not_in((CARD_ROLE, DIGEST_END_ROLE)))
        .order_by(OutboxMessage.id).limit(4 * JUMP_LIMIT)
    )).all()
    chat = _int_chat(chat_id)
    out: list[int] = []
    for row in rows:
        if len(out) >= JUMP_LIMIT:
            break
        if row.kind == KIND_EDIT_CARD:
            card = await session.get(Card, row.card_id) if row.card_id is not None else None
            if card is None or card.message_id is None:
                continue  # an edit of a card still queued waits for it in order
        elif row.kind != KIND_SEND:
            continue
        elif row.card_id is None:
            ref = (row.payload or {}).get("reply_to") or {}
            if isinstance(ref, dict) and ref.get("kind") == "card" and ref.get("complaint_id") is not None:
                card = (await session.scalars(
                    select(Card).where(Card.complaint_id == ref["complaint_id"], Card.chat_id == chat,
                                       Card.message_id.is_not(None)).limit(1)
                )).first() if chat is not None else None
                if card is None:
                    continue  # it answers under a card that is not out yet
        out.append(int(row.id))
    return tuple(out)


# --- the digest's button ----------------------------------------------------------------------------


def _alert(rt: Runtime, key: str, number: str, *, show_alert: bool = False) -> Alert:
    return Alert(rt.ctx.t("id", key, number=esc(number)), show_alert=show_alert)


async def promote(uow: UnitOfWork, card: Card, chat_id: int) -> str | None:
    """Send the queued card ``card`` next, ahead of the regular cards. Returns "coming" (done now),
    "already" (it is already on its way or delivered) or None (no queued send of it in this group)."""
    if card.message_id is not None:
        return "already"
    pending = await uow.outbox.pending_card_send(card.id)
    if pending is None or pending.chat_id != str(chat_id):
        return None
    if pending.link_role == CARD_NOW_ROLE:
        return "already"
    pending.link_role = CARD_NOW_ROLE
    return "coming"


@retry_transient()
async def handle_digest_button(
    rt: Runtime, *, chat_id: int, actor: StaffActor, payload: str, update_key: str | None
) -> object:
    """A digest's ``gf:<complaint id>`` pressed by a member of the group: bring that complaint's card up
    now. Idempotent: the queued card itself goes next, so a double tap still makes one card."""
    from bot.services.staff import StaffResult, check_owner  # bot.services.staff registers this module
    from bot.services.staff_core import refuse

    complaint_id = core.parse_card_payload(payload)
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return StaffResult(duplicate=True)
        complaint = await uow.complaints.get_for_update(complaint_id) if complaint_id is not None else None
        refusal = await check_owner(rt, uow, complaint, chat_id)
        if complaint is None or refusal is not None:
            refusal = refusal or cards.alert_not_found(rt.ctx)
            await refuse(rt, uow, complaint, actor, "digest_card", refusal.text, chat_id)
            await uow.commit()
            return StaffResult(alert=refusal)
        card = await uow.cards.active_for(complaint.id)
        assert card is not None  # check_owner found it in this group
        outcome = await promote(uow, card, chat_id)
        if outcome == "coming":
            log.info("card of %s brought up from a digest by %s in %s", complaint.number, actor.user_id, chat_id)
            alert = _alert(rt, "staff.flood.alert_coming", complaint.number)
        elif outcome == "already":
            alert = _alert(rt, "staff.flood.alert_already", complaint.number)
        else:
            alert = _alert(rt, "staff.flood.alert_not_waiting", complaint.number)
        await uow.commit()
    rt.on_enqueued()
    return StaffResult(alert=alert)


async def bring_forward(uow: UnitOfWork, card: Card | None, chat_id: int) -> bool:
    """``/cari`` of a complaint whose card is still queued in this group: that card goes next (it is the
    one card; a second would be sent too). False: the card is out (or elsewhere), ``/cari`` proceeds."""
    if card is None or not card.active or card.chat_id != chat_id or card.message_id is not None:
        return False
    return await promote(uow, card, chat_id) is not None


async def drop_queued_card(uow: UnitOfWork, card: Card) -> None:
    """A retired card's send that is still queued is dropped at once (never sent), so it neither goes out
    later nor counts as waiting in a digest."""
    _supersede(await uow.outbox.pending_card_send(card.id), "the complaint's card was posted again")


__all__ = [
    "CARD_NOW_ROLE",
    "DIGEST_EDIT_ROLE",
    "DIGEST_END_ROLE",
    "DIGEST_ROLE",
    "GroupStep",
    "bring_forward",
    "drop_queued_card",
    "handle_digest_button",
    "promote",
    "refresh_group",
]
