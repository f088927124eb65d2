"""Render a stack offline: run the real program under the mock engine and write what it declares.

`resources.json` holds one object per resource in declaration order (type token, name, URN, parent,
dependencies, the options that matter for safety, and inputs with every secret as "[secret]");
`kubernetes.yaml` holds every Kubernetes object, ready for `kubectl apply --dry-run=server -f`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ai_etl.offline.diff import item_key
from ai_etl.offline.engine import (
    PROJECT_DIR,
    Registration,
    Run,
    Sensitive,
    load_project,
    load_stack_config,
    run_program,
    secrets_in,
    unwrap,
)

SECRET_MARK = "[secret]"
PLACEHOLDER_PREFIX = "offline-placeholder-"


@dataclass(frozen=True)
class Rendered:
    """What `render` wrote, and the run behind it."""

    run: Run
    resources_path: Path
    kubernetes_path: Path
    placeholders: tuple[str, ...]
    """The provided secrets that got a placeholder (absent, or encrypted for the stack's provider)."""


def offline_config(
    stack: str, stack_dir: Path = PROJECT_DIR
) -> tuple[dict[str, Any], dict[str, str], list[str]]:
    """The stack's config, and placeholders for the secrets it cannot decrypt here.

    A `secure:` value needs the stack's secrets provider, which offline has not, so it gets a
    placeholder, as does a key that Pulumi.yaml declares `secret: true` and the stack leaves unset.
    Nothing else is invented: a missing plain key stays missing.
    """
    config = load_stack_config(stack, stack_dir)
    project = load_project(stack_dir)
    declared = project.get("config") or {}
    secret_keys = [
        key if ":" in key else f"{project['name']}:{key}"
        for key, spec in declared.items()
        if isinstance(spec, dict) and spec.get("secret")
    ]
    encrypted = [key for key, value in config.items() if _holds_secure(value)]
    secrets: dict[str, str] = {}
    for key in sorted({*encrypted, *(k for k in secret_keys if k not in config)}):
        value = config.pop(key, None)
        name = f"{PLACEHOLDER_PREFIX}{key.split(':', 1)[-1]}"
        # A key is secret as a whole when any value inside it is (as the CLI marks it).
        is_object = isinstance(value, dict) and "secure" not in value
        secrets[key] = json.dumps(_placeholders(value, name)) if is_object else _placeholder(value, name)
    return config, secrets, sorted(secrets)


def _placeholder(value: Any, name: str) -> str:
    """The placeholder of one secret: its name and, for a `secure:` value, a digest of the
    ciphertext. The ciphertext is in the committed stack file and its digest says nothing of the
    value, but a new ciphertext (a provided secret set again) makes a new placeholder, which the
    diff reports as a changed secret instead of "no changes"."""
    if isinstance(value, dict) and "secure" in value:
        return f"{name}-{hashlib.sha256(str(value['secure']).encode()).hexdigest()[:12]}"
    return name


def _holds_secure(value: Any) -> bool:
    """Whether `value` is, or holds, an encrypted `secure:` value."""
    if isinstance(value, dict):
        return "secure" in value or any(_holds_secure(v) for v in value.values())
    return isinstance(value, list) and any(_holds_secure(v) for v in value)


def _placeholders(value: Any, name: str) -> Any:
    """`value` with every `secure:` value inside it replaced by a placeholder named by its path."""
    if isinstance(value, dict):
        if "secure" in value:
            return _placeholder(value, name)
        return {k: _placeholders(v, f"{name}.{k}") for k, v in value.items()}
    return value


def mask(value: Any) -> Any:
    """`value` with every secret written as "[secret]"."""
    if isinstance(value, Sensitive):
        return SECRET_MARK
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def fingerprints(value: Any, path: str = "") -> dict[str, str]:
    """A short digest per secret path, so a diff can tell that a secret changed.

    Offline values are never real ones (passwords come from the mock provider, provided secrets
    are placeholders), so a digest reveals nothing; it only changes when the value does.
    """
    if isinstance(value, Sensitive):
        digest = hashlib.sha256(json.dumps(unwrap(value), sort_keys=True).encode()).hexdigest()
        return {path: digest[:16]}
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out.update(fingerprints(v, f"{path}.{k}" if path else k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.update(fingerprints(v, f"{path}{item_key(value, i)}"))  # the diff's own paths
    return out


def resource_record(r: Registration) -> dict[str, Any]:
    """One entry of resources.json."""
    record: dict[str, Any] = {
        "urn": r.urn,
        "type": r.type,
        "name": r.name,
        "parent": r.parent or None,
        "custom": r.custom,
        "dependencies": sorted(set(r.dependencies)),
        "protect": r.protect,
        "retainOnDelete": r.retain_on_delete,
        "deleteBeforeReplace": r.delete_before_replace,
        "replaceOnChanges": r.replace_on_changes,
        "ignoreChanges": r.ignore_changes,
        "customTimeouts": r.custom_timeouts,
        "provider": r.provider.rpartition("::")[0] or None,
        "inputs": mask(r.inputs),
    }
    secret_paths = fingerprints(r.inputs)
    if secret_paths:
        record["secretFingerprints"] = secret_paths
    return record


_HEAD_KEYS = ("apiVersion", "kind", "metadata")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def kubernetes_documents(run: Run) -> list[dict[str, Any]]:
    """Every Kubernetes object, as `kubectl apply` takes it, keys in a stable order.

    The program declares no secret data; a secret here would be a defect, so it stops the render.
    """
    docs = []
    for r in run.resources:
        if r.type.startswith("kubernetes:"):
            if list(secrets_in(r.inputs)):
                raise ValueError(f"{r.name}: a Kubernetes object must not carry a secret value")
            doc = _sorted(r.inputs)
            docs.append({**{k: doc[k] for k in _HEAD_KEYS if k in doc}, **doc})
    return docs


def load_answers(path: Path | None) -> dict[str, Any]:
    """What provider functions answer, from a YAML file: function token -> the fields that replace
    the made-up answer's, or null for "not found" (e.g. an older cluster for
    `aws:eks/getCluster:getCluster`)."""
    if path is None:
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or not all(isinstance(v, dict | None) for v in data.values()):
        raise ValueError(f"{path}: expected a mapping of function tokens to fields (or null)")
    return dict(data)


def offline_run(
    stack: str, stack_dir: Path = PROJECT_DIR, answers: dict[str, Any] | None = None
) -> tuple[Run, list[str]]:
    """Run the program for `stack` offline; and which provided secrets got placeholders.

    `stack_dir` is the project: its `Pulumi.yaml`, its program (`main`, or `__main__.py`) and the
    `Pulumi.<stack>.yaml` to read; any Pulumi Python project, this one by default. `answers`
    replaces what provider functions answer (`load_answers`).
    """
    config, secrets, placeholders = offline_config(stack, stack_dir)
    project = load_project(stack_dir)
    main = stack_dir / str(project.get("main") or ".")
    program = main / "__main__.py" if main.is_dir() else main
    return run_program(stack, config, secrets, program, project=project, answers=answers), placeholders


def render(
    stack: str, out: Path, stack_dir: Path = PROJECT_DIR, answers: dict[str, Any] | None = None
) -> Rendered:
    """Run the program for `stack` and write resources.json and kubernetes.yaml into `out`."""
    run, placeholders = offline_run(stack, stack_dir, answers)
    out.mkdir(parents=True, exist_ok=True)
    resources_path = out / "resources.json"
    resources_path.write_text(
        json.dumps(
            {"stack": stack, "resources": [resource_record(r) for r in run.resources]},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )
    kubernetes_path = out / "kubernetes.yaml"
    kubernetes_path.write_text(
        yaml.safe_dump_all(kubernetes_documents(run), sort_keys=False, default_flow_style=False)
    )
    return Rendered(run, resources_path, kubernetes_path, tuple(placeholders))


def summary(rendered: Rendered) -> str:
    """The resources as a tree by component, then counts by type."""
    run = rendered.run
    children: dict[str, list[Registration]] = {}
    urns = {r.urn for r in run.resources}
    roots = []
    for r in run.resources:
        if r.parent in urns:
            children.setdefault(r.parent, []).append(r)
        else:
            roots.append(r)
    lines = [f"stack {run.stack}: {len(run.resources)} resources"]

    def walk(r: Registration, prefix: str, last: bool) -> None:
        flags = " [protected]" if r.protect else ""
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{r.type}  {r.name}{flags}")
        kids = children.get(r.urn, [])
        for i, kid in enumerate(kids):
            walk(kid, prefix + ("   " if last else "│  "), i == len(kids) - 1)

    for i, root in enumerate(roots):
        walk(root, "", i == len(roots) - 1)
    lines.append("")
    lines.append("by type:")
    counts: Mapping[str, int] = Counter(r.type for r in run.resources)
    for token, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {count:>4}  {token}")
    if rendered.placeholders:
        lines.append("")
        lines.append(
            "placeholders (secret here, not decryptable offline): " + ", ".join(rendered.placeholders)
        )
    lines.append("")
    lines.append(f"wrote {rendered.resources_path} and {rendered.kubernetes_path}")
    return "\n".join(lines)
