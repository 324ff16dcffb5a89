"""Reminder texts, folding, message links and the digest calendar (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from handlers_testkit import check_message, make_ctx

from handlers.reminders import (
    ACCEPT,
    OVERDUE,
    RESOLVE_SOON,
    ReminderItem,
    format_hours,
    message_link,
    next_daily,
    render_citizen_overdue,
    render_reminders,
)
from handlers.views import telegram_length

CTX = make_ctx()
JAKARTA = "Asia/Jakarta"  # UTC+7, no daylight saving
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 10:00 WIB


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=7)


def item(n: int, kind: str = ACCEPT, chat_id: int | None = -1001234567890, message_id: int | None = 50) -> ReminderItem:
    return ReminderItem(kind=kind, complaint_id=n, number=f"JMB-2026-{n:06d}", category="jalan",
                        due_at=NOW + timedelta(hours=2), chat_id=chat_id,
                        card_message_id=None if message_id is None else message_id + n, accept_hours=4)


def test_next_daily_is_strictly_after_and_its_round_is_the_city_date() -> None:
    at, day = next_daily(wib(1, 7, 0), "07:30", JAKARTA)
    assert at == wib(1, 7, 30) and day == datetime(2026, 12, 1).toordinal()
    at, day = next_daily(wib(1, 7, 30), "07:30", JAKARTA)
    assert at == wib(2, 7, 30) and day == datetime(2026, 12, 2).toordinal()
    # 23:00 UTC on the 1st is already the 2nd in Jambi
    at, day = next_daily(datetime(2026, 12, 1, 23, 0, tzinfo=UTC), "07:30", JAKARTA)
    assert at == wib(2, 7, 30) and day == datetime(2026, 12, 2).toordinal()


def test_message_links_only_for_supergroups() -> None:
    assert message_link(-1001234567890, 42) == "https://t.me/c/1234567890/42"
    assert message_link(-4123456789, 42) is None  # a basic group has no message links
    assert message_link(-1001234567890, None) is None


def test_spans_read_naturally() -> None:
    assert format_hours(6, "id", CTX) == "6 jam"
    assert format_hours(0.5, "id", CTX) == "30 menit"
    assert format_hours(1.5, "en", CTX) == "1 h 30 min"


@pytest.mark.parametrize("kind", [ACCEPT, RESOLVE_SOON, OVERDUE])
def test_a_single_reminder_replies_to_its_card(kind: str) -> None:
    [message] = render_reminders([item(7, kind)], NOW, CTX, fold_at=3)
    check_message(message)
    assert message.reply_to is not None and message.reply_to.complaint_id == 7
    assert "JMB-2026-000007" in message.text and "Jalan" in message.text


def test_texts_per_kind() -> None:
    accept, soon, overdue = (render_reminders([item(1, k)], NOW, CTX, fold_at=3)[0].text
                             for k in (ACCEPT, RESOLVE_SOON, OVERDUE))
    assert "belum diterima" in accept and "4 jam" in accept
    assert "tinggal 2 jam" in soon
    assert "terlambat" in overdue


def test_two_stay_single_and_three_fold_into_one_message_with_links() -> None:
    assert len(render_reminders([item(1), item(2)], NOW, CTX, fold_at=3)) == 2
    [folded] = render_reminders([item(1), item(2, OVERDUE), item(3)], NOW, CTX, fold_at=3)
    check_message(folded)
    assert folded.reply_to is None
    assert "3 pengaduan" in folded.text
    assert '<a href="https://t.me/c/1234567890/51">JMB-2026-000001</a>' in folded.text
    assert "Ketuk nomornya" in folded.text
    assert folded.text.index("Belum diterima") < folded.text.index("Terlambat")


def test_a_basic_group_gets_numbers_without_links() -> None:
    [folded] = render_reminders([item(n, chat_id=-4100000001) for n in range(1, 4)], NOW, CTX, fold_at=3)
    assert "href" not in folded.text and "<b>JMB-2026-000002</b>" in folded.text
    assert "Ketuk" not in folded.text, "no links, no hint to tap them"


def test_a_huge_fold_stays_within_telegrams_limit_and_counts_the_rest() -> None:
    [folded] = render_reminders([item(n) for n in range(1, 301)], NOW, CTX, fold_at=3)
    assert telegram_length(folded.text) <= 4096
    assert "lainnya" in folded.text and "300 pengaduan" in folded.text


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_citizen_notice_is_kind_and_names_the_agency(language: str) -> None:
    message = render_citizen_overdue(language, "JMB-2026-000001", "pupr", CTX)
    check_message(message)
    assert "JMB-2026-000001" in message.text
    assert ("mengingatkan" if language == "id" else "reminded") in message.text
