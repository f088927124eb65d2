"""What one environment declares, computed once from its settings and its cluster, without Pulumi.

`plan(settings, cluster)` makes every name, label, tag, policy and container spec the components
need; `ai_etl.environment.Environment` only wires components from it. The secret values are not
part of the plan: they stay Outputs (`Settings.provided`, `Settings.adopted`, the passwords).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from ai_etl import names
from ai_etl.catalogue import (
    PLAIN_ENV,
    Consumer,
    SecretSpec,
    admin_secret,
    read_by,
    server_credentials,
    synced,
    url_of,
)
from ai_etl.catalogue.urls import connection_query
from ai_etl.components import cacheusers, clusteraudit, serverauth, trust
from ai_etl.components.auditpatterns import (
    PATTERN_LIMIT,
    access_pattern,
    audit_key_policy,
    compact,
    secret_ids,
)
from ai_etl.components.cacheusers import CacheUser
from ai_etl.components.labels import aws_tags, environment_labels
from ai_etl.components.pods import ContainerSpec
from ai_etl.components.secretsmanager import key_policy
from ai_etl.components.serverpasswords import verifier_names
from ai_etl.components.steppods import admin_password_env, admin_properties, step_env
from ai_etl.config.cachegroup import keeps_token
from ai_etl.config.cluster import Cluster, kubeconfig
from ai_etl.config.commands import Commands
from ai_etl.config.fields import dns_suffix
from ai_etl.config.models import DECLARE_TRAIL, set_by_api, url_fields
from ai_etl.config.problems import Problems
from ai_etl.config.settings import Settings, WorkloadSettings
from ai_etl.config.trail import wanted
from ai_etl.eks import ADMISSION_POLICIES, audit_log_group, minor_version
from ai_etl.grade import admission_actions
from ai_etl.tokens import AUDIT_ANNOTATION, CLUSTER_ANNOTATION, VERSION_ANNOTATION


@dataclass(frozen=True)
class SecretPlan:
    """One Secrets Manager entry."""

    key: str
    name: str
    description: str
    active_role: str | None
    """For a server credential: the login role whose password it holds."""
    adopted: bool


@dataclass(frozen=True)
class ServerStepPlan:
    """A server credential's rotation step at its current generation."""

    key: str
    server: str
    generation: int
    roles: tuple[str, str]
    """Its two login roles (Postgres) or ACL users (Redis), `<user>_blue` and `<user>_green`."""
    active_role: str
    """The role generation `generation` is served by: the one its URL names."""
    name: str
    job_name: str
    plain_env: Mapping[str, str]
    admin_env: str
    admin_key: str
    """The catalogue key of the administrator's password it logs in with."""
    admin_remote_name: str
    """Where the step's administrator comes from: the provided password's Secrets Manager name, or
    the master user secret RDS manages (its ARN; then `admin_properties` are read from it)."""
    admin_properties: Mapping[str, str]
    """For a managed secret: the step's env var of each of its JSON properties (user and password);
    empty for a provided password (the whole value is `admin_env`)."""
    verifier_envs: tuple[str, str]
    verifiers_key: str
    """Its verifiers' key among the SecretsManager component's entries."""
    verifiers_remote_name: str
    port: int
    image: str
    tls: bool
    """The server is AWS-managed: the step verifies its certificate against the RDS CA bundle."""


@dataclass(frozen=True)
class CachePlan:
    """A server credential held by ElastiCache users the program declares (no step)."""

    key: str
    generation: int
    roles: tuple[str, str]
    """Its two users' names, `<user>_blue` and `<user>_green`, as the in-cluster roles'."""
    active_role: str
    users: tuple[CacheUser, ...]
    """The two login users, then the user group's disabled (or, at a takeover, kept) `default`."""
    engine: str
    user_group_id: str
    replication_group_id: str
    specials: str
    """The special characters its passwords may hold."""
    attached: bool = True
    """Its user group is on the replication group (ai_etl/config/cachegroup.py): until it is, the
    cache knows none of the users, and no pod reading the credential runs."""


@dataclass(frozen=True)
class ComposedPlan:
    """A URL composed from a generated password and plain connection settings."""

    spec: SecretSpec
    connection: Mapping[str, str | int]
    query: str = ""
    """Options the backend's driver reads from the URL (verified TLS to a managed server), or none."""


@dataclass(frozen=True)
class ReadPlan:
    """One key a workload reads: its Secret key, env var and Secrets Manager name."""

    key: str
    env_var: str
    remote_name: str


@dataclass(frozen=True)
class WorkloadPlan:
    consumer: str
    name: str
    reads: tuple[ReadPlan, ...]
    plain_env: Mapping[str, str]
    container: ContainerSpec
    egress_ports: tuple[int, ...]
    ca_bundle: bool = False
    """It connects to a server with verified TLS: the CA bundle is mounted and PGSSLROOTCERT names it."""


@dataclass(frozen=True)
class AdmissionPlan:
    """The namespace's admission policy (ai_etl/components/admission.py)."""

    name: str
    operator_user: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class ClusterAuditPlan:
    """The alarm on reads in the cluster, from its audit log (ai_etl/components/clusteraudit.py)."""

    name: str
    cluster: str
    """The EKS cluster whose audit log it reads."""
    log_group: str
    pattern: str
    metric_namespace: str
    alarm_arn: str
    """Spelled out, so the access audit's topic policy can let it publish before it exists."""


@dataclass(frozen=True)
class TrailPlan:
    """The trail the program declares (`auditTrail: declare`), in the stack's region."""

    name: str
    arn: str
    account: str


@dataclass(frozen=True)
class Plan:
    """Everything one environment declares, as plain values."""

    stack: str
    region: str
    kubeconfig: str
    takeover: bool
    """The cluster's provider adopts existing objects and takes fields others set (`ai-etl:takeover`)."""
    namespace: str
    labels: Mapping[str, str]
    selector_labels: Mapping[str, str]
    tags: Mapping[str, str]
    cluster_annotations: Mapping[str, str]
    rotation: Mapping[str, str]
    password_length: int
    composed: tuple[ComposedPlan, ...]
    key_alias: str
    key_description: str
    key_policy: str
    secrets: tuple[SecretPlan, ...]
    recovery_window_in_days: int
    protect: bool
    replica_region: str | None
    store_name: str
    operator_service_account: str
    operator_role: str
    operator_role_arn: str
    operator_role_description: str
    oidc_provider_arn: str
    oidc_issuer: str
    secrets_manager_endpoint: str
    synced_keys: tuple[str, ...]
    """The keys some workload or rotation step reads: the operator may read these, and only these."""
    audit_name: str
    secret_name_prefix: str
    audit_expected_readers: tuple[str, ...]
    audit_endpoints: tuple[str, ...]
    """Where the access alerts go (auditEmail, then auditEndpoint)."""
    audit_secret_endpoints: frozenset[str]
    """Those of audit_endpoints stored with --secret (a URL carrying credentials): SNS gets them as
    secret Outputs, so no plan, state or rendered file shows them."""
    audit_arn_prefixes: tuple[str, ...]
    """What names a watched secret besides its name prefix: each region's ARN prefix, and RDS's
    master user secret (by name and ARN) where the step logs in with it."""
    """The ARN prefix of the secrets in each region holding them: the primary, then the replica's."""
    audit_key_alias: str
    audit_key_policy: str
    audit_watched_roles: tuple[str, ...]
    """The roles whose reads raise nothing (the operator's, the expected readers'), by name: a change
    to their trust or policy alerts on the tamper path."""
    audit_bus: str | None
    """An event bus the tamper alerts are forwarded to as well (`auditBus`)."""
    audit_bus_role: str
    read_regions: tuple[str, ...]
    """The regions the secrets may be read from, theirs and the replica's: each secret's policy
    denies reads from any other."""
    watched_trail: str | None
    """The name of the trail the access alerts see reads through, whose changes alert; None for none."""
    declared_trail: TrailPlan | None
    """The trail the program declares; None when the stack names an existing one (or none)."""
    workloads: tuple[WorkloadPlan, ...]
    servers: tuple[ServerStepPlan, ...]
    admission: AdmissionPlan | None
    """None on a cluster that serves no ValidatingAdmissionPolicy (before 1.30)."""
    cluster_audit: ClusterAuditPlan | None
    """None on a cluster with the audit log off (a warning says so)."""
    caches: tuple[CachePlan, ...] = ()
    ca_bundle: str | None = None
    """The ConfigMap of the RDS CA bundle, when a step or a workload verifies a managed server."""
    foreign_secret_arns: tuple[str, ...] = ()
    """Secrets the operator may read that the program does not keep (RDS's master user secret)."""
    foreign_kms_key_arns: tuple[str, ...] = ()
    """The customer managed keys those are encrypted with, if any (database.masterSecretKmsKeyArn)."""


def cluster_annotations(cluster: Cluster) -> dict[str, str]:
    """The cluster's name, Kubernetes version and audit log, as the namespace records them."""
    return {
        CLUSTER_ANNOTATION: cluster.name,
        VERSION_ANNOTATION: cluster.version,
        AUDIT_ANNOTATION: "enabled" if cluster.audited else "disabled",
    }


def container_spec(workload: WorkloadSettings) -> ContainerSpec:
    """A workload's stack config as the plain spec the Workload component takes."""
    return ContainerSpec(**{name: getattr(workload, name) for name in ContainerSpec.__dataclass_fields__})


def check_pattern_size(p: Plan) -> None:
    """The access rule's pattern within EventBridge's default size (auditpatterns.PATTERN_LIMIT):
    known before anything is declared, as every name in it is. Past it, one fix keeps the first
    readers that fit, in one paste, however many there are."""

    def size(kept: int) -> int:
        readers = (p.operator_role_arn, *p.audit_expected_readers[:kept])
        return len(compact(access_pattern(p.secret_name_prefix, p.audit_arn_prefixes, readers)))

    given = len(p.audit_expected_readers)
    if size(given) <= PATTERN_LIMIT:
        return
    fit, over = 0, given  # the pattern grows with each reader: the most that fit, by bisection
    while over - fit > 1:
        middle = (fit + over) // 2
        fit, over = (middle, over) if size(middle) <= PATTERN_LIMIT else (fit, middle)
    problems = Problems(p.stack)
    problems.add(
        "auditExpectedReaders",
        f"the access alert's pattern would take {size(given)} characters, over EventBridge's "
        f"{PATTERN_LIMIT}: {fit} of the {given} roles fit; name fewer (one role per CI job is enough). "
        f"The fix keeps the first {fit}",
        Commands(p.stack).set_list(("auditExpectedReaders",), p.audit_expected_readers[:fit]),
    )
    problems.raise_if_any()


def plan(s: Settings, cluster: Cluster, cache_attached: bool = True) -> Plan:
    """The environment of `s` in `cluster`, every name made once (ConfigError if the access alert
    cannot hold them). `cache_attached`: the ElastiCache user group is on its replication group
    (cachegroup.lookup_cache_group); if not, the workloads reading its credentials get 0 replicas."""
    made = _plan(s, cluster, cache_attached)
    check_pattern_size(made)
    return made


def _plan(s: Settings, cluster: Cluster, cache_attached: bool) -> Plan:
    stack, config = s.stack, s.config
    partition, account = cluster.partition, cluster.account
    prefix = names.prefix(stack)
    operator_role = names.operator_role(stack)
    operator_arn = names.role_arn(partition, account, operator_role)
    connections = config.connections()
    plain = config.model_dump(by_alias=True)

    def server_step(spec: SecretSpec) -> ServerStepPlan:
        connection = connections[str(url_of(spec, s.catalogue).connection)]
        generation = s.generations[spec.key]
        roles = serverauth.login_roles(connection.user)
        key = names.verifiers_key(spec.key)
        tls = getattr(connection, "on_rds", False)
        master = getattr(connection, "master_secret_arn", None)
        admin = admin_secret(spec, s.catalogue)
        return ServerStepPlan(
            key=spec.key,
            server=str(spec.server),
            generation=generation,
            roles=roles,
            active_role=roles[serverauth.active_index(generation)],
            name=names.rotation_step(spec.key),
            job_name=names.step_job(spec.key, generation),
            plain_env=MappingProxyType(
                step_env(
                    str(spec.server),
                    host=connection.host,
                    port=connection.port,
                    admin_user=None if master else connection.admin_user,
                    roles=roles,
                    group=connection.user,
                    database=getattr(connection, "name", None),
                    root_cert=trust.ROOT_CERT if tls else None,
                )
            ),
            admin_env=admin_password_env(str(spec.server)),
            admin_key=admin.key,
            admin_remote_name=master or names.secret_name(stack, admin.key),
            admin_properties=MappingProxyType(admin_properties(str(spec.server)) if master else {}),
            verifier_envs=verifier_names(str(spec.server)),
            verifiers_key=key,
            verifiers_remote_name=names.secret_name(stack, key),
            port=connection.port,
            image=config.step_image,
            tls=tls,
        )

    def cache(spec: SecretSpec) -> CachePlan:
        redis = config.redis
        generation = s.generations[spec.key]
        roles = serverauth.login_roles(redis.user)
        # A takeover's AUTH token stays on `default` while pods may use it (generations 0 and 1), and
        # serves generation 0: the backend keeps its credential until the group is on the cache.
        kept = spec.key in s.adopted
        return CachePlan(
            key=spec.key,
            generation=generation,
            roles=roles,
            active_role=names.CACHE_DEFAULT_USER
            if keeps_token(s, spec.key)
            else roles[serverauth.active_index(generation)],
            users=(
                *(CacheUser(names.cache_user_id(stack, r), r, cacheusers.ACCESS_STRING) for r in roles),
                CacheUser(
                    names.cache_user_id(stack, names.CACHE_DEFAULT_USER),
                    names.CACHE_DEFAULT_USER,
                    cacheusers.DEFAULT_KEPT if kept else cacheusers.DEFAULT_OFF,
                ),
            ),
            engine=redis.engine,
            user_group_id=str(redis.user_group_id),
            replication_group_id=str(redis.replication_group_id),
            specials=cacheusers.PASSWORD_SPECIALS,
            attached=cache_attached,
        )

    def by_api(spec: SecretSpec) -> bool:
        return set_by_api(connections[str(url_of(spec, s.catalogue).connection)])

    servers = tuple(server_step(spec) for spec in server_credentials(s.catalogue) if not by_api(spec))
    caches = tuple(cache(spec) for spec in server_credentials(s.catalogue) if by_api(spec))
    active = {step.key: step.active_role for step in servers} | {c.key: c.active_role for c in caches}
    tokens = {c.key for c in caches if c.active_role == names.CACHE_DEFAULT_USER}
    # Pods logging in as the stack's users wait for the group; the token a takeover keeps works without it.
    unknown_users = {c.key for c in caches if not c.attached and c.active_role != names.CACHE_DEFAULT_USER}
    # An administrator a managed secret stands in for has no entry of ours, and nothing syncs it.
    replaced = {step.admin_key for step in servers if step.admin_properties}
    verified = {name for name, c in connections.items() if getattr(c, "on_rds", False)}

    def connection_of(spec: SecretSpec) -> Mapping[str, str | int]:
        fields = url_fields(connections[str(spec.connection)])
        if spec.password_of in active:  # the URL names the role its password is of
            fields["user"] = active[str(spec.password_of)]
        if spec.password_of in tokens:  # `AUTH <token>` (no user), as the token's clients log in
            fields["user"] = ""
        return MappingProxyType(fields)

    def workload(consumer: Consumer) -> WorkloadPlan:
        reads = read_by(consumer, s.catalogue)
        verifies = any(r.connection in verified for r in reads)
        container = container_spec(s.workloads[consumer.name])
        if any(r.password_of in unknown_users for r in reads):  # it would log in as users the cache lacks
            container = replace(container, replicas=0)
        # asyncpg takes the CA bundle from PGSSLROOTCERT only (see urls.TLS_QUERIES).
        bundle = {trust.ROOT_CERT_ENV: trust.ROOT_CERT} if verifies else {}
        return WorkloadPlan(
            consumer=consumer.name,
            name=names.workload(consumer.name),
            reads=tuple(ReadPlan(r.key, str(r.env_var), names.secret_name(stack, r.key)) for r in reads),
            plain_env=MappingProxyType(
                {**{n: str(plain[PLAIN_ENV[n]]) for n in consumer.plain_env}, **bundle}
            ),
            container=container,
            egress_ports=tuple(sorted({connections[r.connection].port for r in reads if r.connection})),
            ca_bundle=verifies,
        )

    trail = config.audit_trail
    declared: TrailPlan | None = None
    if trail == DECLARE_TRAIL:
        name = names.trail(stack)
        declared = TrailPlan(name, names.trail_arn(partition, s.region, account, name), account)

    return Plan(
        stack=stack,
        region=s.region,
        kubeconfig=kubeconfig(cluster, s.region),
        takeover=config.takeover,
        namespace=names.namespace(stack, config.namespace),
        labels=MappingProxyType(environment_labels(names.PROJECT, stack, config.grade)),
        selector_labels=MappingProxyType({names.ENVIRONMENT_LABEL: stack}),
        tags=MappingProxyType(aws_tags(names.PROJECT, stack, config.grade)),
        cluster_annotations=MappingProxyType(cluster_annotations(cluster)),
        rotation=MappingProxyType(s.rotation),
        password_length=config.password_length,
        composed=tuple(
            ComposedPlan(spec, connection_of(spec), connection_query(spec, connections[str(spec.connection)]))
            for spec in s.catalogue
            if spec.connection
        ),
        key_alias=names.kms_alias(stack),
        key_description=f"Encrypts the {prefix} secrets in Secrets Manager",
        key_policy=json.dumps(key_policy(partition, account)),
        secrets=tuple(
            SecretPlan(
                spec.key,
                names.secret_name(stack, spec.key),
                spec.description,
                active.get(spec.key),
                adopted=spec.key in s.adopted or spec.password_of in s.adopted,
            )
            for spec in s.catalogue
            if spec.key not in replaced
        )
        + tuple(
            SecretPlan(
                step.verifiers_key,
                step.verifiers_remote_name,
                f"Verifiers of {' and '.join(step.roles)} ({step.key}), which its rotation step sets",
                None,
                adopted=False,
            )
            for step in servers
        ),
        recovery_window_in_days=config.recovery_window_in_days,
        protect=config.protect,
        replica_region=config.replica_region,
        store_name=names.STORE_NAME,
        operator_service_account=names.OPERATOR_SERVICE_ACCOUNT,
        operator_role=operator_role,
        # Spelled out rather than taken from the role, so the audit's pattern is known at preview
        # and the policy pack can read it before the role exists.
        operator_role_arn=operator_arn,
        operator_role_description=f"External Secrets Operator reads the {stack} secrets of {names.PROJECT}",
        oidc_provider_arn=cluster.oidc_provider_arn,
        oidc_issuer=cluster.oidc_issuer,
        secrets_manager_endpoint=f"secretsmanager.{s.region}.{dns_suffix(partition)}",
        # Only what some workload or step reads: db-password and redis-password stay in AWS.
        synced_keys=tuple(spec.key for spec in synced(s.catalogue, s.consumers))
        + tuple(k for step in servers for k in (step.admin_key, step.verifiers_key) if k not in replaced),
        audit_name=names.audit_name(stack),
        secret_name_prefix=names.secret_prefix(stack),
        audit_expected_readers=tuple(config.audit_expected_readers),
        audit_endpoints=tuple(e for e in (config.audit_email, config.audit_endpoint) if e),
        audit_secret_endpoints=frozenset(
            e
            for key, e in (("auditEmail", config.audit_email), ("auditEndpoint", config.audit_endpoint))
            if e and key in s.secret
        ),
        # RDS's master user secret, which the operator syncs to the step, is watched as ours are.
        audit_arn_prefixes=tuple(
            names.secret_arn_prefix(partition, r, account, stack)
            for r in (s.region, config.replica_region)
            if r
        )
        + tuple(i for step in servers if step.admin_properties for i in secret_ids(step.admin_remote_name)),
        audit_key_alias=names.audit_key_alias(stack),
        audit_key_policy=json.dumps(audit_key_policy(partition, account)),
        audit_watched_roles=tuple(names.role_of(a) for a in (operator_arn, *config.audit_expected_readers)),
        audit_bus=config.audit_bus,
        audit_bus_role=names.audit_bus_role(stack),
        read_regions=tuple(r for r in (s.region, config.replica_region) if r),
        watched_trail=declared.name if declared else (wanted(trail)[0] if trail else None),
        declared_trail=declared,
        workloads=tuple(workload(c) for c in s.consumers),
        servers=servers,
        caches=caches,
        ca_bundle=trust.config_map_name(names.ca_bundle()) if verified else None,
        foreign_secret_arns=tuple(step.admin_remote_name for step in servers if step.admin_properties),
        foreign_kms_key_arns=tuple(
            str(key) for c in connections.values() if (key := getattr(c, "master_secret_kms_key_arn", None))
        ),
        admission=admission_plan(s, cluster),
        cluster_audit=cluster_audit_plan(s, cluster),
    )


def admission_plan(s: Settings, cluster: Cluster) -> AdmissionPlan | None:
    """The admission policy, on a cluster that serves it (check_cluster has warned, or refused, if not)."""
    namespace = names.namespace(s.stack, s.config.namespace)
    if minor_version(cluster.version) < ADMISSION_POLICIES:
        return None
    return AdmissionPlan(
        names.admission_policy(namespace), names.OPERATOR_USER, admission_actions(s.config.grade)
    )


def cluster_audit_plan(s: Settings, cluster: Cluster) -> ClusterAuditPlan | None:
    """The alarm on reads in the cluster, on a cluster whose audit log is on (check_cluster has warned,
    or refused, if not). The program's ServiceAccounts in the namespace, the workloads' and the
    rotation steps', all start `ai-etl-` (names.workload, names.rotation_step): one wildcard."""
    if not cluster.audited:
        return None
    namespace = names.namespace(s.stack, s.config.namespace)
    name = names.cluster_audit_name(s.stack)
    return ClusterAuditPlan(
        name=name,
        cluster=cluster.name,
        log_group=audit_log_group(cluster.name),
        pattern=clusteraudit.audit_log_filter(
            namespace,
            names.service_account_user(namespace, names.OPERATOR_SERVICE_ACCOUNT),
            names.OPERATOR_USER,
            names.service_account_user(namespace, names.workload("*")),
        ),
        metric_namespace=names.PROJECT,
        alarm_arn=f"arn:{cluster.partition}:cloudwatch:{s.region}:{cluster.account}:alarm:{name}",
    )
