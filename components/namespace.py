"""The environment's Kubernetes namespace, with Pod Security Admission `restricted` enforced."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.labels import k8s_labels, name_of

PSA_LEVEL = "restricted"


def namespace_manifest(name: str, stack: str) -> dict:
    """The Namespace object: labelled, and `restricted` enforced, audited and warned."""
    labels = k8s_labels(stack, "namespace")
    for mode in ("enforce", "audit", "warn"):
        labels[f"pod-security.kubernetes.io/{mode}"] = PSA_LEVEL
        labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@dataclass(frozen=True)
class NamespaceArgs:
    name: str
    stack: str


class Namespace(pulumi.ComponentResource):
    """One namespace per environment: dev and production share no Kubernetes object."""

    name: pulumi.Output[str]
    """The namespace's name, known once it exists (so dependents wait for it)."""

    def __init__(self, name: str, args: NamespaceArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:namespace:Namespace", name, None, opts)
        manifest = namespace_manifest(args.name, args.stack)
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=manifest["metadata"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = name_of(namespace)
        self.register_outputs({"name": self.name})
