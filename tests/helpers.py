"""Reading a recorded run: Kubernetes manifests, secret values, and the dependency graph."""

from __future__ import annotations

import json
from typing import Any

from offline.engine import Registration, Run
from offline.render import mask

K8S_PREFIX = "kubernetes:"


def manifests(run: Run) -> list[dict[str, Any]]:
    """Every Kubernetes object the run declares, as the API server would receive it."""
    return [r.inputs for r in run.resources if r.type.startswith(K8S_PREFIX)]


def manifest(run: Run, kind: str, api_version: str | None = None) -> dict[str, Any]:
    found = [
        m
        for m in manifests(run)
        if m["kind"] == kind and (api_version is None or m["apiVersion"] == api_version)
    ]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def plain_text(value: Any) -> str:
    """`value` as text with every secret left out: what anyone reading the plan would see."""
    return json.dumps(mask(value), sort_keys=True)


def depends_on(run: Run, resource: Registration, target: Registration) -> bool:
    """Whether `resource` waits for `target`, directly or through other resources."""
    seen: set[str] = set()
    todo = list(resource.dependencies)
    while todo:
        urn = todo.pop()
        if urn == target.urn:
            return True
        if urn in seen:
            continue
        seen.add(urn)
        todo.extend(run.by_urn(urn).dependencies)
        # A dependency on a component is a dependency on all its children.
        todo.extend(r.urn for r in run.resources if r.parent == urn)
    return False
