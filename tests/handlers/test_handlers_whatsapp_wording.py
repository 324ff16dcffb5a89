"""A WhatsApp citizen never reads about Telegram controls.

WhatsApp has no buttons to press and no "(reply)" gesture by that name: menus are numbered lists,
a place is shared with 📎 (Android) or ➕ (iPhone) → Lokasi, and a message is answered by swiping it
to the right. The citizen-facing texts that name Telegram controls therefore have WhatsApp versions
in ``channel-whatsapp.po``, chosen by the channel's context.

These tests catch the class, not one text: they walk the conversation core from every step with
every kind of input and every button it offers (so a new step or prompt is covered without being
listed here), render each answer the way the WhatsApp sender does, add every citizen renderer of
:mod:`handlers.views` and the idle-draft messages, and check the whole catalog too: a new citizen
text that says "tekan tombol" fails here until it has its WhatsApp wording.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from babel.messages.pofile import read_po

from bot.whatsapp.render import render_whatsapp
from handlers import flow
from handlers.context import FlowContext
from handlers.events import ButtonPress, Incoming, Location, PlaceInfo, RecentStaff, Text
from handlers.i18n import DEFAULT_LOCALES_DIR, Catalog
from handlers.messages import KeyboardButton, OutMessage
from handlers.state import Conversation, Step
from handlers.views import HistoryEntry
from tests.handlers.handlers_testkit import (
    DESCRIPTION,
    at_step,
    cmd,
    make_ctx,
    make_view,
    photo,
    pin,
    send_near,
    text,
    too_large,
    typed_address,
    unsupported,
)

BASE = make_ctx()
WHATSAPP = BASE.for_channel("whatsapp")
LANGUAGES = ("id", "en")

#: words that name a Telegram control: pressing or tapping a button, Telegram's "(reply)"
TELEGRAM_CONTROLS = re.compile(
    r"\b(?:tekan|menekan|tekanlah|tombol|ketuk|klik|press(?:ing)?|tap(?:s|ping)?|buttons?)\b|\(reply\)",
    re.IGNORECASE,
)

#: catalog keys only agency staff read (in their Telegram group, where the controls exist)
STAFF_PREFIXES = ("card.", "staff.", "command.", "action.", "relay.staff_", "cc.", "reminders.single.", "reminders.fold")
STAFF_FILES = ("sikesal-staff.po", "sikesal-tools.po")


def offending(text: str) -> list[str]:
    """The lines of ``text`` that name a Telegram control."""
    return [line for line in text.splitlines() if TELEGRAM_CONTROLS.search(line)]


def whatsapp_reads(message: OutMessage, language: str) -> str:
    """What the WhatsApp sender makes of ``message``: its text, the numbered menu and the hints."""
    return "\n\n".join(render_whatsapp(message, language=language, ctx=WHATSAPP).bodies)


# --- the catalog -------------------------------------------------------------------------------------


def _staff_keys() -> set[str]:
    found: set[str] = set()
    for name in STAFF_FILES:
        for path in DEFAULT_LOCALES_DIR.glob(f"*/LC_MESSAGES/{name}"):
            with path.open("rb") as fh:
                found |= {str(m.id) for m in read_po(fh) if m.id}
    return found


def _citizen_keys(catalog: Catalog, language: str) -> list[str]:
    staff = _staff_keys()
    return sorted(k for k in catalog.keys(language) if not k.startswith(STAFF_PREFIXES) and k not in staff)


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_citizen_text_in_the_whatsapp_catalog_names_a_telegram_control(language: str) -> None:
    worded = BASE.catalog.for_channel("whatsapp")
    bad = {
        key: worded.t(language, key)
        for key in _citizen_keys(worded, language)
        if offending(worded.t(language, key))
    }
    assert not bad, f"give these a WhatsApp wording in channel-whatsapp.po: {json.dumps(bad, ensure_ascii=False)}"


def test_the_overlay_is_only_for_whatsapp_and_telegram_keeps_its_words() -> None:
    """Telegram citizens still read "tekan"/"tap": the overlay must not leak into the default texts."""
    telegram = BASE.catalog.for_channel("telegram")
    assert "Tekan tombol “📍 Kirim Lokasi”" in telegram.t("id", "filing.ask_location", min=5, max=300)
    assert "Tap the “📍 Send Location” button" in telegram.t("en", "filing.ask_location", min=5, max=300)
    assert "Balas (reply) pesan ini" in telegram.t("id", "notify.reply_hint")
    worded = BASE.catalog.for_channel("whatsapp")
    assert "Geser pesan ini ke kanan" in worded.t("id", "notify.reply_hint")
    assert "Swipe this message to the right" in worded.t("en", "notify.reply_hint")
    assert "📎 atau ➕ → Lokasi" in worded.t("id", "filing.address_bounds", min=5, max=300, count=2)


# --- every answer the conversation core can give -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Seen:
    """One message a citizen can get, and how the walk got there (for the failure message)."""

    path: str
    text: str


def _on_whatsapp(incoming: Incoming) -> Incoming:
    return replace(incoming, channel="whatsapp", typed_choices=True)


def _inputs() -> list[tuple[str, Incoming]]:
    """Every kind of input, whatever the step: words, numbers, photos, pins, commands, oddities."""
    outside = Incoming(Location(-6.2, 106.8, None, PlaceInfo(inside=False)))
    found: list[tuple[str, Incoming]] = [
        ("text 'halo'", text("halo")),
        ("a description", text(DESCRIPTION)),
        ("text 'x'", text("x")),
        ("text '1'", text("1")),
        ("text '2'", text("2")),
        ("text '99'", text("99")),
        ("a very long text", text("Jalan rusak parah. " * 120)),
        ("text 'JMB-2026-000007'", text("JMB-2026-000007")),
        ("a photo", photo(7)),
        ("a photo with a caption", photo(8, caption="Lubang besar di depan pasar sejak kemarin sore")),
        ("a pin", pin()),
        ("a pin outside the city", outside),
        ("a typed address", typed_address()),
        ("a too short address", text("Jl")),
        ("a file too large", too_large()),
        ("an unknown command", cmd("foo")),
        ("/status with a number", cmd("status", "JMB-2026-000007")),
        ("/status with junk", cmd("status", "xyz")),
        ("send near others", send_near()),
        ("an old category press", Incoming(ButtonPress("cat:lampu"))),
    ]
    found += [(f"unsupported {kind}", unsupported(kind)) for kind in ("sticker", "voice", "video", "document", "unknown")]
    found += [(f"/{name}", cmd(name)) for name in flow.GLOBAL_COMMANDS]
    for recent in ((RecentStaff("JMB-2026-000007", "pupr"),),
                   (RecentStaff("JMB-2026-000007", "pupr"), RecentStaff("JMB-2026-000009", "dlh"))):
        # staff wrote lately: plain text (or a photo) is offered to them, for one or for several complaints
        said = Text("Lubangnya di sisi kiri jalan, dekat tiang listrik")
        found.append((f"text after {len(recent)} staff wrote", Incoming(said, recent_staff=recent)))
        found.append((f"a photo after {len(recent)} staff wrote", replace(photo(9), recent_staff=recent)))
    return found


def _presses(messages: list[OutMessage]) -> Iterator[tuple[str, Incoming]]:
    for message in messages:
        for row in message.buttons:
            for button in row:
                yield f"choose {button.label!r}", Incoming(ButtonPress(button.payload))


def _seeds(language: str, ctx: FlowContext) -> list[tuple[str, Conversation, list[OutMessage]]]:
    seeds = []
    for target in (
        Step.IDLE, Step.CATEGORY, Step.DESCRIPTION, Step.PHOTOS, Step.LOCATION, Step.SUMMARY, Step.EDIT_MENU,
        Step.STATUS_NUMBER, Step.ADDRESS_PICK, Step.DUPLICATES,
    ):
        conv = at_step(target, ctx, language)
        seeds.append((target.value, conv, flow.prompt(conv, ctx)))
    return seeds


def walk(language: str, ctx: FlowContext, *, depth: int = 2, limit: int = 400) -> list[Seen]:
    """Every message the core sends, from every step, for every input and every offered choice,
    ``depth`` moves deep (breadth first, each conversation state visited once)."""
    seen: list[Seen] = []
    frontier = _seeds(language, ctx)
    visited: set[str] = set()
    for path, conv, shown in frontier:
        seen += [Seen(f"{path}: prompt", whatsapp_reads(m, language)) for m in shown if m.text]
        for name, outcome in (("remind", flow.remind(conv, ctx)), ("discard", flow.discard_idle(conv, ctx))):
            seen += [Seen(f"{path}: {name}", whatsapp_reads(m, language)) for m in outcome.messages if m.text]
    for _ in range(depth):
        following: list[tuple[str, Conversation, list[OutMessage]]] = []
        for path, conv, shown in frontier:
            for what, incoming in [*_inputs(), *_presses(shown)]:
                outcome = flow.handle(conv, _on_whatsapp(incoming), ctx)
                sent = [m for m in [*outcome.messages, *outcome.followup] if m.text]
                where = f"{path} → {what}"
                seen += [Seen(where, whatsapp_reads(m, language)) for m in sent]
                if outcome.alert is not None:
                    seen.append(Seen(f"{where} (alert)", outcome.alert.text))
                state = json.dumps(outcome.conversation.to_dict(), sort_keys=True, default=str)
                if state not in visited and len(visited) < limit:
                    visited.add(state)
                    following.append((where, outcome.conversation, sent or shown))
        frontier = following
    return seen


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_whatsapp_answer_of_the_conversation_names_a_telegram_control(language: str) -> None:
    seen = walk(language, WHATSAPP)
    assert len(seen) > 500, "the walk reached the whole conversation"
    texts = "\n".join(s.text for s in seen)
    assert "📎" in texts and "➕" in texts, "the location step says how to share a place on WhatsApp"
    assert re.search(r"^1\. ", texts, re.MULTILINE), "menus are numbered lists"
    bad = {s.path: offending(s.text) for s in seen if offending(s.text)}
    assert not bad, json.dumps(dict(list(bad.items())[:15]), ensure_ascii=False, indent=1)


def test_the_same_steps_on_telegram_keep_their_telegram_words() -> None:
    """The contrast: with the default context the location step names the button (Telegram has it)."""
    conv = at_step(Step.LOCATION, BASE, "id")
    (asked,) = flow.prompt(conv, BASE)
    assert "Tekan tombol “📍 Kirim Lokasi”" in asked.text
    (worded,) = flow.prompt(conv, WHATSAPP)
    shown = whatsapp_reads(worded, "id")
    assert "Tekan" not in shown and "📎 (Android) atau ➕ (iPhone) → *Lokasi*" in shown


# --- what the services render for a citizen -----------------------------------------------------------


def _views_for(language: str, ctx: FlowContext) -> Iterator[tuple[str, OutMessage]]:
    note = HistoryEntry(make_view().created_at, "reject", "Andi", "baru", "ditolak", None, None, "Bukan wewenang kami")
    moved = HistoryEntry(make_view().created_at, "reassign", "Andi", "diterima", "baru", "pupr", "dishub", None)
    yield "submitted", flow.render_submitted(language, "JMB-2026-000042", "pupr", 48, ctx)
    yield "following", flow.render_following(language, "JMB-2026-000042", "pupr", ctx)
    yield "status", flow.render_status(language, make_view(), ctx)
    yield "not found", flow.render_status_not_found(language, "JMB-2026-000999", ctx)
    yield "my complaints", flow.render_my_complaints(language, [make_view(), make_view(number="JMB-2026-000043")], ctx)
    yield "no complaints", flow.render_my_complaints(language, [], ctx)
    for status in ("baru", "diterima", "diproses", "selesai", "ditolak"):
        yield f"notice {status}", flow.render_status_notification(language, make_view(status=status), ctx=ctx)
    joined = make_view(status="duplikat", duplicate_of_number="JMB-2026-000007", duplicate_of_status="diterima")
    yield "marked duplicate", flow.render_status_notification(language, joined, ctx=ctx)
    yield "status of a duplicate", flow.render_status(language, joined, ctx)
    yield "rejected", flow.render_status_notification(language, make_view(status="ditolak", history=(note,)), ctx=ctx)
    yield "reassigned", flow.render_status_notification(language, make_view(history=(moved,)), ctx=ctx)
    yield "staff reply", flow.render_staff_reply(language, "JMB-2026-000042", "pupr", "Tim kami besok ke sana", ctx)
    yield "reply passed on", flow.render_citizen_reply_sent(language, "JMB-2026-000042", "pupr", ctx)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_service_renderers_speak_whatsapp(language: str) -> None:
    bad = {}
    for name, message in _views_for(language, WHATSAPP):
        found = offending(whatsapp_reads(message, language))
        if found:
            bad[name] = found
    assert not bad, bad
    swipe = {"id": "Geser pesan ini ke kanan", "en": "Swipe this message to the right"}[language]
    notice = flow.render_status_notification(language, make_view(status="diterima"), ctx=WHATSAPP)
    assert swipe in notice.text
    assert swipe.lower() in flow.render_staff_reply(language, "JMB-2026-000042", "pupr", "x", WHATSAPP).text.lower()
    telegram = {"id": "Balas (reply) pesan ini", "en": "Reply to this message"}[language]
    assert telegram in flow.render_status_notification(language, make_view(status="diterima"), ctx=BASE).text


def test_the_renderer_uses_whatsapp_words_whatever_context_it_is_given() -> None:
    """The sender passes the WhatsApp context, but a caller passing the default one gets them too."""
    keyboard = ((KeyboardButton("📍 Kirim Lokasi", request_location=True),),)
    for ctx in (BASE, BASE.catalog, WHATSAPP):
        (body,) = render_whatsapp(OutMessage("📍 Di mana?", keyboard=keyboard), language="id", ctx=ctx).bodies
        assert "📎 (Android) atau ➕ (iPhone)" in body and not offending(body)
