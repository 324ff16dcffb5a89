"""Who may do what on the web dashboard (issue 13), written down as data like :mod:`handlers.lifecycle`.

Three kinds of account: ``command`` (the command centre: every agency; reassign, nudge, note), ``agency:<key>``
(an agency supervisor: only that agency's complaints, and the same actions as its Telegram group) and ``viewer``
(reads everything, changes nothing). :data:`PERMISSIONS` is the one table the pages (which buttons to show), the
action handlers (what to refuse) and the README read. Whether an action is allowed *now* is still the lifecycle
table's decision (:func:`handlers.lifecycle.decide`): a role only says who may try.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RoleKind(StrEnum):
    COMMAND = "command"
    AGENCY = "agency"
    VIEWER = "viewer"


class WebAction(StrEnum):
    """What a dashboard account can do to a complaint (the values are the forms' ``action`` field)."""

    ACCEPT = "accept"
    PROCESS = "process"
    RESOLVE = "resolve"  # with the proof ("after") photo, as in the group
    REJECT = "reject"  # with a reason
    REPLY = "reply"  # a message to the citizen
    REASSIGN = "reassign"
    NUDGE = "nudge"  # a reminder posted in the agency's group
    NOTE = "note"  # an internal note in the audit trail


#: role kind -> actions it may attempt
PERMISSIONS: dict[RoleKind, frozenset[WebAction]] = {
    RoleKind.COMMAND: frozenset({WebAction.REASSIGN, WebAction.NUDGE, WebAction.NOTE}),
    RoleKind.AGENCY: frozenset(
        {WebAction.ACCEPT, WebAction.PROCESS, WebAction.RESOLVE, WebAction.REJECT, WebAction.REPLY}
    ),
    RoleKind.VIEWER: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Role:
    kind: RoleKind
    #: the agency key of an ``agency:<key>`` role, else None
    agency: str | None = None

    def __str__(self) -> str:
        return f"agency:{self.agency}" if self.kind is RoleKind.AGENCY else self.kind.value

    @property
    def sees_all(self) -> bool:
        """Every agency's complaints (the command centre and viewers); an agency account sees its own."""
        return self.kind is not RoleKind.AGENCY

    def may(self, action: WebAction) -> bool:
        return action in PERMISSIONS[self.kind]

    def can_see(self, agency: str) -> bool:
        return self.sees_all or agency == self.agency


class RoleError(ValueError):
    pass


def parse_role(text: str, agencies: frozenset[str] | set[str] | None = None) -> Role:
    """``command``, ``viewer`` or ``agency:<key>`` (with ``key`` among ``agencies`` when they are given)."""
    value = text.strip()
    if value in (RoleKind.COMMAND.value, RoleKind.VIEWER.value):
        return Role(RoleKind(value))
    kind, _, agency = value.partition(":")
    if kind == RoleKind.AGENCY.value and agency:
        if agencies is not None and agency not in agencies:
            known = ", ".join(sorted(agencies))
            raise RoleError(f"unknown agency {agency!r} (known: {known})")
        return Role(RoleKind.AGENCY, agency)
    raise RoleError(f"role {text!r} must be command, viewer or agency:<key>")


@dataclass(frozen=True, slots=True)
class Account:
    """The signed-in dashboard account, as the pages see it."""

    id: int
    username: str
    role: Role
    version: int


__all__ = ["PERMISSIONS", "Account", "Role", "RoleError", "RoleKind", "WebAction", "parse_role"]
