"""Realistic, deterministic records for a model, from its JSON Schema.

`fire --sync` announces changes; the records behind them are made here: each
field gets a value by its name and type (an `email` looks like an email, a
`createdAt` like a timestamp, an enum takes one of its values), the same for the
same seed, model and record number, so a test can rely on them. Fields it cannot
read get a plain value of the right type. Clearly fake: example.com addresses,
555 phone numbers.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from nango_cli.support.timefmt import format_timestamp

_FIRST = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Tim")
_LAST = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson")
_COMPANIES = ("Acme Corp", "Globex", "Initech", "Umbrella Labs", "Hooli", "Stark Industries")
_CITIES = ("Lisbon", "Nairobi", "Osaka", "Montreal", "Berlin", "Santiago", "Perth")
_WORDS = (
    "sync",
    "deploy",
    "invoice",
    "login",
    "report",
    "export",
    "webhook",
    "dashboard",
    "billing",
    "search",
    "timeout",
    "retry",
)
_VERBS = ("Fix", "Add", "Update", "Remove", "Investigate", "Document", "Refactor")
_STATES = ("open", "active", "pending", "closed")
_OUTCOMES = ("fails", "succeeds", "is slow", "changes")
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
_MAX_DEPTH = 6
# A model nested in itself (a comment's replies) is made this many levels deep, then
# left empty; and one record has at most this many values: a small project file whose
# models reference each other (8 fields each) would otherwise describe millions.
_MAX_NESTING = 2
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
MAX_VALUES = 20_000


class SchemaTooLarge(ValueError):
    """A model whose records would be too large to make (its references fan out)."""


@functools.lru_cache(maxsize=4096)
def _words(name: str) -> tuple[str, ...]:
    """`createdAt`, `created_at`, `CreatedAt` -> ("created", "at"). Cached: every record
    asks again for the same few field names (10,000 records spent a third of their
    time here)."""
    spaced = _CAMEL.sub(r"\1 \2", name).replace("_", " ").replace("-", " ")
    return tuple(w for w in spaced.lower().split() if w)


def _timestamp(rng: random.Random) -> str:
    moment = _EPOCH + timedelta(seconds=rng.randrange(300 * 24 * 3600))
    return format_timestamp(moment)


Make = Callable[[random.Random, int], Any]

_CREATED = ("created", "inserted", "opened", "started", "first")
_LATER = ("updated", "modified", "changed", "edited", "last")


def _times(record: dict[str, Any], starts: tuple[str, ...]) -> list[str]:
    """Top-level timestamp fields (`…At`, `…_at`) whose name starts with one of `starts`."""
    found = []
    for key, value in record.items():
        if not (isinstance(value, str) and len(value) == 24 and value.endswith("Z")):
            continue
        words = _words(key)
        if len(words) >= 2 and words[-1] == "at" and words[0] in starts:
            found.append(key)
    return found


def _later_keys(record: dict[str, Any]) -> list[str]:
    return _times(record, _LATER)


def _after(stamp: str, rng: random.Random) -> str:
    """A timestamp a little after `stamp` (a stored one, or any ISO time)."""
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        moment = _EPOCH
    return format_timestamp(moment + timedelta(seconds=rng.randrange(60, 30 * 24 * 3600)))


def _in_order(record: dict[str, Any], rng: random.Random) -> None:
    """A record updated before it was created is not one a real API returns: every
    `updatedAt`-like field is put after the latest `createdAt`-like one."""
    created = [record[k] for k in _times(record, _CREATED)]
    if not created:
        return
    first = max(created)
    for key in _later_keys(record):
        if record[key] < first:
            record[key] = _after(first, rng)


class Generator:
    """Values for one model's records. `definitions` resolves `$ref`s.

    The schema is compiled once into one small function per field (the decision by
    name and type made up front): `fire --added 10000` makes its records in a fraction
    of the second it is allowed."""

    def __init__(self, model: str, schema: dict[str, Any] | None, definitions: dict[str, Any]):
        self.model = model
        self.schema = schema if isinstance(schema, dict) else _FALLBACK
        self.definitions = definitions
        self.slug = "-".join(_words(model)) or "record"
        self._values = 0
        self._make = self._object(self.schema, 0, (model,))

    def record(self, record_id: str | int, seed: int, number: int) -> dict[str, Any]:
        """A whole record; `record_id` is its `id` (unique per model and connection)."""
        rng = random.Random(f"{seed}:{self.model}:{number}")
        value = self._make(rng, number)
        if not isinstance(value, dict):
            value = {}
        value["id"] = record_id
        _in_order(value, rng)
        return value

    def change(self, record: dict[str, Any], seed: int, number: int, turn: int) -> dict[str, Any]:
        """The record after an update: a few of its fields get new values; `id` stays."""
        rng = random.Random(f"{seed}:{self.model}:{number}:update:{turn}")
        fresh = self._make(rng, number)
        changed = dict(record)
        # What an update changes: not the id, nor when the record was created.
        fixed = {"id", *_times(changed, _CREATED), *_later_keys(changed)}
        candidates = [k for k in fresh if k not in fixed] if isinstance(fresh, dict) else []
        for key in rng.sample(candidates, k=min(2, len(candidates))):
            changed[key] = fresh[key]
        for key in _later_keys(changed):
            # Changed now: after whatever it said before.
            changed[key] = _after(changed[key], rng)
        _in_order(changed, rng)
        return changed

    # -- compiling the schema

    def _resolve(self, spec: Any, path: tuple[str, ...] = ()) -> tuple[Any, tuple[str, ...]]:
        """The schema a `$ref` names, and the path of models it is nested in."""
        seen = 0
        while isinstance(spec, dict) and "$ref" in spec and seen < 20:
            name = str(spec["$ref"]).rsplit("/", 1)[-1]
            spec = self.definitions.get(name, {})
            path = (*path, name)
            seen += 1
        return spec, path

    def _count(self) -> None:
        self._values += 1
        if self._values > MAX_VALUES:
            raise SchemaTooLarge(
                f"model {self.model!r}: its fields reference other models (or itself) so "
                f"often that one record would hold more than {MAX_VALUES:,} values"
            )

    def _value(self, name: str, spec: Any, depth: int, path: tuple[str, ...] = ()) -> Make:
        self._count()
        spec, path = self._resolve(spec, path)
        if path and path.count(path[-1]) > _MAX_NESTING:
            return lambda rng, number: None  # nested in itself deep enough
        if not isinstance(spec, dict) or depth > _MAX_DEPTH:
            return self._by_name(name, "string")
        if "const" in spec:
            constant = spec["const"]
            return lambda rng, number: constant
        if isinstance(spec.get("enum"), list) and spec["enum"]:
            values = list(spec["enum"])
            return lambda rng, number: rng.choice(values)
        for key in ("anyOf", "oneOf"):
            options = spec.get(key)
            if isinstance(options, list) and options:
                concrete = [o for o in options if self._resolve(o)[0] != {"type": "null"}]
                makers = [self._value(name, o, depth + 1, path) for o in concrete or options]
                return lambda rng, number: rng.choice(makers)(rng, number)
        kind = spec.get("type")
        if isinstance(kind, list):
            kinds = [k for k in kind if k != "null"] or ["null"]
            kind = kinds[0]
        if kind == "null":
            return lambda rng, number: None
        if kind == "object" or "properties" in spec:
            return self._object(spec, depth + 1, path)
        if kind == "array":
            _items, item_path = self._resolve(spec.get("items", {}), path)
            if item_path and item_path.count(item_path[-1]) > _MAX_NESTING:
                return lambda rng, number: []
            item = self._value(name + "[]", spec.get("items", {}), depth + 1, path)
            return lambda rng, number: [item(rng, number) for _ in range(rng.randint(1, 2))]
        if spec.get("format") == "date-time":
            return lambda rng, number: _timestamp(rng)
        if spec.get("format") == "date":
            return lambda rng, number: _timestamp(rng)[:10]
        return self._by_name(name, str(kind or "string"))

    def _object(self, spec: Any, depth: int, path: tuple[str, ...] = ()) -> Make:
        spec, path = self._resolve(spec, path)
        properties = spec.get("properties") if isinstance(spec, dict) else None
        if not isinstance(properties, dict):
            return lambda rng, number: {}
        fields = [(str(k), self._value(str(k), sub, depth, path)) for k, sub in properties.items()]
        return lambda rng, number: {key: make(rng, number) for key, make in fields}

    # -- by name

    def _by_name(self, name: str, kind: str) -> Make:
        words = _words(name.removesuffix("[]"))
        last = words[-1] if words else ""
        slug = self.slug
        if kind == "boolean":
            return lambda rng, number: rng.random() < 0.5
        if kind in ("number", "integer"):
            if last in ("id", "number"):
                return lambda rng, number: number
            if last in ("count", "total", "position", "index"):
                return lambda rng, number: rng.randint(0, 500)
            if last in ("amount", "price", "cost", "balance", "value"):
                if kind == "integer":
                    return lambda rng, number: rng.randint(100, 500_000)
                return lambda rng, number: rng.randint(100, 500_000) / 100
            if last in ("priority", "rank", "level", "score"):
                return lambda rng, number: rng.randint(0, 4)
            if kind == "integer":
                return lambda rng, number: rng.randint(0, 1000)
            return lambda rng, number: round(rng.uniform(0, 1000), 2)
        if name.endswith("[]") and last not in ("email", "url", "id"):
            return lambda rng, number: rng.choice(_WORDS)
        if last == "at" or last in ("date", "timestamp", "time"):
            return lambda rng, number: _timestamp(rng)
        if last == "email":
            return lambda rng, number: (
                f"{rng.choice(_FIRST).lower()}.{rng.choice(_LAST).lower()}{number}@example.com"
            )
        if words[-2:] == ("first", "name") or last == "firstname":
            return lambda rng, number: rng.choice(_FIRST)
        if words[-2:] == ("last", "name") or last == "lastname":
            return lambda rng, number: rng.choice(_LAST)
        if last in ("username", "login"):
            return lambda rng, number: f"{rng.choice(_FIRST).lower()}{number}"
        if last in ("company", "organization", "org") or (
            last == "name" and {"company", "organization", "org"} & set(words)
        ):
            return lambda rng, number: rng.choice(_COMPANIES)
        if last in ("name", "author", "owner", "assignee"):
            return lambda rng, number: f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        if last in ("url", "link", "website", "href", "avatar", "image"):
            return lambda rng, number: f"https://example.com/{slug}/{number}"
        if last in ("phone", "mobile"):
            return lambda rng, number: f"+1-555-01{rng.randint(0, 99):02d}"
        if last in ("city", "location"):
            return lambda rng, number: rng.choice(_CITIES)
        if last == "country":
            return lambda rng, number: rng.choice(("PT", "KE", "JP", "CA", "DE", "CL", "AU"))
        if last in ("status", "state", "stage"):
            return lambda rng, number: rng.choice(_STATES)
        if last in ("title", "subject", "summary", "label", "topic"):
            return lambda rng, number: (
                f"{rng.choice(_VERBS)} {rng.choice(_WORDS)} {rng.choice(_WORDS)}"
            )
        if last in ("description", "body", "content", "text", "note", "notes", "message"):
            return lambda rng, number: (
                f"{rng.choice(_VERBS)} the {rng.choice(_WORDS)} when the {rng.choice(_WORDS)} "
                f"{rng.choice(_OUTCOMES)}."
            )
        if last == "id" or last.endswith("id"):
            prefix = "-".join(words[:-1]) or slug
            return lambda rng, number: f"{prefix}-{rng.randint(1, 99999)}"
        if last == "currency":
            return lambda rng, number: rng.choice(("EUR", "USD", "JPY", "KES"))
        if last in ("type", "kind", "category"):
            return lambda rng, number: rng.choice(_WORDS)
        label = name or "value"
        return lambda rng, number: f"{label}-{number}"


# A model nango-hooks knows nothing about (no project, or the model is not in it).
_FALLBACK: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "createdAt": {"type": "string", "format": "date-time"},
        "updatedAt": {"type": "string", "format": "date-time"},
    },
}
