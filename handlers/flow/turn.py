"""The types every handler shares: the turn it gets, the reply it gives, the outcome of an event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from handlers.context import FlowContext
from handlers.effects import Effect
from handlers.events import (
    Event,
    Incoming,
)
from handlers.messages import Alert, OutMessage
from handlers.state import Conversation, Draft, Step

# --- results --------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """The result of one event: the new state, what to say, what the service must do.

    ``followup`` is said *after* the service has rendered the effects' results (e.g. "back to your
    draft" after a status check in the middle of filing), so it comes last in the chat.
    """

    conversation: Conversation
    messages: list[OutMessage]
    effects: list[Effect]
    alert: Alert | None = None
    followup: list[OutMessage] = field(default_factory=list)


@dataclass
class Reply:
    """What a handler decided. ``notices`` are short lines said before the prompt; :func:`_finish`
    merges them into the first message (or sends them alone when a reply keyboard must go)."""

    notices: list[str] = field(default_factory=list)
    messages: list[OutMessage] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    alert: Alert | None = None
    followup: list[OutMessage] = field(default_factory=list)


@dataclass(slots=True)
class Turn:
    """One event being handled. ``conv`` is the working copy handlers change; ``arg`` is the part
    of a button payload after its prefix (``cat:jalan`` -> ``jalan``) or a command's arguments."""

    conv: Conversation
    incoming: Incoming
    ctx: FlowContext
    arg: str = ""

    @property
    def event(self) -> Event:
        return self.incoming.event

    @property
    def draft(self) -> Draft:
        return self.conv.draft

    def t(self, key: str, **params: object) -> str:
        return self.ctx.t(self.conv.language, key, **params)


Handler = Callable[[Turn], Reply]


@dataclass(frozen=True, slots=True)
class Transition:
    """A cell of the transition table: who handles it and (for the diagram) where it can lead.
    An empty ``targets`` means the step stays the same."""

    handler: Handler
    targets: tuple[Step, ...] = ()
