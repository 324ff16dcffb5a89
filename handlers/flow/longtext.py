"""A description that arrives in parts, and one that is over the limit.

Telegram clients split a paste over 4096 characters into several messages that arrive a second or two
apart. A text that follows, within ``Limits.paste_window_s`` (by :attr:`Incoming.received_at`), a
description part long enough to have been cut by the client (``Limits.paste_part_min``) is its rest:
it is added to it and never read as the answer to the next step. (A short description followed by a
quick "halo" is not a paste: the "halo" answers the next question.) When the whole is over
``Limits.description_max``, ONE message says so and offers to keep the first part (cut at a sentence
end) or to write a shorter one; parts arriving after it are added silently.

The text waiting for that answer lives in :attr:`Conversation.paste` (``text``, ``at`` ISO time of
the last part, ``over`` once the offer was made, ``open`` while another part may follow, ``editing``
the draft's editing mark to restore).
"""

from __future__ import annotations

import re
from datetime import datetime

from handlers.events import Incoming, Text
from handlers.flow.drafting import _plain, _too_long
from handlers.flow.payloads import DESC_CUT, DESC_SHORT
from handlers.flow.prompts import _advance, _reprompt, _stale
from handlers.flow.turn import Reply, Turn
from handlers.messages import Button, OutMessage
from handlers.state import Step
from handlers.views import utf16_len

#: a sentence ends at . ! ? … (optionally closed by a quote or bracket) before a space or a line end
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*(?=\s|$)|\n")


def cut_at_sentence(text: str, limit: int, minimum: int = 1) -> str:
    """The longest beginning of ``text`` within ``limit`` characters that ends a sentence; without a
    sentence end past ``minimum`` (or past a third of the limit), the last whole word; else a hard cut."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    floor = max(minimum, limit // 3)
    ends = [m.end() for m in _SENTENCE_END.finditer(head) if m.end() >= floor]
    if ends:
        return head[: ends[-1]].rstrip()
    space = head.rstrip().rfind(" ")
    if space >= floor:
        return head[:space].rstrip()
    return head.rstrip()


def _parse(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _may_continue(turn: Turn, raw: str) -> bool:
    """Whether the client may have cut this message (then the next one within the window is its rest)."""
    return utf16_len(raw) >= turn.ctx.limits.paste_part_min


def is_part(turn: Turn) -> bool:
    """This text follows, within the paste window, a description part the client may have cut."""
    return follows(turn.conv.paste, turn.incoming, turn.ctx.limits.paste_window_s)


def follows(paste: dict[str, object], incoming: Incoming, window_s: float) -> bool:
    """:func:`is_part` on the conversation's ``paste`` note: also the flood limit's rule (a split paste
    counts as one message, see :mod:`handlers.floods`)."""
    received = incoming.received_at
    if not paste or not paste.get("open") or received is None or not isinstance(incoming.event, Text):
        return False
    last = _parse(paste.get("at"))
    if last is None or (last.tzinfo is None) != (received.tzinfo is None):
        return False
    gap = (received - last).total_seconds()
    return 0 <= gap <= window_s


def _join(first: str, second: str) -> str:
    """Parts as the client cut them: at a line break or a space (which it dropped)."""
    glue = "\n" if first.endswith((".", "!", "?", ":", "…")) else " "
    return f"{first}{glue}{second}" if first and second else first or second


def remember(turn: Turn, text: str, *, over: bool) -> None:
    """Note a description (or its too long start) so that parts following it are recognised."""
    received = turn.incoming.received_at
    if received is None and not over:
        turn.conv.paste = {}  # no time, no window: nothing can follow it
        return
    keep = text[: turn.ctx.limits.description_max + 1] if over else text
    raw = turn.event.text if isinstance(turn.event, Text) else text
    turn.conv.paste = {
        "text": keep,
        "at": received.isoformat() if received is not None else None,
        "over": over,
        "open": received is not None and _may_continue(turn, raw),
        "editing": turn.draft.editing,
    }


def offer_cut(turn: Turn, text: str) -> Reply:
    """The one "too long" message: keep the first part (cut at a sentence) or write a shorter one."""
    limits = turn.ctx.limits
    cut = cut_at_sentence(text, limits.description_max, limits.description_min)
    rows = (
        (Button(turn.t("longtext.keep_first"), DESC_CUT),),
        (Button(turn.t("longtext.write_shorter"), DESC_SHORT),),
    )
    message = turn.t("longtext.too_long", max=limits.description_max, cut=len(cut))
    return Reply(messages=[OutMessage(message, buttons=rows)])


def on_part(turn: Turn) -> Reply:
    """A later part of the description: added to it. Over the limit for the first time: back to the
    description step with the one offer; after that, silently added (the offer stands)."""
    assert isinstance(turn.event, Text)
    conv, limits = turn.conv, turn.ctx.limits
    paste = conv.paste
    combined = _join(str(paste.get("text") or ""), _plain(turn.event.text))
    received = turn.incoming.received_at
    paste["at"] = received.isoformat() if received is not None else paste.get("at")
    paste["open"] = _may_continue(turn, turn.event.text)
    if paste.get("over"):
        paste["text"] = combined[: limits.description_max + 1]
        return Reply()
    if not _too_long(combined, limits.description_max):
        paste["text"] = combined
        turn.draft.description = combined
        return Reply()
    paste["text"], paste["over"] = combined[: limits.description_max + 1], True
    turn.draft.description = None
    turn.draft.editing = paste.get("editing")
    conv.step = Step.DESCRIPTION
    conv.return_step = None
    return offer_cut(turn, combined)


def on_keep_first(turn: Turn) -> Reply:
    """"✂️ Pakai bagian awal": the first part, cut at a sentence end within the limit."""
    paste = turn.conv.paste
    if not paste.get("over") or not paste.get("text"):
        return _stale(turn)
    limits = turn.ctx.limits
    cut = cut_at_sentence(str(paste["text"]), limits.description_max, limits.description_min)
    turn.conv.paste = {}
    turn.draft.description = cut
    return _advance(turn, turn.t("longtext.kept", count=len(cut)))


def on_write_shorter(turn: Turn) -> Reply:
    """"✍️ Tulis lebih singkat": ask for the description again; the long text is forgotten."""
    if not turn.conv.paste.get("over"):
        return _stale(turn)
    turn.conv.paste = {}
    return _reprompt(turn)
