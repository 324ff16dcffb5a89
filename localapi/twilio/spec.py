"""Validation of Messages API calls against Twilio's OpenAPI description in ``<project root>/../shared/specs``.

The spec is reference data owned by another repository: it is located and read at run time, never copied
into the project. Without it only Twilio's own required-field rules (hard-coded in the server) apply.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localapi.specs import find_spec

SPEC_ENV = "SIKESAL_TWILIO_SPEC"
SPEC_FILE = "twilio-api-v2010.json"
MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"


def find_spec_path(explicit: Path | str | bool | None = None) -> Path | None:
    """Explicit path, else ``$SIKESAL_TWILIO_SPEC``, else ``<root>/../shared/specs``; False disables."""
    return find_spec(SPEC_FILE, SPEC_ENV, explicit)


@dataclass
class Operation:
    """The form parameters of one operation: name -> resolved JSON schema, and the required names."""

    operation_id: str
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    path_patterns: dict[str, str] = field(default_factory=dict)

    def validate(self, form: dict[str, list[str]], path_params: dict[str, str]) -> list[str]:
        """Problems with a request (unknown/missing parameters, wrong types or patterns)."""
        problems: list[str] = []
        for name, pattern in self.path_patterns.items():
            value = path_params.get(name, "")
            if not re.search(pattern, value):
                problems.append(f"{self.operation_id}: path parameter {name}={value!r} does not match {pattern}")
        for name in self.required:
            if not any(form.get(name, [])):
                problems.append(f"{self.operation_id}: required parameter {name} is missing")
        for name, values in form.items():
            schema = self.properties.get(name)
            if schema is None:
                problems.append(f"{self.operation_id}: unknown parameter {name}")
                continue
            if schema.get("type") != "array" and len(values) > 1:
                problems.append(f"{self.operation_id}: parameter {name} given {len(values)} times")
            item_schema = schema.get("items", {}) if schema.get("type") == "array" else schema
            for value in values:
                if problem := _check_value(item_schema, value):
                    problems.append(f"{self.operation_id}: parameter {name}: {problem}")
        return problems


def _check_value(schema: dict[str, Any], value: str) -> str | None:
    kind = schema.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return f"{value!r} is not an integer"
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return f"{value!r} is not a number"
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return f"{value!r} is not a boolean"
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']}"
    if (pattern := schema.get("pattern")) and not re.search(pattern, value):
        return f"{value!r} does not match {pattern}"
    if (max_len := schema.get("maxLength")) is not None and len(value) > max_len:
        return f"longer than {max_len}"
    if (min_len := schema.get("minLength")) is not None and len(value) < min_len:
        return f"shorter than {min_len}"
    return None


class TwilioSpec:
    """The parts of the Twilio OpenAPI document the local server checks against."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.operations: dict[str, Operation] = {}
        for path_item in document.get("paths", {}).values():
            for method, op in path_item.items():
                if isinstance(op, dict) and "operationId" in op and method in ("get", "post", "delete"):
                    self.operations[op["operationId"]] = self._operation(op)

    @classmethod
    def load(cls, path: Path) -> TwilioSpec:
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def _resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            node: Any = self.document
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def _operation(self, op: dict[str, Any]) -> Operation:
        content = op.get("requestBody", {}).get("content", {})
        body = self._resolve(content.get("application/x-www-form-urlencoded", {}).get("schema", {}))
        props = {name: self._resolve(s) for name, s in body.get("properties", {}).items()}
        for s in props.values():
            if "items" in s:
                s["items"] = self._resolve(s["items"])
        paths = {p["name"]: p["schema"]["pattern"] for p in op.get("parameters", [])
                 if p.get("in") == "path" and p.get("schema", {}).get("pattern")}
        return Operation(op["operationId"], props, tuple(body.get("required", ())), paths)

    def message_fields(self) -> tuple[str, ...]:
        """Property names of the Message resource (``api.v2010.account.message``)."""
        schema = self.document.get("components", {}).get("schemas", {}).get("api.v2010.account.message", {})
        return tuple(schema.get("properties", {}))
