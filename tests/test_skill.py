"""The agent skill (skills/nango-hooks/SKILL.md), run as an agent would follow it: its
front matter as skill loaders read it, its shell blocks in one shell against a real
handler, `dev` started as shown, and its scenario example a valid file. Only port
numbers change (the tests bind ephemeral ports)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from tests.cli.test_readme_paths import newcomer_env, run_in_one_shell, started
from tests.conftest import ROOT

SKILL = (ROOT / "skills" / "nango-hooks" / "SKILL.md").read_text()


def _front_matter() -> dict[str, str]:
    match = re.match(r"---\n(.*?)\n---\n", SKILL, re.S)
    assert match, "SKILL.md starts with front matter between --- lines"
    return dict(yaml.safe_load(match.group(1)))


def _blocks(kind: str) -> list[str]:
    return [part.split("```", 1)[0] for part in SKILL.split(f"```{kind}\n")[1:]]


def test_the_front_matter_names_it_and_says_when_to_use_it() -> None:
    meta = _front_matter()
    assert meta["name"] == "nango-hooks"
    assert "Nango webhook" in meta["description"] and len(meta["description"]) <= 1024


def test_its_scenario_is_a_valid_file() -> None:
    from nango_cli.app.scenarios import files

    (example,) = _blocks("yaml")
    scenario = files.parse(example, "SKILL.md")
    assert [s.kind for s in scenario.steps] == ["auth", "sync", "sync", "call", "sync"]


def test_its_commands_run_as_written(tmp_path: Path) -> None:
    from tests.handlers.aiohttp_app import PyHandler

    setup, dev, judge = ([line for line in b.splitlines() if line.strip()] for b in _blocks("sh"))
    assert dev == ["nango-hooks dev"]
    env = newcomer_env()
    key = "whsec-skill-0123456789abcdef"
    env["NANGO_WEBHOOK_SIGNING_KEY"] = key
    with PyHandler(key, "http://127.0.0.1:1", "anything") as handler:
        port = handler.url.split(":")[2].split("/")[0]
        lines = [line.replace("127.0.0.1:3000", f"127.0.0.1:{port}") for line in setup]
        for result in run_in_one_shell(lines, tmp_path, env):
            assert result["rc"] == 0, result
        dev_line = "nango-hooks dev --api-port 0 --listen-port 0 --ui-port 0"
        with started(dev_line, "NANGO_HOST=", tmp_path, env) as api_url:
            handler.nango_host = api_url  # set in the handler, as dev's banner says
            results = run_in_one_shell(judge, tmp_path, env)
    for result in results:
        assert result["rc"] == 0, (result["line"], result["out"], result["err"])
        if "--json" in str(result["line"]):
            assert json.loads(str(result["out"]))["ok"] is True
    assert (tmp_path / "junit.xml").exists() and (tmp_path / "lifecycle.yaml").exists()
    assert handler.state.applied, "the handler fetched the records it was told of"
