"""The status lifecycle as documentation, generated from :mod:`handlers.lifecycle`'s tables.

The README's lifecycle table and status diagram are written by ``make diagram`` from :data:`TRANSITIONS`
(the card's buttons) and :data:`OTHER_TRANSITIONS` (the citizen's and the command centre's own moves), with
the labels staff and citizens read from the message catalogs, so a new status or transition cannot be
missing from the documentation: a test fails until the README is regenerated.
"""

from __future__ import annotations

from collections import defaultdict

from handlers.i18n import Catalog
from handlers.lifecycle import (
    NEEDS_NOTE,
    OTHER_TRANSITIONS,
    STATUS_EMOJI,
    TERMINAL,
    TRANSITIONS,
    Action,
    Status,
)

#: who makes a transition that is not a card button (the key's first part in OTHER_TRANSITIONS)
ACTORS: dict[str, str] = {"citizen": "the citizen", "command": "the command centre"}

#: what staff reply with when an action needs a note (NEEDS_NOTE)
NOTE_WORDS: dict[Action, str] = {Action.REJECT: "reason", Action.DUPLICATE: "original's number"}

#: when the moves that are not card buttons happen (documentation; a test checks every one is described)
OTHER_WHEN: dict[tuple[str, Status, Action], str] = {
    ("citizen", Status.SELESAI, Action.REOPEN): (
        "answers *❌ Belum* to “Apakah masalahnya sudah beres?” within `followup.reopen_within_days`"),
    ("command", Status.DITOLAK, Action.REOPEN): "upholds the citizen's appeal (*Ajukan keberatan*)",
    ("command", Status.DITOLAK, Action.REASSIGN): "upholds the appeal and hands the complaint to another agency",
    ("citizen", Status.BARU, Action.WITHDRAW): "erases their data (`/hapusdata`) before anyone took the complaint up",
}


def _bare(label: str) -> str:
    """``"✅ Terima"`` -> ``"Terima"``: the words of a button, for diagram edges."""
    head, _, rest = label.partition(" ")
    return rest if rest and not any(ch.isalnum() for ch in head) else label


def _button(action: Action, catalog: Catalog, *, bare: bool = False) -> str:
    label = catalog.t("id", f"action.{action.value}")
    return _bare(label) if bare else label


def _staff_move(action: Action, target: Status, catalog: Catalog, *, bare: bool = False) -> str:
    """``"❌ Tolak (reason)"`` / ``"↪️ Alihkan (at another agency)"``: a card button and what it asks."""
    text = _button(action, catalog, bare=bare)
    if action in NEEDS_NOTE:
        text += f" ({NOTE_WORDS.get(action, 'note')})"
    if action is Action.REASSIGN:
        text += " (at another agency)"
    return text


def _other_move(actor: str, action: Action, catalog: Catalog) -> str:
    return f"{_button(action, catalog, bare=True)} ({ACTORS.get(actor, actor)})"


#: the composite state of the diagram holding every status whose card still has buttons
OPEN = "open"


def _open_statuses() -> frozenset[Status]:
    return frozenset(status for status in Status if status not in TERMINAL)


def render_lifecycle_mermaid(catalog: Catalog | None = None) -> str:
    """The Mermaid ``stateDiagram-v2`` of every status: card buttons, then the other actors' moves.

    A button every open status has (*Alihkan*, *Duplikat*) is drawn once, from the composite state
    ``open`` that holds those statuses, instead of once per status: the picture stays readable."""
    catalog = catalog or Catalog.load()
    open_statuses = _open_statuses()
    sources: dict[tuple[Action, Status], set[Status]] = defaultdict(set)
    for (source, action), target in TRANSITIONS.items():
        sources[(action, target)].add(source)
    inside: dict[tuple[str, str], list[str]] = defaultdict(list)  # both ends open: drawn in the box
    outside: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (source, action), target in TRANSITIONS.items():
        label = _staff_move(action, target, catalog, bare=True)
        if len(open_statuses) > 1 and sources[(action, target)] == open_statuses:
            if target in open_statuses:
                label = f"{_button(action, catalog, bare=True)} ({target.value} at another agency)"
                outside[(OPEN, OPEN)].append(label)
            else:
                outside[(OPEN, target.value)].append(label)
            continue
        edges = inside if source in open_statuses and target in open_statuses else outside
        edges[(source.value, target.value)].append(label)
    for (actor, source, action), target in OTHER_TRANSITIONS.items():
        outside[(source.value, target.value)].append(_other_move(actor, action, catalog))
    lines = ["stateDiagram-v2", f"    [*] --> {Status.BARU.value}",
             f'    state "{OPEN}: the card has buttons" as {OPEN} {{']
    lines += [f"        {source} --> {target}: {', '.join(dict.fromkeys(labels))}"
              for (source, target), labels in inside.items()]
    lines += [f"        {status.value}" for status in Status
              if status in open_statuses and not any(status.value in pair for pair in inside)]
    lines.append("    }")
    lines += [f"    {source} --> {target}: {', '.join(dict.fromkeys(labels))}"
              for (source, target), labels in outside.items()]
    lines += [f"    {status.value} --> [*]" for status in Status if status in TERMINAL]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Table cell text: a ``|`` or a line break would split the row."""
    return " ".join(text.split()).replace("|", "\\|")


def render_lifecycle_table(catalog: Catalog | None = None) -> str:
    """A Markdown table: each status, what the citizen reads, the card's buttons and the other moves."""
    catalog = catalog or Catalog.load()
    rows = ["| status | the citizen reads | buttons on the agency card | other moves |",
            "| --- | --- | --- | --- |"]
    for status in Status:
        label = f"{STATUS_EMOJI[status]} {catalog.t('id', f'status.{status.value}')} (`{status.value}`)"
        reads = catalog.t("en", f"status.{status.value}.desc")
        buttons = [f"{_staff_move(action, target, catalog)} → `{target.value}`"
                   for (source, action), target in TRANSITIONS.items() if source is status]
        others = [f"{ACTORS.get(actor, actor)} {OTHER_WHEN.get((actor, source, action), action.value)} → "
                  f"`{target.value}`" for (actor, source, action), target in OTHER_TRANSITIONS.items()
                  if source is status]
        card = "; ".join(buttons) or ("none: closed" if status in TERMINAL else "none")
        cells = (label, reads, card, "; ".join(others) or "–")
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return "\n".join(rows) + "\n"


def render_lifecycle_block(catalog: Catalog | None = None) -> str:
    """What the README's generated lifecycle block holds: the diagram, then the table."""
    catalog = catalog or Catalog.load()
    return f"```mermaid\n{render_lifecycle_mermaid(catalog)}```\n\n{render_lifecycle_table(catalog)}"
