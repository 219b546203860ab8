"""`nango-hooks scenario …`: run lifecycle scenarios against a handler and judge what it
does; print the file format's schema; write a starter; record history as one."""

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output, scenario_view
from nango_cli.cli.common import (
    CaCertOption,
    EnvOption,
    InsecureOption,
    JsonOption,
    checked_url,
    open_store,
    settings,
    tls_options,
    use,
)
from nango_cli.cli.scenario_support import (
    ApiPortOption,
    JunitOption,
    StateHostOption,
    SummaryMdOption,
    api_for_run,
    ci_outputs,
)

if TYPE_CHECKING:
    from nango_cli.app.scenarios.model import Scenario
    from nango_cli.app.scenarios.results import RunResult

app = typer.Typer(
    help="Run lifecycle scenarios against a handler: what it fetches, holds, answers.",
    rich_markup_mode=None,
)


@app.command("run")
def run_scenarios(
    ctx: typer.Context,
    files: Annotated[
        list[Path],
        typer.Argument(metavar="FILE...", help="Scenario files (YAML or JSON).", dir_okay=False),
    ],
    url: Annotated[
        str | None,
        typer.Option("--url", metavar="URL", help="The handler. [default: the environment's url]"),
    ] = None,
    api: Annotated[
        str | None,
        typer.Option(
            "--api",
            metavar="URL",
            help="A running `nango-hooks api` to use. [default: the one running here, else "
            "one served by this run]",
        ),
    ] = None,
    api_port: ApiPortOption = None,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection",
            "-c",
            metavar="ID",
            help="connectionId for every scenario. [default: the file's, else a fresh one]",
        ),
    ] = None,
    junit: JunitOption = None,
    summary_md: SummaryMdOption = None,
    allow_state_host: StateHostOption = None,
    ca_cert: CaCertOption = None,
    insecure: InsecureOption = False,
    env: EnvOption = None,
    json_output: JsonOption = False,
) -> None:
    """Run scenario files against a handler and judge every step.

    Each step sends webhooks signed as Nango does (or a forgery, to be refused) and
    judges what the handler did: its answer (status, within, body_contains), its
    fetches from the API stand-in (fetched), the records it holds (state). Exit 0
    when every expectation holds, 9 when one does not, 2 for an invalid file (with
    line and column). docs/scenarios.md documents the format.

    Examples:

      nango-hooks scenario run scenarios/*.yaml

      nango-hooks scenario run lifecycle.yaml --junit report.xml --api-port 0
    """
    from nango_cli.app.scenarios import files as scenario_files
    from nango_cli.app.scenarios import reports
    from nango_cli.app.scenarios.runner import RunTarget, ScenarioRunner
    from nango_cli.errors import CheckFailedError, ConfigError

    state = use(ctx, env, json_output)
    # Every file is read first: a mistake in the last is found before anything is sent.
    scenarios: list[Scenario] = [scenario_files.load(path) for path in files]
    current = settings(state)
    target = checked_url(url) if url else current.url
    if not target:
        raise ConfigError(
            "no handler URL to run scenarios against",
            hint="pass --url URL, or `nango-hooks config set-url URL`",
        )
    if not current.signing_key:
        raise ConfigError(
            f"scenarios sign webhooks, and environment {current.env!r} has no signing key",
            hint="set it with `nango-hooks config set-key`",
        )
    runs: list[RunResult] = []
    quiet = state.json
    if not quiet:
        output.err(f"{len(scenarios)} scenario(s) against {target}")
    with api_for_run(api, api_port, current, quiet) as api_handle, open_store() as store:
        run_target = RunTarget(
            target,
            current,
            api_handle,
            tls_options(ca_cert, insecure),
            state_hosts=current.allowed_state_hosts(allow_state_host),
        )
        for scenario in scenarios:
            runner = ScenarioRunner(
                scenario,
                run_target,
                store,
                on_step=(lambda result: None) if quiet else scenario_view.step_line,
                connection=connection,
            )
            if not quiet:
                scenario_view.scenario_start(scenario.name, scenario.source, runner.connection)
            run = runner.run()
            runs.append(run)
            if not quiet:
                scenario_view.scenario_end(run)
    suites = [reports.suite_of_run(r) for r in runs]
    ci_outputs(junit, suites, "nango-hooks scenario run", summary_md)
    data = {"url": target, "scenarios": [r.to_dict() for r in runs]}
    failed = [r for r in runs if r.failed]
    if failed:
        steps = sum(1 for r in failed for s in r.steps if s.failed)
        raise CheckFailedError(
            f"{steps} step(s) failed in {len(failed)} of {len(runs)} scenario(s): "
            + ", ".join(r.scenario.name for r in failed),
            hint="each failed step says what it expected and what happened; "
            "`nango-hooks history show ID` has a webhook and its answer",
            data=data,
        )
    if state.json:
        output.emit(data)


@app.command("schema")
def schema(ctx: typer.Context, json_output: JsonOption = False) -> None:
    """Print the JSON Schema of scenario files (for editors and CI linters).

    Example: nango-hooks scenario schema > scenario.schema.json
    """
    from nango_cli.app.scenarios.json_schema import json_schema

    state = use(ctx, None, json_output)
    if state.json:
        output.emit(json_schema())
        return
    output.raw(json.dumps(json_schema(), indent=2).encode() + b"\n")


OutOption = Annotated[
    Path,
    typer.Option("--output", "-o", metavar="FILE", help="Where to write it.", dir_okay=False),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")]


@app.command("init")
def init(
    ctx: typer.Context,
    out: OutOption = Path("scenario.yaml"),
    force: ForceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Write a commented starter scenario from the project's syncs and models.

    Example: nango-hooks scenario init -o scenarios/lifecycle.yaml
    """
    from nango_cli.app import project
    from nango_cli.app.scenarios import files as scenario_files
    from nango_cli.app.scenarios.record import starter
    from nango_cli.errors import UsageError
    from nango_cli.support import files

    state = use(ctx, None, json_output)
    current = settings(state)
    syncs: dict[str, tuple[str, list[str]]] = {}
    for name, sync in current.file.syncs().items():
        if sync.integration and sync.models:
            syncs[name] = (sync.integration, list(sync.models))
    if not syncs:
        found = project.discover(current.project)
        for name, info in found.syncs.items():
            syncs[name] = (info.integration, list(info.models))
    if (out.exists() or out.is_symlink()) and not force:
        raise UsageError(f"{out} exists", hint="choose another --output, or pass --force")
    text = starter(syncs).replace("{FILE}", str(out))
    scenario_files.parse(text, str(out))  # the starter is a valid scenario
    try:
        written = files.atomic_write(out, text.encode())
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    if state.json:
        output.emit({"path": str(written.path)})
        return
    through = f" (through the link {out})" if written.through_symlink else ""
    output.err(f"wrote {written.path}{through}: run it with `nango-hooks scenario run {out}`")


@app.command("record")
def record(
    ctx: typer.Context,
    out: OutOption,
    since: Annotated[
        str | None,
        typer.Option(
            "--since", metavar="WHEN", help="What happened after: 30m, 2h or a date. [default: all]"
        ),
    ] = None,
    connection: Annotated[
        str | None,
        typer.Option(
            "--connection",
            "-c",
            metavar="ID",
            help="The connection to record. [default: the one sent to most recently]",
        ),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", metavar="NAME", help="The scenario's name.")
    ] = None,
    force: ForceOption = False,
    json_output: JsonOption = False,
) -> None:
    """Turn what one connection was sent into a scenario that reproduces it.

    Bodies `fire` can build become its options; any other is kept byte for byte in a
    file next to the scenario. Forgeries become `sign:` steps, the faults the API
    played `api_fault` steps, and a sync the handler fetched expects that fetch. It
    records Nango's contract (2xx for Nango's webhooks, a refusal for forgeries); the
    answers seen are comments.

    Example: nango-hooks scenario record --since 30m -o bug-1234.yaml
    """
    from nango_cli.app.history import parse_since
    from nango_cli.app.scenarios import files as scenario_files
    from nango_cli.app.scenarios.record import record as to_scenario
    from nango_cli.app.scenarios.record import write_recorded
    from nango_cli.errors import NotFoundError, UsageError
    from nango_cli.storage.api_log import api_requests
    from nango_cli.storage.webhooks import HistoryFilter

    state = use(ctx, None, json_output)
    bound = parse_since(since) if since else None
    with open_store() as store:
        if connection is None:
            latest = store.list(HistoryFilter(since=bound, limit=500))
            connection = next((w.connection_id for w in latest if w.connection_id), None)
        flt = HistoryFilter(since=bound, connection_id=connection, limit=10_000)
        webhooks = store.list(flt)[::-1] if connection else []  # oldest first
        calls = (
            [c for c in api_requests(store, webhooks[0].created_at, None) if c.connection_id]
            if webhooks
            else []
        )
    if not webhooks:
        when = f" since {since}" if since else ""
        raise NotFoundError(
            f"no webhook for a connection was fired or received{when}"
            + (f" (connection {connection!r})" if connection else ""),
            hint="widen --since, or check --connection",
        )
    if not state.json:
        output.note(f"recording connection {connection!r} ({len(webhooks)} webhook(s))")
    recorded = to_scenario(webhooks, name or out.stem, out.stem, calls)
    scenario_files.parse(recorded.text, str(out))  # what it wrote runs
    if force:
        for target in [out] + [out.parent / n for n in recorded.sidecars]:
            target.unlink(missing_ok=True)
    try:
        linked = write_recorded(recorded, out)
    except FileExistsError as exc:
        raise UsageError(f"{exc} exists", hint="choose another --output, or pass --force") from None
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc.strerror or exc}") from None
    for target in linked:  # only with --force over a link of the user's own
        output.note(f"wrote {target} through a link")
    data = {"path": str(out), "steps": recorded.steps, "sidecars": sorted(recorded.sidecars)}
    if state.json:
        output.emit(data)
        return
    extra = f" and {len(recorded.sidecars)} body file(s)" if recorded.sidecars else ""
    output.err(f"wrote {out} ({recorded.steps} step(s) from {len(webhooks)} webhook(s)){extra}")
