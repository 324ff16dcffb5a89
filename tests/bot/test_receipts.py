"""What the agency card may say about a notice that did not arrive: a reason, never the citizen's number."""

from __future__ import annotations

from bot.services.receipts import REASON_BLOCKED, REASON_WINDOW, failure_reason


def test_twilio_error_text_never_reaches_the_card() -> None:
    text = "The 'To' number whatsapp:+6281234567890 is not a valid phone number."
    assert failure_reason(21211, text) == "Twilio 21211"
    assert "+62" not in failure_reason(None, text)


def test_known_reasons_have_names_the_card_explains() -> None:
    assert failure_reason(63016) == REASON_WINDOW
    assert failure_reason(21610) == REASON_BLOCKED
