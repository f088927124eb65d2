"""The External Secrets Operator's access to AWS (IRSA): a ServiceAccount and its IAM role.

The role trusts the cluster's OIDC provider for exactly one ServiceAccount of this namespace, and
may only read this environment's secrets that the backend needs, and decrypt with its key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s

from components.labels import k8s_labels, name_of

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


def read_policy(secret_arns: Sequence[str], kms_key_arn: str, region: str) -> dict:
    """What the role may do: read the named secrets (exact ARNs) and decrypt them via Secrets Manager."""
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
                "Resource": kms_key_arn,
                "Condition": {"StringEquals": {"kms:ViaService": f"secretsmanager.{region}.amazonaws.com"}},
            },
        ],
    }


@dataclass(frozen=True)
class OperatorAccessArgs:
    namespace: pulumi.Input[str]
    service_account: str
    role_name: str
    oidc_provider_arn: str
    oidc_issuer: str
    secret_arns: Mapping[str, pulumi.Input[str]]
    """ARNs of the secrets the operator syncs, by key."""
    kms_key_arn: pulumi.Input[str]
    region: str
    stack: str
    tags: Mapping[str, str]


class OperatorAccess(pulumi.ComponentResource):
    """IRSA for the SecretStore: role, its read-only inline policy, and the annotated ServiceAccount."""

    role_arn: pulumi.Output[str]
    """ARN of the role the operator assumes for this environment."""
    service_account: pulumi.Output[str]
    """Name of the ServiceAccount the SecretStore authenticates as; ready once the role may read."""

    def __init__(self, name: str, args: OperatorAccessArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:operator:OperatorAccess", name, None, opts)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description=f"External Secrets Operator reads the {args.stack} secrets of ai-etl",
            assume_role_policy=pulumi.Output.from_input(args.namespace).apply(
                lambda namespace: json.dumps(
                    trust_policy(args.oidc_provider_arn, args.oidc_issuer, namespace, args.service_account)
                )
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        policy = aws.iam.RolePolicy(
            f"{name}-read",
            name="read-secrets",
            role=role.id,
            policy=pulumi.Output.all(pulumi.Output.all(*args.secret_arns.values()), args.kms_key_arn).apply(
                lambda a: json.dumps(read_policy(a[0], a[1], args.region))
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata={
                "name": args.service_account,
                "namespace": args.namespace,
                "labels": k8s_labels(args.stack, "secret-store"),
                "annotations": {ROLE_ARN_ANNOTATION: role.arn},
            },
            # The operator must not try the role before it may read.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.role_arn = role.arn
        self.service_account = name_of(account)
        self.register_outputs({"role_arn": self.role_arn, "service_account": self.service_account})
