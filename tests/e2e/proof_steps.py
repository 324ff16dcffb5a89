"""Steps other end-to-end tests share to resolve a complaint now that *✔️ Selesai* asks for proof of fix.

``resolve_with_proof`` presses Selesai on the card and, when the category asks for proof
(``categories.<key>.proof_photo`` is required or optional), answers the bot's prompt with an "after"
photo, the way a clerk does; with ``off`` the press alone resolves.
"""

from __future__ import annotations

from localapi.telegram import make_jpeg
from localapi.telegram.state import StoredMessage
from tests.e2e.conftest import World, current, outbox_settled
from tests.e2e.harness import Person, body, eventually, payloads

FIX_PHOTO = make_jpeg(gray=210)
#: words of the proof prompt (both modes)
PROMPT_WORDS = "foto sesudah perbaikan"


def status_button(card: StoredMessage, action: str) -> str:
    return next(p for p in payloads(card) if p.startswith(f"st:{action}:"))


async def press_resolve(world: World, clerk: Person, card: StoredMessage) -> StoredMessage | None:
    """Press ✔️ Selesai; the proof prompt the bot posted (None when the category resolves at once)."""
    fresh = current(world, card)
    answer = await clerk.tap(status_button(fresh, "resolve"), fresh)
    assert not answer.get("show_alert"), answer
    if "balas" not in answer.get("text", ""):  # "Status diubah: ✅ Selesai"
        return None
    prompt = await clerk.next_matching(PROMPT_WORDS)
    await outbox_settled(world)  # the prompt's message id is recorded before the clerk replies to it
    return prompt


async def resolve_with_proof(
    world: World, clerk: Person, card: StoredMessage, *, caption: str | None = "Sudah diperbaiki",
    photo: bytes = FIX_PHOTO,
) -> StoredMessage | None:
    """Press Selesai and, when asked, reply with the after photo; waits until the card says selesai.
    Returns the prompt that was answered (None where no proof was asked)."""
    prompt = await press_resolve(world, clerk, card)
    if prompt is not None:
        clerk.user.send_photo(photo, caption=caption, chat=card.chat_id, reply_to=prompt.message_id)
    await eventually(lambda: "selesai" in body(current(world, card)).lower().split("\n", 1)[0])
    return prompt


__all__ = ["FIX_PHOTO", "PROMPT_WORDS", "press_resolve", "resolve_with_proof", "status_button"]
