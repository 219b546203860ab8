from __future__ import annotations

import hashlib
import hmac
import json
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nango_cli.protocol import serialization, signatures, vocabulary
from tests.nango_node import SORT_KEYS_JS


def test_spec_test_vectors() -> None:
    assert (
        signatures.legacy_signature("secret", b"payload")
        == "22439a879b090cd05e5b51c5b5d7e4a205830e6ab4f54b90f5a822b7c7110934"
    )
    assert (
        signatures.hmac_signature("secret", b"payload")
        == "b82fcb791acec57859b989b430a826488ce2e479fdf92326bd0a2e8375a42ba4"
    )


def test_ordinary_body_matches_python_sorted_compact_form() -> None:
    body = {
        "type": "sync",
        "from": "nango",
        "responseResults": {"updated": 0, "added": 2},
        "name": "Zoë ✓",
    }
    expected = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert serialization.serialize(body) == expected
    assert "Zoë ✓".encode() in serialization.serialize(body)  # raw UTF-8, not \u escapes


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.0, "1"),
        (-0.0, "0"),
        (1e-7, "1e-7"),
        (1.5e-6, "0.0000015"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (123.456, "123.456"),
        (0.1, "0.1"),
        (5e-324, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (float("nan"), "null"),
        (float("inf"), "null"),
        (-2.5, "-2.5"),
    ],
)
def test_numbers_print_as_javascript(value: float, text: str) -> None:
    assert serialization.stable_stringify(value) == text


def test_integer_like_keys_sort_first_numerically_then_utf16_order() -> None:
    body = {"a": 1, "10": 2, "2": 3, "1": 4, "01": 5, "\uffff": 6, "\U0001f600": 7, "B": 8}
    assert serialization.stable_stringify(body) == (
        '{"1":4,"2":3,"10":2,"01":5,"B":8,"a":1,"\U0001f600":7,"\uffff":6}'
    )


def test_nested_objects_inside_arrays_are_sorted_and_arrays_keep_order() -> None:
    assert serialization.stable_stringify({"x": [{"b": 1, "a": 2}, 3, [{"d": 0, "c": 1}]]}) == (
        '{"x":[{"a":2,"b":1},3,[{"c":1,"d":0}]]}'
    )


def test_control_characters_and_lone_surrogates_are_escaped_like_javascript() -> None:
    assert serialization.stable_stringify('a\x01\n"\\\u2028') == '"a\\u0001\\n\\"\\\\\u2028"'
    assert serialization.stable_stringify("\ud800") == '"\\ud800"'
    assert serialization.serialize("\ud800") == b'"\\ud800"'


def test_signature_modes() -> None:
    body = b"{}"
    both = signatures.signature_headers("k", body)
    assert set(both) == {vocabulary.HMAC_HEADER, vocabulary.LEGACY_HEADER}
    assert signatures.signature_headers("k", body, "none") == {}
    assert set(signatures.signature_headers("k", body, "legacy-only")) == {vocabulary.LEGACY_HEADER}
    bad = signatures.signature_headers("k", body, "bad")
    assert bad[vocabulary.HMAC_HEADER] != both[vocabulary.HMAC_HEADER]


def test_verify_valid_invalid_missing_and_no_key() -> None:
    body = serialization.serialize({"type": "sync", "a": 1})
    headers = signatures.signature_headers("key-1", body)
    hmac_v, legacy_v = signatures.verify_headers("key-1", body, headers)
    assert (hmac_v.state, legacy_v.state) == ("valid", "valid")
    hmac_v, legacy_v = signatures.verify_headers("key-1", body, {})
    assert (hmac_v.state, legacy_v.state) == ("missing", "missing")
    hmac_v, _ = signatures.verify_headers(None, body, headers)
    assert hmac_v.state == "no-key"
    lower = {k.lower(): v for k, v in headers.items()}
    assert signatures.verify_headers("key-1", body, lower)[
        0
    ].ok  # header names are case-insensitive


def test_verify_explains_the_likely_cause() -> None:
    parsed = {"type": "sync", "b": [1, 2], "a": "x"}
    body = serialization.serialize(parsed)
    headers = signatures.signature_headers("key-1", body)

    other_key = signatures.verify_headers("key-2", body, headers, other_keys=("key-1",))[0]
    assert other_key.state == "invalid" and "different key" in (other_key.reason or "")

    pretty = json.dumps(parsed, indent=2).encode()
    reserialized = signatures.verify_headers("key-1", pretty, headers)[0]
    assert "re-serialized" in (reserialized.reason or "")

    newline = signatures.verify_headers("key-1", body + b"\n", headers)[0]
    assert "newline" in (newline.reason or "")

    garbage = signatures.verify_headers("key-1", body, {vocabulary.HMAC_HEADER: "zz"})[0]
    assert "hex" in (garbage.reason or "")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_serialized_bodies_parse_back_to_the_same_value(value: object) -> None:
    assert json.loads(serialization.serialize(value)) == value


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.text(min_size=1, max_size=40))
def test_verify_accepts_exactly_what_sign_produces(body: bytes, key: str) -> None:
    headers = signatures.signature_headers(key, body)
    assert all(v.ok for v in signatures.verify_headers(key, body, headers))
    # an independent implementation agrees
    assert (
        headers[vocabulary.HMAC_HEADER] == hmac.new(key.encode(), body, hashlib.sha256).hexdigest()
    )
    assert headers[vocabulary.LEGACY_HEADER] == hashlib.sha256(key.encode() + body).hexdigest()
    tampered = body + b"x"
    assert not signatures.verify_headers(key, tampered, headers)[0].ok


NODE_STABLE_STRINGIFY = (
    SORT_KEYS_JS
    + r"""
const crypto = require('crypto');
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const result = cases.map((c) => {
  const body = JSON.stringify(sortKeys(c));
  return {
    body,
    hmac: crypto.createHmac('sha256', 'k\u00e9y').update(body).digest('hex'),
    legacy: crypto.createHash('sha256').update('k\u00e9y' + body).digest('hex'),
  };
});
process.stdout.write(JSON.stringify(result));
"""
)


def test_bytes_and_signatures_match_nodejs(nango_node: object) -> None:
    """The reference: JavaScript's own sort + JSON.stringify and Node's crypto (the
    fixture makes sure Node.js is there: this test never skips)."""
    cases = [
        {"type": "sync", "responseResults": {"added": 1, "updated": 0, "deleted": 0}},
        {"10": 1, "2": 2, "b": 3, "a": 4, "01": 5, "-1": 6, "4294967295": 7, "4294967294": 8},
        {"n": [1.0, 1e-7, 1e21, 1e20, 0.1, 123.456, -0.0, 2.5e-6, 1e300]},
        {
            "s": 'Zoë ✓ \u2028 \x01 \x7f \U0001f600 "quoted" back\\slash',
            "\uffff": 1,
            "\U0001f600": 2,
        },
        {"deep": [{"z": {"y": [{"b": 1, "a": None}]}}], "t": True, "f": False},
    ]
    # Send floats as JSON text that Node parses to the same doubles.
    payload = json.dumps(cases)
    proc = subprocess.run(
        ["node", "-e", NODE_STABLE_STRINGIFY],
        input=payload.encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    expected = json.loads(proc.stdout)
    for case, ref in zip(cases, expected, strict=True):
        body = serialization.serialize(case)
        assert body == ref["body"].encode("utf-8")
        assert signatures.hmac_signature("kéy", body) == ref["hmac"]
        assert signatures.legacy_signature("kéy", body) == ref["legacy"]
