"""Pure builders of a workload's pods: the hardened Deployment, its env, and its NetworkPolicy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi

from ai_etl.components import trust

RUN_AS = 10001  # any non-root uid above 10000, clear of host users; `restricted` needs non-root
# Deliberate exceptions to the security scan, on the object they concern (checkov reads them).
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}
"""Every container of ours: Pod Security's `restricted` profile, and a read-only root."""
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": RUN_AS,
    "runAsGroup": RUN_AS,
    "fsGroup": RUN_AS,
    "seccompProfile": {"type": "RuntimeDefault"},
}
"""Every pod of ours (the backend's and the rotation steps')."""
SCAN_EXCEPTIONS = {
    "checkov.io/skip1": "CKV_K8S_35=The platform takes its credentials as environment variables "
    "by design; each comes by secretKeyRef from the operator-owned Secret",
}


@dataclass(frozen=True)
class ContainerSpec:
    """A workload's container: image, replicas, port, probes and resources, as plain values."""

    image: str
    replicas: int
    port: int
    liveness_path: str
    readiness_path: str
    cpu_request: str
    memory_request: str
    cpu_limit: str
    memory_limit: str


@dataclass(frozen=True)
class SecretEnv:
    """One env var read from the workload's Secret."""

    env_var: str
    key: str
    """The key in the Secret."""


def container_env(secrets: Sequence[SecretEnv], secret_name: str, plain: Mapping[str, str]) -> list[dict]:
    """Each secret by secretKeyRef to the Secret `secret_name`, then the plain configuration."""
    env: list[dict] = [
        {
            "name": s.env_var,
            "valueFrom": {"secretKeyRef": {"name": secret_name, "key": s.key, "optional": False}},
        }
        for s in secrets
    ]
    return env + [{"name": name, "value": value} for name, value in plain.items()]


def network_policy_manifest(
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    port: int,
    egress_ports: Sequence[int],
) -> dict:
    """Only what the workload needs: its HTTP port in; DNS, its databases and HTTPS (LLM API, S3)
    out. Everything else to and from its pods is denied where the cluster enforces policies."""

    def tcp(p: int) -> dict:
        return {"protocol": "TCP", "port": p}

    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [tcp(port)]}],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, tcp(53)]},
                {"ports": [tcp(p) for p in sorted({*egress_ports, 443})]},
            ],
        },
    }


def deployment_manifest(
    *,
    name: str,
    container_name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    settings: ContainerSpec,
    service_account: pulumi.Input[str],
    env: pulumi.Input[list[dict]],
    ca_bundle: pulumi.Input[str] | None = None,
) -> dict:
    """The Deployment: non-root, read-only root filesystem, no privilege, probes and resources set;
    with the CA bundle's ConfigMap `ca_bundle` mounted read-only, if given (trust.py)."""

    def http_get(path: str) -> dict:
        return {"path": path, "port": "http"}

    container = {
        "name": container_name,
        "image": settings.image,
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": settings.port, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {"cpu": settings.cpu_request, "memory": settings.memory_request},
            "limits": {"cpu": settings.cpu_limit, "memory": settings.memory_limit},
        },
        "livenessProbe": {"httpGet": http_get(settings.liveness_path), "periodSeconds": 10},
        "readinessProbe": {"httpGet": http_get(settings.readiness_path), "periodSeconds": 5},
        "securityContext": dict(CONTAINER_SECURITY),
        # A read-only root still needs a scratch directory (Python writes temp files).
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},
            *([trust.volume_mount()] if ca_bundle else []),
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": dict(SCAN_EXCEPTIONS),
        },
        "spec": {
            "replicas": settings.replicas,
            # No old ReplicaSets, so no `kubectl rollout undo`: the previous one would read the
            # previous generation's Secret, which is deleted with its ExternalSecret, and its pods
            # would never start. Roll back through the stack's config instead (docs/runbooks.md).
            "revisionHistoryLimit": 0,
            "selector": {"matchLabels": dict(selector)},
            "strategy": {
                "type": "RollingUpdate",
                # Never fewer ready pods than asked for while a rotation rolls out.
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": {**labels, **selector}},
                "spec": {
                    "serviceAccountName": service_account,
                    # The credentials arrive as env vars, which the kubelet resolves; the workload
                    # needs no API token, so none is mounted (least privilege).
                    "automountServiceAccountToken": False,
                    "securityContext": dict(POD_SECURITY),
                    "containers": [container],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        *([trust.volume(ca_bundle)] if ca_bundle else []),
                    ],
                },
            },
        },
    }
