"""AWS Secrets Manager: an environment's own KMS key, and one secret (with its value) per entry."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ai_etl.names import ACTIVE_ROLE_TAG, ADOPTED, VALUE_SOURCE_TAG, child, secret_policy, secret_value
from ai_etl.tokens import SECRETS_MANAGER_COMPONENT


def key_policy(partition: str, account: str) -> dict:
    """The environment key's policy: KMS's default, so the account's IAM policies decide and nothing
    is locked out. (The access alerts have a key of their own: ai_etl/components/accessaudit.py.)"""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableIAMUserPermissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
        ],
    }


READ_ACTIONS = ("secretsmanager:GetSecretValue",)
"""What the region deny refuses. A batch needs GetSecretValue on each secret it returns (API
reference, BatchGetSecretValue: "Required permissions"), so denying it refuses batches too;
DescribeSecret returns no value, and the replication status the deploy role reads through it."""


def read_regions_policy(regions: Sequence[str]) -> dict:
    """A secret's resource policy: nobody reads its value from any region but `regions` (the
    primary's and the replica's). A Deny only, so it grants no one anything and locks no one out
    where reads are allowed; Secrets Manager's BlockPublicPolicy refuses only a policy that grants
    broad access (API reference, PutResourcePolicy: BlockPublicPolicy). `aws:RequestedRegion` is
    the region a call is sent to (IAM user guide, "AWS global condition context keys"), and a
    replica gets the primary's resource policy (Secrets Manager user guide, "Replicate secrets
    across Regions": tags and resource policies are replicated), so a replica made in a third region
    cannot be read there either. Calls a service makes itself (replication) are not denied."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadsStayInTheStacksRegions",
                "Effect": "Deny",
                "Principal": "*",
                "Action": list(READ_ACTIONS),
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:RequestedRegion": sorted(regions)},
                    "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
                },
            }
        ],
    }


@dataclass(frozen=True)
class SecretEntry:
    """One secret to store."""

    name: str
    """Its Secrets Manager name."""
    description: str
    value: pulumi.Input[str]
    """Its value; sent to AWS as a secret whatever it is."""
    active_role: str | None = None
    """For a server credential: the login role its value is the password of (tag `ActiveRole`,
    which the offline diff shows)."""
    adopted: bool = False
    """The value was kept from before this program managed it (tag `ValueSource: adopted`)."""


@dataclass(frozen=True)
class StoredSecret:
    """One stored secret: what others need to read it, never its value."""

    name: str
    arn: pulumi.Output[str]
    """Its ARN (with AWS's random suffix)."""
    version_id: pulumi.Output[str]
    """The id of its current value: new with every value, and not secret."""


@dataclass(frozen=True)
class SecretsManagerArgs:
    key_alias: str
    """The KMS key's alias (`alias/<name>`)."""
    key_description: str
    secrets: Mapping[str, SecretEntry]
    """The secrets by key (the key names their child resources)."""
    recovery_window_in_days: int
    """Days a deleted secret, and the key, can be recovered (7 to 30)."""
    protect: bool
    """Protect the key and the secrets from deletion."""
    tags: Mapping[str, str]
    replica_region: str | None = None
    """A second region holding a replica of every secret, under a key of its own there; None for none."""
    key_policy: str | None = None
    """The key's policy (JSON); None for KMS's default."""
    read_regions: Sequence[str] = ()
    """The regions a secret may be read from (read_regions_policy on each); none for no policy."""


class SecretsManager(pulumi.ComponentResource):
    """Secrets in Secrets Manager, each encrypted with the component's own customer-managed key."""

    kms_key_arn: pulumi.Output[str]
    """ARN of the customer-managed KMS key."""
    replica_key_arn: pulumi.Output[str] | None
    """ARN of the replica region's key, if there is a replica region."""
    secrets: dict[str, StoredSecret]
    """Each stored secret by key."""

    def __init__(
        self, name: str, args: SecretsManagerArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(SECRETS_MANAGER_COMPONENT, name, None, opts)
        key = self._key(f"{name}-key", args, args.key_description, policy=args.key_policy)
        self.kms_key_arn = key.arn
        # The replicas' key lives in the replica region: a single-region key of that region (a
        # multi-Region key would need the primary key replaced, as multiRegion forces a new key,
        # hashicorp/terraform-provider-aws internal/service/kms/key.go). pulumi-aws 7 takes the
        # region per resource (terraform-provider-aws 6's `region` argument), so the stack's own
        # provider, with its allowedAccountIds, creates it: no second provider to keep in step.
        replicas: list[aws.secretsmanager.SecretReplicaArgs] = []
        self.replica_key_arn = None
        if args.replica_region:
            description = f"{args.key_description} (replicas in {args.replica_region})"
            replica_key = self._key(f"{name}-replica-key", args, description, region=args.replica_region)
            self.replica_key_arn = replica_key.arn
            # By key id, not ARN: the provider keys each replica by the hash of its kmsKeyId and
            # region, and reads kmsKeyId back as DescribeSecret reports it (terraform-provider-aws
            # internal/service/secretsmanager/secret.go, the `replica` set's hash and
            # flattenReplicationStatusType); a form that reads back otherwise makes every `up`
            # remove the replica (RemoveRegionsFromReplication, which deletes it at once) and add
            # it again. The provider's own replica test declares the key id (secret_test.go,
            # testAccSecretConfig_overwriteReplica), the form its empty-plan check holds stable.
            replicas = [
                aws.secretsmanager.SecretReplicaArgs(
                    region=args.replica_region, kms_key_id=replica_key.key_id
                )
            ]
        self.secrets = {}
        for entry_key, entry in args.secrets.items():
            secret = aws.secretsmanager.Secret(
                child(name, entry_key),
                name=entry.name,
                description=entry.description,
                kms_key_id=key.arn,
                recovery_window_in_days=args.recovery_window_in_days,
                # A replica follows every new value. A secret of the same name already in the
                # replica region stops the replication rather than being overwritten.
                replicas=replicas,
                force_overwrite_replica_secret=False,
                tags={
                    **args.tags,
                    **({ACTIVE_ROLE_TAG: entry.active_role} if entry.active_role else {}),
                    **({VALUE_SOURCE_TAG: ADOPTED} if entry.adopted else {}),
                },
                opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
            )
            if args.read_regions:
                aws.secretsmanager.SecretPolicy(
                    secret_policy(name, entry_key),
                    secret_arn=secret.arn,
                    policy=json.dumps(read_regions_policy(args.read_regions)),
                    block_public_policy=True,
                    opts=pulumi.ResourceOptions(parent=self),
                )
            # Not protected: a new value replaces the version, which protection would block.
            version = aws.secretsmanager.SecretVersion(
                secret_value(name, entry_key),
                secret_id=secret.id,
                secret_string=pulumi.Output.secret(entry.value),
                opts=pulumi.ResourceOptions(parent=self),
            )
            # A version id names a value without revealing it; unsecret keeps it usable in names.
            self.secrets[entry_key] = StoredSecret(
                entry.name, secret.arn, pulumi.Output.unsecret(version.version_id)
            )
        self.register_outputs(
            {
                "kms_key_arn": self.kms_key_arn,
                "secret_arns": {k: s.arn for k, s in self.secrets.items()},
                "version_ids": {k: s.version_id for k, s in self.secrets.items()},
            }
        )

    def _key(
        self,
        name: str,
        args: SecretsManagerArgs,
        description: str,
        region: str | None = None,
        policy: str | None = None,
    ) -> aws.kms.Key:
        """A rotating customer-managed key with the environment's alias, in `region` (None: the
        provider's), protected as the secrets are."""
        key = aws.kms.Key(
            name,
            region=region,
            description=description,
            enable_key_rotation=True,
            deletion_window_in_days=args.recovery_window_in_days,
            policy=policy,
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.kms.Alias(
            f"{name}-alias",
            region=region,
            name=args.key_alias,
            target_key_id=key.key_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return key
