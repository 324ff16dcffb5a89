"""The command centre's side (``AppConfig.command_centre``, JCOC by default): escalation cards for
overdue complaints, plain notices from other services, and the daily digests.

* :func:`escalate`: the scheduler calls it when an overdue complaint reaches a level of
  ``deadlines.escalate_after_hours``; one card in the command centre's group with the complaint, how late
  it is, its history and three buttons (their handlers are in :mod:`bot.services.command_centre_buttons`).
* :func:`notify`: a plain notice in the command centre's group (a reopened complaint, an appeal).
* :func:`send_digests`: the scheduler's daily ``digest`` timer: one digest per agency group and one for the
  whole city in the command centre's group.

Everything runs inside the caller's unit of work and goes through the outbox. When the command centre has
no linked group (or it cannot be reached), nothing crashes: the escalation is recorded in the audit trail
(``escalate_failed``) and logged, so ``sikesal agency list`` and the agency's card history tell why.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.services.complaints import GROUP_CHANNEL, build_view
from bot.services.runtime import Runtime
from handlers import lifecycle
from handlers.digest import AgencyFigures, Overdue, render_agency_digest, render_city_digest
from handlers.escalation import EscalationInfo, format_lateness, render_escalation
from handlers.messages import EDIT_BUTTONS, Button, EditTarget, OutMessage
from storage import command_centre as queries
from storage.models import AgencyGroup, Complaint
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.command_centre")

#: the link role of an escalation card in the command centre's group (its buttons act on the newest one)
ESCALATION_ROLE = "cc_escalation"
#: the link role of what the command centre sends an agency group (a reminder, a note): the agency's
#: reply to it goes back to the command centre, never to the citizen
TO_AGENCY_ROLE = "cc_message"
#: the audit actions (their history words are ``history.action.<action>``)
ESCALATE = "escalate"
ESCALATE_FAILED = "escalate_failed"
NOTICE_LOST = "cc_notice_lost"
#: statuses the digests count as open (the lifecycle table's non-terminal ones)
OPEN_STATUSES = tuple(s.value for s in lifecycle.Status if s not in lifecycle.TERMINAL)
#: "new" in a digest: filed within this span before it
DIGEST_WINDOW = timedelta(hours=24)
#: the language of staff texts in groups
STAFF_LANGUAGE = "id"


def centre(rt: Runtime) -> str:
    return rt.config.command_centre


async def centre_group(rt: Runtime, uow: UnitOfWork) -> AgencyGroup | None:
    """The command centre's linked group, or None when it has none or it cannot be reached."""
    group = await uow.agencies.group_for(centre(rt))
    return group if group is not None and group.broken_reason is None else None


async def agency_chat(uow: UnitOfWork, complaint: Complaint) -> int | None:
    """Where the complaint's agency reads about it: the chat of its active card when that card stands in
    the command centre's group (its own group was lost), else the agency's linked group; None when the
    agency has no group that can be reached."""
    card = await uow.cards.active_for(complaint.id)
    if card is not None and card.reroute_reason is not None:
        return card.chat_id
    group = await uow.agencies.group_for(complaint.agency)
    if group is None or group.broken_reason is not None:
        return None
    return group.chat_id


async def escalation_info(rt: Runtime, uow: UnitOfWork, complaint: Complaint, now: datetime,
                          level: int | None = None) -> EscalationInfo:
    """What an escalation card says beyond the complaint: its level (the number of escalations so far
    when not given), how many levels there are, and whether the agency can be reached."""
    if level is None:
        level = max(await queries.count_actions(uow.session, complaint.id, ESCALATE) - 1, 0)
    return EscalationInfo(
        level=level,
        levels=len(rt.config.deadlines.escalate_after_hours),
        now=now,
        agency_reachable=await agency_chat(uow, complaint) is not None,
    )


async def escalate(rt: Runtime, uow: UnitOfWork, complaint: Complaint, level: int, now: datetime) -> None:
    """Post the escalation card of ``complaint`` at ``level`` (0-based index into
    ``deadlines.escalate_after_hours``) in the command centre's group, and record it.

    A complaint closed meanwhile is not escalated. The previous escalation card of the complaint loses
    its buttons (the newest one is the one to act on). Without a group for the command centre the
    escalation is recorded as ``escalate_failed`` (and logged) instead."""
    if lifecycle.is_terminal(complaint.status):
        log.info("%s is %s: no escalation", complaint.number, complaint.status)
        return
    ctx = rt.ctx
    late = format_lateness(complaint.due_at, now, STAFF_LANGUAGE, ctx)
    detail = ctx.t(STAFF_LANGUAGE, "cc.audit_escalate", level=level + 1, late=late)
    group = await centre_group(rt, uow)
    if group is None:
        log.error("escalation of %s (level %d) not sent: the command centre (%s) has no linked group that can "
                  "be reached; link one with `sikesal agency link-code %s`", complaint.number, level + 1,
                  centre(rt), centre(rt))
        reason = ctx.t(STAFF_LANGUAGE, "cc.audit_no_group", centre=centre(rt))
        await uow.audit.add(complaint.id, actor_kind="system", actor_id=None, actor_name=None,
                            action=ESCALATE_FAILED, note=f"{reason}; {detail}", at=now)
        return
    previous = await queries.latest_link(uow.session, complaint.id, group.chat_id, (ESCALATION_ROLE,))
    if previous is not None:  # one card to act on: the older one's buttons go
        retire = OutMessage(text="", edit=EditTarget(previous.message_id, mode=EDIT_BUTTONS))
        await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id, retire, now=now)
    view = await build_view(uow, complaint)
    info = await escalation_info(rt, uow, complaint, now, level)
    card = render_escalation(view, info, ctx, language=STAFF_LANGUAGE)
    await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id, card, complaint_id=complaint.id,
                             link_role=ESCALATION_ROLE, now=now)
    await uow.audit.add(complaint.id, actor_kind="system", actor_id=None, actor_name=None, action=ESCALATE,
                        note=detail, at=now)
    log.info("%s escalated to the command centre (level %d, %s)", complaint.number, level + 1, late)


async def refresh_escalation(rt: Runtime, uow: UnitOfWork, complaint: Complaint) -> None:
    """After the agency changed the complaint's status: its newest escalation card (if it has one) shows the
    new status, and once the complaint is closed, that nothing is left to do (without buttons), so the
    command centre never acts on a stale card. One indexed lookup for complaints never escalated."""
    group = await centre_group(rt, uow)
    if group is None:
        return
    link = await queries.latest_link(uow.session, complaint.id, group.chat_id, (ESCALATION_ROLE,))
    if link is None:
        return
    now = rt.clock()
    view = await build_view(uow, complaint)
    info = await escalation_info(rt, uow, complaint, now)
    card = render_escalation(view, info, rt.ctx, language=STAFF_LANGUAGE, edit=EditTarget(link.message_id))
    await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id, card, now=now)


async def notify(
    rt: Runtime,
    uow: UnitOfWork,
    text: str,
    reply_markup: tuple[tuple[Button, ...], ...] | None = None,
    *,
    complaint_id: int | None = None,
    link_role: str | None = None,
) -> bool:
    """A plain notice (HTML, already escaped by the caller) in the command centre's group. With
    ``complaint_id`` (and ``link_role``) the message is linked to the complaint, so a reply to it can be
    routed. False when the command centre has no group: logged, and audited when about a complaint."""
    group = await centre_group(rt, uow)
    now = rt.clock()
    if group is None:
        log.error("notice to the command centre (%s) not sent: it has no linked group", centre(rt))
        if complaint_id is not None:
            reason = rt.ctx.t(STAFF_LANGUAGE, "cc.audit_no_group", centre=centre(rt))
            await uow.audit.add(complaint_id, actor_kind="system", actor_id=None, actor_name=None,
                                action=NOTICE_LOST, note=reason, at=now)
        return False
    message = OutMessage(text=text, buttons=reply_markup or ())
    await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id, message, complaint_id=complaint_id,
                             link_role=link_role if complaint_id is not None else None, now=now)
    return True


# --- the daily digests ----------------------------------------------------------------------------


async def digest_figures(rt: Runtime, uow: UnitOfWork, now: datetime) -> dict[str, AgencyFigures]:
    """Every configured agency's figures (agencies with nothing to report have zeros)."""
    counts = await queries.agency_counts(
        uow.session, now=now, since=now - DIGEST_WINDOW, open_statuses=OPEN_STATUSES,
        waiting_status=lifecycle.Status.BARU.value,
    )
    linked = {g.agency for g in await uow.agencies.all_groups() if g.broken_reason is None}
    figures: dict[str, AgencyFigures] = {}
    for agency in [*rt.config.agencies, *sorted(set(counts) - set(rt.config.agencies))]:
        found = counts.get(agency)
        oldest: tuple[tuple[str, datetime], ...] = ()
        if found is not None and found.overdue:
            rows = await queries.oldest_overdue(uow.session, now=now, open_statuses=OPEN_STATUSES, agency=agency)
            oldest = tuple((number, due) for number, _agency, due in rows)
        figures[agency] = AgencyFigures(
            agency=agency,
            new=found.new if found else 0,
            open=found.open if found else 0,
            waiting=found.waiting if found else 0,
            overdue=found.overdue if found else 0,
            oldest=oldest,
            linked=agency in linked,
        )
    return figures


async def send_agency_digest(rt: Runtime, uow: UnitOfWork, figures: AgencyFigures, now: datetime) -> bool:
    """One agency's digest in its group; False when it has no group or nothing to report (no complaint
    open and none filed in the last 24 hours: a quiet group is not woken for zeros)."""
    group = await uow.agencies.group_for(figures.agency)
    if group is None or group.broken_reason is not None or not (figures.new or figures.open):
        return False
    message = render_agency_digest(figures, rt.ctx, now=now, language=STAFF_LANGUAGE)
    await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id, message, now=now)
    return True


async def send_city_digest(rt: Runtime, uow: UnitOfWork, figures: dict[str, AgencyFigures], now: datetime) -> bool:
    """The whole city's digest in the command centre's group; False (logged) when it has no group."""
    group = await centre_group(rt, uow)
    if group is None:
        log.error("city digest not sent: the command centre (%s) has no linked group", centre(rt))
        return False
    rows = await queries.oldest_overdue(uow.session, now=now, open_statuses=OPEN_STATUSES, limit=10)
    oldest = [Overdue(number, agency, due) for number, agency, due in rows]
    message = render_city_digest(list(figures.values()), oldest, rt.ctx, now=now, language=STAFF_LANGUAGE)
    await uow.outbox.enqueue(GROUP_CHANNEL, group.chat_id, message, now=now)
    return True


async def send_digests(rt: Runtime, uow: UnitOfWork, now: datetime) -> None:
    """The daily digests (the scheduler's ``digest`` timer at ``deadlines.digest_at``): every agency group
    with something open or new, then the city's in the command centre's group."""
    figures = await digest_figures(rt, uow, now)
    sent = [agency for agency, f in figures.items() if await send_agency_digest(rt, uow, f, now)]
    city = await send_city_digest(rt, uow, figures, now)
    log.info("daily digests queued for %s%s", ", ".join(sent) or "no agency",
             " and the city" if city else "")


__all__ = [
    "ESCALATION_ROLE",
    "TO_AGENCY_ROLE",
    "agency_chat",
    "centre_group",
    "digest_figures",
    "escalate",
    "escalation_info",
    "notify",
    "refresh_escalation",
    "send_agency_digest",
    "send_city_digest",
    "send_digests",
]
