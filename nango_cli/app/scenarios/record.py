"""`scenario record`: what was fired or received, as a scenario that reproduces it
(fire's options where `fire` builds the same body, the exact bytes in a sidecar file
otherwise), with the answers seen as expectations. `scenario init`: a starter file.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nango_cli.delivery.records import WebhookRecord
from nango_cli.protocol import serialization

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


def _status_of(webhook: WebhookRecord) -> str | None:
    if webhook.direction == "received":
        code = webhook.meta.get("answered")
    else:
        code = webhook.last_status_code
    if not isinstance(code, int):
        return None
    return f"{str(code)[0]}xx" if 200 <= code < 300 else str(code)


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
        return {"forward": body.get("payload")}
    return None


def record(webhooks: list[WebhookRecord], name: str, file_stem: str) -> Recorded:
    """A scenario reproducing `webhooks` (oldest first)."""
    genuine = [w for w in webhooks if not w.negative]
    integrations = Counter(w.provider_config_key for w in genuine if w.provider_config_key)
    connections = {w.connection_id for w in genuine if w.connection_id}
    integration = integrations.most_common(1)[0][0] if integrations else None
    steps: list[dict[str, Any]] = []
    sidecars: dict[str, bytes] = {}
    previous: bytes | None = None
    for webhook in genuine:
        expect = {"status": _status_of(webhook)} if _status_of(webhook) else {}
        if webhook.body == previous:
            steps.append({"duplicate": "previous", **({"expect": expect} if expect else {})})
            continue
        previous = webhook.body
        try:
            body = serialization.parse_json(webhook.body)
        except (ValueError, UnicodeDecodeError):
            body = None
        step = _step_for(body)
        if step is None or serialization.serialize(body) != webhook.body:
            sidecar = f"{file_stem}.step{len(steps) + 1}.body"
            sidecars[sidecar] = webhook.body
            step = {"body": sidecar}
        elif step.get("sync") is not None and _merge(steps, step, webhook):
            continue
        if step.get("body") is None:
            if len(connections) > 1 and webhook.connection_id:
                step["connection"] = webhook.connection_id
            if webhook.provider_config_key not in (None, integration):
                step["integration"] = webhook.provider_config_key
        if expect:
            step["expect"] = expect
        steps.append(step)
    data: dict[str, Any] = {"version": 1, "name": name}
    if integration:
        data["integration"] = integration
    data["steps"] = steps
    return Recorded(_dump(data, len(webhooks)), sidecars, len(steps))


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


def _dump(data: dict[str, Any], count: int) -> str:
    import yaml

    for step in data["steps"]:
        step.pop("_run", None)
    head = (
        f"# Recorded by `nango-hooks scenario record` from {count} webhook(s).\n"
        "# Run it: nango-hooks scenario run THIS_FILE (docs/scenarios.md has every key)\n"
    )
    text: str = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
    return head + text


def write_recorded(recorded: Recorded, path: Path) -> None:
    """The scenario and its sidecars, 0600, nothing overwritten (FileExistsError)."""
    from nango_cli.support import files

    targets = [path] + [path.parent / name for name in recorded.sidecars]
    for target in targets:
        if target.exists():
            raise FileExistsError(str(target))
    files.atomic_write(path, recorded.text.encode())
    for name, body in recorded.sidecars.items():
        files.atomic_write(path.parent / name, body)


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
    expect:
      status: 5xx            # a handler that answers first and fetches after: 2xx

  - name: refresh failed
    auth: refresh
    failed: true

  - name: disconnect
    auth: deletion
"""
