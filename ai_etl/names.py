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


def audit_name(stack: str) -> str:
    """The access alert's EventBridge rule and SNS topic (and the prefix of its queue and alarms)."""
    return f"{prefix(stack)}-secret-access"


def audit_key_alias(stack: str) -> str:
    """The alias of the key of the access alerts (in each region the stack audits)."""
    return f"alias/{audit_name(stack)}"


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


# Logical names: `child(parent, role)` names a component's child (its URN's last part).
def child(parent: str, role: str) -> str:
    return f"{parent}-{role}"


SECRETS = "secrets"
"""Role of the Environment's SecretsManager component."""


def secret_value(component: str, key: str) -> str:
    """Logical name of the SecretVersion holding a key's value, in a SecretsManager `component`."""
    return child(child(component, key), "value")


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
