"""What each step asks (also used to re-prompt), and the moves between steps."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from handlers.context import FlowContext
from handlers.events import (
    AddressMatch,
)
from handlers.flow.drafting import (
    _photo_required,
    next_step,
)
from handlers.flow.payloads import (
    ADDR_PIN,
    ADDR_PREFIX,
    ADDR_TYPED,
    CAT_PREFIX,
    DESC_CAPTION,
    DRAFT_CANCEL,
    DRAFT_CONTINUE,
    DUP_BACK,
    DUP_NEW,
    DUP_PREFIX,
    EDIT_BACK,
    EDIT_CATEGORY,
    EDIT_DESCRIPTION,
    EDIT_LOCATION,
    EDIT_PHOTOS,
    NAV_BACK,
    NAV_MENU,
    PHOTO_DONE,
    PHOTO_SKIP,
    SUM_CANCEL,
    SUM_EDIT,
    SUM_NAME,
    SUM_PRIVACY,
    SUM_SEND,
)
from handlers.flow.turn import (
    Reply,
    Turn,
)
from handlers.messages import Alert, Button, KeyboardButton, OutMessage
from handlers.privacy import is_anonymous
from handlers.privacy import label as privacy_label
from handlers.state import FILING_STEPS, Conversation, Draft, Step
from handlers.views import (
    Rows,
    category_display,
    esc,
    menu_rows,
    truncate,
)

# --- prompts: what each step asks (also used to re-prompt) ----------------------------------------


def _category_rows(language: str, ctx: FlowContext) -> Rows:
    buttons = [Button(f"{c.emoji} {c.label(language)}", f"{CAT_PREFIX}{c.key}") for c in ctx.categories]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def _continue_rows(language: str, ctx: FlowContext) -> Rows:
    return (
        (
            Button(ctx.t(language, "draft.continue"), DRAFT_CONTINUE),
            Button(ctx.t(language, "draft.cancel"), DRAFT_CANCEL),
        ),
    )


def _prompt_idle(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    return [OutMessage(ctx.t(conv.language, "menu.text"), buttons=menu_rows(conv.language, ctx))]


def _prompt_category(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    return [OutMessage(ctx.t(lang, "filing.ask_category"), buttons=_category_rows(lang, ctx))]


def _prompt_description(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    """The question; with a photo caption on offer, the caption and a button to use it (typing a
    description is still the other answer)."""
    lang, limits = conv.language, ctx.limits
    text = ctx.t(lang, "filing.ask_description", min=limits.description_min, max=limits.description_max)
    caption = conv.draft.caption
    if not caption:
        return [OutMessage(text)]
    offer = ctx.t(lang, "drafts.caption_offer", caption=esc(truncate(caption, 300)))
    use = ((Button(ctx.t(lang, "drafts.use_caption"), DESC_CAPTION),),)
    return [OutMessage(f"{text}\n\n{offer}", buttons=use)]


def _prompt_photos(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, draft, most = conv.language, conv.draft, ctx.limits.photos_max
    done = (Button(ctx.t(lang, "button.photo_done"), PHOTO_DONE),)
    if draft.photos:
        return [OutMessage(ctx.t(lang, "filing.photos_have", n=len(draft.photos), max=most), buttons=(done,))]
    if draft.editing == "photos":
        return [OutMessage(ctx.t(lang, "filing.ask_photos_replace", max=most), buttons=(done,))]
    if _photo_required(draft, ctx):
        return [OutMessage(ctx.t(lang, "filing.ask_photos_required", max=most))]
    skip = (Button(ctx.t(lang, "button.photo_skip"), PHOTO_SKIP),)
    return [OutMessage(ctx.t(lang, "filing.ask_photos_optional", max=most), buttons=(skip,))]


def _prompt_location(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, limits = conv.language, ctx.limits
    text = ctx.t(lang, "filing.ask_location", min=limits.address_min, max=limits.address_max)
    keyboard = ((KeyboardButton(ctx.t(lang, "button.send_location"), request_location=True),),)
    return [OutMessage(text, keyboard=keyboard)]


def _location_lines(draft: Draft, language: str, ctx: FlowContext) -> list[str]:
    lines = []
    if draft.place:
        lines.append(ctx.t(language, "summary.place", place=esc(draft.place)))
    if draft.latitude is not None and draft.longitude is not None:
        lines.append(ctx.t(language, "summary.pin", lat=f"{draft.latitude:.5f}", lon=f"{draft.longitude:.5f}"))
    if draft.address:
        lines.append(ctx.t(language, "summary.address", address=esc(draft.address)))
    return lines or [ctx.t(language, "summary.no_location")]


def _prompt_summary(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, draft = conv.language, conv.draft
    photos = (
        ctx.t(lang, "summary.photos", count=len(draft.photos)) if draft.photos else ctx.t(lang, "summary.no_photos")
    )
    lines = [
        ctx.t(lang, "summary.title"),
        "",
        ctx.t(lang, "summary.category", category=esc(category_display(draft.category, lang, ctx))),
        ctx.t(lang, "summary.description", description=esc(draft.description or "")),
        photos,
        *_location_lines(draft, lang, ctx),
        *privacy_lines(draft, lang, ctx),
        "",
        ctx.t(lang, "summary.question"),
    ]
    # Anonim hides the name whatever "Tampilkan nama saya" said: the toggle is not offered meanwhile
    name_row = (
        () if is_anonymous(draft.privacy)
        else ((Button(ctx.t(lang, "button.hide_name" if draft.share_name else "button.share_name"), SUM_NAME),),)
    )
    buttons = (
        (Button(ctx.t(lang, "button.send"), SUM_SEND),),
        (Button(ctx.t(lang, "button.edit"), SUM_EDIT), Button(ctx.t(lang, "button.cancel"), SUM_CANCEL)),
        *name_row,
        (Button(ctx.t(lang, "privacy.button"), SUM_PRIVACY),),
    )
    return [OutMessage("\n".join(lines), buttons=buttons)]


def privacy_lines(draft: Draft, lang: str, ctx: FlowContext) -> list[str]:
    """The summary's "who sees it" lines: the name (hidden under Anonim) and the privacy choice."""
    if is_anonymous(draft.privacy):
        name = ctx.t(lang, "privacy.summary_name_anonim")
    else:
        name = ctx.t(lang, "summary.name_shared" if draft.share_name else "summary.name_hidden")
    return [name, ctx.t(lang, "privacy.summary", choice=privacy_label(draft.privacy, lang, ctx))]


def _prompt_edit_menu(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    buttons = (
        (Button(ctx.t(lang, "edit.category"), EDIT_CATEGORY), Button(ctx.t(lang, "edit.description"), EDIT_DESCRIPTION)),
        (Button(ctx.t(lang, "edit.photos"), EDIT_PHOTOS), Button(ctx.t(lang, "edit.location"), EDIT_LOCATION)),
        (Button(ctx.t(lang, "edit.back"), EDIT_BACK),),
    )
    return [OutMessage(ctx.t(lang, "edit.ask"), buttons=buttons)]


def nav_rows(language: str, ctx: FlowContext, *, back: bool = False) -> Rows:
    """The visible way out of a question: "🏠 Menu", and "↩️ Batal" where leaving loses nothing
    (the "which number?" detour). On WhatsApp they are numbered items like any other button."""
    menu = Button(ctx.t(language, "button.nav_menu"), NAV_MENU)
    return ((Button(ctx.t(language, "button.nav_back"), NAV_BACK), menu),) if back else ((menu,),)


def _prompt_duplicates(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    # "a different problem, send it" first: on WhatsApp a citizen who typed "1" (send) at the summary and
    # types "1" again must not end up following someone else's complaint instead of filing their own
    rows: list[tuple[Button, ...]] = [(Button(ctx.t(lang, "dup.different"), DUP_NEW),)]
    rows += [(Button(ctx.t(lang, "dup.same", number=number), f"{DUP_PREFIX}{number}"),)
             for number in conv.draft.nearby_offered]
    rows.append((Button(ctx.t(lang, "dup.back"), DUP_BACK),))
    rows.extend(nav_rows(lang, ctx))
    return [OutMessage(ctx.t(lang, "dup.ask"), buttons=tuple(rows))]


def _prompt_address_pick(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang, draft = conv.language, conv.draft
    rows: list[tuple[Button, ...]] = []
    for index, raw in enumerate(draft.address_matches[:3]):
        try:
            match = AddressMatch.from_dict(raw)
        except (KeyError, TypeError, ValueError):
            continue
        label = match.place.display or f"{match.latitude:.5f}, {match.longitude:.5f}"
        rows.append((Button(truncate(f"📍 {label}", 60), f"{ADDR_PREFIX}{index}"),))
    rows.append((Button(ctx.t(lang, "addr.as_typed"), ADDR_TYPED),))
    rows.append((Button(ctx.t(lang, "addr.pin_instead"), ADDR_PIN),))
    rows.extend(nav_rows(lang, ctx))
    text = ctx.t(lang, "addr.ask", address=esc(draft.address or ""))
    return [OutMessage(text, buttons=tuple(rows))]


def _example_number(language: str, ctx: FlowContext) -> str:
    return ctx.t(language, "status.example_number", prefix=esc(ctx.tracking_prefix))


def _prompt_status_number(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    lang = conv.language
    text = ctx.t(lang, "status.ask_number", example=_example_number(lang, ctx))
    return [OutMessage(text, buttons=nav_rows(lang, ctx, back=True))]


PROMPTS: dict[Step, Callable[[Conversation, FlowContext], list[OutMessage]]] = {
    Step.IDLE: _prompt_idle,
    Step.CATEGORY: _prompt_category,
    Step.DESCRIPTION: _prompt_description,
    Step.PHOTOS: _prompt_photos,
    Step.LOCATION: _prompt_location,
    Step.SUMMARY: _prompt_summary,
    Step.EDIT_MENU: _prompt_edit_menu,
    Step.STATUS_NUMBER: _prompt_status_number,
    Step.DUPLICATES: _prompt_duplicates,
    Step.ADDRESS_PICK: _prompt_address_pick,
}


def prompt(conv: Conversation, ctx: FlowContext) -> list[OutMessage]:
    """What the current step asks for, in the conversation's language."""
    return PROMPTS[conv.step](conv, ctx)


def _reprompt(turn: Turn, *notices: str) -> Reply:
    return Reply(notices=list(notices), messages=prompt(turn.conv, turn.ctx))


def _advance(turn: Turn, *notices: str) -> Reply:
    """A field was provided: go to whatever is still missing (the summary when editing)."""
    draft = turn.draft
    draft.editing = None
    if draft.description:
        draft.caption = None  # a description is there: the caption is no longer on offer
    turn.conv.step = next_step(draft, turn.ctx)
    if turn.conv.step != Step.PHOTOS:
        draft.previous_photos = []
    return _reprompt(turn, *notices)


def _stale(turn: Turn) -> Reply:
    """A button from an old message: a toast, plus what is expected now."""
    reply = _reprompt(turn, turn.t("stale.notice"))
    reply.alert = Alert(turn.t("stale.alert"))
    return reply


def _back_to_draft(turn: Turn) -> list[OutMessage]:
    """After a detour (status, list) in the middle of filing: re-ask the draft's step, last in chat."""
    if turn.conv.step not in FILING_STEPS:
        return []
    messages = prompt(turn.conv, turn.ctx)
    first = messages[0]
    return [replace(first, text=f"{turn.t('draft.back_to_draft')}\n\n{first.text}"), *messages[1:]]
