"""Group buttons and reply prompts beyond the card's status buttons, each owned by its own module.

The card's status buttons (``st:``, ``ra:``, ``cx:``) are handled in :mod:`bot.services.staff`. Newer
capabilities (proof of fix, canned replies, the command centre's escalation cards, appeals) register a
payload prefix or a message-link role here instead of growing ``handle_staff_button``'s chain of ifs:

* :func:`button_handlers`: payload prefix (the text before the first ``:``) -> an async handler called as
  ``handler(rt, chat_id=..., actor=..., payload=..., update_key=...)`` returning a ``StaffResult``; it opens
  its own unit of work, claims ``update_key`` for idempotency, checks who may press (e.g. with
  :func:`bot.services.staff.check_owner`), and commits.
* :func:`reply_handlers`: message-link role (``MessageLink.role`` of the bot message a staff member replied
  to) -> an async handler called inside the reply's unit of work as
  ``handler(rt, uow, link, complaint, actor, text, photo=..., chat_id=..., reply_to_message_id=...)``
  (the complaint is locked; the caller commits). It is called before the agency-group check, so it
  decides who may answer (:func:`bot.services.staff.check_owner` for the complaint's own group).

The imports are inside the functions: the handlers import :mod:`bot.services.staff`'s helpers, which
imports this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

ButtonHandler = Callable[..., Awaitable[Any]]
ReplyHandler = Callable[..., Awaitable[None]]


def button_handlers() -> dict[str, ButtonHandler]:
    """Payload prefix -> handler (see the module docstring)."""
    from bot.services import proof
    from handlers.proof import PROOF_PREFIX

    handlers: dict[str, ButtonHandler] = {PROOF_PREFIX: proof.handle_proof_button}
    from bot.services import command_centre_buttons
    from handlers.escalation import CC_PREFIX

    handlers[CC_PREFIX] = command_centre_buttons.handle_button  # the escalation card (the command centre)
    from bot.services import canned
    from handlers.staff_tools import CANNED_PREFIX

    handlers[CANNED_PREFIX] = canned.handle_canned_button  # 💬 Balasan cepat on the card
    from bot.services import followup_appeals
    from handlers.appeals import PREFIX as APPEAL_PREFIX

    handlers[APPEAL_PREFIX] = followup_appeals.handle_appeal_button  # an appeal card (the command centre)
    from bot.services import blocking
    from handlers.blocking import PREFIX as BLOCK_PREFIX

    handlers[BLOCK_PREFIX] = blocking.handle_button  # 🚫 Blokir pelapor (the command centre's cards)
    from bot.services import group_flood
    from handlers.group_flood import PREFIX as DIGEST_PREFIX

    handlers[DIGEST_PREFIX] = group_flood.handle_digest_button  # a digest's number: its card now (floods)
    return handlers


def reply_handlers() -> dict[str, ReplyHandler]:
    """Message-link role -> handler for a staff reply to a message with that role."""
    from bot.services import proof

    handlers: dict[str, ReplyHandler] = {role: proof.answer_proof for role in proof.PROOF_ROLES}
    from bot.services import command_centre_buttons
    from bot.services.command_centre import TO_AGENCY_ROLE

    # the command centre's note prompt (open or finished), and an agency's answer to the command centre
    handlers.update(dict.fromkeys(command_centre_buttons.NOTE_ROLES, command_centre_buttons.answer_note))
    handlers[TO_AGENCY_ROLE] = command_centre_buttons.answer_from_agency
    from bot.services import followup_appeals

    # why an appeal is turned down (the command centre's reply to Tolak keberatan's prompt, open or answered)
    handlers.update(dict.fromkeys((followup_appeals.PROMPT_ROLE, followup_appeals.PROMPT_DONE),
                                  followup_appeals.answer_appeal_prompt))
    from bot.services import blocking

    # the reason for blocking a citizen (the reply to 🚫 Blokir pelapor's prompt, open or finished)
    handlers.update(dict.fromkeys(blocking.PROMPT_ROLES, blocking.answer_prompt))
    return handlers
