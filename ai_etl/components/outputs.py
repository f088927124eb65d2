"""Output helpers shared by the components."""

from __future__ import annotations

import pulumi


def name_of(resource: pulumi.CustomResource) -> pulumi.Output[str]:
    """A Kubernetes object's `metadata.name` as an Output, so users of it wait for the object."""
    metadata: pulumi.Output = resource.metadata  # type: ignore[attr-defined]
    return metadata.apply(lambda m: m["name"] if isinstance(m, dict) else m.name)
