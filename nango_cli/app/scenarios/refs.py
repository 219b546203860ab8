"""References between steps, in the style of Stripe's fixtures: `${steps.NAME.FIELD}`,
`${previous.FIELD}` (the last step that sent webhooks) and `${scenario.FIELD}`.

FIELD is `connection`, `integration`, `status`, `webhook_id`, or `body.PATH` (a path
into the step's first webhook body: `body.modifiedAfter`, `body.responseResults.added`,
`body.models.0`). A string that is one reference takes the value's own type; a
reference inside a longer string is replaced by its text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

# `${…}` is a reference; `$${` is a literal `${` (what `scenario record` writes for
# text that held one, so received data never becomes a reference).
PATTERN = re.compile(r"(?<!\$)\$\{([^${}]*)\}")
ESCAPED = "$${"
_TOKEN = re.compile(r"\$\$\{|\$\{([^${}]*)\}")
FIELDS = ("connection", "integration", "status", "webhook_id", "body")


class RefError(ValueError):
    pass


def references(value: Any) -> list[str]:
    """Every reference in `value` (strings, nested in lists and objects)."""
    if isinstance(value, str):
        return [m.group(1).strip() for m in PATTERN.finditer(value)]
    if isinstance(value, dict):
        return [r for key, item in value.items() for r in references(key) + references(item)]
    if isinstance(value, list):
        return [r for item in value for r in references(item)]
    return []


def check_reference(text: str, earlier: list[str], silent: tuple[str, ...] = ()) -> None:
    """A reference's shape, and that the step it names comes before and sent webhooks
    (RefError if not). `earlier`: the earlier steps that send; `silent`: those that do
    not (a wait, an api_fault)."""
    parts = text.split(".")
    if parts[0] == "scenario":
        if len(parts) != 2 or parts[1] not in ("connection", "integration", "name"):
            raise RefError(
                f"${{{text}}}: scenario has connection, integration and name",
            )
        return
    if parts[0] == "previous":
        rest = parts[1:]
        if not earlier:
            raise RefError(f"${{{text}}}: no step before this one sent a webhook")
    elif parts[0] == "steps":
        if len(parts) < 3:
            raise RefError(f"${{{text}}}: write ${{steps.NAME.FIELD}}")
        if parts[1] in silent:
            raise RefError(f"${{{text}}}: step {parts[1]!r} sends no webhook to refer to")
        if parts[1] not in earlier:
            import difflib

            close = difflib.get_close_matches(parts[1], earlier, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RefError(f"${{{text}}}: no earlier step named {parts[1]!r}{hint}")
        rest = parts[2:]
    else:
        raise RefError(f"${{{text}}}: references start with steps., previous. or scenario.")
    if not rest or rest[0] not in FIELDS or (rest[0] == "body") != (len(rest) > 1):
        raise RefError(
            f"${{{text}}}: the field is one of connection, integration, status, webhook_id, "
            "body.PATH"
        )


def resolve(value: Any, lookup: Callable[[str], Any]) -> Any:
    """`value` with every reference replaced by `lookup(reference)`, and every `$${`
    made a plain `${`."""
    if isinstance(value, str):
        whole = PATTERN.fullmatch(value)
        if whole:
            return lookup(whole.group(1).strip())
        return _TOKEN.sub(
            lambda m: "${" if m.group(0) == ESCAPED else _text(lookup(m.group(1).strip())),
            value,
        )
    if isinstance(value, dict):
        return {resolve(k, lookup): resolve(v, lookup) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(item, lookup) for item in value]
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def path_in(body: Any, path: list[str], text: str) -> Any:
    """The value at `path` in a webhook body (RefError when it is not there)."""
    current = body
    for part in path:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            raise RefError(f"${{{text}}}: the body has no {'.'.join(path)}")
    return current


def escape(value: Any) -> Any:
    """`value` with every `${` written `$${`: text that stays text in a scenario."""
    if isinstance(value, str):
        return value.replace("${", ESCAPED)
    if isinstance(value, dict):
        return {escape(k): escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [escape(item) for item in value]
    return value
