"""The diagram is generated from the tables, and docs/conversation.md carries the current one."""

from __future__ import annotations

from pathlib import Path

from handlers.diagram import render_mermaid
from handlers.flow import FLOW, GLOBAL_BUTTONS, GLOBAL_COMMANDS
from handlers.state import Step

DOC = Path(__file__).resolve().parents[2] / "docs" / "conversation.md"


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
    assert render_mermaid().strip() in DOC.read_text(), "run: python -m handlers.diagram, paste into docs"
