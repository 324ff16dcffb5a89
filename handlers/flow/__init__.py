"""The citizen conversation: ``(conversation, incoming event) -> Outcome``, pure and table-driven.

Why tables: the steps of filing a complaint and what each kind of input does in each step are data
(:data:`FLOW`, :data:`GLOBAL_COMMANDS`, :data:`GLOBAL_BUTTONS`), so the behaviour can be read,
tested cell by cell and drawn (:mod:`handlers.diagram`) instead of being buried in nested ifs.

Rules every handler follows:

* the input conversation is never mutated: :func:`handle` works on a deep copy;
* nothing raises: a bug becomes a polite "please try again" and the state is kept;
* the draft survives everything except an explicit cancel, a "start over" or the idle timeout;
* out-of-order input (a photo before it was asked for, a map pin early) is kept, not refused;
* every unexpected input gets a short answer saying what is expected right now.
"""

from __future__ import annotations

from handlers.flow.drafting import (
    next_step,
    normalise_number,
)
from handlers.flow.engine import (
    discard_idle,
    handle,
    remind,
    reminder,
)
from handlers.flow.payloads import (
    CAT_PREFIX,
    DRAFT_CANCEL,
    DRAFT_CONTINUE,
    EDIT_BACK,
    EDIT_CATEGORY,
    EDIT_DESCRIPTION,
    EDIT_LOCATION,
    EDIT_PHOTOS,
    PHOTO_DONE,
    PHOTO_SKIP,
    SUM_CANCEL,
    SUM_EDIT,
    SUM_NAME,
    SUM_SEND,
)
from handlers.flow.prompts import (
    prompt,
)
from handlers.flow.tables import (
    FLOW,
    GLOBAL_BUTTONS,
    GLOBAL_COMMANDS,
)
from handlers.flow.turn import (
    Outcome,
    Transition,
)
from handlers.views import (
    LANG_PREFIX,
    MENU_HELP,
    MENU_MINE,
    MENU_NEW,
    MENU_STATUS,
    SHOW_PREFIX,
    ComplaintView,
    HistoryEntry,
    render_citizen_reply_sent,
    render_following,
    render_my_complaints,
    render_staff_reply,
    render_status,
    render_status_not_found,
    render_status_notification,
    render_submitted,
    reporter_alias,
)

__all__ = [
    "CAT_PREFIX",
    "DRAFT_CANCEL",
    "DRAFT_CONTINUE",
    "EDIT_BACK",
    "EDIT_CATEGORY",
    "EDIT_DESCRIPTION",
    "EDIT_LOCATION",
    "EDIT_PHOTOS",
    "FLOW",
    "GLOBAL_BUTTONS",
    "GLOBAL_COMMANDS",
    "LANG_PREFIX",
    "MENU_HELP",
    "MENU_MINE",
    "MENU_NEW",
    "MENU_STATUS",
    "PHOTO_DONE",
    "PHOTO_SKIP",
    "SHOW_PREFIX",
    "SUM_CANCEL",
    "SUM_EDIT",
    "SUM_NAME",
    "SUM_SEND",
    "ComplaintView",
    "HistoryEntry",
    "Outcome",
    "Transition",
    "discard_idle",
    "handle",
    "next_step",
    "normalise_number",
    "prompt",
    "remind",
    "reminder",
    "render_citizen_reply_sent",
    "render_following",
    "render_my_complaints",
    "render_staff_reply",
    "render_status",
    "render_status_not_found",
    "render_status_notification",
    "render_submitted",
    "reporter_alias",
]
