"""Proof of fix in the pure core: what the clerk sees per ``proof_photo`` mode, the payloads, the notes, and
how the citizen reads the proof (the resolution notice carries the photo, /status names the note, the
history says the fix came with a photo)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from handlers_testkit import check_message, make_ctx, make_view, media

from handlers import proof
from handlers.cards import CAPTION_LIMIT, render_card
from handlers.views import HistoryEntry, render_status, render_status_notification, telegram_length

CTX = make_ctx()
T0 = datetime(2026, 11, 28, 8, 4, tzinfo=UTC)
RESOLVED = HistoryEntry(T0, "resolve", "Budi", "diproses", "selesai", None, None, "Sudah ditambal", photo=True)


@pytest.mark.parametrize("language", ["id", "en"])
def test_required_prompt_and_card_offer_only_cancel(language: str) -> None:
    view = make_view(status="diproses")
    prompt = proof.render_proof_prompt(view, CTX, staff_name="Budi <b>", mode=proof.REQUIRED, language=language)
    check_message(prompt)
    assert prompt.force_reply and prompt.reply_to is not None and prompt.reply_to.kind == "card"
    assert "Budi &lt;b&gt;" in prompt.text and view.number in prompt.text
    card = proof.render_proof_card(view, CTX, staff_name="Budi", mode=proof.REQUIRED, language=language)
    check_message(card)
    assert [[b.payload for b in row] for row in card.buttons] == [["pf:cancel:42"]]
    assert card.photos == view.photos, "the card keeps the citizen's photo while it waits"


@pytest.mark.parametrize("language", ["id", "en"])
def test_optional_card_offers_resolving_without_a_photo(language: str) -> None:
    view = make_view(status="diproses")
    card = proof.render_proof_card(view, CTX, staff_name="Budi", mode=proof.OPTIONAL, language=language)
    check_message(card)
    assert [[b.payload for b in row] for row in card.buttons] == [["pf:skip:42"], ["pf:cancel:42"]]
    retry = proof.render_proof_retry(view, CTX, mode=proof.OPTIONAL, reply_to=77, language=language)
    check_message(retry)
    assert retry.force_reply and retry.reply_to is not None and retry.reply_to.message_id == 77


def test_the_waiting_card_fits_a_caption_with_a_long_description() -> None:
    view = make_view(status="diproses", description="Lubang " * 400)
    card = proof.render_proof_card(view, CTX, staff_name="Budi", mode=proof.OPTIONAL)
    assert telegram_length(card.text) <= CAPTION_LIMIT and "Menunggu foto bukti" in card.text


def test_payloads_are_read_strictly() -> None:
    assert proof.parse_proof_payload("pf:skip:42") == proof.ProofPayload("skip", 42)
    assert proof.parse_proof_payload("pf:cancel:7") == proof.ProofPayload("cancel", 7)
    for bad in ("pf:skip", "pf:fly:1", "pf:skip:-1", "pf:skip:99999999999999999999", "st:resolve:1", "pf:skip:１"):
        assert proof.parse_proof_payload(bad) is None, bad


def test_notes_and_the_skip_word() -> None:
    assert proof.clean_note("  Sudah ditambal  ") == "Sudah ditambal"
    assert proof.clean_note("-") is None and proof.clean_note("   ") is None
    assert proof.is_skip(" - ") and not proof.is_skip("Sudah")
    assert len(proof.clean_note("x" * 5000) or "") <= proof.NOTE_MAX


@pytest.mark.parametrize("language", ["id", "en"])
def test_the_citizen_reads_the_proof(language: str) -> None:
    after = media(9)
    view = make_view(status="selesai", history=(RESOLVED,), proof_photo=after, proof_note="Sudah <ditambal>")
    notice = render_status_notification(language, view, note="Sudah <ditambal>", ctx=CTX)
    check_message(notice)
    assert notice.photos == (after,), "the after photo comes with the resolution notice"
    assert "Sudah &lt;ditambal&gt;" in notice.text
    status = render_status(language, view, CTX)
    check_message(status)
    assert status.photos == (after,)
    assert ("Bukti penyelesaian" if language == "id" else "Proof of the fix") in status.text
    assert "Sudah &lt;ditambal&gt;" in status.text
    photo_only = render_status(language, make_view(status="selesai", proof_photo=after), CTX)
    assert ("foto terlampir" if language == "id" else "photo attached") in photo_only.text


def test_the_card_history_says_the_fix_came_with_a_photo() -> None:
    card = render_card(make_view(status="selesai", history=(RESOLVED,)), CTX)
    assert "Selesai, dengan foto bukti 📷 (Sudah ditambal)" in card.text
    assert card.photos == make_view().photos, "the card shows the citizen's photo, not the proof"


def test_without_proof_the_notice_and_status_are_as_before() -> None:
    view = make_view(status="selesai")
    assert render_status_notification("id", view, ctx=CTX).photos == ()
    status = render_status("id", view, CTX)
    assert status.photos == () and "Bukti" not in status.text
