"""The agency side: card buttons, rejection reasons, reassignment, reply relay, group linking.

Checks, in order, for a button: the payload parses; the complaint exists; the button was pressed
in the group that owns the complaint's *active* card (a card left behind by a reassignment is
refused); the lifecycle table allows the transition. Every refusal is logged and audited.
Membership of the group is checked by the adapter before calling here (it needs the channel API,
see :mod:`bot.services.membership`); a non-member's press or reply is audited by
:func:`handle_non_member`.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import timedelta

from bot.services import clocks, proof, relay, staff_extensions
from bot.services.complaints import (
    GROUP_CHANNEL,
    build_view,
    notify_status,
    post_card,
    post_missing_cards,
    refresh_card,
)
from bot.services.membership import bot_is_admin, store_bot_status
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor
from bot.services.staff_core import refuse as _refuse
from bot.services.staff_core import tell_group as _tell_group
from bot.services.staff_core import transition as _transition
from bot.services.staff_prompts import (
    PROMPT_ROLES,
    ROLE_ACTIONS,
    answer_prompt,
    ask_original,
    ask_reject_reason,
    cancel_prompt,
)
from handlers import cards, lifecycle
from handlers.events import MediaRef
from handlers.messages import Alert
from storage.models import Complaint
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.staff")


@dataclass(slots=True)
class StaffResult:
    alert: Alert | None = None
    duplicate: bool = False


#: the audited action of a press whose payload is not one of ours (forged, or from an old version)
UNKNOWN_ACTION = "unknown"
#: what a reply under a bot message attempts, by the role of the message it answers
REPLY_ACTIONS = dict(ROLE_ACTIONS)


def _with_payload(reason: str, payload: str) -> str:
    """An audit note naming an unparseable payload (at most Telegram's 64 bytes, stored as data)."""
    return f"{reason} [payload {payload[:64]!r}]"


@retry_transient()
async def handle_non_member(
    rt: Runtime,
    *,
    chat_id: int,
    actor: StaffActor,
    update_key: str | None,
    payload: str | None = None,
    reply_to_message_id: int | None = None,
) -> bool:
    """A button press (``payload``) or a reply (to ``reply_to_message_id``) by someone who is not a
    member of the group: refused by the adapter, audited here, once per update (``update_key``).

    The audit row names the complaint when the payload or the replied-to message does, and the
    attempted action. A reply to a bot message that is about no complaint attempts nothing and is
    not audited (returns False)."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return False
        reason = cards.alert_not_member(rt.ctx).text
        complaint: Complaint | None = None
        if payload is not None:
            parsed = cards.parse_staff_payload(payload)
            if parsed is None:
                action, reason = UNKNOWN_ACTION, _with_payload(reason, payload)
            else:
                action = str(parsed.action)
                complaint = await uow.complaints.get(parsed.complaint_id)
        else:
            link = (
                await uow.links.find(GROUP_CHANNEL, str(chat_id), str(reply_to_message_id))
                if reply_to_message_id is not None else None
            )
            if link is None:
                return False
            action = REPLY_ACTIONS.get(link.role, "reply")
            complaint = await uow.complaints.get(link.complaint_id)
        await _refuse(rt, uow, complaint, actor, action, reason, chat_id)
        await uow.commit()
    return True


@retry_transient()
async def handle_staff_button(
    rt: Runtime, *, chat_id: int, actor: StaffActor, payload: str, update_key: str | None
) -> StaffResult:
    extension = staff_extensions.button_handlers().get(payload.split(":", 1)[0])
    if extension is not None:  # proof of fix, canned replies, the command centre's buttons...
        result: StaffResult = await extension(rt, chat_id=chat_id, actor=actor, payload=payload, update_key=update_key)
        return result
    parsed = cards.parse_staff_payload(payload)
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return StaffResult(duplicate=True)
        if parsed is None:
            unknown = cards.alert_unknown_action(rt.ctx)
            await _refuse(rt, uow, None, actor, UNKNOWN_ACTION, _with_payload(unknown.text, payload), chat_id)
            await uow.commit()
            return StaffResult(alert=unknown)
        complaint = await uow.complaints.get_for_update(parsed.complaint_id)
        refusal = await check_owner(rt, uow, complaint, chat_id)
        if complaint is None or refusal is not None:
            refusal = refusal or cards.alert_not_found(rt.ctx)
            await _refuse(rt, uow, complaint, actor, parsed.action, refusal.text, chat_id)
            await uow.commit()
            return StaffResult(alert=refusal)
        if parsed.kind == "ra":
            alert = await _reassign_to(rt, uow, complaint, actor, parsed.agency)
        elif parsed.kind == "cx":
            alert = await cancel_prompt(rt, uow, complaint, parsed.action)
        elif parsed.action == lifecycle.Action.REASSIGN:
            alert = await _show_reassign_picker(rt, uow, complaint, actor)
        elif parsed.action == lifecycle.Action.REJECT:
            alert = await ask_reject_reason(rt, uow, complaint, actor)
        elif parsed.action == lifecycle.Action.DUPLICATE:
            alert = await ask_original(rt, uow, complaint, actor)
        elif parsed.action == lifecycle.Action.RESOLVE:  # asks for the "after" photo first (bot.services.proof)
            alert = await proof.on_resolve_pressed(rt, uow, complaint, actor)
        else:
            alert = await _transition(rt, uow, complaint, actor, parsed.action, note=None)
        await uow.commit()
    rt.on_enqueued()
    return StaffResult(alert=alert)


async def check_owner(rt: Runtime, uow: UnitOfWork, complaint: Complaint | None, chat_id: int) -> Alert | None:
    """None when ``chat_id`` holds the complaint's active card *and* is still the linked group of the
    complaint's agency (a group re-linked to another agency loses its old cards), else the refusal."""
    if complaint is None:
        return cards.alert_not_found(rt.ctx)
    card = await uow.cards.active_for(complaint.id)
    if card is not None and card.chat_id == chat_id:
        if card.reroute_reason is not None:
            return None  # the agency's group could not be reached: the command centre stands in
        if await uow.agencies.agency_for_chat(chat_id) == complaint.agency:
            return None
        return cards.alert_not_your_agency(rt.ctx)
    if any(c.chat_id == chat_id for c in await uow.cards.for_complaint(complaint.id)):
        return cards.alert_moved(rt.ctx, complaint.agency)
    return cards.alert_not_your_agency(rt.ctx)


async def _show_reassign_picker(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor) -> Alert:
    decision = lifecycle.decide(complaint.status, lifecycle.Action.REASSIGN)
    if not decision.allowed:
        alert = cards.alert_refused(decision, rt.ctx, status=complaint.status)
        await _refuse(rt, uow, complaint, actor, "reassign", alert.text, None)
        return alert
    card = await uow.cards.active_for(complaint.id)
    assert card is not None
    view = await build_view(uow, complaint)
    picker = cards.render_reassign_picker(view, rt.ctx, current_agency=complaint.agency)
    await uow.outbox.enqueue_card_edit(card, picker, now=rt.clock())
    return cards.alert_choose_agency(rt.ctx)


async def _reassign_to(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, agency: str | None,
    *, note: str | None = None, by: str = "staff",
) -> Alert:
    """Move the complaint to ``agency`` (the picker's choice; None, the same or an unknown agency cancels).
    ``note`` goes into the audit entry (the command centre's reassignment says it came from there); ``by``
    is who decides in the lifecycle table (``command``: an appeal against a rejection, see
    :mod:`bot.services.followup_appeals`)."""
    view = await build_view(uow, complaint)
    if not agency or agency == complaint.agency or rt.ctx.agency(agency) is None:
        await refresh_card(rt, uow, complaint, view)  # cancel: show the normal buttons again
        return cards.alert_reassign_cancelled(rt.ctx)
    decision = lifecycle.decide(complaint.status, lifecycle.Action.REASSIGN, actor=by)
    if not decision.allowed or decision.to_status is None:
        alert = cards.alert_refused(decision, rt.ctx, status=complaint.status)
        await _refuse(rt, uow, complaint, actor, "reassign", alert.text, None)
        return alert
    now = rt.clock()
    old_agency, old_status = complaint.agency, complaint.status
    old_card = await uow.cards.active_for(complaint.id)
    moved = await uow.complaints.move(
        complaint, expected_status=old_status, status=decision.to_status.value, agency=agency, now=now
    )
    if not moved:  # another officer changed it a moment ago (in this process or another)
        alert = cards.alert_already_changed(rt.ctx, complaint.status)
        await _refuse(rt, uow, complaint, actor, "reassign", alert.text, None)
        return alert
    # a new accept clock there; the resolve clock runs on, unless it had stopped (a rejection reassigned on
    # appeal gets a new one rather than one that ran out while it was closed)
    await clocks.on_reassigned(rt, uow, complaint, now, restart_resolve=lifecycle.is_terminal(old_status))
    await uow.audit.add(
        complaint.id,
        actor_kind=actor.kind,
        actor_id=actor.user_id,
        actor_name=actor.name,
        action="reassign",
        from_status=old_status,
        to_status=decision.to_status.value,
        from_agency=old_agency,
        to_agency=agency,
        note=note,
        at=now,
    )
    view = await build_view(uow, complaint)
    if old_card is not None:
        await uow.cards.deactivate(old_card)
        await uow.outbox.enqueue_card_edit(
            old_card, cards.render_card(view, rt.ctx, active=False, moved_to_agency=agency), now=now
        )
    await post_card(rt, uow, complaint, view)
    await notify_status(rt, uow, complaint, view, None)
    return cards.alert_reassigned(rt.ctx, agency)


@retry_transient()
async def handle_staff_reply(
    rt: Runtime,
    *,
    chat_id: int,
    actor: StaffActor,
    reply_to_message_id: int,
    text: str,
    update_key: str | None,
    photo: MediaRef | None = None,
    unsupported: str | None = None,
) -> bool:
    """A staff member replied to a card, a relayed citizen message, or a rejection prompt.

    ``text`` is the reply's text or a photo's caption; ``photo`` the photo (stored by the adapter);
    ``unsupported`` what else it was (``sticker``, ``voice``...), which no citizen can be sent.

    Returns False when the reply is not about a complaint (ordinary group chatter is ignored).
    """
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return True
        link = await uow.links.find(GROUP_CHANNEL, str(chat_id), str(reply_to_message_id))
        if link is None:
            return False
        complaint = await uow.complaints.get_for_update(link.complaint_id)
        extension = staff_extensions.reply_handlers().get(link.role)
        if extension is not None and complaint is not None:
            # a prompt of a newer capability (see bot.services.staff_extensions): it checks who may answer
            # (the command centre answers about other agencies' complaints)
            await extension(
                rt, uow, link, complaint, actor, text, photo=photo, chat_id=chat_id,
                reply_to_message_id=reply_to_message_id,
            )
            await uow.commit()
            rt.on_enqueued()
            return True
        refusal = await check_owner(rt, uow, complaint, chat_id)
        if complaint is None or refusal is not None:
            refusal = refusal or cards.alert_not_found(rt.ctx)
            await _refuse(rt, uow, complaint, actor, "reply", refusal.text, chat_id)
            await _tell_group(rt, uow, chat_id, refusal.text, reply_to_message_id)
            await uow.commit()
            rt.on_enqueued()
            return True
        if link.role in PROMPT_ROLES:  # a reason, an original's number, or a reply to a cancelled prompt
            await answer_prompt(
                rt, uow, link, complaint, actor, text, chat_id=chat_id, reply_to_message_id=reply_to_message_id
            )
        elif not await relay.relay_staff_reply(  # text and photos reach the citizen (bot.services.relay)
            rt, uow, link, complaint, actor, text=text, photo=photo, unsupported=unsupported, chat_id=chat_id,
            reply_to_message_id=reply_to_message_id,
        ):
            return False
        await uow.commit()
    rt.on_enqueued()
    return True


@retry_transient()
async def handle_link(
    rt: Runtime,
    *,
    chat_id: int,
    title: str | None,
    actor: StaffActor,
    code: str,
    update_key: str | None,
    bot_status: str | None = None,
) -> None:
    """``/link <code>`` in a group: bind the group to the code's agency and post waiting cards.

    ``bot_status`` is the bot's own status in the group as the adapter just asked Telegram (None:
    unknown). It is recorded, and unless the bot is an administrator the confirmation asks the group
    to make it one: only then does Telegram tell the bot at once when a member leaves."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return
        now = rt.clock()
        agency = await uow.agencies.consume_link_code(code.strip(), now=now) if code.strip() else None
        if not code.strip():
            message = cards.render_link_usage(rt.ctx)
        elif agency is None:
            log.warning("bad link code from user %s in chat %s", actor.user_id, chat_id)
            message = cards.render_link_result(False, rt.ctx)
        else:
            await uow.agencies.link(agency, chat_id, title=title, linked_by=actor.user_id, now=now)
            await store_bot_status(uow, chat_id, bot_status)
            message = cards.render_link_result(True, rt.ctx, agency=agency)
            hint = "staff.link_admin_ok" if bot_is_admin(bot_status) else "staff.link_make_admin"
            message = dataclasses.replace(message, text=f"{message.text}\n\n{rt.ctx.t('id', hint)}")
            log.info("chat %s linked to agency %s by %s", chat_id, agency, actor.user_id)
        await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, message, now=now)
        if agency is not None:
            await _retire_cards_elsewhere(rt, uow, agency, chat_id)
            await post_missing_cards(rt, uow, agency)
        await uow.commit()
    rt.on_enqueued()


async def _retire_cards_elsewhere(rt: Runtime, uow: UnitOfWork, agency: str, chat_id: int) -> None:
    """The agency was linked to a new group: its cards in the previous group stop working (open
    ones are edited to say so, without buttons) and :func:`post_missing_cards` posts fresh cards
    for its open complaints in the new group."""
    for card in await uow.cards.active_outside(agency, chat_id):
        await uow.cards.deactivate(card)
        complaint = await uow.complaints.get(card.complaint_id)
        if complaint is None or lifecycle.is_terminal(complaint.status):
            continue
        view = await build_view(uow, complaint)
        retired = cards.render_card(view, rt.ctx, active=False, moved_to_agency=agency, relinked=True)
        await uow.outbox.enqueue_card_edit(card, retired, now=rt.clock())


@retry_transient()
async def handle_group_migrated(rt: Runtime, *, old_chat_id: int, new_chat_id: int) -> None:
    """A group became a supergroup (Telegram's migrate_to_chat_id): keep its link and cards."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        await uow.agencies.migrate_chat(old_chat_id, new_chat_id)
        await uow.outbox.move_chat(old_chat_id, new_chat_id)
        await uow.commit()
    log.info("group %s migrated to %s", old_chat_id, new_chat_id)


async def create_link_code(rt: Runtime, agency: str) -> str:
    async with UnitOfWork(rt.sessionmaker) as uow:
        code = await uow.agencies.create_link_code(
            agency, ttl=timedelta(minutes=rt.config.link_codes.ttl_minutes), now=rt.clock()
        )
        await uow.commit()
    return code





@retry_transient()
async def handle_bot_added(rt: Runtime, *, chat_id: int, update_key: str | None) -> None:
    """The bot was added to a group: explain how to link it (unless it is linked already)."""
    async with UnitOfWork(rt.sessionmaker) as uow:
        if update_key is not None and not await uow.idempotency.claim(update_key):
            return
        if await uow.agencies.agency_for_chat(chat_id) is None:
            await uow.outbox.enqueue(GROUP_CHANNEL, chat_id, cards.render_link_usage(rt.ctx), now=rt.clock())
        await uow.commit()
    rt.on_enqueued()
