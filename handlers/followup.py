"""The follow-up conversation after a complaint is closed: "Apakah masalahnya sudah beres?", the rating, the
reason a fix did not hold, and the appeal against a rejection. Pure and table-driven like
:mod:`handlers.flow`, but its own module with its own table (:data:`TABLE`), so the filing flow does not grow.

Why a separate conversation: the question arrives on the agency's initiative (a clerk pressed *Selesai*)
while the citizen may be doing anything, even filing another complaint, and it is about one complaint that
the citizen may answer hours or days later. So:

* every button names its complaint (``fu:<verb>:<complaint id>[:<n>]``) and is checked against what the
  database says about that complaint (:class:`Subject`, filled by the service), never against what the chat
  happened to show last: a press on an old question acts on that question's complaint or not at all
  (:mod:`handlers.flow.versions`' rule), and a WhatsApp template's quick reply works without a conversation;
* what the conversation remembers (:attr:`Conversation.followup`, see :class:`Pending`) is only the open
  step and what the citizen wrote towards it: while it is open and no draft is in progress, plain text is
  the answer's comment or reason and a photo joins the reason (:func:`wants`), except what clearly starts
  something else (a command, "mau lapor …", a menu word: :mod:`handlers.flow.intents`);
* the database work is asked for as effects (:class:`ConfirmFixed`, :class:`Rate`, :class:`Comment`,
  :class:`Reopen`, :class:`Appeal`), carried out by :mod:`bot.services.followup` in the same transaction.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

from handlers import choices
from handlers.choices import label_key
from handlers.context import FlowContext
from handlers.events import ButtonPress, Command, Incoming, Photo, Text
from handlers.flow import versions
from handlers.flow.intents import recognise
from handlers.flow.prompts import prompt as flow_prompt
from handlers.followup_types import (
    INTENT_KINDS,
    MAX_TEXTS,
    NO_WORDS,
    PREFIX,
    STARS_TYPED,
    TEXT_WINDOW,
    YES_WORDS,
    Appeal,
    Comment,
    ConfirmFixed,
    FollowupEffect,
    FuStep,
    Pending,
    Press,
    Rate,
    Reopen,
    Subject,
    Verb,
    is_followup_press,
    parse,
    payload,
    pending,
)
from handlers.messages import Alert, Button, OutMessage
from handlers.state import Conversation, Step
from handlers.text import clean_text
from handlers.views import MENU_NEW, agency_display, esc, menu_rows, truncate

log = logging.getLogger(__name__)

#: the rating buttons' labels, one star to five
RATE_KEYS = ("followup.rate.poor", "followup.rate.fair", "followup.rate.ok", "followup.rate.good",
             "followup.rate.excellent")


@dataclass(slots=True)
class FuTurn:
    """One event being handled; ``state`` is the open question when it is about ``subject``."""

    conv: Conversation
    incoming: Incoming
    ctx: FlowContext
    subject: Subject
    state: Pending | None
    now: datetime | None
    press: Press | None = None

    def t(self, key: str, **params: object) -> str:
        return self.ctx.t(self.conv.language, key, **params)


@dataclass(slots=True)
class FuOutcome:
    """The result of one follow-up event, like :class:`handlers.flow.Outcome`: the new state, what to
    say (buttons stamped with the menu version), what the service must do, a toast for the press."""

    conversation: Conversation
    messages: list[OutMessage]
    effects: list[FollowupEffect]
    alert: Alert | None = None


@dataclass(slots=True)
class FuReply:
    messages: list[OutMessage] = field(default_factory=list)
    effects: list[FollowupEffect] = field(default_factory=list)
    alert: Alert | None = None


# --- texts ----------------------------------------------------------------------------------------


def _agency(turn: FuTurn, key: str) -> str:
    return esc(agency_display(key, turn.conv.language, turn.ctx))


def _question(turn: FuTurn, *notices: str) -> list[OutMessage]:
    cid = turn.subject.complaint_id
    buttons = ((Button(turn.t("followup.yes"), payload(Verb.YES, cid)),
                Button(turn.t("followup.no"), payload(Verb.NO, cid))),)
    text = "\n\n".join([*notices, turn.t("followup.ask", number=esc(turn.subject.number)), turn.t("followup.ask_hint")])
    return [OutMessage(text, buttons=buttons)]


def _rating(turn: FuTurn, *notices: str) -> list[OutMessage]:
    cid = turn.subject.complaint_id
    rows = tuple((Button(turn.t(key), payload(Verb.RATE, cid, n)),) for n, key in enumerate(RATE_KEYS, start=1))
    text = "\n\n".join([*notices, turn.t("followup.ask_rating", number=esc(turn.subject.number))])
    return [OutMessage(text, buttons=rows)]


def _comment(turn: FuTurn, *notices: str) -> list[OutMessage]:
    skip = ((Button(turn.t("followup.skip"), payload(Verb.SKIP, turn.subject.complaint_id)),),)
    return [OutMessage("\n\n".join([*notices, turn.t("followup.ask_comment")]), buttons=skip)]


def _what(turn: FuTurn, state: Pending) -> str:
    parts = []
    if state.texts:
        parts.append(turn.t("followup.count_texts", n=len(state.texts)))
    if state.photos:
        parts.append(turn.t("followup.count_photos", n=len(state.photos)))
    return ", ".join(parts)


def _reason(turn: FuTurn, *notices: str) -> list[OutMessage]:
    cid, state = turn.subject.complaint_id, turn.state
    back = Button(turn.t("followup.back"), payload(Verb.BACK, cid))
    if state is None or not (state.texts or state.photos):
        text = turn.t("followup.ask_reason", number=esc(turn.subject.number))
        return [OutMessage("\n\n".join([*notices, text]), buttons=((back,),))]
    text = turn.t("followup.reason_kept", what=_what(turn, state), agency=_agency(turn, turn.subject.agency))
    send = Button(turn.t("followup.send_reopen"), payload(Verb.SEND, cid))
    return [OutMessage("\n\n".join([*notices, text]), buttons=((send,), (back,)))]


def _appeal(turn: FuTurn, *notices: str) -> list[OutMessage]:
    cid, state = turn.subject.complaint_id, turn.state
    centre = _agency(turn, turn.subject.command_centre)
    back = Button(turn.t("followup.back"), payload(Verb.BACK, cid))
    if state is None or not state.texts:
        text = turn.t("followup.ask_appeal", number=esc(turn.subject.number), centre=centre)
        return [OutMessage("\n\n".join([*notices, text]), buttons=((back,),))]
    send = Button(turn.t("followup.send_appeal"), payload(Verb.SEND, cid))
    text = turn.t("followup.appeal_kept", centre=centre)
    return [OutMessage("\n\n".join([*notices, text]), buttons=((send,), (back,)))]


PROMPTS: dict[FuStep, Callable[..., list[OutMessage]]] = {
    FuStep.ANSWER: _question,
    FuStep.RATING: _rating,
    FuStep.COMMENT: _comment,
    FuStep.REASON: _reason,
    FuStep.APPEAL: _appeal,
}


def _done(turn: FuTurn, *lines: str) -> list[OutMessage]:
    """The question is over: say so, with the main menu (never a dead end). A draft in progress is
    asked again after it."""
    turn.conv.followup = {}
    lang = turn.conv.language
    if turn.conv.step != Step.IDLE:
        first, *rest = flow_prompt(turn.conv, turn.ctx)
        return [OutMessage("\n\n".join(lines)), replace(first, text=f"{turn.t('draft.back_to_draft')}\n\n{first.text}"),
                *rest]
    return [OutMessage("\n\n".join(lines), buttons=menu_rows(lang, turn.ctx))]


def _open(turn: FuTurn, step: FuStep, *notices: str, keep: bool = True) -> FuReply:
    """Move the open question to ``step`` (for this subject) and ask it."""
    old = turn.state if keep and turn.state is not None else None
    at = turn.now.isoformat() if turn.now is not None else None
    turn.state = Pending(turn.subject.complaint_id, turn.subject.number, step,
                         list(old.texts) if old else [], list(old.photos) if old else [], at)
    turn.conv.followup = turn.state.to_dict()
    return FuReply(messages=PROMPTS[step](turn, *notices))


def _stale(turn: FuTurn, key: str = "followup.stale", **params: object) -> FuReply:
    """A press that no longer applies: say so; ask the open question again, or what the flow waits for."""
    notice = turn.t(key, number=esc(turn.subject.number), **params)
    reply = FuReply(alert=Alert(turn.t("followup.stale_alert")))
    current = pending(turn.conv)
    if current is not None and current.complaint_id == turn.subject.complaint_id:
        reply.messages = PROMPTS[current.step](turn, notice)
    else:
        first, *rest = flow_prompt(turn.conv, turn.ctx)
        reply.messages = [replace(first, text=f"{notice}\n\n{first.text}"), *rest]
    return reply


# --- the handlers ---------------------------------------------------------------------------------


def on_yes(turn: FuTurn) -> FuReply:
    """*Sudah*: confirmed; the rating next. Also after the question was closed unanswered (a late yes
    is still worth a rating), never twice."""
    subject = turn.subject
    if subject.rated or subject.confirmation not in ("asked", "auto"):
        if subject.confirmation == "yes" and not subject.rated:
            return _open(turn, FuStep.RATING)
        return _stale(turn)
    reply = _open(turn, FuStep.RATING)
    reply.effects.append(ConfirmFixed(subject.complaint_id))
    return reply


def on_no(turn: FuTurn) -> FuReply:
    """*Belum*: what is still wrong, when it may still be reopened; after ``reopen_within_days`` a kind
    answer suggesting a new complaint."""
    subject = turn.subject
    if subject.status != "selesai" or subject.confirmation in ("yes", "no"):
        return _stale(turn)
    if not subject.reopen_open:
        turn.conv.followup = {}
        text = turn.t("followup.reopen_late", number=esc(subject.number), days=_days(subject.reopen_days))
        rows = ((Button(turn.t("menu.new"), MENU_NEW),), *menu_rows(turn.conv.language, turn.ctx)[1:])
        return FuReply(messages=[OutMessage(text, buttons=rows)])
    return _open(turn, FuStep.REASON)


def _days(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def on_rate(turn: FuTurn) -> FuReply:
    """⭐ n: stored; then the comment, unless one was written already."""
    subject, press = turn.subject, turn.press
    stars = press.arg if press is not None else None
    if stars is None or not 1 <= stars <= 5 or subject.rated or subject.confirmation not in ("yes", "asked", "auto"):
        return _stale(turn, "followup.already_rated") if subject.rated else _stale(turn)
    return _rated(turn, stars)


def _rated(turn: FuTurn, stars: int) -> FuReply:
    subject, state = turn.subject, turn.state
    comment = "\n".join(state.texts) if state is not None and state.texts else None
    effects: list[FollowupEffect] = []
    if subject.confirmation in ("asked", "auto"):
        effects.append(ConfirmFixed(subject.complaint_id))
    effects.append(Rate(subject.complaint_id, stars, comment))
    if comment:
        key = "followup.thanks_comment"
        return FuReply(messages=_done(turn, turn.t(key, number=esc(subject.number), stars="⭐" * stars)), effects=effects)
    reply = _open(turn, FuStep.COMMENT, turn.t("followup.rating_kept", stars="⭐" * stars), keep=False)
    reply.effects = effects
    return reply


def on_rating_text(turn: FuTurn) -> FuReply:
    """Typed at the rating: "4" (or "4 bintang") is the rating; other text is the comment, and the
    rating is asked again (the buttons stay)."""
    assert isinstance(turn.incoming.event, Text)
    stars = STARS_TYPED.match(turn.incoming.event.text)
    if stars is not None:
        return _rated(turn, int(stars.group(1)))
    _keep(turn, turn.incoming.event)
    return FuReply(messages=_rating(turn, turn.t("followup.comment_kept")))


def on_comment(turn: FuTurn) -> FuReply:
    assert isinstance(turn.incoming.event, Text)
    words = _plain(turn.incoming.event.text)
    subject = turn.subject
    return FuReply(messages=_done(turn, turn.t("followup.thanks_comment_only", number=esc(subject.number))),
                   effects=[Comment(subject.complaint_id, words)])


def on_skip(turn: FuTurn) -> FuReply:
    return FuReply(messages=_done(turn, turn.t("followup.thanks", number=esc(turn.subject.number))))


def on_answer_text(turn: FuTurn) -> FuReply:
    """Typed at "is it fixed?": "sudah"/"belum" answer it; any other text is kept as the answer's
    comment or reason, and the question is asked again (the buttons stay)."""
    assert isinstance(turn.incoming.event, Text)
    words = label_key(turn.incoming.event.text)
    if words in YES_WORDS:
        return on_yes(turn)
    if words in NO_WORDS:
        return on_no(turn)
    _keep(turn, turn.incoming.event)
    return FuReply(messages=_question(turn, turn.t("followup.note_kept")))


def on_answer_photo(turn: FuTurn) -> FuReply:
    _keep(turn, turn.incoming.event)
    return FuReply(messages=_question(turn, turn.t("followup.photo_kept")))


def on_reason_part(turn: FuTurn) -> FuReply:
    """Text or a photo towards "what is still wrong": kept; send or add more."""
    _keep(turn, turn.incoming.event)
    return FuReply(messages=_reason(turn))


def on_reopen(turn: FuTurn) -> FuReply:
    """📨 Kirim: reopen with what was written (the service says how it went)."""
    subject, state = turn.subject, turn.state
    if state is None or state.step != FuStep.REASON or subject.status != "selesai" or not subject.reopen_open:
        return _stale(turn)
    if not (state.texts or state.photos):
        return FuReply(messages=_reason(turn, turn.t("followup.reason_missing")))
    turn.conv.followup = {}
    return FuReply(effects=[Reopen(subject.complaint_id, "\n".join(state.texts), tuple(state.photos))])


def on_back(turn: FuTurn) -> FuReply:
    """↩️ Batal under the reason: back to "is it fixed?" (nothing is reopened)."""
    if turn.subject.confirmation != "asked" or turn.subject.status != "selesai":
        turn.conv.followup = {}
        return FuReply(messages=_done(turn, turn.t("followup.nothing_sent")))
    return _open(turn, FuStep.ANSWER, keep=False)


def on_appeal(turn: FuTurn) -> FuReply:
    """⚖️ Ajukan keberatan (under a rejection notice or in /status): ask why, once per complaint."""
    subject = turn.subject
    if not subject.appeal_open:
        key = "followup.appeal_closed" if subject.status == "ditolak" else "followup.appeal_not_rejected"
        return _stale(turn, key)
    if turn.state is not None and turn.state.step == FuStep.APPEAL:
        return FuReply(messages=_appeal(turn))
    return _open(turn, FuStep.APPEAL, keep=False)


def on_appeal_text(turn: FuTurn) -> FuReply:
    _keep(turn, turn.incoming.event)
    return FuReply(messages=_appeal(turn))


def on_appeal_photo(turn: FuTurn) -> FuReply:
    return FuReply(messages=_appeal(turn, turn.t("followup.appeal_text_only")))


def on_appeal_send(turn: FuTurn) -> FuReply:
    subject, state = turn.subject, turn.state
    if state is None or state.step != FuStep.APPEAL or not subject.appeal_open:
        return _stale(turn)
    if not state.texts:
        return FuReply(messages=_appeal(turn, turn.t("followup.appeal_text_only")))
    turn.conv.followup = {}
    return FuReply(effects=[Appeal(subject.complaint_id, "\n".join(state.texts))])


def on_appeal_back(turn: FuTurn) -> FuReply:
    return FuReply(messages=_done(turn, turn.t("followup.nothing_sent")))


def on_unusable(turn: FuTurn) -> FuReply:
    """Something the open step cannot use (a photo for a comment): say what it waits for."""
    step = turn.state.step if turn.state is not None else FuStep.ANSWER
    return FuReply(messages=PROMPTS[step](turn, turn.t("followup.text_please")))


def _plain(text: str) -> str:
    return clean_text(text or "").strip()


def _keep(turn: FuTurn, event: object) -> None:
    """Add a text or photo to the open question (about this subject, at its current step)."""
    state = turn.state
    if state is None:
        return
    if isinstance(event, Text) and _plain(event.text) and len(state.texts) < MAX_TEXTS:
        state.texts.append(truncate(_plain(event.text), 1000))
    elif isinstance(event, Photo) and len(state.photos) < turn.ctx.limits.photos_max:
        state.photos.append(event.media)
        if event.caption and _plain(event.caption) and len(state.texts) < MAX_TEXTS:
            state.texts.append(truncate(_plain(event.caption), 1000))
    if turn.now is not None:
        state.at = turn.now.isoformat()
    turn.conv.followup = state.to_dict()


# --- the table ------------------------------------------------------------------------------------

Handler = Callable[[FuTurn], FuReply]

#: buttons that mean the same at any step: they name their complaint, which the service checked
GLOBAL: dict[str, Handler] = {
    Verb.YES: on_yes,
    Verb.NO: on_no,
    Verb.RATE: on_rate,
    Verb.APPEAL: on_appeal,
}

#: (open step, trigger) -> handler; a trigger is a verb of the step's own buttons, ``text`` or ``photo``.
#: Whatever is not listed is stale (a press) or unusable (typed).
TABLE: dict[tuple[FuStep, str], Handler] = {
    (FuStep.ANSWER, "text"): on_answer_text,
    (FuStep.ANSWER, "photo"): on_answer_photo,
    (FuStep.RATING, "text"): on_rating_text,
    (FuStep.COMMENT, "text"): on_comment,
    (FuStep.COMMENT, Verb.SKIP): on_skip,
    (FuStep.REASON, "text"): on_reason_part,
    (FuStep.REASON, "photo"): on_reason_part,
    (FuStep.REASON, Verb.SEND): on_reopen,
    (FuStep.REASON, Verb.BACK): on_back,
    (FuStep.APPEAL, "text"): on_appeal_text,
    (FuStep.APPEAL, "photo"): on_appeal_photo,
    (FuStep.APPEAL, Verb.SEND): on_appeal_send,
    (FuStep.APPEAL, Verb.BACK): on_appeal_back,
}

#: which steps take which typed input at all (the rest goes to the filing flow, see :func:`wants`)
_TAKES: dict[FuStep, tuple[type, ...]] = {
    FuStep.ANSWER: (Text, Photo),
    FuStep.RATING: (Text,),
    FuStep.COMMENT: (Text,),
    FuStep.REASON: (Text, Photo),
    FuStep.APPEAL: (Text, Photo),
}


def _route(turn: FuTurn) -> Handler:
    event = turn.incoming.event
    if turn.press is not None:
        if turn.press.verb in GLOBAL:
            return GLOBAL[turn.press.verb]
        step = turn.state.step if turn.state is not None else None
        handler = TABLE.get((step, turn.press.verb)) if step is not None else None
        return handler or (lambda t: _stale(t))
    kind = "text" if isinstance(event, Text) else "photo" if isinstance(event, Photo) else ""
    if turn.state is None:
        return on_unusable
    return TABLE.get((turn.state.step, kind), on_unusable)


# --- the entry points -----------------------------------------------------------------------------


def resolve(conv: Conversation, incoming: Incoming, commands: frozenset[str] | None = None) -> Incoming:
    """A typed answer to the last menu (WhatsApp "2", or a label) as the press it stands for."""
    from handlers.flow.intents import command_takes_args
    from handlers.flow.tables import GLOBAL_COMMANDS

    return choices.resolve(conv, incoming, commands=commands or GLOBAL_COMMANDS.keys(),
                           takes_args=command_takes_args)


def subject_ref(conv: Conversation, incoming: Incoming) -> str | None:
    """The complaint this event would be about (a follow-up press's, else the open question's), for the
    service to load as the :class:`Subject`; None when the follow-up has nothing to do with it."""
    event = resolve(conv, incoming).event
    if isinstance(event, ButtonPress):
        press = parse(event.payload or "")
        return press.ref if press is not None else None
    state = pending(conv)
    return str(state.complaint_id) if state is not None else None


def _parse_at(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def lapsed(conv: Conversation, subject: Subject | None, now: datetime | None) -> bool:
    """The open question no longer holds: its complaint moved on (answered elsewhere, closed, reopened),
    or a rating/reason/appeal was left alone for :data:`TEXT_WINDOW`."""
    state = pending(conv)
    if state is None:
        return bool(conv.followup)  # a damaged one
    if subject is None or subject.complaint_id != state.complaint_id:
        return True
    fits = {
        FuStep.ANSWER: subject.confirmation == "asked" and subject.status == "selesai",
        FuStep.RATING: not subject.rated,
        FuStep.COMMENT: True,
        FuStep.REASON: subject.status == "selesai" and subject.reopen_open and subject.confirmation == "asked",
        FuStep.APPEAL: subject.appeal_open,
    }[state.step]
    at = _parse_at(state.at)
    old = (state.step != FuStep.ANSWER and now is not None and at is not None
           and (at.tzinfo is None) == (now.tzinfo is None) and now - at > TEXT_WINDOW)
    return not fits or old


def wants(conv: Conversation, incoming: Incoming, ctx: FlowContext, subject: Subject | None,
          now: datetime | None = None) -> bool:
    """Does the follow-up handle this event rather than the filing flow? Its own buttons, always (typed
    ones too); text or a photo only while its question is open about ``subject``, no draft or other
    question is in progress, and the text does not clearly start something else."""
    resolved = resolve(conv, incoming)
    event = resolved.event
    if isinstance(event, ButtonPress):
        return parse(event.payload or "") is not None
    if isinstance(event, Command) or subject is None or conv.step != Step.IDLE or lapsed(conv, subject, now):
        return False
    state = pending(conv)
    if state is None or not isinstance(event, _TAKES[state.step]):
        return False
    if isinstance(event, Text):
        if not _plain(event.text):
            return False
        return recognise(event.text, ctx, kinds=INTENT_KINDS) is None
    return True


#: commands (and typed wishes) that leave a rating, comment, reason or appeal being written: the citizen
#: went back to the menu, so later text is not taken for it (its buttons still work; "is it fixed?" stays)
LEAVING_COMMANDS = frozenset({"batal", "cancel", "menu", "start"})
LEAVING_INTENTS = frozenset({"cancel", "menu"})


def abandons(conv: Conversation, incoming: Incoming, ctx: FlowContext) -> bool:
    """Does this event leave the open rating/comment/reason/appeal (``/batal``, "menu", "gak jadi")?"""
    state = pending(conv)
    if state is None or state.step == FuStep.ANSWER:
        return False
    event = resolve(conv, incoming).event
    if isinstance(event, Command):
        return (event.name or "").lower().lstrip("/") in LEAVING_COMMANDS
    if isinstance(event, Text):
        intent = recognise(event.text, ctx, kinds=INTENT_KINDS)
        return intent is not None and intent.kind in LEAVING_INTENTS
    return False


def _outcome(conv: Conversation, reply: FuReply, press: ButtonPress | None) -> FuOutcome:
    messages = versions.present(conv, reply.messages)
    used: list[OutMessage] = []
    if press is not None and press.message_id and not any(
        m.edit is not None and m.edit.message_id == press.message_id for m in messages
    ):
        used = [versions.buttons_off(press.message_id)]
    return FuOutcome(conversation=conv, messages=[*used, *messages], effects=list(reply.effects), alert=reply.alert)


def handle(conv: Conversation, incoming: Incoming, ctx: FlowContext, subject: Subject,
           now: datetime | None = None) -> FuOutcome:
    """Handle one follow-up event about ``subject``. Never mutates ``conv``; never raises (a bug is a
    polite "please try again" with the state kept)."""
    try:
        work = copy.deepcopy(conv)
        resolved = resolve(work, incoming)
        event = resolved.event
        press = parse(event.payload or "") if isinstance(event, ButtonPress) else None
        state = pending(work)
        if state is not None and state.complaint_id != subject.complaint_id:
            state = None  # a press about another complaint: the open question is left as it is
        turn = FuTurn(work, resolved, ctx, subject, state, now, press)
        reply = _route(turn)(turn)
        pressed = event if isinstance(event, ButtonPress) and isinstance(incoming.event, ButtonPress) else None
        return _outcome(work, reply, pressed)
    except Exception:  # a bug: the citizen gets "please try again", the operator the traceback
        log.exception("the follow-up core failed on a %s event", type(incoming.event).__name__)
        kept = copy.deepcopy(conv)
        return FuOutcome(conversation=kept, messages=[OutMessage(ctx.t(kept.language, "error.generic"))], effects=[])


def ask(conv: Conversation, ctx: FlowContext, subject: Subject, now: datetime | None = None) -> FuOutcome:
    """"Apakah masalahnya sudah beres?" about ``subject``: the question becomes the open one (a rating
    or reason still open about another complaint is left behind; its buttons keep working)."""
    work = copy.deepcopy(conv)
    turn = FuTurn(work, Incoming(Text("")), ctx, subject, None, now)
    reply = _open(turn, FuStep.ANSWER, keep=False)
    return _outcome(work, reply, None)


def forget(conv: Conversation, complaint_id: int | None = None) -> Conversation:
    """The conversation without its open question (only if it is about ``complaint_id``, when given)."""
    state = pending(conv)
    if not conv.followup or (complaint_id is not None and state is not None and state.complaint_id != complaint_id):
        return conv
    work = copy.deepcopy(conv)
    work.followup = {}
    return work


def appeal_row(complaint_id: int, language: str, ctx: FlowContext) -> tuple[Button, ...]:
    """The ⚖️ Ajukan keberatan button under a rejection notice or a rejected complaint's status."""
    return (Button(ctx.t(language, "followup.appeal_button"), payload(Verb.APPEAL, complaint_id)),)


__all__ = [
    "GLOBAL",
    "LEAVING_COMMANDS",
    "PREFIX",
    "TABLE",
    "Appeal",
    "Comment",
    "ConfirmFixed",
    "FollowupEffect",
    "FuOutcome",
    "FuStep",
    "Pending",
    "Press",
    "Rate",
    "Reopen",
    "Subject",
    "Verb",
    "abandons",
    "appeal_row",
    "ask",
    "forget",
    "handle",
    "is_followup_press",
    "lapsed",
    "parse",
    "payload",
    "pending",
    "resolve",
    "subject_ref",
    "wants",
]
