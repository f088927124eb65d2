"""A server credential's rotation step: a Kubernetes Job, per generation, that sets both login
roles' verifiers on the server (the script is serverauth's), with its own Secret, identity and
network policy.

Pulumi awaits a Job until its `Complete` condition, and fails the update at once on `Failed`
(pulumi/pulumi-kubernetes provider/pkg/await/job.go: jobInitAwaiter, DefaultJobTimeoutMins = 10),
so whatever depends on the Job (the backend's new Secret and its Deployment) is not touched when the
step fails. With `pulumi.com/replaceUnready: "true"` the next `pulumi up` replaces a Job that did not
complete instead of waiting on it again (provider/pkg/provider/provider.go, Diff: a not-ready Job
is replaced, deleted first as its name is the same); that is the retry. `pulumi.com/skipAwait` is
never set: the await is the point. No `ttlSecondsAfterFinished`: a Job the cluster deleted reads
as gone (provider.go, Read: a 404 is a deleted resource), so the next refresh would drop it and
the next `pulumi up` would run the step again for nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pulumi
import pulumi_kubernetes as k8s

from ai_etl.components import serverauth
from ai_etl.components.externalsecrets import declare, external_secret_manifest, generation_name, version_ref
from ai_etl.components.labels import with_component
from ai_etl.components.outputs import name_of
from ai_etl.components.pods import RUN_AS, SCAN_EXCEPTIONS, SecretEnv, container_env
from ai_etl.components.workload import role_binding_manifest, secret_reader_rules
from ai_etl.tokens import ROTATION_STEP_COMPONENT

REPLACE_UNREADY = {"pulumi.com/replaceUnready": "true"}
DEADLINE_SECONDS = 300
"""The step's pods give up after 5 minutes (a server that does not answer), before Pulumi's own
10-minute await of the Job would."""
BACKOFF_LIMIT = 1
"""One retry inside the Job (a server restarting); a second failure fails the Job, and `pulumi up`."""
STEP_COMPONENT = "rotation-step"
"""The `app.kubernetes.io/component` label of the step's objects."""


def step_scripts() -> dict[str, str]:
    """The script each kind of server's step runs: serverauth's own text, never a copy."""
    return {"postgres": serverauth.POSTGRES_STEP, "redis": serverauth.REDIS_STEP}


@dataclass(frozen=True)
class StepRead:
    """One key of the step's Secret: an env var of serverauth.STEP_ENV, read from Secrets Manager."""

    env_var: str
    remote_name: str
    version_id: pulumi.Input[str]
    property: str | None = None
    """The key inside a JSON value (the verifiers' entry), None for the whole value."""


def step_env(
    server: str,
    *,
    host: str,
    port: int,
    admin_user: str,
    roles: tuple[str, str],
    group: str,
    database: str | None = None,
) -> dict[str, str]:
    """The step's plain environment (serverauth.STEP_ENV's names): where the server is, who logs
    in, and the roles it sets. Its secrets (admin password, verifiers) come by secretKeyRef."""
    env = serverauth.STEP_ENV
    if server == "postgres":
        return {
            env.pg_host: host,
            env.pg_port: str(port),
            env.pg_database: str(database),
            env.pg_admin_user: admin_user,
            env.pg_group: group,
            **dict(zip(env.pg_roles, roles, strict=True)),
        }
    return {
        env.redis_host: host,
        env.redis_port: str(port),
        env.redis_admin_user: admin_user,
        **dict(zip(env.redis_users, roles, strict=True)),
    }


def admin_password_env(server: str) -> str:
    """The env var the step reads its administrator's password from."""
    env = serverauth.STEP_ENV
    return env.pg_admin_password if server == "postgres" else env.redis_admin_password


def job_manifest(
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    pod_labels: Mapping[str, str],
    image: str,
    script: str,
    service_account: pulumi.Input[str],
    env: pulumi.Input[list[dict]],
) -> dict:
    """The step's Job: `bash -c <script>`, hardened as the backend's pods are (non-root, read-only
    root, no privilege, no API token), never restarted in place, given up after DEADLINE_SECONDS."""
    container = {
        "name": "step",
        "image": image,
        "imagePullPolicy": "Always",
        "command": ["bash", "-c", script],
        "env": env,
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"cpu": "500m", "memory": "128Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": dict(labels),
            "annotations": {**SCAN_EXCEPTIONS, **REPLACE_UNREADY},
        },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "activeDeadlineSeconds": DEADLINE_SECONDS,
            "template": {
                "metadata": {"labels": dict(pod_labels)},
                "spec": {
                    "serviceAccountName": service_account,
                    "automountServiceAccountToken": False,
                    "restartPolicy": "Never",
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS,
                        "runAsGroup": RUN_AS,
                        "fsGroup": RUN_AS,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "16Mi"}}],
                },
            },
        },
    }


def network_policy_manifest(
    *,
    name: str,
    namespace: pulumi.Input[str],
    labels: Mapping[str, str],
    selector: Mapping[str, str],
    port: int,
) -> dict:
    """The step's pods: nothing in; out, DNS and the one server's port, nothing else."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {
            "podSelector": {"matchLabels": dict(selector)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [],
            "egress": [
                {"ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
                {"ports": [{"protocol": "TCP", "port": port}]},
            ],
        },
    }


@dataclass(frozen=True)
class RotationStepArgs:
    name: str
    """The Kubernetes name of its ServiceAccount, Role and NetworkPolicy (names.rotation_step)."""
    job_name: str
    """The Job's name, which carries the generation (names.step_job)."""
    server: str
    namespace: pulumi.Input[str]
    labels: Mapping[str, str]
    selector_labels: Mapping[str, str]
    store_name: pulumi.Input[str]
    reads: Sequence[StepRead]
    plain_env: Mapping[str, str]
    image: str
    port: int


class RotationStep(pulumi.ComponentResource):
    """ExternalSecret (one per generation of its values), ServiceAccount, a Role reading only its
    Secret, the RoleBinding, a NetworkPolicy, and the Job; depend on `job` to run after it."""

    job: k8s.batch.v1.Job
    """The step's Job: what the backend's new Secret and Deployment wait for."""

    def __init__(self, name: str, args: RotationStepArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ROTATION_STEP_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = with_component(args.labels, STEP_COMPONENT)
        selector = {"app.kubernetes.io/name": args.name, **args.selector_labels}

        generation = pulumi.Output.all(*(r.version_id for r in args.reads)).apply(
            lambda ids: generation_name(
                f"{args.name}-secrets",
                [
                    (r.env_var, f"{r.remote_name}#{r.property or ''}", v)
                    for r, v in zip(args.reads, ids, strict=True)
                ],
            )
        )
        es = external_secret_manifest(
            name=generation,
            namespace=args.namespace,
            store_name=args.store_name,
            data=[
                (r.env_var, r.remote_name, pulumi.Output.from_input(r.version_id).apply(version_ref))
                for r in args.reads
            ],
            labels=labels,
            properties={r.env_var: r.property for r in args.reads if r.property},
        )
        secret_name = name_of(declare(f"{name}-secrets", es, child))

        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={"name": args.name, "namespace": args.namespace, "labels": labels},
            opts=child,
        )
        reader = f"{args.name}-secret-reader"
        role = k8s.rbac.v1.Role(
            f"{name}-secret-reader",
            metadata={"name": reader, "namespace": args.namespace, "labels": labels},
            rules=cast(Any, secret_name.apply(secret_reader_rules)),
            opts=child,
        )
        binding = role_binding_manifest(reader, args.namespace, name_of(role), name_of(account), labels)
        k8s.rbac.v1.RoleBinding(
            f"{name}-secret-reader-binding",
            metadata=binding["metadata"],
            role_ref=binding["roleRef"],
            subjects=binding["subjects"],
            opts=child,
        )
        policy = network_policy_manifest(
            name=args.name, namespace=args.namespace, labels=labels, selector=selector, port=args.port
        )
        k8s.networking.v1.NetworkPolicy(
            f"{name}-network-policy", metadata=policy["metadata"], spec=policy["spec"], opts=child
        )
        secrets = [SecretEnv(r.env_var, r.env_var) for r in args.reads]
        env = secret_name.apply(lambda secret: container_env(secrets, secret, args.plain_env))
        job = job_manifest(
            name=args.job_name,
            namespace=args.namespace,
            labels=labels,
            pod_labels={**labels, **selector},
            image=args.image,
            script=step_scripts()[args.server],
            service_account=name_of(account),
            env=env,
        )
        self.job = k8s.batch.v1.Job(f"{name}-job", metadata=job["metadata"], spec=job["spec"], opts=child)
        self.register_outputs({"job": self.job.metadata})
