"""`nango-hooks check` (a conformance suite for a webhook handler) and `nango-hooks syncs`."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.state import EnvOption, JsonOption, settings, use

if TYPE_CHECKING:
    from nango_cli.check import CheckResult

NangoYamlOption = Annotated[
    str | None,
    typer.Option(
        "--nango-yaml",
        help="nango.yaml to read. [default: ./nango.yaml or ./nango-integrations/nango.yaml]",
    ),
]
_STYLE = {"pass": "green", "warn": "yellow", "fail": "red"}


def _names(values: list[str] | None) -> list[str]:
    from nango_cli.check import CHECK_NAMES
    from nango_cli.errors import UsageError

    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown:
        raise UsageError(f"unknown check {unknown[0]!r}", hint="checks: " + ", ".join(CHECK_NAMES))
    return names


def check(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Argument(help="The handler's URL. [default: the environment's url]")
    ] = None,
    sync: Annotated[
        str | None, typer.Option("--sync", "-s", help="Sync to use in the webhooks.")
    ] = None,
    integration: Annotated[
        str | None, typer.Option("--integration", "-i", help="providerConfigKey.")
    ] = None,
    connection: Annotated[
        str | None, typer.Option("--connection", "-c", help="connectionId.")
    ] = None,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only these checks (comma-separated).")
    ] = None,
    skip: Annotated[list[str] | None, typer.Option("--skip", help="Skip these checks.")] = None,
    timeout: Annotated[
        str | None, typer.Option("--timeout", help="Deadline per webhook. [default: 20s, Nango's]")
    ] = None,
    retry_policy: Annotated[
        str | None, typer.Option("--retry-policy", help="Policy used to explain failures.")
    ] = None,
    nango_yaml: NangoYamlOption = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Test a webhook handler against Nango's contract; exit 0 only if every required check passes.

    Checks: sync, sync-error, auth-creation, auth-refresh-failure, forward, async-action,
    unknown-type, tampered-body, wrong-key, missing-signature, legacy-only (warn only),
    duplicate, concurrent-models. README explains each.
    """
    from nango_cli.check import CHECK_NAMES, CheckTarget, run_checks
    from nango_cli.cli.delivery_view import delivery_flags
    from nango_cli.cli.fire_cmd import checked_url
    from nango_cli.errors import CheckFailedError, ConfigError
    from nango_cli.fire import FireOptions, connection_for, resolve_sync
    from nango_cli.store import Store

    state = use(ctx, env, json_output)
    chosen = _names(only) or list(CHECK_NAMES)
    skipped = set(_names(skip))
    names = [n for n in chosen if n not in skipped]
    current = settings(state, delivery_flags(retry_policy, None, timeout))
    target_url = checked_url(url) if url else current["url"]
    if not target_url:
        raise ConfigError(
            "no handler URL to check", hint="pass URL, or `nango-hooks config set-url`"
        )
    if not current["signing_key"]:
        raise ConfigError(
            f"check signs webhooks, and environment {current.env!r} has no signing key",
            hint="set it with `nango-hooks config set-key`",
        )
    notes: list[str] = []
    opts = FireOptions(
        sync_name=sync or _default_sync(current, nango_yaml),
        integration=integration,
        connection_id=connection,
        nango_yaml=nango_yaml,
    )
    sync_integration, models = resolve_sync(opts, current, notes)
    for text in notes:
        output.note(text)
    target = CheckTarget(
        url=target_url,
        key=current["signing_key"],
        env=current.env,
        sync_name=str(opts.sync_name),
        integration=sync_integration,
        models=models,
        connection_id=connection_for(opts, current, []),
        timeout=float(current["timeout"]),
        policy=current["retry_policy"],
    )
    if not state.json:
        output.err(f"checking {target_url} ({len(names)} checks, sync {opts.sync_name})")
    with Store.open_default() as store:
        results = run_checks(target, store, names, (lambda r: None) if state.json else _progress)
    failed = [r for r in results if r.failed]
    if state.json:
        output.emit_json(
            {"ok": not failed, "url": target_url, "checks": [r.to_dict() for r in results]}
        )
    else:
        _table(results)
    if failed:
        error = CheckFailedError(
            f"{len(failed)} required check(s) failed: {', '.join(r.name for r in failed)}",
            hint="README.md, section Check, says why each matters",
        )
        output.show_error(error, json_mode=False)
        raise typer.Exit(int(error.exit_code))


def _default_sync(current: object, nango_yaml: str | None) -> str:
    """The first sync the project knows (config, then nango.yaml), else an example one."""
    from nango_cli.config import Settings
    from nango_cli.nango_yaml import discover

    assert isinstance(current, Settings)
    configured = current.file.syncs()
    if configured:
        return next(iter(configured))
    _, found = discover(nango_yaml or current["nango_yaml"])
    return next(iter(found), "github-tickets")


def _progress(result: CheckResult) -> None:
    mark = output.paint(result.verdict, _STYLE[result.verdict], sys.stderr)
    output.err(f"  {mark} {result.name}")


def _table(results: list[CheckResult]) -> None:
    output.table(
        ["check", "expected", "happened", "verdict"],
        [
            [
                r.name,
                r.expectation,
                output.safe(r.happened, False),
                output.paint(
                    r.verdict + ("" if r.required else " (optional)"), _STYLE[r.verdict], sys.stdout
                ),
            ]
            for r in results
        ],
    )
    for r in results:
        if r.nango_would and r.verdict != "pass":
            output.out(f"  {r.name}: {r.nango_would}")


def syncs(
    ctx: typer.Context,
    nango_yaml: NangoYamlOption = None,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the syncs known from nango.yaml and the config's [syncs] tables."""
    from nango_cli.nango_yaml import discover

    state = use(ctx, env, json_output)
    current = settings(state)
    path, found = discover(nango_yaml or current["nango_yaml"])
    rows = [{**s.to_dict(), "source": str(path)} for s in found.values()]
    for name, s in current.file.syncs().items():
        rows.append(
            {
                "integration": s.integration,
                "sync": name,
                "models": list(s.models),
                "sync_type": s.sync_type,
                "runs": None,
                "webhook_subscriptions": [],
                "source": "config",
            }
        )
    if state.json:
        output.emit_json({"nango_yaml": str(path) if path else None, "syncs": rows})
        return
    if not rows:
        output.err(
            "no syncs found: no nango.yaml here or in ./nango-integrations/, and no "
            "[syncs] in the config"
        )
        return
    output.table(
        ["integration", "sync", "models", "sync type", "webhook subscriptions", "source"],
        [
            [
                output.safe(str(r["integration"] or "-"), False),
                output.safe(str(r["sync"]), False),
                output.safe(", ".join(r["models"]) or "-", False),
                str(r["sync_type"] or "-"),
                output.safe(", ".join(r["webhook_subscriptions"]) or "-", False),
                str(r["source"]),
            ]
            for r in rows
        ],
    )


def register(app: typer.Typer) -> None:
    app.command("check")(check)
    app.command("syncs")(syncs)
