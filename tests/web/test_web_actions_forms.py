"""Which forms a dashboard account gets on a complaint (bot.web.actions.actions_for), and that the partial
renders them with the CSRF token (no app, no database).

What it proves: a role's permissions (handlers.web_roles) and the lifecycle table (handlers.lifecycle.decide)
together decide the forms; an agency account gets nothing on another agency's complaint; resolve is a
multipart form whose URL carries the token, with a required photo where the category requires one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import jinja2
import pytest

from bot.web import TEMPLATES_DIR
from bot.web.actions import actions_for
from handlers.context import AgencyInfo
from handlers.web_roles import Account, parse_role

AGENCIES = (
    AgencyInfo("pupr", {"id": "Dinas PUPR"}),
    AgencyInfo("dishub", {"id": "Dinas Perhubungan"}),
    AgencyInfo("dlh", {"id": "Dinas Lingkungan Hidup"}),
)


@dataclass
class Row:
    number: str = "JMB-2026-000001"
    status: str = "baru"
    agency: str = "pupr"


def account(role: str) -> Account:
    return Account(id=1, username="ani", role=parse_role(role), version=1)


def names(role: str, status: str, agency: str = "pupr", **kw: Any) -> list[str]:
    kw.setdefault("agencies", AGENCIES)
    return [f.action for f in actions_for(account(role), Row(status=status, agency=agency), **kw)]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("baru", ["accept", "reject", "reply"]),
        ("diterima", ["process", "reject", "reply"]),
        ("diproses", ["resolve", "reply"]),
        ("dibuka_kembali", ["process", "reject", "reply"]),
        ("selesai", ["reply"]),
        ("ditolak", ["reply"]),
        ("ditarik", []),
    ],
)
def test_agency_account_gets_what_the_card_offers_now(status: str, expected: list[str]) -> None:
    assert names("agency:pupr", status) == expected


def test_command_reassigns_nudges_and_notes_while_open() -> None:
    assert names("command", "baru") == ["reassign", "nudge", "note"]
    assert names("command", "diproses") == ["reassign", "nudge", "note"]
    assert names("command", "selesai") == ["note"]
    reassign = next(f for f in actions_for(account("command"), Row(), agencies=AGENCIES) if f.action == "reassign")
    assert [key for key, _ in reassign.choices] == ["dishub", "dlh"], "the other agencies, not its own"
    assert names("command", "baru", agencies=()) == ["nudge", "note"], "no agencies to offer: no reassign"


def test_viewer_and_other_agency_get_nothing() -> None:
    assert names("viewer", "baru") == []
    assert names("agency:dlh", "baru") == []
    assert actions_for(None, Row()) == []


def test_resolve_form_follows_the_category_proof_mode() -> None:
    forms = {m: actions_for(account("agency:pupr"), Row(status="diproses"), proof_mode=m)[0] for m in ("required", "optional", "off")}
    assert forms["required"].multipart and forms["required"].photo == "required" and "photo" in forms["required"].fields
    assert forms["optional"].multipart and forms["optional"].photo == "optional"
    assert not forms["off"].multipart and forms["off"].fields == ("text",)


def render(**context: Any) -> str:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=True, undefined=jinja2.StrictUndefined
    )
    return env.get_template("_actions.html").render(t=lambda key, **p: f"[{key}]", **context)


def test_partial_renders_forms_with_the_token_and_the_flash() -> None:
    forms = actions_for(account("agency:pupr"), Row(status="diproses"), proof_mode="required")
    html = render(actions=forms, csrf_token="tok/en+1", flash={"text": "<b>ok</b>", "ok": True})
    assert 'action="/dashboard/complaints/JMB-2026-000001/action?csrf_token=tok/en%2B1"' in html
    assert 'enctype="multipart/form-data"' in html and 'name="photo"' in html and " required" in html
    assert 'name="csrf_token" value="tok/en+1"' in html
    # the flash is complaint.html's, under the title (tests/web/test_web_clerk.py), not below the photos
    assert "<b>ok</b>" not in html and "flash-ok" not in html
    reply = render(actions=actions_for(account("agency:pupr"), Row()), csrf_token="x")
    assert 'name="reason"' in reply and 'value="accept"' in reply and "flash" not in reply
    assert "<form" not in render(actions=[], csrf_token="x")
