"""The bodies' shapes without a server: the spec's XML elements, and stored text that XML or UTF-8 cannot
carry (control characters, a lone surrogate from a JSON update) never breaks an answer."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from bot.open311.formats import error, respond, to_xml
from bot.open311.media import photo_id_of, token_for


def test_xml_names_items_after_their_list_and_none_is_an_empty_element() -> None:
    body = to_xml("service_requests", [{"service_request_id": "JMB-2026-000001", "account_id": None, "lat": -1.5}])
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(body)
    assert root.findtext("request/service_request_id") == "JMB-2026-000001"
    assert root.findtext("request/account_id") == ""
    assert root.findtext("request/lat") == "-1.5"
    discovery = ET.fromstring(to_xml("discovery", {"endpoints": [{"formats": ["text/xml", "application/json"]}]}))
    assert [f.text for f in discovery.findall("endpoints/endpoint/formats/format")] == ["text/xml", "application/json"]
    assert ET.fromstring(to_xml("services", [{"metadata": False}])).findtext("service/metadata") == "false"


def test_text_that_xml_and_utf8_cannot_carry_does_not_break_an_answer() -> None:
    nasty = "Jalan\x01 rusak\x0c <b>&</b> \ud800 é"
    root = ET.fromstring(to_xml("service_requests", [{"description": nasty}]))
    assert root.findtext("request/description") == "Jalan rusak <b>&</b>  é"
    response = respond("json", "service_requests", [{"description": nasty}])
    assert response.body is not None
    assert json.loads(bytes(response.body))[0]["description"] == nasty  # type: ignore[arg-type]
    failed = error("xml", 404, "Tidak ditemukan.")
    assert failed.status == 404 and failed.content_type == "text/xml"


def test_media_tokens_are_signed() -> None:
    token = token_for(b"secret", 42)
    assert photo_id_of(b"secret", token) == 42
    assert photo_id_of(b"other", token) is None
    assert photo_id_of(b"secret", "43-" + token.split("-")[1]) is None
    assert photo_id_of(b"secret", "42") is None and photo_id_of(b"", token) is None
