"""The citizen-side renderers the service calls after effects."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from handlers_testkit import check_message, make_ctx, make_view

from handlers.flow import (
    render_my_complaints,
    render_staff_reply,
    render_status,
    render_status_not_found,
    render_status_notification,
    render_submitted,
)
from handlers.views import HistoryEntry, format_time, telegram_length, truncate

CTX = make_ctx()
T0 = datetime(2026, 11, 28, 8, 4, tzinfo=UTC)


def test_submitted() -> None:
    message = render_submitted("id", "JMB-2026-000042", "pupr", 48, CTX)
    check_message(message)
    assert "<b>JMB-2026-000042</b>" in message.text
    assert "Dinas PUPR Kota Jambi" in message.text and "maks. 48 jam" in message.text
    assert "/status JMB-2026-000042" in message.text
    assert "menu:new" in [b.payload for row in message.buttons for b in row]
    english = render_submitted("en", "JMB-2026-000042", "Some <Agency>", 24, CTX)
    assert "max. 24 hours" in english.text and "Some &lt;Agency&gt;" in english.text


def test_status_view() -> None:
    history = (
        HistoryEntry(T0, "submit", None, None, "baru", None, "pupr", None),
        HistoryEntry(T0 + timedelta(hours=1), "accept", "Andi", "baru", "diterima", None, None, None),
    )
    message = render_status("id", make_view(status="diterima", history=history), CTX)
    check_message(message)
    assert "📥 Diterima" in message.text and "Petugas sudah menerima" in message.text
    assert "Dinas PUPR Kota Jambi" in message.text and "28 Nov 2026 15:04 WIB" in message.text
    assert "🆕 Baru → 📥 Diterima" in message.text
    assert "Andi" not in message.text  # officers stay anonymous to citizens


def test_not_found_is_the_same_for_everyone() -> None:
    a = render_status_not_found("id", "JMB-2026-000001", CTX)
    b = render_status_not_found("id", "<b>x</b>", CTX)
    check_message(a)
    check_message(b)
    assert a.text.replace("JMB-2026-000001", "N") == b.text.replace("&lt;b&gt;x&lt;/b&gt;", "N")


def test_my_complaints_newest_first_and_capped() -> None:
    views = [make_view(id=i, number=f"JMB-2026-{i:06d}", created_at=T0 + timedelta(days=i)) for i in range(12)]
    message = render_my_complaints("id", views, CTX)
    check_message(message)
    assert message.text.index("JMB-2026-000011") < message.text.index("JMB-2026-000010")
    assert "JMB-2026-000001" not in message.text and "JMB-2026-000002" in message.text
    payloads = [b.payload for row in message.buttons for b in row]
    assert payloads[0] == "show:JMB-2026-000011"
    empty = render_my_complaints("en", [], CTX)
    assert "haven't filed" in empty.text


@pytest.mark.parametrize(
    ("status", "words"),
    [("diterima", "sudah diterima"), ("diproses", "sedang ditangani"), ("selesai", "selesai ditangani")],
)
def test_status_notifications(status: str, words: str) -> None:
    message = render_status_notification("id", make_view(status=status), ctx=CTX)
    check_message(message)
    assert words in message.text and "Balas (reply) pesan ini" in message.text


def test_rejection_carries_reason() -> None:
    history = (HistoryEntry(T0, "reject", "Andi", "baru", "ditolak", None, None, "Bukan wewenang <kami>"),)
    message = render_status_notification("id", make_view(status="ditolak", history=history), ctx=CTX)
    assert "Alasan: Bukan wewenang &lt;kami&gt;" in message.text
    explicit = render_status_notification("en", make_view(status="ditolak"), note="Duplicate", ctx=CTX)
    assert "Reason: Duplicate" in explicit.text


def test_reassignment_names_both_agencies() -> None:
    history = (HistoryEntry(T0, "reassign", "Andi", "diterima", "baru", "pupr", "dishub", None),)
    view = make_view(status="baru", agency="dishub", history=history)
    message = render_status_notification("id", view, ctx=CTX)
    assert "Dinas PUPR Kota Jambi" in message.text and "Dinas Perhubungan" in message.text


def test_staff_reply_is_escaped() -> None:
    message = render_staff_reply("id", "JMB-2026-000042", "dlh", "Tim <b>meluncur</b> besok & lusa", CTX)
    check_message(message)
    assert "&lt;b&gt;meluncur&lt;/b&gt; besok &amp; lusa" in message.text
    assert "balas (reply)" in message.text.lower()


def test_time_formatting_and_helpers() -> None:
    assert format_time(T0, "id", CTX) == "28 Nov 2026 15:04 WIB"
    assert format_time(replace(make_view(), created_at=datetime(2026, 8, 17, 3, 0)).created_at, "id", CTX) == (
        "17 Agu 2026 10:00 WIB"
    )
    assert format_time(T0, "en", CTX).startswith("28 Nov 2026")
    assert truncate("abcdef", 4) == "abc…" and truncate("abc", 4) == "abc"
    assert telegram_length("<b>a&lt;</b>") == 2
    assert telegram_length("🛣") == 2


def test_duplicate_notice_without_a_known_original_is_the_plain_status() -> None:
    """A duplicate whose original cannot be named (gone) still gets a notice, never a crash."""
    ctx = make_ctx()
    for language in ("id", "en"):
        view = replace(make_view(status="duplikat"), duplicate_of_number=None)
        message = render_status_notification(language, view, ctx=ctx)
        check_message(message)
        assert view.number in message.text
