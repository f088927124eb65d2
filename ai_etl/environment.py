"""One environment of the platform: a Plan in, every component wired, stack outputs out.

Wiring only: the cluster's Kubernetes provider -> Namespace -> Passwords and ServerPasswords (+
composed URLs, + provided config, + verifiers) -> SecretsManager (+ replicas, + a region deny on
each secret) -> SecretStore (IRSA) -> AuditTrail (when the stack asks for one) -> AccessAudit per
region (reads by anyone else; tamper alerts by a second path) -> Admission (the operator's identity
kept to it) and ClusterAudit (reads in the cluster, from its audit log) -> the RDS CA bundle's
ConfigMap (a Postgres on RDS or Aurora) -> one RotationStep per server credential (a Job setting its
new password on the server), or CacheUsers where the server is ElastiCache (its users, through AWS's
API) -> one Workload per consumer (its Secret, identity, Deployment), after them. Every name and
value that is not a secret comes from the plan (ai_etl/plan.py); the secrets stay Outputs from end
to end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s

from ai_etl import names
from ai_etl.catalogue.urls import composed_value
from ai_etl.components import trust
from ai_etl.components.accessaudit import AccessAudit, AccessAuditArgs
from ai_etl.components.admission import Admission, AdmissionArgs
from ai_etl.components.auditbus import AuditBus, AuditBusArgs
from ai_etl.components.audittrail import AuditTrail, AuditTrailArgs
from ai_etl.components.cacheusers import CacheUsers, CacheUsersArgs
from ai_etl.components.clusteraudit import ClusterAudit, ClusterAuditArgs
from ai_etl.components.labels import with_component
from ai_etl.components.namespace import Namespace, NamespaceArgs
from ai_etl.components.outputs import name_of
from ai_etl.components.passwords import Passwords, PasswordsArgs
from ai_etl.components.rotationstep import RotationStep, RotationStepArgs, StepRead
from ai_etl.components.secretsmanager import SecretEntry, SecretsManager, SecretsManagerArgs
from ai_etl.components.secretstore import SecretStore, SecretStoreArgs
from ai_etl.components.serverpasswords import ServerCredential, ServerPasswords, ServerPasswordsArgs
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
    audit_tamper_topic_arn: pulumi.Output[str]
    """The SNS topic of the alerts about the access alerts' path."""

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
        servers = {step.key for step in p.servers}
        caches = {cache.key for cache in p.caches}
        server_passwords = ServerPasswords(
            f"{name}-server-passwords",
            ServerPasswordsArgs(
                credentials=[ServerCredential(s.key, s.server, s.generation) for s in p.servers]
                + [
                    ServerCredential(c.key, "redis", c.generation, specials=c.specials, verified=False)
                    for c in p.caches
                ],
                length=p.password_length,
                kept={k: v for k, v in args.adopted.items() if k in servers},
            ),
            child,
        )
        # A live value kept at a takeover stands in for its password until that secret's rotation
        # (a server credential's: inside ServerPasswords, for the role it was the password of; an
        # ElastiCache AUTH token's: on the user group's `default` user, which is what it logs in as).
        adopted = {k: v for k, v in args.adopted.items() if k not in servers | caches}
        # An ElastiCache AUTH token kept at a takeover serves generation 0, on the `default` user.
        tokens = {c.key: args.adopted[c.key] for c in p.caches if c.active_role == names.CACHE_DEFAULT_USER}
        generated = {**passwords.results, **server_passwords.active, **adopted, **tokens}
        composed = {
            c.spec.key: composed_value(c.spec, c.connection, generated[str(c.spec.password_of)], c.query)
            for c in p.composed
        }
        verifiers = {s.verifiers_key: server_passwords.verifiers[s.key] for s in p.servers}
        values = {**generated, **composed, **args.provided, **verifiers}
        store = SecretsManager(
            names.child(name, names.SECRETS),
            SecretsManagerArgs(
                key_alias=p.key_alias,
                key_description=p.key_description,
                secrets={
                    s.key: SecretEntry(s.name, s.description, values[s.key], s.active_role, s.adopted)
                    for s in p.secrets
                },
                recovery_window_in_days=p.recovery_window_in_days,
                protect=p.protect,
                tags=p.tags,
                replica_region=p.replica_region,
                key_policy=p.key_policy,
                read_regions=p.read_regions,
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
                secret_arns=[*(store.secrets[key].arn for key in p.synced_keys), *p.foreign_secret_arns],
                kms_key_arn=store.kms_key_arn,
                other_kms_key_arns=p.foreign_kms_key_arns,
                labels=p.labels,
                tags=p.tags,
            ),
            in_cluster,
        )
        if t := p.declared_trail:
            AuditTrail(
                f"{name}-audit-trail", AuditTrailArgs(t.name, t.arn, t.account, p.protect, p.tags), child
            )
        # One audit per region holding the secrets: CloudTrail hands a call's event to EventBridge
        # in the region of the call only, so a read of a replica is seen in the replica's region.
        audited: list[tuple[str | None, str, pulumi.Output[str]]] = [(None, "", store.kms_key_arn)]
        if p.replica_region and store.replica_key_arn is not None:
            audited.append((p.replica_region, "-replica", store.replica_key_arn))
        bus = (
            AuditBus(f"{name}-audit-bus", AuditBusArgs(p.audit_bus_role, p.audit_bus, p.tags), child)
            if p.audit_bus
            else None
        )
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
                    trail_name=p.watched_trail,
                    endpoints=p.audit_endpoints,
                    secret_endpoints=p.audit_secret_endpoints,
                    # The cluster's alarm publishes to the primary region's topic, where the cluster is.
                    more_alarm_arns=(p.cluster_audit.alarm_arn,) if p.cluster_audit and not region else (),
                    cluster=(p.cluster_audit.cluster, p.cluster_audit.log_group)
                    if p.cluster_audit and not region
                    else None,
                    watched_roles=p.audit_watched_roles,
                    bus_arn=p.audit_bus,
                    bus_role_arn=bus.role_arn if bus else None,
                    bus_role_name=p.audit_bus_role if bus else None,
                    recovery_window_in_days=p.recovery_window_in_days,
                    protect=p.protect,
                    tags=p.tags,
                ),
                child,
            )
            for region, suffix, key_arn in audited
        ]
        audit = audits[0]
        if p.admission:
            Admission(
                f"{name}-admission",
                AdmissionArgs(
                    name=p.admission.name,
                    namespace=namespace.name,
                    service_account=p.operator_service_account,
                    store_name=p.store_name,
                    operator_user=p.admission.operator_user,
                    actions=p.admission.actions,
                    labels=p.labels,
                ),
                in_cluster,
            )
        if p.cluster_audit:
            c = p.cluster_audit
            ClusterAudit(
                f"{name}-cluster-audit",
                ClusterAuditArgs(c.name, c.log_group, c.pattern, c.metric_namespace, audit.topic_arn, p.tags),
                child,
            )
        ca_bundle = None
        if p.ca_bundle is not None:
            manifest = trust.config_map_manifest(
                p.ca_bundle, namespace.name, with_component(p.labels, "rds-ca")
            )
            ca_bundle = name_of(
                k8s.core.v1.ConfigMap(
                    f"{name}-rds-ca",
                    metadata=manifest["metadata"],
                    immutable=manifest["immutable"],
                    data=manifest["data"],
                    opts=in_cluster,
                )
            )
        steps = []
        for step in p.servers:
            # RDS's master user secret (its username and password, unpinned: RDS rotates it), else
            # the provided password, pinned to its version.
            admin = [
                StepRead(env, step.admin_remote_name, None, prop)
                for env, prop in step.admin_properties.items()
            ] or [StepRead(step.admin_env, step.admin_remote_name, store.secrets[step.admin_key].version_id)]
            reads = [
                *admin,
                *(
                    StepRead(
                        env, step.verifiers_remote_name, store.secrets[step.verifiers_key].version_id, env
                    )
                    for env in step.verifier_envs
                ),
            ]
            steps.append(
                RotationStep(
                    f"{name}-{step.key}-step",
                    RotationStepArgs(
                        name=step.name,
                        job_name=step.job_name,
                        server=step.server,
                        namespace=namespace.name,
                        labels=p.labels,
                        selector_labels=p.selector_labels,
                        store_name=secret_store.name,
                        reads=reads,
                        plain_env=step.plain_env,
                        image=step.image,
                        port=step.port,
                        ca_bundle=ca_bundle if step.tls else None,
                    ),
                    in_cluster,
                )
            )
        cache_users = [
            CacheUsers(
                f"{name}-{c.key}-users",
                CacheUsersArgs(
                    key=c.key,
                    engine=c.engine,
                    user_group_id=c.user_group_id,
                    users=c.users,
                    passwords=[
                        *server_passwords.passwords[c.key],
                        args.adopted.get(c.key) or server_passwords.unused[c.key],
                    ],
                    tags=p.tags,
                ),
                child,
            )
            for c in p.caches
        ]
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
                    ca_bundle=ca_bundle if w.ca_bundle else None,
                    # Its new Secret and its rollout wait until every server has its new password.
                    after=[*(step.job for step in steps), *(r for users in cache_users for r in users.ready)],
                ),
                in_cluster,
            )
            self.secret_names[w.consumer] = workload.secret_name

        self.namespace = namespace.name
        self.secret_arns = {key: stored.arn for key, stored in store.secrets.items()}
        self.operator_role_arn = secret_store.role_arn
        self.kms_key_arn = store.kms_key_arn
        self.audit_topic_arn = audit.topic_arn
        self.audit_tamper_topic_arn = audit.tamper_topic_arn
        self.register_outputs(
            {
                "namespace": self.namespace,
                "secret_names": self.secret_names,
                "secret_arns": self.secret_arns,
                "operator_role_arn": self.operator_role_arn,
                "kms_key_arn": self.kms_key_arn,
                "audit_topic_arn": self.audit_topic_arn,
                "audit_tamper_topic_arn": self.audit_tamper_topic_arn,
            }
        )
