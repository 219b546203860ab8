"""`check`'s fetches-records: seed records through the API, announce them, and watch
the handler fetch them (with the webhook's modifiedAfter, to the last page)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nango_cli.app.check_specs import CheckResult, CheckSpec
from nango_cli.protocol import bodies
from nango_cli.support import timefmt
from nango_cli.support.timefmt import same_moment

if TYPE_CHECKING:
    from nango_cli.app.check import Runner


def fetches_records(runner: Runner, spec: CheckSpec) -> CheckResult:
    """Seed records through the API, announce them, then watch the handler fetch."""
    import time

    from nango_cli.delivery.httpx_sender import CallFailed, call_json

    t = runner.t
    assert t.api_url is not None
    modified_after = timefmt.now_timestamp()
    counts = {"added": 3, "updated": 1, "deleted": 1}
    headers = {"X-Nango-Hooks-Token": t.api_token or ""}
    base = t.api_url.rstrip("/")
    try:
        status, seeded = call_json(
            "POST",
            f"{base}/_nango-hooks/changes",
            headers=headers,
            json_body={
                "connection_id": t.connection_id,
                "provider_config_key": t.integration,
                "model": t.models[0],
                "modified_after": modified_after,
                **counts,
            },
        )
        if status == 401:
            raise CallFailed(
                "its internal endpoints refused check: it is not the `nango-hooks api` "
                "running on this machine (start one here, or leave --api out)"
            )
        if status != 200:
            raise CallFailed(f"{status} {str(seeded)[:200]}")
        body = bodies.sync_success(
            connection_id=t.connection_id,
            provider_config_key=t.integration,
            sync_name=t.sync_name,
            model=t.models[0],
            modified_after=modified_after,
            added=counts["added"],
            updated=counts["updated"],
            deleted=counts["deleted"],
        )
        sent = runner.send([runner.webhook(body)], announce=False)  # seeded above
        ids = [s.record.id for s in sent]
        if not sent[0].delivered:
            return runner.accepted(spec, sent)
        deadline = time.monotonic() + t.fetch_wait
        fetches: list[dict[str, Any]] = []
        refused: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            time.sleep(0.1)
            _, log = call_json(
                "GET",
                f"{base}/_nango-hooks/requests",
                headers=headers,
                params={"since": modified_after},
            )
            reads = [
                r
                for r in log
                if r["method"] == "GET" and r["path"].rstrip("/") in ("/records", "/sync/records")
            ]
            refused = [r for r in reads if r["status"] == 401]
            fetches = [
                r
                for r in reads
                if r["connection_id"] == t.connection_id and r["model"] == t.models[0]
            ]
            started = any(
                same_moment(str(value), modified_after)
                for f in fetches
                for value in f["query"].get("modified_after", [])
            )
            if started and fetches[-1]["status"] == 200 and not fetches[-1]["next_cursor"]:
                break
    except (CallFailed, ValueError, TypeError, KeyError) as exc:
        return spec.result(f"could not use the API at {base}: {exc}", "fail", [])
    if refused and not fetches:
        return spec.result(
            f"GET /records refused with 401 {refused[0]['error_code']}: is the handler using "
            "the secret key this API expects (the environment's secret_key)?",
            "fail",
            ids,
        )
    return _judge_fetches(runner, spec, fetches, modified_after, sum(counts.values()), ids)


def _judge_fetches(
    runner: Runner,
    spec: CheckSpec,
    fetches: list[dict[str, Any]],
    modified_after: str,
    changed: int,
    ids: list[str],
) -> CheckResult:
    def since_of(fetch: dict[str, Any]) -> str | None:
        query = fetch["query"]
        values = query.get("modified_after") or query.get("delta") or [None]
        return str(values[0]) if values[0] is not None else None

    # This webhook's fetch: the first with its modifiedAfter, and the pages after it
    # (a handler still fetching for an earlier webhook has another modifiedAfter).
    ours = [i for i, f in enumerate(fetches) if same_moment(since_of(f) or "", modified_after)]
    if not ours:
        full = [f for f in fetches if since_of(f) is None and "cursor" not in f["query"]]
        other = [since_of(f) for f in fetches if since_of(f) is not None]
        if full:
            return spec.result(
                f"fetched without modified_after: {len(full)} page(s) of every record; "
                "pass the webhook's modifiedAfter to read only what changed",
                "fail",
                ids,
            )
        if other:
            return spec.result(
                f"fetched with modified_after={other[-1]}, not the webhook's modifiedAfter "
                f"({modified_after})",
                "fail",
                ids,
            )
        return spec.result(
            f"no GET /records for connection {runner.t.connection_id!r} and model "
            f"{runner.t.models[0]!r} within {runner.t.fetch_wait:g}s of the webhook",
            "fail",
            ids,
        )
    fetches = [
        f
        for f in fetches[ours[0] :]
        if since_of(f) is None or same_moment(since_of(f) or "", modified_after)
    ]
    failed = [f for f in fetches if f["status"] != 200]
    if failed:
        return spec.result(
            f"GET /records answered {failed[0]['status']} ({failed[0]['error_code']})",
            "fail",
            ids,
        )
    got = sum(int(f["record_count"] or 0) for f in fetches)
    pages = len(fetches)
    if fetches[-1]["next_cursor"]:
        return spec.result(
            f"stopped after {pages} page(s) ({got} records) with next_cursor still set: "
            "the rest were never read",
            "fail",
            ids,
        )
    return spec.result(
        f"fetched {got} of {changed} changed records in {pages} page(s)", "pass", ids
    )
