"""Check a received body against Nango's webhook types (docs/protocol.md, Bodies).

Returns notes, never raises: an unknown `type` is information (Nango adds types
without notice and receivers must ignore them), a missing or mistyped field is a
problem, a deprecated field is a warning.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from nango_cli.protocol.serialization import parse_json
from nango_cli.protocol.vocabulary import AUTH_MODES, AUTH_OPERATIONS, SYNC_TYPES, WEBHOOK_TYPES

KNOWN_TYPES = WEBHOOK_TYPES


@dataclass(frozen=True)
class Note:
    level: str  # "info" | "warning" | "problem"
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"level": self.level, "text": self.text}


_STR, _BOOL, _OBJ = (str,), (bool,), (dict,)


def _kind(value: Any) -> str:
    return {str: "string", bool: "boolean", dict: "object", list: "array", type(None): "null"}.get(
        type(value), "number"
    )


def _require(body: dict[str, Any], spec: dict[str, tuple[type, ...]], notes: list[Note]) -> None:
    for name, types in spec.items():
        if name not in body:
            notes.append(Note("problem", f"missing field {name}"))
        elif not isinstance(body[name], types) or (
            bool not in types and isinstance(body[name], bool)
        ):
            expected = " or ".join(_kind(t()) if t is not type(None) else "null" for t in types)
            notes.append(Note("problem", f"{name} should be {expected}, got {_kind(body[name])}"))


def _one_of(body: dict[str, Any], name: str, allowed: tuple[str, ...], notes: list[Note]) -> None:
    value = body.get(name)
    if isinstance(value, str) and value not in allowed:
        notes.append(Note("warning", f"{name} {value!r} is not one Nango sends"))


def _check_sync(body: dict[str, Any], notes: list[Note]) -> None:
    _require(
        body,
        {
            "connectionId": _STR,
            "providerConfigKey": _STR,
            "syncName": _STR,
            "model": _STR,
            "success": _BOOL,
        },
        notes,
    )
    _one_of(body, "syncType", SYNC_TYPES, notes)
    if "syncType" in body:
        notes.append(Note("warning", "syncType is deprecated"))
    if body.get("success") is False:
        _require(body, {"error": _OBJ, "startedAt": _STR, "failedAt": _STR}, notes)
        return
    _require(body, {"modifiedAfter": _STR, "responseResults": _OBJ}, notes)
    if "queryTimeStamp" in body:
        notes.append(Note("warning", "queryTimeStamp is deprecated (use modifiedAfter)"))
    results = body.get("responseResults")
    if isinstance(results, dict):
        if results and all(isinstance(v, dict) for v in results.values()):
            notes.append(
                Note(
                    "warning",
                    "responseResults keyed by model: the old documented form, "
                    "Nango sends {added, updated, deleted}",
                )
            )
            return
        for count in ("added", "updated", "deleted"):
            value = results.get(count)
            if not isinstance(value, int) or isinstance(value, bool):
                notes.append(Note("problem", f"responseResults.{count} should be an integer"))


def _check_auth(body: dict[str, Any], notes: list[Note]) -> None:
    _require(
        body,
        {
            "connectionId": _STR,
            "providerConfigKey": _STR,
            "authMode": _STR,
            "provider": _STR,
            "environment": _STR,
            "operation": _STR,
            "success": _BOOL,
        },
        notes,
    )
    _one_of(body, "authMode", AUTH_MODES, notes)
    _one_of(body, "operation", AUTH_OPERATIONS, notes)
    if body.get("success") is False:
        _require(body, {"error": _OBJ}, notes)


def _check_forward(body: dict[str, Any], notes: list[Note]) -> None:
    _require(body, {"providerConfigKey": _STR, "connectionId": _STR}, notes)
    if "payload" not in body:
        notes.append(Note("problem", "missing field payload"))


def _check_async(body: dict[str, Any], notes: list[Note]) -> None:
    _require(body, {"connectionId": _STR, "providerConfigKey": _STR, "payload": _OBJ}, notes)
    payload = body.get("payload")
    if isinstance(payload, dict):
        _require(payload, {"id": _STR, "statusUrl": _STR}, notes)


_CHECKS = {
    "sync": _check_sync,
    "auth": _check_auth,
    "forward": _check_forward,
    "async_action": _check_async,
}


def parse(body: bytes) -> tuple[Any, str | None]:
    """(parsed JSON, None) or (None, why it is not JSON)."""
    try:
        # The plain parser first: it is the common case and the fastest. Only what it
        # refuses goes through the careful one (huge integer literals parse there).
        return json.loads(body), None
    except UnicodeDecodeError:
        return None, "body is not UTF-8"
    except RecursionError:
        return None, "body is nested too deeply to parse"
    except ValueError:
        pass
    try:
        return parse_json(body), None
    except (ValueError, UnicodeDecodeError):
        return None, "body is not JSON"


def fields(body: bytes) -> dict[str, Any]:
    """The body as a JSON object, or {} when it is not one."""
    parsed, problem = parse(body)
    return parsed if problem is None and isinstance(parsed, dict) else {}


def check(body: bytes) -> tuple[dict[str, Any], list[Note]]:
    """(the body as an object, or {}; notes)."""
    parsed, problem = parse(body)
    if problem:
        return {}, [Note("problem", problem)]
    if not isinstance(parsed, dict):
        return {}, [Note("problem", f"body is a JSON {_kind(parsed)}, not an object")]
    notes: list[Note] = []
    kind = parsed.get("type")
    if not isinstance(kind, str):
        notes.append(Note("problem", "missing field type"))
        return parsed, notes
    if kind not in KNOWN_TYPES:
        notes.append(Note("info", f"unknown type {kind!r}: receivers should accept and ignore it"))
        return parsed, notes
    if kind != "forward" and parsed.get("from") != "nango":
        notes.append(Note("warning", 'from should be "nango"'))
    _CHECKS[kind](parsed, notes)
    return parsed, notes
