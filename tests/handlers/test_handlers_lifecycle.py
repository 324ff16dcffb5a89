"""The staff-side status lifecycle: every (status, action) pair is decided by the table."""

from __future__ import annotations

import itertools

import pytest
from handlers_testkit import make_ctx

from handlers.lifecycle import (
    TRANSITIONS,
    Action,
    Status,
    allowed_actions,
    decide,
    is_terminal,
    status_description,
    status_label,
)

CTX = make_ctx()

EXPECTED: dict[tuple[Status, Action], Status] = {
    (Status.BARU, Action.ACCEPT): Status.DITERIMA,
    (Status.DITERIMA, Action.PROCESS): Status.DIPROSES,
    (Status.DIPROSES, Action.RESOLVE): Status.SELESAI,
    (Status.BARU, Action.REJECT): Status.DITOLAK,
    (Status.DITERIMA, Action.REJECT): Status.DITOLAK,
    (Status.BARU, Action.REASSIGN): Status.BARU,
    (Status.DITERIMA, Action.REASSIGN): Status.BARU,
    (Status.DIPROSES, Action.REASSIGN): Status.BARU,
    (Status.BARU, Action.DUPLICATE): Status.DUPLIKAT,
    (Status.DITERIMA, Action.DUPLICATE): Status.DUPLIKAT,
    (Status.DIPROSES, Action.DUPLICATE): Status.DUPLIKAT,
    (Status.DIBUKA_KEMBALI, Action.PROCESS): Status.DIPROSES,
    (Status.DIBUKA_KEMBALI, Action.REJECT): Status.DITOLAK,
    (Status.DIBUKA_KEMBALI, Action.REASSIGN): Status.BARU,
    (Status.DIBUKA_KEMBALI, Action.DUPLICATE): Status.DUPLIKAT,
}


@pytest.mark.parametrize(("status", "action"), list(itertools.product(Status, Action)))
def test_every_pair(status: Status, action: Action) -> None:
    decision = decide(status.value, action.value)
    if (status, action) in EXPECTED:
        assert decision.allowed and decision.to_status == EXPECTED[(status, action)]
        assert decision.needs_note == (action in (Action.REJECT, Action.DUPLICATE))
        assert decision.refusal_key is None
        assert action in allowed_actions(status)
    else:
        assert not decision.allowed and decision.to_status is None
        assert decision.refusal_key and CTX.catalog.has("id", decision.refusal_key)
        assert CTX.catalog.has("en", decision.refusal_key)
        assert action not in allowed_actions(status)


def test_table_is_exactly_the_specification() -> None:
    assert TRANSITIONS == EXPECTED


def test_terminal_statuses_have_no_buttons() -> None:
    assert allowed_actions("selesai") == () and allowed_actions("ditolak") == ()
    assert is_terminal("selesai") and is_terminal("ditolak") and not is_terminal("baru")
    assert decide("selesai", "accept").refusal_key == "staff.refuse.already_resolved"
    assert decide("ditolak", "process").refusal_key == "staff.refuse.already_rejected"


def test_button_order_is_stable() -> None:
    assert allowed_actions("baru") == (Action.ACCEPT, Action.REJECT, Action.REASSIGN, Action.DUPLICATE)
    assert allowed_actions("diterima") == (Action.PROCESS, Action.REJECT, Action.REASSIGN, Action.DUPLICATE)
    assert allowed_actions("diproses") == (Action.RESOLVE, Action.REASSIGN, Action.DUPLICATE)
    assert allowed_actions("duplikat") == () and is_terminal("duplikat")


@pytest.mark.parametrize(("status", "action"), [("baru", "fly"), ("??", "accept"), ("", ""), ("BARU ", "Accept")])
def test_garbage_never_raises(status: str, action: str) -> None:
    decision = decide(status, action)
    if status.strip().lower() == "baru" and action.lower() == "accept":
        assert decision.allowed
    else:
        assert not decision.allowed and decision.refusal_key
    assert allowed_actions("nonsense") == ()


def test_labels() -> None:
    assert status_label("diterima", "id", CTX) == "📥 Diterima"
    assert status_label("selesai", "en", CTX) == "✅ Resolved"
    assert status_label("weird", "id", CTX) == "weird"
    for s in Status:
        assert status_description(s, "id", CTX) and status_description(s, "en", CTX)


def test_a_reopened_card_goes_back_to_work() -> None:
    assert allowed_actions("dibuka_kembali") == (Action.PROCESS, Action.REJECT, Action.REASSIGN, Action.DUPLICATE)
    assert not is_terminal("dibuka_kembali")
    assert status_label("dibuka_kembali", "id", CTX) == "🔄 Dibuka kembali"


def test_reopen_is_not_a_staff_button_but_the_citizen_and_the_command_centre_may() -> None:
    assert Action.REOPEN not in allowed_actions("selesai")
    assert not decide("selesai", "reopen").allowed
    assert decide("selesai", "reopen", actor="citizen").to_status == Status.DIBUKA_KEMBALI
    assert not decide("ditolak", "reopen", actor="citizen").allowed
    assert decide("ditolak", "reopen", actor="command").to_status == Status.DIBUKA_KEMBALI
    assert decide("ditolak", "reassign", actor="command").to_status == Status.BARU
    assert not decide("diproses", "reopen", actor="command").allowed
