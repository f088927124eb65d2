"""The backend Deployment `ai-etl-backend`: every credential by secretKeyRef, in a hardened pod."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.catalogue import SecretSpec, backend_secrets
from components.labels import k8s_labels, name_of
from components.settings import BackendSettings

DEPLOYMENT_NAME = "ai-etl-backend"
CONTAINER_NAME = "backend"
RUN_AS = 10001  # any non-root uid above 10000, clear of host users; `restricted` needs non-root
# Deliberate exceptions to the security scan, on the object they concern (checkov reads them).
SCAN_EXCEPTIONS = {
    "checkov.io/skip1": "CKV_K8S_35=The platform takes its credentials as environment variables "
    "by design; each comes by secretKeyRef from the operator-owned Secret",
}


def backend_env(
    catalogue: tuple[SecretSpec, ...], secret_name: pulumi.Input[str], qwen_api_base: str
) -> list[dict]:
    """The container's env: each catalogue secret by secretKeyRef, QWEN_API_BASE as plain config."""
    env: list[dict] = [
        {
            "name": spec.env_var,
            "valueFrom": {"secretKeyRef": {"name": secret_name, "key": spec.key, "optional": False}},
        }
        for spec in backend_secrets(catalogue)
    ]
    env.append({"name": "QWEN_API_BASE", "value": qwen_api_base})
    return env


def backend_selector(stack: str) -> dict[str, str]:
    """The labels that select the backend's pods (immutable once the Deployment exists)."""
    return {"app.kubernetes.io/name": DEPLOYMENT_NAME, "ai-etl.io/environment": stack}


def network_policy_manifest(
    *, namespace: pulumi.Input[str], stack: str, backend: BackendSettings, egress_ports: list[int]
) -> dict:
    """Only what the backend needs: its HTTP port in; DNS, Postgres, Redis and HTTPS (LLM API, S3)
    out. Everything else to and from its pods is denied where the cluster enforces policies."""
    tcp = lambda port: {"protocol": "TCP", "port": port}  # noqa: E731
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": DEPLOYMENT_NAME, "namespace": namespace, "labels": k8s_labels(stack, "backend")},
        "spec": {
            "podSelector": {"matchLabels": backend_selector(stack)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": [tcp(backend.port)]}],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, tcp(53)]},
                {"ports": [tcp(port) for port in sorted({*egress_ports, 443})]},
            ],
        },
    }


def deployment_manifest(
    *,
    namespace: pulumi.Input[str],
    stack: str,
    backend: BackendSettings,
    service_account: pulumi.Input[str],
    env: pulumi.Input[list[dict]],
) -> dict:
    """The Deployment: non-root, read-only root filesystem, no privilege, probes and resources set."""
    labels = k8s_labels(stack, "backend")
    selector = backend_selector(stack)
    http_get = lambda path: {"path": path, "port": "http"}  # noqa: E731
    container = {
        "name": CONTAINER_NAME,
        "image": backend.image,
        "imagePullPolicy": "Always",
        "ports": [{"name": "http", "containerPort": backend.port, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {"cpu": backend.cpu_request, "memory": backend.memory_request},
            "limits": {"cpu": backend.cpu_limit, "memory": backend.memory_limit},
        },
        "livenessProbe": {"httpGet": http_get(backend.liveness_path), "periodSeconds": 10},
        "readinessProbe": {"httpGet": http_get(backend.readiness_path), "periodSeconds": 5},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        # A read-only root still needs a scratch directory (Python writes temp files).
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": DEPLOYMENT_NAME,
            "namespace": namespace,
            "labels": labels,
            "annotations": dict(SCAN_EXCEPTIONS),
        },
        "spec": {
            "replicas": backend.replicas,
            "selector": {"matchLabels": selector},
            "strategy": {
                "type": "RollingUpdate",
                # Never fewer ready pods than asked for while a rotation rolls out.
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {"labels": {**labels, **selector}},
                "spec": {
                    "serviceAccountName": service_account,
                    # The credentials arrive as env vars, which the kubelet resolves; the backend
                    # needs no API token, so none is mounted (least privilege).
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


@dataclass(frozen=True)
class BackendArgs:
    namespace: pulumi.Input[str]
    stack: str
    backend: BackendSettings
    egress_ports: list[int]
    """TCP ports the backend connects to besides HTTPS (Postgres, Redis)."""
    catalogue: tuple[SecretSpec, ...]
    qwen_api_base: str
    service_account: pulumi.Input[str]
    secret_name: pulumi.Input[str]
    """The current generation's Secret: a new name rolls the Deployment onto the new values."""


class Backend(pulumi.ComponentResource):
    """The AI-ETL backend and its NetworkPolicy; Pulumi waits for the rollout to finish."""

    name: pulumi.Output[str]
    """The Deployment's name."""

    def __init__(self, name: str, args: BackendArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:backend:Backend", name, None, opts)
        # Outputs sit near the leaves, so a new Secret name leaves only `env` unknown in a preview.
        # The env list is built in one apply: one dependency on the Secret name rather than one
        # per variable, which keeps the SDK's cycle check linear in the catalogue's size.
        env = pulumi.Output.from_input(args.secret_name).apply(
            lambda secret_name: backend_env(args.catalogue, secret_name, args.qwen_api_base)
        )
        manifest = deployment_manifest(
            namespace=args.namespace,
            stack=args.stack,
            backend=args.backend,
            service_account=args.service_account,
            env=env,
        )
        deployment = k8s.apps.v1.Deployment(
            f"{name}-deployment",
            metadata=manifest["metadata"],
            spec=manifest["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = network_policy_manifest(
            namespace=args.namespace, stack=args.stack, backend=args.backend, egress_ports=args.egress_ports
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy",
            metadata=policy["metadata"],
            spec=policy["spec"],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.name = name_of(deployment)
        self.register_outputs({"name": self.name})
