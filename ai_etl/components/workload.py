"""A workload that reads secrets: its own synced Secret, identity and Deployment.

Every generation of its values gets its own ExternalSecret and Kubernetes Secret, named by a hash
of what it reads (keys, Secrets Manager names, version ids). A new value therefore means a new
Secret name: Pulumi creates the new ExternalSecret, waits until the operator reports it Ready,
then rolls the Deployment onto it, and deletes the old generation only after the rollout. A pod
can never start against a Secret that still holds the old values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from ai_etl.components.externalsecrets import declare, external_secret_manifest, generation_name, version_ref
from ai_etl.components.labels import with_component
from ai_etl.components.outputs import name_of
from ai_etl.components.pods import (
    ContainerSpec,
    SecretEnv,
    container_env,
    deployment_manifest,
    network_policy_manifest,
)
from ai_etl.tokens import WORKLOAD_COMPONENT


@dataclass(frozen=True)
class SyncedKey:
    """One key of the workload's Secret: where it lives in Secrets Manager, at which version."""

    key: str
    env_var: str
    remote_name: str
    version_id: pulumi.Input[str]


def secret_reader_rules(secret_name: str) -> list[dict]:
    """`get` on the one Secret, by name: no list, no watch, no other Secret of the namespace."""
    return [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": [secret_name], "verbs": ["get"]}]


def role_binding_manifest(
    name: str,
    namespace: pulumi.Input[str],
    role: pulumi.Input[str],
    service_account: pulumi.Input[str],
    labels: Mapping[str, str],
) -> dict:
    """Binds the Role to the workload's ServiceAccount, in its own namespace only."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role},
        "subjects": [{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}],
    }


@dataclass(frozen=True)
class WorkloadArgs:
    name: str
    """Its Kubernetes name: the Deployment, ServiceAccount and NetworkPolicy; `<name>-secrets-<hash>`
    and `<name>-secret-reader` for its Secret and Role."""
    component: str
    """Its `app.kubernetes.io/component` label and container name (e.g. `backend`)."""
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    selector_labels: Mapping[str, str]
    """Labels that, with `app.kubernetes.io/name`, select its pods (immutable once deployed)."""
    store_name: pulumi.Input[str]
    """The SecretStore its ExternalSecret reads through."""
    synced: Sequence[SyncedKey]
    """The secrets it reads, and only these."""
    plain_env: Mapping[str, str]
    container: ContainerSpec
    egress_ports: Sequence[int]
    """TCP ports it connects to besides HTTPS and DNS (its databases)."""
    ca_bundle: pulumi.Input[str] | None = None
    """The ConfigMap of the CA bundle its pods verify a managed database against, if any."""
    after: Sequence[pulumi.Resource] = ()
    """What its new Secret and its Deployment wait for (the servers' rotation steps): if one fails,
    `pulumi up` stops before any pod of it rolls."""


class Workload(pulumi.ComponentResource):
    """ExternalSecret (one per generation), ServiceAccount, a Role that reads only its Secret, the
    RoleBinding, the Deployment (every credential by secretKeyRef) and its NetworkPolicy."""

    secret_name: pulumi.Output[str]
    """The current generation's Kubernetes Secret; known once the operator synced it."""
    service_account: pulumi.Output[str]
    """The ServiceAccount its pods run as."""

    def __init__(self, name: str, args: WorkloadArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(WORKLOAD_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = with_component(args.labels, args.component)
        selector = {"app.kubernetes.io/name": args.name, **args.selector_labels}

        # Only the name and the pinned versions wait for new values; the rest stays known in
        # preview, so a rotation previews as the replacement it is.
        generation = pulumi.Output.all(*(s.version_id for s in args.synced)).apply(
            lambda ids: generation_name(
                f"{args.name}-secrets",
                [(s.key, s.remote_name, v) for s, v in zip(args.synced, ids, strict=True)],
            )
        )
        data = [
            (s.key, s.remote_name, pulumi.Output.from_input(s.version_id).apply(version_ref))
            for s in args.synced
        ]
        es = external_secret_manifest(
            name=generation,
            namespace=args.namespace,
            store_name=args.store_name,
            data=data,
            labels=with_component(args.labels, "secrets"),
        )
        after = pulumi.ResourceOptions(parent=self, depends_on=list(args.after))
        external_secret = declare(f"{name}-secrets", es, after)
        # The Secret bears the ExternalSecret's name; taking it from the created object makes
        # every user of the Secret wait until the operator reported it Ready.
        self.secret_name = name_of(external_secret)

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": args.name, "namespace": args.namespace, "labels": labels},
            opts=child,
        )
        self.service_account = name_of(account)
        reader = f"{args.name}-secret-reader"
        role = k8s.rbac.v1.Role(
            f"{name}-secret-reader",
            metadata={"name": reader, "namespace": args.namespace, "labels": labels},
            # Plain dicts are what the provider receives; the SDK's TypedDicts add nothing here.
            rules=cast(Any, self.secret_name.apply(secret_reader_rules)),
            opts=child,
        )
        binding = role_binding_manifest(reader, args.namespace, name_of(role), self.service_account, labels)
        k8s.rbac.v1.RoleBinding(
            f"{name}-secret-reader-binding",
            metadata=binding["metadata"],
            role_ref=binding["roleRef"],
            subjects=binding["subjects"],
            opts=child,
        )

        # Outputs sit near the leaves, so a new Secret name leaves only `env` unknown in a preview.
        # The env is built in one apply: one dependency on the Secret name rather than one per
        # variable, which keeps the SDK's cycle check linear in the number of secrets.
        secrets = [SecretEnv(s.env_var, s.key) for s in args.synced]
        env = self.secret_name.apply(lambda secret: container_env(secrets, secret, args.plain_env))
        deployment = deployment_manifest(
            name=args.name,
            container_name=args.component,
            namespace=args.namespace,
            labels=labels,
            selector=selector,
            settings=args.container,
            service_account=self.service_account,
            env=env,
            ca_bundle=args.ca_bundle,
        )
        k8s.apps.v1.Deployment(name, metadata=deployment["metadata"], spec=deployment["spec"], opts=after)
        policy = network_policy_manifest(
            name=args.name,
            namespace=args.namespace,
            labels=labels,
            selector=selector,
            port=args.container.port,
            egress_ports=args.egress_ports,
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy", metadata=policy["metadata"], spec=policy["spec"], opts=child
        )
        self.register_outputs({"secret_name": self.secret_name, "service_account": self.service_account})
