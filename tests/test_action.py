"""The composite GitHub Action (action.yml): its `run:` steps executed by bash as the
runner executes them, with the variables GitHub sets (GITHUB_OUTPUT, GITHUB_ENV,
GITHUB_STEP_SUMMARY, the step's `env:` with `${{ inputs.* }}` and
`${{ github.action_path }}` filled in), against a real handler: a verifying listener
started by the action's own start step. The `uses:` steps (setup-python,
upload-artifact) are GitHub's and are not run here."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import KEY, ROOT
from tests.receiver import free_port

ACTION = yaml.safe_load((ROOT / "action.yml").read_text())
EXPRESSION = re.compile(r"\$\{\{\s*([^}]+?)\s*\}\}")

SCENARIO = """\
version: 1
name: ci
integration: github
sync: s
steps:
  - name: connect
    auth: creation
  - name: a sync
    sync: s
    added: {S: 2}
  - name: forged
    sync: s
    added: {S: 1}
    sign: bad
"""


def _steps() -> list[dict[str, Any]]:
    return list(ACTION["runs"]["steps"])


def test_no_input_reaches_a_script_but_through_env() -> None:
    for step in _steps():
        assert "${{" not in step.get("run", ""), step.get("name")
    used = {
        m
        for step in _steps()
        for v in step.get("env", {}).values()
        for m in EXPRESSION.findall(str(v))
    }
    assert {f"inputs.{name}" for name in ("scenarios", "url", "start", "signing-key")} <= used
    assert set(ACTION["outputs"]) == {"exit-code", "junit"}


def _value(text: str, inputs: dict[str, str], outputs: dict[str, str]) -> str:
    def fill(match: re.Match[str]) -> str:
        expression = match.group(1)
        if expression.startswith("inputs."):
            name = expression.removeprefix("inputs.")
            return inputs.get(name, str(ACTION["inputs"][name].get("default", "")))
        if expression == "github.action_path":
            return str(ROOT)
        if expression.startswith("steps.run.outputs."):
            return outputs.get(expression.removeprefix("steps.run.outputs."), "")
        raise AssertionError(f"unknown expression {expression}")

    return EXPRESSION.sub(fill, text)


def _stop_app(said: list[str]) -> None:
    """The app the start step left running (it prints its pid)."""
    import signal

    for text in said:
        found = re.search(r"started the app \(pid (\d+)\)", text)
        if found:
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(found.group(1)), signal.SIGTERM)


def _condition(step: dict[str, Any], inputs: dict[str, str]) -> bool:
    condition = step.get("if")
    if condition in (None, "always()"):
        return True
    match = re.fullmatch(r"inputs\.([\w-]+) != ''", str(condition))
    assert match, condition
    return bool(inputs.get(match.group(1), ""))


def _run_action(
    workdir: Path, inputs: dict[str, str], said: list[str]
) -> tuple[dict[str, str], list[int]]:
    """Each `run:` step in order, as GitHub runs it: bash -e, the step's env, the files."""
    github = {
        name: workdir / name.lower()
        for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_STEP_SUMMARY")
    }
    for path in github.values():
        path.write_text("")
    outputs: dict[str, str] = {}
    codes = []
    for step in _steps():
        if "run" not in step or not _condition(step, inputs):
            continue
        env = {**os.environ, **{k: str(v) for k, v in github.items()}}
        env.update({k: _value(str(v), inputs, outputs) for k, v in step.get("env", {}).items()})
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-e", "-o", "pipefail", "-c", step["run"]],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        codes.append(done.returncode)
        said.append(done.stdout + done.stderr)
        if step.get("id") == "run":
            outputs = dict(
                line.split("=", 1) for line in github["GITHUB_OUTPUT"].read_text().splitlines()
            )
    return outputs, codes


@pytest.mark.skipif(shutil.which("bash") is None, reason="the action's scripts are bash")
def test_the_action_starts_the_app_runs_the_scenarios_and_reports(
    home: Path, tmp_path: Path
) -> None:
    workdir = tmp_path / "repo"
    (workdir / "scenarios").mkdir(parents=True)
    (workdir / "scenarios" / "ci.yaml").write_text(SCENARIO)
    port = free_port()
    handler = f"http://127.0.0.1:{port}/webhooks"
    # The app: a listener that verifies with the key (it refuses forgeries).
    start = f"NANGO_HOOKS_SIGNING_KEY={KEY} nango-hooks listen --port {port} --reject-invalid"
    inputs = {
        "scenarios": "scenarios/*.yaml",
        "url": handler,
        "start": start,
        "wait-for": f"http://127.0.0.1:{port}/",
        "signing-key": KEY,
        "api-port": str(free_port()),
        "junit": "reports/junit.xml",
    }
    (workdir / "reports").mkdir()
    said: list[str] = []
    try:
        outputs, codes = _run_action(workdir, inputs, said)
    finally:
        _stop_app(said)
    assert outputs == {"exit-code": "0", "junit": "reports/junit.xml"}, codes
    assert codes == [0, 0, 0, 0]  # install (already there), start, run, the final check
    suite = ET.parse(workdir / "reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "3" and suite.get("failures") == "0"
    summary = (workdir / "github_step_summary").read_text()
    assert "### nango-hooks scenario run" in summary and "| ✅ | forged |" in summary


def test_a_failing_handler_fails_the_job_with_its_exit_code(home: Path, tmp_path: Path) -> None:
    workdir = tmp_path / "repo"
    workdir.mkdir()
    (workdir / "ci.yaml").write_text(SCENARIO)
    port = free_port()
    start = f"NANGO_HOOKS_SIGNING_KEY={KEY} nango-hooks listen --port {port} --status 500"
    inputs = {
        "scenarios": "ci.yaml",
        "url": f"http://127.0.0.1:{port}/webhooks",
        "start": start,
        "wait-for": f"http://127.0.0.1:{port}/",
        "signing-key": KEY,
        "api-port": str(free_port()),
    }
    said: list[str] = []
    try:
        outputs, codes = _run_action(workdir, inputs, said)
    finally:
        _stop_app(said)
    assert outputs["exit-code"] == "9"
    assert codes[-1] == 9  # the last step fails the job
    assert (workdir / "nango-hooks-junit.xml").exists()
