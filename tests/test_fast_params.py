"""The start-up shim (nango_cli/cli/fast_params.py) changes nothing a user can see.

It patches a private Typer method, so CI used to run the whole suite twice. This
differential test replaces the second run: every command's --help, the shell
completion of every command and option, and the parameters parsed from a corpus
of command lines (valid and invalid, numbers at and past their bounds) are the same
with the shim and without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from nango_cli.cli import COMMANDS, fast_params
from tests.conftest import ROOT

# Parses each command line with the real app, in a process of its own, and prints what
# each parameter became (or the usage error), as JSON.
PARSER = r"""
import json, sys
from typer.main import get_command
from nango_cli.cli import app, fast_params
fast_params.install()
root = get_command(app)
out = []
for argv in json.loads(sys.stdin.read()):
    ctx = root.make_context("nango-hooks", list(argv[:1]), resilient_parsing=False)
    command = root.get_command(ctx, argv[0])
    rest = argv[1:]
    while hasattr(command, "commands") and rest and rest[0] in command.commands:
        command, rest = command.commands[rest[0]], rest[1:]
    try:
        sub = command.make_context(argv[0], list(rest), parent=ctx)
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in sub.params.items()}
        out.append({"params": json.loads(json.dumps(params, default=repr))})
    except Exception as exc:  # a usage error: its type and words must match too
        out.append({"error": type(exc).__name__, "message": getattr(exc, "message", str(exc))})
print(json.dumps(out))
"""

CORPUS: list[list[str]] = [
    ["fire", "--sync", "s"],
    ["fire", "--sync", "s", "--added", "3", "--added", "T=2", "-m", "T", "--seed", "7"],
    ["fire", "--sync", "s", "--count", "10", "--concurrency", "5", "--rate", "50/s"],
    ["fire", "--sync", "s", "--count", "0"],
    ["fire", "--sync", "s", "--concurrency", "1001"],
    ["fire", "--sync", "s", "--seed", "abc"],
    ["fire", "--sync", "s", "--retries", "-1"],
    ["fire", "--sync", "s", "--retries", "99999999999999999999"],
    ["fire", "--auth", "creation", "-i", "g", "--tag", "a=b", "--tag", "c=d"],
    ["listen", "--port", "0", "--status", "503", "--fail-first", "2", "--delay", "0.5"],
    ["listen", "--port", "65536"],
    ["listen", "--status", "99"],
    ["listen", "--delay", "-1"],
    ["listen", "--max-connections", "0"],
    ["listen", "--idle-timeout", "0.05"],
    ["listen", "--count", "1", "--timeout", "2.5", "-t", "sync", "-t", "auth"],
    ["api", "--port", "0", "--max-connections", "5"],
    ["ui", "--port", "70000"],
    ["check", "http://127.0.0.1:1/x", "--only", "sync,duplicate", "--timeout", "5s"],
    ["history", "list", "-n", "5", "--since", "2h"],
    ["history", "list", "-n", "x"],
    ["history", "prune", "--older-than", "30d", "--yes"],
    ["replay", "abc123", "--retries", "3", "--to", "http://127.0.0.1:1/"],
    ["records", "list", "--limit", "3"],
    ["config", "set", "retries", "3"],
    ["config", "get", "url", "--reveal"],
]


def _parse(disabled: bool) -> list[dict[str, Any]]:
    env = {**os.environ, fast_params.DISABLE_ENV: "1" if disabled else ""}
    done = subprocess.run(
        [sys.executable, "-c", PARSER],
        input=json.dumps(CORPUS),
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    parsed: list[dict[str, Any]] = json.loads(done.stdout)
    return parsed


def test_parsed_parameters_are_the_same_without_the_shim() -> None:
    with_shim, without = _parse(disabled=False), _parse(disabled=True)
    assert len(with_shim) == len(CORPUS)
    for argv, a, b in zip(CORPUS, with_shim, without, strict=True):
        assert a == b, argv
    # The corpus holds both outcomes, so the comparison is of something.
    assert sum("error" in r for r in with_shim) >= 8
    assert sum("params" in r for r in with_shim) >= 12


def _help_and_completion(disabled: bool) -> dict[str, str]:
    """Every command's (and subcommand's) --help, and the completion candidates."""
    script = r"""
import json, subprocess, sys
from typer.main import get_command
from nango_cli.cli import app, COMMANDS
root = get_command(app)
paths = []
for name in COMMANDS:
    paths.append([name])
    command = root.get_command(root.make_context("nango-hooks", [name]), name)
    for sub in getattr(command, "commands", {}):
        paths.append([name, sub])
print(json.dumps(paths))
"""
    env = {
        **os.environ,
        fast_params.DISABLE_ENV: "1" if disabled else "",
        "COLUMNS": "100",
        "TERM": "dumb",
    }
    paths = json.loads(
        subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=ROOT
        ).stdout
    )
    found = {}
    for path in [[], *paths]:
        done = subprocess.run(
            [sys.executable, "-m", "nango_cli", *path, "--help"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
        )
        found[" ".join(path) + " --help"] = f"{done.returncode}\n{done.stdout}{done.stderr}"
    for words in (
        ["nango-hooks", ""],
        ["nango-hooks", "fire", "--"],
        ["nango-hooks", "listen", "-"],
    ):
        completion_env = {
            **env,
            "_NANGO_HOOKS_COMPLETE": "complete_bash",
            "COMP_WORDS": " ".join(words),
            "COMP_CWORD": str(len(words) - 1),
        }
        done = subprocess.run(
            [sys.executable, "-m", "nango_cli"],
            capture_output=True,
            text=True,
            env=completion_env,
            cwd=ROOT,
        )
        # Sorted: Click lists -h/--help in a per-process order (a set), shim or not.
        found[" ".join(words)] = "\n".join(sorted(done.stdout.splitlines()))
    return found


def test_help_and_completion_are_the_same_without_the_shim() -> None:
    with_shim, without = _help_and_completion(False), _help_and_completion(True)
    assert with_shim.keys() == without.keys()
    assert len(with_shim) > len(COMMANDS)
    for key in with_shim:
        assert with_shim[key] == without[key], key
    assert "--sync" in with_shim["nango-hooks fire --"]  # completion did run
