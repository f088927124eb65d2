"""Least privilege, by construction: RBAC, IAM (IRSA), environments apart, production protected.
AWS inputs are held to the AWS API's own models (botocore) and the IAM grammar (parliament)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

import botocore.session
import parliament
import pytest
import regex
from botocore.validate import ParamValidator

from ai_etl import names
from ai_etl.catalogue import CATALOGUE, CONSUMERS, Consumer, admin_secret, synced
from ai_etl.config.settings import ConfigError
from ai_etl.names import admission_policy
from ai_etl.offline.records import Run
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.tokens import (
    GET_EKS_CLUSTER,
    GET_OIDC_PROVIDER,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    KMS_ALIAS,
    KMS_KEY,
    S3_BUCKET,
    SM_SECRET,
    TRAIL,
)
from tests.helpers import (
    ADMISSION_KINDS,
    PRODUCTION_GRADE,
    STACKS,
    manifest,
    manifests,
    master_secret,
    reads,
    run_stack,
    settings_of,
    stepped,
    workload_manifest,
)

SESSION = botocore.session.get_session()


def api_errors(service: str, operation: str, params: dict[str, Any]) -> list[str]:
    """Problems of `params` for an AWS API call, per the service's model: types and required
    members (botocore's validator), then the lengths, ranges and patterns it leaves to the server."""
    shape = SESSION.get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    errors = [report.generate_report()] if report.has_errors() else []
    return errors + _limits(shape, params, operation)


def _limits(shape: Any, value: Any, where: str) -> list[str]:
    meta, errors = shape.metadata, []
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, item in value.items():
            errors += _limits(shape.members[name], item, f"{where}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        errors += [e for item in value for e in _limits(shape.member, item, f"{where}[]")]
    if isinstance(value, (str, list)) and not meta.get("min", 0) <= len(value) <= meta.get("max", 1 << 31):
        errors.append(f"{where}: length {len(value)} outside {meta.get('min')}..{meta.get('max')}")
    if isinstance(value, int) and not meta.get("min", -(1 << 63)) <= value <= meta.get("max", 1 << 63):
        errors.append(f"{where}: {value} outside {meta.get('min')}..{meta.get('max')}")
    # The models' patterns use \\p{...} classes: `regex` reads them, `re` does not.
    if isinstance(value, str) and "pattern" in meta and not regex.fullmatch(meta["pattern"], value):
        errors.append(f"{where}: does not match {meta['pattern']}")
    return errors


def iam_findings(policy: dict, *, trust: bool = False) -> list[str]:
    """parliament's findings on a policy. A trust policy has no Resource, and parliament does not
    know EKS OIDC federation; those two findings are expected of every IRSA trust policy."""
    expected = {"MALFORMED", "UNKNOWN_FEDERATION_SOURCE"} if trust else set()
    result = parliament.analyze_policy_string(json.dumps(policy), ignore_private_auditors=True)
    return [f"{f.issue}: {f.detail}" for f in result.findings if f.issue not in expected]


def read_policy(run: Run) -> dict:
    return json.loads(run.one(IAM_ROLE_POLICY).inputs["policy"])


def trust_policy(run: Run) -> dict:
    return json.loads(run.one(IAM_ROLE).inputs["assumeRolePolicy"])


each_workload = pytest.mark.parametrize("consumer", CONSUMERS, ids=lambda c: c.name)
"""Every workload of the catalogue in turn: what holds of the backend holds of each."""


@each_workload
def test_each_workload_runs_as_its_own_account_bound_to_a_get_only_role(
    stack_run: Run, consumer: Consumer
) -> None:
    """A workload never runs as `default`; its Role may only `get` its own synced Secret."""
    deployment = workload_manifest(stack_run, consumer.name, "Deployment")
    account = deployment["spec"]["template"]["spec"]["serviceAccountName"]
    assert account == f"ai-etl-{consumer.name}"
    role = workload_manifest(stack_run, consumer.name, "Role")
    binding = workload_manifest(stack_run, consumer.name, "RoleBinding")
    assert role["metadata"]["name"] == f"ai-etl-{consumer.name}-secret-reader"
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["secrets"],
            "resourceNames": [stack_run.exports["secretNames"][consumer.name]],
            "verbs": ["get"],
        }
    ]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": f"ai-etl-{consumer.name}-secret-reader",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account, "namespace": stack_run.exports["namespace"]}
    ]
    assert not [m for m in manifests(stack_run) if m["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_operator_role_reads_only_what_the_backend_needs(stack_run: Run) -> None:
    """The operator's role may read this environment's synced secrets (exact ARNs: the workloads'
    and, for each rotation step, its administrator's password and verifiers) and decrypt with this
    environment's key through Secrets Manager; no wildcard action or resource."""
    policy = read_policy(stack_run)
    arns = stack_run.exports["secretArns"]
    read, decrypt = policy["Statement"]
    assert read["Action"] == ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"]
    # RDS's master user secret, where the stack names one, stands in for the Postgres admin's password.
    master = master_secret(stack_run.stack)
    stepped_here = stepped(stack_run.stack)
    replaced = {admin_secret(s).key for s in stepped_here if s.server == "postgres" and master}
    steps = [k for s in stepped_here for k in (admin_secret(s).key, names.verifiers_key(s.key))]
    theirs = [master] if master else []
    expected = [arns[spec.key] for spec in synced()] + [arns[k] for k in steps if k not in replaced] + theirs
    assert read["Resource"] == sorted(expected)
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == stack_run.exports["kmsKeyArn"]
    region = load_stack_config(stack_run.stack)["aws:region"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}
    }
    assert "*" not in json.dumps(policy)
    assert iam_findings(policy) == []


def test_iam_grammar_check_is_live() -> None:
    """parliament catches a misspelt action, so a clean report means something."""
    bad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "secretsmanager:GetSecret", "Resource": "*"}],
    }
    assert iam_findings(bad)


def test_operator_role_trusts_exactly_one_service_account(stack_run: Run) -> None:
    """Only the SecretStore's ServiceAccount, in this namespace, for the STS audience, may assume it;
    through the IAM OIDC provider the account holds for the stack's cluster's issuer (both looked
    up at deploy time, never typed in)."""
    policy = trust_policy(stack_run)
    (statement,) = policy["Statement"]
    cluster = stack_run.answer(GET_EKS_CLUSTER)
    assert cluster["name"] == load_stack_config(stack_run.stack)["ai-etl:clusterName"]
    issuer = cluster["identities"][0]["oidcs"][0]["issuer"].removeprefix("https://")
    arn = stack_run.answer(GET_OIDC_PROVIDER)["arn"]
    assert arn.endswith(f":oidc-provider/{issuer}")
    store = manifest(stack_run, "SecretStore")
    sa_name = store["spec"]["provider"]["aws"]["auth"]["jwt"]["serviceAccountRef"]["name"]
    assert statement["Principal"] == {"Federated": arn}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": f"system:serviceaccount:{stack_run.exports['namespace']}:{sa_name}",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    (operator_sa,) = [
        m for m in manifests(stack_run) if m["kind"] == "ServiceAccount" and m["metadata"]["name"] == sa_name
    ]
    assert operator_sa["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": stack_run.exports["operatorRoleArn"]
    }
    assert iam_findings(policy, trust=True) == []


def test_secret_store_reads_the_stacks_region(stack_run: Run) -> None:
    """The SecretStore points at Secrets Manager in the stack's own region."""
    aws = manifest(stack_run, "SecretStore")["spec"]["provider"]["aws"]
    assert aws["service"] == "SecretsManager"
    assert aws["region"] == load_stack_config(stack_run.stack)["aws:region"]


def test_aws_inputs_meet_the_api_constraints(stack_run: Run) -> None:
    """Names, lengths, ranges and patterns of every AWS input, per the AWS API models."""
    errors = []
    for s in stack_run.of_type(SM_SECRET):
        i = s.inputs
        tags = [{"Key": k, "Value": v} for k, v in i["tags"].items()]
        replicas = [{"Region": r["region"], "KmsKeyId": r["kmsKeyId"]} for r in i.get("replicas", [])]
        errors += api_errors(
            "secretsmanager",
            "CreateSecret",
            {
                "Name": i["name"],
                "Description": i["description"],
                "KmsKeyId": i["kmsKeyId"],
                "Tags": tags,
                **({"AddReplicaRegions": replicas} if replicas else {}),
            },
        )
        # Documented in DeleteSecret: RecoveryWindowInDays is 7 to 30.
        assert 7 <= i["recoveryWindowInDays"] <= 30
        assert re.fullmatch(r"[A-Za-z0-9/_+=.@-]+", i["name"]), "Secrets Manager name characters"
    role = stack_run.one(IAM_ROLE).inputs
    errors += api_errors(
        "iam",
        "CreateRole",
        {
            "RoleName": role["name"],
            "AssumeRolePolicyDocument": role["assumeRolePolicy"],
            "Description": role["description"],
            "Tags": [{"Key": k, "Value": v} for k, v in role["tags"].items()],
        },
    )
    policy = stack_run.one(IAM_ROLE_POLICY).inputs
    errors += api_errors(
        "iam",
        "PutRolePolicy",
        {"RoleName": policy["role"], "PolicyName": policy["name"], "PolicyDocument": policy["policy"]},
    )
    for key in (k.inputs for k in stack_run.of_type(KMS_KEY)):
        errors += api_errors(
            "kms",
            "CreateKey",
            {
                "Description": key["description"],
                "Tags": [{"TagKey": k, "TagValue": v} for k, v in key["tags"].items()],
            },
        )
        errors += api_errors(
            "kms", "ScheduleKeyDeletion", {"KeyId": "k", "PendingWindowInDays": key["deletionWindowInDays"]}
        )
        assert 7 <= key["deletionWindowInDays"] <= 30, "KMS: a pending window of 7 to 30 days"
        assert key["enableKeyRotation"] is True
    for alias in (a.inputs for a in stack_run.of_type(KMS_ALIAS)):
        errors += api_errors("kms", "CreateAlias", {"AliasName": alias["name"], "TargetKeyId": "k"})
        assert alias["name"].startswith("alias/") and not alias["name"].startswith("alias/aws/")
    assert errors == []


def test_api_constraint_check_is_live() -> None:
    """The AWS model check rejects a role name over 64 characters and an illegal alias."""
    assert api_errors("iam", "CreateRole", {"RoleName": "r" * 65, "AssumeRolePolicyDocument": "{}"})
    assert api_errors("kms", "CreateAlias", {"AliasName": "alias/bad name", "TargetKeyId": "k"})


@pytest.mark.parametrize("stack", STACKS)
def test_deleted_secrets_and_keys_are_recoverable_for_the_stacks_window(
    stack_runs: dict[str, Run], stack: str
) -> None:
    """Each stack's deleted secrets and keys can be recovered for its `recoveryWindowInDays`; in a
    production-grade stack, whatever its name, that is 30 days."""
    window = settings_of(stack).config.recovery_window_in_days
    assert window == 30 or stack not in PRODUCTION_GRADE
    run = stack_runs[stack]
    assert run.of_type(SM_SECRET)
    for s in run.of_type(SM_SECRET):
        assert s.inputs["recoveryWindowInDays"] == window
    assert run.of_type(KMS_KEY)
    for key in run.of_type(KMS_KEY):
        assert key.inputs["deletionWindowInDays"] == window, key.name


def test_a_protected_stack_protects_key_and_secrets_but_not_what_rotation_replaces(
    stack_runs: dict[str, Run],
) -> None:
    """In a stack with `protect: true` (every production-grade one) `pulumi destroy` cannot delete a
    key or a secret; the others stay disposable. Passwords and versions stay unprotected, or a
    rotation (a replacement) would be refused."""
    grades = {stack: settings_of(stack).config.protect for stack in stack_runs}
    assert {True, False} <= set(grades.values()), "the stack files show both"
    for stack, protected in grades.items():
        assert protected or stack not in PRODUCTION_GRADE
        for r in stack_runs[stack].resources:
            if r.type in (KMS_KEY, SM_SECRET, TRAIL, S3_BUCKET):  # a declared trail's logs are kept too
                assert r.protect is protected, (stack, r.name)
            else:
                assert r.protect is False, (stack, r.name)


def test_environments_share_nothing(stack_runs: dict[str, Run]) -> None:
    """No two stacks share a namespace, secret name, key, role or trust."""

    def names(run: Run) -> set[str]:
        out = {run.exports["namespace"], run.exports["kmsKeyArn"], run.exports["operatorRoleArn"]}
        out |= {s.inputs["name"] for s in run.of_type(SM_SECRET)}
        out.add(run.one(KMS_ALIAS, "-secrets-key-alias").inputs["name"])
        out.add(trust_policy(run)["Statement"][0]["Principal"]["Federated"])
        return out

    assert len(stack_runs) >= 2
    for one, other in itertools.combinations(stack_runs.values(), 2):
        assert names(one) and not names(one) & names(other), (one.stack, other.stack)
        assert not set(read_policy(one)["Statement"][0]["Resource"]) & set(
            read_policy(other)["Statement"][0]["Resource"]
        )
    for run in stack_runs.values():
        for obj in manifests(run):
            if obj["kind"] in ADMISSION_KINDS:  # cluster-scoped: named after the namespace
                assert obj["metadata"]["name"] == admission_policy(run.exports["namespace"])
            elif obj["kind"] != "Namespace":
                assert obj["metadata"]["namespace"] == run.exports["namespace"]


def test_namespace_enforces_restricted_pod_security(stack_run: Run) -> None:
    """Pod Security Admission `restricted` is enforced on the namespace."""
    labels = manifest(stack_run, "Namespace")["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (("runAsNonRoot",), True),
        (("allowPrivilegeEscalation",), False),
        (("readOnlyRootFilesystem",), True),
        (("capabilities", "drop"), ["ALL"]),
        (("privileged",), False),
    ],
)
@each_workload
def test_each_workloads_container_is_hardened(
    stack_run: Run, consumer: Consumer, path: tuple[str, ...], expected: Any
) -> None:
    """Each workload's container runs non-root, read-only, unprivileged, with no capability."""
    deployment = workload_manifest(stack_run, consumer.name, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    value: Any = container["securityContext"]
    for part in path:
        value = value[part]
    assert value == expected


@each_workload
def test_each_workloads_pod_has_seccomp_resources_and_probes(stack_run: Run, consumer: Consumer) -> None:
    """seccomp RuntimeDefault, requests and limits, liveness and readiness probes are all set, the
    probes on the paths its stack file gives (the documented `/health` unless set)."""
    workload = load_stack_config(stack_run.stack).get(f"ai-etl:{consumer.name}", {})
    pod = workload_manifest(stack_run, consumer.name, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    assert set(container["resources"]) == {"requests", "limits"}
    assert container["livenessProbe"]["httpGet"]["path"] == workload.get("livenessPath", "/health")
    assert container["readinessProbe"]["httpGet"]["path"] == workload.get("readinessPath", "/health")


@each_workload
def test_each_workloads_pods_mount_no_api_token(stack_run: Run, consumer: Consumer) -> None:
    """The kubelet resolves secretKeyRef; a workload itself needs no API token, so has none."""
    pod = workload_manifest(stack_run, consumer.name, "Deployment")["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False


# The documented defaults (docs/configuration.md, the keys table) of the ports a workload talks on.
WORKLOAD_PORT = 8000
DATABASE_PORTS = {"database": 5432, "redis": 6379}


@each_workload
def test_network_policy_admits_only_what_each_workload_needs(stack_run: Run, consumer: Consumer) -> None:
    """Its HTTP port in; DNS, HTTPS and the databases whose URLs it reads out (the backend:
    Postgres and Redis); for its own pods only."""
    config = load_stack_config(stack_run.stack)

    def port(name: str, default: int) -> int:
        return int(config.get(f"ai-etl:{name}", {}).get("port", default))

    policy = workload_manifest(stack_run, consumer.name, "NetworkPolicy")
    deployment = workload_manifest(stack_run, consumer.name, "Deployment")
    spec = policy["spec"]
    assert spec["podSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    assert spec["policyTypes"] == ["Ingress", "Egress"]
    assert spec["ingress"] == [{"ports": [{"protocol": "TCP", "port": port(consumer.name, WORKLOAD_PORT)}]}]
    ports = {(p["protocol"], p["port"]) for rule in spec["egress"] for p in rule["ports"]}
    connections = {str(s.connection) for s in CATALOGUE if s.connection and s.key in reads(consumer)}
    databases = {("TCP", port(c, DATABASE_PORTS[c])) for c in connections}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443)} | databases
    if consumer.name == "backend":
        assert databases == {("TCP", 5432), ("TCP", 6379)}


def test_an_oidc_provider_arn_that_is_not_the_clusters_is_refused_before_anything_is_declared() -> None:
    """STS looks the OIDC provider up in the role's own account: a provider of another account or
    cluster passes every schema and fails only when the operator first authenticates. A stack that
    still states `oidcProviderArn` must state the one its cluster trusts; the fix removes it."""
    declared: list = []
    stated = "arn:aws:iam::222222222222:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/OTHER"
    with pytest.raises(ConfigError) as raised:
        run_stack("production", overrides={"ai-etl:oidcProviderArn": stated}, registrations=declared)
    message = str(raised.value)
    assert (
        f"oidcProviderArn: is {stated}, but cluster 'ai-etl-production' trusts arn:aws:iam::222222222222:"
        in (message)
    )
    assert "fix: pulumi config rm oidcProviderArn --stack production" in message
    assert "nothing was declared" in message and declared == []


def test_kms_via_service_names_the_partitions_endpoint() -> None:
    """In aws-cn, Secrets Manager is `secretsmanager.<region>.amazonaws.com.cn` (botocore's
    partitions): a condition on `...amazonaws.com` would never match, and decryption would fail."""
    run = run_stack("dev", overrides={"aws:region": "cn-north-1"})
    assert trust_policy(run)["Statement"][0]["Principal"]["Federated"].startswith("arn:aws-cn:iam::")
    (_, decrypt) = read_policy(run)["Statement"]
    assert decrypt["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.cn-north-1.amazonaws.com.cn"}
    }


def test_an_oidc_provider_of_another_partition_is_refused() -> None:
    """A cluster in `aws` cannot vouch for a role in `aws-cn`: the mismatch is a config error."""
    with pytest.raises(
        ConfigError, match="is in partition 'aws', but aws:region 'cn-north-1' is in 'aws-cn'"
    ):
        run_stack(
            "dev",
            overrides={
                "aws:region": "cn-north-1",
                "ai-etl:oidcProviderArn": (
                    "arn:aws:iam::111111111111:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X"
                ),
            },
        )


def test_no_secret_name_ends_like_an_arn_suffix(stack_run: Run) -> None:
    """AWS CreateSecret: a name must not end in a hyphen and six characters, which partial-ARN
    lookups would take for the random suffix AWS appends."""
    for secret in stack_run.of_type(SM_SECRET):
        assert not re.search(r"-[A-Za-z0-9]{6}$", secret.inputs["name"]), secret.inputs["name"]


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_with_a_replica_region_keeps_an_encrypted_replica_of_every_secret_there(
    stack_runs: dict[str, Run], stack: str
) -> None:
    """The recovery window does not survive the loss of a region: a stack with a `replicaRegion`
    (every production-grade one) replicates every secret there, each replica under a
    customer-managed key of that region (created by the stack's own provider there, not the
    AWS-managed `aws/secretsmanager` key); a stack without one keeps no replica."""
    run, replica = stack_runs[stack], settings_of(stack).config.replica_region
    assert replica or stack not in PRODUCTION_GRADE
    if not replica:
        assert not [s for s in run.of_type(SM_SECRET) if s.inputs.get("replicas")]
        assert not [k for k in run.of_type(KMS_KEY) if k.name.endswith("-replica-key")]
        return
    key = run.one(KMS_KEY, "-replica-key")
    assert key.inputs["region"] == replica and key.protect is settings_of(stack).config.protect
    assert key.outputs["arn"].startswith(f"arn:aws:kms:{replica}:")
    alias = run.one(KMS_ALIAS, "-replica-key-alias")
    assert alias.inputs["region"] == replica and alias.inputs["targetKeyId"] == key.outputs["keyId"]
    for secret in run.of_type(SM_SECRET):
        assert secret.inputs["replicas"] == [{"region": replica, "kmsKeyId": key.outputs["keyId"]}]
        assert secret.inputs["forceOverwriteReplicaSecret"] is False


@pytest.mark.parametrize(
    ("value", "problem", "fix"),
    [
        (
            "us-east-1",
            "is aws:region (us-east-1)",
            "pulumi config set replicaRegion '<replica region>' --stack production",
        ),
        (
            "us-west-9",
            "'us-west-9' is not an AWS region; did you mean us-west-2?",
            "replicaRegion '<replica region>'",
        ),
        ("cn-north-1", "Secrets Manager replicates within a partition", "replicaRegion '<replica region>'"),
    ],
)
def test_a_replica_region_that_cannot_hold_a_replica_is_refused(value: str, problem: str, fix: str) -> None:
    with pytest.raises(ConfigError) as raised:
        run_stack("production", overrides={"ai-etl:replicaRegion": value})
    assert problem in str(raised.value) and fix in str(raised.value)


def test_a_production_grade_stack_without_a_replica_region_is_refused() -> None:
    with pytest.raises(ConfigError, match="replicaRegion: is required in a production-grade stack"):
        run_stack("production", remove=("ai-etl:replicaRegion",))
