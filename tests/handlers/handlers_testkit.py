"""Helpers for the conversation-core tests: a Jambi-like context, event builders, and a driver
that checks the invariants every outcome must keep (input not mutated, HTML well-formed, no
unfilled placeholders or missing catalog keys, payloads within 64 bytes)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

from handlers.context import AgencyInfo, CategoryInfo, FlowContext, Limits
from handlers.events import (
    AddressMatch,
    ButtonPress,
    Command,
    Incoming,
    Location,
    MediaRef,
    Nearby,
    Photo,
    PlaceInfo,
    RecentStaff,
    Text,
    TooLarge,
    Unsupported,
)
from handlers.flow import Outcome, handle
from handlers.flow.versions import bare
from handlers.i18n import Catalog
from handlers.messages import MAX_PAYLOAD_BYTES, Button, OutMessage
from handlers.state import Conversation, Step
from handlers.views import ComplaintView, HistoryEntry

CATALOG = Catalog.load()

CATEGORIES = (
    CategoryInfo("jalan", "🛣️", {"id": "Jalan Rusak", "en": "Damaged Road"}, photo_required=True, target_hours=48),
    CategoryInfo("drainase", "🌊", {"id": "Drainase & Banjir", "en": "Drainage & Flooding"}, target_hours=48),
    CategoryInfo("sampah", "🗑️", {"id": "Sampah", "en": "Rubbish"}, target_hours=24),
    CategoryInfo("lampu", "💡", {"id": "Lampu Jalan", "en": "Street Lights"}, target_hours=72),
    CategoryInfo("lalin", "🚦", {"id": "Lalu Lintas", "en": "Traffic"}, target_hours=24),
    CategoryInfo("air", "🚰", {"id": "Air Bersih", "en": "Clean Water"}, target_hours=24),
    CategoryInfo("layanan", "🏛️", {"id": "Pelayanan Publik", "en": "Public Services"}, target_hours=72),
    CategoryInfo("lainnya", "📌", {"id": "Lainnya", "en": "Other"}, target_hours=72),
)
AGENCIES = (
    AgencyInfo("pupr", {"id": "Dinas PUPR Kota Jambi", "en": "Public Works Agency"}, "PUPR"),
    AgencyInfo("dishub", {"id": "Dinas Perhubungan", "en": "Transport Agency"}, "Dishub"),
    AgencyInfo("dlh", {"id": "Dinas Lingkungan Hidup", "en": "Environment Agency"}, "DLH"),
    AgencyInfo("pdam", {"id": "Perumda Air Minum Tirta Mayang", "en": "Tirta Mayang Water Utility"}, "PDAM"),
    AgencyInfo("jcoc", {"id": "Jambi City Operation Center", "en": "Jambi City Operation Center"}, "JCOC"),
)


def make_ctx(**overrides: object) -> FlowContext:
    params: dict[str, object] = {
        "categories": CATEGORIES,
        "agencies": AGENCIES,
        "catalog": CATALOG,
        "limits": Limits(description_min=10, description_max=1000, photos_max=3, address_min=5, address_max=300),
    }
    params.update(overrides)
    return FlowContext(**params)  # type: ignore[arg-type]


# --- event builders -------------------------------------------------------------------------------


def text(value: str) -> Incoming:
    return Incoming(Text(value))


def cmd(name: str, args: str = "") -> Incoming:
    return Incoming(Command(name, args))


def btn(payload: str) -> Incoming:
    return Incoming(ButtonPress(payload))


def media(n: int = 1) -> MediaRef:
    return MediaRef(sha256=f"{n:064x}", size=100_000, telegram_file_id=f"AgAC{n}")


def photo(n: int = 1, caption: str | None = None) -> Incoming:
    return Incoming(Photo(media(n), caption))


def pin(lat: float = -1.6101, lon: float = 103.6131, address: str | None = None) -> Incoming:
    return Incoming(Location(lat, lon, address))


def typed_address(value: str = "Jl. Sultan Thaha dekat pasar") -> Incoming:
    """A typed address at the location step that the geocoder placed (two candidates)."""
    matches = (
        AddressMatch(-1.5895, 103.6150, PlaceInfo(True, "Pasar Jambi", "Beringin", "Jl. Sultan Thaha, Kel. Beringin, Kec. Pasar Jambi")),
        AddressMatch(-1.6200, 103.6200, PlaceInfo(True, "Jelutung", None, "Jl. Sultan Thaha II, Kec. Jelutung")),
    )
    return Incoming(Text(value), matches=matches)


def after_staff(value: str, *numbers: str) -> Incoming:
    """Plain text soon after staff wrote about ``numbers`` (the service passes them as recent_staff)."""
    recent = tuple(RecentStaff(number, "pupr") for number in numbers or ("JMB-2026-000001",))
    return Incoming(Text(value), recent_staff=recent)


def send_near(*numbers: str) -> Incoming:
    """"Send" at the summary while open complaints of the same category are close by."""
    found = tuple(
        Nearby(number, "Sampah menumpuk di pinggir jalan", "diterima", 12.0 + i) for i, number in enumerate(
            numbers or ("JMB-2026-000007",))
    )
    return Incoming(ButtonPress("sum:send"), nearby=found)


def unsupported(kind: str) -> Incoming:
    return Incoming(Unsupported(kind))


def too_large(size: int = 15 * 1024 * 1024, max_bytes: int = 10 * 1024 * 1024) -> Incoming:
    return Incoming(TooLarge(size, max_bytes))


UNSUPPORTED_KINDS = (
    "sticker",
    "voice",
    "video",
    "audio",
    "contact",
    "poll",
    "document",
    "animation",
    "video_note",
    "dice",
    "game",
    "unknown",
)

DESCRIPTION = "Sampah menumpuk di depan pasar sejak tiga hari, baunya menyengat."


# --- invariant checks -----------------------------------------------------------------------------

_ALLOWED_TAGS = {"b", "i", "u", "s", "code", "pre", "a"}
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}")
_KEYLIKE = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


class _TagChecker(HTMLParser):
    """Telegram's HTML subset: known tags only, balanced; anything else is a bug."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in _ALLOWED_TAGS, f"tag <{tag}> not allowed"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"unbalanced </{tag}>"
        self.stack.pop()


def check_html(value: str) -> None:
    checker = _TagChecker()
    checker.feed(value)
    checker.close()
    assert not checker.stack, f"unclosed tags {checker.stack}"


def check_message(message: OutMessage) -> None:
    if message.takes_buttons_off:  # "take the used buttons off that message": nothing to read
        assert message.edit is not None and message.edit.message_id and not message.buttons
        return
    assert message.text.strip(), "empty message"
    check_html(message.text)
    assert not _PLACEHOLDER.search(message.text), f"unfilled placeholder in {message.text!r}"
    for line in message.text.splitlines():
        assert not _KEYLIKE.match(line.strip()), f"missing catalog key {line!r}"
    for row in message.buttons:
        for button in row:
            assert len(button.payload.encode()) <= MAX_PAYLOAD_BYTES
            assert button.label and not _KEYLIKE.match(button.label), f"bad label {button.label!r}"
    for kb_row in message.keyboard:
        for kb in kb_row:
            assert kb.label and not _KEYLIKE.match(kb.label)
    # buttons with remove_keyboard is one message: the sender removes the keyboard, then adds the buttons
    assert not (message.buttons and message.keyboard), "one message cannot show both kinds of keyboard"


def step(conv: Conversation, incoming: Incoming, ctx: FlowContext) -> Outcome:
    """``handle`` plus the invariants: input untouched, a new object returned, sane messages."""
    before = conv.to_dict()
    outcome = handle(conv, incoming, ctx)
    assert conv.to_dict() == before, "handle() mutated its input"
    assert outcome.conversation is not conv
    assert outcome.conversation.draft is not conv.draft
    for message in [*outcome.messages, *outcome.followup]:
        check_message(message)
    assert "error.generic" not in all_text(outcome)
    assert outcome.messages or outcome.effects, "no answer at all"
    return unstamped(outcome)


def _bare_message(message: OutMessage) -> OutMessage:
    rows = tuple(tuple(Button(b.label, bare(b.payload)) for b in row) for row in message.buttons)
    return replace(message, buttons=rows)


def unstamped(outcome: Outcome) -> Outcome:
    """The outcome with its buttons named as the tables name them (``sum:send``, not ``sum:send~3``):
    the tests compare payloads; the version stamp is tested on its own (tests/handlers/test_flow_drafts.py)."""
    return replace(
        outcome,
        messages=[_bare_message(m) for m in outcome.messages],
        followup=[_bare_message(m) for m in outcome.followup],
    )


def run(conv: Conversation, ctx: FlowContext, *events: Incoming) -> tuple[Conversation, list[Outcome]]:
    outcomes = []
    for incoming in events:
        outcome = step(conv, incoming, ctx)
        outcomes.append(outcome)
        conv = outcome.conversation
    return conv, outcomes


def all_text(outcome: Outcome) -> str:
    return "\n".join(m.text for m in [*outcome.messages, *outcome.followup])


def payloads(outcome: Outcome) -> list[str]:
    return [b.payload for m in outcome.messages for row in m.buttons for b in row]


def at_step(target: Step, ctx: FlowContext, language: str = "id") -> Conversation:
    """A conversation at ``target`` reached through the real flow, with a realistic draft."""
    # someone who got this far was greeted long ago (a first message gets the welcome; see test_flow_dead_ends)
    conv = Conversation(language=language, language_chosen=language != "id", greeted=True)
    path: dict[Step, list[Incoming]] = {
        Step.IDLE: [],
        Step.CATEGORY: [btn("menu:new")],
        Step.DESCRIPTION: [btn("menu:new"), btn("cat:sampah")],
        Step.PHOTOS: [btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION)],
        Step.LOCATION: [btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION), photo(1), btn("photo:done")],
        Step.SUMMARY: [btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION), photo(1), btn("photo:done"), pin()],
        Step.EDIT_MENU: [
            btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION), photo(1), btn("photo:done"), pin(), btn("sum:edit"),
        ],
        Step.STATUS_NUMBER: [btn("menu:status")],
        Step.RELAY_CONFIRM: [after_staff("Depan masjid, sebelah warung")],
        Step.ADDRESS_PICK: [
            btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION), photo(1), btn("photo:done"), typed_address(),
        ],
        Step.DUPLICATES: [
            btn("menu:new"), btn("cat:sampah"), text(DESCRIPTION), photo(1), btn("photo:done"), pin(), send_near(),
        ],
    }
    conv, _ = run(conv, ctx, *path[target])
    assert conv.step == target
    return conv


def make_view(**overrides: object) -> ComplaintView:
    created = datetime(2026, 11, 28, 8, 4, tzinfo=UTC)
    params: dict[str, object] = {
        "id": 42,
        "number": "JMB-2026-000042",
        "category": "jalan",
        "description": "Lubang besar di Jl. Sudirman depan Masjid Al-Ikhlas, membahayakan motor.",
        "status": "baru",
        "agency": "pupr",
        "created_at": created,
        "due_at": datetime(2026, 11, 30, 8, 4, tzinfo=UTC),
        "photos": (media(1),),
        "latitude": -1.6101,
        "longitude": 103.6131,
        "address": None,
        "reporter_alias": "Warga #0042",
        "reporter_name": None,
        "history": (
            HistoryEntry(created, "submit", None, None, "baru", None, "pupr", None),
        ),
    }
    params.update(overrides)
    return ComplaintView(**params)  # type: ignore[arg-type]
