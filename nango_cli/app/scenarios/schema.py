"""The scenario file format, version 1: one table of keys per place, used both to
validate a file (each problem with its path, for a line and column) and to print the
JSON Schema (`nango-hooks scenario schema`). docs/scenarios.md documents every key.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from nango_cli.app.scenarios.model import (
    SIGN_MODES,
    STEP_KINDS,
    Expect,
    Fault,
    Fetched,
    Scenario,
    Step,
)
from nango_cli.app.scenarios.refs import RefError, check_reference, references
from nango_cli.protocol.bodies import MAX_ANNOUNCED
from nango_cli.protocol.vocabulary import FIREABLE_AUTH_OPERATIONS, HOP_BY_HOP

Path = tuple[str | int, ...]
MAX_STEPS = 10_000
MAX_FAULT_LATENCY_S = 600.0


class SchemaError(ValueError):
    """A problem in a scenario file, at `path` (keys and list indexes)."""

    def __init__(self, message: str, path: Path, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = path
        self.hint = hint


# ---------------------------------------------------------------- the tables
# A type is a name ("string", "integer", "boolean", "duration", "status", "count",
# "object", "any", "string_map", "string_list", "sign"), a tuple of allowed values,
# a list of types (any of them), or a dict of keys (an object with exactly those).

DURATION_TEXT = r"^\s*\d+(\.\d+)?\s*(ms|s|m|h)?\s*$"
STATUS_TEXT = r"^([1-5]xx|[1-5][0-9][0-9])$"

TOP: dict[str, Any] = {
    "version": (1,),
    "name": "string",
    "description": "string",
    "integration": "string",
    "connection": "string",
    "sync": "string",
    "steps": "steps",
}
COMMON: dict[str, Any] = {
    "name": "string",
    "description": "string",
    "connection": "string",
    "integration": "string",
    "expect": {
        "status": "status",
        "fetched": ["boolean", {"all_pages": "boolean", "within": "duration"}],
        "state": "string",
        "within": "duration",
        "body_contains": "string",
        "called": "calls",
    },
}
SIGN = tuple(SIGN_MODES)
VALUES: dict[str, Any] = {
    "sync": ["string", "null", (True,)],
    "auth": tuple(FIREABLE_AUTH_OPERATIONS),
    "forward": "object",
    "async_action": "any",
    "body": ["object", "string"],
    "duplicate": "string",
    "call": {"method": "string", "path": "string", "body": "any", "headers": "string_map"},
    "api_fault": {
        "status": "integer",
        "times": "integer",
        "latency": "duration",
        "short_pages": ["boolean", "integer"],
        "clear": "boolean",
    },
    "wait": "duration",
}
OPTIONS: dict[str, dict[str, Any]] = {
    "sync": {
        "models": "string_list",
        "added": "count",
        "updated": "count",
        "deleted": "count",
        "initial": "boolean",
        "failed": "boolean",
        "error_message": "string",
        "modified_after": "string",
        "variant": "string",
        "seed": "integer",
        "set": "object",
        "sign": SIGN,
        "retry": "boolean",
    },
    "auth": {
        "failed": "boolean",
        "error_message": "string",
        "provider": "string",
        "auth_mode": "string",
        "end_user": "boolean",
        "end_user_id": "string",
        "end_user_email": "string",
        "organization_id": "string",
        "tags": "string_map",
        "set": "object",
        "sign": SIGN,
        "retry": "boolean",
    },
    "forward": {
        "provider": "string",
        "unmatched": "boolean",
        "headers": "string_map",
        "set": "object",
        "sign": SIGN,
        "retry": "boolean",
    },
    "async_action": {"action_id": "string", "set": "object", "sign": SIGN, "retry": "boolean"},
    "body": {"sign": SIGN, "retry": "boolean"},
    "duplicate": {"retry": "boolean"},
    "call": {},
    "api_fault": {},
    "wait": {},
}


# ---------------------------------------------------------------- validating


def _type_name(kind: Any) -> str:
    if isinstance(kind, tuple):
        return " or ".join(repr(v).lower() if isinstance(v, bool) else repr(v) for v in kind)
    if isinstance(kind, list):
        return " or ".join(_type_name(k) for k in kind)
    if isinstance(kind, dict):
        return "an object"
    return {
        "string": "text",
        "integer": "a whole number",
        "boolean": "true or false",
        "duration": "a duration from 0 to 1h (5s, 500ms, 2m)",
        "status": "a status: 2xx, 4xx, 5xx or a code such as 201",
        "count": f"a count up to {MAX_ANNOUNCED:,}, or counts by model ({{Ticket: 3}})",
        "object": "an object",
        "any": "any value",
        "string_map": "an object of texts",
        "string_list": "a list of texts",
        "calls": "a list of calls ({method, path, body_contains})",
        "null": "null",
        "steps": "a list of steps",
    }[kind]


# The longest a `wait` or a `within` may be: a scenario is a test, not a daemon.
MAX_DURATION_S = 3600.0


def _duration_seconds(value: Any) -> float | None:
    """Seconds of a duration the file may give (finite, 0 to an hour), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str) and re.match(DURATION_TEXT, value) is None:
        return None
    from nango_cli.support.timefmt import parse_duration

    try:
        seconds = parse_duration(value)
    except (ValueError, OverflowError):
        return None
    return seconds if seconds <= MAX_DURATION_S else None


def _matches(value: Any, kind: Any, path: Path) -> bool:
    """Whether `value` has type `kind` (nested objects are checked, raising)."""
    if isinstance(kind, tuple):
        return any(value == v and type(value) is type(v) for v in kind)
    if isinstance(kind, list):
        for option in kind:
            if isinstance(option, dict) and isinstance(value, dict):
                _object(value, option, path)
                return True
            if not isinstance(option, dict) and _matches(value, option, path):
                return True
        return False
    if isinstance(kind, dict):
        if not isinstance(value, dict):
            return False
        _object(value, kind, path)
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "null":
        return value is None
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "duration":
        return _duration_seconds(value) is not None
    if kind == "status":
        if isinstance(value, int) and not isinstance(value, bool):
            return 100 <= value <= 599
        return isinstance(value, str) and re.match(STATUS_TEXT, value) is not None
    if kind == "count":
        if isinstance(value, int) and not isinstance(value, bool):
            return 0 <= value <= MAX_ANNOUNCED
        return isinstance(value, dict) and all(
            isinstance(k, str)
            and isinstance(v, int)
            and not isinstance(v, bool)
            and 0 <= v <= MAX_ANNOUNCED
            for k, v in value.items()
        )
    if kind == "object":
        return isinstance(value, dict)
    if kind == "any":
        return True
    if kind == "string_map":
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    if kind == "string_list":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "calls":
        call = {"method": "string", "path": "string", "body_contains": "string"}
        return isinstance(value, list) and all(_matches(v, call, path) for v in value)
    raise AssertionError(kind)


def _unknown(key: Any, known: list[str], path: Path, where: str) -> SchemaError:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"{where}: {', '.join(known)}"
    return SchemaError(f"unknown key {key!r}", (*path, str(key)), hint)


def _value(value: Any, kind: Any, path: Path) -> None:
    if not _matches(value, kind, path):
        raise SchemaError(f"{path[-1]} must be {_type_name(kind)}", path)


def _object(value: dict[str, Any], keys: dict[str, Any], path: Path) -> None:
    for key, item in value.items():
        if key not in keys:
            raise _unknown(key, list(keys), path, "keys")
        _value(item, keys[key], (*path, key))


# ---------------------------------------------------------------- building


def scenario_from(data: Any, source: str | None = None) -> Scenario:
    """A validated Scenario from a parsed file (SchemaError on the first problem)."""
    if not isinstance(data, dict):
        raise SchemaError("a scenario is an object with version, name and steps", ())
    for key in data:
        if key not in TOP:
            raise _unknown(key, list(TOP), (), "top-level keys")
    for required in ("version", "steps"):
        if required not in data:
            raise SchemaError(
                f"missing {required!r}", (), "a scenario starts with `version: 1` and has steps"
            )
    for key, kind in TOP.items():
        if key in data and kind != "steps":
            _value(data[key], kind, (key,))
    raw_steps = data["steps"]
    if not isinstance(raw_steps, list) or not raw_steps:
        raise SchemaError("steps must be a non-empty list of steps", ("steps",))
    if len(raw_steps) > MAX_STEPS:
        raise SchemaError(f"more than {MAX_STEPS} steps", ("steps",))
    steps: list[Step] = []
    for index, raw in enumerate(raw_steps):
        steps.append(_step(raw, ("steps", index), steps))
    name = data.get("name") or (source or "scenario")
    return Scenario(
        name=str(name),
        steps=steps,
        integration=data.get("integration"),
        connection=data.get("connection"),
        sync=data.get("sync"),
        description=data.get("description"),
        source=source,
    )


def _step(raw: Any, path: Path, before: list[Step]) -> Step:
    earlier = [s.name for s in before]
    # What a `duplicate` or a reference can name: the earlier steps that send webhooks.
    sending = [s.name for s in before if s.kind not in ("wait", "api_fault")]
    silent = tuple(name for name in earlier if name not in sending)
    if not isinstance(raw, dict):
        raise SchemaError(
            "a step is an object with one of: " + ", ".join(STEP_KINDS),
            path,
            "e.g. `- sync: github-tickets`",
        )
    kinds = [k for k in raw if k in STEP_KINDS]
    if len(kinds) != 1:
        what = "several kinds: " + ", ".join(kinds) if kinds else "no kind"
        raise SchemaError(
            f"a step has exactly one of {', '.join(STEP_KINDS)} ({what})",
            path,
            "split it into one step per webhook" if kinds else None,
        )
    kind = kinds[0]
    allowed = {**COMMON, **OPTIONS[kind]}
    for key, item in raw.items():
        if key == kind:
            continue
        if key not in allowed:
            raise _unknown(key, [kind, *allowed], path, f"keys of a {kind} step")
        _value(item, allowed[key], (*path, key))
    _value(raw[kind], VALUES[kind], (*path, kind))
    name = str(raw.get("name") or f"{len(earlier) + 1}. {kind}")
    if name in earlier:
        raise SchemaError(f"two steps are named {name!r}", (*path, "name"))
    # A `body` step's bytes come from a file: a reference does not read into them (a
    # scenario would otherwise carry a field of any file into a URL or a webhook).
    raw_steps = {s.name for s in before if s.kind == "body"}
    last_sending = next((s for s in reversed(before) if s.name in sending), None)
    if last_sending is not None and last_sending.kind == "body":
        raw_steps.add("previous")
    for text in references({k: v for k, v in raw.items() if k != "name"}):
        try:
            check_reference(text, sending, silent)
        except RefError as exc:
            raise SchemaError(str(exc), path) from None
        parts = text.split(".")
        named = parts[1] if parts[0] == "steps" else parts[0]
        rest = parts[2:] if parts[0] == "steps" else parts[1:]
        if named in raw_steps and rest[:1] == ["body"]:
            raise SchemaError(
                f"${{{text}}}: reads into the bytes of body step {named!r}",
                path,
                "a reference reads what nango-hooks built (sync, auth, forward, async_action "
                "bodies), or any step's connection, integration, status or webhook_id",
            )
    if kind == "duplicate" and raw[kind] == "previous" and not sending:
        raise SchemaError(
            "duplicate: previous, but no step before this one sent a webhook",
            (*path, kind),
            "put the step to resend first",
        )
    if kind == "duplicate" and raw[kind] in silent:
        raise SchemaError(
            f"duplicate: step {raw[kind]!r} sends no webhook to resend",
            (*path, kind),
            "name a step that sends (sync, auth, forward, async_action, body, duplicate)",
        )
    if kind == "duplicate" and raw[kind] != "previous" and raw[kind] not in earlier:
        close = difflib.get_close_matches(str(raw[kind]), earlier, n=1)
        raise SchemaError(
            f"duplicate: {raw[kind]!r} is not an earlier step",
            (*path, kind),
            f"did you mean {close[0]!r}?"
            if close
            else "write `previous` or an earlier step's name",
        )
    if kind == "api_fault":
        _fault(raw[kind], (*path, kind))
    if kind == "call":
        _call(raw[kind], (*path, kind))
    for header in raw.get("headers") or {}:
        if str(header).strip().lower() in HOP_BY_HOP:
            raise SchemaError(
                f"header {header} describes one hop of a request, not the webhook",
                (*path, "headers", str(header)),
                "nango-hooks frames each request itself (Content-Length); drop it",
            )
    options = {k: v for k, v in raw.items() if k in OPTIONS[kind]}
    for key in ("connection", "integration"):
        if key in raw:
            options[key] = raw[key]
    expect_raw = raw.get("expect") or {}
    return Step(
        kind=kind,
        name=name,
        value=raw[kind],
        options=options,
        expect=_expect(expect_raw),
        explicit_status="status" in expect_raw,
    )


def _fault(value: dict[str, Any], path: Path) -> Fault:
    if not any(k in value for k in ("status", "latency", "short_pages", "clear")):
        raise SchemaError(
            "api_fault needs status, latency, short_pages or clear",
            path,
            "e.g. {status: 500, times: 1}",
        )
    status = value.get("status")
    if status is not None and not 400 <= status <= 599:
        raise SchemaError("status must be an HTTP error status, 400 to 599", (*path, "status"))
    times = value.get("times", 1)
    if not 0 <= times <= 10_000:
        raise SchemaError("times must be from 0 to 10000", (*path, "times"))
    latency = value.get("latency")
    if latency is not None and (_duration_seconds(latency) or 0) > MAX_FAULT_LATENCY_S:
        raise SchemaError(
            f"latency is at most {MAX_FAULT_LATENCY_S:g}s (what the API's fault endpoint takes)",
            (*path, "latency"),
        )
    short = value.get("short_pages")
    if short is not None and not isinstance(short, bool) and not 1 <= short <= 10_000:
        raise SchemaError(
            "short_pages is true (a third of limit) or the most records a page holds, 1 to 10000",
            (*path, "short_pages"),
        )
    from nango_cli.support.timefmt import parse_duration

    return Fault(
        status=status,
        latency=parse_duration(latency) if latency is not None else None,
        short_pages=value.get("short_pages"),
        times=times,
        clear=bool(value.get("clear")),
    )


CALL_METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")


def _call(value: dict[str, Any], path: Path) -> None:
    """A call stays on the API stand-in: a method, and a path on it (no scheme, no
    host, not its internal endpoints)."""
    method = value.get("method")
    if not isinstance(method, str) or method.upper() not in CALL_METHODS:
        raise SchemaError(
            "call needs a method: " + ", ".join(CALL_METHODS),
            (*path, "method"),
            "e.g. {method: POST, path: /sync/trigger, body: {...}}",
        )
    target = value.get("path")
    if (
        not isinstance(target, str)
        or not target.startswith("/")
        or target.startswith("//")
        or "://" in target
        or target.split("?")[0].startswith("/_nango-hooks")
    ):
        raise SchemaError(
            "call needs a path on the API stand-in, starting with /",
            (*path, "path"),
            "e.g. /sync/trigger or /connections/${scenario.connection}?provider_config_key=K",
        )


def fault_of(step: Step) -> Fault:
    return _fault(step.value, ())


def _expect(raw: dict[str, Any]) -> Expect:
    from nango_cli.support.timefmt import parse_duration

    fetched_raw = raw.get("fetched")
    fetched = None
    if fetched_raw is True:
        fetched = Fetched()
    elif isinstance(fetched_raw, dict):
        fetched = Fetched(
            all_pages=bool(fetched_raw.get("all_pages")),
            within=parse_duration(fetched_raw.get("within", 5)),
        )
    status = raw.get("status")
    within = raw.get("within")
    return Expect(
        status=str(status) if status is not None else None,
        fetched=fetched,
        state=raw.get("state"),
        within=parse_duration(within) if within is not None else None,
        body_contains=raw.get("body_contains"),
        called=raw.get("called"),
    )


def check_resolved(step: Step, options: dict[str, Any], value: Any) -> None:
    """A step's options and value once its references are resolved: the same types and
    bounds as in the file (a reference may name a value of another type)."""
    allowed = {**COMMON, **OPTIONS[step.kind]}
    for key, item in options.items():
        if key in allowed:
            _value(item, allowed[key], (key,))
    _value(value, VALUES[step.kind], (step.kind,))
