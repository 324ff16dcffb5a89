"""The agency card and staff texts: caption limit, escaping, buttons, payloads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from handlers_testkit import check_message, make_ctx, make_view, media

from handlers.cards import (
    CAPTION_LIMIT,
    StaffPayload,
    alert_moved,
    alert_refused,
    alert_status_changed,
    parse_staff_payload,
    reassign_payload,
    render_card,
    render_citizen_reply_to_group,
    render_link_result,
    render_reason_required,
    render_reassign_picker,
    render_reject_prompt,
    status_payload,
)
from handlers.lifecycle import Action, decide
from handlers.messages import MessageRef
from handlers.views import HistoryEntry, reporter_alias, telegram_length

CTX = make_ctx()
NASTY = '<script>alert("x")</script> & <b>bold</b> 🛣️'
T0 = datetime(2026, 11, 28, 8, 4, tzinfo=UTC)


def _history(n: int, note: str) -> tuple[HistoryEntry, ...]:
    return tuple(
        HistoryEntry(T0, "accept", f"Petugas <{i}>" * 5, "baru", "diterima", None, None, note) for i in range(n)
    )


def _payloads(message: object) -> list[str]:
    return [b.payload for row in message.buttons for b in row]  # type: ignore[attr-defined]


def test_card_contents() -> None:
    card = render_card(make_view(), CTX)
    check_message(card)
    first = card.text.splitlines()[0]
    assert first.startswith("🆕 Baru") and "<b>JMB-2026-000042</b>" in first
    assert "🛣️ Jalan Rusak" in card.text
    assert 'href="https://www.openstreetmap.org/?mlat=-1.610100&amp;mlon=103.613100#map=18/-1.610100/103.613100"' in card.text
    assert "Google Maps" in card.text
    assert "Warga #0042" in card.text
    assert "28 Nov 2026 15:04 WIB" in card.text  # 08:04 UTC shown in WIB
    assert card.photos == (media(1),)
    assert _payloads(card) == ["st:accept:42", "st:reject:42", "st:reassign:42", "st:duplicate:42"]
    labels = [b.label for row in card.buttons for b in row]
    assert labels == ["✅ Terima", "❌ Tolak", "↪️ Alihkan", "🔁 Duplikat"]


def test_caption_fits_with_long_description_and_html_specials() -> None:
    view = make_view(
        description=(NASTY * 40)[:1000],
        address="Jl. " + "<&>" * 100,
        reporter_name="Budi <Santoso>",
        history=_history(5, "catatan <penting> " * 10),
    )
    card = render_card(view, CTX)
    check_message(card)
    assert telegram_length(card.text) <= CAPTION_LIMIT
    assert "<script>" not in card.text and "&lt;script&gt;" in card.text
    assert "Budi &lt;Santoso&gt;" in card.text
    assert "…" in card.text


@pytest.mark.parametrize("length", [0, 1, 500, 900, 1000])
def test_caption_limit_for_any_description(length: int) -> None:
    view = make_view(description="é" * length, history=_history(3, "n" * 200))
    card = render_card(view, CTX)
    assert telegram_length(card.text) <= CAPTION_LIMIT
    if length <= 500:
        assert "é" * length in card.text  # short ones are never cut


def test_emoji_description_counted_in_utf16() -> None:
    view = make_view(description="🛣️" * 500)
    card = render_card(view, CTX)
    assert telegram_length(card.text) <= CAPTION_LIMIT


def test_card_without_photos_keeps_whole_description() -> None:
    view = make_view(photos=(), description="x" * 1000)
    card = render_card(view, CTX)
    assert "x" * 1000 in card.text and not card.photos


def test_card_with_typed_address_only() -> None:
    view = make_view(latitude=None, longitude=None, address="Jl. Sultan Thaha <No. 5>")
    card = render_card(view, CTX)
    assert "Jl. Sultan Thaha &lt;No. 5&gt;" in card.text and "openstreetmap" not in card.text


def test_reporter_name_only_when_agreed() -> None:
    assert "Warga #0042" in render_card(make_view(), CTX).text
    shared = render_card(make_view(reporter_name="Siti"), CTX)
    assert "Siti" in shared.text


def test_history_shows_last_three() -> None:
    history = tuple(
        HistoryEntry(T0, "note", f"Staf{i}", None, None, None, None, f"catatan{i}") for i in range(6)
    )
    card = render_card(make_view(history=history, photos=()), CTX)
    assert "Staf5" in card.text and "Staf3" in card.text and "Staf2" not in card.text
    assert "• 28 Nov 15:04 — Staf5: 📝 Catatan lain pada pengaduan (catatan5)" in card.text  # never the raw key


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("baru", ["st:accept:42", "st:reject:42", "st:reassign:42", "st:duplicate:42"]),
        ("diterima", ["st:process:42", "st:reject:42", "st:reassign:42", "st:duplicate:42"]),
        ("diproses", ["st:resolve:42", "st:reassign:42", "st:duplicate:42"]),
        ("selesai", []),
        ("duplikat", []),
        ("ditolak", []),
    ],
)
def test_buttons_follow_lifecycle(status: str, expected: list[str]) -> None:
    assert _payloads(render_card(make_view(status=status), CTX)) == expected


def test_inactive_card_says_where_it_went() -> None:
    card = render_card(make_view(), CTX, active=False, moved_to_agency="dishub")
    assert card.buttons == ()
    first = card.text.splitlines()[0]
    assert first.startswith("↪️ Dialihkan ke Dishub") and "JMB-2026-000042" in first  # not "🆕 Baru"
    assert "tidak aktif lagi" in card.text


def test_payloads_fit_for_huge_ids() -> None:
    big = 2**63 - 1
    view = make_view(id=big)
    card = render_card(view, CTX)
    picker = render_reassign_picker(view, CTX, current_agency="pupr")
    for message in (card, picker):
        check_message(message)
        assert all(len(p.encode()) <= 64 for p in _payloads(message))
    assert f"st:reassign:{big}" in _payloads(card)


def test_reassign_picker() -> None:
    picker = render_reassign_picker(make_view(), CTX, current_agency="pupr")
    check_message(picker)
    assert _payloads(picker) == ["ra:42:dishub", "ra:42:dlh", "ra:42:pdam", "ra:42:jcoc", "ra:42:-"]
    assert all(len(row) == 1 for row in picker.buttons)
    assert "instansi mana" in picker.text
    assert telegram_length(picker.text) <= CAPTION_LIMIT


def test_reject_prompt_is_force_reply() -> None:
    prompt = render_reject_prompt(make_view(), CTX, staff_name="Andi <admin>")
    check_message(prompt)
    assert prompt.force_reply and prompt.text.startswith("Andi &lt;admin&gt;, tulis alasan penolakan")
    assert "<b>JMB-2026-000042</b>" in prompt.text
    again = render_reason_required(make_view(), CTX)
    assert again.force_reply


def test_citizen_reply_relayed_to_group() -> None:
    message = render_citizen_reply_to_group(make_view(), "Sudah makin parah <b>!</b>", CTX)
    check_message(message)
    assert message.reply_to == MessageRef(kind="card", complaint_id=42)
    assert "Warga #0042" in message.text and "&lt;b&gt;!&lt;/b&gt;" in message.text


def test_staff_alerts_are_plain_and_short() -> None:
    decision = decide("selesai", "accept")
    alert = alert_refused(decision, CTX, status="selesai")
    assert alert.show_alert and "sudah selesai" in alert.text and len(alert.text) <= 200
    assert "Dinas Perhubungan" in alert_moved(CTX, "dishub").text
    assert "📥 Diterima" in alert_status_changed(CTX, "diterima").text


def test_link_results() -> None:
    ok = render_link_result(True, CTX, agency="dlh")
    assert "Dinas Lingkungan Hidup" in ok.text
    check_message(ok)
    failed = render_link_result(False, CTX)
    assert "kedaluwarsa" in failed.text


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ("st:accept:42", StaffPayload("st", Action.ACCEPT, 42)),
        ("st:reassign:7", StaffPayload("st", Action.REASSIGN, 7)),
        ("ra:42:dishub", StaffPayload("ra", Action.REASSIGN, 42, agency="dishub")),
        ("ra:42:-", StaffPayload("ra", Action.REASSIGN, 42, cancelled=True)),
        ("st:fly:42", None),
        ("st:accept:-1", None),
        ("st:accept:abc", None),
        ("st:accept", None),
        ("ra:x:dlh", None),
        ("ra:1:bad key!", None),
        ("cat:jalan", None),
        ("", None),
        ("st:accept:1:2", None),
        ("st:accept:١٢", None),
    ],
)
def test_parse_staff_payload(payload: str, expected: StaffPayload | None) -> None:
    assert parse_staff_payload(payload) == expected


def test_payload_builders_round_trip() -> None:
    for action in Action:
        assert parse_staff_payload(status_payload(action, 99)) == StaffPayload("st", action, 99)
    assert parse_staff_payload(reassign_payload(5, "pdam")) == StaffPayload("ra", Action.REASSIGN, 5, agency="pdam")


def test_reporter_alias() -> None:
    assert reporter_alias(42) == "Warga #0042"
    assert reporter_alias(123456) == "Warga #123456"


def test_a_pin_without_a_street_names_its_district_once() -> None:
    """Without a geocoder the address is the district itself: the card does not repeat it."""
    only_district = render_card(make_view(address="Kec. Jelutung", kecamatan="Jelutung", kelurahan=None), CTX).text
    assert only_district.count("Kec. Jelutung") == 1
    with_street = render_card(make_view(address="Jl. Sultan Thaha", kecamatan="Pasar Jambi"), CTX).text
    assert "Jl. Sultan Thaha" in with_street and "Kec. Pasar Jambi" in with_street
