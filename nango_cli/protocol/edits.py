"""`--set` / `--set-new` edits of a webhook body, checked against Nango's types."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any, NamedTuple

from nango_cli.errors import UsageError
from nango_cli.protocol.serialization import parse_json
from nango_cli.protocol.vocabulary import ANY_FIELDS, BODY_FIELDS


def parse_assignment(text: str, option: str = "--set") -> tuple[list[str], Any]:
    """`path.to.field=JSON` -> (["path", "to", "field"], value).

    The value is JSON when it parses as JSON (`5`, `null`, `{"a":1}`, `"5"`),
    otherwise the text itself as a string (so `--set connectionId=abc` works).
    """
    path_text, sep, value_text = text.partition("=")
    if not sep or not path_text.strip():
        raise UsageError(
            f"invalid {option} {text!r}",
            hint="use PATH=VALUE, e.g. --set responseResults.added=5 or --set checkpoints=null",
        )
    path = path_text.strip().split(".")
    if len(path) > MAX_PATH_DEPTH:
        raise UsageError(
            f"{option} path is {len(path)} levels deep",
            hint=f"a body's fields are at most {MAX_PATH_DEPTH} levels deep here",
        )
    if any(not part for part in path):
        raise UsageError(
            f"invalid path {path_text!r} in {option}", hint="e.g. responseResults.added"
        )
    try:
        value = parse_json(value_text)
    except ValueError:
        value = value_text
    return path, value


# Deeper than any Nango body; a path of thousands of levels would nest the body past
# what serializing it can take.
MAX_PATH_DEPTH = 64


class Edit(NamedTuple):
    """One `--set` (the path must be a field of the body's Nango type) or `--set-new`."""

    path: list[str]
    value: Any
    known_field: bool


def parse_edits(sets: Iterable[str], new_fields: Iterable[str] = ()) -> list[Edit]:
    edits = [Edit(*parse_assignment(text), True) for text in sets]
    edits += [Edit(*parse_assignment(text, "--set-new"), False) for text in new_fields]
    return edits


def apply_edits(body: Any, edits: Iterable[Edit]) -> Any:
    for edit in edits:
        if edit.known_field:
            check_known_path(body, edit.path)
        body = apply_assignment(body, edit.path, edit.value)
    return body


def check_known_path(body: Any, path: list[str], option: str = "--set") -> None:
    """Refuse a `--set` path that is not a field of the body's Nango type: a typo
    (`responseResult.added`) would otherwise add a field Nango never sends."""
    kind = body.get("type") if isinstance(body, dict) else None
    fields: object = BODY_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        return  # not a Nango type (a raw body of another shape): nothing to check against
    for depth, part in enumerate(path):
        if fields == ANY_FIELDS:
            return
        if not isinstance(fields, dict):
            raise UsageError(
                f"{option} {'.'.join(path)!r}: {'.'.join(path[:depth])} is a value in Nango's "
                "type, not an object",
                hint="to add a field Nango does not send, use --set-new PATH=JSON",
            )
        known = fields
        if part not in known:
            where = ".".join(path[:depth]) or f"a {kind} webhook"
            close = difflib.get_close_matches(part, list(known), n=1)
            suggestion = f"did you mean {'.'.join([*path[:depth], close[0]])!r}? " if close else ""
            raise UsageError(
                f"{option} {'.'.join(path)!r}: {part!r} is not a field of {where} "
                f"(fields: {', '.join(known) or 'none'})",
                hint=f"{suggestion}to add a field Nango does not send, use --set-new PATH=JSON",
            )
        fields = known[part]


def apply_assignment(body: Any, path: list[str], value: Any) -> Any:
    """Set `value` at `path` inside `body` (creating objects on the way); returns the body."""
    if not isinstance(body, dict):
        raise UsageError(
            "--set needs a JSON object body", hint="use --body with an object, or drop --set"
        )
    target: Any = body
    for depth, part in enumerate(path[:-1]):
        if isinstance(target, list):
            target = target[_list_index(target, part, path[: depth + 1])]
        elif isinstance(target, dict):
            nxt = target.get(part)
            if not isinstance(nxt, dict | list):
                nxt = {}
                target[part] = nxt
            target = nxt
    last = path[-1]
    if isinstance(target, list):
        target[_list_index(target, last, path)] = value
    else:
        target[last] = value
    return body


def _list_index(items: list[Any], part: str, path: list[str]) -> int:
    if not part.isdigit() or int(part) >= len(items):
        raise UsageError(
            f"--set path {'.'.join(path)!r}: {part!r} is not an index of that list",
            hint=f"the list has {len(items)} item(s); use 0..{max(len(items) - 1, 0)}",
        )
    return int(part)
