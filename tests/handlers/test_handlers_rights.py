"""/dataku and /privasi in the conversation core, and the readable summary of a data copy."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from handlers.effects import ExportData
from handlers.events import Incoming
from handlers.rights import MAX_PARTS, render_summary
from handlers.state import Step
from handlers.views import telegram_length
from tests.handlers.handlers_testkit import all_text, at_step, check_message, cmd, make_ctx, step, text

CTX = make_ctx()
WHATSAPP = CTX.for_channel("whatsapp")


def _typed(value: str) -> Incoming:
    return replace(text(value), typed_choices=True)


def test_privasi_says_what_is_kept_for_how_long_and_how_to_copy_or_erase() -> None:
    conv = at_step(Step.IDLE, CTX)
    outcome = step(conv, cmd("privasi"), CTX)
    said = all_text(outcome)
    assert "Privasi di SiKesal" in said
    assert "90 hari" in said and "730 hari" in said
    assert "/dataku" in said and "/hapusdata" in said
    assert outcome.effects == []


def test_privacy_in_english_and_with_retention_off() -> None:
    ctx = replace(CTX, retention_days=(0, 30))
    conv = at_step(Step.IDLE, ctx, "en")
    said = all_text(step(conv, cmd("privacy"), ctx))
    assert "after 30 days" in said and "kept until you erase it" in said


def test_whatsapp_words_privasi_and_data_saya() -> None:
    conv = at_step(Step.IDLE, WHATSAPP)
    said = all_text(step(conv, _typed("privasi"), WHATSAPP))
    assert "data saya" in said and "hapus data saya" in said and "/dataku" not in said
    outcome = step(conv, _typed("Data saya"), WHATSAPP)
    assert outcome.effects == [ExportData()]
    assert step(conv, _typed("my data"), WHATSAPP).effects == [ExportData()]


def test_dataku_keeps_the_draft_and_comes_back_to_it() -> None:
    conv = at_step(Step.DESCRIPTION, CTX)
    outcome = step(conv, cmd("dataku"), CTX)
    assert outcome.effects == [ExportData()]
    assert outcome.conversation.step == Step.DESCRIPTION
    assert outcome.followup  # "back to your draft" after the copy


def _document(complaints: int = 1, messages: int = 2) -> dict[str, object]:
    at = datetime(2026, 11, 29, 10, 0, tzinfo=UTC).isoformat()
    return {
        "profile": {"name": "Siti <b>", "channel": "telegram", "channel_id": "1000", "language": "id",
                    "shares_name": False, "first_contact_at": at},
        "complaints": [
            {"number": f"JMB-2026-{i:06d}", "status": "baru", "category": "jalan", "description": "Lubang " * 60,
             "created_at": at, "updated_at": at, "rating": 4 if i == 1 else None}
            for i in range(1, complaints + 1)
        ],
        "messages": [{"received_at": at, "kind": "text", "text": f"pesan {i} <i>"} for i in range(messages)],
        "conversation": {"draft": {}},
    }


def test_summary_escapes_and_lists_complaints_and_messages() -> None:
    parts = render_summary(_document(), "id", CTX)
    said = "\n".join(p.text for p in parts)
    for message in parts:
        check_message(message)
    assert "Siti &lt;b&gt;" in said and "JMB-2026-000001" in said and "⭐⭐⭐⭐" in said
    assert "pesan 1 &lt;i&gt;" in said


def test_a_long_summary_is_split_under_telegram_limit_and_points_to_the_file() -> None:
    parts = render_summary(_document(complaints=80, messages=400), "id", CTX)
    assert 1 < len(parts) <= MAX_PARTS
    assert all(telegram_length(p.text) < 4096 for p in parts)
    assert "selebihnya ada di berkas" in parts[-1].text
