"""Labels and tags shared by every object of an environment."""

from __future__ import annotations

import pulumi

from components.settings import PROJECT


def k8s_labels(stack: str, component: str) -> dict[str, str]:
    """Recommended Kubernetes labels (app.kubernetes.io/*) plus the environment."""
    return {
        "app.kubernetes.io/part-of": PROJECT,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/managed-by": "pulumi",
        "ai-etl.io/environment": stack,
    }


def aws_tags(stack: str) -> dict[str, str]:
    """Tags of every AWS resource, so cost and audit reports group them by environment."""
    return {"Project": PROJECT, "Environment": stack, "ManagedBy": "pulumi"}


def name_of(resource: pulumi.CustomResource) -> pulumi.Output[str]:
    """A Kubernetes object's `metadata.name` as an Output, so users of it wait for the object."""
    metadata: pulumi.Output = resource.metadata  # type: ignore[attr-defined]
    return metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
