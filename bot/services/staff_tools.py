"""Group commands for agency staff: ``/antrian`` (the open complaints, oldest first, with their clocks),
``/terlambat`` (only those past their clock) and ``/cari <nomor>`` (bring a complaint's card back to the
bottom of the group: a fresh card with its buttons, and the old card edited to say where it went).

Who may use them: members of a linked agency group. A private chat, or a group that is not linked, gets a
short answer saying so (an unlinked group is told how to link). The command centre's group sees the whole
city with ``/antrian`` and ``/terlambat``, and may ``/cari`` any number: a complaint of another agency is
shown there as a view without buttons (the agency's own group keeps the working card), unless its card
stands in the command centre's group already (the agency's group could not be reached).

The old card's link to the fresh one needs the fresh card's message id, which Telegram gives only when it
is sent: the old card's edit is queued behind it in the same chat and rendered when it goes out
(:func:`render_edit_now`, the sender's ``render_edit`` hook; see :data:`storage.outbox.RENDER_AT_SEND`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot.services import group_flood
from bot.services.complaints import GROUP_CHANNEL, build_view, nearby_for_card
from bot.services.reroute import render_for
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor
from handlers import cards, staff_tools
from handlers.messages import OutMessage
from handlers.numbers import format_number, read_number
from handlers.views import esc, to_local, truncate
from storage.models import Complaint
from storage.outbox import RENDER_AT_SEND
from storage.reports import open_queue
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.staff_tools")

QUEUE = "antrian"
OVERDUE = "terlambat"
SEARCH = "cari"
#: the commands this module answers (the Telegram adapter routes them here, in any chat)
COMMANDS = (QUEUE, OVERDUE, SEARCH)


@retry_transient()
async def handle_group_command(
    rt: Runtime,
    *,
    chat_id: int,
    private: bool,
    actor: StaffActor,
    command: str,
    args: str,
    update_key: str | None,
    may_act: Callable[[], Awaitable[bool]],
) -> None:
    """Answer ``/antrian``, ``/terlambat`` or ``/cari`` in ``chat_id``. ``may_act`` asks whether the sender
    is a member of the group (it may ask Telegram: called outside any transaction, and only for a linked
    group)."""
    agency: str | None = None
    if not private:
        async with UnitOfWork(rt.sessionmaker) as uow:
            agency = await uow.agencies.agency_for_chat(chat_id)
    member = agency is not None and await may_act()
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return
        if private:
            answer: OutMessage | None = staff_tools.render_tool_text(rt.ctx, "tools.private_refused")
        elif agency is None:
            answer = staff_tools.render_tool_text(rt.ctx, "tools.not_linked")
        elif not member:
            log.warning("/%s from non-member %s in %s refused", command, actor.user_id, chat_id)
            answer = staff_tools.render_tool_text(rt.ctx, "tools.not_member")
        elif command == SEARCH:
            answer = await _search(rt, uow, chat_id, agency, args)
        else:
            answer = await _queue(rt, uow, chat_id, agency, overdue_only=command == OVERDUE)
        if answer is not None:
            await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, answer, now=rt.clock())
        await uow.commit()
    rt.on_enqueued()


def _is_command_centre(rt: Runtime, agency: str) -> bool:
    return agency == rt.config.command_centre


async def _queue(rt: Runtime, uow: UnitOfWork, chat_id: int, agency: str, *, overdue_only: bool) -> OutMessage:
    """The queue of the group's agency (the whole city in the command centre's group)."""
    now = rt.clock()
    scope = None if _is_command_centre(rt, agency) else agency
    rows, total = await open_queue(uow.session, agency=scope, chat_id=chat_id, overdue_at=now if overdue_only else None)
    items = [
        staff_tools.QueueItem(
            number=r.number, status=r.status, category=r.category, agency=r.agency, created_at=r.created_at,
            accept_due_at=r.accept_due_at, due_at=r.due_at,
            link=staff_tools.message_link(chat_id, r.card_message_id),
        )
        for r in rows
    ]
    return staff_tools.render_queue(items, total, rt.ctx, now=now, agency=scope, overdue_only=overdue_only)


async def find_typed(rt: Runtime, uow: UnitOfWork, typed: str) -> tuple[Complaint | None, OutMessage | None]:
    """The complaint staff mean by ``typed`` ("12", "#12", "JMB-2026-12", "jmb 2026 000012"), or the answer
    saying why it cannot be told. A bare number is this year's (city time); when only other years have it,
    staff are asked which one they mean."""
    prefix = rt.ctx.tracking_prefix
    year = to_local(rt.clock(), rt.ctx.timezone).year
    if not typed.strip():
        example = format_number(prefix, year, 12)
        return None, staff_tools.render_tool_text(rt.ctx, "tools.search_usage", example=esc(example))
    guess = read_number(typed, prefix=prefix)
    if guess is None or guess.sequence is None:
        shown = esc(truncate(" ".join(typed.split()), 40))
        return None, staff_tools.render_tool_text(rt.ctx, "tools.search_unreadable", typed=shown)
    number = guess.full or format_number(prefix, year, guess.sequence)
    found = await uow.complaints.by_number(number)
    if found is not None:
        return found, None
    others = [] if guess.full else await uow.complaints.by_sequence(prefix, guess.sequence)
    if others:
        candidates = " / ".join(f"<code>{esc(o.number)}</code>" for o in others)
        return None, staff_tools.render_tool_text(
            rt.ctx, "tools.search_ambiguous", number=esc(number), candidates=candidates
        )
    return None, staff_tools.render_tool_text(rt.ctx, "tools.search_unknown", number=esc(number))


async def _search(rt: Runtime, uow: UnitOfWork, chat_id: int, agency: str, typed: str) -> OutMessage | None:
    """``/cari``: the complaint's card at the bottom of the group (None: the fresh card is the answer)."""
    complaint, problem = await find_typed(rt, uow, typed)
    if complaint is None:
        return problem
    active = await uow.cards.active_for(complaint.id)
    if complaint.agency != agency and not (active is not None and active.chat_id == chat_id):
        if not _is_command_centre(rt, agency):
            return staff_tools.render_tool_text(rt.ctx, "tools.not_this_agency", number=esc(complaint.number))
        return staff_tools.render_snapshot(await build_view(uow, complaint), rt.ctx)
    await bring_down(rt, uow, complaint, chat_id)
    return None


async def bring_down(rt: Runtime, uow: UnitOfWork, complaint: Complaint, chat_id: int) -> None:
    """Post a fresh card of ``complaint`` in ``chat_id`` (it becomes the active card) and retire the old
    one: in the same group it says it moved down and links to the fresh card (rendered when sent, when
    the fresh card's message id is known); in another group it says where the complaint's card is now."""
    now = rt.clock()
    old = await uow.cards.active_for(complaint.id)
    if await group_flood.bring_forward(uow, old, chat_id):
        return  # its card is still queued here: that one goes next (one card per complaint)
    view = await nearby_for_card(rt, uow, complaint, await build_view(uow, complaint))
    new = await uow.cards.create(complaint.id, complaint.agency, chat_id, kind="photo" if view.photos else "text")
    if old is not None and old.chat_id == chat_id and old.reroute_reason:
        new.reroute_reason = old.reroute_reason  # still standing in for an unreachable agency group
    fresh = await uow.outbox.enqueue_card(new, render_for(rt, new, view), now=now)
    fresh.link_role = group_flood.CARD_NOW_ROLE  # asked for now: ahead of a flood's queued cards
    if old is None:
        return
    await uow.cards.deactivate(old)
    if old.message_id is None:  # never delivered: its queued send is dropped now, nothing to edit
        await group_flood.drop_queued_card(uow, old)
        return
    if old.chat_id == chat_id:
        row = await uow.outbox.enqueue_card_edit(old, staff_tools.render_moved_down(view, rt.ctx, link=None), now=now)
        row.link_role = RENDER_AT_SEND
    else:
        face = cards.render_card(view, rt.ctx, active=False, moved_to_agency=complaint.agency, relinked=True)
        await uow.outbox.enqueue_card_edit(old, face, now=now)


async def render_edit_now(rt: Runtime, card_id: int) -> OutMessage | None:
    """The face of a card ``/cari`` moved down, as it is sent: with a link to the fresh card of the same
    complaint in the same group (delivered just before it, so its message id is known), in a supergroup.
    None: nothing to change (the queued face stands)."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        card = await uow.cards.get(card_id)
        if card is None or card.active:
            return None
        complaint = await uow.complaints.get(card.complaint_id)
        if complaint is None:
            return None
        newer = [c for c in await uow.cards.for_complaint(complaint.id) if c.chat_id == card.chat_id and c.id > card.id]
        fresh = next((c for c in reversed(newer) if c.message_id is not None), None)
        link = staff_tools.message_link(card.chat_id, fresh.message_id if fresh is not None else None)
        return staff_tools.render_moved_down(await build_view(uow, complaint), rt.ctx, link=link)


__all__ = ["COMMANDS", "bring_down", "find_typed", "handle_group_command", "render_edit_now"]
