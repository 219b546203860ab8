"""Discover the user's Nango project: its integrations, syncs, models and their fields.

Current projects are compiled: `nango compile` writes `.nango/nango.json` (a
list of integrations, each with `providerConfigKey`, `syncs` and `actions`)
and `.nango/schema.json` (the JSON Schema of every model, under
`definitions`). Older projects declare everything in `nango.yaml` (its
current format, `integrations.<key>.syncs.<name>.output`, and the oldest,
`integrations.<key>.<name>.returns`), with models under `models:`. Compiled
files win when both exist. docs/protocol.md, Projects, describes both.

Project files are read with a size limit and a nesting limit, so a hostile or
broken file is an error naming it (exit 3), never a hang or a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from nango_cli.errors import ConfigError, NotFoundError, UsageError
from nango_cli.protocol.serialization import parse_json
from nango_cli.support import files

MAX_PROJECT_FILE = 8 * 1024 * 1024
MAX_DEPTH = 64
# Nodes read when turning nango.yaml models into schemas: aliases share nodes, so a
# small file can describe an enormous tree ("billion laughs"); reading stops here.
MAX_MODEL_NODES = 100_000
COMPILED = ".nango/nango.json"
BASES = (".", "nango-integrations")

Kind = Literal["compiled", "nango.yaml"]


class SyncInfo(NamedTuple):
    integration: str
    name: str
    models: tuple[str, ...]
    sync_type: str | None = None
    runs: str | None = None
    webhook_subscriptions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "integration": self.integration,
            "sync": self.name,
            "models": list(self.models),
            "sync_type": self.sync_type,
            "runs": self.runs,
            "webhook_subscriptions": list(self.webhook_subscriptions),
        }


@dataclass
class Project:
    """What was found: the file used, its syncs, and each model's JSON Schema."""

    source: Path | None = None
    kind: Kind | None = None
    syncs: dict[str, SyncInfo] = field(default_factory=dict)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    schema_source: Path | None = None

    def model_fields(self, model: str) -> list[tuple[str, str, bool]]:
        """(name, type, required) of a model's top-level fields, from its schema."""
        schema = self.models.get(model)
        if not isinstance(schema, dict):
            return []
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return []
        listed = schema.get("required")
        # A set: a schema of 100,000 fields made this quadratic (over a minute).
        required = {r for r in listed if isinstance(r, str)} if isinstance(listed, list) else set()
        return [
            (str(name), describe_type(spec, self.models), name in required)
            for name, spec in properties.items()
        ]


def describe_type(spec: Any, definitions: dict[str, Any], depth: int = 0) -> str:
    """A short type name for a JSON Schema: string, number, date-time, Ticket, string[]…"""
    if not isinstance(spec, dict) or depth > 8:
        return "any"
    ref = spec.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    if "enum" in spec and isinstance(spec["enum"], list):
        return " | ".join(json.dumps(v) for v in spec["enum"][:6])
    for key in ("anyOf", "oneOf"):
        if isinstance(spec.get(key), list):
            return " | ".join(describe_type(s, definitions, depth + 1) for s in spec[key][:6])
    kind = spec.get("type")
    if isinstance(kind, list):
        return " | ".join(str(k) for k in kind)
    if kind == "array":
        return describe_type(spec.get("items"), definitions, depth + 1) + "[]"
    if kind == "string" and isinstance(spec.get("format"), str):
        return str(spec["format"])
    return str(kind) if isinstance(kind, str) else "object"


# ---------------------------------------------------------------- finding


def discover(explicit: str | None = None, cwd: Path | None = None) -> Project:
    """The project the user means: an explicit path (must exist), else the first of
    ./.nango/nango.json, ./nango.yaml, ./nango-integrations/.nango/nango.json,
    ./nango-integrations/nango.yaml. No project is an empty Project, not an error."""
    if explicit:
        return load(_explicit(Path(explicit).expanduser()))
    base = cwd or Path.cwd()
    for folder in BASES:
        root = base / folder
        compiled, yaml_file = root / COMPILED, root / "nango.yaml"
        if compiled.is_file():
            return load(compiled)
        if yaml_file.is_file():
            return load(yaml_file)
    return Project()


def _explicit(path: Path) -> Path:
    if path.is_dir():
        for candidate in (path / COMPILED, path / "nango.yaml"):
            if candidate.is_file():
                return candidate
        raise NotFoundError(
            f"no Nango project in {path}: neither {COMPILED} nor nango.yaml",
            hint="run `nango compile` there, or point --project at the file",
        )
    if not path.is_file():
        raise NotFoundError(
            f"no Nango project at {path}", hint="check --project or the `project` setting"
        )
    return path


# Read projects by path, with the files' sizes and times: one `fire` asks for the
# project to resolve its sync and again for the models' schemas, and a long-running
# `api --webhooks` asks for every trigger; an edited file is read afresh.
_loaded: dict[Path, tuple[tuple[tuple[int, int], ...], Project]] = {}


def _fingerprint(path: Path) -> tuple[tuple[int, int], ...]:
    files_read = [path]
    if path.name.endswith(".json"):
        files_read.append(path.parent / "schema.json")
    stamps = []
    for file in files_read:
        try:
            stat = file.stat()
        except OSError:
            stamps.append((-1, -1))
        else:
            stamps.append((stat.st_mtime_ns, stat.st_size))
    return tuple(stamps)


def load(path: Path) -> Project:
    key = path.resolve()
    fingerprint = _fingerprint(key)
    cached = _loaded.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    found = _load_compiled(path) if path.name.endswith(".json") else _load_yaml(path)
    _loaded[key] = (fingerprint, found)
    return found


# ---------------------------------------------------------------- compiled projects


def _read_json(path: Path) -> Any:
    try:
        data = files.read_file_limited(path, MAX_PROJECT_FILE, "project file")
    except UsageError as exc:
        raise ConfigError(exc.message, hint="check the project's files") from None
    try:
        return parse_json(data)
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", hint="run `nango compile` again") from None
    except ValueError as exc:
        raise ConfigError(
            f"{path}: invalid JSON ({exc})", hint="run `nango compile` again"
        ) from None


def _load_compiled(path: Path) -> Project:
    document = _read_json(path)
    if not isinstance(document, list):
        raise ConfigError(
            f"{path}: expected a list of integrations (the format `nango compile` writes)",
            hint="run `nango compile` again, or point --project at another project",
        )
    project = Project(source=path, kind="compiled")
    for index, integration in enumerate(document):
        where = f"{path}: integration {index + 1}"
        if not isinstance(integration, dict):
            raise ConfigError(f"{where} is not an object", hint="run `nango compile` again")
        key = integration.get("providerConfigKey")
        if not isinstance(key, str) or not key:
            raise ConfigError(f"{where} has no providerConfigKey", hint="run `nango compile`")
        syncs = integration.get("syncs")
        syncs = [] if syncs is None else syncs
        if not isinstance(syncs, list):
            raise ConfigError(f"{where}: syncs must be a list", hint="run `nango compile`")
        for sync in syncs:
            if not isinstance(sync, dict) or not isinstance(sync.get("name"), str):
                raise ConfigError(f"{where}: a sync has no name", hint="run `nango compile`")
            project.syncs[sync["name"]] = SyncInfo(
                integration=key,
                name=sync["name"],
                models=_names(sync.get("output")),
                sync_type=_text(sync.get("sync_type")),
                runs=_text(sync.get("runs")),
                webhook_subscriptions=_names(sync.get("webhookSubscriptions")),
            )
    schema_path = path.parent / "schema.json"
    if schema_path.is_file():
        schema = _read_json(schema_path)
        definitions = schema.get("definitions") if isinstance(schema, dict) else None
        if not isinstance(definitions, dict):
            raise ConfigError(
                f"{schema_path}: expected a JSON Schema with `definitions`",
                hint="run `nango compile` again",
            )
        project.models = {k: v for k, v in definitions.items() if isinstance(v, dict)}
        project.schema_source = schema_path
    return project


def _names(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if isinstance(v, str | int) and not isinstance(v, bool))
    return ()


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# ---------------------------------------------------------------- nango.yaml


def _load_yaml(path: Path) -> Project:
    from nango_cli.app.yaml_strict import YamlError
    from nango_cli.app.yaml_strict import load as load_yaml

    try:
        data = files.read_file_limited(path, MAX_PROJECT_FILE, "nango.yaml")
        text = data.decode("utf-8")
    except UsageError as exc:
        raise ConfigError(exc.message, hint="check the project's files") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not UTF-8 text", hint="fix the file") from None
    try:
        document = load_yaml(text)
    except YamlError as exc:
        raise ConfigError(
            f"{path}: invalid YAML ({exc})", hint="fix the file, or pass --project"
        ) from None
    project = Project(source=path, kind="nango.yaml")
    if document is None:
        return project
    if not isinstance(document, dict) or not isinstance(document.get("integrations", {}), dict):
        raise ConfigError(
            f"{path}: expected a mapping with an 'integrations' key",
            hint="see Nango's nango.yaml reference",
        )
    for integration, table in (document.get("integrations") or {}).items():
        if not isinstance(table, dict):
            continue
        if isinstance(table.get("syncs"), dict) or "actions" in table:
            entries = table.get("syncs") or {}
            model_key = "output"
        else:  # the oldest format: syncs directly under the integration, models in `returns`
            entries = {k: v for k, v in table.items() if isinstance(v, dict) and "returns" in v}
            model_key = "returns"
        for name, sync in entries.items():
            if not isinstance(sync, dict):
                continue
            project.syncs[str(name)] = SyncInfo(
                integration=str(integration),
                name=str(name),
                models=_names(sync.get(model_key)),
                sync_type=_text(sync.get("sync_type")),
                runs=_text(sync.get("runs")),
                webhook_subscriptions=_names(sync.get("webhook-subscriptions")),
            )
    models = document.get("models")
    if isinstance(models, dict):
        budget = _Budget(path)
        project.models = {
            str(name): yaml_model_schema(spec, models, budget=budget)
            for name, spec in models.items()
            if isinstance(spec, dict)
        }
    return project


class _Budget:
    def __init__(self, path: Path | None = None) -> None:
        self.left = MAX_MODEL_NODES
        self.path = path

    def spend(self) -> None:
        self.left -= 1
        if self.left < 0:
            raise ConfigError(
                f"{self.path}: models describe more than {MAX_MODEL_NODES} fields "
                "(aliases repeated into an enormous tree?)",
                hint="fix the file, or pass --project",
            )


_YAML_TYPES = {
    "string": {"type": "string"},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date-time"},
    "Date": {"type": "string", "format": "date-time"},
    "null": {"type": "null"},
    "undefined": {"type": "null"},
    "any": {},
    "object": {"type": "object"},
}


def yaml_model_schema(
    spec: dict[str, Any],
    models: dict[str, Any],
    depth: int = 0,
    budget: _Budget | None = None,
) -> dict[str, Any]:
    """A nango.yaml model (`field: type`, `field?: type`, `a | b`, `Model[]`, nested
    mappings) as the JSON Schema `nango compile` would write for it."""
    budget = budget or _Budget()
    properties: dict[str, Any] = {}
    required = []
    for raw_name, value in spec.items():
        budget.spend()
        name = str(raw_name)
        if name.startswith("__"):  # __extends and friends
            continue
        optional = name.endswith("?")
        name = name.rstrip("?")
        properties[name] = _yaml_field(value, models, depth + 1, budget)
        if not optional:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}


def _yaml_field(value: Any, models: dict[str, Any], depth: int, budget: _Budget) -> dict[str, Any]:
    budget.spend()
    if depth > MAX_DEPTH:
        return {}
    if isinstance(value, dict):
        return yaml_model_schema(value, models, depth, budget)
    if isinstance(value, list):
        items = _yaml_field(value[0], models, depth + 1, budget) if value else {}
        return {"type": "array", "items": items}
    if isinstance(value, bool):
        return {"const": value}
    if isinstance(value, int | float):
        return {"const": value}
    if value is None:
        return {"type": "null"}
    text = str(value).strip()
    if "|" in text:
        parts = [_yaml_field(part.strip(), models, depth + 1, budget) for part in text.split("|")]
        return {"anyOf": parts}
    if text.endswith("[]"):
        return {"type": "array", "items": _yaml_field(text[:-2], models, depth + 1, budget)}
    if text in _YAML_TYPES:
        return dict(_YAML_TYPES[text])
    if text in models:
        return {"$ref": f"#/definitions/{text}"}
    if text.startswith(("'", '"')) and text.endswith(("'", '"')):
        return {"const": text[1:-1]}
    return {"type": "string"}
