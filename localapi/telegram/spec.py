"""Validation of Bot API calls against the machine-readable spec in ``<project root>/../shared/specs``.

The project is also run against an independent Telegram implementation, so any call that the real API
would reject must fail here too. The spec file is reference data owned by another repository: it is
located and read at run time (never copied in); without it the server falls back to a small built-in
table that is only good enough to decode form-encoded parameters.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localapi.specs import find_spec

SPEC_ENV = "SIKESAL_TELEGRAM_SPEC"
SPEC_FILE = "telegram-bot-api.json"

# Parameter "kinds" decide how a form-encoded string is decoded.
INT, INT_OR_STR, BOOL, FLOAT, STR, FILE, JSON = "int", "int_or_str", "bool", "float", "str", "file", "json"

_FALLBACK_KINDS: dict[str, str] = {
    **dict.fromkeys(
        ("message_id", "offset", "limit", "timeout", "user_id", "reply_to_message_id", "cache_time",
         "max_connections", "live_period", "heading", "proximity_alert_radius", "duration", "width",
         "height", "message_thread_id", "until_date", "length"), INT),
    **dict.fromkeys(("chat_id", "from_chat_id"), INT_OR_STR),
    **dict.fromkeys(
        ("show_alert", "disable_notification", "protect_content", "drop_pending_updates",
         "allow_sending_without_reply", "disable_web_page_preview", "has_spoiler", "show_caption_above_media",
         "only_if_banned", "revoke_messages", "is_anonymous", "allows_multiple_answers", "remove_caption",
         "disable_content_type_detection", "supports_streaming"), BOOL),
    **dict.fromkeys(("latitude", "longitude", "horizontal_accuracy"), FLOAT),
    **dict.fromkeys(
        ("reply_markup", "entities", "caption_entities", "media", "reply_parameters", "link_preview_options",
         "commands", "scope", "allowed_updates", "message_ids", "options", "permissions"), JSON),
    **dict.fromkeys(
        ("photo", "document", "audio", "video", "voice", "sticker", "animation", "video_note", "thumbnail",
         "certificate"), FILE),
}

_MISSING_DESCRIPTIONS: dict[str, str] = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
    "message_id": "message identifier is not specified",
    "user_id": "invalid user_id specified",
    "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
    "media": "parameter \"media\" is required",
    "latitude": "latitude is empty",
    "longitude": "longitude is empty",
}
_FILE_FIELDS = ("photo", "document", "audio", "video", "voice", "sticker", "animation", "video_note")
_MUST_BE_RE = re.compile(r"must be (\w+)")


def missing_description(field_name: str) -> str:
    """Telegram's wording (after "Bad Request: ") for a missing required parameter."""
    if field_name in _FILE_FIELDS:
        return f"there is no {field_name.replace('_', ' ')} in the request"
    return _MISSING_DESCRIPTIONS.get(field_name, f"{field_name} is empty")


def kind_for_types(types: tuple[str, ...]) -> str:
    """Map spec type names of a parameter to the decoding kind."""
    kinds = set(types)
    if kinds == {"Integer"}:
        return INT
    if kinds == {"Integer", "String"}:
        return INT_OR_STR
    if kinds == {"Boolean"}:
        return BOOL
    if kinds <= {"Float", "Integer"}:
        return FLOAT
    if kinds == {"String"}:
        return STR
    if "InputFile" in kinds:
        return FILE
    return JSON


@dataclass(frozen=True)
class FieldSpec:
    """One parameter of a method or field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool
    description: str = ""


@dataclass(frozen=True)
class MethodSpec:
    """A Bot API method: its parameters and return types."""

    name: str
    fields: dict[str, FieldSpec]
    returns: tuple[str, ...]


@dataclass(frozen=True)
class TypeSpec:
    """A Bot API object type; abstract types list their ``subtypes``."""

    name: str
    fields: dict[str, FieldSpec]
    subtypes: tuple[str, ...] = ()
    discriminator: str | None = None  # the value its "type"/"source"/"status" field must have


def _fields(raw: list[dict[str, Any]]) -> dict[str, FieldSpec]:
    return {
        f["name"]: FieldSpec(f["name"], tuple(f.get("types", ())), bool(f.get("required")), f.get("description", ""))
        for f in raw
    }


@dataclass
class Validation:
    """Result of checking one call: decoded params plus everything that did not match the spec."""

    params: dict[str, Any]
    violations: list[str] = field(default_factory=list)  # Telegram would reject these (-> 400)
    warnings: list[str] = field(default_factory=list)  # Telegram ignores these (unknown parameters)
    error: str | None = None  # the 400 description for the first violation


class ApiSpec:
    """The loaded spec, indexed by lower-cased method name (Telegram method names are case-insensitive)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.version: str = str(data.get("version", "unknown"))
        self.methods: dict[str, MethodSpec] = {}
        for name, raw in data.get("methods", {}).items():
            self.methods[name.lower()] = MethodSpec(
                name=raw.get("name", name), fields=_fields(raw.get("fields", [])), returns=tuple(raw.get("returns", ()))
            )
        self.types: dict[str, TypeSpec] = {}
        for name, raw in data.get("types", {}).items():
            fields = _fields(raw.get("fields", []))
            discriminator = None
            for key in ("type", "source", "status"):
                if key in fields and (match := _MUST_BE_RE.search(fields[key].description)):
                    discriminator = match.group(1)
                    break
            self.types[name] = TypeSpec(name, fields, tuple(raw.get("subtypes", ())), discriminator)

    @classmethod
    def load(cls, path: Path) -> ApiSpec:
        """Read and index the spec file (cached per path and modification time)."""
        return _load_cached(str(path), path.stat().st_mtime_ns)

    def method(self, name: str) -> MethodSpec | None:
        """Look up a method case-insensitively."""
        return self.methods.get(name.lower())

    # -- type checks -------------------------------------------------------------------------------------------

    def check_value(self, types: tuple[str, ...], value: Any, where: str,
                    unknown: list[str] | None = None) -> list[str]:
        """Return the problems of ``value`` against the best-matching of ``types`` (empty list = valid).

        Field names the matching type does not define are appended to ``unknown`` (Telegram ignores them).
        """
        best: tuple[list[str], list[str]] | None = None
        for type_name in types:
            extra: list[str] = []
            problems = self._check_one(type_name, value, where, extra)
            if best is None or len(problems) < len(best[0]) or (
                len(problems) == len(best[0]) and len(extra) < len(best[1])
            ):
                best = (problems, extra)
            if not problems and not extra:
                break
        if best is None:
            return []
        if unknown is not None:
            unknown += best[1]
        return best[0]

    def _check_one(self, type_name: str, value: Any, where: str, unknown: list[str]) -> list[str]:
        if type_name.startswith("Array of "):
            if not isinstance(value, list):
                return [f'field "{where}" must be an Array']
            inner = type_name.removeprefix("Array of ")
            problems: list[str] = []
            for index, item in enumerate(value):
                problems += self._check_one(inner, item, f"{where}[{index}]", unknown)
            return problems
        if type_name == "Integer":
            ok = (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, str) and re.fullmatch(r"-?\d+", value) is not None
            )
            return [] if ok else [f'field "{where}" must be of type Integer']
        if type_name == "Float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return [] if ok else [f'field "{where}" must be of type Float']
        if type_name == "Boolean":
            return [] if isinstance(value, bool) else [f'field "{where}" must be of type Boolean']
        if type_name == "String":
            ok = isinstance(value, str | int | float) and not isinstance(value, bool)
            return [] if ok else [f'field "{where}" must be of type String']
        if type_name == "InputFile":
            return [] if isinstance(value, str | bytes) or hasattr(value, "data") else [
                f'field "{where}" must be of type InputFile'
            ]
        spec = self.types.get(type_name)
        if spec is None:
            return []
        if spec.subtypes:
            return self.check_value(spec.subtypes, value, where, unknown)
        if not isinstance(value, dict):
            return [f'field "{where}" must be an Object of type {type_name}']
        problems = []
        for name, fspec in spec.fields.items():
            if name not in value or value[name] is None:
                if fspec.required:
                    problems.append(f'field "{where}.{name}" of type {type_name} is required')
                continue
            problems += self.check_value(fspec.types, value[name], f"{where}.{name}", unknown)
        if spec.discriminator is not None:
            for key in ("type", "source", "status"):
                if key in spec.fields and key in value and value[key] != spec.discriminator:
                    problems.append(f'field "{where}.{key}" must be "{spec.discriminator}" for {type_name}')
        unknown += [f"{where}.{key}" for key in value if key not in spec.fields]
        return problems


@functools.lru_cache(maxsize=4)
def _load_cached(path: str, _mtime: int) -> ApiSpec:
    with open(path, encoding="utf-8") as fh:
        return ApiSpec(json.load(fh))


def find_spec_path(explicit: Path | str | bool | None = None) -> Path | None:
    """Explicit path, else ``$SIKESAL_TELEGRAM_SPEC``, else ``<root>/../shared/specs``; False disables."""
    return find_spec(SPEC_FILE, SPEC_ENV, explicit)


def _decode(kind: str, value: str) -> Any:
    """Decode one form-encoded string; raises ValueError when it is not of the kind."""
    if kind == INT:
        return int(value)
    if kind == INT_OR_STR:
        return int(value) if re.fullmatch(r"-?\d+", value.strip()) else value
    if kind == BOOL:
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0", ""):
            return False
        raise ValueError(value)
    if kind == FLOAT:
        return float(value)
    if kind == JSON:
        return json.loads(value)
    return value


class Validator:
    """Decodes and checks the parameters of each call; works with or without a spec file."""

    def __init__(self, spec: ApiSpec | None) -> None:
        self.spec = spec

    def kind(self, method: str, name: str) -> str:
        """Decoding kind of a parameter, from the spec when loaded."""
        if self.spec is not None and (mspec := self.spec.method(method)) and name in mspec.fields:
            return kind_for_types(mspec.fields[name].types)
        return _FALLBACK_KINDS.get(name, STR)

    def validate(self, method: str, raw: dict[str, Any], uploads: set[str]) -> Validation:
        """Decode string values by parameter kind and check required/typed parameters.

        ``uploads`` are names of multipart file parts; a part named like a parameter is that parameter.
        """
        result = Validation(params={})
        for name, value in raw.items():
            kind = self.kind(method, name)
            if isinstance(value, str) and kind not in (STR, FILE):
                try:
                    value = _decode(kind, value)
                except ValueError:
                    problem = f'{method}: can\'t parse parameter "{name}" as {kind}: {value[:50]!r}'
                    result.violations.append(problem)
                    reason = "can't parse JSON object" if kind == JSON else f'field "{name}" must be of type {kind}'
                    result.error = result.error or f"{reason}"
                    continue
            result.params[name] = value
        if self.spec is None:
            return result
        mspec = self.spec.method(method)
        if mspec is None:
            return result
        for name in result.params:
            if name not in mspec.fields and name not in uploads:
                result.warnings.append(f"{mspec.name}: unknown parameter {name!r} (ignored)")
        for name, fspec in mspec.fields.items():
            value = result.params.get(name)
            if value is None or value == "":
                if fspec.required:
                    result.violations.append(f"{mspec.name}: missing required parameter {name!r}")
                    result.error = result.error or missing_description(name)
                continue
            unknown: list[str] = []
            problems = self.spec.check_value(fspec.types, value, name, unknown)
            if problems:
                result.violations += [f"{mspec.name}: {problem}" for problem in problems]
                result.error = result.error or problems[0]
            result.warnings += [f"{mspec.name}: unknown field {path!r} (ignored)" for path in unknown]
        return result
