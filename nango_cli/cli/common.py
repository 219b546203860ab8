"""Helpers shared by the command modules (which never import each other).

Global state and option aliases, loading settings and the store (with their
warnings shown once), reading inputs with limits, small option syntaxes, and
shell completion of sync, environment and setting names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

import typer

from nango_cli.cli import output
from nango_cli.cli.environment import invocation

if TYPE_CHECKING:
    from nango_cli.app.config_file import ConfigFile
    from nango_cli.app.fire import FireOutcome
    from nango_cli.app.live_settings import LiveSettings
    from nango_cli.app.settings import Settings
    from nango_cli.delivery.transport import TLSOptions
    from nango_cli.storage.webhooks import Store
    from nango_cli.support.paths import Directories


@dataclass
class AppState:
    """What the root command's options say (`env` is the Nango environment's name)."""

    env: str | None = None
    config: str | None = None
    json: bool = False
    debug: bool = False


def app_state(ctx: typer.Context) -> AppState:
    root = ctx.find_root()
    if not isinstance(root.obj, AppState):
        root.obj = AppState(json=invocation().json)
    return root.obj


def use(
    ctx: typer.Context, env: str | None = None, json_output: bool = False, stream: bool = False
) -> AppState:
    """Fold a command's own --env/--json into the invocation's state and return it;
    `stream` for the commands whose stdout is an NDJSON stream (listen, api)."""
    state = app_state(ctx)
    if env:
        state.env = env
    if json_output:
        state.json = True
        invocation().json = True
    if stream:
        invocation().streaming = True
    return state


# ---------------------------------------------------------------- completion


def complete_envs(incomplete: str) -> list[str]:
    try:
        from nango_cli.app.config_file import ConfigFile

        names = ConfigFile.load(directories().config_file).environments()
    except Exception:  # completion must never fail loudly
        names = []
    return [n for n in sorted({*names, "dev", "prod"}) if n.startswith(incomplete)]


def complete_settings(incomplete: str) -> list[str]:
    from nango_cli.app.settings_table import SETTINGS

    return [n for n in SETTINGS if n.startswith(incomplete)]


def complete_syncs(incomplete: str) -> list[str]:
    try:
        from nango_cli.app import project
        from nango_cli.app.config_file import ConfigFile

        names = set(ConfigFile.load(directories().config_file).syncs())
        names.update(project.discover().syncs)
    except Exception:  # completion must never fail loudly
        return []
    return [n for n in sorted(names) if n.startswith(incomplete)]


# ---------------------------------------------------------------- option aliases

EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env",
        "-e",
        metavar="ENV",
        help="Nango environment (dev, prod, …). [env: NANGO_HOOKS_ENV]",
        show_default=False,
        autocompletion=complete_envs,
    ),
]
JsonOption = Annotated[
    bool,
    typer.Option("--json", help="JSON on stdout (one envelope document).", show_default=False),
]
# For the commands that serve (listen, api): a stream, one envelope per event.
StreamJsonOption = Annotated[
    bool,
    typer.Option(
        "--json", help="JSON on stdout: one envelope per line (NDJSON).", show_default=False
    ),
]
SyncOption = Annotated[
    str | None,
    typer.Option(
        "--sync",
        "-s",
        metavar="NAME",
        help="Sync name.",
        autocompletion=complete_syncs,
    ),
]
ProjectOption = Annotated[
    str | None,
    typer.Option(
        "--project",
        metavar="PATH",
        help="The Nango project: a directory with .nango/ or nango.yaml, or one of those "
        "files. [default: ./ or ./nango-integrations/]",
    ),
]


# ---------------------------------------------------------------- config and store


def directories(state: AppState | None = None) -> Directories:
    """The invocation's directories, with `--config PATH` when given."""
    found = invocation().directories
    return found.with_config(state.config) if state is not None else found


def config_file(state: AppState) -> ConfigFile:
    from nango_cli.app.config_file import ConfigFile

    file = ConfigFile.load(directories(state).config_file)
    for text in file.warnings:
        output.warn_once(text)
    return file


def settings(state: AppState, flags: dict[str, Any] | None = None) -> Settings:
    from nango_cli.app.settings import resolve

    return resolve(config_file(state), state.env, flags)


def live_settings(state: AppState, flags: dict[str, Any] | None = None) -> LiveSettings:
    """Settings that follow the config file (for the servers: a key set after they
    started applies to the next request); warnings about the file shown once."""
    from nango_cli.app.live_settings import LiveSettings

    config_file(state)  # the file's warnings, and a parse error now rather than later
    return LiveSettings(
        directories(state).config_file, state.env, flags, on_problem=output.warn_once
    )


def open_store() -> Store:
    """The history store, with rows left `sending` by dead processes marked interrupted.
    When the process leaves with os._exit, closing it skips SQLite's final checkpoint
    (Database.close says why)."""
    from nango_cli.storage.webhooks import Store

    store = Store(directories().history_db, fast_exit=invocation().fast_exit)
    for text in store.warnings:
        output.warn_once(text)
    store.mark_interrupted()
    return store


def checked_url(url: str, option: str = "--url") -> str:
    from nango_cli.app.settings_table import validate_url
    from nango_cli.errors import UsageError

    try:
        return validate_url(url)
    except ValueError as exc:
        raise UsageError(
            f"invalid {option} {url!r}: {exc}", hint="e.g. http://127.0.0.1:3000/webhooks"
        ) from None


def tls_options(ca_cert: str | None, insecure: bool) -> TLSOptions:
    from nango_cli.delivery.transport import TLSOptions

    if ca_cert and insecure:
        from nango_cli.errors import UsageError

        raise UsageError("--ca-cert and --insecure exclude each other")
    if insecure:
        output.warn_once(
            "--insecure: https certificates are not verified; anyone on the path can read "
            "and change what is sent"
        )
    return TLSOptions(ca_cert=ca_cert, insecure=insecure)


CaCertOption = Annotated[
    str | None,
    typer.Option(
        "--ca-cert",
        metavar="PATH",
        help="Trust this CA certificate (PEM) for https targets, e.g. mkcert's rootCA.pem.",
    ),
]
InsecureOption = Annotated[
    bool,
    typer.Option("--insecure", help="Do not verify https certificates (prints a warning)."),
]


def confirmed(yes: bool, action: str, question: str) -> bool:
    """--yes, or the user's answer on a terminal; without one, `action` needs --yes
    (exit 2): a script never hangs on a prompt. Says so when the answer is no."""
    from nango_cli.errors import UsageError

    if yes:
        return True
    if not invocation().stdin_isatty():
        raise UsageError(f"{action} needs confirmation", hint="pass --yes to confirm")
    if typer.confirm(question, default=False):
        return True
    output.err("nothing deleted")
    return False


# ---------------------------------------------------------------- inputs


def _piped_stdin(what: str, thing: str) -> BinaryIO:
    """Standard input for `-`, unless it is a terminal (nothing would ever arrive)."""
    from nango_cli.errors import UsageError

    stdin = invocation().stdin
    if invocation().stdin_isatty():
        raise UsageError(
            f"{what}: '-' reads standard input, but it is a terminal",
            hint=f"pipe the {thing} in (… | nango-hooks …) or pass a file path",
        )
    return stdin.buffer  # type: ignore[attr-defined,no-any-return]


def read_input(source: str, what: str, limit: int | None = None) -> bytes:
    """Bytes of FILE, or of standard input for `-`, never more than `limit`."""
    from nango_cli.support import files

    limit = limit or files.DEFAULT_INPUT_LIMIT
    if source == "-":
        return files.read_limited(_piped_stdin(what, "body"), limit, f"{what}: standard input")
    return files.read_file_limited(source, limit, what)


@contextmanager
def open_input(source: str, what: str) -> Iterator[BinaryIO]:
    """A binary stream of FILE, or of standard input for `-` (read by the caller, in
    pieces; see `read_input` for a whole, size-limited read)."""
    from nango_cli.errors import UsageError

    if source == "-":
        yield _piped_stdin(what, "file")
        return
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        raise UsageError(f"{what}: no such file {source!r}", hint="check the path") from None
    except IsADirectoryError:
        raise UsageError(f"{what}: {source!r} is a directory", hint="pass a file") from None
    except OSError as exc:
        raise UsageError(
            f"{what}: cannot read {source!r} ({exc.strerror})", hint="check its permissions"
        ) from None
    with handle:
        yield handle


def parse_counts(values: list[str] | None, option: str) -> dict[str | None, int]:
    """`--added 3` (every model) or `--added Ticket=3` (one model), repeatable."""
    from nango_cli.errors import UsageError
    from nango_cli.protocol.vocabulary import MAX_SAFE_INTEGER

    counts: dict[str | None, int] = {}
    for value in values or []:
        model, sep, number = value.rpartition("=")
        count = int(number) if number.strip().isdigit() and len(number) < 20 else -1
        if not 0 <= count <= MAX_SAFE_INTEGER:
            raise UsageError(
                f"invalid {option} {value!r}",
                hint=f"a count from 0 to 2^53-1: {option} 3 or {option} Ticket=3",
            )
        counts[model if sep else None] = count
    return counts


def parse_pairs(values: list[str] | None, option: str, sep: str) -> list[tuple[str, str]]:
    """`k=v` / `Name: value` pairs, in order."""
    from nango_cli.errors import UsageError

    pairs = []
    for value in values or []:
        key, found, rest = value.partition(sep)
        if not found or not key.strip():
            raise UsageError(f"invalid {option} {value!r}", hint=f"use {option} NAME{sep}VALUE")
        pairs.append((key.strip(), rest.strip()))
    return pairs


def parse_size(text: str, option: str) -> int:
    """Bytes from `5MB`, `512KB`, `1048576` (binary multiples)."""
    import re

    from nango_cli.errors import UsageError

    match = re.fullmatch(r"\s*(\d{1,15})\s*(b|kb|kib|mb|mib|gb|gib)?\s*", text.lower())
    if not match:
        raise UsageError(f"invalid {option} {text!r}", hint="e.g. 5MB, 512KB or a byte count")
    unit = (match.group(2) or "b").rstrip("ib") or "b"
    factor = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit[0]]
    size = int(match.group(1)) * factor
    if size < 1:
        raise UsageError(f"{option} must be at least 1 byte")
    return size


def delivery_flags(
    retry_policy: str | None, retries: int | None, timeout: str | None
) -> dict[str, Any]:
    """--retry-policy/--retries/--timeout as setting values (the `flag` precedence level)."""
    from nango_cli.app.settings_table import SETTINGS
    from nango_cli.errors import UsageError

    flags: dict[str, Any] = {}
    for name, value in (("retry_policy", retry_policy), ("retries", retries), ("timeout", timeout)):
        if value is None:
            continue
        try:
            flags[name] = SETTINGS[name].parse(value)
        except ValueError as exc:
            raise UsageError(f"invalid --{name.replace('_', '-')} {value!r}: {exc}") from None
    return flags


RetryPolicyOption = Annotated[
    str | None,
    typer.Option("--retry-policy", metavar="POLICY", help="docs, server or none."),
]
RetriesOption = Annotated[
    int | None, typer.Option("--retries", metavar="N", help="Retries after the first attempt.")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="PATH=JSON",
        help="Change a field of the body's Nango type (repeatable).",
    ),
]
SetNewOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set-new",
        metavar="PATH=JSON",
        help="Add a field Nango's type does not have (repeatable).",
    ),
]
NoCircuitBreakerOption = Annotated[
    bool,
    typer.Option(
        "--no-circuit-breaker",
        help="Server policy without Nango's per-URL circuit breaker.",
    ),
]
TimeoutOption = Annotated[
    str | None,
    typer.Option("--timeout", metavar="DURATION", help="Deadline per attempt, e.g. 20s."),
]


def finish_delivery(verdict: FireOutcome, data: dict[str, Any], json_mode: bool) -> None:
    """The fire service's verdict on what was sent, as an exit: 9 when a forgery was
    acted on or could not be judged, 4 when a webhook was not delivered; a forgery
    refused badly is a warning."""
    from nango_cli.errors import CheckFailedError, DeliveryError

    if verdict.kind in ("accepted-forgery", "not-judged"):
        raise CheckFailedError(verdict.message, hint=verdict.hint, data=data)
    if verdict.kind == "failed":
        raise DeliveryError(verdict.message, hint=verdict.hint, data=data)
    if verdict.kind == "refused-badly":
        output.warn(f"{verdict.message}; {verdict.hint}")
    if verdict.kind == "rejected-as-expected" and not json_mode:
        output.note(verdict.message)
    if json_mode:
        output.emit(data)
