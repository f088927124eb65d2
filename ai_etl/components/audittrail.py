"""The trail the access alerts see reads through, when the stack asks the program for one
(`auditTrail: declare`): multi-region, logging every management event (reads included), with
log-file validation, into an S3 bucket of its own that is encrypted, versioned and not public.

The bucket's policy follows the CloudTrail user guide ("Amazon S3 bucket policy for CloudTrail"):
CloudTrail checks the bucket's ACL and writes under `AWSLogs/<account>/`, for this trail only
(`aws:SourceArn`), with the owner's full control; anything over plain HTTP is refused. CreateTrail
checks that policy, so the trail waits for it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ai_etl.tokens import TRAIL_COMPONENT

CLOUDTRAIL = "cloudtrail.amazonaws.com"


def trail_bucket_policy(bucket_arn: str, trail_arn: str, account: str) -> dict[str, Any]:
    """CloudTrail may deliver this trail's log files to the bucket, and nothing reaches it in clear."""
    this_trail = {"aws:SourceArn": trail_arn}
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "CloudTrailChecksTheAcl",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "s3:GetBucketAcl",
                "Resource": bucket_arn,
                "Condition": {"StringEquals": this_trail},
            },
            {
                "Sid": "CloudTrailWritesItsLogs",
                "Effect": "Allow",
                "Principal": {"Service": CLOUDTRAIL},
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/AWSLogs/{account}/*",
                "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **this_trail}},
            },
            {
                "Sid": "OnlyOverTls",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


@dataclass(frozen=True)
class AuditTrailArgs:
    trail_name: str
    trail_arn: str
    """Its ARN, known before it exists (the bucket policy names it)."""
    account: str
    protect: bool
    """Protect the trail and its bucket from deletion, as the secrets are."""
    tags: Mapping[str, str]


class AuditTrail(pulumi.ComponentResource):
    """A multi-region trail with log-file validation -> an encrypted, versioned, private S3 bucket."""

    trail_arn: pulumi.Output[str]
    """The trail's ARN."""

    def __init__(self, name: str, args: AuditTrailArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TRAIL_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        kept = pulumi.ResourceOptions(parent=self, protect=args.protect)
        tags = dict(args.tags)
        # A name made by the provider (the logical name and a random suffix): bucket names are global.
        bucket = aws.s3.Bucket(f"{name}-logs", force_destroy=False, tags=tags, opts=kept)
        private = aws.s3.BucketPublicAccessBlock(
            f"{name}-logs-private",
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        # SSE-S3: CloudTrail writes with no key grant (SSE-KMS would need one in the key's policy).
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-logs-encryption",
            bucket=bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm="AES256"
                    )
                )
            ],
            opts=child,
        )
        # An overwritten or deleted log file stays as an older version; validation tells which.
        aws.s3.BucketVersioning(
            f"{name}-logs-versioning",
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
        policy = aws.s3.BucketPolicy(
            f"{name}-logs-policy",
            bucket=bucket.id,
            policy=bucket.arn.apply(
                lambda arn: json.dumps(trail_bucket_policy(arn, args.trail_arn, args.account))
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[private]),
        )
        trail = aws.cloudtrail.Trail(
            f"{name}-trail",
            name=args.trail_name,
            s3_bucket_name=bucket.id,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_log_file_validation=True,
            enable_logging=True,
            event_selectors=[
                aws.cloudtrail.TrailEventSelectorArgs(include_management_events=True, read_write_type="All")
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, depends_on=[policy]),
        )
        self.trail_arn = trail.arn
        self.register_outputs({"trail_arn": self.trail_arn})
