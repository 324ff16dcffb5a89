"""The two questions a card asks by reply: a rejection's reason ("Tolak") and a duplicate's original
("Duplikat"), with their cancel button and their answers.

A prompt is a force-reply message linked to the complaint (``reject_prompt`` / ``dup_prompt``).
While it is open the card shows who is answering and one ✖️ Batal button (Telegram cannot put a
button on a force-reply message itself). Each prompt is answered at most once with an error: a wrong
answer is spent (``*_spent``) and a fresh prompt asks again, replying to the officer's message, so
trying five numbers under the first prompt does not fill the group with five errors. Cancel closes
the complaint's open prompts (``prompt_closed``): a later reply to one changes nothing and is told so
once (``closed_told``).
"""

from __future__ import annotations

from bot.services.complaints import GROUP_CHANNEL, build_view, nearby_for_card, refresh_card
from bot.services.runtime import Runtime
from bot.services.staff_core import StaffActor, refuse, tell_group, transition
from handlers import cards, lifecycle
from handlers.lifecycle import REASON_MAX
from handlers.messages import Alert
from handlers.numbers import format_number, read_number
from handlers.views import to_local, truncate
from storage.models import Complaint, MessageLink
from storage.uow import UnitOfWork

REJECT_PROMPT = "reject_prompt"
DUP_PROMPT = "dup_prompt"
REJECT_SPENT = "reject_spent"
DUP_SPENT = "dup_spent"
PROMPT_CLOSED = "prompt_closed"
PROMPT_DONE = "prompt_done"
CLOSED_TOLD = "closed_told"
#: every link role of a prompt, open or not: a reply to any of them is never relayed to the citizen
PROMPT_ROLES = frozenset({REJECT_PROMPT, DUP_PROMPT, REJECT_SPENT, DUP_SPENT, PROMPT_CLOSED, PROMPT_DONE, CLOSED_TOLD})
#: the prompts still waiting for an answer
OPEN_ROLES = (REJECT_PROMPT, REJECT_SPENT, DUP_PROMPT, DUP_SPENT)
#: what a reply under a prompt attempts (for the audit of a refused reply)
ROLE_ACTIONS = {REJECT_PROMPT: "reject", REJECT_SPENT: "reject", DUP_PROMPT: "duplicate", DUP_SPENT: "duplicate"}
_OPEN_ROLES = {lifecycle.Action.REJECT: (REJECT_PROMPT, REJECT_SPENT), lifecycle.Action.DUPLICATE: (DUP_PROMPT, DUP_SPENT)}


async def _open_prompt(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, action: lifecycle.Action
) -> Alert:
    """Send the prompt for ``action`` and put the card in its waiting state (with ✖️ Batal)."""
    decision = lifecycle.decide(complaint.status, action)
    if not decision.allowed:
        alert = cards.alert_refused(decision, rt.ctx, status=complaint.status)
        await refuse(rt, uow, complaint, actor, action.value, alert.text, None)
        return alert
    card = await uow.cards.active_for(complaint.id)
    assert card is not None  # the caller's owner check guaranteed it
    view = await build_view(uow, complaint)
    if action == lifecycle.Action.DUPLICATE:
        view = await nearby_for_card(rt, uow, complaint, view)
        prompt, role, toast = cards.render_duplicate_prompt(view, rt.ctx, staff_name=actor.name), DUP_PROMPT, "staff.original_prompted"
    else:
        prompt, role, toast = cards.render_reject_prompt(view, rt.ctx, staff_name=actor.name), REJECT_PROMPT, "staff.reason_prompted"
    now = rt.clock()
    await uow.outbox.enqueue(
        GROUP_CHANNEL, card.chat_id, prompt, complaint_id=complaint.id, link_role=role,
        link_staff_user_id=actor.user_id, now=now,
    )
    waiting = cards.render_prompt_card(view, rt.ctx, action=action, staff_name=actor.name)
    await uow.outbox.enqueue_card_edit(card, waiting, now=now)
    return Alert(text=rt.ctx.t("id", toast))


async def ask_reject_reason(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor) -> Alert:
    """"Tolak": ask (as a reply) for the reason the citizen will read."""
    return await _open_prompt(rt, uow, complaint, actor, lifecycle.Action.REJECT)


async def ask_original(rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor) -> Alert:
    """"Duplikat": ask (as a reply) which complaint this one repeats."""
    return await _open_prompt(rt, uow, complaint, actor, lifecycle.Action.DUPLICATE)


async def cancel_prompt(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, action: lifecycle.Action
) -> Alert:
    """✖️ Batal on a waiting card: its open prompts of that kind end and the card is itself again.
    A stale press (the prompt was answered meanwhile) changes nothing and says so."""
    closed = await uow.links.close_prompts(complaint.id, _OPEN_ROLES[action], PROMPT_CLOSED)
    await refresh_card(rt, uow, complaint, await build_view(uow, complaint))
    return cards.alert_prompt_cancelled(rt.ctx, done=closed > 0)


async def answer_prompt(
    rt: Runtime,
    uow: UnitOfWork,
    link: MessageLink,
    complaint: Complaint,
    actor: StaffActor,
    text: str,
    *,
    chat_id: int,
    reply_to_message_id: int,
) -> None:
    """A reply under a prompt (``link.role`` in :data:`PROMPT_ROLES`)."""
    if link.role in (PROMPT_CLOSED, PROMPT_DONE, CLOSED_TOLD):
        said = _why_over(rt, link, complaint)
        if link.role != CLOSED_TOLD:  # said once per prompt, then silence
            link.role = CLOSED_TOLD
            await tell_group(rt, uow, chat_id, said, reply_to_message_id)
        await refuse(rt, uow, complaint, actor, "reply", said, chat_id)
        return
    if link.role in (REJECT_PROMPT, REJECT_SPENT):
        await _answer_reject(rt, uow, link, complaint, actor, text, chat_id=chat_id, reply_to=reply_to_message_id)
    else:
        await _answer_duplicate(rt, uow, link, complaint, actor, text, chat_id=chat_id, reply_to=reply_to_message_id)


def _why_over(rt: Runtime, link: MessageLink, complaint: Complaint) -> str:
    """Why a reply to a finished prompt changes nothing: the complaint is closed ("sudah ditolak"),
    the prompt was answered already, or it was cancelled."""
    if link.role == PROMPT_CLOSED:
        return rt.ctx.t("id", "staff.prompt_closed")
    if lifecycle.is_terminal(complaint.status):
        return cards.alert_refused(lifecycle.decide(complaint.status, lifecycle.Action.REJECT), rt.ctx,
                                   status=complaint.status).text
    return rt.ctx.t("id", "staff.prompt_done")


async def _answer_reject(
    rt: Runtime, uow: UnitOfWork, link: MessageLink, complaint: Complaint, actor: StaffActor, text: str, *,
    chat_id: int, reply_to: int,
) -> None:
    if not text.strip():
        await refuse(rt, uow, complaint, actor, "reject", rt.ctx.t("id", "staff.reason_missing"), chat_id)
        if link.role == REJECT_PROMPT:  # ask again once per prompt, as a prompt of its own
            link.role = REJECT_SPENT
            view = await build_view(uow, complaint)
            again = cards.render_reason_required(view, rt.ctx)
            await uow.outbox.enqueue(
                GROUP_CHANNEL, chat_id, again, complaint_id=complaint.id, link_role=REJECT_PROMPT,
                link_staff_user_id=actor.user_id, now=rt.clock(),
            )
        return
    if len(text.strip()) > REASON_MAX:  # the citizen's notice must fit one Telegram message: refused, never cut
        too_long = rt.ctx.t("id", "staff.reason_too_long", max=REASON_MAX, length=len(text.strip()))
        await refuse(rt, uow, complaint, actor, "reject", too_long, chat_id)
        await tell_group(rt, uow, chat_id, too_long, reply_to)  # the prompt stays open: a shorter reply works
        return
    alert = await transition(rt, uow, complaint, actor, lifecycle.Action.REJECT, note=text.strip())
    if alert.show_alert:  # refused: tell the group, since a reply has no toast
        await tell_group(rt, uow, chat_id, alert.text, reply_to)
    else:
        await uow.links.close_prompts(complaint.id, OPEN_ROLES, PROMPT_DONE)


async def find_original(rt: Runtime, uow: UnitOfWork, typed: str) -> tuple[Complaint | None, str | None]:
    """The complaint staff mean by ``typed``, or why it cannot be told. A bare sequence ("4",
    "000004", "#4") is this year's in the city's time zone; when this year has none but another year
    has, staff are asked which they mean rather than guessed for."""
    prefix = rt.ctx.tracking_prefix
    guess = read_number(typed, prefix=prefix)
    if guess is None or guess.sequence is None:
        return None, rt.ctx.t("id", "staff.duplicate_unreadable", typed=truncate(" ".join(typed.split()), 40))
    if guess.full is not None:
        found = await uow.complaints.by_number(guess.full)
        return (found, None) if found else (None, rt.ctx.t("id", "staff.duplicate_unknown", number=guess.full))
    year = to_local(rt.clock(), rt.ctx.timezone).year
    number = format_number(prefix, year, guess.sequence)
    found = await uow.complaints.by_number(number)
    if found is not None:
        return found, None
    others = await uow.complaints.by_sequence(prefix, guess.sequence)
    if others:
        candidates = " / ".join(o.number for o in others)
        return None, rt.ctx.t("id", "staff.duplicate_ambiguous", number=number, candidates=candidates)
    return None, rt.ctx.t("id", "staff.duplicate_unknown", number=number)


async def _answer_duplicate(
    rt: Runtime, uow: UnitOfWork, link: MessageLink, complaint: Complaint, actor: StaffActor, text: str, *,
    chat_id: int, reply_to: int,
) -> None:
    original, problem = await find_original(rt, uow, text) if text.strip() else (None, None)
    if original is not None and problem is None:
        if original.id == complaint.id:
            problem = rt.ctx.t("id", "staff.duplicate_self")
        elif lifecycle.is_terminal(original.status):
            problem = rt.ctx.t("id", "staff.duplicate_closed", number=original.number)
    if original is None or problem is not None:
        problem = problem or rt.ctx.t("id", "staff.duplicate_unreadable", typed="—")
        await refuse(rt, uow, complaint, actor, "duplicate", problem, chat_id)
        if link.role == DUP_PROMPT and not lifecycle.is_terminal(complaint.status):
            link.role = DUP_SPENT  # this prompt has had its answer; the next one asks again
            view = await nearby_for_card(rt, uow, complaint, await build_view(uow, complaint))
            again = cards.render_duplicate_retry(view, problem, rt.ctx, reply_to=reply_to)
            await uow.outbox.enqueue(
                GROUP_CHANNEL, chat_id, again, complaint_id=complaint.id, link_role=DUP_PROMPT,
                link_staff_user_id=actor.user_id, now=rt.clock(),
            )
        return
    refusal = await mark_duplicate(rt, uow, complaint, actor, original)
    if refusal is not None:
        await tell_group(rt, uow, chat_id, refusal, reply_to)
    else:
        await uow.links.close_prompts(complaint.id, OPEN_ROLES, PROMPT_DONE)


async def mark_duplicate(
    rt: Runtime, uow: UnitOfWork, complaint: Complaint, actor: StaffActor, original: Complaint
) -> str | None:
    """Close ``complaint`` as a duplicate of ``original``; its reporter and followers follow the
    original from now on, and hear its number and real status. Returns a refusal, or None."""
    complaint.duplicate_of = original.id  # before the transition: the notice names the original
    alert = await transition(rt, uow, complaint, actor, lifecycle.Action.DUPLICATE, note=original.number)
    if alert.show_alert:
        complaint.duplicate_of = None
        return alert.text
    for citizen_id in (complaint.citizen_id, *await uow.followers.citizen_ids(complaint.id)):
        if citizen_id != original.citizen_id:
            await uow.followers.add(original.id, citizen_id, now=rt.clock())
    await uow.audit.add(
        original.id,
        actor_kind="staff",
        actor_id=actor.user_id,
        actor_name=actor.name,
        action="duplicate_joined",
        note=complaint.number,
        at=rt.clock(),
    )
    await refresh_card(rt, uow, original, await build_view(uow, original))
    return None


__all__ = [
    "PROMPT_ROLES",
    "ROLE_ACTIONS",
    "answer_prompt",
    "ask_original",
    "ask_reject_reason",
    "cancel_prompt",
    "find_original",
    "mark_duplicate",
]
