"""The access audit's documents as plain values: the EventBridge patterns (a read of the secrets, a
change to the audit itself) and the policies of its topic, queue and key. Tested without Pulumi.

Read APIs: of Secrets Manager's actions (API reference, "Actions"), two return secret values:
`GetSecretValue` and `BatchGetSecretValue` (up to 20 secrets by `SecretIdList`, or every secret a
`Filters` list selects, by name, tag, description or region). CloudTrail records a batch as one
`BatchGetSecretValue` event whose `requestParameters` carry `secretIdList` or `filters`, and a
`GetSecretValue` entry per secret returned (API reference, BatchGetSecretValue: "Secrets Manager
generates CloudTrail GetSecretValue log entries for each secret you request"). A filter can select
this stack's secrets without naming them (a tag, a description), so any batch by filter alerts.

EventBridge takes a pattern of 2048 characters by default (EventBridge user guide, "Amazon
EventBridge quotas", Event pattern size; adjustable to 4096), and terraform-provider-aws refuses a
longer one at plan time (internal/service/events/rule.go, validateEventPatternValue; issue 33732).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

READ_EVENTS = ("GetSecretValue", "BatchGetSecretValue")
"""Secrets Manager's calls that return secret values."""
PATTERN_LIMIT = 2048
"""EventBridge's default event pattern size, in characters."""
CLOUDTRAIL = "AWS API Call via CloudTrail"

# What silences the alert path, by service: the rule (disabled, deleted, re-patterned, untargeted),
# the topic (deleted, its policy or key changed, a subscription removed), the dead-letter queue, the
# alarms and the keys (disabled, scheduled for deletion, their policy replaced); and, watched by a
# rule of their own (perimeter_pattern), what lets reads go unseen: the trail the alerts see reads
# through (stopped, deleted, changed, its selectors replaced), a replica elsewhere, the region deny
# replaced or removed. CloudTrail's request field names follow each API's members
# (requestParameters in camelCase).
TAMPER_EVENTS = {
    "events": ("DisableRule", "DeleteRule", "PutRule", "RemoveTargets", "PutTargets"),
    "sns": ("DeleteTopic", "SetTopicAttributes", "RemovePermission", "Unsubscribe"),
    "sqs": ("DeleteQueue", "SetQueueAttributes", "PurgeQueue"),
    "monitoring": ("DeleteAlarms", "DisableAlarmActions", "PutMetricAlarm"),
    "kms": ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "DisableKeyRotation"),
    "cloudtrail": ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors"),
    "secretsmanager": (
        "ReplicateSecretToRegions",
        "RemoveRegionsFromReplication",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
    ),
}
TRAIL_BY_NAME = ("StopLogging", "DeleteTrail", "UpdateTrail")
"""The trail calls whose request names the trail `name`; the others name it `trailName` (CloudTrail
API reference, StopLogging, DeleteTrail, UpdateTrail: Name; PutEventSelectors, PutInsightSelectors:
TrailName), by its name or its ARN."""


def access_pattern(
    name_prefix: str, arn_prefixes: Sequence[str], expected_readers: Sequence[str]
) -> dict[str, Any]:
    """The EventBridge pattern of a read of one of the environment's secrets by anyone else.

    A caller names a secret by name or by ARN (of the primary or of a replica: `arn_prefixes`), one
    at a time (`secretId`) or in a batch (`secretIdList`), or selects secrets by `filters`. A role's
    session is matched on its issuer (the role's ARN); anything but a role (an IAM user, the account
    root) always matches, as a rule only matches fields an event has. Each `$or` stays within one
    object (the caller's, the call's), so no pattern key is shared between two of them."""
    ids = [{"prefix": name_prefix}, *({"prefix": p} for p in arn_prefixes)]
    issuer = {"sessionIssuer": {"arn": [{"anything-but": list(expected_readers)}]}}
    get, batch = READ_EVENTS
    return {
        "source": ["aws.secretsmanager"],
        "detail-type": [CLOUDTRAIL],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": list(READ_EVENTS),
            "userIdentity": {
                "$or": [{"type": [{"anything-but": "AssumedRole"}]}, {"sessionContext": issuer}],
            },
            # A batch without an id list selected its secrets by filter: an empty `secretIdList`
            # leaf matches `exists: false` (EventBridge user guide, "Exists matching").
            "$or": [
                {"eventName": [get], "requestParameters": {"secretId": ids}},
                {"eventName": [batch], "requestParameters": {"secretIdList": ids}},
                {"eventName": [batch], "requestParameters": {"secretIdList": [{"exists": False}]}},
            ],
        },
    }  # fmt: skip


def compact(pattern: dict[str, Any]) -> str:
    """A pattern as PutRule takes it, without the spaces that count against its size."""
    return json.dumps(pattern, separators=(",", ":"))


def tamper_pattern(name: str, topic_arn: str, queue_url: str, key_ids: Sequence[str]) -> dict[str, Any]:
    """The EventBridge pattern of a change that would silence the alert path of one region: `name`
    prefixes the names of its rules and alarms."""
    named = [{"prefix": name}]

    def call(service: str, names: Sequence[str], **request: Any) -> dict[str, Any]:
        found: dict[str, Any] = {"eventSource": [f"{service}.amazonaws.com"], "eventName": list(names)}
        return found | ({"requestParameters": request} if request else {})

    events, sns, sqs, kms = (TAMPER_EVENTS[s] for s in ("events", "sns", "sqs", "kms"))
    return {
        "detail-type": [CLOUDTRAIL],
        "detail": {
            "$or": [
                call("events", [n for n in events if n not in ("RemoveTargets", "PutTargets")], name=named),
                call("events", ["RemoveTargets", "PutTargets"], rule=named),
                call("sns", [n for n in sns if n != "Unsubscribe"], topicArn=[topic_arn]),
                call("sns", ["Unsubscribe"], subscriptionArn=[{"prefix": f"{topic_arn}:"}]),
                call("sqs", sqs, queueUrl=[queue_url]),
                call("monitoring", ["DeleteAlarms", "DisableAlarmActions"], alarmNames=named),
                call("monitoring", ["PutMetricAlarm"], alarmName=named),
                # These calls name the key by id or by ARN (AWS KMS API reference, DisableKey,
                # ScheduleKeyDeletion, PutKeyPolicy, DisableKeyRotation: KeyId), both ending in its id.
                call("kms", kms, keyId=[{"suffix": key_id} for key_id in key_ids]),
            ]
        },
    }  # fmt: skip


def perimeter_pattern(secret_prefixes: Sequence[str], trail: str | None) -> dict[str, Any]:
    """The EventBridge pattern of a change that would let reads go unseen: a secret replicated to
    another region or its resource policy (the region deny) replaced, by name or ARN (SecretId,
    `secret_prefixes`: the name prefix and each region's ARN prefix); the trail the alerts see reads
    through stopped, deleted or changed, by its name or its ARN, which ends in `:trail/<name>`
    (CloudTrail API reference, Trail: TrailARN). A rule of its own: with the tamper rule's calls it
    would pass EventBridge's pattern size (PATTERN_LIMIT)."""
    found: list[dict[str, Any]] = [
        {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": list(TAMPER_EVENTS["secretsmanager"]),
            "requestParameters": {"secretId": [{"prefix": p} for p in secret_prefixes]},
        }
    ]
    if trail:
        named = [trail, {"suffix": f":trail/{trail}"}]
        for field in ("name", "trailName"):
            calls = [n for n in TAMPER_EVENTS["cloudtrail"] if (n in TRAIL_BY_NAME) == (field == "name")]
            found.append(
                {
                    "eventSource": ["cloudtrail.amazonaws.com"],
                    "eventName": calls,
                    "requestParameters": {field: named},
                }
            )
    return {"detail-type": [CLOUDTRAIL], "detail": {"$or": found}}


def topic_policy(topic_arn: str, rule_arns: Sequence[str], alarm_arns: Sequence[str]) -> dict[str, Any]:
    """Only these rules, through EventBridge, and these alarms, through CloudWatch, may publish."""

    def publish(sid: str, service: str, sources: Sequence[str]) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sns:Publish",
            "Resource": topic_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": list(sources)}},
        }

    return {
        "Version": "2012-10-17",
        "Statement": [
            publish("EventBridgePublishesAccessAlerts", "events.amazonaws.com", rule_arns),
            publish("CloudWatchPublishesAlertPathAlarms", "cloudwatch.amazonaws.com", alarm_arns),
        ],
    }


def queue_policy(queue_arn: str, rule_arns: Sequence[str]) -> dict[str, Any]:
    """EventBridge may leave an undeliverable alert in the dead-letter queue, for these rules only
    (EventBridge user guide, "Using dead-letter queues to process undelivered events")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeKeepsUndeliveredAlerts",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": list(rule_arns)}},
            }
        ],
    }


def audit_key_policy(partition: str, account: str) -> dict[str, Any]:
    """The audit key's policy: KMS's default (the account's IAM policies decide), and the services
    that publish to a topic under it may make and open its data keys (SNS developer guide, "Key
    management": EventBridge and CloudWatch alarms publishing to an encrypted topic need
    kms:GenerateDataKey* and kms:Decrypt in the key policy), on this account's behalf only: the
    grant holds when `aws:SourceAccount` is this account (the confused-deputy guard the EventBridge
    user guide asks of a key it uses, "Authorizing EventBridge to use a customer managed key"; the
    IAM user guide, "AWS global condition context keys": a service calling another service for a
    resource's owner carries the owner's account in `aws:SourceAccount`)."""
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
            {
                "Sid": "AlertPublishersEncrypt",
                "Effect": "Allow",
                "Principal": {"Service": ["events.amazonaws.com", "cloudwatch.amazonaws.com"]},
                "Action": ["kms:GenerateDataKey*", "kms:Decrypt"],
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
        ],
    }


def protocol_of(endpoint: str) -> str:
    """The SNS protocol of an alert destination: an email address, an https URL, or an SQS queue's or
    a Lambda function's ARN (SNS API reference, Subscribe: Protocol)."""
    if endpoint.startswith("https://"):
        return "https"
    if endpoint.startswith("arn:"):
        return endpoint.split(":")[2]  # arn:<partition>:sqs|lambda:...
    return "email"
