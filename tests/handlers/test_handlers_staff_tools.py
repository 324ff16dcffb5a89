"""The staff tools rendered purely: the queue's order, clocks and cap, links into supergroups, the card
/cari leaves behind, and the canned replies' picker (payloads within Telegram's 64 bytes, index not text)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from handlers_testkit import check_message, make_ctx, make_view

from handlers.cards import TEXT_LIMIT, render_card
from handlers.messages import MAX_PAYLOAD_BYTES
from handlers.staff_tools import (
    QueueItem,
    canned_check,
    canned_choice_payload,
    is_overdue,
    message_link,
    parse_canned_payload,
    render_canned_picker,
    render_moved_down,
    render_queue,
    render_snapshot,
    running_clock,
)
from handlers.views import telegram_length

NOW = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
H = timedelta(hours=1)
CTX = make_ctx()
CANNED = make_ctx(canned_agencies=frozenset({"pupr"}))


def item(n: int, status: str = "diterima", *, accept: timedelta | None = None, due: timedelta | None = 2 * H,
         agency: str = "pupr") -> QueueItem:
    return QueueItem(
        number=f"JMB-2026-{n:06d}", status=status, category="jalan", agency=agency, created_at=NOW - n * H,
        accept_due_at=NOW + accept if accept is not None else None, due_at=NOW + due if due is not None else None,
    )


def test_the_running_clock_is_the_accept_clock_while_new_then_the_resolve_clock() -> None:
    assert running_clock("baru", NOW, NOW + H) == NOW
    assert running_clock("baru", None, NOW + H) == NOW + H
    assert running_clock("diproses", NOW, NOW + H) == NOW + H
    assert running_clock("selesai", NOW, NOW + H) is None
    assert is_overdue("baru", NOW - H, NOW + H, NOW) and not is_overdue("diterima", NOW - H, NOW + H, NOW)
    assert is_overdue("dibuka_kembali", None, NOW, NOW), "at the deadline it is overdue"


def test_the_queue_shows_status_category_and_clock_per_line() -> None:
    items = [item(3, "baru", accept=-H), item(2, "diproses", due=-30 * H), item(1, "baru", accept=3 * H)]
    out = render_queue(items, 3, CTX, now=NOW, agency="pupr", overdue_only=False)
    check_message(out)
    lines = [line for line in out.text.splitlines() if "JMB-" in line]
    assert [line.split("JMB-2026-")[1][:6] for line in lines] == ["000003", "000002", "000001"], "as given: oldest first"
    assert "🔴 belum diterima, lewat 1 jam" in lines[0] and "🆕 Baru" in lines[0]
    assert "🔴 terlambat 30 jam" in lines[1] and "Diproses" in lines[1]
    assert "📥 terima sebelum" in lines[2]
    assert "PUPR" in out.text.splitlines()[0] and "3 pengaduan terbuka" in out.text
    assert "PUPR" not in "".join(lines), "an agency's own queue does not repeat its name per line"


def test_the_city_queue_names_the_agency_on_each_line_and_empty_queues_say_so() -> None:
    city = render_queue([item(1, agency="dlh")], 1, CTX, now=NOW, agency=None, overdue_only=True)
    assert "DLH" in city.text.splitlines()[-3] and "seluruh kota" in city.text
    empty = render_queue([], 0, CTX, now=NOW, agency="pupr", overdue_only=True)
    assert "Tidak ada pengaduan terlambat" in empty.text
    english = render_queue([], 0, CTX, now=NOW, agency="pupr", overdue_only=False, language="en")
    assert "No open complaints" in english.text


def test_a_long_queue_is_cut_within_one_message_with_the_count_of_the_rest() -> None:
    items = [replace(item(n), link=f"https://t.me/c/1234567890/{n}") for n in range(1, 201)]
    out = render_queue(items, 500, CTX, now=NOW, agency="pupr", overdue_only=False)
    check_message(out)
    shown = sum(1 for line in out.text.splitlines() if "JMB-" in line)
    assert telegram_length(out.text) <= TEXT_LIMIT, "Telegram counts the text after its HTML is parsed"
    assert 10 < shown < 200 and f"dan {500 - shown} lainnya" in out.text


def test_links_only_into_supergroups() -> None:
    assert message_link(-1001234567890, 77) == "https://t.me/c/1234567890/77"
    assert message_link(-4123456, 77) is None
    assert message_link(-1001234567890, None) is None


def test_the_card_left_behind_says_it_moved_down_without_buttons() -> None:
    view = make_view(photos=())
    linked = render_moved_down(view, CTX, link="https://t.me/c/1234567890/99")
    check_message(linked)
    assert linked.text.startswith("⬇️ Dipindah ke bawah") and not linked.buttons
    assert 'href="https://t.me/c/1234567890/99"' in linked.text
    plain = render_moved_down(view, CTX, link=None)
    assert "Kartu terbaru ada di bawah" in plain.text and "href" not in plain.text.split("Riwayat")[-1]
    long = render_moved_down(make_view(description="x" * 990), CTX, link="https://t.me/c/1/2")
    assert telegram_length(long.text) <= 1024, "a photo card's caption still fits"
    snapshot = render_snapshot(view, CTX)
    assert "grup PUPR" in snapshot.text and not snapshot.buttons


def test_the_card_offers_quick_replies_only_when_open_and_configured() -> None:
    def has_button(status: str, ctx: object) -> bool:
        card = render_card(make_view(status=status), ctx)  # type: ignore[arg-type]
        return any(b.payload == "cr:42" for row in card.buttons for b in row)

    assert has_button("baru", CANNED) and has_button("diproses", CANNED)
    assert not has_button("selesai", CANNED) and not has_button("ditolak", CANNED)
    assert not has_button("baru", CTX), "an agency without canned replies gets no button"


def test_the_picker_numbers_the_replies_and_its_payloads_fit() -> None:
    replies = ["Terima kasih, laporan Anda sudah kami terima dan akan segera kami tindak lanjuti.",
               "Petugas <b>kami</b> sedang menuju lokasi.", "x" * 1000]
    view = make_view(id=2_147_483_647)
    picker = render_canned_picker(view, replies, CTX)
    check_message(picker)
    payloads = [b.payload for row in picker.buttons for b in row]
    assert all(len(p.encode()) <= MAX_PAYLOAD_BYTES for p in payloads)
    assert payloads[-1] == "cr:2147483647:-"
    assert payloads[1] == f"cr:2147483647:1:{canned_check(replies[1])}"
    assert "&lt;b&gt;kami" in picker.text, "config text is escaped"
    assert telegram_length(picker.text) <= 1024


def test_canned_payloads_parse_strictly() -> None:
    good = canned_choice_payload(42, 3, "Halo")
    assert parse_canned_payload(good) == parse_canned_payload(f"cr:42:3:{canned_check('Halo')}")
    parsed = parse_canned_payload(good)
    assert parsed is not None and parsed.index == 3 and parsed.complaint_id == 42
    assert parse_canned_payload("cr:42") is not None and parse_canned_payload("cr:42").index is None  # type: ignore[union-attr]
    assert parse_canned_payload("cr:42:-").cancelled  # type: ignore[union-attr]
    for bad in ("cr", "cr:x", "cr:42:1", "cr:42:1:zzzz", "cr:99999999999999:1:abcd", "st:accept:42", "cr:42:١:abcd"):
        assert parse_canned_payload(bad) is None, bad
