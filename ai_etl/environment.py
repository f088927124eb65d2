"""One environment of the platform: settings in, every component wired, stack outputs out.

Data flow: Settings + the looked-up Cluster -> the cluster's Kubernetes provider -> Namespace ->
Passwords (+ composed URLs, + provided config) -> SecretsManager (+ replicas) -> SecretStore (IRSA)
-> AccessAudit (reads by anyone else) -> one Workload per consumer (its Secret, identity, Deployment).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from ai_etl import PROJECT
from ai_etl.catalogue import read_by, server_passwords, synced
from ai_etl.catalogue.urls import composed_values
from ai_etl.components.accessaudit import AccessAudit, AccessAuditArgs
from ai_etl.components.labels import ENVIRONMENT_LABEL, aws_tags, environment_labels
from ai_etl.components.namespace import Namespace, NamespaceArgs, cluster_annotations
from ai_etl.components.passwords import Passwords, PasswordsArgs
from ai_etl.components.secretsmanager import SecretEntry, SecretsManager, SecretsManagerArgs, key_policy
from ai_etl.components.secretstore import SecretStore, SecretStoreArgs
from ai_etl.components.workload import SyncedKey, Workload, WorkloadArgs
from ai_etl.config.cluster import Cluster, kubeconfig
from ai_etl.config.settings import Settings
from ai_etl.tokens import ENVIRONMENT_COMPONENT

STORE_NAME = "aws-secrets-manager"
OPERATOR_SERVICE_ACCOUNT = f"{PROJECT}-secret-store"
SERVER_STEP = "set it on the server too - docs/runbooks.md The database and Redis passwords"
"""The RotationStep tag of the passwords a server holds (AWS tag values allow no comma or '#')."""


@dataclass(frozen=True)
class EnvironmentArgs:
    settings: Settings
    cluster: Cluster
    """The stack's EKS cluster, as looked up at deploy time: every Kubernetes object goes there."""


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
        s, cluster = args.settings, args.cluster
        child = pulumi.ResourceOptions(parent=self)
        # Every Kubernetes object goes to the stack's own cluster, never to whatever cluster the
        # deploying shell's kubeconfig points at.
        provider = k8s.Provider(
            f"{name}-cluster", k8s.ProviderArgs(kubeconfig=kubeconfig(cluster, s.region)), child
        )
        in_cluster = pulumi.ResourceOptions(parent=self, providers={"kubernetes": provider})
        labels = environment_labels(PROJECT, s.stack, s.config.grade)
        server = server_passwords(s.catalogue)
        tags = aws_tags(PROJECT, s.stack, s.config.grade)

        namespace = Namespace(
            f"{name}-namespace", NamespaceArgs(s.namespace, labels, cluster_annotations(cluster)), in_cluster
        )
        passwords = Passwords(
            f"{name}-passwords", PasswordsArgs(rotation=s.rotation, length=s.config.password_length), child
        )
        # A live value kept at a takeover stands in for its password until that secret's rotation.
        generated = {**passwords.results, **s.adopted}
        values = {**generated, **composed_values(s.catalogue, s.connection, generated), **s.provided}
        store = SecretsManager(
            f"{name}-secrets",
            SecretsManagerArgs(
                key_alias=f"alias/{s.prefix}-secrets",
                key_description=f"Encrypts the {s.prefix} secrets in Secrets Manager",
                secrets={
                    spec.key: SecretEntry(
                        s.secret_name(spec.key),
                        spec.description,
                        values[spec.key],
                        SERVER_STEP if spec in server else None,
                        adopted=spec.key in s.adopted or spec.password_of in s.adopted,
                    )
                    for spec in s.catalogue
                },
                recovery_window_in_days=s.config.recovery_window_in_days,
                protect=s.config.protect,
                tags=tags,
                replica_region=s.config.replica_region,
                key_policy=json.dumps(key_policy(cluster.partition, cluster.account)),
            ),
            child,
        )
        operator_role = f"{s.prefix}-secret-store"
        secret_store = SecretStore(
            f"{name}-secret-store",
            SecretStoreArgs(
                namespace=namespace.name,
                store_name=STORE_NAME,
                service_account=OPERATOR_SERVICE_ACCOUNT,
                role_name=operator_role,
                role_description=f"External Secrets Operator reads the {s.stack} secrets of {PROJECT}",
                oidc_provider_arn=cluster.oidc_provider_arn,
                oidc_issuer=cluster.oidc_issuer,
                region=s.region,
                secrets_manager_endpoint=s.secrets_manager_endpoint,
                # Only what some workload reads: db-password and redis-password stay in AWS.
                secret_arns=[store.secrets[spec.key].arn for spec in synced(s.catalogue, s.consumers)],
                kms_key_arn=store.kms_key_arn,
                labels=labels,
                tags=tags,
            ),
            in_cluster,
        )
        audit = AccessAudit(
            f"{name}-access-audit",
            AccessAuditArgs(
                name=f"{s.prefix}-secret-access",
                secret_name_prefix=s.secret_name(""),
                secret_arn_prefix=f"arn:{cluster.partition}:secretsmanager:{s.region}:{cluster.account}:"
                f"secret:{s.secret_name('')}",
                # Spelled out rather than taken from the role, so the pattern is known at preview
                # and the policy pack can read it before the role exists.
                operator_role_arn=f"arn:{cluster.partition}:iam::{cluster.account}:role/{operator_role}",
                expected_readers=s.config.audit_expected_readers,
                kms_key_arn=store.kms_key_arn,
                email=s.config.audit_email,
                tags=tags,
            ),
            child,
        )
        self.secret_names = {}
        for consumer in s.consumers:
            reads = read_by(consumer, s.catalogue)
            workload = Workload(
                f"{name}-{consumer.name}",
                WorkloadArgs(
                    name=f"{PROJECT}-{consumer.name}",
                    component=consumer.name,
                    namespace=namespace.name,
                    labels=labels,
                    selector_labels={ENVIRONMENT_LABEL: s.stack},
                    store_name=secret_store.name,
                    synced=[
                        SyncedKey(
                            spec.key,
                            str(spec.env_var),
                            s.secret_name(spec.key),
                            store.secrets[spec.key].version_id,
                        )
                        for spec in reads
                    ],
                    plain_env=s.plain_env(consumer.plain_env),
                    settings=s.workloads[consumer.name],
                    egress_ports=sorted(
                        {int(s.connection(spec.connection)["port"]) for spec in reads if spec.connection}
                    ),
                ),
                in_cluster,
            )
            self.secret_names[consumer.name] = workload.secret_name

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
