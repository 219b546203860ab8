"""Fault-tolerance: arbitrary input gets declared errors only (property-based)."""

from __future__ import annotations

import contextlib
import http.client
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nango_cli.app.settings_table import SETTINGS
from nango_cli.protocol import signatures, vocabulary
from nango_cli.protocol.signatures import KeyRing
from nango_cli.storage.webhooks import Store
from tests.listening import InProcess

EXAMPLES = 150


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(
    name=st.sampled_from(sorted(SETTINGS)),
    raw=st.one_of(st.text(max_size=40), st.integers(), st.floats(allow_nan=True), st.booleans()),
)
def test_config_values_raise_only_value_errors(name: str, raw: object) -> None:
    with contextlib.suppress(ValueError):  # the one declared error; anything else fails
        SETTINGS[name].parse(raw)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.binary(max_size=300),
    st.dictionaries(
        st.sampled_from([vocabulary.HMAC_HEADER, vocabulary.LEGACY_HEADER, "x-nango-hmac-sha256"]),
        st.text(max_size=80),
        max_size=3,
    ),
)
def test_verifier_never_raises(body: bytes, headers: dict[str, str]) -> None:
    hmac_v, legacy_v = signatures.verify_headers("key", body, headers, other_keys=("other",))
    assert hmac_v.state in ("valid", "invalid", "missing")
    assert legacy_v.state in ("valid", "invalid", "missing")


@pytest.fixture(scope="module")
def listening(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InProcess]:
    store = Store(tmp_path_factory.mktemp("listen") / "h.sqlite3")
    with InProcess(store, keys=KeyRing(current="k"), max_body=64 * 1024) as running:
        yield running
    store.close()


header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, blacklist_categories=("Cc",)),
    max_size=60,
)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE", "PATCH"]),
    path=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=40),
    headers=st.dictionaries(
        st.one_of(
            st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
            st.sampled_from([vocabulary.HMAC_HEADER, vocabulary.LEGACY_HEADER]),
        ),
        header_text,
        max_size=5,
    ),
    body=st.binary(max_size=2000),
)
def test_listener_never_answers_5xx_to_garbage(
    listening: InProcess, method: str, path: str, headers: dict[str, str], body: bytes
) -> None:
    headers = {
        k: v
        for k, v in headers.items()
        if k.lower() not in ("content-length", "transfer-encoding", "host", "expect", "connection")
    }
    conn = http.client.HTTPConnection("127.0.0.1", listening.port, timeout=10)
    try:
        conn.request(method, "/" + path.lstrip("/"), body=body, headers=headers)
        status = conn.getresponse().status
    finally:
        conn.close()
    assert status < 500


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.binary(min_size=1, max_size=500))
def test_listener_survives_raw_garbage_on_the_socket(listening: InProcess, garbage: bytes) -> None:
    with socket.create_connection(("127.0.0.1", listening.port), timeout=10) as sock:
        sock.sendall(garbage + b"\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        try:
            while chunk := sock.recv(4096):
                reply += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    if reply.startswith(b"HTTP/"):
        assert not reply.split(b" ")[1].startswith(b"5"), reply[:80]
    # and it still serves a real webhook afterwards
    conn = http.client.HTTPConnection("127.0.0.1", listening.port, timeout=10)
    conn.request("POST", "/", body=b"{}")
    assert conn.getresponse().status == 200
    conn.close()
