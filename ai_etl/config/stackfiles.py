"""The project's stack files on disk, read for what PULUMI_CONFIG does not carry: which leaves of an
object are `secure:` (the CLI marks a key secret as a whole when any leaf is), and the other
stacks' namespaces and clusters.

The program runs in its project: the Python language host passes `--root_directory`, the folder of
Pulumi.yaml, which `pulumi.get_root_directory()` returns, and runs from the project's `pwd`
(pulumi/pulumi sdk/python/cmd/pulumi-language-python-exec); under the SDK's mocks neither is set
and the current directory stands in. A stack's file is `Pulumi.<stack>.yaml` beside Pulumi.yaml,
or in its `stackConfigDir` (sdk/go/common/workspace/paths.go, ProjectStackPath). A file that cannot
be read is left out: its own stack's run reports it (the CLI refuses it first).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml

from ai_etl.config.commands import Path as KeyPath

MAX_BYTES = 1 << 20
"""Larger files are not read: a stack file is a few kilobytes."""
_LOADER: type = getattr(yaml, "CBaseLoader", yaml.BaseLoader)
"""libyaml's parser where PyYAML has it (its wheels do), as ai_etl/offline/yamlv3.py uses: the same
nodes as the pure-Python BaseLoader, in a twentieth of the time. A program run reads every stack
file of the project (the cross-stack checks), which in Python was most of what a refused config
costs. libyaml bounds nesting itself (1000 levels: a ScannerError, as the Python one ends in a
RecursionError); both are caught below."""


@dataclass(frozen=True)
class StackFile:
    """One stack's `config:`, every scalar as its text (yaml's BaseLoader): only names and the shape
    of `secure:` leaves are read here, never typed values."""

    stack: str
    config: Mapping[str, Any]
    environment: Any = None
    """The Pulumi ESC environments the file imports (`environment:`), whose values the CLI merges
    into the stack's config (pulumi/pulumi sdk/go/common/workspace/project.go, ProjectStack)."""


def _read(path: Path) -> Mapping[str, Any] | None:
    """A YAML file's top-level mapping, or None if it is missing, too large, or not YAML. Its first
    document only, as the CLI reads it (yaml.v3's Unmarshal parses one). PyYAML builds an alias
    once and shares it, so an alias bomb costs no more than its text."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return None
        data = next(yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER), None)
    except (OSError, ValueError, yaml.YAMLError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _project_file(project: str) -> tuple[Path, Mapping[str, Any]] | None:
    """The project's Pulumi.yaml (or .yml) where the program runs, and what it holds; None if the
    folder holds another project (or none)."""
    root = Path(pulumi.get_root_directory() or os.getcwd())
    found = next((p for p in (root / "Pulumi.yaml", root / "Pulumi.yml") if p.is_file()), None)
    meta = _read(found) if found else None
    return (found, meta) if found and meta and meta.get("name") == project else None


def project_values(project: str) -> frozenset[str]:
    """The keys of another namespace (`aws:endpoints`) that Pulumi.yaml's `config:` gives a value,
    which the CLI hands the program when the stack file does not set them (pulumi/pulumi
    pkg/workspace/config.go, mergeConfig; a plain value is shorthand for `value:`, sdk/go/common/
    workspace/project.go RewriteShorthandConfigValues). No `pulumi config` command removes them."""
    found = _project_file(project)
    declared = found[1].get("config") if found else None
    if not isinstance(declared, dict):
        return frozenset()
    return frozenset(
        str(key)
        for key, spec in declared.items()
        if ":" in str(key)
        and not str(key).startswith(f"{project}:")
        and spec not in NULLS
        and (not isinstance(spec, dict) or "value" in spec or "default" in spec)
    )


def stack_files(project: str) -> dict[str, StackFile]:
    """Every stack file of the project `project`, by stack; none if the folder the program runs in
    holds another project (or none)."""
    project_file = _project_file(project)
    if project_file is None:
        return {}
    found, meta = project_file
    folder = found.parent / str(meta.get("stackConfigDir") or "")
    files = {}
    for path in sorted(folder.glob(f"Pulumi.*{found.suffix}")):
        stack = path.name[len("Pulumi.") : -len(path.suffix)]
        data = _read(path)
        config = data.get("config") if data else None
        if stack and isinstance(config, dict):
            files[stack] = StackFile(stack, config, data.get("environment") if data else None)
    return files


def file_stack(stack: str) -> str:
    """A stack's name as its file names it: `/` becomes `-` (paths.go, qnameFileName)."""
    return stack.replace("/", "-")


def is_secure(value: Any) -> bool:
    """A `secure:` value: a mapping of one key, `secure`, to text (pulumi/pulumi
    sdk/go/common/resource/config/object.go, isSecureValue)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get("secure"), str)


def plain_leaves(value: Any, path: KeyPath = ()) -> Iterator[KeyPath]:
    """The paths of the values inside `value` that are in plain text, not `secure:`."""
    if is_secure(value):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            yield from plain_leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from plain_leaves(item, (*path, index))
    elif value not in NULLS:
        yield path


NULLS = (None, "", "~", "null", "Null", "NULL")
"""YAML's nulls as BaseLoader reads them: they hold no value, so none in plain text."""
