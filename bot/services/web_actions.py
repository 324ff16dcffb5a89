"""What a dashboard account does to a complaint (issue 13), through the same steps as the Telegram buttons.

One unit of work per action. The dashboard is one more place staff act from, not a second implementation:
accept and process are :func:`bot.services.staff_core.transition` (the lifecycle table, the guarded status
change, clocks, the citizen's notice and the card edit through the outbox, the command centre's escalation
card refreshed); resolve is :func:`bot.services.proof.resolve` with the "after" photo uploaded in the form
instead of replied in the group; reject is the same transition with the reason the rejection prompt would
have read; a reply to the citizen is :func:`bot.services.relay.relay_to_citizen` (their channel, Telegram
or WhatsApp, linked so their answer comes back to the group); reassign is the card's
(:func:`bot.services.staff._reassign_to`); nudge is the command centre's
(:func:`bot.services.command_centre_buttons.nudge_agency`).

Who acts is a :class:`~bot.services.staff_core.StaffActor` of kind ``web``: the audit entry reads
``actor_kind`` web, ``actor_id`` ``web:<username>``, ``actor_name`` ``<username> (via web)``, and the card's
history shows that name. The checks, in order: the complaint exists and the account may see it (else
:data:`NOT_FOUND`, as the page); the role may attempt the action (:mod:`handlers.web_roles`, else
:data:`FORBIDDEN`); then the lifecycle table decides, as for a button. Every refusal past the first check
is audited like a refused button press (staff-only, never shown to a citizen).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, field, replace

from bot.services import proof, relay
from bot.services.command_centre import STAFF_LANGUAGE, refresh_escalation
from bot.services.command_centre_buttons import NOTE_ACTION, nudge_agency
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor, refuse, transition
from bot.services.staff_prompts import OPEN_ROLES, PROMPT_DONE
from handlers import cards, lifecycle
from handlers import proof as proof_core
from handlers.events import MediaRef
from handlers.messages import Alert, OutMessage
from handlers.views import card_ref, truncate
from handlers.web_roles import Account, WebAction
from storage.models import Complaint
from storage.retry import retry_transient
from storage.uow import UnitOfWork

log = logging.getLogger("sikesal.web.actions")

#: the audit's ``actor_kind`` of a dashboard account
WEB_KIND = "web"
#: outcomes
DONE = "done"
REFUSED = "refused"
NOT_FOUND = "not_found"
FORBIDDEN = "forbidden"
#: the longest note or message taken from a form (a Telegram message's length)
TEXT_MAX = 4000
#: the longest rejection reason: the citizen's notice wraps it in its own words, and a notice past Telegram's
#: 4096 characters is never delivered (the complaint would be closed without telling them)
REASON_MAX = lifecycle.REASON_MAX  # the same limit as a reason given in the group


def web_actor(rt: Runtime, username: str) -> StaffActor:
    """The audit's view of a dashboard account: ``web:<username>``, ``<username> (via web)``."""
    name = rt.ctx.t(STAFF_LANGUAGE, "web.actions.via_web", name=username)
    return StaffActor(user_id=f"web:{username}"[:64], name=name[:128], kind=WEB_KIND)  # the audit's column widths


@dataclass(frozen=True, slots=True)
class ActionInput:
    """What the form sent: the action and the field it needs (the others are ignored)."""

    action: str
    reason: str = ""  # reject: the reason the citizen reads
    text: str = ""  # reply: the message to the citizen; resolve: the proof note
    agency: str = ""  # reassign: where to
    note: str = ""  # note: the internal note
    photo: MediaRef | None = None  # resolve: the "after" photo, already stored (MediaStore.put)


@dataclass(frozen=True, slots=True)
class Outcome:
    """How it went. ``key`` is a ``web.actions.*`` catalog key (shown in the account's language, with
    ``params``); ``reason`` the services' own words (the alert the group would have seen) when they refused."""

    kind: str
    number: str = ""
    key: str | None = None
    reason: str | None = None
    params: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.kind == DONE


def _done(complaint: Complaint, action: str, **params: str) -> Outcome:
    return Outcome(DONE, complaint.number, f"web.actions.done.{action}", params={"number": complaint.number, **params})


def _from_alert(complaint: Complaint, action: str, alert: Alert, **params: str) -> Outcome:
    """A service's answer: a refusal shows ``show_alert`` (the convention of every staff alert)."""
    if alert.show_alert:
        return Outcome(REFUSED, complaint.number, reason=alert.text)
    return _done(complaint, action, **params)


async def _refused(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, action: str, key: str, **params: str
) -> Outcome:
    """Refused by a check of the dashboard's own (a missing field, a photo the category requires): audited
    in the staff language like a refused press, shown in the account's."""
    await refuse(rt, uow, complaint, actor, action, rt.ctx.t(STAFF_LANGUAGE, key, **params), None)
    return Outcome(REFUSED, complaint.number, key=key, params=params)


def _in_language(rt: Runtime, outcome: Outcome, action: str, before: str, now: str, language: str) -> Outcome:
    """The services' refusal in the account's language when it is one of the lifecycle's (the group reads
    them in the staff language); any other words stay as they are."""
    if outcome.reason is None or language == STAFF_LANGUAGE:
        return outcome
    decision = lifecycle.decide(before, action)
    known = (
        (cards.alert_refused(decision, rt.ctx, status=before), cards.alert_refused(
            decision, rt.ctx, status=before, language=language)),
        (cards.alert_already_changed(rt.ctx, now), cards.alert_already_changed(rt.ctx, now, language=language)),
    )
    for staff_words, theirs in known:
        if outcome.reason == staff_words.text:
            return replace(outcome, reason=theirs.text)
    if outcome.reason == rt.ctx.t(STAFF_LANGUAGE, "staff.reason_missing"):
        return replace(outcome, reason=rt.ctx.t(language, "staff.reason_missing"))
    return outcome


@retry_transient()
async def perform(
    rt: Runtime, account: Account, number: str, given: ActionInput, *, language: str = STAFF_LANGUAGE
) -> Outcome:
    """Do ``given.action`` to complaint ``number`` as ``account``, in one transaction; wake the sender after.
    ``language``: the account's, for a refusal's words."""
    actor = web_actor(rt, account.username)
    async with UnitOfWork(rt.sessionmaker) as uow:
        found = await uow.complaints.by_number(number)
        complaint = await uow.complaints.get_for_update(found.id) if found is not None else None
        if complaint is None or not account.role.can_see(complaint.agency):
            return Outcome(NOT_FOUND, number)
        try:
            action = WebAction(given.action)
        except ValueError:
            action = None
        if action is None or not account.role.may(action):
            reason = rt.ctx.t(STAFF_LANGUAGE, "web.actions.forbidden")
            await refuse(rt, uow, complaint, actor, str(given.action)[:32] or "unknown", reason, None)
            await uow.commit()
            return Outcome(FORBIDDEN, complaint.number)
        before = complaint.status
        outcome = await _act(rt, uow, complaint, actor, action, given)
        outcome = _in_language(rt, outcome, action.value, before, complaint.status, language)
        await uow.commit()
    rt.on_enqueued()
    if outcome.ok:
        log.info("%s: %s by %s from the web", outcome.number, action.value, actor.user_id)
    return outcome


async def _act(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, action: WebAction, given: ActionInput
) -> Outcome:
    if action in (WebAction.ACCEPT, WebAction.PROCESS):
        alert = await transition(rt, uow, complaint, actor, action.value, note=None)
        return _from_alert(complaint, action.value, alert)
    if action == WebAction.REJECT:
        return await _reject(rt, uow, complaint, actor, given.reason)
    if action == WebAction.RESOLVE:
        return await _resolve(rt, uow, complaint, actor, given)
    if action == WebAction.REPLY:
        return await _reply(rt, uow, complaint, actor, given.text)
    if action == WebAction.REASSIGN:
        return await _reassign(rt, uow, complaint, actor, given.agency)
    if action == WebAction.NUDGE:
        return await _nudge(rt, uow, complaint, actor)
    return await _note(rt, uow, complaint, actor, given.note)


async def _reject(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, reason: str) -> Outcome:
    """The reason the rejection prompt would have read (an empty one is refused by the transition itself,
    as an empty reply under the prompt is); the group's open prompts for it are answered. A reason longer
    than :data:`REASON_MAX` is refused, never cut: the citizen reads all of it or none."""
    if len(reason.strip()) > REASON_MAX:
        return await _refused(rt, uow, complaint, actor, "reject", "web.actions.reason_too_long", max=str(REASON_MAX))
    alert = await transition(rt, uow, complaint, actor, lifecycle.Action.REJECT, note=reason.strip()[:TEXT_MAX] or None)
    if not alert.show_alert:
        await uow.links.close_prompts(complaint.id, OPEN_ROLES, PROMPT_DONE)
    return _from_alert(complaint, WebAction.REJECT.value, alert)


async def _resolve(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, given: ActionInput
) -> Outcome:
    """Resolved with the uploaded "after" photo (kind ``proof``, its hash in the audit entry) and the note;
    a category with ``proof_photo: required`` is refused without a photo, one with ``off`` keeps none."""
    mode = proof.proof_mode(rt, complaint)
    photo = given.photo if mode != proof_core.OFF else None
    if photo is None and mode == proof_core.REQUIRED and lifecycle.decide(complaint.status, "resolve").allowed:
        return await _refused(rt, uow, complaint, actor, "resolve", "web.actions.photo_required")
    # the group's own rule for the note (cut at proof.NOTE_MAX, "-" is none): a longer one made the citizen's
    # notice too long for Telegram, so the resolution was never told
    note = proof_core.clean_note(given.text)
    alert = await proof.resolve(rt, uow, complaint, actor, note=note, photo=photo)
    return _from_alert(complaint, WebAction.RESOLVE.value, alert)


async def _reply(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, text: str) -> Outcome:
    """To the reporter on their channel, as a reply under the card would; the group sees the words too."""
    words = text.strip()[:TEXT_MAX]
    if not words:
        return await _refused(rt, uow, complaint, actor, "reply", "web.actions.text_missing")
    echo = rt.ctx.t(
        STAFF_LANGUAGE, "web.actions.reply_echo", name=html.escape(actor.name), number=html.escape(complaint.number),
        text=html.escape(truncate(words, 3500)),
    )
    message = OutMessage(text=echo, reply_to=card_ref(complaint.id))
    await relay.relay_to_citizen(rt, uow, complaint, actor, words, group_message=message)
    return _done(complaint, WebAction.REPLY.value)


async def _reassign(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, agency: str) -> Outcome:
    """The card's reassignment (a fresh card in the new agency's group, the old one says where it went, the
    citizen told, the clocks follow), noted as the command centre's; its escalation card, if any, refreshed."""
    from bot.services.staff import _reassign_to  # staff imports the extensions that import services

    target = rt.ctx.agency(agency.strip())
    if target is None or target.key == complaint.agency:
        return await _refused(rt, uow, complaint, actor, "reassign", "web.actions.agency_invalid")
    alert = await _reassign_to(rt, uow, complaint, actor, target.key, note=rt.ctx.t(STAFF_LANGUAGE, "cc.audit_via"))
    if not alert.show_alert:
        await refresh_escalation(rt, uow, complaint)
    return _from_alert(complaint, WebAction.REASSIGN.value, alert, agency=target.key)


async def _nudge(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor) -> Outcome:
    """The command centre's reminder in the agency's group; nothing to remind of once a complaint is closed."""
    if lifecycle.is_terminal(complaint.status):
        return await _refused(rt, uow, complaint, actor, "nudge", "web.actions.closed")
    alert, sent = await nudge_agency(rt, uow, complaint, actor, None)
    if sent:
        await refresh_escalation(rt, uow, complaint)
        return _done(complaint, WebAction.NUDGE.value, agency=complaint.agency)
    return Outcome(REFUSED, complaint.number, reason=alert.text)


async def _note(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, text: str) -> Outcome:
    """An internal note: one audit entry (the command centre's note, which no citizen's history shows)."""
    words = text.strip()[:TEXT_MAX]
    if not words:
        return await _refused(rt, uow, complaint, actor, NOTE_ACTION, "web.actions.note_missing")
    await uow.audit.add(
        complaint.id, actor_kind=actor.kind, actor_id=actor.user_id, actor_name=actor.name, action=NOTE_ACTION,
        from_status=complaint.status, note=words, at=rt.clock(),
    )
    return _done(complaint, WebAction.NOTE.value)


__all__ = ["DONE", "FORBIDDEN", "NOT_FOUND", "REFUSED", "WEB_KIND", "ActionInput", "Outcome", "perform", "web_actor"]
