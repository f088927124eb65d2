"""AWS Secrets Manager: the environment's own KMS key, and one secret per catalogue entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.catalogue import SecretSpec


@dataclass(frozen=True)
class SecretsManagerArgs:
    prefix: str
    """`ai-etl-<stack>`: names the key's alias."""
    names: Mapping[str, str]
    """Secrets Manager name by catalogue key (`ai-etl/<stack>/<key>`)."""
    catalogue: tuple[SecretSpec, ...]
    values: Mapping[str, pulumi.Input[str]]
    """Secret value by catalogue key."""
    recovery_window_in_days: int
    protect: bool
    """Protect the key and the secrets from deletion (production)."""
    tags: Mapping[str, str]


class SecretsManager(pulumi.ComponentResource):
    """Every secret of the catalogue in Secrets Manager, encrypted with this environment's key."""

    kms_key_arn: pulumi.Output[str]
    """ARN of the environment's customer-managed KMS key."""
    secret_arns: dict[str, pulumi.Output[str]]
    """Secret ARN (with AWS's random suffix) by catalogue key."""
    version_ids: dict[str, pulumi.Output[str]]
    """Id of the current version by catalogue key: changes with every new value, never secret."""

    def __init__(self, name: str, args: SecretsManagerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("ai-etl:secretsmanager:SecretsManager", name, None, opts)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the {args.prefix} secrets in Secrets Manager",
            enable_key_rotation=True,
            deletion_window_in_days=args.recovery_window_in_days,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.kms.Alias(
            f"{name}-key-alias",
            name=f"alias/{args.prefix}-secrets",
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.kms_key_arn = key.arn
        self.secret_arns = {}
        self.version_ids = {}
        for spec in args.catalogue:
            secret = aws.secretsmanager.Secret(
                f"{name}-{spec.key}",
                name=args.names[spec.key],
                description=spec.description,
                kms_key_id=key.arn,
                recovery_window_in_days=args.recovery_window_in_days,
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            # Not protected: a new value replaces the version, which protection would block.
            version = aws.secretsmanager.SecretVersion(
                f"{name}-{spec.key}-value",
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(args.values[spec.key]),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.secret_arns[spec.key] = secret.arn
            # A version id names a value without revealing it; unsecret keeps it usable in names.
            self.version_ids[spec.key] = pulumi.Output.unsecret(version.version_id)
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "secret_arns": self.secret_arns,
                "version_ids": self.version_ids,
            }
        )
