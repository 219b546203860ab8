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
    directories,
    open_store,
    settings,
    tls_options,
    use,
)
from nango_cli.cli.output import Column, Styled
from nango_cli.cli.scenario_support import (
    ApiPortOption,
    JunitOption,
    StateHostOption,
    SummaryMdOption,
    ci_outputs,
)

if TYPE_CHECKING:
    from pathlib import Path

    from nango_cli.app.check_specs import CheckResult, CheckTarget
    from nango_cli.app.scenarios.reports import Suite
    from nango_cli.app.scenarios.runner import ApiHandle
    from nango_cli.app.settings import Settings
    from nango_cli.cli.common import AppState

_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "not judged": "yellow"}
app = typer.Typer(rich_markup_mode=None)


def _names(values: list[str] | None) -> list[str]:
    from nango_cli.app.check_specs import CHECK_NAMES
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
        typer.Argument(metavar="URL", help="The handler's URL. [default: the environment's url]"),
    ] = None,
    sync: SyncOption = None,
    integration: Annotated[
        str | None,
        typer.Option("--integration", "-i", metavar="KEY", help="providerConfigKey."),
    ] = None,
    connection: Annotated[
        str | None, typer.Option("--connection", "-c", metavar="ID", help="connectionId.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", metavar="MODEL", help="Model of the sync (repeatable)."),
    ] = None,
    no_end_user: Annotated[
        bool,
        typer.Option(
            "--no-end-user",
            help="auth webhooks without endUser (connections made without a Connect session).",
        ),
    ] = False,
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
    api: Annotated[
        str | None,
        typer.Option(
            "--api",
            metavar="URL",
            help="The `nango-hooks api` the handler fetches from. [default: the one running "
            "on this machine, else one served by this run]",
        ),
    ] = None,
    api_port: ApiPortOption = None,
    state_url: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="URL",
            help="Where the handler shows the ids it holds for a model: {connection}, {model}, "
            "{integration} filled in; judges the end state. [default: the state_url setting]",
        ),
    ] = None,
    deletion_clears: Annotated[
        bool,
        typer.Option(
            "--deletion-clears",
            help="With --state: the handler drops a connection's records on its deletion "
            "webhook; judge that too.",
        ),
    ] = False,
    project: ProjectOption = None,
    junit: JunitOption = None,
    summary_md: SummaryMdOption = None,
    allow_state_host: StateHostOption = None,
    ca_cert: CaCertOption = None,
    insecure: InsecureOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Test a webhook handler against Nango's contract.

    Exit 0 only if every required check passes (9 otherwise; 4 when nothing listens
    at URL). The handler fetches from the running `nango-hooks api` (or `dev`), else
    from one this run serves on api_port. Checks: sync, sync-error, auth-creation,
    auth-refresh-failure, forward, async-action, unknown-type, duplicate,
    concurrent-models, rotation (with a previous key), fetches-records, api-fault,
    large-body (warn only), tampered-body, wrong-key, missing-signature, secret-key
    (with a secret key), legacy-only (warn only), auth-deletion. A forgery the
    handler acts on (a 2xx, or an API call for its connection) fails; refusals count
    only when a correctly signed webhook was accepted in the same run. With --state,
    the end state is judged too. docs/check.md explains each.
    """
    from nango_cli.cli.scenario_support import api_for_run

    state = use(ctx, env, json_output)
    only_names, skipped = _names(only), set(_names(skip))
    current = settings(state, delivery_flags(retry_policy, None, timeout))
    target = _target(current, url, sync, integration, list(model or []), connection, project)
    target.tls = tls_options(ca_cert, insecure)
    target.end_user = not no_end_user
    target.state_url = state_url or current.state_url
    target.deletion_clears = deletion_clears
    target.state_hosts = current.allowed_state_hosts(allow_state_host)
    if deletion_clears and not target.state_url:
        from nango_cli.errors import UsageError

        raise UsageError("--deletion-clears needs --state URL (or the state_url setting)")
    with api_for_run(api, api_port, current, state.json) as handle:
        # The fetch checks play faults on the API (short pages, a failed read): only
        # on one this process serves, or a running one whose token it has.
        target.api_url = handle.url if handle.can_fault else None
        _run(state, target, current, only_names, skipped, (junit, summary_md), handle)


def _target(
    current: "Settings",
    url: str | None,
    sync: str | None,
    integration: str | None,
    models: list[str],
    connection: str | None,
    project: str | None,
) -> "CheckTarget":
    from nango_cli.app.check_specs import CheckTarget
    from nango_cli.app.plans import breaker_for
    from nango_cli.errors import ConfigError

    explicit_url = checked_url(url, "URL") if url else None
    if not explicit_url and not current.url and not current.file.connection_urls():
        raise ConfigError(
            "no handler URL to check", hint="pass URL, or `nango-hooks config set-url`"
        )
    if not current.signing_key:
        raise ConfigError(
            f"check signs webhooks, and environment {current.env!r} has no signing key",
            hint="set it with `nango-hooks config set-key`",
        )
    sync_name, sync_integration, sync_models, connection_id = _sync_for_check(
        current, sync, integration, models, connection, project
    )
    # The connection's own URL when it has one (as Nango sends there alone), else the
    # environment's primary URL.
    target_url = explicit_url or next(iter(current.targets_for(connection_id)), None)
    if not target_url:
        raise ConfigError(
            f"no handler URL for connection {connection_id!r}",
            hint="pass URL, or `nango-hooks config set-url URL [--connection ID]`",
        )
    return CheckTarget(
        url=target_url,
        key=current.signing_key,
        env=current.env,
        sync_name=sync_name,
        integration=sync_integration,
        models=sync_models,
        connection_id=connection_id,
        timeout=float(current.timeout),
        policy=current.retry_policy,
        previous_key=current.previous_signing_key,
        secret_key=current.secret_key,
        api_key=current.secret_key,
        breaker=breaker_for(current),
    )


def _run(
    state: "AppState",
    target: "CheckTarget",
    current: "Settings",
    only_names: list[str],
    skipped: set[str],
    reports: "tuple[Path | None, Path | None]",
    handle: "ApiHandle",
) -> None:
    junit, summary_md = reports
    from nango_cli.app.check import run_checks
    from nango_cli.app.check_specs import available, save_report
    from nango_cli.errors import CheckFailedError

    chosen = only_names or available(target)
    names = [n for n in chosen if n not in skipped]
    left_out = [n for n in ("fetches-records", "api-fault") if n not in chosen + list(skipped)]
    if left_out:
        output.warn(
            f"{' and '.join(left_out)} not run: the API at --api plays no faults for this "
            "process (its internal token is not known); leave out --api to judge the fetch"
        )
    if not state.json:
        output.err(
            f"checking {target.url} ({len(names)} checks, sync {target.sync_name}, "
            f"connection {target.connection_id})"
        )
    with open_store() as store:
        results, run = run_checks(target, current, store, names, api=handle)
    save_report(directories().data, target.url, results)
    failed = [r for r in results if r.failed]
    summary = _summary(results, target)
    data = {
        "url": target.url,
        "connection": target.connection_id,
        "checks": [r.to_dict() for r in results],
        "summary": summary,
        "state_judged": bool(target.state_url),
    }
    suites = [_suite(results, run.seconds, target.connection_id)]
    ci_outputs(junit, suites, "nango-hooks check", summary_md)
    if not state.json:
        _table(results)
        output.out()
        output.out(summary)
    if failed:
        broken = [r.name for r in failed if r.verdict == "fail"]
        unjudged = [r.name for r in failed if r.verdict == "not judged"]
        parts = [f"{len(broken)} required check(s) failed: {', '.join(broken)}"] if broken else []
        if unjudged:
            parts.append(f"{len(unjudged)} not judged: {', '.join(unjudged)}")
        raise CheckFailedError(
            "; ".join(parts),
            hint="docs/check.md says why each matters; "
            "`nango-hooks history show ID` has each webhook and answer",
            data=data,
        )
    if state.json:
        output.emit(data)


def _summary(results: list["CheckResult"], target: "CheckTarget") -> str:
    """One line: how many passed, warned, failed, were not judged; and whether the end
    state was judged."""
    counts: dict[str, int] = {}
    for r in results:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    words = {"pass": "passed", "warn": "warning(s)", "fail": "failed", "not judged": "not judged"}
    line = ", ".join(f"{counts[v]} {w}" for v, w in words.items() if counts.get(v))
    if target.state_url:
        return line + "; end state judged"
    return line + "; end state not judged (add --state URL)"


def _sync_for_check(
    current: "Settings",
    sync: str | None,
    integration: str | None,
    models: list[str],
    connection: str | None,
    project: str | None,
) -> tuple[str, str, list[str], str]:
    """The sync the checks send: the one named, else the first the config or the project
    knows, else an example one (said in a note)."""
    from nango_cli.app.bodies import FireOptions, resolve_sync
    from nango_cli.app.scenarios.runner import fresh_connection

    name = sync or _default_sync(current, project)
    notes: list[str] = []
    if name is None:
        name = "github-tickets"
        integration = integration or current.provider_config_key or "github"
        models = models or ["GithubTicket"]
        notes.append(
            f"no sync in the config or the project: checking with an example one ({name}, "
            f"integration {integration}, model {models[0]}); pass --sync to choose"
        )
    opts = FireOptions(
        sync_name=name,
        integration=integration,
        models=models,
        connection_id=connection,
        project=project,
    )
    sync_integration, sync_models = resolve_sync(opts, current, notes)
    # A connection of its own unless told: a run never adds, updates or deletes records
    # of the connection the user develops against.
    connection_id = connection or fresh_connection("nango-hooks-check")
    for text in notes:
        output.note(text)
    return name, sync_integration, sync_models, connection_id


def _suite(results: list["CheckResult"], seconds: float, connection: str) -> "Suite":
    from nango_cli.app.scenarios.reports import Case, Suite

    cases = [
        Case(
            name=r.name,
            verdict=r.verdict,
            expected=r.expectation,
            happened=r.happened + (f" (not judged: {r.reason})" if r.reason else ""),
            cause=r.cause,
            required=r.required,
        )
        for r in results
    ]
    return Suite("check", cases, seconds, {"connection": connection})


def _default_sync(current: "Settings", project: str | None) -> str | None:
    """The first sync the config knows, else the first in the project's files."""
    from nango_cli.app import project as projects

    configured = current.file.syncs()
    if configured:
        return next(iter(configured))
    found = projects.discover(project or current.project)
    return next(iter(found.syncs), None)


def _table(results: list["CheckResult"]) -> None:
    """A table that fits 80 columns (nothing cut: a long cell wraps), then, for the
    checks that did not pass, what they expected, the handler's answer, the likely
    cause and what Nango would do; checks that failed alike share one block."""
    output.table(
        [
            Column("check", cut=False),
            Column("verdict", cut=False),
            Column("webhook", cut=False),
            Column("happened", wrap=True),
        ],
        [
            [
                r.name,
                Styled(r.verdict + ("" if r.required else " (optional)"), _STYLE[r.verdict]),
                r.webhook_ids[0] if r.webhook_ids else "",
                r.short,
            ]
            for r in results
        ],
    )
    groups: dict[tuple[str | None, ...], list[CheckResult]] = {}
    for r in results:
        if r.verdict != "pass":
            key = (r.verdict, r.answer, r.cause, r.reason, r.fix, r.nango_would)
            groups.setdefault(key, []).append(r)
    for members in groups.values():
        first = members[0]
        output.out()
        names = ", ".join(m.name for m in members)
        output.out(Styled(f"{names}: {first.verdict}", _STYLE[first.verdict]))
        pairs: list[tuple[str, str]] = []
        if len({m.expectation for m in members}) == 1:
            pairs.append(("expected", first.expectation))
        if len(members) == 1:
            if first.short != first.happened and not first.answer:
                pairs.append(("happened", first.happened))
            pairs.append(("why", first.why))
        for label, value in (
            ("answer", first.answer),
            ("cause", first.cause),
            ("not judged", first.reason),
            ("fix", first.fix),
            ("Nango", first.nango_would),
        ):
            if value:
                pairs.append((label, value))
        output.fields(pairs)
