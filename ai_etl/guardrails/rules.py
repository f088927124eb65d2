"""The guide's practices as rules: written once, run by the policy pack (`policy/`) in every
`pulumi preview`/`up`, and by `python -m ai_etl.ops.check` (`make check`) on an offline render.

A rule sees resources as the engine hands them to a policy: type token, name, URN, inputs (secret
values in plain text, as policies get them), `protect`, and dependencies.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ai_etl.catalogue import CATALOGUE, Source, by_key, server_credentials
from ai_etl.config.commands import Commands
from ai_etl.eks import ENCRYPTED_BY_DEFAULT, minor_version
from ai_etl.grade import (
    GRADE_LABEL,
    GRADE_TAG,
    MIN_PASSWORD_LENGTH,
    PRODUCTION,
    ROTATE_EVERY_DAYS,
    STANDARD,
    recovery_window_for,
)
from ai_etl.names import (
    ADOPTED,
    VALUE_SOURCE_TAG,
    key_of_cache_user_tags,
    key_of_password_name,
    key_of_secret_name,
    secret_prefix,
    verifiers_key,
)
from ai_etl.tokens import (
    ALL_MANAGEMENT_EVENTS,
    AUDIT_ANNOTATION,
    CACHE_USER,
    CLUSTER_ANNOTATION,
    ESO_EXTERNAL_SECRET,
    ESO_PREFIX,
    EVENT_RULE,
    EVENT_TARGET,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    K8S_CLUSTER_ROLE,
    K8S_CONFIGMAP,
    K8S_CRON_JOB,
    K8S_DAEMON_SET,
    K8S_DEPLOYMENT,
    K8S_JOB,
    K8S_NAMESPACE,
    K8S_POD,
    K8S_ROLE,
    K8S_SECRET,
    K8S_STATEFUL_SET,
    KMS_KEY,
    RANDOM_PASSWORD,
    SM_SECRET,
    SM_VERSION,
    SNS_SUBSCRIPTION,
    SNS_TOPIC,
    VERSION_ANNOTATION,
)

WORKLOADS = {  # where each workload kind keeps its pod spec
    K8S_DEPLOYMENT: ("spec", "template", "spec"),
    K8S_STATEFUL_SET: ("spec", "template", "spec"),
    K8S_DAEMON_SET: ("spec", "template", "spec"),
    K8S_JOB: ("spec", "template", "spec"),
    K8S_CRON_JOB: ("spec", "jobTemplate", "spec", "template", "spec"),
    K8S_POD: ("spec",),
}
CREDENTIAL_NAME = re.compile(r"PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL", re.IGNORECASE)
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s:]*:[^/@\s]+@", re.IGNORECASE)


@dataclass(frozen=True)
class Subject:
    """A resource as a policy sees it."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    dependencies: tuple[str, ...] = ()
    property_dependencies: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def stack(self) -> str:
        """The stack, from the URN (`urn:pulumi:<stack>::<project>::...`)."""
        return self.urn.split("::", 1)[0].rsplit(":", 1)[-1]


ResourceCheck = Callable[[Subject], Iterable[str]]
"""A resource rule's check: one message per problem of one resource."""
StackCheck = Callable[[list[Subject]], Iterable[tuple[str, str]]]
"""A stack rule's check: (URN, message) per problem, seeing every resource at once."""


Fix = Callable[[Commands, "Subject | None"], str]
"""For this project, the change that makes a rule pass: one line that bash parses, every word quoted
(ai_etl/config/commands.py), any commentary after ` # `; given the stack's commands and the resource
a finding is about (None when the finding names no resource)."""


@dataclass(frozen=True)
class ResourceRule:
    """A practice of the guide, checked on each resource of the given types."""

    name: str
    description: str
    check: ResourceCheck
    types: tuple[str, ...]
    """Resource types it applies to (a prefix ending in '/' matches a group)."""
    advisory: bool = False
    fix: Fix | None = None

    def applies_to(self, type_token: str) -> bool:
        return any(type_token == t or (t.endswith("/") and type_token.startswith(t)) for t in self.types)


@dataclass(frozen=True)
class StackRule:
    """A practice of the guide, checked on all the stack's resources together."""

    name: str
    description: str
    check: StackCheck
    advisory: bool = False
    fix: Fix | None = None


Rule = ResourceRule | StackRule
RULES: list[Rule] = []
"""Every rule, in the order this module declares them (the decorators below add them)."""


R = TypeVar("R", bound=ResourceCheck)
S = TypeVar("S", bound=StackCheck)


def resource_rule(
    name: str, description: str, *types: str, advisory: bool = False, fix: Fix | None = None
) -> Callable[[R], R]:
    """Declare the decorated function a resource rule, with its name and description beside it."""

    def register(check: R) -> R:
        RULES.append(ResourceRule(name, description, check, types, advisory, fix))
        return check

    return register


def stack_rule(
    name: str, description: str, *, advisory: bool = False, fix: Fix | None = None
) -> Callable[[S], S]:
    """Declare the decorated function a stack rule, with its name and description beside it."""

    def register(check: S) -> S:
        RULES.append(StackRule(name, description, check, advisory, fix))
        return check

    return register


@dataclass(frozen=True)
class Finding:
    rule: str
    urn: str
    message: str
    advisory: bool


def grade_of(s: Subject) -> str | None:
    """The grade the resource states (its Grade tag or grade label); None if it states none."""
    tags = s.props.get("tags") if isinstance(s.props.get("tags"), Mapping) else {}
    labels = _get(s.props, "metadata", "labels") or {}
    return (tags or {}).get(GRADE_TAG) or labels.get(GRADE_LABEL)


def _get(value: Any, *path: str) -> Any:
    for part in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


# --- resource rules -----------------------------------------------------------------------------


@resource_rule(
    "generated-secrets-strong",
    f"Generated secrets are RandomPassword of {MIN_PASSWORD_LENGTH}+ characters",
    RANDOM_PASSWORD,
    fix=lambda c, _: f"{c.set(('passwordLength',), 48)}  # applies at each secret's next rotation",
)
def strong_passwords(s: Subject) -> Iterator[str]:
    length = s.props.get("length")
    if not isinstance(length, (int, float)) or length < MIN_PASSWORD_LENGTH:
        yield (
            f"{s.name}: a generated secret has {length} characters; "
            f"the guide asks {MIN_PASSWORD_LENGTH} or more"
        )


@resource_rule(
    "no-plain-credentials",
    "No credential in a Secret's data, a ConfigMap or a plain env value",
    K8S_SECRET,
    K8S_CONFIGMAP,
    *WORKLOADS,
)
def no_plain_credentials(s: Subject) -> Iterator[str]:
    if s.type == K8S_SECRET and (s.props.get("data") or s.props.get("stringData")):
        yield f"{s.name}: a Secret with data in the program; let the External Secrets Operator write it"
    if s.type == K8S_CONFIGMAP:
        for key, value in {**(s.props.get("data") or {}), **(s.props.get("binaryData") or {})}.items():
            if CREDENTIAL_NAME.search(key) or (isinstance(value, str) and URL_WITH_PASSWORD.match(value)):
                yield f"{s.name}: ConfigMap key {key!r} looks like a credential; ConfigMaps are not encrypted"
    if s.type in WORKLOADS:
        pod = _get(s.props, *WORKLOADS[s.type]) or {}
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            for env in container.get("env") or []:
                value = env.get("value")
                if value is None:
                    continue
                if CREDENTIAL_NAME.search(env.get("name", "")) or URL_WITH_PASSWORD.match(str(value)):
                    yield (
                        f"{s.name}: env {env.get('name')!r} of container {container.get('name')!r} holds "
                        "a credential as a plain value; use valueFrom.secretKeyRef"
                    )


@resource_rule("secrets-manager-cmk", "Secrets Manager secrets use a customer-managed KMS key", SM_SECRET)
def customer_managed_key(s: Subject) -> Iterator[str]:
    key = s.props.get("kmsKeyId")
    if not key or str(key).startswith("alias/aws/"):
        yield f"{s.name}: encrypt it with the environment's customer-managed KMS key (kmsKeyId)"


@resource_rule(
    "secrets-manager-recovery-window",
    "Recovery window of 7 days or more (30 in production grade)",
    SM_SECRET,
    fix=lambda c, _: str(c.set(("recoveryWindowInDays",), 30)),
)
def recovery_window(s: Subject) -> Iterator[str]:
    window = s.props.get("recoveryWindowInDays")
    grade = grade_of(s) or STANDARD
    needed = recovery_window_for(grade)
    if not isinstance(window, (int, float)) or window < needed:
        yield f"{s.name}: recovery window {window} days; {needed} or more in grade {grade}"


@resource_rule("secrets-manager-name", "Secrets Manager names live under ai-etl/<stack>/", SM_SECRET)
def secret_name_prefix(s: Subject) -> Iterator[str]:
    name, prefix = s.props.get("name"), secret_prefix(s.stack)
    if not isinstance(name, str) or not name.startswith(prefix):
        yield f"{s.name}: secret name {name!r} must start with {prefix!r} (environments share nothing)"


@resource_rule(
    "rbac-secrets",
    "No ClusterRole on secrets; a Role on secrets: get only, by resourceNames",
    K8S_CLUSTER_ROLE,
    K8S_ROLE,
)
def rbac_on_secrets(s: Subject) -> Iterator[str]:
    for rule in s.props.get("rules") or []:
        resources, verbs = rule.get("resources") or [], rule.get("verbs") or []
        groups = rule.get("apiGroups") or []
        if "*" in resources or "*" in verbs or "*" in groups:
            yield f"{s.name}: a wildcard in an RBAC rule"
            continue
        if "secrets" not in resources:
            continue
        if s.type == K8S_CLUSTER_ROLE:
            yield f"{s.name}: a ClusterRole with access to secrets (it would reach every namespace)"
        elif sorted(verbs) != ["get"] or not rule.get("resourceNames"):
            yield f"{s.name}: a Role on secrets may only `get`, by resourceNames (got verbs {verbs})"


@resource_rule("external-secrets-v1", "External Secrets objects use external-secrets.io/v1", ESO_PREFIX)
def external_secrets_v1(s: Subject) -> Iterator[str]:
    if not s.type.startswith(ESO_PREFIX + "v1:"):
        yield f"{s.name}: {s.type} is not external-secrets.io/v1 (v1beta1 is no longer served)"


def rotation_fix(commands: Commands, s: Subject | None, today: dt.date | None = None) -> str:
    """Rotate the secret of `s` today: its rotation value becomes today's date, in the ISO form the
    rule reads back (docs/runbooks.md rotates `rotation.<key>` so); `'<key>'` where the password's
    name does not say which secret it is."""
    rotation = str(_get(s.props, "keepers", "rotation")) if s else ""
    keys = [spec.key for spec in CATALOGUE]
    key = (key_of_password_name(s.name, rotation, keys) if s else None) or "<key>"
    date = (today or dt.date.today()).isoformat()
    return f"{commands.set(('rotation', key), date)}  # then preview and pulumi up (docs/runbooks.md)"


@resource_rule(
    "rotate-regularly",
    f"Rotate every {ROTATE_EVERY_DAYS} days (a rotation date older than that)",
    RANDOM_PASSWORD,
    advisory=True,
    fix=lambda c, s: rotation_fix(c, s),
)
def rotate_regularly(s: Subject, today: dt.date | None = None) -> Iterator[str]:
    value = _get(s.props, "keepers", "rotation")
    try:
        rotated = dt.date.fromisoformat(str(value))
    except ValueError:
        return
    age = ((today or dt.date.today()) - rotated).days
    if age > ROTATE_EVERY_DAYS:
        yield f"{s.name}: last rotated {value}, {age} days ago; rotate every {ROTATE_EVERY_DAYS} days"


@resource_rule(
    "secrets-replicated",
    "In production grade every secret keeps a replica in a second region, under a customer-managed key",
    SM_SECRET,
    fix=lambda c, _: str(c.set(("replicaRegion",), "us-west-2")),
)
def secrets_replicated(s: Subject) -> Iterator[str]:
    if grade_of(s) != PRODUCTION:
        return
    replicas = s.props.get("replicas") or []
    if not replicas:
        yield f"{s.name}: no replica: the recovery window does not survive the loss of the region"
    for replica in replicas:
        key = str(replica.get("kmsKeyId") or "")
        if not key or key.startswith("alias/aws/"):
            yield f"{s.name}: the replica in {replica.get('region')} is not under a customer-managed key"


@resource_rule(
    "cluster-encrypted-and-audited",
    "The namespace names the stack's EKS cluster; in production grade it encrypts at rest (1.28+) and audits",
    K8S_NAMESPACE,
    fix=lambda c, _: f"{c.set(('clusterName',), '<cluster>')}  # one of Kubernetes 1.28+, its audit log on",
)
def cluster_encrypted_and_audited(s: Subject) -> Iterator[str]:
    annotations = _get(s.props, "metadata", "annotations") or {}
    if not annotations.get(CLUSTER_ANNOTATION):
        yield f"{s.name}: names no EKS cluster ({CLUSTER_ANNOTATION}): its objects go where kubeconfig points"
        return
    if grade_of(s) != PRODUCTION:
        return
    version = annotations.get(VERSION_ANNOTATION)
    if minor_version(version) < ENCRYPTED_BY_DEFAULT:
        yield f"{s.name}: the cluster runs Kubernetes {version}: no default envelope encryption before 1.28"
    if annotations.get(AUDIT_ANNOTATION) != "enabled":  # what ai_etl/components/namespace.py records
        yield f"{s.name}: the cluster's audit log is off"


# --- stack rules --------------------------------------------------------------------------------


READ_EVENTS = ("GetSecretValue", "BatchGetSecretValue")
"""Secrets Manager's calls that return values (a second witness of ai_etl/components/auditpatterns.py,
checked against what the program declares)."""


def _request_forms(detail: Mapping[str, Any]) -> dict[str, Any]:
    """A pattern's request fields, whether under the detail's `$or` or not: field -> what it matches."""
    forms: dict[str, Any] = {}
    for part in (detail, *(a for a in detail.get("$or") or [] if isinstance(a, Mapping))):
        request = part.get("requestParameters")
        if not isinstance(request, Mapping):
            continue
        for name, matched in request.items():
            forms.setdefault(name, []).extend(matched if isinstance(matched, list) else [matched])
    return forms


def _watches(rule: Subject, prefix: str) -> bool:
    """The rule hands every read of `prefix`* (by id, in a batch, by filter) to its targets."""
    try:
        pattern = json.loads(str(rule.props.get("eventPattern")))
    except ValueError:
        return False
    detail = pattern.get("detail") or {} if isinstance(pattern, Mapping) else {}
    forms = _request_forms(detail) if isinstance(detail, Mapping) else {}
    named = all(
        any(isinstance(i, Mapping) and i.get("prefix") == prefix for i in forms.get(field) or [])
        for field in ("secretId", "secretIdList")
    )
    by_filter = {"exists": False} in forms.get("secretIdList", [])  # a batch without ids
    return (
        rule.props.get("state") == ALL_MANAGEMENT_EVENTS
        and set(READ_EVENTS) <= set(detail.get("eventName") or [])
        and named
        and by_filter
    )


@stack_rule(
    "access-audited",
    "A read of the stack's secrets (by id, batch or filter; in every region holding them) by anyone but "
    "the expected roles reaches someone, through an encrypted SNS topic with a dead-letter queue",
    fix=lambda c, _: (
        f"{c.set(('auditEmail',), '<address>')} && {c.up()}"
        "  # the program declares the rest (ai_etl/components/accessaudit.py)"
    ),
)
def access_audited(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    secrets = [s for s in subjects if s.type == SM_SECRET]
    if not secrets:
        return
    prefix = secret_prefix(secrets[0].stack)
    by_urn = {s.urn: s for s in subjects}
    regions = {None} | {r.get("region") for s in secrets for r in s.props.get("replicas") or []}

    def topics(target: Subject) -> list[Subject]:
        found = [by_urn.get(u) for u in target.property_dependencies.get("arn", ())]
        return [t for t in found if t is not None and t.type == SNS_TOPIC and t.props.get("kmsMasterKeyId")]

    def subscribed(topic: Subject) -> bool:
        return any(
            s.type == SNS_SUBSCRIPTION and topic.urn in s.property_dependencies.get("topic", ())
            for s in subjects
        )

    for region in sorted(regions, key=str):
        where = f"in {region}" if region else "in the stack's region"
        rules = {s.urn for s in subjects if s.type == EVENT_RULE and s.props.get("region") == region
                 and _watches(s, prefix)}  # fmt: skip
        targets = [
            t
            for t in subjects
            if t.type == EVENT_TARGET and rules & set(t.property_dependencies.get("rule", ()))
        ]
        encrypted = [(t, topic) for t in targets for topic in topics(t)]
        if not encrypted:
            yield (
                secrets[0].urn,
                f"no EventBridge rule ({ALL_MANAGEMENT_EVENTS}) {where} sends every read of {prefix}* "
                f"({', '.join(READ_EVENTS)}; by name, ARN, batch or filter) to an encrypted SNS topic",
            )
            continue
        if not any(subscribed(topic) for _, topic in encrypted):
            yield secrets[0].urn, f"the access alerts {where} reach no one: nothing subscribes to their topic"
        if not any(_get(t.props, "deadLetterConfig", "arn") for t, _ in encrypted):
            yield (
                secrets[0].urn,
                f"an access alert {where} that cannot be delivered is lost: no dead-letter queue",
            )


@stack_rule("values-not-literal", "No Secrets Manager value comes from a literal")
def values_not_literal(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    """A generated or composed value must come from a RandomPassword; a provided one from config."""
    by_urn = {s.urn: s for s in subjects}
    catalogue = by_key(CATALOGUE)
    for version in (s for s in subjects if s.type == SM_VERSION):
        secrets = [by_urn[d] for d in version.dependencies if d in by_urn and by_urn[d].type == SM_SECRET]
        key = key_of_secret_name(version.stack, str(secrets[0].props.get("name", ""))) if secrets else None
        spec = catalogue.get(key or "")
        sources = [by_urn.get(d) for d in version.property_dependencies.get("secretString", ())]
        from_password = any(r is not None and r.type == RANDOM_PASSWORD for r in sources)
        if spec is not None and spec.source is Source.PROVIDED:
            continue  # read from secret stack config by the program; plain config is refused there
        if secrets and (secrets[0].props.get("tags") or {}).get(VALUE_SOURCE_TAG) == ADOPTED:
            continue  # a live value kept at a takeover, from secret stack config, until its rotation
        if not from_password:
            yield version.urn, f"{version.name}: its value is not from a RandomPassword (a literal?)"


def _statements(document: Any) -> list[dict[str, Any]]:
    try:
        policy = json.loads(document) if isinstance(document, str) else document
    except json.JSONDecodeError:
        return []
    statements = (policy or {}).get("Statement") or []
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@stack_rule("iam-least-privilege", "Roles that read secrets: no wildcard; trust one service account, STS")
def iam_least_privilege(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    """A role that reads secrets: no wildcard action or resource; trust for one subject and STS."""
    roles = {str(s.props.get("name")): s for s in subjects if s.type == IAM_ROLE}
    for policy in (s for s in subjects if s.type in (IAM_ROLE_POLICY, IAM_POLICY)):
        statements = _statements(policy.props.get("policy"))
        actions = [a for st in statements for a in _as_list(st.get("Action") or [])]
        if not any(str(a).lower().startswith("secretsmanager:") or a == "*" for a in actions):
            continue
        for st in statements:
            for what in ("Action", "Resource"):
                if any("*" in str(v) for v in _as_list(st.get(what) or [])):
                    yield policy.urn, f"{policy.name}: a wildcard {what} in a policy that reads secrets"
        role = roles.get(str(policy.props.get("role")))
        if role is not None:
            yield from _trust_problems(role)


def _trust_problems(role: Subject) -> Iterator[tuple[str, str]]:
    for st in _statements(role.props.get("assumeRolePolicy")):
        conditions = st.get("Condition") or {}
        equals = conditions.get("StringEquals") or {}
        subs = [v for k, v in equals.items() if k.endswith(":sub")]
        auds = [v for k, v in equals.items() if k.endswith(":aud")]
        if set(conditions) - {"StringEquals"}:
            yield role.urn, f"{role.name}: trust conditions other than StringEquals ({sorted(conditions)})"
        if len(subs) != 1 or not isinstance(subs[0], str) or "*" in subs[0]:
            yield role.urn, f"{role.name}: trust must name exactly one service account (:sub)"
        if auds != ["sts.amazonaws.com"]:
            yield role.urn, f"{role.name}: trust must require the sts.amazonaws.com audience (:aud)"


@stack_rule("secret-refs-resolve", "Every secretKeyRef resolves to a key an ExternalSecret provides")
def secret_refs_resolve(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    """Every secretKeyRef of a workload names a key an ExternalSecret of its namespace provides."""
    provided: dict[tuple[Any, Any], set[str] | None] = {}
    for es in (s for s in subjects if s.type == ESO_EXTERNAL_SECRET):
        meta, spec = es.props.get("metadata") or {}, es.props.get("spec") or {}
        target = _get(spec, "target", "name") or meta.get("name")
        keys = None if spec.get("dataFrom") else {d.get("secretKey") for d in spec.get("data") or []}
        provided[(meta.get("namespace"), target)] = keys
    for w in (s for s in subjects if s.type in WORKLOADS):
        namespace = _get(w.props, "metadata", "namespace")
        pod = _get(w.props, *WORKLOADS[w.type]) or {}
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            for env in container.get("env") or []:
                ref = _get(env, "valueFrom", "secretKeyRef")
                if not ref:
                    continue
                keys = provided.get((namespace, ref.get("name")), set())
                if keys is not None and ref.get("key") not in keys:
                    yield (
                        w.urn,
                        (
                            f"{w.name}: env {env.get('name')!r} reads {ref.get('name')}/{ref.get('key')}, "
                            f"which no ExternalSecret in {namespace} provides"
                        ),
                    )


@stack_rule(
    "server-rotation-automated",
    "A password a server holds is set there by a rotation step (a Job) the workloads wait for",
    fix=lambda c, _: f"{c.up()}  # the program declares it (ai_etl/components/rotationstep.py)",
)
def server_rotation_automated(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    """Each server credential's secret has a Job whose pods read its verifiers (by secretKeyRef to
    a Secret an ExternalSecret fills from `<key>-verifiers`), or ElastiCache users tagged with its
    key, and every Deployment depends on that Job (on every one of those users): otherwise a
    rotation needs a hand-run step, and the backend may roll onto a password the server does not
    have yet."""
    servers = {spec.key for spec in server_credentials(CATALOGUE)}
    secrets = [s for s in subjects if s.type == SM_SECRET]
    if not secrets:
        return
    stack = secrets[0].stack
    targets: dict[str, set[tuple[Any, Any]]] = {}
    for es in (s for s in subjects if s.type == ESO_EXTERNAL_SECRET):
        meta, spec = es.props.get("metadata") or {}, es.props.get("spec") or {}
        target = _get(spec, "target", "name") or meta.get("name")
        for d in spec.get("data") or []:
            remote = str(_get(d, "remoteRef", "key") or "")
            targets.setdefault(remote, set()).add((meta.get("namespace"), target))
    deployments = [s for s in subjects if s.type == K8S_DEPLOYMENT]
    for secret in secrets:
        key = key_of_secret_name(stack, str(secret.props.get("name", "")))
        if key not in servers:
            continue
        users = [
            u for u in subjects if u.type == CACHE_USER and key_of_cache_user_tags(u.props.get("tags")) == key
        ]
        if users:  # set through ElastiCache's API (components/cacheusers.py): the users are the step
            for d in deployments:
                if not all(user.urn in d.dependencies for user in users):
                    yield d.urn, f"{d.name}: may roll before the ElastiCache users of {key} hold its password"
            continue
        filled = targets.get(secret_prefix(stack) + verifiers_key(str(key)), set())
        steps = [job for job in subjects if job.type == K8S_JOB and _reads_from(job, filled)]
        if not steps:
            yield (
                secret.urn,
                f"{key}: no rotation step (a Job reading its verifiers) sets it on the server, so a "
                "rotation needs a hand-run step and drops connections",
            )
            continue
        for d in deployments:
            if not any(step.urn in d.dependencies for step in steps):
                yield d.urn, f"{d.name}: may roll before the rotation step of {key} set it on the server"


def _reads_from(job: Subject, secrets: set[tuple[Any, Any]]) -> bool:
    """Whether the Job's pods read some key of one of `secrets` ((namespace, name)) by secretKeyRef."""
    namespace = _get(job.props, "metadata", "namespace")
    pod = _get(job.props, *WORKLOADS[K8S_JOB]) or {}
    refs = [
        _get(env, "valueFrom", "secretKeyRef", "name")
        for container in pod.get("containers") or []
        for env in container.get("env") or []
    ]
    return any((namespace, ref) in secrets for ref in refs if ref)


@stack_rule(
    "production-protected",
    "In production grade the KMS key and the secrets are protected",
    fix=lambda c, _: str(c.set(("protect",), True)),
)
def production_protected(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    for s in subjects:
        if grade_of(s) == PRODUCTION and s.type in (KMS_KEY, SM_SECRET) and not s.protect:
            yield s.urn, f"{s.name}: in production grade the KMS key and the secrets must be protected"


@stack_rule(
    "production-images-pinned",
    "In production grade every container image is pinned by digest",
    fix=lambda c, _: str(c.set(("backend", "image"), "<registry>/<image>:<tag>@sha256:<digest>")),
)
def production_images_pinned(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    for w in (s for s in subjects if s.type in WORKLOADS and grade_of(s) == PRODUCTION):
        pod = _get(w.props, *WORKLOADS[w.type]) or {}
        for container in [*(pod.get("initContainers") or []), *(pod.get("containers") or [])]:
            if "@sha256:" not in str(container.get("image", "")):
                yield (
                    w.urn,
                    f"{w.name}: image {container.get('image')!r} is not pinned by digest (@sha256:...)",
                )


@stack_rule(
    "grade-stated",
    "The stack states its grade; production rules apply to production grade only",
    advisory=True,
    fix=lambda c, _: f"{c.set(('grade',), 'production')}  # or standard: the grade this stack is meant to be",
)
def grade_stated(subjects: list[Subject]) -> Iterator[tuple[str, str]]:
    grades = {grade_of(s) for s in subjects if grade_of(s)}
    if PRODUCTION not in grades:
        urn = next((s.urn for s in subjects), "")
        stated = ", ".join(sorted(str(g) for g in grades)) or "none"
        yield (
            urn,
            (
                f"grade {stated}: the production rules do not apply to this stack "
                "(state ai-etl:grade: production in its stack file to get them)"
            ),
        )


def evaluate(subjects: list[Subject], rules: list[Rule] = RULES) -> list[Finding]:
    """Every rule over every resource, as the policy pack would run them."""
    findings = []
    for rule in rules:
        if isinstance(rule, StackRule):
            for urn, message in rule.check(subjects):
                findings.append(Finding(rule.name, urn, message, rule.advisory))
            continue
        for s in subjects:
            if rule.applies_to(s.type):
                findings += [Finding(rule.name, s.urn, m, rule.advisory) for m in rule.check(s)]
    return findings
