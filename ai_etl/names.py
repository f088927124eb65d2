"""Every name the program makes, in one place, with the inverse each reader needs.

A name is made here and read back here: the components, the checks, the guardrails and the operator
tools import these functions instead of formatting or stripping one another's strings, so renaming
a child cannot break a reader with the suite still green.
"""

from __future__ import annotations

import hashlib
import re

PROJECT = "ai-etl"
"""The Pulumi project name: the `ai-etl:` config namespace and the prefix of every name."""

ROOT = PROJECT
"""The logical name of the stack's Environment component; its children are named under it."""

STORE_NAME = "aws-secrets-manager"
"""The SecretStore every ExternalSecret of an environment reads through."""
OPERATOR_SERVICE_ACCOUNT = f"{PROJECT}-secret-store"
"""The ServiceAccount the External Secrets Operator authenticates as (IRSA) for this environment."""
HAND_MADE_SECRET = "ai-etl-secrets"
"""The Kubernetes Secret the guide creates by hand (`kubectl create secret generic ai-etl-secrets`)."""

ENVIRONMENT_LABEL = f"{PROJECT}.io/environment"
"""The Kubernetes label naming an object's stack."""

ACTIVE_ROLE_TAG = "ActiveRole"
"""AWS tag of a server credential's secret: the login role its value is the password of (the
offline diff shows which one a change makes active)."""
VALUE_SOURCE_TAG = "ValueSource"
"""AWS tag of a secret whose value was kept from before this program (`adopted`)."""
ADOPTED = "adopted"


def prefix(stack: str) -> str:
    """Prefix of a stack's AWS names, and its default namespace: `ai-etl-<stack>`."""
    return f"{PROJECT}-{stack}"


SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""The namespaces every cluster has, and the program must never take: kubernetes/kubernetes
staging/src/k8s.io/apimachinery/pkg/apis/meta/v1/types.go (NamespaceDefault, NamespaceSystem,
NamespacePublic) and staging/src/k8s.io/api/core/v1/types.go (NamespaceNodeLease)."""
RESERVED_NAMESPACE_PREFIX = "kube-"
"""kubernetes/website content/en/docs/concepts/overview/working-with-objects/namespaces.md: "Avoid
creating namespaces with the prefix `kube-`, since it is reserved for Kubernetes system namespaces"."""
OPERATOR_NAMESPACE = "external-secrets"
"""Where the README installs the External Secrets Operator (`helm install ... -n external-secrets`)."""
OPERATOR_USER = f"system:serviceaccount:{OPERATOR_NAMESPACE}:external-secrets"
"""The user the operator's controller acts as, installed as the README installs it: the chart names
its ServiceAccount after the release, `external-secrets` (external-secrets/external-secrets
deploy/charts/external-secrets/templates/_helpers.tpl, external-secrets.serviceAccountName). It asks
for the SecretStore's ServiceAccount tokens (providers/v1/aws/auth/token_fetcher.go, CreateToken)."""


def namespace(stack: str, configured: str | None = None) -> str:
    """The stack's namespace: `ai-etl:namespace`, else `ai-etl-<stack>`."""
    return configured or prefix(stack)


def secret_prefix(stack: str) -> str:
    """What every Secrets Manager name of a stack starts with: `ai-etl/<stack>/`."""
    return f"{PROJECT}/{stack}/"


def secret_name(stack: str, key: str) -> str:
    """The Secrets Manager name of a catalogue key: `ai-etl/<stack>/<key>`."""
    return secret_prefix(stack) + key


def key_of_secret_name(stack: str, name: str) -> str | None:
    """The catalogue key of a Secrets Manager name of `stack` (inverse of `secret_name`); None if the
    name is not one of that stack's."""
    start = secret_prefix(stack)
    key = name[len(start) :] if name.startswith(start) else ""
    return key if key and "/" not in key else None


def secret_arn_prefix(partition: str, region: str, account: str, stack: str) -> str:
    """`arn:<partition>:secretsmanager:<region>:<account>:secret:ai-etl/<stack>/`: any of its secrets."""
    return f"arn:{partition}:secretsmanager:{region}:{account}:secret:{secret_prefix(stack)}"


def kms_alias(stack: str) -> str:
    """The alias of the stack's KMS key (and of its replica-region key)."""
    return f"alias/{prefix(stack)}-secrets"


def operator_role(stack: str) -> str:
    """The IAM role the External Secrets Operator assumes for the stack."""
    return f"{prefix(stack)}-secret-store"


def role_arn(partition: str, account: str, role: str) -> str:
    return f"arn:{partition}:iam::{account}:role/{role}"


CI_JOBS = ("preview", "deploy")
"""The CI roles of a stack (docs/ci.md): the preview role (pull requests' previews, the daily watch)
and the deploy role (`pulumi up`)."""


def ci_role(stack: str, job: str) -> str:
    """The IAM role a stack's CI `job` assumes, as docs/ci.md names it: `github-ai-etl-<stack>-<job>`.
    Outside `ai-etl-<stack>-*`, the roles the deploy role may manage (docs/security.md, its grants):
    a deploy role that could rewrite its own or the preview role's policies would read unseen."""
    return f"github-{prefix(stack)}-{job}"


def role_of(arn: str) -> str:
    """The name of the role an ARN names (after its path, if any): IAM's calls name a role by it."""
    return arn.rsplit("/", 1)[1]


def audit_name(stack: str) -> str:
    """The access alert's EventBridge rule and SNS topic (and the prefix of its queue and alarms)."""
    return f"{prefix(stack)}-secret-access"


def audit_bus_role(stack: str) -> str:
    """The role EventBridge assumes to forward the tamper alerts to `auditBus` (one for all regions;
    `ai-etl-<stack>-audit-bus` stays within IAM's 64 characters for a stack name of 40)."""
    return f"{prefix(stack)}-audit-bus"


def audit_key_alias(stack: str) -> str:
    """The alias of the key of the access alerts (in each region the stack audits)."""
    return f"alias/{audit_name(stack)}"


def service_account_user(namespace: str, service_account: str) -> str:
    """The user name a ServiceAccount's token authenticates as (kubernetes/kubernetes
    staging/src/k8s.io/apiserver/pkg/authentication/serviceaccount/util.go, MakeUsername)."""
    return f"system:serviceaccount:{namespace}:{service_account}"


def admission_policy(namespace: str) -> str:
    """The ValidatingAdmissionPolicy (and its binding) guarding a namespace's operator identity:
    cluster-scoped, so named after the namespace (two stacks may share a cluster)."""
    return f"{namespace}-operator-identity"


def cluster_audit_name(stack: str) -> str:
    """The metric filter and alarm on the cluster's audit log: under the access audit's prefix, so the
    tamper rule's alarm names cover it."""
    return f"{audit_name(stack)}-cluster"


def trail(stack: str) -> str:
    """The CloudTrail trail the program declares when the stack asks for one (`auditTrail: declare`)."""
    return f"{prefix(stack)}-trail"


def trail_arn(partition: str, region: str, account: str, name: str) -> str:
    return f"arn:{partition}:cloudtrail:{region}:{account}:trail/{name}"


def ca_bundle() -> str:
    """The base name of the RDS CA bundle's ConfigMap (trust.config_map_name adds its digest)."""
    return f"{PROJECT}-rds-ca"


def workload(consumer: str) -> str:
    """The Kubernetes name of a consumer's Deployment, ServiceAccount and NetworkPolicy."""
    return f"{PROJECT}-{consumer}"


def verifiers_key(key: str) -> str:
    """The Secrets Manager key (`ai-etl/<stack>/<it>`) of a server credential's verifiers."""
    return f"{key}-verifiers"


def rotation_step(key: str) -> str:
    """The Kubernetes name of a server credential's rotation step: its ServiceAccount, Role,
    NetworkPolicy and pods' `app.kubernetes.io/name`; `<it>-<generation>` names its Job."""
    return f"{PROJECT}-{key}-step"


def step_job(key: str, generation: int) -> str:
    """The Job of generation `generation` of a server credential's step: a bump makes a new Job."""
    return f"{rotation_step(key)}-{generation}"


CREDENTIAL_TAG = "Credential"
"""AWS tag of an ElastiCache user the program declares: the server credential (catalogue key) whose
password it holds (the guardrails find a credential's users by it)."""
CACHE_DEFAULT_USER = "default"
"""The user name every ElastiCache user group must hold a user of (its RBAC documentation)."""


def cache_user_id(stack: str, user: str) -> str:
    """The ElastiCache user id of `user` (a login role, or `default`) in a stack: ids are unique per
    account and region, names only per user group, so the id carries the stack. botocore's model:
    UserId `[a-zA-Z][a-zA-Z0-9\\-]*`; the ids are stored lower-case."""
    return re.sub(r"[-_]+", "-", f"{prefix(stack)}-{user}").strip("-").lower()


def key_of_cache_user_tags(tags: dict[str, str] | None) -> str | None:
    """The server credential of an ElastiCache user, from its tags (None: not one of ours)."""
    return (tags or {}).get(CREDENTIAL_TAG)


# Logical names: `child(parent, role)` names a component's child (its URN's last part).
def child(parent: str, role: str) -> str:
    return f"{parent}-{role}"


SECRETS = "secrets"
"""Role of the Environment's SecretsManager component."""


def secret_value(component: str, key: str) -> str:
    """Logical name of the SecretVersion holding a key's value, in a SecretsManager `component`."""
    return child(child(component, key), "value")


def secret_policy(component: str, key: str) -> str:
    """Logical name of the resource policy on a key's secret, in a SecretsManager `component`."""
    return child(child(component, key), "policy")


def password_name(component: str, key: str, rotation: str) -> str:
    """A generated password's logical name: `<component>-<key>-<rotation value>`; a value that is no
    plain name is hashed."""
    return f"{component}-{key}-{_rotation_suffix(rotation)}"


def key_of_password_name(name: str, rotation: str, keys: list[str]) -> str | None:
    """The key among `keys` whose password of rotation value `rotation` is named `name` (inverse of
    `password_name`, whatever the component); the longest, if several end the name; None if none."""
    suffix = f"-{_rotation_suffix(rotation)}"
    found = [k for k in keys if name.endswith(f"-{k}{suffix}")]
    return max(found, key=len) if found else None


def _rotation_suffix(rotation: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rotation):
        return rotation
    return f"r{hashlib.sha256(rotation.encode()).hexdigest()[:12]}"
