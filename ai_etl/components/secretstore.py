"""An External Secrets Operator SecretStore reading AWS Secrets Manager through IRSA.

Its IAM role trusts the cluster's OIDC provider for exactly one ServiceAccount of the namespace, and
may only read the named secrets (by exact ARN) and decrypt them with one key via Secrets Manager.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from ai_etl.components.externalsecrets import declare, eso_manifest
from ai_etl.components.labels import with_component
from ai_etl.components.outputs import name_of
from ai_etl.tokens import SECRET_STORE_COMPONENT

STS_AUDIENCE = "sts.amazonaws.com"
ROLE_ARN_ANNOTATION = "eks.amazonaws.com/role-arn"
READ_ACTIONS = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")


def trust_policy(oidc_provider_arn: str, issuer: str, namespace: str, service_account: str) -> dict:
    """Who may assume the role: one ServiceAccount's projected token, for the STS audience."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OperatorServiceAccountOnly",
                "Effect": "Allow",
                "Principal": {"Federated": oidc_provider_arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        f"{issuer}:sub": f"system:serviceaccount:{namespace}:{service_account}",
                        f"{issuer}:aud": STS_AUDIENCE,
                    }
                },
            }
        ],
    }


def read_policy(
    secret_arns: Sequence[str],
    kms_key_arn: str,
    secrets_manager_endpoint: str,
    other_kms_key_arns: Sequence[str] = (),
) -> dict:
    """What the role may do: read the named secrets (exact ARNs) and decrypt them via Secrets Manager
    (`secretsmanager.<region>.<the partition's DNS suffix>`, as `kms:ViaService` names it), with the
    environment's key and any other customer managed key a named secret uses (RDS's master user
    secret's, if not `aws/secretsmanager`: that AWS managed key's own policy lets every principal of
    the account use it through Secrets Manager, so it needs no grant here; AWS Secrets Manager User
    Guide, security-encryption, "Key policy of the AWS managed key"; API reference, UpdateSecret
    KmsKeyId: "All users and roles in the AWS account automatically have access to use
    aws/secretsmanager")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadThisEnvironmentsSecrets",
                "Effect": "Allow",
                "Action": list(READ_ACTIONS),
                "Resource": sorted(secret_arns),
            },
            {
                "Sid": "DecryptThroughSecretsManager",
                "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": [kms_key_arn, *other_kms_key_arns] if other_kms_key_arns else kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": secrets_manager_endpoint}},
            },
        ],
    }


def secret_store_manifest(
    name: str,
    namespace: pulumi.Input[str],
    region: str,
    service_account: pulumi.Input[str],
    labels: Mapping[str, str],
) -> dict:
    """The SecretStore: AWS Secrets Manager in `region`, authenticated as the IRSA ServiceAccount."""
    spec = {
        "provider": {
            "aws": {
                "service": "SecretsManager",
                "region": region,
                "auth": {"jwt": {"serviceAccountRef": {"name": service_account}}},
            }
        }
    }
    return eso_manifest("SecretStore", name, namespace, labels, spec)


@dataclass(frozen=True)
class SecretStoreArgs:
    namespace: pulumi.Input[str]
    store_name: str
    """The SecretStore's name, which ExternalSecrets reference."""
    service_account: str
    """The ServiceAccount the operator authenticates as (IRSA)."""
    role_name: str
    role_description: str
    oidc_provider_arn: str
    oidc_issuer: str
    """The issuer (host and path) that the OIDC provider ARN names."""
    region: str
    secrets_manager_endpoint: str
    """Secrets Manager's name in the region, e.g. `secretsmanager.us-east-1.amazonaws.com`."""
    secret_arns: Sequence[pulumi.Input[str]]
    """The secrets the store may read, and only these."""
    kms_key_arn: pulumi.Input[str]
    labels: Mapping[str, str]
    tags: Mapping[str, str]
    other_kms_key_arns: Sequence[str] = ()
    """Customer managed keys of secrets the program does not keep (database.masterSecretKmsKeyArn)."""


class SecretStore(pulumi.ComponentResource):
    """IAM role (trust: one ServiceAccount), its read-only policy, the annotated ServiceAccount, the store."""

    role_arn: pulumi.Output[str]
    """ARN of the role the operator assumes."""
    name: pulumi.Output[str]
    """The SecretStore's name; known once the operator reports it Ready (so the role may read)."""

    def __init__(self, name: str, args: SecretStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(SECRET_STORE_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        labels = with_component(args.labels, "secret-store")
        trust = pulumi.Output.from_input(args.namespace).apply(
            lambda namespace: json.dumps(
                trust_policy(args.oidc_provider_arn, args.oidc_issuer, namespace, args.service_account)
            )
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=args.role_description,
            assume_role_policy=trust,
            tags=dict(args.tags),
            opts=child,
        )
        policy = aws.iam.RolePolicy(
            f"{name}-read",
            name="read-secrets",
            role=role.id,
            policy=pulumi.Output.all(pulumi.Output.all(*args.secret_arns), args.kms_key_arn).apply(
                lambda a: json.dumps(
                    read_policy(a[0], a[1], args.secrets_manager_endpoint, args.other_kms_key_arns)
                )
            ),
            opts=child,
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.service_account,
                "namespace": args.namespace,
                "labels": labels,
                "annotations": {ROLE_ARN_ANNOTATION: role.arn},
            },
            # The operator must not try the role before it may read.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        manifest = secret_store_manifest(
            args.store_name, args.namespace, args.region, name_of(account), labels
        )
        store = declare(name, manifest, child)
        self.role_arn = role.arn
        self.name = name_of(store)
        self.register_outputs({"role_arn": self.role_arn, "name": self.name})
