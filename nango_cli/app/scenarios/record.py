"""`scenario record`: what one connection was sent (fired or received), as a scenario
that reproduces it: fire's options where `fire` builds the same body (the exact bytes
in a sidecar file otherwise), forgeries as `sign:` steps, the faults the API played as
`api_fault` steps, `fetched` where the handler fetched. It records Nango's contract,
not the answers seen (those are comments). `scenario init`: a starter file.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nango_cli.app.scenarios import refs
from nango_cli.app.scenarios.judge import READS
from nango_cli.app.scenarios.model import TAMPERED_SUFFIX
from nango_cli.delivery.history_rows import WebhookRecord
from nango_cli.protocol import serialization, vocabulary
from nango_cli.storage.api_log import ApiRequest

HMAC = vocabulary.HMAC_HEADER.lower()
LEGACY = vocabulary.LEGACY_HEADER.lower()

# Fields of a sync webhook that `fire` sets from its options; any other field, or
# another value, keeps the exact body instead.
_SYNC_FIELDS = {
    "from",
    "type",
    "connectionId",
    "providerConfigKey",
    "syncName",
    "model",
    "syncType",
    "syncVariant",
    "success",
    "modifiedAfter",
    "responseResults",
    "queryTimeStamp",
}


@dataclass
class Recorded:
    """A scenario file's text, and the sidecar bodies it points at (name -> bytes)."""

    text: str
    sidecars: dict[str, bytes]
    steps: int


def _sync_step(body: dict[str, Any]) -> dict[str, Any] | None:
    """fire's options for a sync body it would build the same, else None."""
    if set(body) - _SYNC_FIELDS or body.get("from") != "nango":
        return None
    results = body.get("responseResults")
    if body.get("success") is not True or not isinstance(results, dict):
        return None
    if set(results) - {"added", "updated", "deleted"}:
        return None
    model = body.get("model")
    step: dict[str, Any] = {"sync": body.get("syncName")}
    for key in ("added", "updated", "deleted"):
        count = results.get(key)
        if not isinstance(count, int) or isinstance(count, bool):
            return None
        if count or key == "added":
            step[key] = {model: count}
    if body.get("syncType") == "INITIAL":
        step["initial"] = True
    if body.get("syncVariant") not in (None, "base"):
        step["variant"] = body["syncVariant"]
    return step


def _auth_step(body: dict[str, Any]) -> dict[str, Any] | None:
    known = {
        "from",
        "type",
        "connectionId",
        "providerConfigKey",
        "authMode",
        "provider",
        "environment",
        "operation",
        "success",
        "endUser",
        "error",
        "tags",
    }
    if set(body) - known or body.get("operation") not in (
        "creation",
        "override",
        "refresh",
        "deletion",
    ):
        return None
    step: dict[str, Any] = {"auth": body["operation"]}
    if body.get("success") is False:
        step["failed"] = True
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("description"), str):
            step["error_message"] = error["description"]
    if isinstance(body.get("provider"), str) and body["provider"] != body.get("providerConfigKey"):
        step["provider"] = body["provider"]
    end_user = body.get("endUser")
    if isinstance(end_user, dict) and isinstance(end_user.get("endUserId"), str):
        step["end_user_id"] = end_user["endUserId"]
    return step


def _step_for(body: Any) -> dict[str, Any] | None:
    if not isinstance(body, dict):
        return None
    kind = body.get("type")
    if kind == "sync":
        return _sync_step(body)
    if kind == "auth":
        return _auth_step(body)
    if kind == "forward" and set(body) <= {
        "from",
        "type",
        "connectionId",
        "providerConfigKey",
        "payload",
    }:
        step: dict[str, Any] = {"forward": body.get("payload")}
        if isinstance(body.get("from"), str) and body["from"] != body.get("providerConfigKey"):
            step["provider"] = body["from"]  # the provider Nango named the forward after
        return step
    return None


def record(
    webhooks: list[WebhookRecord],
    name: str,
    file_stem: str,
    calls: list[ApiRequest] | None = None,
) -> Recorded:
    """A scenario reproducing `webhooks` (oldest first, one connection's) and the API
    calls made meanwhile (`calls`: faults the API played, fetches the handler made).

    It records the contract, not the answers seen: Nango's webhooks expect what the
    defaults say (2xx), forgeries are judged as forgeries, a sync the handler fetched
    expects that fetch; each answer seen is a comment above its step."""
    calls = calls or []
    integrations = Counter(w.provider_config_key for w in webhooks if w.provider_config_key)
    integration = integrations.most_common(1)[0][0] if integrations else None
    steps: list[dict[str, Any]] = []
    notes: list[list[str]] = []
    sidecars: dict[str, bytes] = {}
    previous: bytes | None = None
    short: Any = False
    for index, webhook in enumerate(webhooks):
        until = _window_end(webhooks, index)
        under = [
            c
            for c in calls
            if webhook.created_at <= c.created_at and (until is None or c.created_at < until)
        ]
        short = _faults_before(steps, notes, under, short)
        seen = [f"answered {_answer_of(webhook)}"]
        if webhook.body == previous and not webhook.negative:
            step: dict[str, Any] = {"duplicate": "previous"}
        else:
            previous = webhook.body
            step = _webhook_step(webhook, file_stem, len(steps) + 1, sidecars, integration)
            merged = step.get("sync") is not None and not webhook.negative
            if merged and _merge(steps, step, webhook):
                notes[-1].append(f"and {_answer_of(webhook)}")
                _expect_fetched(steps[-1], under, webhook)
                continue
        if webhook.attempt_count > 1:
            seen.append(f"after {webhook.attempt_count} attempts")
        if not webhook.negative and (webhook.attempt_count > 1 or _retried_by_nango(webhook)):
            step["retry"] = True  # Nango retries it: so does the scenario
        if step.get("sync") is not None and not webhook.negative:
            _expect_fetched(step, under, webhook)
        steps.append(step)
        notes.append(seen)
    data: dict[str, Any] = {"version": 1, "name": name}
    if integration:
        data["integration"] = integration
    data["steps"] = steps
    return Recorded(_dump(data, notes, len(webhooks)), sidecars, len(steps))


def _window_end(webhooks: list[WebhookRecord], index: int) -> str | None:
    """When the calls made under webhook `index` end: at the next webhook that is not
    part of the same sync run (a run's per-model webhooks go out together)."""
    key = _run_key(webhooks[index])
    for later in webhooks[index + 1 :]:
        if not key or _run_key(later) != key:
            return later.created_at
    return None


def _retried_by_nango(webhook: WebhookRecord) -> bool:
    """A final answer Nango retries (a 5xx, or none): the scenario sends it as Nango
    would, so a handler that answered 5xx on a failed fetch passes on the retry."""
    code = webhook.last_status_code
    return code is None or code >= 500


def _answer_of(webhook: WebhookRecord) -> str:
    code = webhook.meta.get("answered") if webhook.direction == "received" else None
    code = code if isinstance(code, int) else webhook.last_status_code
    return str(code) if code is not None else "nothing"


def _webhook_step(
    webhook: WebhookRecord,
    file_stem: str,
    number: int,
    sidecars: dict[str, bytes],
    integration: str | None,
) -> dict[str, Any]:
    """fire's options where `fire` builds the same body, else the bytes in a sidecar;
    a forgery as a `sign:` step."""
    try:
        body = serialization.parse_json(webhook.body)
    except (ValueError, UnicodeDecodeError):
        body = None
    step = _step_for(_untampered(body) if webhook.negative else body)
    if step is None or (not webhook.negative and serialization.serialize(body) != webhook.body):
        sidecar = f"{file_stem}.step{number}.body"
        sidecars[sidecar] = webhook.body
        step = {"body": sidecar}
    elif webhook.provider_config_key not in (None, integration):
        step["integration"] = webhook.provider_config_key
    if webhook.negative:
        step["sign"] = _forged_how(webhook, body)
    # Text that came in a webhook stays text: `${` written `$${`, never a reference.
    escaped: dict[str, Any] = refs.escape(step)
    return escaped


def _tampered(body: Any) -> bool:
    return isinstance(body, dict) and str(body.get("connectionId", "")).endswith(TAMPERED_SUFFIX)


def _untampered(body: Any) -> Any:
    if _tampered(body):
        return {**body, "connectionId": str(body["connectionId"])[: -len(TAMPERED_SUFFIX)]}
    return body


def _forged_how(webhook: WebhookRecord, body: Any) -> str:
    """How a deliberate negative was signed, from what it carried."""
    names = {k.lower() for k in webhook.headers}
    if _tampered(body):
        return "tampered"
    has_hmac, has_legacy = HMAC in names, LEGACY in names
    if not has_hmac and not has_legacy:
        return "none"
    if has_legacy and not has_hmac:
        return "legacy-only"
    if has_hmac and not has_legacy:
        return "hmac-only"
    return "bad"


def _faults_before(
    steps: list[dict[str, Any]], notes: list[list[str]], under: list[ApiRequest], short: Any
) -> Any:
    """The faults the API played on the records requests made under the next webhook,
    as an `api_fault` step before it; returns the short-pages state after it."""
    played = [json.loads(c.fault) for c in under if c.fault]
    reads = [c for c in under if c.path.rstrip("/") in READS]
    now_short = next((p.get("short_pages", False) for p in played), False) if reads else short
    fault: dict[str, Any] = {}
    if now_short != short:
        fault["short_pages"] = now_short
    statuses = [p["status"] for p in played if "status" in p]
    latencies = [p["latency"] for p in played if "latency" in p]
    if statuses:
        fault.update(status=statuses[0], times=len(statuses))
    elif latencies:
        fault.update(latency=f"{latencies[0]:g}s", times=len(latencies))
    if fault:
        steps.append({"api_fault": fault})
        notes.append(["the API played this on the handler's records requests"])
    return now_short


def _expect_fetched(step: dict[str, Any], under: list[ApiRequest], webhook: WebhookRecord) -> None:
    """Note whether the handler read the webhook's model under it (and to a null
    next_cursor): `_fetched_expectation` turns the notes into the step's `fetched`."""
    reads = [
        c
        for c in under
        if c.method == "GET"
        and c.path.rstrip("/") in READS
        and c.connection_id == webhook.connection_id
        and c.model == webhook.model
    ]
    to_end = any(c.status == 200 and not c.next_cursor for c in reads)
    step.setdefault("_fetch", []).append("all" if to_end else "some" if reads else None)


def _fetched_expectation(step: dict[str, Any]) -> None:
    """`fetched` when the handler read every model of the step (every page, when it
    read each to the end)."""
    seen = step.pop("_fetch", None)
    if not seen or None in seen:
        return
    fetched: Any = {"all_pages": True} if all(s == "all" for s in seen) else True
    step.setdefault("expect", {})["fetched"] = fetched


def _merge(steps: list[dict[str, Any]], step: dict[str, Any], webhook: WebhookRecord) -> bool:
    """A sync's per-model webhooks (one run: same sync and modifiedAfter, sent together)
    become one step with counts per model."""
    last = steps[-1] if steps else {}
    if last.get("sync") != step["sync"] or last.get("_run") != _run_key(webhook):
        step["_run"] = _run_key(webhook)
        return False
    for key in ("added", "updated", "deleted"):
        if key in step:
            last.setdefault(key, {}).update(step[key])
    return True


def _run_key(webhook: WebhookRecord) -> str:
    try:
        body = serialization.parse_json(webhook.body)
    except (ValueError, UnicodeDecodeError):
        return ""
    return f"{webhook.connection_id}|{body.get('modifiedAfter')}" if isinstance(body, dict) else ""


def _dump(data: dict[str, Any], notes: list[list[str]], count: int) -> str:
    """YAML, each step under a comment saying what was seen (never an expectation)."""
    import yaml

    steps = data.pop("steps")
    head = (
        f"# Recorded by `nango-hooks scenario record` from {count} webhook(s).\n"
        "# Run it: nango-hooks scenario run THIS_FILE (docs/scenarios.md has every key)\n"
    )
    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    lines = [head + text + "steps:"]
    for step, seen in zip(steps, notes, strict=True):
        step.pop("_run", None)
        _fetched_expectation(step)
        lines.append(f"  # {'; '.join(seen)}")
        dumped = yaml.safe_dump([step], sort_keys=False, allow_unicode=True, width=96)
        lines.append("\n".join("  " + line for line in dumped.rstrip("\n").split("\n")))
    return "\n".join(lines) + "\n"


def write_recorded(recorded: Recorded, path: Path) -> list[Path]:
    """The scenario and its sidecars, 0600, nothing overwritten (FileExistsError, a
    dangling link included); the files written through a link of the user's own."""
    from nango_cli.support import files

    targets = [path] + [path.parent / name for name in recorded.sidecars]
    for target in targets:
        if target.exists() or target.is_symlink():
            raise FileExistsError(str(target))
    written = [files.atomic_write(path, recorded.text.encode())]
    for name, body in recorded.sidecars.items():
        written.append(files.atomic_write(path.parent / name, body))
    return [w.path for w in written if w.through_symlink]


def starter(syncs: dict[str, tuple[str, list[str]]]) -> str:
    """A commented starter scenario for the first of `syncs` (name -> integration,
    models), or an example sync."""
    name, (integration, models) = next(
        iter(syncs.items()), ("github-tickets", ("github", ["Ticket"]))
    )
    model = models[0] if models else "Ticket"
    m = json.dumps(model)
    return f"""\
# A scenario: one connection's lifecycle, step by step, and what your handler must
# do at each. Run it against your handler (the environment's url):
#
#   nango-hooks scenario run {{FILE}}
#
# It serves the Nango API your handler calls back (NANGO_HOST, printed at the start).
# Every key is in docs/scenarios.md; `nango-hooks scenario schema` prints the schema.
version: 1
name: lifecycle
integration: {integration}
sync: {name}
# connection: c-1        # default: a fresh connection id per run
steps:
  - name: connect
    auth: creation
    expect: {{status: 2xx}}

  - name: first sync
    sync: {name}
    initial: true
    added: {{{m}: 12}}
    expect:
      status: 2xx
      fetched: {{all_pages: true, within: 5s}}   # GET /records, every page
      # state: http://127.0.0.1:3000/state/{{connection}}/{{model}}   # your app's ids

  - name: retried by Nango
    duplicate: previous      # the same bytes again: accept, and do not apply twice

  - name: changes
    sync: {name}
    added: {{{m}: 2}}
    updated: {{{m}: 3}}
    deleted: {{{m}: 1}}
    expect:
      fetched: {{all_pages: true}}

  - name: Nango's API fails once
    api_fault: {{status: 500, times: 1}}

  - name: a sync while it fails
    sync: {name}
    added: {{{m}: 1}}
    retry: true              # sent as Nango retries it (a step is sent once otherwise)
    expect:                  # judged on the outcome: answer 5xx or retry the fetch
      fetched: {{all_pages: true}}

  - name: refresh failed
    auth: refresh
    failed: true

  - name: disconnect
    auth: deletion
"""
