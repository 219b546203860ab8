"""The delivery engine against real loopback receivers; only the backoff clock is fake."""

from __future__ import annotations

import pytest

from nango_cli.delivery import Sender, deliver, make_policy
from nango_cli.store import AttemptRecord
from tests.receiver import Behaviour, Receiver, free_port

BODY = b'{"type":"sync"}'
HEADERS = {"content-type": "application/json"}


class Clock:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def _deliver(targets: list[str], policy: str, retries: int | None = None, timeout: float = 5.0):
    clock = Clock()
    seen: list[tuple[AttemptRecord, str]] = []
    sender = Sender()
    try:
        result = deliver(
            BODY,
            HEADERS,
            targets,
            make_policy(policy, retries),
            timeout,
            sender,
            lambda a, r: seen.append((a, r)),
            clock.sleep,
        )
    finally:
        sender.close()
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
