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
import threading
from _random import Random as _CRandom
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from hashlib import sha512 as _sha512
from typing import Any, Protocol

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
_C_SEED = _CRandom.seed
_THREAD = threading.local()


class SchemaTooLarge(ValueError):
    """A model whose records would be too large to make (its references fan out)."""


@functools.lru_cache(maxsize=4096)
def _words(name: str) -> tuple[str, ...]:
    """`createdAt`, `created_at`, `CreatedAt` -> ("created", "at"). Cached: every record
    asks again for the same few field names (10,000 records spent a third of their
    time here)."""
    spaced = _CAMEL.sub(r"\1 \2", name).replace("_", " ").replace("-", " ")
    return tuple(w for w in spaced.lower().split() if w)


Make = Callable[[random.Random, int], Any]


class Draw(Protocol):
    """A Make that needs no record number: one draw from the generator."""

    def __call__(self, rng: random.Random, number: int = 0) -> Any: ...


def _chooser(options: Sequence[Any]) -> Draw:
    """A maker of `rng.choice(options)`: the same value from the same generator state
    (Random's own algorithm, rejection sampling on `getrandbits`), with the sizes
    worked out once and no call through `random`'s Python layers (a record makes a
    dozen choices: they were a fifth of its time)."""
    n = len(options)
    k = n.bit_length()

    def choose(rng: random.Random, number: int = 0) -> Any:
        r = rng.getrandbits(k)
        while r >= n:
            r = rng.getrandbits(k)
        return options[r]

    return choose


def _ranged(low: int, high: int) -> Draw:
    """A maker of `rng.randint(low, high)`, the same value, as `_chooser` makes it."""
    n = high - low + 1
    k = n.bit_length()

    def between(rng: random.Random, number: int = 0) -> int:
        r = rng.getrandbits(k)
        while r >= n:
            r = rng.getrandbits(k)
        return low + r

    return between


def _seeded(text: str) -> random.Random:
    """This thread's generator, put in the state `random.Random(text)` starts in (its
    seeding of a str: the text and its SHA-512, as one integer), set in C past
    `seed`'s Python layer. One generator per thread, seeded again for each record: a
    new one per record cost a third of making it (allocating its state, seeding it
    from the OS first). A record is made whole before the next is seeded."""
    rng: random.Random | None = getattr(_THREAD, "rng", None)
    if rng is None:
        rng = _THREAD.rng = random.Random()
    data = text.encode()
    _C_SEED(rng, int.from_bytes(data + _sha512(data).digest()))
    rng.gauss_next = None  # type: ignore[attr-defined]  # as Random.seed leaves it
    return rng


_SPAN_DAYS = 300
# The days a made-up timestamp falls on, formatted once: `_EPOCH` plus 0-299 days.
_DAYS = tuple(
    f"{d.year:04d}-{d.month:02d}-{d.day:02d}"
    for d in (_EPOCH + timedelta(days=n) for n in range(_SPAN_DAYS))
)


_FIRST_NAME = _chooser(_FIRST)
_LAST_NAME = _chooser(_LAST)
_WORD = _chooser(_WORDS)
_VERB = _chooser(_VERBS)
_OUTCOME = _chooser(_OUTCOMES)
_ONE_OR_TWO = _ranged(1, 2)
_SECOND_IN_SPAN = _ranged(0, _SPAN_DAYS * 24 * 3600 - 1)


def _timestamp(rng: random.Random) -> str:
    """A time in the 300 days from `_EPOCH`, whole seconds, as `format_timestamp`
    writes it (made from the number itself: no datetime to build and format)."""
    day, second = divmod(_SECOND_IN_SPAN(rng), 24 * 3600)
    hour, rest = divmod(second, 3600)
    minute, second = divmod(rest, 60)
    return f"{_DAYS[day]}T{hour:02d}:{minute:02d}:{second:02d}.000Z"


_CREATED = ("created", "inserted", "opened", "started", "first")
_LATER = ("updated", "modified", "changed", "edited", "last")


def _time_named(key: str, starts: tuple[str, ...]) -> bool:
    """A name like a timestamp field's (`…At`, `…_at`) starting with one of `starts`."""
    words = _words(key)
    return len(words) >= 2 and words[-1] == "at" and words[0] in starts


def _times(
    record: dict[str, Any], starts: tuple[str, ...], keys: Sequence[str] | None = None
) -> list[str]:
    """Top-level timestamp fields (`…At`, `…_at`) whose name starts with one of `starts`
    and that hold a timestamp; `keys`: the only names that can be (in record order)."""
    found = []
    for key in record if keys is None else keys:
        value = record.get(key)
        if not (isinstance(value, str) and len(value) == 24 and value.endswith("Z")):
            continue
        if keys is not None or _time_named(key, starts):
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


def _in_order(
    record: dict[str, Any],
    rng: random.Random,
    names: tuple[Sequence[str], Sequence[str]] | None = None,
) -> None:
    """A record updated before it was created is not one a real API returns: every
    `updatedAt`-like field is put after the latest `createdAt`-like one. `names`: the
    fields that can be created-like and updated-like, when known in advance."""
    created_keys, later_keys = names or (None, None)
    created = [record[k] for k in _times(record, _CREATED, created_keys)]
    if not created:
        return
    first = max(created)
    for key in _times(record, _LATER, later_keys):
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
        # The top-level fields that can be timestamps to keep in order (by name; their
        # values are checked on each record), in record order.
        spec, _path = self._resolve(self.schema)
        top = spec.get("properties") if isinstance(spec, dict) else None
        names = [str(k) for k in top] if isinstance(top, dict) else []
        self._order_names = (
            [k for k in names if _time_named(k, _CREATED)],
            [k for k in names if _time_named(k, _LATER)],
        )

    def record(self, record_id: str | int, seed: int, number: int) -> dict[str, Any]:
        """A whole record; `record_id` is its `id` (unique per model and connection)."""
        rng = _seeded(f"{seed}:{self.model}:{number}")
        value = self._make(rng, number)
        if not isinstance(value, dict):
            value = {}
        value["id"] = record_id
        _in_order(value, rng, self._order_names)
        return value

    def change(self, record: dict[str, Any], seed: int, number: int, turn: int) -> dict[str, Any]:
        """The record after an update: a few of its fields get new values; `id` stays."""
        rng = _seeded(f"{seed}:{self.model}:{number}:update:{turn}")
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
            return _chooser(values)
        for key in ("anyOf", "oneOf"):
            options = spec.get(key)
            if isinstance(options, list) and options:
                concrete = [o for o in options if self._resolve(o)[0] != {"type": "null"}]
                makers = [self._value(name, o, depth + 1, path) for o in concrete or options]
                choose = _chooser(makers)
                return lambda rng, number: choose(rng)(rng, number)
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
            return lambda rng, number: [item(rng, number) for _ in range(_ONE_OR_TWO(rng))]
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
                return _ranged(0, 500)
            if last in ("amount", "price", "cost", "balance", "value"):
                if kind == "integer":
                    return _ranged(100, 500_000)
                cents = _ranged(100, 500_000)
                return lambda rng, number: cents(rng) / 100
            if last in ("priority", "rank", "level", "score"):
                return _ranged(0, 4)
            if kind == "integer":
                return _ranged(0, 1000)
            return lambda rng, number: round(rng.uniform(0, 1000), 2)
        if name.endswith("[]") and last not in ("email", "url", "id"):
            return _WORD
        if last == "at" or last in ("date", "timestamp", "time"):
            return lambda rng, number: _timestamp(rng)
        if last == "email":
            return lambda rng, number: (
                f"{_FIRST_NAME(rng).lower()}.{_LAST_NAME(rng).lower()}{number}@example.com"
            )
        if words[-2:] == ("first", "name") or last == "firstname":
            return _FIRST_NAME
        if words[-2:] == ("last", "name") or last == "lastname":
            return _LAST_NAME
        if last in ("username", "login"):
            return lambda rng, number: f"{_FIRST_NAME(rng).lower()}{number}"
        if last in ("company", "organization", "org") or (
            last == "name" and {"company", "organization", "org"} & set(words)
        ):
            return _chooser(_COMPANIES)
        if last in ("name", "author", "owner", "assignee"):
            return lambda rng, number: f"{_FIRST_NAME(rng)} {_LAST_NAME(rng)}"
        if last in ("url", "link", "website", "href", "avatar", "image"):
            return lambda rng, number: f"https://example.com/{slug}/{number}"
        if last in ("phone", "mobile"):
            line = _ranged(0, 99)
            return lambda rng, number: f"+1-555-01{line(rng):02d}"
        if last in ("city", "location"):
            return _chooser(_CITIES)
        if last == "country":
            return _chooser(("PT", "KE", "JP", "CA", "DE", "CL", "AU"))
        if last in ("status", "state", "stage"):
            return _chooser(_STATES)
        if last in ("title", "subject", "summary", "label", "topic"):
            return lambda rng, number: f"{_VERB(rng)} {_WORD(rng)} {_WORD(rng)}"
        if last in ("description", "body", "content", "text", "note", "notes", "message"):
            return lambda rng, number: (
                f"{_VERB(rng)} the {_WORD(rng)} when the {_WORD(rng)} {_OUTCOME(rng)}."
            )
        if last == "id" or last.endswith("id"):
            prefix = "-".join(words[:-1]) or slug
            suffix = _ranged(1, 99999)
            return lambda rng, number: f"{prefix}-{suffix(rng)}"
        if last == "currency":
            return _chooser(("EUR", "USD", "JPY", "KES"))
        if last in ("type", "kind", "category"):
            return _WORD
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
