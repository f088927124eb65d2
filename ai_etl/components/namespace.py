"""A Kubernetes namespace with Pod Security Admission `restricted` enforced, audited and warned."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ai_etl.components.labels import with_component
from ai_etl.components.outputs import name_of
from ai_etl.tokens import NAMESPACE_COMPONENT

PSA_LEVEL = "restricted"


def namespace_manifest(name: str, labels: Mapping[str, str], annotations: Mapping[str, str]) -> dict:
    """The Namespace object: labelled, annotated, and `restricted` enforced, audited and warned."""
    psa = {
        f"pod-security.kubernetes.io/{mode}{suffix}": value
        for mode in ("enforce", "audit", "warn")
        for suffix, value in (("", PSA_LEVEL), ("-version", "latest"))
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "labels": {**with_component(labels, "namespace"), **psa},
            "annotations": dict(annotations),
        },
    }


@dataclass(frozen=True)
class NamespaceArgs:
    name: str
    """The namespace's name (an RFC 1123 label)."""
    labels: Mapping[str, str]
    annotations: Mapping[str, str]


class Namespace(pulumi.ComponentResource):
    """One namespace per environment: environments share no Kubernetes object."""

    name: pulumi.Output[str]
    """The namespace's name, known once it exists (so dependents wait for it)."""

    def __init__(self, name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NAMESPACE_COMPONENT, name, None, opts)
        manifest = namespace_manifest(args.name, args.labels, args.annotations)
        # The component's one object takes the component's name (its URN differs by type).
        namespace = k8s.core.v1.Namespace(
            name, metadata=manifest["metadata"], opts=pulumi.ResourceOptions(parent=self)
        )
        self.name = name_of(namespace)
        self.register_outputs({"name": self.name})
