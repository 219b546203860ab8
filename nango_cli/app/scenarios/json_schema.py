"""The scenario file format as a JSON Schema (`nango-hooks scenario schema`), made from
the tables the validator uses (schema.py), so the two never disagree."""

from __future__ import annotations

from typing import Any

from nango_cli.app.scenarios.model import STEP_KINDS
from nango_cli.app.scenarios.schema import (
    COMMON,
    DURATION_TEXT,
    MAX_DURATION_S,
    OPTIONS,
    STATUS_TEXT,
    TOP,
    VALUES,
)
from nango_cli.protocol.bodies import MAX_ANNOUNCED


def _json_schema(kind: Any) -> dict[str, Any]:
    if isinstance(kind, tuple):
        return {"enum": list(kind)}
    if isinstance(kind, list):
        return {"anyOf": [_json_schema(k) for k in kind]}
    if isinstance(kind, dict):
        return {
            "type": "object",
            "properties": {k: _json_schema(v) for k, v in kind.items()},
            "additionalProperties": False,
        }
    duration = {
        "anyOf": [
            {"type": "number", "minimum": 0, "maximum": MAX_DURATION_S},
            {"type": "string", "pattern": DURATION_TEXT},
        ]
    }
    schemas: dict[str, dict[str, Any]] = {
        "string": {"type": "string"},
        "null": {"type": "null"},
        "integer": {"type": "integer"},
        "boolean": {"type": "boolean"},
        "duration": duration,
        "status": {
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": STATUS_TEXT},
            ]
        },
        "count": {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": MAX_ANNOUNCED},
                {
                    "type": "object",
                    "additionalProperties": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": MAX_ANNOUNCED,
                    },
                },
            ]
        },
        "object": {"type": "object"},
        "any": {},
        "string_map": {"type": "object", "additionalProperties": {"type": "string"}},
        "string_list": {"type": "array", "items": {"type": "string"}},
        "calls": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {k: {"type": "string"} for k in ("method", "path", "body_contains")},
                "additionalProperties": False,
            },
        },
    }
    return schemas[kind]


def json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of scenario files, version 1."""
    steps = []
    for kind in STEP_KINDS:
        properties = {kind: _json_schema(VALUES[kind])}
        properties.update({k: _json_schema(v) for k, v in {**COMMON, **OPTIONS[kind]}.items()})
        steps.append(
            {
                "title": f"a {kind} step",
                "type": "object",
                "required": [kind],
                "properties": properties,
                "additionalProperties": False,
            }
        )
    top = {k: _json_schema(v) for k, v in TOP.items() if v != "steps"}
    top["steps"] = {"type": "array", "minItems": 1, "items": {"oneOf": steps}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "nango-hooks scenario, version 1",
        "type": "object",
        "required": ["version", "steps"],
        "properties": top,
        "additionalProperties": False,
    }
