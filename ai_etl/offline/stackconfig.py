"""A project's files as the Pulumi CLI reads them: `Pulumi.yaml` (name, program, declared config)
and `Pulumi.<stack>.yaml` beside it; the CLI's checks of the declared config, its defaults, and the
config handed to the program.

The stack file sits next to Pulumi.yaml (pulumi/pulumi sdk/go/common/workspace/paths.go,
ProjectStackPath; a project's `stackConfigDir` is not followed here), read as YAML by
sdk/go/common/workspace/loaders.go (projectStackLoader.load) through sdk/go/common/encoding/marshal.go.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml


class _StackFileLoader(yaml.SafeLoader):
    """YAML as the Pulumi CLI reads a stack file (Go's yaml.v3): `2026-12-01` stays text, and only
    `true`/`false` are booleans (YAML 1.1's yes/no/on/off are strings)."""


_StackFileLoader.yaml_implicit_resolvers = {
    first: [
        (tag, rx)
        for tag, rx in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StackFileLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_project(project_dir: Path = Path()) -> dict[str, Any]:
    """`Pulumi.yaml`: the project's name, runtime, program and config declarations. The project's
    folder is the current directory unless given, as `pulumi -C DIR` (pulumi/pulumi
    pkg/cmd/pulumi/pulumi.go, the persistent `--cwd` flag)."""
    path = project_dir / "Pulumi.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no Pulumi.yaml in {project_dir}: is it a Pulumi project?")
    return dict(yaml.load(path.read_text(), Loader=_StackFileLoader) or {})


def program_of(project_dir: Path = Path()) -> Path:
    """The program a project runs: Pulumi.yaml's `main` (sdk/go/common/workspace/project.go, Main:
    "an optional override for the program's main entry-point location"), else the project's folder;
    a folder runs its `__main__.py`, as sdk/python/cmd/pulumi-language-python-exec runs the entry
    point with `runpy.run_path`."""
    main = project_dir / str(load_project(project_dir).get("main") or ".")
    return main / "__main__.py" if main.is_dir() else main


def load_stack_config(stack: str, project_dir: Path = Path()) -> dict[str, Any]:
    """The `config:` of `Pulumi.<stack>.yaml`, as YAML values (what `pulumi config` would show)."""
    path = project_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: is '{stack}' a stack of this project?")
    data = yaml.load(path.read_text(), Loader=_StackFileLoader) or {}
    return dict(data.get("config") or {})


class StackConfigError(Exception):
    """The stack's config fails what the Pulumi CLI checks before the program runs; the message
    is the CLI's own."""


def _cli_list(keys: list[str]) -> str:
    """Keys as the CLI lists them: 'a', 'a' and 'b', 'a', 'b' and 'c'."""
    quoted = [f"'{k}'" for k in sorted(keys)]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _cli_type_ok(type_name: str, value: Any) -> bool:
    """pulumi/pulumi sdk/go/common/workspace/project.go ValidateConfigValue, for scalars: the CLI
    sees a scalar stack value as its text."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if type_name == "integer":
        return bool(re.fullmatch(r"[+-]?\d+", text))
    if type_name == "boolean":
        return text in ("true", "false")
    return type_name == "string"


def apply_project_config(
    stack: str, project: Mapping[str, Any], config: Mapping[str, Any], secret_keys: Mapping[str, str]
) -> dict[str, Any]:
    """What the CLI does with Pulumi.yaml's `config:` before the program runs: stop on keys the
    project declares without a default that the stack lacks, on a `secret: true` key set in plain
    text, or on a value of the wrong type; then add the declared defaults (pulumi/pulumi
    sdk/go/common/workspace/config.go mergeConfig and validateStackConfigValues, since moved to
    pkg/workspace/config.go)."""
    name = str(project.get("name"))
    declared = {
        (key if ":" in key else f"{name}:{key}"): spec
        for key, spec in (project.get("config") or {}).items()
        if isinstance(spec, dict)
    }
    merged = dict(config)
    missing = []
    for key in sorted(declared):
        spec = declared[key]
        if key in merged or key in secret_keys:
            continue
        if "default" in spec or "value" in spec:
            merged[key] = spec.get("default", spec.get("value"))
        elif key.startswith(f"{name}:"):
            missing.append(key.split(":", 1)[1])
    if missing:
        values = "values" if len(missing) > 1 else "value"
        raise StackConfigError(f"Stack '{stack}' is missing configuration {values} {_cli_list(missing)}")
    for key in sorted(declared):
        spec, short = declared[key], key.split(":", 1)[1] if key.startswith(f"{name}:") else key
        if "type" not in spec or (key not in merged and key not in secret_keys):
            continue
        if spec.get("secret") and key not in secret_keys:
            raise StackConfigError(
                f"Stack '{stack}' with configuration key '{short}' must be encrypted as it's secret"
            )
        value = secret_keys[key] if key in secret_keys else merged[key]
        if not isinstance(value, dict | list) and not _cli_type_ok(spec["type"], value):
            raise StackConfigError(
                f"Stack '{stack}' with configuration key '{short}' must be of type '{spec['type']}'"
            )
    return merged


def engine_config(values: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: strings stay, anything else is JSON text."""
    return {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
