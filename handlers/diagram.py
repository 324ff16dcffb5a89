"""Draw the conversation as a Mermaid state diagram, straight from the transition tables.

Because the diagram is generated from :data:`handlers.flow.FLOW` and the global tables, it cannot
drift from the code: ``python -m handlers.diagram`` prints it, and a test checks that the copy in
``docs/conversation.md`` is current.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

from handlers.flow import FLOW, GLOBAL_BUTTONS, GLOBAL_COMMANDS, Transition
from handlers.state import Step

#: the pseudo-state standing for "whatever step the citizen is in"
ANY = "any_step"


def _edges(source: str, trigger: str, transition: Transition, edges: dict[tuple[str, str], list[str]]) -> None:
    for target in transition.targets:
        labels = edges[(source, target.value)]
        if trigger not in labels:
            labels.append(trigger)


def _collect() -> dict[tuple[str, str], list[str]]:
    """(from, to) -> the triggers that lead there, in table order."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (step, trigger), transition in FLOW.items():
        _edges(step.value, trigger, transition, edges)
    for name, transition in GLOBAL_COMMANDS.items():
        _edges(ANY, f"/{name}", transition, edges)
    for payload, transition in GLOBAL_BUTTONS.items():
        _edges(ANY, payload, transition, edges)
    return edges


def _staying_globals() -> list[str]:
    """Global commands and buttons that answer without leaving the step."""
    names = [f"/{n}" for n, t in GLOBAL_COMMANDS.items() if not t.targets]
    names += [p for p, t in GLOBAL_BUTTONS.items() if not t.targets]
    return names


def render_mermaid() -> str:
    """The Mermaid ``stateDiagram-v2`` source for the whole citizen conversation."""
    lines = ["stateDiagram-v2", f"    [*] --> {Step.IDLE.value}"]
    lines.append(f'    state "any step" as {ANY}')
    for (source, target), triggers in _collect().items():
        lines.append(f"    {source} --> {target}: {', '.join(triggers)}")
    lines.append(f"    note right of {ANY}")
    lines.append(f"        stay in the step: {', '.join(_staying_globals())}")
    lines.append("        anything else unexpected: short re-prompt, draft unchanged")
    lines.append("    end note")
    lines.append(f"    note right of {Step.STATUS_NUMBER.value}")
    lines.append("        after the number (or /cancel), back to the draft step it interrupted, if any")
    lines.append("    end note")
    return "\n".join(lines) + "\n"


def write_into(path: Path) -> None:
    """Replace the first ```mermaid block of ``path`` with the current diagram (make diagram)."""
    text = path.read_text(encoding="utf-8")
    start = text.index("```mermaid\n") + len("```mermaid\n")
    end = text.index("```", start)
    path.write_text(text[:start] + render_mermaid() + text[end:], encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) == 2 and args[0] == "--write":
        write_into(Path(args[1]))
    else:
        print(render_mermaid(), end="")


if __name__ == "__main__":
    main()
