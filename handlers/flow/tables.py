"""The transition tables: (step, trigger) -> handler, read by :func:`handle`, tests and the diagram."""

from __future__ import annotations

from handlers.flow.abuse import REFILE_SEND
from handlers.flow.erasure import (
    ERASE_NO,
    ERASE_YES,
    on_erase_ask,
    on_erase_confirm,
    on_erase_keep,
)
from handlers.flow.filing import (
    on_address_as_typed,
    on_address_match,
    on_address_pin_instead,
    on_back_to_summary,
    on_category_button,
    on_category_text,
    on_description_text,
    on_different_problem,
    on_edit,
    on_edit_back,
    on_edit_field,
    on_idle_location,
    on_idle_photo,
    on_keep_location,
    on_keep_photo,
    on_location_pin,
    on_photo,
    on_photos_done,
    on_photos_skip,
    on_photos_text,
    on_same_problem,
    on_send,
    on_send_anyway,
    on_toggle_name,
    on_use_caption,
)
from handlers.flow.general import (
    on_ask_status_number,
    on_cancel,
    on_continue,
    on_help,
    on_language,
    on_language_menu,
    on_leave_waiting,
    on_list,
    on_new,
    on_show_button,
    on_start,
    on_status_command,
    on_status_number_text,
    on_unexpected,
)
from handlers.flow.longtext import (
    on_keep_first,
    on_write_shorter,
)
from handlers.flow.payloads import (
    ADDR_PIN,
    ADDR_PREFIX,
    ADDR_TYPED,
    CAT_PREFIX,
    DESC_CAPTION,
    DESC_CUT,
    DESC_SHORT,
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
    NEW_PREFIX,
    PHOTO_DONE,
    PHOTO_SKIP,
    PRIVACY_PREFIX,
    SUM_CANCEL,
    SUM_EDIT,
    SUM_NAME,
    SUM_PRIVACY,
    SUM_SEND,
)
from handlers.flow.privacy import on_privacy_choice, on_privacy_menu
from handlers.flow.relay import (
    RELAY_NO,
    RELAY_TO,
    RELAY_YES,
    offer_relay,
    on_relay_no,
    on_relay_photo,
    on_relay_text,
    on_relay_to,
    on_relay_yes,
)
from handlers.flow.restart import (
    on_fresh,
    on_old_category,
    on_old_fresh,
    on_old_press,
)
from handlers.flow.rights import on_my_data, on_privacy
from handlers.flow.turn import (
    Transition,
)
from handlers.flow.waiting import (
    on_choice_text,
    on_free_text,
    on_place_text,
)
from handlers.state import Step
from handlers.views import (
    LANG_PREFIX,
    MENU_HELP,
    MENU_MINE,
    MENU_NEW,
    MENU_STATUS,
    SHOW_PREFIX,
)

# --- the tables -----------------------------------------------------------------------------------

_STAY = Transition(on_unexpected)
_TO_FILL = (Step.DESCRIPTION, Step.PHOTOS, Step.LOCATION, Step.SUMMARY)

#: commands valid at every step (aliases in Indonesian and English)
GLOBAL_COMMANDS: dict[str, Transition] = {
    "start": Transition(on_start, (Step.IDLE,)),
    "menu": Transition(on_start, (Step.IDLE,)),
    "help": Transition(on_help),
    "bantuan": Transition(on_help),
    "cancel": Transition(on_cancel, (Step.IDLE,)),
    "batal": Transition(on_cancel, (Step.IDLE,)),
    "status": Transition(on_status_command, (Step.STATUS_NUMBER,)),
    "laporan": Transition(on_list),
    "mine": Transition(on_list),
    "bahasa": Transition(on_language_menu),
    "language": Transition(on_language_menu),
    "baru": Transition(on_new, (Step.CATEGORY,)),
    "new": Transition(on_new, (Step.CATEGORY,)),
    "dataku": Transition(on_my_data),
    "mydata": Transition(on_my_data),
    "privasi": Transition(on_privacy),
    "privacy": Transition(on_privacy),
    # erase my personal data (issue 12, handlers.flow.erasure): asks first
    "hapusdata": Transition(on_erase_ask),
    "erasedata": Transition(on_erase_ask),
}

#: buttons valid at every step; ``prefix:*`` matches any argument
GLOBAL_BUTTONS: dict[str, Transition] = {
    f"{LANG_PREFIX}*": Transition(on_language),
    MENU_NEW: Transition(on_new, (Step.CATEGORY,)),
    MENU_STATUS: Transition(on_ask_status_number, (Step.STATUS_NUMBER,)),
    MENU_MINE: Transition(on_list),
    MENU_HELP: Transition(on_help),
    DRAFT_CONTINUE: Transition(on_continue),
    DRAFT_CANCEL: Transition(on_cancel, (Step.IDLE,)),
    f"{NEW_PREFIX}*": Transition(on_fresh, (Step.CATEGORY, Step.DESCRIPTION)),
    f"{SHOW_PREFIX}*": Transition(on_show_button),
    NAV_MENU: Transition(on_start, (Step.IDLE,)),
    NAV_BACK: Transition(on_leave_waiting, (Step.IDLE,)),
    ERASE_YES: Transition(on_erase_confirm, (Step.IDLE,)),
    ERASE_NO: Transition(on_erase_keep),
}

#: a press from an older message (its menu version is not the current one, see
#: :mod:`handlers.flow.versions`): what it may still do. Buttons that act the same whenever pressed
#: (status, help, a language, one of "my complaints") are done; those that would start a complaint
#: ask first when a draft has progress; everything else (:data:`_OLD`) only gets "that button is from
#: an older message" and the current step again, so an old button never destroys work.
OLD_BUTTONS: dict[str, Transition] = {
    MENU_NEW: Transition(on_new, (Step.CATEGORY,)),
    f"{CAT_PREFIX}*": Transition(on_old_category, _TO_FILL),
    f"{NEW_PREFIX}*": Transition(on_old_fresh, (Step.CATEGORY, Step.DESCRIPTION)),
    DRAFT_CONTINUE: Transition(on_continue),
    MENU_STATUS: GLOBAL_BUTTONS[MENU_STATUS],
    MENU_MINE: GLOBAL_BUTTONS[MENU_MINE],
    MENU_HELP: GLOBAL_BUTTONS[MENU_HELP],
    f"{LANG_PREFIX}*": GLOBAL_BUTTONS[f"{LANG_PREFIX}*"],
    f"{SHOW_PREFIX}*": GLOBAL_BUTTONS[f"{SHOW_PREFIX}*"],
    # a double tap, or a tap after the erasure (a new conversation): the service says what was done
    ERASE_YES: GLOBAL_BUTTONS[ERASE_YES],
    ERASE_NO: GLOBAL_BUTTONS[ERASE_NO],
}
_OLD = Transition(on_old_press)

_KEEP_PHOTO = Transition(on_keep_photo)
_KEEP_PIN = Transition(on_keep_location)

#: (step, trigger) -> transition. A trigger is an event kind (``text``, ``photo``, ``location``,
#: ``too_large``, ``unsupported``) or a button payload (``sum:send``; ``cat:*`` for any argument).
#: Whatever is not listed gets :func:`on_unexpected` (a stale button also gets a toast).
FLOW: dict[tuple[Step, str], Transition] = {
    (Step.IDLE, "text"): Transition(on_free_text, (Step.CATEGORY, Step.STATUS_NUMBER)),
    (Step.IDLE, "photo"): Transition(on_idle_photo, (Step.CATEGORY,)),
    (Step.IDLE, "location"): Transition(on_idle_location, (Step.CATEGORY,)),
    (Step.CATEGORY, f"{CAT_PREFIX}*"): Transition(on_category_button, _TO_FILL),
    (Step.CATEGORY, "text"): Transition(on_category_text, _TO_FILL),
    (Step.CATEGORY, "photo"): _KEEP_PHOTO,
    (Step.CATEGORY, "location"): _KEEP_PIN,
    (Step.DESCRIPTION, "text"): Transition(on_description_text, _TO_FILL[1:]),
    (Step.DESCRIPTION, "photo"): Transition(on_keep_photo, _TO_FILL[1:]),
    (Step.DESCRIPTION, "location"): _KEEP_PIN,
    (Step.DESCRIPTION, DESC_CAPTION): Transition(on_use_caption, _TO_FILL[1:]),
    (Step.DESCRIPTION, DESC_CUT): Transition(on_keep_first, _TO_FILL[1:]),
    (Step.DESCRIPTION, DESC_SHORT): Transition(on_write_shorter),
    (Step.PHOTOS, "photo"): Transition(on_photo, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, PHOTO_DONE): Transition(on_photos_done, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, PHOTO_SKIP): Transition(on_photos_skip, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, "text"): Transition(on_photos_text, (Step.LOCATION, Step.SUMMARY)),
    (Step.PHOTOS, "location"): _KEEP_PIN,
    (Step.LOCATION, "location"): Transition(on_location_pin, (Step.SUMMARY,)),
    (Step.LOCATION, "text"): Transition(on_place_text, (Step.SUMMARY, Step.ADDRESS_PICK)),
    (Step.LOCATION, "photo"): _KEEP_PHOTO,
    (Step.SUMMARY, SUM_SEND): Transition(on_send, (Step.IDLE, Step.DUPLICATES)),
    (Step.SUMMARY, SUM_EDIT): Transition(on_edit, (Step.EDIT_MENU,)),
    (Step.SUMMARY, SUM_CANCEL): Transition(on_cancel, (Step.IDLE,)),
    (Step.SUMMARY, REFILE_SEND): Transition(on_send_anyway, (Step.IDLE, Step.DUPLICATES)),
    (Step.SUMMARY, SUM_NAME): Transition(on_toggle_name),
    (Step.SUMMARY, SUM_PRIVACY): Transition(on_privacy_menu),
    (Step.SUMMARY, f"{PRIVACY_PREFIX}*"): Transition(on_privacy_choice),
    (Step.SUMMARY, "photo"): _KEEP_PHOTO,
    (Step.SUMMARY, "location"): _KEEP_PIN,
    (Step.EDIT_MENU, EDIT_CATEGORY): Transition(on_edit_field, (Step.CATEGORY,)),
    (Step.EDIT_MENU, EDIT_DESCRIPTION): Transition(on_edit_field, (Step.DESCRIPTION,)),
    (Step.EDIT_MENU, EDIT_PHOTOS): Transition(on_edit_field, (Step.PHOTOS,)),
    (Step.EDIT_MENU, EDIT_LOCATION): Transition(on_edit_field, (Step.LOCATION,)),
    (Step.EDIT_MENU, EDIT_BACK): Transition(on_edit_back, (Step.SUMMARY,)),
    (Step.EDIT_MENU, "photo"): _KEEP_PHOTO,
    (Step.EDIT_MENU, "location"): _KEEP_PIN,
    (Step.STATUS_NUMBER, "text"): Transition(on_status_number_text, (Step.IDLE,)),
    (Step.DUPLICATES, DUP_NEW): Transition(on_different_problem, (Step.IDLE,)),
    (Step.DUPLICATES, DUP_BACK): Transition(on_back_to_summary, (Step.SUMMARY,)),
    (Step.DUPLICATES, f"{DUP_PREFIX}*"): Transition(on_same_problem, (Step.IDLE,)),
    (Step.DUPLICATES, "photo"): _KEEP_PHOTO,
    (Step.DUPLICATES, "text"): Transition(on_choice_text),
    (Step.ADDRESS_PICK, ADDR_TYPED): Transition(on_address_as_typed, (Step.SUMMARY,)),
    (Step.ADDRESS_PICK, ADDR_PIN): Transition(on_address_pin_instead, (Step.LOCATION,)),
    (Step.ADDRESS_PICK, f"{ADDR_PREFIX}*"): Transition(on_address_match, (Step.SUMMARY,)),
    (Step.ADDRESS_PICK, "location"): Transition(on_location_pin, (Step.SUMMARY,)),
    (Step.ADDRESS_PICK, "text"): Transition(on_place_text, (Step.ADDRESS_PICK, Step.SUMMARY)),
    (Step.ADDRESS_PICK, "photo"): _KEEP_PHOTO,
}

# --- answering staff without the reply gesture (handlers.flow.relay) ------------------------------
# Text or a photo at the menu soon after staff wrote is offered to the agency first; the idle cells
# above keep their own handlers for everything else (and for "Bukan").
FLOW.update({
    (Step.IDLE, "text"): offer_relay(FLOW[(Step.IDLE, "text")]),
    (Step.IDLE, "photo"): offer_relay(FLOW[(Step.IDLE, "photo")]),
    (Step.RELAY_CONFIRM, RELAY_YES): Transition(on_relay_yes, (Step.IDLE,)),
    (Step.RELAY_CONFIRM, f"{RELAY_TO}*"): Transition(on_relay_to, (Step.IDLE,)),
    (Step.RELAY_CONFIRM, RELAY_NO): Transition(on_relay_no, (Step.IDLE, Step.CATEGORY)),
    (Step.RELAY_CONFIRM, "text"): Transition(on_relay_text, (Step.RELAY_CONFIRM, Step.IDLE, Step.CATEGORY)),
    (Step.RELAY_CONFIRM, "photo"): Transition(on_relay_photo, (Step.RELAY_CONFIRM, Step.IDLE, Step.CATEGORY)),
})
