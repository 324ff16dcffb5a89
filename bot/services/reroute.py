"""A card must always reach an agency: rendering it when it is actually sent, and re-routing it to the
command centre when its agency's group cannot be reached.

* **Rendered at send time.** A card queued during a Telegram outage may go out hours later; by then the
  complaint may have been accepted or reassigned. The sender asks :func:`render_card_now` for the card
  as it should look now (None: the card was retired before it could be delivered, nothing to send).
* **Re-routed when the group is gone.** When Telegram refuses the group itself (the bot was removed,
  the group deleted, no right to write), :func:`group_unreachable` marks the link broken (``sikesal agency
  list`` shows it) and posts the card in the command centre's group (``routing.fallback_agency``) with
  the reason and buttons to reassign the complaint. Later cards for that agency go straight there (see
  :func:`bot.services.complaints.post_card`) until the group is linked again.
"""

from __future__ import annotations

import logging

from bot.services.complaints import build_view, nearby_for_card
from bot.services.runtime import Runtime
from handlers import cards, lifecycle
from handlers.messages import OutMessage
from handlers.views import ComplaintView
from storage.models import Card, Complaint
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.reroute")


def render_for(rt: Runtime, card: Card, view: ComplaintView) -> OutMessage:
    """The card's current face: a re-routed card explains itself and offers the agencies."""
    if card.reroute_reason:
        return cards.render_rerouted_card(view, rt.ctx, reason=card.reroute_reason)
    return cards.render_card(view, rt.ctx)


async def render_card_now(rt: Runtime, card_id: int) -> OutMessage | None:
    """The card as it should look now, for its first delivery; None if it was retired meanwhile."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        card = await uow.cards.get(card_id)
        if card is None or not card.active:
            return None
        complaint = await uow.complaints.get(card.complaint_id)
        if complaint is None:
            return None
        view = await nearby_for_card(rt, uow, complaint, await build_view(uow, complaint))
        return render_for(rt, card, view)


async def group_lost(rt: Runtime, uow: UnitOfWork, chat_id: int, reason: str) -> int:
    """The bot lost a linked group (removed from it, the group deleted): mark the link broken and move
    every open complaint's card from there to the command centre. Returns how many cards moved."""
    agency = await uow.agencies.agency_for_chat(chat_id)
    group = await uow.agencies.group_for(agency) if agency is not None else None
    if group is None or group.chat_id != chat_id:
        return 0
    if group.broken_reason is None:
        group.broken_reason = reason[:500]
        group.broken_at = rt.clock()
        log.error("the %s group (chat %s) is lost: %s; its cards go to the command centre", agency, chat_id, reason)
    moved = 0
    for card in await uow.cards.active_in(chat_id):
        complaint = await uow.complaints.get_for_update(card.complaint_id)
        if complaint is None or lifecycle.is_terminal(complaint.status):
            continue
        if await reroute_card(rt, uow, complaint, card, reason) is not None:
            moved += 1
    return moved


@retry_transient()
async def group_unreachable(rt: Runtime, *, chat_id: int, reason: str, card_id: int | None) -> None:
    """Telegram refused the group itself: mark its link broken and re-route the undelivered card."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        now = rt.clock()
        agency = await uow.agencies.agency_for_chat(chat_id)
        group = await uow.agencies.group_for(agency) if agency is not None else None
        if group is not None and group.broken_reason is None:
            group.broken_reason = reason[:500]
            group.broken_at = now
            log.error("the %s group (chat %s) cannot be reached: %s; its cards go to the command centre",
                      agency, chat_id, reason)
        if card_id is not None:
            card = await uow.cards.get(card_id)
            if card is not None and card.active and card.message_id is None:
                complaint = await uow.complaints.get_for_update(card.complaint_id)
                if complaint is not None and not lifecycle.is_terminal(complaint.status):
                    await reroute_card(rt, uow, complaint, card, reason)
        await uow.commit()
    rt.on_enqueued()


async def reroute_card(rt: Runtime, uow: UnitOfWork, complaint: Complaint, card: Card | None, reason: str) -> Card | None:
    """Post ``complaint``'s card in the command centre's group instead of ``card``'s chat (retired).
    None when there is nowhere to post it (the command centre's own group is missing or broken): the
    failed outbox row then stays visible in ``sikesal outbox list --failed``."""
    fallback = rt.config.routing.fallback_agency
    target = await uow.agencies.group_for(fallback)
    if target is None or target.broken_reason is not None or (card is not None and target.chat_id == card.chat_id):
        log.error("card of %s cannot be delivered anywhere: the command centre's group is %s",
                  complaint.number, "not linked" if target is None else "unreachable too")
        return None
    if card is not None:
        await uow.cards.deactivate(card)
    view = await build_view(uow, complaint)
    new = await uow.cards.create(complaint.id, complaint.agency, target.chat_id,
                                 kind="photo" if view.photos else "text")
    new.reroute_reason = reason[:500]
    await uow.outbox.enqueue_card(new, render_for(rt, new, view), now=rt.clock())
    await uow.audit.add(
        complaint.id, actor_kind="system", actor_id=None, actor_name=None, action="card_rerouted",
        from_agency=complaint.agency, to_agency=fallback, note=reason[:500], at=rt.clock(),
    )
    log.warning("card of %s re-routed to the %s group: %s", complaint.number, fallback, reason)
    return new
