"""Reading scenario files: YAML read strictly (app/yaml_strict.py) or JSON, the same
schema; every problem a usage error (exit 2) naming the file, line and column."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from nango_cli.app import yaml_strict
from nango_cli.app.scenarios.model import Scenario
from nango_cli.app.scenarios.schema import SchemaError, scenario_from
from nango_cli.errors import UsageError
from nango_cli.support import files

MAX_FILE_BYTES = 8 * 1024 * 1024
Positions = dict[tuple[str | int, ...], tuple[int, int]]


class ScenarioFileError(UsageError):
    pass


def load(path: Path) -> Scenario:
    """The scenario in `path`, validated, its body files checked (they must be regular
    files in its folder)."""
    shown = str(path)
    try:
        # At most MAX_FILE_BYTES read, whatever the file says its size is (/dev/zero).
        raw = files.read_file_limited(path, MAX_FILE_BYTES, "scenario")
    except UsageError as exc:
        raise ScenarioFileError(exc.message, hint="a scenario is a short file of steps") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioFileError(
            f"{shown}: not UTF-8 text (byte {exc.start})", hint="save the file as UTF-8"
        ) from None
    scenario = parse(text, shown, json_file=path.suffix.lower() == ".json")
    _check_body_files(scenario, text, shown)
    return scenario


def _check_body_files(scenario: Scenario, text: str, shown: str) -> None:
    """Each `body: FILE` names a regular file of at most 16 MB inside the scenario's
    folder: nothing else is read (not ../, an absolute path, a link out of the folder,
    a device or a pipe)."""
    folder = Path(shown).parent
    for index, step in enumerate(scenario.steps):
        if step.kind != "body" or not isinstance(step.value, str):
            continue
        try:
            found = files.inside(folder, step.value)
            info = found.stat()
            if not stat.S_ISREG(info.st_mode):
                raise ValueError(f"{step.value!r} is not a regular file")
            if info.st_size > files.DEFAULT_INPUT_LIMIT:
                limit = files.format_size(files.DEFAULT_INPUT_LIMIT)
                raise ValueError(f"{step.value!r} is larger than {limit}")
        except FileNotFoundError:
            problem = f"body file {step.value!r} does not exist in the scenario's folder"
        except (ValueError, OSError) as exc:
            problem = f"body file: {exc}"
        else:
            continue
        where = _where(text, ("steps", index, "body"))
        raise ScenarioFileError(
            f"{shown}{where}: {problem}", hint="a body file sits beside the scenario file"
        )


def parse(text: str, shown: str, json_file: bool = False) -> Scenario:
    data = _parse_json(text, shown) if json_file else _parse_yaml(text, shown)
    try:
        scenario = scenario_from(data, shown)
    except SchemaError as exc:
        where = _where(text, exc.path)
        raise ScenarioFileError(f"{shown}{where}: {exc.message}", hint=exc.hint) from None
    positions = positions_of(text)
    for index, step in enumerate(scenario.steps):
        step.line, step.column = positions.get(("steps", index), (None, None))
    return scenario


def _parse_yaml(text: str, shown: str) -> Any:
    try:
        return yaml_strict.load(text)
    except yaml_strict.YamlError as exc:
        where = f":{exc.line}:{exc.column}" if exc.line is not None else ""
        raise ScenarioFileError(
            f"{shown}{where}: {exc.problem}", hint="scenario files are YAML (or JSON)"
        ) from None


def _parse_json(text: str, shown: str) -> Any:
    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        seen: dict[str, Any] = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen[key] = value
        return seen

    try:
        return json.loads(text, object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as exc:
        raise ScenarioFileError(
            f"{shown}:{exc.lineno}:{exc.colno}: {exc.msg}", hint="check the JSON"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise ScenarioFileError(f"{shown}: {exc}", hint="check the JSON") from None


def _where(text: str, path: tuple[str | int, ...]) -> str:
    """`:LINE:COLUMN` of the key or item at `path` (of its nearest parent found)."""
    positions = positions_of(text)
    for end in range(len(path), -1, -1):
        found = positions.get(path[:end])
        if found:
            return f":{found[0]}:{found[1]}"
    return ""


def positions_of(text: str) -> Positions:
    """Where each key and list item starts, by path. JSON is read as YAML for this (tabs
    as spaces: columns are unchanged); a text YAML cannot compose gives none."""
    import yaml

    try:
        root = yaml.compose(text.replace("\t", " "), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, RecursionError):
        return {}
    found: Positions = {}
    walked: set[int] = set()

    def walk(node: Any, path: tuple[str | int, ...], depth: int) -> None:
        # An alias is walked once (a "billion laughs" file stays one walk of its nodes).
        if depth > yaml_strict.MAX_DEPTH or id(node) in walked:
            return
        walked.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                child = (*path, str(key.value))
                found[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                walk(value, child, depth + 1)
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                found[child] = (item.start_mark.line + 1, item.start_mark.column + 1)
                walk(item, child, depth + 1)

    if root is not None:
        walk(root, (), 0)
    return found
