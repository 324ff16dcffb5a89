"""Which history entries a citizen reads: the public history for everyone, messages only for the
citizens they are between (handlers.visibility)."""

from __future__ import annotations

from datetime import UTC, datetime

from handlers.lifecycle import Action
from handlers.views import HistoryEntry
from handlers.visibility import (
    CITIZEN_AUDIENCE,
    Audience,
    addressee_of,
    addressee_ref,
    audience,
    citizen_history,
    citizen_sees,
)

AT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
REPORTER, FOLLOWER, OTHER = 1, 2, 3


def entry(action: str, **kw: object) -> HistoryEntry:
    return HistoryEntry(at=AT, action=action, **kw)  # type: ignore[arg-type]


def test_every_staff_action_is_public() -> None:
    for action in Action:
        assert audience(action.value) == Audience.EVERYONE
    assert audience("submit") == audience("also_reported") == audience("duplicate_joined") == Audience.EVERYONE


def test_an_unlisted_action_is_shown_to_no_citizen() -> None:
    assert "internal_note" not in CITIZEN_AUDIENCE
    for viewer in (REPORTER, FOLLOWER):
        assert not citizen_sees(entry("internal_note", note="x"), viewer=viewer, reporter=REPORTER)


def test_a_citizen_message_is_read_only_by_its_author() -> None:
    mine = entry("citizen_reply", actor_kind="citizen", actor_id=str(REPORTER), note="di depan masjid")
    theirs = entry("citizen_reply", actor_kind="citizen", actor_id=str(FOLLOWER))
    assert citizen_sees(mine, viewer=REPORTER, reporter=REPORTER)
    assert not citizen_sees(mine, viewer=FOLLOWER, reporter=REPORTER)
    assert citizen_sees(theirs, viewer=FOLLOWER, reporter=REPORTER)
    assert not citizen_sees(theirs, viewer=REPORTER, reporter=REPORTER)
    staff_named_like_a_citizen = entry("citizen_reply", actor_kind="staff", actor_id=str(REPORTER))
    assert not citizen_sees(staff_named_like_a_citizen, viewer=REPORTER, reporter=REPORTER)


def test_a_staff_answer_is_read_by_the_citizen_it_was_addressed_to() -> None:
    to_reporter = entry("staff_reply", actor_kind="staff", actor_id="99", note="patokan?")
    to_follower = entry("staff_reply", actor_kind="staff", actor_id="99", addressee=FOLLOWER, note="dijadwalkan")
    assert [citizen_sees(to_reporter, viewer=v, reporter=REPORTER) for v in (REPORTER, FOLLOWER, OTHER)] == [
        True, False, False,
    ]
    assert [citizen_sees(to_follower, viewer=v, reporter=REPORTER) for v in (REPORTER, FOLLOWER, OTHER)] == [
        False, True, False,
    ]


def test_history_keeps_its_order() -> None:
    entries = [
        entry("submit", to_status="baru"),
        entry("staff_reply", note="a"),
        entry("accept", from_status="baru", to_status="diterima"),
        entry("citizen_reply", actor_kind="citizen", actor_id=str(REPORTER), note="b"),
        entry("reject", from_status="diterima", to_status="ditolak", note="di luar wilayah"),
    ]
    follower = citizen_history(entries, viewer=FOLLOWER, reporter=REPORTER)
    assert [e.action for e in follower] == ["submit", "accept", "reject"]
    assert follower[-1].note == "di luar wilayah", "the rejection reason is public"
    assert citizen_history(entries, viewer=REPORTER, reporter=REPORTER) == tuple(entries)


def test_the_stored_addressee_round_trips_and_agency_keys_are_not_addressees() -> None:
    assert addressee_of(addressee_ref(42)) == 42
    assert addressee_of("dishub") is None
    assert addressee_of(None) is None
    assert addressee_of("citizen:x") is None
