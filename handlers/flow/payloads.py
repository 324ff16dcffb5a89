"""Button payloads of the citizen flow (all well under Telegram's 64 bytes) and number parsing."""

from __future__ import annotations

import re

from handlers.state import Step

# --- button payloads (all well under 64 bytes) ----------------------------------------------------

DRAFT_CONTINUE = "draft:continue"
DRAFT_CANCEL = "draft:cancel"
#: "start a new complaint" after being asked (the draft in progress is discarded); ``new:<category>``
#: starts it with that category (a category pressed in an old list)
NEW_PREFIX = "new:"
DESC_CAPTION = "desc:caption"  # use the photo's caption as the description
CAT_PREFIX = "cat:"
PHOTO_DONE = "photo:done"
PHOTO_SKIP = "photo:skip"
SUM_SEND = "sum:send"
SUM_EDIT = "sum:edit"
SUM_CANCEL = "sum:cancel"
SUM_NAME = "sum:name"  # toggles whether staff may see the citizen's name
SUM_PRIVACY = "sum:privacy"  # opens the privacy choice (Biasa / Anonim / Rahasia, handlers.privacy)
PRIVACY_PREFIX = "priv:"  # priv:<biasa|anonim|rahasia>: the choice; priv:back: the summary unchanged
PRIVACY_BACK = "priv:back"
DUP_PREFIX = "dup:"  # dup:<number>: the same problem as that complaint
DUP_NEW = "dup:new"  # a different problem: file it
DUP_BACK = "dup:back"  # back to the summary
ADDR_PREFIX = "addr:"  # addr:<index>: the geocoder's candidate is the place
ADDR_TYPED = "addr:typed"  # keep the address as typed, without a pin
ADDR_PIN = "addr:pin"  # share a pin instead
EDIT_CATEGORY = "edit:category"
EDIT_DESCRIPTION = "edit:description"
EDIT_PHOTOS = "edit:photos"
EDIT_LOCATION = "edit:location"
EDIT_BACK = "edit:back"
NAV_MENU = "nav:menu"  # the way out of a question: the main menu (with the draft, if any)
NAV_BACK = "nav:back"  # leave the "which number?" question (back to the draft or the menu)
DESC_CUT = "desc:cut"  # a too long description: keep its first part, cut at a sentence end
DESC_SHORT = "desc:short"  # a too long description: the citizen writes a shorter one

#: which step edits which draft field (the value stored in ``draft.editing``)
EDIT_TARGETS: dict[str, Step] = {
    "category": Step.CATEGORY,
    "description": Step.DESCRIPTION,
    "photos": Step.PHOTOS,
    "location": Step.LOCATION,
}

#: a tracking number as typed: letters, digits and dashes, with at least one digit (spaces removed first)
_NUMBER_RE = re.compile(r"^(?=.*[0-9])[A-Z0-9][A-Z0-9/-]{2,31}$")
