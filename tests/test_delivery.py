"""The delivery loop, the attempt contract's pieces and the httpx sender's TLS and
proxy handling, against real loopback servers; only the backoff clock is fake."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from nango_cli.delivery.attempts import BodyCap, Outgoing, next_hop
from nango_cli.delivery.breaker import CircuitBreaker
from nango_cli.delivery.history_rows import AttemptRecord
from nango_cli.delivery.httpx_sender import HttpxSender
from nango_cli.delivery.retry import delivery_steps, make_policy, run_steps
from nango_cli.delivery.transport import TLSOptions, proxy_for
from nango_cli.protocol.headers import merge_headers
from tests.receiver import Behaviour, Receiver, free_port

BODY = b'{"type":"sync"}'
HEADERS = {"content-type": "application/json"}


class Clock:
    def __init__(self) -> None:
        self.waits: list[float] = []
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def _deliver(
    targets: list[str],
    policy: str,
    retries: int | None = None,
    timeout: float = 5.0,
    breaker: CircuitBreaker | None = None,
    clock: Clock | None = None,
    sender: HttpxSender | None = None,
):
    clock = clock or Clock()
    seen: list[tuple[AttemptRecord, str]] = []
    sender = sender or HttpxSender()
    steps = delivery_steps(
        targets, make_policy(policy, retries), lambda a, r: seen.append((a, r)), breaker
    )
    result = run_steps(steps, lambda t: sender.send(t, BODY, HEADERS, timeout), clock.sleep)
    return result, clock, seen


def test_policies_as_specified() -> None:
    docs, server, none = make_policy("docs"), make_policy("server"), make_policy("none")
    assert (docs.retries, docs.delay(0), docs.delay(1)) == (2, 0.1, 0.2)
    assert (server.retries, server.delay(0), server.delay(1)) == (2, 3.0, 6.0)
    assert server.delay(10) == 600.0  # min(3000 * 2^n, 600000) ms
    assert none.retries == 0
    assert make_policy("server", retries=5).retries == 5


@pytest.mark.parametrize("policy", ["docs", "server"])
def test_500_then_200_is_delivered_on_the_second_attempt(receiver: Receiver, policy: str) -> None:
    receiver.then(Behaviour(status=500))
    result, clock, seen = _deliver([receiver.url], policy)
    assert result.delivered
    assert [a.status_code for a, _ in seen] == [500, 200]
    assert clock.waits == ([0.1] if policy == "docs" else [3.0])
    assert seen[0][0].will_retry and seen[0][0].wait_s == clock.waits[0]
    assert len(receiver.requests) == 2
    assert receiver.requests[0].body == receiver.requests[1].body == BODY  # identical resend


@pytest.mark.parametrize(("policy", "waits"), [("docs", [0.1, 0.2]), ("server", [3.0, 6.0])])
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_persistent_5xx_exhausts_retries(
    receiver: Receiver, policy: str, waits: list[float], status: int
) -> None:
    receiver.default = Behaviour(status=status)
    result, clock, seen = _deliver([receiver.url], policy)
    assert not result.delivered
    assert [a.number for a, _ in seen] == [1, 2, 3]
    assert clock.waits == waits
    assert "gave up after 3 attempts" in seen[-1][1]


@pytest.mark.parametrize(("policy", "attempts"), [("docs", 3), ("server", 1)])
@pytest.mark.parametrize("status", [400, 401, 404, 410, 429, 301])
def test_4xx_and_3xx_are_retried_only_by_the_docs_policy(
    receiver: Receiver, policy: str, attempts: int, status: int
) -> None:
    # A 301 with no Location cannot be followed, so it is a final answer.
    receiver.default = Behaviour(status=status, headers={"Retry-After": "1"})
    result, _, seen = _deliver([receiver.url], policy)
    assert not result.delivered and len(seen) == attempts
    if policy == "server":
        assert f"does not retry {status}" in seen[0][1]


@pytest.mark.parametrize(("policy", "attempts"), [("docs", 3), ("server", 3), ("none", 1)])
def test_connection_refused_is_a_retried_network_error(policy: str, attempts: int) -> None:
    result, _, seen = _deliver([f"http://127.0.0.1:{free_port()}/x"], policy)
    assert not result.delivered and len(seen) == attempts
    assert all(a.error_class == "refused" and a.outcome == "network_error" for a, _ in seen)


@pytest.mark.parametrize("policy", ["docs", "server"])
def test_connection_reset_is_retried(receiver: Receiver, policy: str) -> None:
    receiver.then(Behaviour(reset=True))
    result, _, seen = _deliver([receiver.url], policy)
    assert result.delivered
    assert seen[0][0].error_class == "reset" and seen[1][0].status_code == 200


@pytest.mark.parametrize("policy", ["docs", "server"])
def test_timeout_is_retried(receiver: Receiver, policy: str) -> None:
    receiver.then(Behaviour(delay=1.0))
    result, _, seen = _deliver([receiver.url], policy, timeout=0.3)
    assert result.delivered
    assert seen[0][0].error_class == "timeout"


def test_dripping_response_hits_the_total_deadline(receiver: Receiver) -> None:
    receiver.then(Behaviour(body=b"x" * 100, delay=0.1, drip=True))
    result, _, seen = _deliver([receiver.url], "none", timeout=0.5)
    assert not result.delivered
    assert seen[0][0].error_class == "timeout"
    assert seen[0][0].latency_ms is not None and seen[0][0].latency_ms < 2000


def test_large_response_is_capped(receiver: Receiver) -> None:
    receiver.then(Behaviour(body=b"y" * (1024 * 1024)))
    result, _, seen = _deliver([receiver.url], "docs")
    attempt = seen[0][0]
    assert result.delivered and attempt.response_truncated
    assert len(attempt.response_body) == 64 * 1024


def test_redirects_are_followed(receiver: Receiver) -> None:
    with Receiver() as final:
        receiver.then(Behaviour(status=308, headers={"Location": final.url}))
        result, _, seen = _deliver([receiver.url], "server")
        assert result.delivered and seen[0][0].status_code == 200
        assert final.requests[0].body == BODY  # 308 keeps the method and body


def test_primary_then_secondary_each_with_own_retries(receiver: Receiver) -> None:
    with Receiver() as secondary:
        receiver.default = Behaviour(status=500)
        result, _, seen = _deliver([receiver.url, secondary.url], "docs")
        assert [t.delivered for t in result.targets] == [False, True]
        assert not result.delivered
        assert [a.target for a, _ in seen] == [receiver.url] * 3 + [secondary.url]


def test_302_becomes_a_get_as_in_nangos_http_client(receiver: Receiver) -> None:
    with Receiver() as final:
        receiver.then(Behaviour(status=302, headers={"Location": final.url}))
        result, _, _seen = _deliver([receiver.url], "server")
        assert result.delivered
        (request,) = final.requests
        assert request.method == "GET" and request.body == b""


def test_a_redirect_loop_gives_up(receiver: Receiver) -> None:
    receiver.default = Behaviour(status=307, headers={"Location": receiver.url})
    result, _, seen = _deliver([receiver.url], "server")
    assert not result.delivered
    assert seen[0][0].error_class == "redirects"
    assert len(receiver.requests) == 6  # the first request and 5 redirects
    assert "does not retry redirects errors" in seen[0][1]


# ---------------------------------------------------------------- circuit breaker


def test_the_circuit_breaker_opens_past_five_failures_in_ten_seconds(receiver: Receiver) -> None:
    """Nango's defaults: the 6th failure within 10 s opens it for 60 s; refused attempts
    make no request and are not retried; after the cooldown one probe decides."""
    clock = Clock()
    breaker = CircuitBreaker(clock=clock.monotonic)
    receiver.default = Behaviour(status=503)
    _deliver([receiver.url], "docs", clock=clock, breaker=breaker)  # 3 failures
    assert breaker.refusal(receiver.url) is None
    clock.now += 1
    result, _, seen = _deliver([receiver.url], "docs", clock=clock, breaker=breaker)
    assert [a.status_code for a, _ in seen] == [503, 503, 503]  # the 6th opened it
    assert "opened the circuit breaker" in (seen[-1][0].note or "")
    requests_before = len(receiver.requests)
    result, _, seen = _deliver([receiver.url], "server", clock=clock, breaker=breaker)
    ((refused, reason),) = seen
    assert refused.error_class == "circuit_breaker_open" and not refused.will_retry
    assert "does not retry" in reason or "circuit breaker is open" in reason
    assert len(receiver.requests) == requests_before  # nothing was sent
    clock.now += 60
    receiver.default = Behaviour(status=200)
    result, _, seen = _deliver([receiver.url], "server", clock=clock, breaker=breaker)
    assert result.delivered  # the probe succeeded: closed again
    assert breaker.refusal(receiver.url) is None


def test_failures_outside_the_window_do_not_add_up() -> None:
    clock = Clock()
    breaker = CircuitBreaker(clock=clock.monotonic)
    for _ in range(5):
        assert not breaker.record("u", success=False)
    clock.now += 10
    for _ in range(5):
        assert not breaker.record("u", success=False)
    assert breaker.refusal("u") is None  # 10 failures, but never 6 within 10 s
    assert breaker.record("u", success=False) is True  # the 6th in this window opens it
    assert breaker.refusal("u") is not None
    assert breaker.refusal("other") is None  # per URL


def test_a_failed_probe_opens_it_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(threshold=1, clock=clock.monotonic)
    breaker.record("u", False)
    assert breaker.record("u", False) is True
    clock.now += 60
    assert breaker.refusal("u") is None  # the probe
    assert breaker.refusal("u") is not None  # another while the probe is out
    assert breaker.record("u", False) is True
    assert breaker.refusal("u") is not None


# ---------------------------------------------------------------- contract pieces


def test_next_hop_follows_axios_rules() -> None:
    post = Outgoing(
        "POST",
        "https://a.example/hook",
        {"content-type": "application/json", "authorization": "x", "x-nango-hmac-sha256": "s"},
        b"{}",
    )
    assert next_hop(post, 200, "/x") is None
    assert next_hop(post, 302, None) is None
    hop = next_hop(post, 302, "/moved")
    assert hop is not None and hop.note is None
    assert (hop.request.method, hop.request.url, hop.request.body) == (
        "GET",
        "https://a.example/moved",
        None,
    )
    assert "content-type" not in hop.request.headers
    hop = next_hop(post, 308, "http://b.example/x")
    assert hop is not None and hop.request.method == "POST" and hop.request.body == b"{}"
    assert hop.note == "redirected to another host (b.example); redirected from https to http"
    assert "authorization" not in hop.request.headers  # dropped across hosts, as axios does
    assert "x-nango-hmac-sha256" in hop.request.headers


def test_merge_headers_is_case_insensitive_and_later_layers_win() -> None:
    merged = merge_headers(
        {"X-Nango-Hmac-Sha256": "spoofed", "Accept": "*/*", "X-GitHub-Event": "issues"},
        {"accept": "application/json"},
        {"x-nango-hmac-sha256": "real"},
    )
    assert merged == {
        "x-nango-hmac-sha256": "real",
        "accept": "application/json",
        "X-GitHub-Event": "issues",
    }


def test_body_cap_is_honest_about_truncation() -> None:
    exact = BodyCap(4)
    assert not exact.feed(b"ab") and not exact.feed(b"cd")
    assert exact.content == b"abcd" and not exact.truncated
    over = BodyCap(4)
    assert over.feed(b"abcde")
    assert over.content == b"abcd" and over.truncated


def test_a_non_transport_error_is_raised_not_recorded_as_network(receiver: Receiver) -> None:
    """Before, any exception during a send became a retried "network" attempt (a header
    httpx could not encode, say); now only transport failures are attempts."""
    sender = HttpxSender()
    with pytest.raises(UnicodeEncodeError):
        sender.send(receiver.url, BODY, {"x-redacted": "\u2026 redacted"}, 5.0)
    assert receiver.requests == []


# ---------------------------------------------------------------- proxies


def test_proxy_decision_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    assert proxy_for("https://hooks.example.com/x") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.corp:3128")
    monkeypatch.setenv("HTTP_PROXY", "proxy.corp:8080")
    assert proxy_for("https://hooks.example.com/x") == "http://proxy.corp:3128"
    assert proxy_for("http://hooks.example.com/x") == "http://proxy.corp:8080"
    for loopback in ("http://127.0.0.1:3000/", "http://localhost:3000/", "http://[::1]:3000/"):
        assert proxy_for(loopback) is None  # never for loopback
    monkeypatch.setenv("NO_PROXY", ".example.com, 10.0.0.0/8, other.test:8443")
    assert proxy_for("https://hooks.example.com/x") is None
    assert proxy_for("https://example.com/x") is None
    assert proxy_for("http://10.1.2.3/x") is None
    assert proxy_for("https://other.test:8443/x") is None
    assert proxy_for("https://other.test/x") == "http://proxy.corp:3128"
    monkeypatch.setenv("NO_PROXY", "*")
    assert proxy_for("https://hooks.example.com/x") is None


class _ForwardProxy(http.server.BaseHTTPRequestHandler):
    """A forward proxy that answers for the origin itself (the test never leaves 127.0.0.1)."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).seen.append((self.command, self.path))
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_non_loopback_target_goes_through_the_proxy(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _ForwardProxy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _ForwardProxy.seen = []
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        attempt = HttpxSender().send("http://hooks.example.test/nango", BODY, HEADERS, 5.0)
        assert attempt.status_code == 202
        assert _ForwardProxy.seen == [("POST", "http://hooks.example.test/nango")]
        # loopback targets bypass the proxy
        assert HttpxSender().send(receiver.url, BODY, HEADERS, 5.0).status_code == 200
        assert len(_ForwardProxy.seen) == 1 and len(receiver.requests) == 1
    finally:
        server.shutdown()


# ---------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def tls_receiver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Receiver, Path]]:
    """The receiver behind TLS, with a certificate from a CA of the test's own."""
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    with Receiver() as receiver:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        yield receiver, ca_path


def test_https_with_the_servers_ca(tls_receiver: tuple[Receiver, Path]) -> None:
    receiver, ca_path = tls_receiver
    url = receiver.url.replace("http://", "https://")
    attempt = HttpxSender(TLSOptions(ca_cert=str(ca_path))).send(url, BODY, HEADERS, 5.0)
    assert attempt.status_code == 200


def test_https_self_signed_is_a_tls_error_unless_trusted(
    tls_receiver: tuple[Receiver, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver, ca_path = tls_receiver
    url = receiver.url.replace("http://", "https://")
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    attempt = HttpxSender().send(url, BODY, HEADERS, 5.0)
    assert attempt.error_class == "tls" and "not trusted" in (attempt.error or "")
    assert HttpxSender(TLSOptions(insecure=True)).send(url, BODY, HEADERS, 5.0).status_code == 200
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_path))
    assert HttpxSender().send(url, BODY, HEADERS, 5.0).status_code == 200


# ---------------------------------------------------------------- one attempt loop


def test_the_attempt_loop_lives_in_one_module() -> None:
    """delivery/attempts.py's `attempt_loop` follows redirects, counts hops and says
    what an attempt was; the senders make one request each when asked. Before, each of
    the three wrote that loop again, so tests on the mock never ran the real one."""
    import ast

    from nango_cli import delivery

    decides = {"next_hop", "MAX_REDIRECTS", "answered_attempt", "failed_attempt", "Hop"}
    for name in ("httpx_sender", "aiohttp_sender", "mock"):
        path = Path(delivery.__file__).parent / f"{name}.py"
        used = {n.id for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Name)}
        imported = {
            alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        assert (used | imported) & decides == set(), name
        assert {"attempt_loop"} <= imported, name


def _chain(final_url: str) -> list[Behaviour]:
    return [
        Behaviour(status=307, headers={"Location": "/moved"}),
        Behaviour(status=302, headers={"Location": final_url}),
    ]


def test_the_mock_sender_walks_a_redirect_chain_as_the_network_senders_do() -> None:
    """The same chain (a 307 on the same host, then a 302 to another) through httpx's
    sender against real sockets and through the mock gives the same attempt."""
    from nango_cli.delivery.mock import MockResponse, MockSender

    with Receiver() as first, Receiver() as final:
        for behaviour in _chain(final.url):
            first.then(behaviour)
        real = HttpxSender().send(first.url, BODY, {**HEADERS, "authorization": "x"}, 5.0)

        answers = {
            first.url: MockResponse(307, {"Location": "/moved"}),
            first.url.rsplit("/", 1)[0] + "/moved": MockResponse(302, {"Location": final.url}),
            final.url: MockResponse(200, {"Content-Type": "application/json"}, b'{"ok":true}'),
        }
        mock = MockSender(lambda request: answers[request.url])
        mocked = mock.send(first.url, BODY, {**HEADERS, "authorization": "x"}, 5.0)

    def shape(a: AttemptRecord) -> tuple[object, ...]:
        return (a.outcome, a.status_code, a.redirects, a.note, a.response_body)

    assert shape(mocked) == shape(real)
    assert real.redirects == [first.url.rsplit("/", 1)[0] + "/moved", final.url]
    assert real.note == f"redirected to another host ({final.url.split('/')[2]})"
    # The 302 made it a GET without a body; crossing hosts dropped the credentials.
    assert [(r.method, r.body) for r in mock.requests] == [
        ("POST", BODY),
        ("POST", BODY),
        ("GET", b""),
    ]
    assert "authorization" not in {k.lower() for k in mock.requests[-1].headers}
    assert final.requests[0].method == "GET"
    assert "authorization" not in {k.lower() for k in final.requests[0].headers}


@pytest.mark.parametrize("sender", ["httpx", "aiohttp"])
def test_a_redirect_dripping_its_body_is_followed_at_once(sender: str) -> None:
    """follow-redirects destroys a redirect's response unread; so do the transports
    (attempts.followed): a 307 whose body would take 5.5 s does not make the 2 s attempt
    time out; read, it would."""
    import asyncio

    from nango_cli.delivery.aiohttp_sender import AiohttpSender

    with Receiver() as first, Receiver() as final:
        first.then(Behaviour(status=307, headers={"Location": final.url}, drip=True, delay=0.5))
        if sender == "httpx":
            attempt = HttpxSender().send(first.url, BODY, HEADERS, 2.0)
        else:

            async def send() -> AttemptRecord:
                load = AiohttpSender(1)
                try:
                    return await load.send(first.url, BODY, HEADERS, 2.0)
                finally:
                    await load.close()

            attempt = asyncio.run(send())
    assert (attempt.outcome, attempt.status_code, attempt.redirects) == (
        "success",
        200,
        [final.url],
    )
