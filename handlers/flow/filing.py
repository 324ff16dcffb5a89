"""The steps of filing a complaint: category, description, photos, location, summary, duplicates."""

from __future__ import annotations

import copy
from dataclasses import replace

from handlers.context import CategoryInfo, FlowContext
from handlers.effects import FollowComplaint, SubmitDraft
from handlers.events import (
    AddressMatch,
    ButtonPress,
    Location,
    Nearby,
    Photo,
    Text,
)
from handlers.flow import longtext
from handlers.flow.abuse import offer_refiled
from handlers.flow.drafting import (
    _outside,
    _photo_required,
    _plain,
    _reset,
    _store_photo,
    _store_pin,
    _too_long,
    _too_short,
    _valid_pin,
    next_step,
)
from handlers.flow.general import (
    _missed,
    on_intent,
    on_unexpected,
)
from handlers.flow.intents import EXACT_KINDS, recognise
from handlers.flow.payloads import (
    EDIT_TARGETS,
    PHOTO_DONE,
)
from handlers.flow.prompts import (
    _advance,
    _prompt_duplicates,
    _reprompt,
    _stale,
)
from handlers.flow.turn import (
    Reply,
    Turn,
)
from handlers.lifecycle import status_label
from handlers.messages import EDIT_CONTENT, Button, EditTarget, OutMessage
from handlers.state import Draft, Step
from handlers.text import parse_int, visible_length
from handlers.views import (
    category_display,
    esc,
    truncate,
)

#: ``Incoming.extra`` key the service sets when a typed address could not be searched just now (the
#: geocoder busy, failing or resting: bot.services.places.find_address): kept as typed, a pin is suggested
ADDRESS_SEARCH_UNAVAILABLE = "address_search_unavailable"


def _refuse_outside(turn: Turn) -> Reply:
    """A pin outside the area served: say which area is served; the draft keeps its earlier location."""
    return _reprompt(turn, turn.t("location.outside", city=esc(turn.ctx.city_name)))



# --- filing handlers ------------------------------------------------------------------------------


def on_idle_text(turn: Turn) -> Reply:
    return _reprompt(turn, turn.t("idle.hint", city=esc(turn.ctx.city_name)))


def on_idle_photo(turn: Turn) -> Reply:
    """A photo with no draft starts one with it, then asks what is missing (the category)."""
    assert isinstance(turn.event, Photo)
    turn.conv.draft = Draft()
    offered = _store_photo(turn.draft, turn.event, turn.ctx)
    return _advance(turn, turn.t("filing.photo_kept"), *([turn.t("drafts.caption_kept")] if offered else []))


def _unusable_pin(turn: Turn, loc: Location) -> Reply | None:
    """The answer to a pin that cannot be kept (not a real coordinate, or outside the area served);
    None when it can be stored."""
    if not _valid_pin(loc):
        return on_unexpected(turn)
    if _outside(loc):
        return _refuse_outside(turn)
    return None


def on_idle_location(turn: Turn) -> Reply:
    assert isinstance(turn.event, Location)
    refused = _unusable_pin(turn, turn.event)
    if refused is not None:
        return refused
    turn.conv.draft = Draft()
    _store_pin(turn.draft, turn.event, turn.ctx)
    return _advance(turn, turn.t("filing.location_kept"))


def _choose_category(turn: Turn, info: CategoryInfo) -> Reply:
    turn.draft.category = info.key
    chosen = turn.t("filing.category_chosen", category=esc(f"{info.emoji} {info.label(turn.conv.language)}"))
    return _advance(turn, chosen)


def on_category_button(turn: Turn) -> Reply:
    info = turn.ctx.category(turn.arg)
    return _choose_category(turn, info) if info else _stale(turn)


def _match_category(text: str, ctx: FlowContext) -> CategoryInfo | None:
    """Typed category: its key, a label in any language (emoji optional) or its number in the list."""
    wanted = _plain(text).casefold()
    number = parse_int(wanted, 1, len(ctx.categories))  # ASCII digits only: "²".isdigit() is True
    if number is not None:
        return ctx.categories[number - 1]
    for info in ctx.categories:
        names = {info.key.casefold()}
        for label in info.labels.values():
            names |= {label.casefold(), f"{info.emoji} {label}".casefold()}
        if wanted in names:
            return info
    return None


def on_category_text(turn: Turn) -> Reply:
    assert isinstance(turn.event, Text)
    info = _match_category(turn.event.text, turn.ctx)
    return _choose_category(turn, info) if info else on_unexpected(turn)


def on_description_text(turn: Turn) -> Reply:
    """Keep the description if it is within bounds. A word that means something else ("menu",
    "batal", "status JMB-…") is done instead: no story is that short or looks like that. Too long:
    one offer to keep the first part or write a shorter one (:mod:`handlers.flow.longtext`, which
    also adds the parts of a paste that follow within seconds). Too short: the bounds and the count."""
    assert isinstance(turn.event, Text)
    text = _plain(turn.event.text)
    limits = turn.ctx.limits
    intent = recognise(text, turn.ctx, kinds=EXACT_KINDS)
    if intent is not None:
        return on_intent(turn, intent)
    turn.conv.paste = {}
    if _too_long(text, limits.description_max):
        longtext.remember(turn, text, over=True)
        return longtext.offer_cut(turn, text)
    if _too_short(text, limits.description_min):
        message = turn.t("filing.description_too_short", count=visible_length(text), bound=limits.description_min)
        return _missed(turn, message, reply=Reply(messages=[OutMessage(message)]))
    turn.draft.description = text
    longtext.remember(turn, text, over=False)
    return _advance(turn, turn.t("filing.description_saved"))


def on_keep_photo(turn: Turn) -> Reply:
    """A photo before (or after) it was asked for: keep it, say so, carry on with the current step."""
    assert isinstance(turn.event, Photo)
    most = turn.ctx.limits.photos_max
    if len(turn.draft.photos) >= most:
        return _reprompt(turn, turn.t("filing.photos_full", max=most))
    offered = _store_photo(turn.draft, turn.event, turn.ctx)
    notices = [turn.t("filing.photo_kept")]
    if offered and turn.conv.step != Step.DESCRIPTION:  # at the description step the prompt offers it
        notices.append(turn.t("drafts.caption_kept"))
    return _reprompt(turn, *notices)


def on_use_caption(turn: Turn) -> Reply:
    """"Pakai keterangan foto": the caption on offer becomes the description."""
    draft = turn.draft
    if not draft.caption or draft.description:
        return _stale(turn)
    draft.description = draft.caption
    return _advance(turn, turn.t("filing.caption_used"))


def on_keep_location(turn: Turn) -> Reply:
    """A map pin before the location step: keep it (the location step will then be skipped)."""
    assert isinstance(turn.event, Location)
    refused = _unusable_pin(turn, turn.event)
    if refused is not None:
        return refused
    _store_pin(turn.draft, turn.event, turn.ctx)
    return _reprompt(turn, turn.t("filing.location_kept"))


def on_photo(turn: Turn) -> Reply:
    """In the photo step: count it; at the maximum move on by itself."""
    assert isinstance(turn.event, Photo)
    draft, most = turn.draft, turn.ctx.limits.photos_max
    if len(draft.photos) >= most:
        return _advance(turn, turn.t("filing.photos_full", max=most))
    _store_photo(draft, turn.event, turn.ctx)
    count = len(draft.photos)
    received = turn.t("filing.photo_received", n=count, max=most)
    if count >= most:
        return _advance(turn, received)
    done = ((Button(turn.t("button.photo_done"), PHOTO_DONE),),)
    return Reply(messages=[OutMessage(f"{received}\n{turn.t('filing.photo_more')}", buttons=done)])


def on_photos_done(turn: Turn) -> Reply:
    """"Done": move on with the photos we have (when replacing photos and none came, keep the old)."""
    draft = turn.draft
    if not draft.photos and draft.previous_photos:
        draft.photos, draft.previous_photos = list(draft.previous_photos), []
        return _advance(turn, turn.t("filing.photos_unchanged"))
    if not draft.photos:
        if _photo_required(draft, turn.ctx):
            return _reprompt(turn, turn.t("filing.photo_required"))
        draft.photos_skipped = True
    return _advance(turn)


def on_photos_skip(turn: Turn) -> Reply:
    """"Skip": only for categories where a photo is optional; with photos already, same as done."""
    draft = turn.draft
    if draft.photos:
        return _advance(turn)
    if _photo_required(draft, turn.ctx):
        return _reprompt(turn, turn.t("filing.photo_required"))
    draft.photos_skipped = True
    draft.previous_photos = []
    return _advance(turn, turn.t("filing.photos_skipped"))


def _keywords(turn: Turn, key: str) -> set[str]:
    """Words typed instead of pressing a button, in every language (handy on WhatsApp)."""
    words: set[str] = set()
    for language in turn.ctx.languages:
        words |= {w.strip().casefold() for w in turn.ctx.t(language, key).split(",") if w.strip()}
    return words


def on_photos_text(turn: Turn) -> Reply:
    assert isinstance(turn.event, Text)
    typed = _plain(turn.event.text).strip(".!").casefold()
    if typed in _keywords(turn, "keywords.done"):
        return on_photos_done(turn)
    if typed in _keywords(turn, "keywords.skip"):
        return on_photos_skip(turn)
    return on_unexpected(turn)


def on_location_pin(turn: Turn) -> Reply:
    assert isinstance(turn.event, Location)
    refused = _unusable_pin(turn, turn.event)
    if refused is not None:
        return refused
    _store_pin(turn.draft, turn.event, turn.ctx)
    return _advance(turn, turn.t("filing.location_received"))


def on_location_text(turn: Turn) -> Reply:
    """A typed address instead of a pin (it replaces an earlier pin)."""
    assert isinstance(turn.event, Text)
    text = _plain(turn.event.text)
    limits = turn.ctx.limits
    short = _too_short(text, limits.address_min)
    if short or _too_long(text, limits.address_max):
        count = visible_length(text) if short else len(text)
        message = turn.t("filing.address_bounds", count=count, min=limits.address_min, max=limits.address_max)
        return Reply(messages=[OutMessage(message)])
    draft = turn.draft
    draft.address, draft.latitude, draft.longitude = text, None, None
    draft.kecamatan = draft.kelurahan = draft.place = None
    matches = turn.incoming.matches[:3]
    if matches:
        draft.address_matches = [m.to_dict() for m in matches]
        turn.conv.step = Step.ADDRESS_PICK
        return _reprompt(turn)
    if turn.incoming.extra.get(ADDRESS_SEARCH_UNAVAILABLE):
        return _advance(turn, turn.t("filing.address_received"), turn.t("places2.search_unavailable"))
    return _advance(turn, turn.t("filing.address_received"))


def _finished_draft(turn: Turn) -> Draft:
    submitted = copy.deepcopy(turn.draft)
    submitted.editing = None
    submitted.previous_photos = []
    submitted.nearby_offered = []
    _reset(turn.conv)
    return submitted


def on_address_match(turn: Turn) -> Reply:
    """"Yes, this place": the typed address gets the candidate's pin and district."""
    draft = turn.draft
    index = parse_int(turn.arg, 0, len(draft.address_matches) - 1)  # "addr:-1" is not the last one
    if index is None:
        return _stale(turn)
    try:
        match = AddressMatch.from_dict(draft.address_matches[index])
    except (ValueError, IndexError, KeyError, TypeError):
        return _stale(turn)
    typed = draft.address
    _store_pin(draft, Location(match.latitude, match.longitude, place=match.place), turn.ctx)
    draft.address = typed
    draft.address_matches = []
    return _advance(turn, turn.t("filing.location_received"))


def on_address_as_typed(turn: Turn) -> Reply:
    turn.draft.address_matches = []
    return _advance(turn, turn.t("filing.address_received"))


def on_address_pin_instead(turn: Turn) -> Reply:
    turn.draft.address_matches = []
    turn.draft.address = None
    turn.conv.step = Step.LOCATION
    return _reprompt(turn)


def on_send(turn: Turn) -> Reply:
    """File the draft: one SubmitDraft, the conversation back to the menu (the service confirms).
    With open complaints of the same kind close by, first ask whether it is one of those."""
    if next_step(turn.draft, turn.ctx) != Step.SUMMARY:
        return _advance(turn)
    refiled = turn.incoming.refiled
    if refiled and turn.draft.refiled_offered != refiled:  # their own complaint of today: ask once (flow.abuse)
        return offer_refiled(turn, refiled)
    return on_send_anyway(turn)


def on_send_anyway(turn: Turn) -> Reply:
    """*📨 Tetap kirim* after "sudah dilaporkan", and the rest of :func:`on_send`."""
    if next_step(turn.draft, turn.ctx) != Step.SUMMARY:
        return _advance(turn)
    nearby = turn.incoming.nearby[:3]
    if nearby and not turn.draft.nearby_offered:
        return _offer_nearby(turn, nearby)
    return Reply(effects=[SubmitDraft(_finished_draft(turn))])


def _offer_nearby(turn: Turn, nearby: tuple[Nearby, ...]) -> Reply:
    """Short cards of the nearby complaints (photo, number, status, distance, description), then one
    menu: the same as one of them, or a different problem."""
    lang, ctx = turn.conv.language, turn.ctx
    turn.draft.nearby_offered = [n.number for n in nearby]
    turn.conv.step = Step.DUPLICATES
    cards = [
        OutMessage(
            ctx.t(
                lang,
                "dup.card",
                number=esc(n.number),
                status=status_label(n.status, lang, ctx),
                distance=round(n.distance_m),
                description=esc(truncate(n.description, 160)),
            ),
            photos=(n.photo,) if n.photo else (),
        )
        if n.public else _confidential_card(n, turn)
        for n in nearby
    ]
    intro = OutMessage(ctx.t(lang, "dup.intro", count=len(nearby)))
    return Reply(messages=[intro, *cards, *_prompt_duplicates(turn.conv, ctx)])


def _confidential_card(n: Nearby, turn: Turn) -> OutMessage:
    """A Rahasia complaint offered as "the same problem?": its category, status and distance only
    (never another citizen's words or photo, see handlers.privacy)."""
    lang, ctx = turn.conv.language, turn.ctx
    category = category_display(n.category or turn.draft.category, lang, ctx)
    text = ctx.t(lang, "privacy.dup_card", number=esc(n.number), category=esc(category),
                 status=status_label(n.status, lang, ctx), distance=round(n.distance_m))
    return OutMessage(text)


def on_same_problem(turn: Turn) -> Reply:
    """"Same as JMB-...": follow that complaint instead of filing a new one."""
    number = turn.arg
    if number not in turn.draft.nearby_offered:
        return _stale(turn)
    return Reply(effects=[FollowComplaint(number, _finished_draft(turn))])


def on_different_problem(turn: Turn) -> Reply:
    return Reply(effects=[SubmitDraft(_finished_draft(turn))])


def on_back_to_summary(turn: Turn) -> Reply:
    turn.draft.nearby_offered = []
    turn.conv.step = Step.SUMMARY
    return _reprompt(turn)


def on_edit(turn: Turn) -> Reply:
    turn.conv.step = Step.EDIT_MENU
    return _reprompt(turn)


def on_edit_field(turn: Turn) -> Reply:
    """Go to the chosen field's step; after it is given, :func:`_advance` returns to the summary."""
    target = EDIT_TARGETS.get(turn.arg)
    if target is None:
        return _stale(turn)
    draft = turn.draft
    draft.editing = turn.arg
    if target == Step.PHOTOS:
        draft.previous_photos, draft.photos = list(draft.photos), []
        draft.photos_skipped = False
    turn.conv.step = target
    return _reprompt(turn)


def on_edit_back(turn: Turn) -> Reply:
    turn.conv.step = Step.SUMMARY
    return _reprompt(turn)


def on_toggle_name(turn: Turn) -> Reply:
    """Consent to show the citizen's name to agency staff; off by default, asked on the summary.
    The summary pressed is changed in place where the channel can edit (Telegram); elsewhere the
    new summary is sent."""
    if turn.conv.draft.privacy != "anonim":  # Anonim hides the name (the toggle is not shown then)
        turn.conv.draft.share_name = not turn.conv.draft.share_name
    reply = _reprompt(turn)
    pressed = turn.event.message_id if isinstance(turn.event, ButtonPress) else None
    if pressed and reply.messages:
        reply.messages[0] = replace(reply.messages[0], edit=EditTarget(pressed, EDIT_CONTENT))
    return reply
