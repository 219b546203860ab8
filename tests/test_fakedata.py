"""The records `fire` makes stay the same for the same seed, model and number.

protocol/fakedata.py promises it ("so a test can rely on them"), and its speed-ups
(choices drawn from `getrandbits` directly, generators re-seeded in C, timestamps
formatted from the number) must not move a single value: the digest below was taken
from the generator before them (the plain `random.Random(text)`, `rng.choice`,
`rng.randint` version), over every field kind it knows.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from nango_cli.app import project
from nango_cli.protocol.fakedata import Generator
from tests.conftest import ROOT

DIGEST = "3ee5e12e33bcfd20bd03abe675c5c2fd409596bdeda02ef71955615e1eac3a07"
NAMES = (
    *("id", "number", "count", "amount", "price", "priority", "score", "other", "createdAt"),
    *("updated_at", "email", "firstName", "last_name", "username", "companyName", "name"),
    *("author", "url", "avatar", "phone", "city", "country", "status", "title", "description"),
    *("ownerId", "currency", "type", "misc"),
)


def every_kind_of_field() -> Generator:
    props: dict[str, Any] = {}
    for kind in ("boolean", "number", "integer", "string"):
        for name in NAMES:
            props[f"{name}_{kind}"] = {"type": kind}
            props[name] = {"type": kind}
    props.update(
        {
            "tags": {"type": "array", "items": {"type": "string"}},
            "emails": {"type": "array", "items": {"type": "string"}},
            "when": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"},
            "kind": {"enum": ["a", "b", "c"]},
            "fixed": {"const": 3},
            "either": {"anyOf": [{"type": "string"}, {"type": "null"}, {"type": "integer"}]},
            "multi": {"type": ["null", "number"]},
            "nested": {
                "type": "object",
                "properties": {
                    "inner_at": {"type": "string"},
                    "startedAt": {"type": "string", "format": "date-time"},
                },
            },
            "ref": {"$ref": "#/definitions/Self"},
            "refs": {"type": "array", "items": {"$ref": "#/definitions/Self"}},
            "createdAt": {"type": "string", "format": "date-time"},
            "modifiedAt": {"type": "string", "format": "date-time"},
            "firstSeenAt": {"type": "string"},
        }
    )
    definitions = {
        "Self": {
            "type": "object",
            "properties": {
                "title": {"type": "string"},
                "child": {"$ref": "#/definitions/Self"},
                "amount": {"type": "number"},
            },
        }
    }
    return Generator("EveryKindOfField", {"type": "object", "properties": props}, definitions)


def generators() -> list[Generator]:
    found = project.discover(str(ROOT / "tests" / "fixtures" / "compiled"))
    made = [Generator(name, schema, found.models) for name, schema in sorted(found.models.items())]
    return [*made, Generator("Unknown", None, {}), every_kind_of_field()]


def digest(gens: list[Generator]) -> str:
    h = hashlib.sha256()
    for generator in gens:
        for seed in (0, 5):
            for number in range(1, 301):
                record = generator.record(f"id-{number}", seed, number)
                h.update(json.dumps(record, sort_keys=True).encode())
                changed = generator.change(record, seed, number, number * 3)
                h.update(json.dumps(changed, sort_keys=True).encode())
    return h.hexdigest()


def test_the_same_seed_model_and_number_make_the_same_records_as_before() -> None:
    assert digest(generators()) == DIGEST


def test_threads_making_records_at_once_make_the_same_ones() -> None:
    """Each thread re-seeds a generator of its own (fakedata._seeded): records made in
    four threads at once are the ones made alone."""
    found: list[str] = []

    def make() -> None:
        found.append(digest(generators()))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [DIGEST] * 4
