"""External Secrets Operator objects (external-secrets.io/v1): the SecretStore and the ExternalSecret.

Every generation of values gets its own ExternalSecret and Kubernetes Secret, named by a hash of
what the backend reads (keys, Secrets Manager names, version ids). A new value therefore means a
new Secret name: Pulumi creates the new ExternalSecret, waits until the operator reports it Ready,
then rolls the Deployment onto it, and deletes the old generation only after the rollout. A pod
can never start against a Secret that still holds the old values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.labels import k8s_labels, name_of

API_VERSION = "external-secrets.io/v1"
STORE_NAME = "aws-secrets-manager"
SECRET_BASENAME = "ai-etl-secrets"
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}
# The values are pinned by version id, so a periodic refresh only repairs drift (a deleted Secret).
REFRESH_INTERVAL = "1h"


@dataclass(frozen=True)
class RemoteEntry:
    """One key of the synced Secret: where it lives in Secrets Manager, at which version."""

    key: str
    remote_name: str
    version: pulumi.Input[str]
    """The remoteRef version: `uuid/<version id>` (see version_ref)."""


def version_ref(version_id: str) -> str:
    """Pins a remoteRef to one Secrets Manager version (the operator's `uuid/` form)."""
    return f"uuid/{version_id}"


def generation_name(entries: list[tuple[str, str, str]]) -> str:
    """`ai-etl-secrets-<hash>` of (key, Secrets Manager name, version id) triples.

    It changes whenever a key, its source or its value's version changes, and with nothing else.
    """
    canonical = json.dumps(sorted(entries), separators=(",", ":"))
    return f"{SECRET_BASENAME}-{hashlib.sha256(canonical.encode()).hexdigest()[:10]}"


def secret_store_manifest(
    namespace: pulumi.Input[str], region: str, service_account: pulumi.Input[str], stack: str
) -> dict:
    """The SecretStore: AWS Secrets Manager in the stack's region, as the IRSA ServiceAccount."""
    return {
        "apiVersion": API_VERSION,
        "kind": "SecretStore",
        "metadata": {
            "name": STORE_NAME,
            "namespace": namespace,
            "labels": k8s_labels(stack, "secret-store"),
            "annotations": dict(WAIT_FOR_READY),
        },
        "spec": {
            "provider": {
                "aws": {
                    "service": "SecretsManager",
                    "region": region,
                    "auth": {"jwt": {"serviceAccountRef": {"name": service_account}}},
                }
            }
        },
    }


def external_secret_manifest(
    *,
    name: pulumi.Input[str],
    namespace: pulumi.Input[str],
    store_name: pulumi.Input[str],
    entries: list[RemoteEntry],
    stack: str,
) -> dict:
    """The ExternalSecret of one generation: each key pinned to its Secrets Manager version.

    The target Secret takes the ExternalSecret's own name (see generation_name).
    """
    return {
        "apiVersion": API_VERSION,
        "kind": "ExternalSecret",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": k8s_labels(stack, "secrets"),
            "annotations": dict(WAIT_FOR_READY),
        },
        "spec": {
            "refreshInterval": REFRESH_INTERVAL,
            "secretStoreRef": {"kind": "SecretStore", "name": store_name},
            "target": {
                "name": name,
                # Owner: the operator owns the Secret, which goes when this generation goes.
                "creationPolicy": "Owner",
                # Retain: if a Secrets Manager entry vanished, keep serving the last values.
                "deletionPolicy": "Retain",
            },
            "data": [
                {
                    "secretKey": e.key,
                    "remoteRef": {"key": e.remote_name, "version": e.version},
                }
                for e in entries
            ],
        },
    }


@dataclass(frozen=True)
class ExternalSecretsArgs:
    namespace: pulumi.Input[str]
    region: str
    service_account: pulumi.Input[str]
    """The IRSA ServiceAccount (its Output, so the store waits for the role)."""
    remote_names: Mapping[str, str]
    """Secrets Manager name by key, for the keys the backend reads."""
    version_ids: Mapping[str, pulumi.Input[str]]
    """Current version id by key (never secret)."""
    stack: str


class ExternalSecrets(pulumi.ComponentResource):
    """Syncs the backend's secrets from AWS into one Kubernetes Secret per generation of values."""

    secret_name: pulumi.Output[str]
    """Name of the current generation's Kubernetes Secret; known once the operator has synced it."""

    def __init__(self, name: str, args: ExternalSecretsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:externalsecrets:ExternalSecrets", name, None, opts)
        store_manifest = secret_store_manifest(args.namespace, args.region, args.service_account, args.stack)
        store = self._declare(f"{name}-store", store_manifest)
        keys = list(args.remote_names)
        # Only the name and the pinned versions wait for new values; the rest stays known in
        # preview, so a rotation previews as the replacement it is.
        generation = pulumi.Output.all(*(args.version_ids[k] for k in keys)).apply(
            lambda ids: generation_name(
                [(k, args.remote_names[k], v) for k, v in zip(keys, ids, strict=True)]
            )
        )
        manifest = external_secret_manifest(
            name=generation,
            namespace=args.namespace,
            store_name=name_of(store),
            entries=[
                RemoteEntry(
                    k,
                    args.remote_names[k],
                    pulumi.Output.from_input(args.version_ids[k]).apply(version_ref),
                )
                for k in keys
            ],
            stack=args.stack,
        )
        external_secret = self._declare(f"{name}-external-secret", manifest)
        # The target Secret bears the ExternalSecret's name; taking it from the created object
        # makes every user of the Secret wait until the operator reported it Ready.
        self.secret_name = name_of(external_secret)
        self.register_outputs({"secret_name": self.secret_name})

    def _declare(self, resource_name: str, manifest: dict) -> k8s.apiextensions.CustomResource:
        """A custom resource, child of this component, from its manifest."""
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=manifest["apiVersion"],
            kind=manifest["kind"],
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
