"""Anonim and Rahasia: what a citizen's privacy choice on a complaint hides, and from whom.

Why one module: the choice is made once (on the summary) and read in many places (the agency card,
``/status``, the nearby-duplicate offers to other citizens, a reassigned complaint's old card, and
later Open311 and public exports). Each of them asks this module instead of comparing strings, so a
new place that shows complaints cannot forget a rule.

* ``""`` (*Biasa*, the default): staff see a stable alias ("Warga #0042"), or the name when the citizen
  pressed "Tampilkan nama saya"; the content is visible to staff.
* ``"anonim"``: no name anywhere staff look, and an alias of this complaint only ("Anonim #K7QF2M",
  random, stored with the complaint): two complaints of one citizen cannot be linked by it.
* ``"rahasia"``: the words and photos are for the handling agency and the command centre only: never in
  other citizens' nearby offers, never on a card left in another agency's group after a reassignment,
  never in public exports (:func:`is_public`).

One choice of three (not two toggles): the ``complaints.privacy`` column holds one value, and a citizen
who is not tech-savvy reads three short sentences and picks one. Pure: no I/O.
"""

from __future__ import annotations

import secrets
from typing import Protocol

from handlers.context import FlowContext

BIASA = ""
ANONIM = "anonim"
RAHASIA = "rahasia"

#: the choices in the order the citizen sees them: (stored value, button payload argument)
CHOICES: tuple[tuple[str, str], ...] = ((BIASA, "biasa"), (ANONIM, ANONIM), (RAHASIA, RAHASIA))
#: payload argument -> stored value
BY_ARG: dict[str, str] = {arg: value for value, arg in CHOICES}

#: an anonymous complaint's alias: a fixed prefix (an identifier, the same in every language, like
#: "Warga #0042") and random letters and digits without look-alikes (0/O, 1/I)
ANON_PREFIX = "Anonim"
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_ALIAS_LENGTH = 6


class HasPrivacy(Protocol):
    """A complaint row, a view or anything else carrying the stored choice."""

    @property
    def privacy(self) -> str: ...


def normalise(value: object) -> str:
    """The stored value for anything read back; anything unknown is the default (``""``)."""
    text = str(value or "").strip().lower()
    return text if text in (ANONIM, RAHASIA) else BIASA


def is_anonymous(item: HasPrivacy | str) -> bool:
    """No name and no stable alias for staff or any export."""
    return normalise(item if isinstance(item, str) else item.privacy) == ANONIM


def is_confidential(item: HasPrivacy | str) -> bool:
    """Content only for the handling agency and the command centre."""
    return normalise(item if isinstance(item, str) else item.privacy) == RAHASIA


def is_public(item: HasPrivacy | str) -> bool:
    """May the complaint's words and photos leave the handling agency and the command centre (other
    citizens' nearby offers, Open311, public exports, a card left in another agency's group)? The one
    rule every such place uses."""
    return not is_confidential(item)


def new_anonymous_alias(token: str | None = None) -> str:
    """A fresh alias for one anonymous complaint. Random (not derived from the citizen, nor from any id
    with a key that could leak), so nothing links two complaints of one citizen; stored with the
    complaint so every card, reminder and history line shows the same one. ``token`` fixes it in tests."""
    letters = token or "".join(secrets.choice(_ALPHABET) for _ in range(_ALIAS_LENGTH))
    return f"{ANON_PREFIX} #{letters}"


def mark(item: HasPrivacy | str, language: str, ctx: FlowContext) -> str | None:
    """"🕶️ Anonim" / "🔒 Rahasia" for the card and ``/status``; None for the default."""
    value = normalise(item if isinstance(item, str) else item.privacy)
    return ctx.t(language, f"privacy.mark.{value}") if value else None


def label(value: str, language: str, ctx: FlowContext) -> str:
    """The choice's name on its button and on the summary ("Biasa", "Anonim", "Rahasia")."""
    return ctx.t(language, f"privacy.choice.{normalise(value) or 'biasa'}")
