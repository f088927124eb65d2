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

from ai_etl.components.externalsecrets import declare, external_secret_manifest, generation_name, version_ref
from ai_etl.components.labels import with_component
from ai_etl.components.outputs import name_of
from ai_etl.components.pods import SecretEnv, container_env
from ai_etl.components.steppods import job_manifest, network_policy_manifest, step_scripts
from ai_etl.components.workload import role_binding_manifest, secret_reader_rules
from ai_etl.tokens import ROTATION_STEP_COMPONENT

CURRENT = "AWSCURRENT"
"""What an unpinned read stands for in the generation's name: the name stays the same for it."""
STEP_COMPONENT = "rotation-step"
"""The `app.kubernetes.io/component` label of the step's objects."""


@dataclass(frozen=True)
class StepRead:
    """One key of the step's Secret: an env var of serverauth.STEP_ENV, read from Secrets Manager."""

    env_var: str
    remote_name: str
    """A Secrets Manager name, or an ARN (a secret the program does not keep)."""
    version_id: pulumi.Input[str] | None
    """The version it is pinned to; None: the current one (AWSCURRENT, the operator's default:
    external-secrets/external-secrets providers/v1/aws/secretsmanager/secretsmanager.go, fetch), for
    a secret someone else rotates (RDS's master user secret)."""
    property: str | None = None
    """The key inside a JSON value (the verifiers' entry), None for the whole value."""


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
    ca_bundle: pulumi.Input[str] | None = None
    """The ConfigMap of the CA bundle that the step verifies a managed server against, if any."""


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

        generation = pulumi.Output.all(
            *(CURRENT if r.version_id is None else r.version_id for r in args.reads)
        ).apply(
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
                (
                    r.env_var,
                    r.remote_name,
                    None
                    if r.version_id is None
                    else pulumi.Output.from_input(r.version_id).apply(version_ref),
                )
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
            ca_bundle=args.ca_bundle,
        )
        self.job = k8s.batch.v1.Job(f"{name}-job", metadata=job["metadata"], spec=job["spec"], opts=child)
        self.register_outputs({"job": self.job.metadata})
