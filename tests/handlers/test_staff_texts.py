"""Staff texts are finished and exact: every history kind the code can write reads in catalog words
(both languages, on a card and for a citizen), every catalog key the code uses exists, cards say
where a reassigned complaint went, name a district once, warn of open complaints close by, and the
reject/duplicate prompts can be cancelled; staff type complaint numbers their own way.

The history kinds are collected from the code itself (every ``action=`` written to the audit log,
every lifecycle action, every refusal), so a new kind added tomorrow is walked without editing
this test.
"""

from __future__ import annotations

import ast
import importlib
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from handlers_testkit import CATALOG, check_message, make_ctx, make_view

from handlers import lifecycle, visibility
from handlers.cards import (
    district_line,
    parse_staff_payload,
    render_card,
    render_duplicate_prompt,
    render_duplicate_retry,
    render_prompt_card,
)
from handlers.lifecycle import TRANSITIONS, Action, Status
from handlers.numbers import read_number
from handlers.views import HistoryEntry, render_status, render_status_notification

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = ("handlers", "bot", "storage")
CTX = make_ctx()
T0 = datetime(2026, 11, 28, 8, 4, tzinfo=UTC)
LANGUAGES = ("id", "en")
#: an internal identifier: a word with an underscore (``staff_reply``), or a dotted catalog key
_IDENTIFIER = re.compile(r"\b[a-z]+_[a-z_]+\b|\b[a-z_]+\.[a-z_]+\.[a-z_.]+\b")
_TAG = re.compile(r"<[^>]+>")


def _python_files() -> list[Path]:
    return [p for d in CODE_DIRS for p in (ROOT / d).rglob("*.py") if "locales" not in p.parts]


def _module_of(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _resolve(node: ast.expr, module: str) -> str | None:
    """A string constant, or a module-level name bound to one (``UNKNOWN_ACTION``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        value = getattr(importlib.import_module(module), node.id, None)
        return value if isinstance(value, str) else None
    return None


def history_kinds() -> set[str]:
    """Every audit action the code can write: ``action=`` keywords (constants and named constants),
    the action argument of the refusal helpers, the lifecycle's actions, and the kinds the
    visibility table and the prompt module know."""
    kinds: set[str] = {a.value for a in Action}
    for path in _python_files():
        module = _module_of(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            for keyword in node.keywords:  # uow.audit.add(..., action="staff_reply"), AuditEntry(action=...)
                if name in {"add", "AuditEntry"} and keyword.arg == "action":
                    if value := _resolve(keyword.value, module):
                        kinds.add(value)
            if name in {"refuse", "_refuse"} and len(node.args) >= 5 and (value := _resolve(node.args[4], module)):
                kinds.add(value)
    kinds |= set(visibility.CITIZEN_AUDIENCE)
    from bot.services import staff, staff_prompts

    kinds |= set(staff_prompts.ROLE_ACTIONS.values()) | {staff.UNKNOWN_ACTION}
    return {k for k in kinds if re.fullmatch(r"[a-z_]+", k)}


KINDS = sorted(history_kinds())


def test_the_collector_finds_the_kinds_we_know() -> None:
    """Guards the collector itself: if it found nothing, the walk below would prove nothing."""
    expected = {"submit", "staff_reply", "citizen_reply", "also_reported", "duplicate_joined", "reassign",
                "card_rerouted", "unknown", "reply", "accept", "duplicate"}
    assert expected <= set(KINDS), expected - set(KINDS)


def _entries(kind: str) -> list[HistoryEntry]:
    """The shapes an entry of ``kind`` takes: bare, as every real status change of that action, with
    agencies (a reassignment, a re-routed card), and with a note."""
    entries = [HistoryEntry(T0, kind, "Budi", note=None), HistoryEntry(T0, kind, None, note="JMB-2026-000001")]
    for (before, action), after in TRANSITIONS.items():
        if action.value == kind:
            entries.append(HistoryEntry(T0, kind, "Budi", before.value, after.value, None, None, None))
    entries.append(HistoryEntry(T0, kind, "Budi", "diterima", "baru", "pupr", "dlh", None))
    entries.append(HistoryEntry(T0, kind, None, None, "baru", None, "pupr", None))
    return entries


def _visible_words(html_text: str) -> str:
    """The text a person reads: no tags, no link targets."""
    return _TAG.sub(" ", html_text)


def _assert_no_internal_words(text: str, kind: str, language: str) -> None:
    words = _visible_words(text)
    assert not _IDENTIFIER.search(words), (kind, _IDENTIFIER.search(words), words)
    if language == "id":  # an English kind ("accept", "reply") is never an Indonesian word
        history = words.split("Riwayat")[-1]
        assert not re.search(rf"(?<![\w-]){re.escape(kind)}(?![\w-])", history), (kind, history)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_history_kind_reads_in_catalog_words(kind: str, language: str) -> None:
    for entry in _entries(kind):
        view = make_view(history=(entry,), photos=())
        card = render_card(view, CTX, language=language)
        check_message(card)
        _assert_no_internal_words(card.text, kind, language)
        status = render_status(language, view, CTX)  # unfiltered: stricter than any citizen's view
        check_message(status)
        _assert_no_internal_words(status.text, kind, language)
        notice = render_status_notification(language, view, ctx=CTX)
        check_message(notice)
        assert not _IDENTIFIER.search(_visible_words(notice.text)), (kind, notice.text)


# --- every catalog key the code uses --------------------------------------------------------------

_KEY = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")
_FAMILY_PREFIX = re.compile(r"^[a-z_]+(\.[a-z_]+)*\.$")


def _key_calls() -> tuple[set[str], set[tuple[str, str]]]:
    """Literal keys passed to ``.t``/``.has``/``_alert``/``_group_text`` (or assigned to ``key``), and
    f-string families (prefix, suffix) such as ``status.{x}.desc``."""
    literals: set[str] = set()
    families: set[tuple[str, str]] = set()

    def consider(node: ast.expr) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _KEY.match(node.value):
            literals.add(node.value)
        elif isinstance(node, ast.JoinedStr) and node.values:
            head, tail = node.values[0], node.values[-1]
            prefix = head.value if isinstance(head, ast.Constant) and isinstance(head.value, str) else ""
            suffix = tail.value if isinstance(tail, ast.Constant) and isinstance(tail.value, str) and tail is not head else ""
            if _FAMILY_PREFIX.match(prefix):
                families.add((prefix, suffix))
        elif isinstance(node, ast.IfExp):
            consider(node.body)
            consider(node.orelse)

    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if name in {"t", "has", "_alert", "_group_text"}:
                    for arg in node.args:
                        consider(arg)
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "key" for t in node.targets):
                consider(node.value)
            elif isinstance(node, ast.Dict):
                for value in node.values:
                    if isinstance(value, ast.Constant) and isinstance(value.value, str) and value.value.startswith(("staff.", "card.")):
                        consider(value)
    return literals, families


def test_every_literal_key_the_code_uses_exists_in_both_languages() -> None:
    literals, _ = _key_calls()
    assert {"staff.duplicate_unknown", "card.header", "history.submit"} <= literals  # the collector works
    for language in LANGUAGES:
        missing = sorted(k for k in literals if not CATALOG.has(language, k))
        assert not missing, (language, missing)


def test_every_key_like_string_in_the_code_exists_in_both_languages() -> None:
    """Wider than the calls above: any dotted string in handlers/ or bot/ whose first part is one the
    catalogs use (``staff.``, ``card.``...) is a key somewhere (a dict of refusals, a tuple of toasts)
    and must exist; logger names and file names start otherwise."""
    prefixes = {key.split(".", 1)[0] for key in CATALOG.keys("id")}
    used: set[str] = set()
    for path in _python_files():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and _KEY.match(node.value):
                if node.value.split(".", 1)[0] in prefixes:
                    used.add(node.value)
    assert len(used) > 150
    for language in LANGUAGES:
        missing = sorted(k for k in used if not CATALOG.has(language, k))
        assert not missing, (language, missing)


def test_every_key_family_the_code_builds_exists_in_both_languages() -> None:
    _, families = _key_calls()
    assert ("status.", ".desc") in families and ("history.action.", "") in families
    for prefix, suffix in families:
        pattern = re.compile(rf"^{re.escape(prefix)}[a-z_]+{re.escape(suffix)}$")
        found = {language: {k for k in CATALOG.keys(language) if pattern.match(k)} for language in LANGUAGES}
        assert found["id"], (prefix, suffix)
        assert found["id"] == found["en"], (prefix, suffix)


def test_enumerable_families_are_complete() -> None:
    for language in LANGUAGES:
        for status in Status:
            assert CATALOG.has(language, f"status.{status.value}"), status
            assert CATALOG.has(language, f"status.{status.value}.desc"), status
        for action in Action:
            assert CATALOG.has(language, f"action.{action.value}"), action
        for code in LANGUAGES:
            assert CATALOG.has(language, f"lang.name.{code}")
        # every kind the code writes has words of its own, except a refused press's "unknown"
        # (refusals are never shown; were one shown, it would read "other activity")
        for kind in KINDS:
            if kind not in {"unknown"}:
                assert CATALOG.has(language, f"history.action.{kind}"), kind


# --- cards ----------------------------------------------------------------------------------------


def test_a_moved_card_says_where_in_its_first_line() -> None:
    for language, expected in (("id", "↪️ Dialihkan ke DLH"), ("en", "↪️ Moved to DLH")):
        card = render_card(make_view(agency="dlh"), CTX, active=False, moved_to_agency="dlh", language=language)
        assert card.text.splitlines()[0].startswith(expected), card.text
        assert "Baru" not in card.text.splitlines()[0] and card.buttons == ()
    relinked = render_card(make_view(), CTX, active=False, moved_to_agency="pupr", relinked=True)
    assert "grup PUPR yang baru" in relinked.text.splitlines()[0]


@pytest.mark.parametrize(
    ("address", "kelurahan", "kecamatan", "expected"),
    [
        ("Kec. Jelutung", None, "Jelutung", None),
        ("Kel. Talang Jauh, Kec. Jelutung", "Talang Jauh", "Jelutung", None),
        ("Kec. Jelutung", "Talang Jauh", "Jelutung", "Kel. Talang Jauh"),
        ("Jl. Sultan Thaha", None, "Pasar Jambi", "Kec. Pasar Jambi"),
        (None, None, "Jelutung", "Kec. Jelutung"),
    ],
)
def test_the_district_is_named_once(address: str | None, kelurahan: str | None, kecamatan: str, expected: str | None) -> None:
    assert district_line(address, kelurahan, kecamatan) == expected
    card = render_card(make_view(address=address, kelurahan=kelurahan, kecamatan=kecamatan), CTX).text
    assert card.count(f"Kec. {kecamatan}") == 1


def test_a_new_card_warns_of_open_complaints_close_by() -> None:
    card = render_card(make_view(nearby=(("JMB-2026-000001", 12.4),)), CTX)
    assert "⚠️ 1 laporan terbuka ±12 m: <code>JMB-2026-000001</code>" in card.text
    en = render_card(make_view(nearby=(("JMB-2026-000001", 12.4), ("JMB-2026-000003", 30.0))), CTX, language="en")
    assert "2 open report(s) within ±12 m" in en.text and "JMB-2026-000003" in en.text
    assert "⚠️" not in render_card(make_view(), CTX).text
    prompt = render_duplicate_prompt(make_view(nearby=(("JMB-2026-000007", 9.0),)), CTX, staff_name="Budi")
    assert "JMB-2026-000007" in prompt.text and "<code>7</code>" in prompt.text  # the likely original as example


@pytest.mark.parametrize("action", [Action.REJECT, Action.DUPLICATE])
def test_waiting_card_has_a_cancel_button(action: Action) -> None:
    card = render_prompt_card(make_view(), CTX, action=action, staff_name="Budi <x>")
    check_message(card)
    assert "Budi &lt;x&gt;" in card.text
    ((cancel,),) = card.buttons
    assert cancel.label == "✖️ Batal"
    parsed = parse_staff_payload(cancel.payload)
    assert parsed is not None and parsed.kind == "cx" and parsed.action == action and parsed.cancelled
    assert parse_staff_payload("cx:accept:42") is None and parse_staff_payload("cx:reject:x") is None


def test_duplicate_retry_is_a_reply_prompt() -> None:
    again = render_duplicate_retry(make_view(), "Nomor <JMB> tidak ditemukan.", CTX, reply_to=77)
    check_message(again)
    assert again.force_reply and again.reply_to is not None and again.reply_to.message_id == 77
    assert "&lt;JMB&gt;" in again.text and "Batal" in again.text


def test_duplicate_notice_names_the_original_with_its_real_status() -> None:
    history = (HistoryEntry(T0, "duplicate", "Budi", "baru", "duplikat", None, None, "JMB-2026-000001"),)
    view = make_view(status="duplikat", history=history, duplicate_of_number="JMB-2026-000001", duplicate_of_status="baru")
    notice = render_status_notification("id", view, ctx=CTX).text
    first = notice.split("\n\n")[0]
    assert "<b>JMB-2026-000001</b>" in first and "🆕 Baru" in first
    assert "sudah ditangani" not in notice and "Catatan petugas" not in notice
    en = render_status_notification("en", view, ctx=CTX).text
    assert "JMB-2026-000001" in en.split("\n\n")[0] and "New" in en
    status = render_status("id", view, CTX).text  # and the status view says which, and how it stands
    assert "Sama dengan pengaduan <b>JMB-2026-000001</b> (status sekarang: 🆕 Baru)" in status


# --- numbers as staff type them -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "full", "sequence"),
    [
        ("4", None, 4),
        ("000004", None, 4),
        ("#4", None, 4),
        ("JMB-4", None, 4),
        ("JMB-2026-4", "JMB-2026-000004", 4),
        ("jmb-2026-000004", "JMB-2026-000004", 4),
        ("jmb 2026 000004", "JMB-2026-000004", 4),
        (" JMB-2026-000004. ", "JMB-2026-000004", 4),
        ("2025/12", "JMB-2025-000012", 12),
    ],
)
def test_numbers_as_staff_type_them(typed: str, full: str | None, sequence: int) -> None:
    read = read_number(typed, prefix="JMB")
    assert read is not None and read.full == full and read.sequence == sequence


@pytest.mark.parametrize("typed", ["", "abc", "0", "JMB-2026-0", "ABC-4", "JMB-2026-000004 sama", "9" * 12])
def test_not_numbers(typed: str) -> None:
    assert read_number(typed, prefix="JMB") is None


def test_lifecycle_words_unchanged_for_statuses() -> None:
    """The status labels used in the alerts are words, never keys."""
    for status in Status:
        label = lifecycle.status_label(status.value, "en", CTX)
        assert "." not in label and "_" not in label
    assert (T0 + timedelta(0)).tzinfo is UTC
