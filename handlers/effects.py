"""Effects: what the core asks the application layer to do that needs the database.

The core stays pure; the service in :mod:`bot.services` carries these out in the same transaction
and renders the result with the core's renderers (e.g. :func:`handlers.flow.render_submitted`).
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers.events import MediaRef
from handlers.state import Draft


@dataclass(frozen=True, slots=True)
class SubmitDraft:
    """File the draft as a complaint, route it, send the agency card, confirm to the citizen."""

    draft: Draft


@dataclass(frozen=True, slots=True)
class FollowComplaint:
    """The citizen says their draft is the same problem as complaint ``number``: follow its updates
    (and count as "also reported by") instead of filing a new one."""

    number: str
    draft: Draft


@dataclass(frozen=True, slots=True)
class ShowStatus:
    """Show the citizen the status of their complaint ``number`` (checked against the owner)."""

    number: str


@dataclass(frozen=True, slots=True)
class ListComplaints:
    """Show the citizen their own recent complaints."""


@dataclass(frozen=True, slots=True)
class RelayToAgency:
    """The citizen confirmed that what they wrote is for the agency handling complaint ``number``:
    relay it to the group under the card, exactly like a reply to the agency's message."""

    number: str
    text: str
    photos: tuple[MediaRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ExportData:
    """Send the citizen everything SiKesal holds about them (/dataku): a readable summary plus the
    JSON (a file on Telegram, an expiring signed link on WhatsApp); see :mod:`bot.services.rights`."""


@dataclass(frozen=True, slots=True)
class EraseMyData:
    """The citizen confirmed /hapusdata: erase their personal data (see :mod:`bot.services.erasure`)."""


Effect = SubmitDraft | FollowComplaint | ShowStatus | ListComplaints | RelayToAgency | EraseMyData | ExportData
