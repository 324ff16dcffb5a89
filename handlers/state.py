"""Conversation state: what the core remembers about one citizen between events.

It is stored as a database row (JSON ``draft``), never in process memory, so a restart resumes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from handlers.events import MediaRef

#: one item of a menu the citizen was shown: (label, button payload); see :mod:`handlers.choices`
Choice = tuple[str, str]


class Step(StrEnum):
    """Where the citizen is. The transition table in :mod:`handlers.flow` is keyed by these."""

    IDLE = "idle"  # main menu; no draft in progress
    CATEGORY = "category"
    DESCRIPTION = "description"
    PHOTOS = "photos"
    LOCATION = "location"
    SUMMARY = "summary"
    EDIT_MENU = "edit_menu"  # choosing which field to change
    STATUS_NUMBER = "status_number"  # "check status" asked for a tracking number
    DUPLICATES = "duplicates"  # "is this the same problem as one of these?" before filing
    ADDRESS_PICK = "address_pick"  # "is this the place you typed?" (geocoder candidates)
    RELAY_CONFIRM = "relay_confirm"  # "send this to the agency for JMB-…?" (staff wrote to the citizen lately)


#: steps in which a draft exists (reminders and discarding apply to these)
FILING_STEPS = frozenset(
    {Step.CATEGORY, Step.DESCRIPTION, Step.PHOTOS, Step.LOCATION, Step.SUMMARY, Step.EDIT_MENU, Step.DUPLICATES,
     Step.ADDRESS_PICK}
)


@dataclass(slots=True)
class Draft:
    """A complaint being written. Out-of-order input (a photo before it was asked) is kept here."""

    category: str | None = None
    description: str | None = None
    photos: list[MediaRef] = field(default_factory=list)
    photos_skipped: bool = False
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None  # typed address, or the place name that came with a pin
    #: set while the citizen edits one field from the summary: go back to the summary after it
    editing: str | None = None
    #: the citizen agreed that agency staff may see their name on this complaint (off by default)
    share_name: bool = False
    #: Anonim / Rahasia chosen on the summary (see :mod:`handlers.privacy`): "" | "anonim" | "rahasia"
    privacy: str = ""
    #: the photos set aside while the citizen sends replacements ("edit photos"); restored if they
    #: press "done" without sending any new photo
    previous_photos: list[MediaRef] = field(default_factory=list)
    #: where the pin is, as far as the city's boundaries and the geocoder could tell
    kecamatan: str | None = None
    kelurahan: str | None = None
    place: str | None = None
    #: the nearby complaints offered as "the same problem?" (their numbers); empty = not asked yet
    nearby_offered: list[str] = field(default_factory=list)
    #: the citizen's own complaint with the same text offered as "sudah dilaporkan" (asked once per draft)
    refiled_offered: str | None = None
    #: places the geocoder found for the typed address, while the citizen picks one
    address_matches: list[dict[str, Any]] = field(default_factory=list)
    #: a photo's caption, offered as the description (never used without the citizen's yes)
    caption: str | None = None

    @property
    def has_location(self) -> bool:
        return (self.latitude is not None and self.longitude is not None) or bool(self.address)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "description": self.description,
            "photos": [p.to_dict() for p in self.photos],
            "photos_skipped": self.photos_skipped,
            "latitude": self.latitude,
            "longitude": self.longitude,
            "address": self.address,
            "editing": self.editing,
            "share_name": self.share_name,
            "privacy": self.privacy,
            "previous_photos": [p.to_dict() for p in self.previous_photos],
            "kecamatan": self.kecamatan,
            "kelurahan": self.kelurahan,
            "place": self.place,
            "nearby_offered": list(self.nearby_offered),
            "refiled_offered": self.refiled_offered,
            "address_matches": [dict(m) for m in self.address_matches],
            "caption": self.caption,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Draft:
        data = data or {}
        return cls(
            category=data.get("category"),
            description=data.get("description"),
            photos=[MediaRef.from_dict(p) for p in data.get("photos", [])],
            photos_skipped=bool(data.get("photos_skipped")),
            latitude=data.get("latitude"),
            longitude=data.get("longitude"),
            address=data.get("address"),
            editing=data.get("editing"),
            share_name=bool(data.get("share_name")),
            privacy=str(data.get("privacy") or "") if data.get("privacy") in ("anonim", "rahasia") else "",
            previous_photos=[MediaRef.from_dict(p) for p in data.get("previous_photos") or []],
            kecamatan=data.get("kecamatan"),
            kelurahan=data.get("kelurahan"),
            place=data.get("place"),
            nearby_offered=[str(n) for n in data.get("nearby_offered") or []],
            refiled_offered=str(data["refiled_offered"]) if data.get("refiled_offered") else None,
            address_matches=[dict(m) for m in data.get("address_matches") or [] if isinstance(m, dict)],
            caption=str(data["caption"]) if data.get("caption") else None,
        )


@dataclass(slots=True)
class PendingRelay:
    """What a citizen wrote at the menu soon after staff wrote to them, held while they say whether it
    is for the agency (see :mod:`handlers.flow.relay`): their texts and photos in order, and the
    complaints it may be about as ``(number, agency key)``, the one staff wrote about last first."""

    targets: list[tuple[str, str]] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    photos: list[tuple[MediaRef, str | None]] = field(default_factory=list)  # (photo, caption)

    def to_dict(self) -> dict[str, Any]:
        return {
            "targets": [[number, agency] for number, agency in self.targets],
            "texts": list(self.texts),
            "photos": [{"media": media.to_dict(), "caption": caption} for media, caption in self.photos],
        }

    @classmethod
    def from_dict(cls, data: object) -> PendingRelay | None:
        """None for anything that is not a pending relay (a row from older code, a damaged one)."""
        if not isinstance(data, dict):
            return None
        try:
            targets = [(str(t[0]), str(t[1])) for t in data.get("targets") or [] if isinstance(t, list | tuple)]
            texts = [str(t) for t in data.get("texts") or [] if isinstance(t, str)]
            photos = [
                (MediaRef.from_dict(p["media"]), str(p["caption"]) if p.get("caption") else None)
                for p in data.get("photos") or [] if isinstance(p, dict)
            ]
        except (KeyError, TypeError, ValueError, IndexError):
            return None
        return cls(targets, texts, photos) if targets else None


@dataclass(slots=True)
class Conversation:
    """One citizen's state. ``language`` is ``id`` or ``en``; ``language_chosen`` once they picked."""

    step: Step = Step.IDLE
    language: str = "id"
    language_chosen: bool = False
    draft: Draft = field(default_factory=Draft)
    #: where to go back to after a detour (e.g. "check status" in the middle of filing a complaint)
    return_step: Step | None = None
    #: the last menu sent, in numbering order, so a typed "2" or "kirim" can be resolved
    #: (:func:`handlers.choices.remember` keeps it current)
    choices: list[Choice] = field(default_factory=list)
    #: the version stamped on the buttons of the menus sent now (:mod:`handlers.flow.versions`): a
    #: press carrying another one comes from an older message
    menu_version: int = 0
    #: the bot has greeted this citizen (a first "halo", "P" or sticker gets the welcome, not a hint)
    greeted: bool = False
    #: answers in a row the current step could not use; at ``Limits.misses_before_menu`` the menu is offered
    misses: int = 0
    #: when the citizen was asked for a tracking number (ISO time), so an unanswered detour expires
    detour_since: str | None = None
    #: a long description arriving in parts (see :mod:`handlers.flow.longtext`): {"at", "text", "over"}
    paste: dict[str, Any] = field(default_factory=dict)
    #: at ``Step.RELAY_CONFIRM``: what waits for "send it to the agency?" (kept only in that step)
    relay: PendingRelay | None = None
    #: the follow-up question open with this citizen ("is it fixed?", the rating, an appeal): its own
    #: small state, read and written only by :mod:`handlers.followup` (empty when none is open)
    followup: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "language": self.language,
            "language_chosen": self.language_chosen,
            "draft": self.draft.to_dict(),
            "return_step": self.return_step.value if self.return_step else None,
            "choices": [[label, payload] for label, payload in self.choices],
            "menu_version": self.menu_version,
            "greeted": self.greeted,
            "misses": self.misses,
            "detour_since": self.detour_since,
            "paste": dict(self.paste),
            # the citizen's words are kept only while the question is open
            "relay": self.relay.to_dict() if self.relay is not None and self.step == Step.RELAY_CONFIRM else None,
            "followup": dict(self.followup),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Conversation:
        data = data or {}
        return cls(
            step=Step(data.get("step", Step.IDLE.value)),
            language=data.get("language", "id"),
            language_chosen=bool(data.get("language_chosen")),
            draft=Draft.from_dict(data.get("draft")),
            return_step=_step_or_none(data.get("return_step")),
            choices=_choices(data.get("choices")),
            menu_version=_int(data.get("menu_version")),
            # a row saved before greetings were remembered belongs to someone who already talked to the bot
            greeted=bool(data.get("greeted", bool(data))),
            misses=_int(data.get("misses")),
            detour_since=str(data["detour_since"]) if data.get("detour_since") else None,
            paste=dict(data["paste"]) if isinstance(data.get("paste"), dict) else {},
            relay=PendingRelay.from_dict(data.get("relay")),
            followup=dict(data["followup"]) if isinstance(data.get("followup"), dict) else {},
        )


def _step_or_none(value: object) -> Step | None:
    """Read an optional stored step; an unknown value (older/newer code) just means "none"."""
    try:
        return Step(str(value)) if value else None
    except ValueError:
        return None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _choices(value: object) -> list[Choice]:
    """Read the stored menu. Rows from before menus were remembered have none; anything malformed
    is skipped rather than failing the citizen's event (the worst case is a typed number that is
    not understood, which the step answers)."""
    if not isinstance(value, list):
        return []
    return [
        (item[0], item[1])
        for item in value
        if isinstance(item, list | tuple) and len(item) == 2 and all(isinstance(x, str) and x for x in item)
    ]
