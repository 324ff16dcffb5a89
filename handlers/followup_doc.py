"""The follow-up conversation as a Mermaid diagram, generated from :mod:`handlers.followup`'s tables.

:data:`handlers.followup.TABLE` says which handler answers each (open step, trigger) and
:data:`handlers.followup.GLOBAL` which buttons mean the same at any step; the handlers decide where the
question goes next, so :data:`LEADS_TO` writes that down per handler. A test checks that every handler of
both tables is in it, so a new handler cannot be left out of the picture, and ``make diagram`` redraws
``docs/conversation.md``'s copy.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from handlers import followup as fu
from handlers.followup_types import PREFIX, FuStep

#: pseudo-states where the question is over: what the citizen's last answer did
DONE = "done"  # the question is over; the main menu (or the draft in progress) follows
REOPENED = "reopened"  # Reopen: the complaint is dibuka_kembali at the same agency, with a fresh card
APPEALED = "appealed"  # Appeal: the command centre gets the appeal card
LATE = "too_late"  # Belum after followup.reopen_within_days: the kind answer offering a new complaint

OUTCOMES: dict[str, str] = {
    DONE: "question over (main menu)",
    REOPENED: "reopened (dibuka_kembali, fresh card, clock restarted)",
    APPEALED: "appeal card in the command centre",
    LATE: "too late to reopen: a new complaint offered",
}

#: a target, or a target with what the trigger must be to lead there (``("rating", "“sudah”")``)
Lead = str | tuple[str, str]

#: where each handler can lead (a step of :class:`FuStep` or an outcome above); staying in the step to keep
#: what the citizen wrote is drawn, a re-prompt for something unusable is not
LEADS_TO: dict[Callable[..., object], tuple[Lead, ...]] = {
    fu.on_yes: (FuStep.RATING,),
    fu.on_no: (FuStep.REASON, LATE),
    fu.on_rate: ((FuStep.COMMENT, ""), (DONE, "with a comment already written")),
    fu.on_appeal: (FuStep.APPEAL,),
    fu.on_answer_text: ((FuStep.RATING, "“sudah”"), (FuStep.REASON, "“belum”"), (LATE, "“belum”"),
                        (FuStep.ANSWER, "kept as the comment or reason")),
    fu.on_answer_photo: ((FuStep.ANSWER, "kept for the reason"),),
    fu.on_rating_text: ((FuStep.COMMENT, "“4”"), (DONE, "“4” with a comment already written"),
                        (FuStep.RATING, "kept as the comment")),
    fu.on_comment: (DONE,),
    fu.on_skip: (DONE,),
    fu.on_reason_part: (FuStep.REASON,),
    fu.on_reopen: (REOPENED,),
    fu.on_back: (FuStep.ANSWER, DONE),
    fu.on_appeal_text: (FuStep.APPEAL,),
    fu.on_appeal_photo: (),
    fu.on_appeal_send: (APPEALED,),
    fu.on_appeal_back: (DONE,),
}

#: the pseudo-state standing for "whatever the follow-up (or the filing flow) is at"
ANY = "fu_any"


def _trigger(trigger: str) -> str:
    """``text``/``photo`` as they are; a verb as its button's payload (``fu:send``)."""
    return trigger if trigger in ("text", "photo") else f"{PREFIX}:{trigger}"


def _target(value: str) -> str:
    return str(value.value) if isinstance(value, FuStep) else value


def render_followup_mermaid() -> str:
    """The Mermaid ``stateDiagram-v2`` of the follow-up conversation (:mod:`handlers.followup`)."""
    edges: dict[tuple[str, str], list[str]] = defaultdict(list)

    def add(source: str, trigger: str, handler: Callable[..., object]) -> None:
        for lead in LEADS_TO[handler]:
            target, when = lead if isinstance(lead, tuple) else (lead, "")
            label = f"{trigger} {when}" if when else trigger
            labels = edges[(source, _target(target))]
            if label not in labels:
                labels.append(label)

    for (step, trigger), handler in fu.TABLE.items():
        add(step.value, _trigger(trigger), handler)
    for verb, handler in fu.GLOBAL.items():
        add(ANY, _trigger(verb), handler)
    lines = ["stateDiagram-v2",
             f"    [*] --> {FuStep.ANSWER.value}: Selesai, the resolution notice asks “Apakah masalahnya sudah beres?”",
             f'    state "any step (the button names its complaint)" as {ANY}']
    lines += [f'    state "{text}" as {name}' for name, text in OUTCOMES.items()]
    lines += [f"    {source} --> {target}: {', '.join(labels)}" for (source, target), labels in edges.items()]
    lines.append(f"    {FuStep.ANSWER.value} --> {DONE}: no answer in followup.confirm_within_days (stays selesai)")
    lines += [f"    {name} --> [*]" for name in OUTCOMES]
    lines.append(f"    note right of {ANY}")
    lines.append("        fu:appeal comes with a rejection notice or /status of a rejected complaint")
    lines.append("        a command, a menu word or “mau lapor …” leaves the question open and does that")
    lines.append("    end note")
    return "\n".join(lines) + "\n"
