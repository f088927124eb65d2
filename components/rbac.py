"""The backend's identity: its own ServiceAccount, and a Role that reads only the platform's Secret."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from components.labels import k8s_labels, name_of

ROLE_NAME = "secret-reader"


def secret_reader_rules(secret_name: str) -> list[dict]:
    """`get` on the one Secret, by name: no list, no watch, no other Secret of the namespace."""
    return [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": [secret_name],
            "verbs": ["get"],
        }
    ]


def role_binding_manifest(
    namespace: pulumi.Input[str], role: pulumi.Input[str], service_account: pulumi.Input[str], stack: str
) -> dict:
    """Binds the Role to the backend's ServiceAccount, in its own namespace only."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": ROLE_NAME, "namespace": namespace, "labels": k8s_labels(stack, "backend")},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


@dataclass(frozen=True)
class BackendIdentityArgs:
    namespace: pulumi.Input[str]
    service_account: str
    secret_name: pulumi.Input[str]
    """The current generation's Secret; the Role follows it on every rotation."""
    stack: str


class BackendIdentity(pulumi.ComponentResource):
    """ServiceAccount `ai-etl-backend` (never `default`), Role `secret-reader` and its RoleBinding."""

    service_account: pulumi.Output[str]
    """The ServiceAccount the backend runs as."""

    def __init__(self, name: str, args: BackendIdentityArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:rbac:BackendIdentity", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels: dict[str, Any] = k8s_labels(args.stack, "backend")
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": args.service_account, "namespace": args.namespace, "labels": labels},
            opts=child,
        )
        role = k8s.rbac.v1.Role(
            f"{name}-role",
            metadata={"name": ROLE_NAME, "namespace": args.namespace, "labels": labels},
            # Plain dicts are what the provider receives; the SDK's TypedDicts add nothing here.
            rules=cast(Any, pulumi.Output.from_input(args.secret_name).apply(secret_reader_rules)),
            opts=child,
        )
        binding = role_binding_manifest(args.namespace, name_of(role), name_of(account), args.stack)
        k8s.rbac.v1.RoleBinding(
            f"{name}-role-binding",
            metadata=binding["metadata"],
            role_ref=binding["roleRef"],
            subjects=binding["subjects"],
            opts=child,
        )
        self.service_account = name_of(account)
        self.register_outputs({"service_account": self.service_account})
