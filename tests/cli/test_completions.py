from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_committed_completion_scripts_are_current(cli, shell: str) -> None:
    result = cli("completions", shell)
    assert result.exit_code == 0
    committed = (ROOT / "completions" / f"nango-hooks.{shell}").read_text()
    assert committed == result.stdout, (
        f"completions/nango-hooks.{shell} is stale: regenerate with "
        f"`nango-hooks completions {shell} > completions/nango-hooks.{shell}`"
    )


def test_unknown_shell_is_a_usage_error(cli) -> None:
    result = cli("completions", "tcsh")
    assert result.exit_code == 2 and "bash, zsh, fish" in result.stderr


def test_completion_protocol_lists_commands() -> None:
    """The scripts call back into the app; the app must answer with its commands."""
    import sys

    env = {
        **os.environ,
        "_NANGO_HOOKS_COMPLETE": "complete_bash",
        "COMP_WORDS": "nango-hooks co",
        "COMP_CWORD": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "nango_cli"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    words = proc.stdout.split()
    assert "config" in words and "completions" in words
