"""Proof of fix: what the clerk sees when *✅ Selesai* asks for the "after" photo (pure renderers).

Per category (``categories.<key>.proof_photo``):

* ``required``: a reply with a photo resolves (its caption is the note for the citizen); text alone is
  answered once per prompt: a photo is needed.
* ``optional``: a photo (with or without caption) or a text note resolves; *📷 Selesai tanpa foto* on the
  card (or a reply of just "-") resolves without either.
* ``off``: Selesai resolves at once, as before.

While the prompt is open the card says who is answering and carries the buttons (Telegram cannot put a
button on a force-reply prompt): *✖️ Batal* always, *📷 Selesai tanpa foto* when the photo is optional.
Payloads: ``pf:skip:<id>`` and ``pf:cancel:<id>`` (registered in :mod:`bot.services.staff_extensions`).
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.cards import render_card_with_note
from handlers.context import FlowContext
from handlers.messages import Alert, Button, MessageRef, OutMessage
from handlers.text import parse_id
from handlers.views import ComplaintView, card_ref, esc, truncate

PROOF_PREFIX = "pf"
SKIP = "skip"
CANCEL = "cancel"
REQUIRED = "required"
OPTIONAL = "optional"
OFF = "off"
#: a reply that means "no note, no photo" where the photo is optional
SKIP_WORDS = frozenset({"-", "–", "—"})
#: the longest proof note kept (a caption is at most 1024 characters anyway)
NOTE_MAX = 1000


@dataclass(frozen=True, slots=True)
class ProofPayload:
    verb: str  # SKIP | CANCEL
    complaint_id: int


def proof_payload(verb: str, complaint_id: int) -> str:
    """``pf:skip:42`` / ``pf:cancel:42``."""
    return f"{PROOF_PREFIX}:{verb}:{int(complaint_id)}"


def parse_proof_payload(payload: str) -> ProofPayload | None:
    """Read ``pf:<skip|cancel>:<id>``; None for anything else (never raises)."""
    parts = payload.split(":") if isinstance(payload, str) and len(payload) <= 64 else []
    if len(parts) != 3 or parts[0] != PROOF_PREFIX or parts[1] not in (SKIP, CANCEL):
        return None
    complaint_id = parse_id(parts[2])
    return ProofPayload(parts[1], complaint_id) if complaint_id is not None else None


def clean_note(text: str) -> str | None:
    """The note for the citizen from a reply or caption: trimmed, None when empty or just "-"."""
    note = text.strip()
    if not note or note in SKIP_WORDS:
        return None
    return truncate(note, NOTE_MAX)


def is_skip(text: str) -> bool:
    """A reply of just "-": no photo, no note (where the photo is optional)."""
    return text.strip() in SKIP_WORDS


def render_proof_prompt(
    view: ComplaintView, ctx: FlowContext, *, staff_name: str, mode: str, language: str = "id"
) -> OutMessage:
    """Ask the officer who pressed Selesai for the "after" photo (and a note), as a reply (force_reply)."""
    key = "staff.proof.prompt_required" if mode == REQUIRED else "staff.proof.prompt_optional"
    text = ctx.t(language, key, staff=esc(truncate(staff_name or "", 40)), number=esc(view.number))
    return OutMessage(text=text, force_reply=True, reply_to=card_ref(view.id))


def render_proof_retry(
    view: ComplaintView, ctx: FlowContext, *, mode: str, reply_to: int, language: str = "id"
) -> OutMessage:
    """The one error for a reply that cannot resolve (text alone where a photo is required; nothing
    usable where it is optional), as a fresh prompt answering the officer's message."""
    key = "staff.proof.photo_needed" if mode == REQUIRED else "staff.proof.photo_or_note_needed"
    text = ctx.t(language, key, number=esc(view.number))
    return OutMessage(text=text, force_reply=True, reply_to=MessageRef(kind="message", message_id=reply_to))


def render_proof_card(
    view: ComplaintView, ctx: FlowContext, *, staff_name: str, mode: str, language: str = "id"
) -> OutMessage:
    """The card while the proof is awaited: who is answering, ✖️ Batal, and, where the photo is
    optional, *📷 Selesai tanpa foto* (a busy clerk sees the way out on the card itself)."""
    key = "staff.proof.card_waiting_required" if mode == REQUIRED else "staff.proof.card_waiting_optional"
    note = ctx.t(language, key, staff=esc(truncate(staff_name or "", 40)))
    cancel = Button(ctx.t(language, "card.reassign_cancel"), proof_payload(CANCEL, view.id))
    rows: tuple[tuple[Button, ...], ...] = ((cancel,),)
    if mode != REQUIRED:
        rows = ((Button(ctx.t(language, "staff.proof.skip_button"), proof_payload(SKIP, view.id)),), (cancel,))
    return render_card_with_note(view, ctx, note=note, buttons=rows, language=language)


def alert_proof_asked(ctx: FlowContext, *, mode: str, language: str = "id") -> Alert:
    """The toast when Selesai opens the prompt."""
    key = "staff.proof.asked_required" if mode == REQUIRED else "staff.proof.asked_optional"
    return Alert(text=truncate(ctx.t(language, key), 200))


def alert_already_asked(ctx: FlowContext, *, language: str = "id") -> Alert:
    """Selesai again while the proof prompt waits (a double tap): no second prompt."""
    return Alert(text=truncate(ctx.t(language, "staff.proof.already_asked"), 200))


def alert_skip_refused(ctx: FlowContext, *, language: str = "id") -> Alert:
    """*Selesai tanpa foto* where the category requires a photo (a forged or outdated button)."""
    return Alert(text=truncate(ctx.t(language, "staff.proof.skip_refused"), 200), show_alert=True)


def alert_skip_stale(ctx: FlowContext, *, language: str = "id") -> Alert:
    """*Selesai tanpa foto* on a card whose prompt was cancelled or answered meanwhile."""
    return Alert(text=truncate(ctx.t(language, "staff.proof.skip_stale"), 200), show_alert=True)


__all__ = [
    "CANCEL",
    "OFF",
    "OPTIONAL",
    "PROOF_PREFIX",
    "REQUIRED",
    "SKIP",
    "ProofPayload",
    "alert_already_asked",
    "alert_proof_asked",
    "alert_skip_refused",
    "alert_skip_stale",
    "clean_note",
    "is_skip",
    "parse_proof_payload",
    "proof_payload",
    "render_proof_card",
    "render_proof_prompt",
    "render_proof_retry",
]
