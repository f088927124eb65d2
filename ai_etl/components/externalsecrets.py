"""External Secrets Operator objects (external-secrets.io/v1): their manifests, built as plain dicts
(generations, pinned versions, the ExternalSecret), and the custom resource that declares one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

API_VERSION = "external-secrets.io/v1"
DELETE_TIMEOUT = "5m"
"""How long a delete may wait for the operator. It removes its finalizer
(`externalsecrets.external-secrets.io/externalsecret-cleanup`) from what it deletes, and only a
running operator does (external-secrets pkg/controllers/externalsecret/externalsecret_controller.go),
so with the operator down a delete waits; pulumi-kubernetes waits until the object is gone and warns
that "finalizers might be preventing deletion" (provider/pkg/await/condition/deleted.go)."""
WAIT_FOR_READY = {"pulumi.com/waitFor": "condition=Ready"}
# The values are pinned by version id, so a periodic refresh only repairs drift (a deleted Secret).
REFRESH_INTERVAL = "1h"


def eso_manifest(
    kind: str, name: pulumi.Input[str], namespace: pulumi.Input[str], labels: Mapping[str, str], spec: dict
) -> dict:
    """An External Secrets object that Pulumi waits on until the operator reports it Ready."""
    return {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": dict(WAIT_FOR_READY),
        },
        "spec": spec,
    }


def declare(
    resource_name: str, manifest: dict, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """The custom resource of an External Secrets manifest; its delete gives up after DELETE_TIMEOUT
    (see docs/troubleshooting.md) instead of hanging a rotation or a destroy."""
    timeouts = pulumi.ResourceOptions(custom_timeouts=pulumi.CustomTimeouts(delete=DELETE_TIMEOUT))
    return k8s.apiextensions.CustomResource(
        resource_name,
        api_version=manifest["apiVersion"],
        kind=manifest["kind"],
        metadata=manifest["metadata"],
        spec=manifest["spec"],
        opts=pulumi.ResourceOptions.merge(opts, timeouts),
    )


def version_ref(version_id: str) -> str:
    """Pins a remoteRef to one Secrets Manager version (the operator's `uuid/` form)."""
    return f"uuid/{version_id}"


def generation_name(basename: str, entries: list[tuple[str, str, str]]) -> str:
    """`<basename>-<hash>` of (key, Secrets Manager name, version id) triples.

    It changes whenever a key, its source or its value's version changes, and with nothing else.
    """
    canonical = json.dumps(sorted(entries), separators=(",", ":"))
    return f"{basename}-{hashlib.sha256(canonical.encode()).hexdigest()[:10]}"


def external_secret_manifest(
    *,
    name: pulumi.Input[str],
    namespace: pulumi.Input[str],
    store_name: pulumi.Input[str],
    data: Sequence[tuple[str, str, pulumi.Input[str] | None]],
    labels: Mapping[str, str],
    properties: Mapping[str, str] | None = None,
) -> dict:
    """The ExternalSecret of one generation: each (key, remote name, version) pinned (version None:
    the current one, AWSCURRENT, for a secret someone else rotates); a key in
    `properties` takes that property of its remote value, a JSON object (the operator's
    `remoteRef.property`).

    The target Secret takes the ExternalSecret's own name (see generation_name).
    """
    properties = properties or {}
    spec = {
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
                "secretKey": key,
                "remoteRef": {
                    "key": remote,
                    **({"version": version} if version is not None else {}),
                    **({"property": properties[key]} if key in properties else {}),
                },
            }
            for key, remote, version in data
        ],
    }
    return eso_manifest("ExternalSecret", name, namespace, labels, spec)
