"""The diagrams are generated from the tables (the filing conversation, the follow-up conversation, the status
lifecycle), and docs/conversation.md and the README carry the current ones."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handlers.diagram import BLOCKS, generated_blocks, regenerate, render_mermaid
from handlers.flow import FLOW, GLOBAL_BUTTONS, GLOBAL_COMMANDS
from handlers.followup_doc import LEADS_TO, render_followup_mermaid
from handlers.followup_types import FuStep
from handlers.i18n import Catalog
from handlers.lifecycle import OTHER_TRANSITIONS, TERMINAL, TRANSITIONS, Status
from handlers.lifecycle_doc import OPEN, OTHER_WHEN, render_lifecycle_mermaid, render_lifecycle_table
from handlers.state import Step

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "conversation.md"
README = ROOT / "README.md"


def test_diagram_covers_every_step() -> None:
    source = render_mermaid()
    assert source.startswith("stateDiagram-v2")
    for s in Step:
        assert s.value in source
    assert "summary --> idle: sum:send, sum:cancel" in source


def test_tables_are_data() -> None:
    assert all(isinstance(k, tuple) and isinstance(k[0], Step) for k in FLOW)
    assert {"start", "help", "cancel", "status", "laporan", "bahasa", "baru"} <= set(GLOBAL_COMMANDS)
    assert {"lang:*", "menu:new", "draft:continue"} <= set(GLOBAL_BUTTONS)


def test_docs_are_current() -> None:
    assert render_mermaid().strip() in DOC.read_text(), "run: make diagram"


@pytest.mark.parametrize("path", [DOC, README], ids=["docs/conversation.md", "README.md"])
def test_generated_blocks_are_current(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert generated_blocks(text), f"{path.name} has no generated block"
    assert regenerate(text) == text, f"{path.name} is out of date: run make diagram"


def test_readme_and_docs_carry_the_lifecycle() -> None:
    assert "lifecycle" in generated_blocks(README.read_text(encoding="utf-8"))
    assert {"conversation", "lifecycle-diagram"} <= set(generated_blocks(DOC.read_text(encoding="utf-8")))
    assert set(BLOCKS) >= {"conversation", "lifecycle", "lifecycle-diagram"}


EDGE = re.compile(r"^\s+(\w+) --> (\w+|\[\*\]): (.*)$")


def drawn_moves(source: str) -> set[tuple[str, str]]:
    """(from, to) for every edge of the lifecycle diagram, an edge from the box ``open`` standing for one
    from each status in it (and ``open --> open`` for the move named in its label)."""
    open_statuses = [s.value for s in Status if s not in TERMINAL]
    moves: set[tuple[str, str]] = set()
    for line in source.splitlines():
        match = EDGE.match(line)
        if match is None:
            continue
        start, end, label = match.groups()
        if end == OPEN:
            end = re.search(r"\((\w+) at another agency\)", label).group(1)  # type: ignore[union-attr]
        moves |= {(s, end) for s in (open_statuses if start == OPEN else [start])}
    return moves


def test_lifecycle_diagram_draws_exactly_the_tables() -> None:
    source = render_lifecycle_mermaid()
    for status in Status:
        assert re.search(rf"\b{status.value}\b", source), status
    expected = {(s.value, t.value) for (s, _a), t in TRANSITIONS.items()}
    expected |= {(s.value, t.value) for (_who, s, _a), t in OTHER_TRANSITIONS.items()}
    assert drawn_moves(source) == expected
    # what the reader sees: the buttons' words, one edge for a button every open status has, who makes the rest
    assert "        diterima --> diproses: Proses" in source
    assert "    open --> duplikat: Duplikat (original's number)" in source
    assert "    open --> open: Alihkan (baru at another agency)" in source
    assert "    selesai --> dibuka_kembali: Buka kembali (the citizen)" in source
    assert "    ditolak --> dibuka_kembali: Buka kembali (the command centre)" in source
    assert "    ditolak --> baru: Alihkan (the command centre)" in source
    assert {line for line in source.splitlines() if line.endswith("--> [*]")} == {
        f"    {s.value} --> [*]" for s in TERMINAL}


def test_lifecycle_table_has_a_row_per_status_with_labels_from_the_catalog() -> None:
    catalog = Catalog.load()
    table = render_lifecycle_table(catalog)
    rows = table.strip().splitlines()[2:]
    assert len(rows) == len(Status)
    for status, row in zip(Status, rows, strict=True):
        assert row.startswith("| ") and f"(`{status.value}`)" in row
        assert catalog.t("id", f"status.{status.value}") in row
        assert row.count(" | ") == 3, row  # four cells: nothing in a text splits the row
    reopened = rows[list(Status).index(Status.DIBUKA_KEMBALI)]
    assert "🔄 Dibuka kembali" in reopened and "🔧 Proses → `diproses`" in reopened
    resolved = rows[list(Status).index(Status.SELESAI)]
    assert "none: closed" in resolved and "Belum" in resolved and "→ `dibuka_kembali`" in resolved


def test_every_other_move_is_described() -> None:
    assert set(OTHER_WHEN) == set(OTHER_TRANSITIONS), "describe the new move in handlers/lifecycle_doc.OTHER_WHEN"


def test_regenerate_refuses_an_unknown_block() -> None:
    with pytest.raises(ValueError, match="nope"):
        regenerate("<!-- generated by make diagram: nope -->\nx\n<!-- end of generated: nope -->\n")


def test_followup_diagram_knows_every_handler_of_its_tables() -> None:
    from handlers import followup

    handlers = set(followup.TABLE.values()) | set(followup.GLOBAL.values())
    missing = sorted(h.__name__ for h in handlers - set(LEADS_TO))
    assert not missing, f"say where these lead in handlers/followup_doc.LEADS_TO: {missing}"
    stale = sorted(h.__name__ for h in set(LEADS_TO) - handlers)
    assert not stale, f"no longer in handlers.followup's tables: {stale}"


def test_followup_diagram_draws_the_question_rating_reopen_and_appeal() -> None:
    source = render_followup_mermaid()
    assert source.startswith("stateDiagram-v2")
    for step in FuStep:
        assert re.search(rf"^    {step.value} --> ", source, re.M), step
    assert "    [*] --> answer: Selesai" in source
    assert "    fu_any --> rating: fu:yes" in source
    assert "    fu_any --> reason: fu:no" in source
    assert "    reason --> reopened: fu:send" in source
    assert "    appeal --> appealed: fu:send" in source
    assert "    answer --> done: no answer in followup.confirm_within_days" in source
    assert "followup" in generated_blocks(DOC.read_text(encoding="utf-8"))
