"""Answering staff without the reply gesture: "send this to the agency for JMB-…? Ya / Bukan".

Why: staff write to a citizen about a complaint and wait for an answer, but most people (on WhatsApp
nearly everyone) just type into the chat instead of replying to the agency's message. Plain text or
a photo sent at the menu (no draft in progress) soon after staff wrote (the service passes those
complaints as :attr:`Incoming.recent_staff`) is therefore held and the citizen is asked whether it is
for the agency; with several such complaints, for which one. "Ya" relays it exactly like a reply
(:class:`~handlers.effects.RelayToAgency`); "Bukan" handles it as the ordinary input it would have
been (a hint, or a photo that starts a draft). Nothing is lost either way, and nothing reaches staff
without the citizen saying so.

What waits is kept in :attr:`Conversation.relay` (only while the question is open). More text or
photos sent before answering join it. When staff no longer count as having written lately, an
unanswered question lapses: the next text is ordinary input again.
"""

from __future__ import annotations

from dataclasses import replace

from handlers.choices import label_key
from handlers.context import FlowContext
from handlers.effects import RelayToAgency
from handlers.events import Event, Photo, Text
from handlers.flow.drafting import _plain, normalise_number
from handlers.flow.intents import EXACT_KINDS, recognise
from handlers.flow.prompts import PROMPTS, _reprompt, _stale
from handlers.flow.turn import Reply, Transition, Turn
from handlers.messages import Button, OutMessage
from handlers.state import Conversation, PendingRelay, Step
from handlers.views import esc

# --- button payloads ------------------------------------------------------------------------------

RELAY_YES = "relay:yes"  # the one complaint asked about
RELAY_NO = "relay:no"  # not for the agency: handle it as ordinary input
RELAY_TO = "relayto:"  # relayto:<number>: for this one of several complaints (one prefix: see _lookup_button)

#: words that answer the question when typed instead of chosen (compared with handlers.choices' label key)
YES_WORDS = frozenset({"ya", "iya", "y", "yes", "ok", "oke", "okay", "kirim", "betul", "benar", "yup", "yap", "sip"})
NO_WORDS = frozenset({"bukan", "tidak", "tdk", "no", "nggak", "ngga", "gak", "enggak", "engga", "tak", "jangan"})
#: what may pile up while the question is open (the group sees at most one message's worth)
MAX_TEXTS = 20
#: typed wishes that are never taken for an answer to staff (a category name alone may well be one)
INTENT_KINDS = frozenset({*EXACT_KINDS, "new"})


# --- the question ---------------------------------------------------------------------------------


def _what(pending: PendingRelay, language: str, ctx: FlowContext) -> str:
    if pending.photos and pending.texts:
        return ctx.t(language, "relay.what_both")
    return ctx.t(language, "relay.what_photo" if pending.photos else "relay.what_text")


def _agency_short(key: str, language: str, ctx: FlowContext) -> str:
    info = ctx.agency(key)
    return (info.short or info.name(language)) if info else key


def prompt_relay_confirm(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    """"Send this to the agency for JMB-…?" (one complaint) or "for which one?" (several)."""
    lang, pending = conv.language, conv.relay
    if pending is None or not pending.targets:  # a damaged row: the menu, rather than a question about nothing
        return PROMPTS[Step.IDLE](conv, ctx)
    what = _what(pending, lang, ctx)
    if len(pending.targets) == 1:
        number, agency = pending.targets[0]
        info = ctx.agency(agency)
        text = ctx.t(lang, "relay.ask_one", what=what, number=esc(number),
                     agency=esc(info.name(lang) if info else agency))
        buttons = ((Button(ctx.t(lang, "relay.yes"), RELAY_YES), Button(ctx.t(lang, "relay.no"), RELAY_NO)),)
        return [OutMessage(text, buttons=buttons)]
    rows = [
        (Button(ctx.t(lang, "relay.target", number=number, agency=_agency_short(agency, lang, ctx)),
                f"{RELAY_TO}{number}"),)
        for number, agency in pending.targets
    ]
    rows.append((Button(ctx.t(lang, "relay.none"), RELAY_NO),))
    return [OutMessage(ctx.t(lang, "relay.ask_which", what=what), buttons=tuple(rows))]


# the step's prompt (used to re-ask after help, a language change or input it cannot use); registered
# here because the prompt needs this module's payloads and prompts.py must not import it
PROMPTS[Step.RELAY_CONFIRM] = prompt_relay_confirm


def _ask(turn: Turn) -> Reply:
    """Hold what the citizen sent and ask; the complaints are those staff wrote about lately."""
    conv, event = turn.conv, turn.event
    pending = PendingRelay(targets=[(r.number, r.agency) for r in turn.incoming.recent_staff])
    _add(pending, event, turn.ctx)
    conv.relay = pending
    conv.step = Step.RELAY_CONFIRM
    return _reprompt(turn)


def _add(pending: PendingRelay, event: Event, ctx: FlowContext) -> None:
    if isinstance(event, Text) and _plain(event.text) and len(pending.texts) < MAX_TEXTS:
        pending.texts.append(_plain(event.text))
    elif isinstance(event, Photo) and len(pending.photos) < ctx.limits.photos_max:
        pending.photos.append((event.media, _plain(event.caption) or None))


def _intent(turn: Turn) -> bool:
    """The text says what the citizen wants ("menu", "status JMB-…", "mau lapor …"): no answer to staff."""
    event = turn.event
    return isinstance(event, Text) and recognise(event.text, turn.ctx, kinds=INTENT_KINDS) is not None


def _offerable(turn: Turn) -> bool:
    event = turn.event
    if not turn.incoming.recent_staff or _intent(turn):
        return False
    return isinstance(event, Photo) or (isinstance(event, Text) and bool(_plain(event.text)))


def offer_relay(ordinary: Transition) -> Transition:
    """The idle cell ``ordinary`` (text or photo at the menu), asking first when staff wrote lately."""

    def handler(turn: Turn) -> Reply:
        return _ask(turn) if _offerable(turn) else ordinary.handler(turn)

    handler.__doc__ = f"Offer it to the agency when staff wrote lately; else {ordinary.handler.__name__}."
    handler.__name__ = f"offer_relay_or_{ordinary.handler.__name__}"
    return Transition(handler, (*(ordinary.targets or (Step.IDLE,)), Step.RELAY_CONFIRM))


# --- the answers ----------------------------------------------------------------------------------


def _relay(turn: Turn, number: str) -> Reply:
    """Hand what waits to the service for ``number``'s group; the chat is back at the menu."""
    conv = turn.conv
    pending = conv.relay or PendingRelay()
    captions = [caption for _media, caption in pending.photos if caption]
    effect = RelayToAgency(
        number=number,
        text="\n\n".join([*pending.texts, *captions]),
        photos=tuple(media for media, _caption in pending.photos),
    )
    conv.relay = None
    conv.step = Step.IDLE
    return Reply(effects=[effect])


def on_relay_yes(turn: Turn) -> Reply:
    pending = turn.conv.relay
    if pending is None or len(pending.targets) != 1:
        return _stale(turn)  # "Ya" from an older one-complaint question while several are asked
    return _relay(turn, pending.targets[0][0])


def on_relay_to(turn: Turn) -> Reply:
    pending = turn.conv.relay
    number = turn.arg
    if pending is None or number not in [n for n, _agency in pending.targets]:
        return _stale(turn)
    return _relay(turn, number)


def _replay(turn: Turn, events: list[Event], notice: str | None) -> Reply:
    """Handle ``events`` as the ordinary input they were, from the menu, without asking again."""
    from handlers.flow.engine import _route  # late: the engine imports the tables, which import this module

    merged = Reply(notices=[notice] if notice else [])
    for event in events:
        incoming = replace(turn.incoming, event=event, recent_staff=())
        transition, arg = _route(turn.conv, event)
        reply = transition.handler(Turn(turn.conv, incoming, turn.ctx, arg))
        merged.notices.extend(reply.notices)
        merged.effects.extend(reply.effects)
        merged.messages = reply.messages  # each step's question replaces the last one
        merged.followup = reply.followup
        merged.alert = reply.alert or merged.alert
    if not events:
        merged.messages = PROMPTS[turn.conv.step](turn.conv, turn.ctx)
    return merged


def on_relay_no(turn: Turn) -> Reply:
    """"Bukan": not for the agency. The texts and photos are handled as at the menu."""
    conv = turn.conv
    pending = conv.relay or PendingRelay()
    conv.relay = None
    conv.step = Step.IDLE
    events: list[Event] = [Text("\n".join(pending.texts))] if pending.texts else []
    events.extend(Photo(media, caption) for media, caption in pending.photos)
    return _replay(turn, events, turn.t("relay.not_sent"))


def _lapsed(turn: Turn) -> bool:
    """Staff no longer count as having written lately about any complaint the question names."""
    pending = turn.conv.relay
    recent = {r.number for r in turn.incoming.recent_staff}
    return pending is None or not recent.intersection(n for n, _agency in pending.targets)


def _start_over(turn: Turn) -> Reply:
    """The open question lapsed (or is damaged): this input is handled as at the menu, which may ask
    afresh about what staff wrote since."""
    turn.conv.relay = None
    turn.conv.step = Step.IDLE
    from handlers.flow.engine import _route  # late: see _replay

    transition, arg = _route(turn.conv, turn.event)
    return transition.handler(Turn(turn.conv, turn.incoming, turn.ctx, arg))


def on_relay_text(turn: Turn) -> Reply:
    """Typed instead of chosen: "ya"/"bukan" (or a tracking number of one of the complaints) answer
    the question; a typed wish ("menu", "mau lapor …") drops it and is done; any other text belongs
    with what waits, and the question is asked again."""
    assert isinstance(turn.event, Text)
    if _lapsed(turn):
        return _start_over(turn)
    pending = turn.conv.relay
    assert pending is not None
    words = label_key(turn.event.text)
    if words in NO_WORDS:
        return on_relay_no(turn)
    if words in YES_WORDS and len(pending.targets) == 1:
        return _relay(turn, pending.targets[0][0])
    typed = normalise_number(turn.event.text)
    if typed in [n for n, _agency in pending.targets]:
        return _relay(turn, typed)
    if _intent(turn):
        return _start_over(turn)
    if words not in YES_WORDS:  # "ya" with several complaints: which one is still the question
        _add(pending, turn.event, turn.ctx)
    return _reprompt(turn)


def on_relay_photo(turn: Turn) -> Reply:
    """A photo before answering joins what waits (a lapsed question starts over)."""
    if _lapsed(turn):
        return _start_over(turn)
    assert turn.conv.relay is not None
    _add(turn.conv.relay, turn.event, turn.ctx)
    return _reprompt(turn)
