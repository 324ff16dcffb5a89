"""JSON and XML bodies exactly as GeoReport v2 shows them.

Every answer is a plain structure first (dicts, lists, scalars), then serialised by the format the path
asked for (``.json`` or ``.xml``). XML names the repeated children after their list (``services`` ->
``service``; ``service_requests`` -> ``request``), as the spec's examples do; None is an empty element
(``<account_id/>``), booleans are ``true``/``false``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from xml.etree import ElementTree as ET

from aiohttp import web

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)

#: list element -> the tag of each of its items
ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
}


#: characters XML 1.0 cannot carry at all (control characters, lone surrogates): dropped from text
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _scalar(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return _NOT_XML.sub("", str(value))


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _fill(ET.SubElement(element, key), inner)
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        tag = ITEM_TAGS.get(element.tag, "item")
        for inner in value:
            _fill(ET.SubElement(element, tag), inner)
    else:
        element.text = _scalar(value)


def to_xml(root: str, value: Any) -> bytes:
    """``value`` under ``<root>`` (a list: one child per item, named by :data:`ITEM_TAGS`)."""
    element = ET.Element(root)
    _fill(element, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode").encode("utf-8")


def respond(fmt: str, root: str, value: Any, *, status: int = 200) -> web.Response:
    """``value`` as JSON (ASCII with escapes: a lone surrogate in stored text cannot break the encoding), or
    as XML under ``<root>``."""
    if fmt == XML:
        return web.Response(body=to_xml(root, value), status=status, content_type="text/xml", charset="utf-8")
    return web.Response(
        text=json.dumps(value), status=status, content_type="application/json", charset="utf-8"
    )


def error(fmt: str, status: int, description: str) -> web.Response:
    """The spec's error list: ``[{"code": 400, "description": "..."}]`` / ``<errors><error>...``."""
    return respond(fmt, "errors", [{"code": status, "description": description}], status=status)


def format_of_path(path: str) -> str:
    """The format a path asks for (JSON unless it ends in ``.xml``): errors before routing use it."""
    return XML if path.lower().endswith(".xml") else JSON


__all__ = ["FORMATS", "ITEM_TAGS", "JSON", "XML", "error", "format_of_path", "respond", "to_xml"]
