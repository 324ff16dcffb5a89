"""The command centre's texts as staff read them: the escalation card (how late, the history, three
buttons), the reminder and the note an agency group reads, and the daily digests; each within Telegram's
limits, every citizen or staff text escaped, every button payload within 64 bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from handlers_testkit import check_message, make_ctx, make_view

from handlers.blocking import parse as parse_block
from handlers.context import AgencyInfo
from handlers.digest import AgencyFigures, Overdue, render_agency_digest, render_city_digest
from handlers.escalation import (
    CcPayload,
    EscalationInfo,
    cc_payload,
    changes_citizen_view,
    closed_alert,
    format_lateness,
    format_span,
    parse_cc_payload,
    render_agency_answer,
    render_cc_note,
    render_escalation,
    render_escalation_picker,
    render_escalation_waiting,
    render_note_prompt,
    render_nudge,
)
from handlers.messages import MAX_PAYLOAD_BYTES, EditTarget
from handlers.views import HistoryEntry, telegram_length

CTX = make_ctx()
DUE = datetime(2026, 11, 30, 8, 4, tzinfo=UTC)
LATE = DUE + timedelta(days=1, hours=3, minutes=12)
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def payloads(message: object) -> list[str]:
    return [b.payload for row in getattr(message, "buttons", ()) for b in row]


def labels(message: object) -> list[str]:
    return [b.label for row in getattr(message, "buttons", ()) for b in row]


# --- how late ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "id_text", "en_text"),
    [
        (timedelta(minutes=12, seconds=59), "12 menit", "12 minutes"),
        (timedelta(seconds=30), "0 menit", "0 minute"),
        (timedelta(hours=1), "1 jam", "1 hour"),
        (timedelta(hours=5, minutes=20), "5 jam 20 menit", "5 hours 20 minutes"),
        (timedelta(days=1, hours=3, minutes=12), "1 hari 3 jam", "1 day 3 hours"),
        (timedelta(days=2, minutes=40), "2 hari", "2 days"),
    ],
)
def test_lateness_reads_in_two_units_at_most(delta: timedelta, id_text: str, en_text: str) -> None:
    assert format_span(delta, "id", CTX) == id_text
    if delta >= timedelta(minutes=1):
        assert format_span(delta, "en", CTX) == en_text


def test_lateness_sentence() -> None:
    assert format_lateness(DUE, LATE, "id", CTX) == "terlambat 1 hari 3 jam"
    assert format_lateness(DUE, LATE, "en", CTX) == "1 day 3 hours late"
    assert format_lateness(LATE, DUE, "id", CTX) == "belum terlambat"
    assert format_lateness(None, DUE, "id", CTX) == "belum terlambat"


# --- the escalation card ----------------------------------------------------------------------------


def test_the_escalation_card_names_everything_the_command_centre_needs() -> None:
    view = make_view(due_at=DUE, kecamatan="Pasar Jambi", kelurahan="Beringin")
    card = render_escalation(view, EscalationInfo(level=1, levels=2, now=LATE), CTX)
    check_message(card)
    text = card.text
    for needed in ("Eskalasi", "tingkat 2 dari 2", "JMB-2026-000042", "🆕 Baru", "Instansi: Dinas PUPR",
                   "Jalan Rusak", "Kel. Beringin, Kec. Pasar Jambi", "terlambat 1 hari 3 jam", "Riwayat",
                   "Pengaduan dibuat"):
        assert needed in text, (needed, text)
    assert labels(card) == ["🔔 Ingatkan instansi", "↪️ Alihkan", "📝 Beri catatan", "🚫 Blokir pelapor"]
    assert payloads(card) == ["cc:nudge:42", "cc:pick:42", "cc:note:42", "blk:ask:42"]
    assert card.photos == () and card.reply_to is None


def test_the_escalation_card_in_english() -> None:
    card = render_escalation(make_view(due_at=DUE), EscalationInfo(0, 2, LATE), CTX, language="en")
    check_message(card)
    assert "Escalation" in card.text and "1 day 3 hours late" in card.text
    assert labels(card) == ["🔔 Remind the agency", "↪️ Reassign", "📝 Add a note", "🚫 Block the reporter"]


def test_the_escalation_card_escapes_what_citizens_and_staff_wrote() -> None:
    history = (HistoryEntry(DUE, "cc_note", HOSTILE, note=HOSTILE),)
    view = make_view(due_at=DUE, description=HOSTILE, history=history, kecamatan="<i>x</i>")
    for message in (
        render_escalation(view, EscalationInfo(0, 2, LATE), CTX),
        render_escalation_waiting(view, EscalationInfo(0, 2, LATE), CTX, staff_name=HOSTILE),
        render_nudge(view, CTX, centre="jcoc", staff_name=HOSTILE, now=LATE),
        render_cc_note(view, CTX, centre="jcoc", staff_name=HOSTILE, note=HOSTILE),
        render_note_prompt(view, CTX, staff_name=HOSTILE, reply_to=7),
        render_agency_answer(view.number, CTX, agency="pupr", staff_name=HOSTILE, text=HOSTILE, reply_to=None),
    ):
        check_message(message)
        assert "<script>" not in message.text and "&lt;script&gt;" in message.text, message.text
        assert "<b>bold</b>" not in message.text


def test_a_huge_complaint_still_fits_one_message() -> None:
    long_notes = tuple(
        HistoryEntry(DUE + timedelta(minutes=i), "cc_note", "X" * 120, note="🚧" * 2000) for i in range(20)
    )
    ctx = make_ctx(agencies=(AgencyInfo("pupr", {"id": "🏛️" * 600, "en": "A" * 1200}, short=""),))
    view = make_view(due_at=DUE, description="🕳️" * 2000, history=long_notes, kecamatan="K" * 64,
                     kelurahan="L" * 64)
    info = EscalationInfo(0, 2, LATE)
    for message in (
        render_escalation(view, info, ctx),
        render_escalation_picker(view, info, ctx),
        render_escalation_waiting(view, info, ctx, staff_name="S" * 300),
        render_cc_note(view, ctx, centre="jcoc", staff_name="S" * 300, note="🚧" * 5000),
    ):
        check_message(message)
        assert telegram_length(message.text) <= 4096


def test_buttons_fit_telegram_even_with_the_largest_ids_and_agency_keys() -> None:
    agencies = tuple(AgencyInfo(f"a{i:019d}", {"id": f"Instansi {i}"}) for i in range(5))
    ctx = make_ctx(agencies=(AgencyInfo("pupr", {"id": "PUPR"}), *agencies))
    view = make_view(id=2**31 - 1, due_at=DUE)
    info = EscalationInfo(0, 2, LATE)
    picker = render_escalation_picker(view, info, ctx)
    check_message(picker)
    assert len(payloads(picker)) == 6, "every other agency plus the cancel"
    for message in (render_escalation(view, info, ctx), picker, render_escalation_waiting(view, info, ctx, staff_name="B")):
        for payload in payloads(message):
            assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
            assert parse_cc_payload(payload) is not None or parse_block(payload) is not None, payload
    assert "pupr" not in " ".join(payloads(picker)), "not the agency it is already with"
    assert payloads(picker)[-1] == f"cc:to:{2**31 - 1}:-"


def test_the_picker_and_the_waiting_card_edit_the_escalation_card() -> None:
    view = make_view(due_at=DUE)
    info = EscalationInfo(0, 2, LATE)
    edit = EditTarget("123")
    picker = render_escalation_picker(view, info, CTX, edit=edit)
    assert picker.edit == edit and "Alihkan ke instansi mana?" in picker.text
    waiting = render_escalation_waiting(view, info, CTX, staff_name="Budi", edit=edit)
    assert "Menunggu catatan dari Budi" in waiting.text and labels(waiting) == ["✖️ Batal"]
    assert payloads(waiting) == ["cc:nx:42"]


def test_a_closed_or_no_longer_overdue_complaint_has_nothing_left_to_do() -> None:
    closed = make_view(due_at=DUE, status="selesai")
    card = render_escalation(closed, EscalationInfo(0, 2, LATE), CTX)
    assert card.buttons == () and "tidak perlu tindakan lagi" in card.text
    alert = closed_alert(closed, CTX, LATE)
    assert alert is not None and "JMB-2026-000042 sudah Selesai" in alert.text and len(alert.text) <= 200
    reopened = make_view(due_at=LATE + timedelta(hours=48), status="dibuka_kembali")
    again = closed_alert(reopened, CTX, LATE)
    assert again is not None and "tidak terlambat lagi" in again.text
    assert "Tidak terlambat lagi" in render_escalation(reopened, EscalationInfo(0, 2, LATE), CTX).text
    assert closed_alert(make_view(due_at=DUE), CTX, LATE) is None


def test_an_unreachable_agency_is_said_on_the_card() -> None:
    card = render_escalation(make_view(due_at=DUE), EscalationInfo(0, 2, LATE, agency_reachable=False), CTX)
    assert "belum punya grup yang terhubung" in card.text


# --- what reaches the agency ------------------------------------------------------------------------


def test_the_reminder_and_the_note_answer_the_agencys_card_and_quote_the_command_centre() -> None:
    view = make_view(due_at=DUE)
    nudge = render_nudge(view, CTX, centre="jcoc", staff_name="Budi", now=LATE)
    assert nudge.reply_to is not None and nudge.reply_to.kind == "card" and nudge.reply_to.complaint_id == 42
    assert "Pengingat dari pusat komando" in nudge.text and "terlambat 1 hari 3 jam" in nudge.text
    assert "— Budi" in nudge.text
    note = render_cc_note(view, CTX, centre="jcoc", staff_name="Budi", note="  Tolong kirim tim hari ini.  ")
    assert note.reply_to == nudge.reply_to
    assert "<i>Tolong kirim tim hari ini.</i>" in note.text and "Catatan dari pusat komando" in note.text
    prompt = render_note_prompt(view, CTX, staff_name="Budi", reply_to=99)
    assert prompt.force_reply and prompt.reply_to is not None and prompt.reply_to.message_id == 99


# --- payloads ---------------------------------------------------------------------------------------


def test_payloads_round_trip_and_junk_is_refused() -> None:
    assert parse_cc_payload(cc_payload("nudge", 7)) == CcPayload("nudge", 7)
    assert parse_cc_payload(cc_payload("to", 7, "dlh")) == CcPayload("to", 7, agency="dlh")
    assert parse_cc_payload("cc:to:7:-") == CcPayload("to", 7, cancelled=True)
    for junk in ("cc:fly:7", "cc:nudge:x", "cc:nudge:99999999999999999999", "cc:to:7", "cc:to:7:dl h",
                 "cc:nudge:7:extra", "st:accept:7", "cc", "", "cc:to:7:dlh\n", "cc:nudge:-1", "cc:pick:٣"):
        assert parse_cc_payload(junk) is None, junk
    assert changes_citizen_view("cc:to:7:dlh")
    assert not any(changes_citizen_view(p) for p in ("cc:to:7:-", "cc:nudge:7", "cc:pick:7", "cc:note:7", "x"))


# --- digests ----------------------------------------------------------------------------------------


def test_an_agency_digest_counts_and_names_the_oldest_overdue() -> None:
    figures = AgencyFigures("pupr", new=3, open=12, waiting=4, overdue=7,
                            oldest=tuple((f"JMB-2026-00000{i}", DUE - timedelta(days=5 - i)) for i in range(5)))
    digest = render_agency_digest(figures, CTX, now=LATE)
    check_message(digest)
    for needed in ("Ringkasan harian PUPR", "1 Des 2026", "Masuk 24 jam terakhir: <b>3</b>",
                   "Terbuka: <b>12</b> (4 belum diterima)", "Terlambat: <b>7</b>",
                   "<code>JMB-2026-000000</code> · terlambat 6 hari 3 jam", "… dan 2 lainnya"):
        assert needed in digest.text, (needed, digest.text)
    quiet = render_agency_digest(AgencyFigures("pupr", new=1, open=1, waiting=1), CTX, now=LATE)
    assert "Tidak ada pengaduan yang terlambat" in quiet.text


def test_the_city_digest_has_a_line_per_agency_and_the_totals() -> None:
    figures = [AgencyFigures("pupr", 3, 12, 4, 2), AgencyFigures("dlh", 1, 1, 1, 0, linked=False),
               AgencyFigures("pdam")]
    digest = render_city_digest(figures, [Overdue("JMB-2026-000001", "pupr", DUE)], CTX, now=LATE)
    check_message(digest)
    text = digest.text
    assert "Ringkasan harian Kota Jambi" in text
    assert "• PUPR: 3 · 12 · <b>2</b>" in text and "• DLH: 1 · 1 · <b>0</b>" in text
    assert "PDAM" not in text, "an agency with nothing is left out"
    assert "<b>Total</b>: 4 · 13 · <b>2</b>" in text
    assert "<code>JMB-2026-000001</code> (PUPR) · terlambat 1 hari 3 jam" in text
    assert "Belum punya grup" in text and "Dinas Lingkungan Hidup" in text


def test_digests_of_a_huge_city_stay_within_one_message() -> None:
    agencies = tuple(AgencyInfo(f"a{i}", {"id": "Dinas " + "🏛️" * 30}, short="") for i in range(400))
    ctx = make_ctx(agencies=agencies)
    figures = [AgencyFigures(a.key, 1000, 5000, 100, 4000, linked=True) for a in agencies]
    oldest = [Overdue(f"JMB-2026-{i:06d}", f"a{i}", DUE) for i in range(50)]
    city = render_city_digest(figures, oldest, ctx, now=LATE)
    check_message(city)
    assert telegram_length(city.text) <= 4096 and "instansi lainnya" in city.text
    one = AgencyFigures("a1", 1, 2, 3, 4, oldest=tuple((f"JMB-2026-{i:06d}" * 20, DUE) for i in range(300)))
    agency = render_agency_digest(one, ctx, now=LATE)
    check_message(agency)
    assert telegram_length(agency.text) <= 4096
