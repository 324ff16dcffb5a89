"""The command centre's appeal card, rendered purely: its three outcomes as buttons naming the complaint,
the agency picker, the decided card without buttons; citizen and staff words escaped; payloads parsed
strictly (a forged one is no appeal button)."""

from __future__ import annotations

import pytest
from handlers_testkit import check_message, make_ctx, make_view

from handlers.appeals import (
    AppealPress,
    AppealVerb,
    appeal_payload,
    parse_appeal,
    render_appeal_card,
    render_appeal_decided,
    render_appeal_picker,
)
from handlers.messages import OutMessage
from handlers.views import telegram_length

CTX = make_ctx()
VIEW = make_view(status="ditolak", agency="pupr")


def _payloads(message: OutMessage) -> list[str]:
    return [b.payload for row in message.buttons for b in row]


def test_the_card_shows_both_reasons_and_three_outcomes() -> None:
    card = render_appeal_card(VIEW, "Ini jalan kota <b>bukan</b> provinsi", "Bukan wewenang & di luar", CTX)
    check_message(card)
    assert "Keberatan warga" in card.text and "JMB-2026-000042" in card.text and "Warga #0042" in card.text
    assert "&lt;b&gt;bukan&lt;/b&gt;" in card.text and "Bukan wewenang &amp; di luar" in card.text
    assert _payloads(card) == ["ap:uphold:42", "ap:reopen:42", "ap:move:42", "blk:ask:42"]


def test_the_picker_offers_the_other_agencies_and_a_way_back() -> None:
    picker = render_appeal_picker(VIEW, "alasan", "ditolak karena", CTX)
    check_message(picker)
    payloads = _payloads(picker)
    assert "ap:to:42:pupr" not in payloads and "ap:to:42:dlh" in payloads and payloads[-1] == "ap:back:42"


def test_a_decided_card_has_no_buttons_and_fits() -> None:
    decided = render_appeal_decided(VIEW, "x" * 5000, "y" * 5000, "✋ Keberatan ditolak oleh Budi: z", CTX)
    check_message(decided)
    assert decided.buttons == () and telegram_length(decided.text) <= 4096


@pytest.mark.parametrize(("payload", "expected"), [
    ("ap:uphold:42", AppealPress(AppealVerb.UPHOLD, 42)),
    ("ap:to:42:dlh", AppealPress(AppealVerb.TO, 42, "dlh")),
    ("ap:to:42", None),
    ("ap:reopen:42:dlh", None),
    ("ap:to:42:dlh\n", None),
    ("ap:reopen:99999999999999999999", None),
    ("st:accept:42", None),
    ("ap:nope:42", None),
])
def test_payloads_are_read_strictly(payload: str, expected: AppealPress | None) -> None:
    assert parse_appeal(payload) == expected
    if expected is not None:
        assert appeal_payload(expected.verb, expected.complaint_id, expected.agency) == payload
