"""One environment of the platform: a Plan in, every component wired, stack outputs out.

Wiring only: the cluster's Kubernetes provider -> Namespace -> Passwords (+ composed URLs, + provided
config) -> SecretsManager (+ replicas) -> SecretStore (IRSA) -> AccessAudit per region (reads by anyone else)
-> one Workload per consumer (its Secret, identity, Deployment). Every name and value that is not a
secret comes from the plan (ai_etl/plan.py); the secrets stay Outputs from end to end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ai_etl import names
from ai_etl.catalogue.urls import composed_value
from ai_etl.components.accessaudit import AccessAudit, AccessAuditArgs
from ai_etl.components.namespace import Namespace, NamespaceArgs
from ai_etl.components.passwords import Passwords, PasswordsArgs
from ai_etl.components.secretsmanager import SecretEntry, SecretsManager, SecretsManagerArgs
from ai_etl.components.secretstore import SecretStore, SecretStoreArgs
from ai_etl.components.workload import SyncedKey, Workload, WorkloadArgs
from ai_etl.plan import Plan
from ai_etl.tokens import ENVIRONMENT_COMPONENT


@dataclass(frozen=True)
class EnvironmentArgs:
    plan: Plan
    provided: Mapping[str, pulumi.Output[str]] = field(default_factory=dict, repr=False)
    """The provided secrets by key (secret stack config)."""
    adopted: Mapping[str, pulumi.Output[str]] = field(default_factory=dict, repr=False)
    """Live values kept at a takeover, by generated key, standing in for their passwords."""


class Environment(pulumi.ComponentResource):
    """Everything one stack declares: namespace, secrets, their sync, and the workloads."""

    namespace: pulumi.Output[str]
    """The environment's namespace."""
    secret_names: dict[str, pulumi.Output[str]]
    """The Kubernetes Secret of each workload's current generation, by consumer."""
    secret_arns: dict[str, pulumi.Output[str]]
    """Secrets Manager ARN by catalogue key."""
    operator_role_arn: pulumi.Output[str]
    """IAM role the External Secrets Operator assumes."""
    kms_key_arn: pulumi.Output[str]
    """The environment's KMS key."""
    audit_topic_arn: pulumi.Output[str]
    """The SNS topic of the access alerts."""

    def __init__(self, name: str, args: EnvironmentArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(ENVIRONMENT_COMPONENT, name, None, opts)
        p = args.plan
        child = pulumi.ResourceOptions(parent=self)
        # Every Kubernetes object goes to the stack's own cluster, never to whatever cluster the
        # deploying shell's kubeconfig points at. Stack config reaches only Pulumi's default
        # providers (pulumi/pulumi pkg/resource/deploy/default_providers.go, GetPackageConfig), so
        # the takeover's options are this provider's own arguments, always stated: left unset, the
        # SDK would take them from PULUMI_K8S_UPSERT_EXISTING_OBJECTS and PULUMI_K8S_ENABLE_PATCH_FORCE
        # in the deploying shell (pulumi/pulumi-kubernetes sdk/python/pulumi_kubernetes/provider.py).
        provider = k8s.Provider(
            f"{name}-cluster",
            k8s.ProviderArgs(
                kubeconfig=p.kubeconfig,
                upsert_existing_objects=p.takeover,
                enable_patch_force=p.takeover,
            ),
            child,
        )
        in_cluster = pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider})

        namespace = Namespace(
            f"{name}-namespace", NamespaceArgs(p.namespace, p.labels, p.cluster_annotations), in_cluster
        )
        passwords = Passwords(
            f"{name}-passwords", PasswordsArgs(rotation=p.rotation, length=p.password_length), child
        )
        # A live value kept at a takeover stands in for its password until that secret's rotation.
        generated = {**passwords.results, **args.adopted}
        composed = {
            c.spec.key: composed_value(c.spec, c.connection, generated[str(c.spec.password_of)])
            for c in p.composed
        }
        values = {**generated, **composed, **args.provided}
        store = SecretsManager(
            names.child(name, names.SECRETS),
            SecretsManagerArgs(
                key_alias=p.key_alias,
                key_description=p.key_description,
                secrets={
                    s.key: SecretEntry(s.name, s.description, values[s.key], s.rotation_step, s.adopted)
                    for s in p.secrets
                },
                recovery_window_in_days=p.recovery_window_in_days,
                protect=p.protect,
                tags=p.tags,
                replica_region=p.replica_region,
                key_policy=p.key_policy,
            ),
            child,
        )
        secret_store = SecretStore(
            f"{name}-secret-store",
            SecretStoreArgs(
                namespace=namespace.name,
                store_name=p.store_name,
                service_account=p.operator_service_account,
                role_name=p.operator_role,
                role_description=p.operator_role_description,
                oidc_provider_arn=p.oidc_provider_arn,
                oidc_issuer=p.oidc_issuer,
                region=p.region,
                secrets_manager_endpoint=p.secrets_manager_endpoint,
                secret_arns=[store.secrets[key].arn for key in p.synced_keys],
                kms_key_arn=store.kms_key_arn,
                labels=p.labels,
                tags=p.tags,
            ),
            in_cluster,
        )
        # One audit per region holding the secrets: CloudTrail hands a call's event to EventBridge
        # in the region of the call only, so a read of a replica is seen in the replica's region.
        audited: list[tuple[str | None, str, pulumi.Output[str]]] = [(None, "", store.kms_key_arn)]
        if p.replica_region and store.replica_key_arn is not None:
            audited.append((p.replica_region, "-replica", store.replica_key_arn))
        audits = [
            AccessAudit(
                f"{name}{suffix}-access-audit",
                AccessAuditArgs(
                    name=p.audit_name,
                    region=region,
                    secret_name_prefix=p.secret_name_prefix,
                    secret_arn_prefixes=p.audit_arn_prefixes,
                    operator_role_arn=p.operator_role_arn,
                    expected_readers=p.audit_expected_readers,
                    key_policy=p.audit_key_policy,
                    key_alias=p.audit_key_alias,
                    secrets_key_arn=key_arn,
                    endpoints=p.audit_endpoints,
                    recovery_window_in_days=p.recovery_window_in_days,
                    protect=p.protect,
                    tags=p.tags,
                ),
                child,
            )
            for region, suffix, key_arn in audited
        ]
        audit = audits[0]
        self.secret_names = {}
        for w in p.workloads:
            workload = Workload(
                f"{name}-{w.consumer}",
                WorkloadArgs(
                    name=w.name,
                    component=w.consumer,
                    namespace=namespace.name,
                    labels=p.labels,
                    selector_labels=p.selector_labels,
                    store_name=secret_store.name,
                    synced=[
                        SyncedKey(r.key, r.env_var, r.remote_name, store.secrets[r.key].version_id)
                        for r in w.reads
                    ],
                    plain_env=w.plain_env,
                    container=w.container,
                    egress_ports=w.egress_ports,
                ),
                in_cluster,
            )
            self.secret_names[w.consumer] = workload.secret_name

        self.namespace = namespace.name
        self.secret_arns = {key: stored.arn for key, stored in store.secrets.items()}
        self.operator_role_arn = secret_store.role_arn
        self.kms_key_arn = store.kms_key_arn
        self.audit_topic_arn = audit.topic_arn
        self.register_outputs(
            {
                "namespace": self.namespace,
                "secret_names": self.secret_names,
                "secret_arns": self.secret_arns,
                "operator_role_arn": self.operator_role_arn,
                "kms_key_arn": self.kms_key_arn,
                "audit_topic_arn": self.audit_topic_arn,
            }
        )
