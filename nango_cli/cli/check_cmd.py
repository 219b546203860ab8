"""`nango-hooks check`: a conformance suite for a webhook handler."""

from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import (
    CaCertOption,
    EnvOption,
    InsecureOption,
    JsonOption,
    ProjectOption,
    SyncOption,
    checked_url,
    delivery_flags,
    open_store,
    settings,
    tls_options,
    use,
)
from nango_cli.cli.output import Column, Styled

if TYPE_CHECKING:
    from nango_cli.check import CheckResult

_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "not judged": "yellow"}
app = typer.Typer(rich_markup_mode=None)


def _names(values: list[str] | None) -> list[str]:
    from nango_cli.check import CHECK_NAMES
    from nango_cli.errors import UsageError

    names = [n.strip() for v in values or [] for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in CHECK_NAMES]
    if unknown:
        raise UsageError(f"unknown check {unknown[0]!r}", hint="checks: " + ", ".join(CHECK_NAMES))
    return names


@app.command("check")
def check(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Argument(metavar="[URL]", help="The handler's URL. [default: the environment's url]"),
    ] = None,
    sync: SyncOption = None,
    integration: Annotated[
        str | None,
        typer.Option("--integration", "-i", metavar="KEY", help="providerConfigKey."),
    ] = None,
    connection: Annotated[
        str | None, typer.Option("--connection", "-c", metavar="ID", help="connectionId.")
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", metavar="CHECKS", help="Run only these checks (comma-separated)."),
    ] = None,
    skip: Annotated[
        list[str] | None,
        typer.Option("--skip", metavar="CHECKS", help="Skip these checks (comma-separated)."),
    ] = None,
    timeout: Annotated[
        str | None,
        typer.Option(
            "--timeout", metavar="DURATION", help="Deadline per webhook. [default: 20s, Nango's]"
        ),
    ] = None,
    retry_policy: Annotated[
        str | None,
        typer.Option("--retry-policy", metavar="POLICY", help="Policy used to explain failures."),
    ] = None,
    project: ProjectOption = None,
    ca_cert: CaCertOption = None,
    insecure: InsecureOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Test a webhook handler against Nango's contract.

    Exit 0 only if every required check passes (9 otherwise). Checks: sync,
    sync-error, auth-creation, auth-refresh-failure, forward, async-action,
    unknown-type, tampered-body, wrong-key, missing-signature, legacy-only
    (warn only), duplicate, concurrent-models. README explains each.
    """
    from nango_cli.bodies import FireOptions, connection_for, resolve_sync
    from nango_cli.check import CHECK_NAMES, CheckTarget, run_checks
    from nango_cli.errors import CheckFailedError, ConfigError

    state = use(ctx, env, json_output)
    chosen = _names(only) or list(CHECK_NAMES)
    skipped = set(_names(skip))
    names = [n for n in chosen if n not in skipped]
    current = settings(state, delivery_flags(retry_policy, None, timeout))
    target_url = checked_url(url, "URL") if url else current["url"]
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
        sync_name=sync or _default_sync(current, project),
        integration=integration,
        connection_id=connection,
        project=project,
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
        tls=tls_options(ca_cert, insecure),
    )
    if not state.json:
        output.err(f"checking {target_url} ({len(names)} checks, sync {opts.sync_name})")
    with open_store() as store:
        results = run_checks(target, store, names, (lambda r: None) if state.json else _progress)
    failed = [r for r in results if r.failed]
    data = {"url": target_url, "checks": [r.to_dict() for r in results]}
    if not state.json:
        _table(results)
    if failed:
        raise CheckFailedError(
            f"{len(failed)} required check(s) failed: {', '.join(r.name for r in failed)}",
            hint="README.md, section Check, says why each matters",
            data=data,
        )
    if state.json:
        output.emit(data)


def _default_sync(current: object, project: str | None) -> str:
    """The first sync the project knows (config, then project files), else an example one."""
    from nango_cli import project as projects
    from nango_cli.config import Settings

    assert isinstance(current, Settings)
    configured = current.file.syncs()
    if configured:
        return next(iter(configured))
    found = projects.discover(project or current["project"])
    return next(iter(found.syncs), "github-tickets")


def _progress(result: "CheckResult") -> None:
    output.err("  ", Styled(result.verdict, _STYLE[result.verdict]), f" {result.name}")


def _table(results: list["CheckResult"]) -> None:
    output.table(
        [Column("check", cut=False), "expected", "happened", Column("verdict", cut=False)],
        [
            [
                r.name,
                r.expectation,
                r.happened,
                Styled(r.verdict + ("" if r.required else " (optional)"), _STYLE[r.verdict]),
            ]
            for r in results
        ],
    )
    for r in results:
        if r.nango_would and r.verdict != "pass":
            output.out(f"  {r.name}: {r.nango_would}")
