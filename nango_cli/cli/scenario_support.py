"""What `scenario run` and `check` share: which API stand-in the handler calls back,
and the CI outputs (JUnit XML, GitHub's job summary)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nango_cli.cli import output
from nango_cli.cli.common import checked_url, directories
from nango_cli.cli.server_options import port_option

if TYPE_CHECKING:
    from nango_cli.app.scenarios.reports import Suite
    from nango_cli.app.scenarios.runner import ApiHandle
    from nango_cli.app.settings import Settings

JunitOption = Annotated[
    Path | None,
    typer.Option(
        "--junit",
        metavar="PATH",
        help="Write JUnit XML there (GitHub, GitLab and Jenkins test reporters read it).",
        dir_okay=False,
    ),
]
SummaryMdOption = Annotated[
    Path | None,
    typer.Option(
        "--summary-md",
        metavar="PATH",
        help="Write the Markdown summary there (what GitHub's job summary shows), for any "
        "CI: GitLab, Buildkite, a PR comment.",
        dir_okay=False,
    ),
]


# The API a run serves when none runs here: `scenario run` and `check`.
ApiPortOption = Annotated[
    int | None, port_option("--api-port", "api_port", "Port of the API this run serves")
]

StateHostOption = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-state-host",
        metavar="HOST",
        help="A host besides this machine a state URL may read (repeatable). "
        "[default: the state_hosts setting]",
    ),
]


def api_address(explicit: str | None) -> tuple[str | None, str | None]:
    """--api URL, else the `nango-hooks api` (or `dev`) running on this machine; with
    the token of its internal endpoints when it is that one."""
    from nango_cli.app import running

    found = running.running(directories().data, "api")
    url = checked_url(explicit, "--api") if explicit else (str(found["url"]) if found else None)
    token = None
    if found and url and url.rstrip("/") == str(found["url"]).rstrip("/"):
        token = str(found.get("token") or "") or None
    return url, token


@contextlib.contextmanager
def api_for_run(
    explicit: str | None, port: int | None, current: Settings, quiet: bool
) -> Iterator[ApiHandle]:
    """The API a scenario's handler calls back: --api URL, a running one, else one this
    process serves on --api-port (the api_port setting: where `dev` serves it, so one
    NANGO_HOST works for both)."""
    from nango_cli.app.scenarios.remote_api import RemoteApi

    url, token = api_address(explicit)
    if url is not None:
        if not quiet:
            output.err(f"Nango API: {url} (already running; the handler's NANGO_HOST)")
        yield RemoteApi(url, token)
        return
    from nango_cli.servers.api.handle import serve_api
    from nango_cli.storage.webhooks import Store

    chosen = current.api_port if port is None else port
    # Over a connection of its own: the API answers on its thread while the run writes.
    with (
        Store(directories().history_db) as store,
        serve_api(
            store,
            port=chosen,
            secret_key=current.secret_key,
            env=current.env,
            settings=lambda: current,
            port_flag="--api-port",
        ) as api,
    ):
        if not quiet:
            from nango_cli.app.settings_table import mask_secret

            secret = current.secret_key
            key = f"the {current.env} secret_key ({mask_secret(secret)})" if secret else "any"
            output.err(f"Nango API: NANGO_HOST={api.url} (secret key: {key})")
        yield api


def ci_outputs(
    junit: Path | None, suites: list[Suite], title: str, summary_md: Path | None = None
) -> None:
    """--junit PATH, --summary-md PATH, and GitHub's job summary when
    GITHUB_STEP_SUMMARY is set."""
    from nango_cli.app.scenarios import reports
    from nango_cli.errors import ConfigError

    for path, flag in ((junit, "--junit"), (summary_md, "--summary-md")):
        if path is None:
            continue
        try:
            if flag == "--junit":
                linked = reports.write_junit(path, suites)
            else:
                linked = reports.write_summary(path, suites, title)
        except OSError as exc:
            raise ConfigError(
                f"cannot write {path}: {exc.strerror or exc}", hint=f"check {flag}'s directory"
            ) from None
        if linked is not None:
            output.note(f"{path} is a link: wrote {linked}")
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            reports.append_github_summary(summary, suites, title)
        except OSError as exc:
            output.warn(f"cannot append to GITHUB_STEP_SUMMARY ({summary}): {exc}")
