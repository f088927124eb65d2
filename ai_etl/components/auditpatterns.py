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
from dataclasses import dataclass
from typing import Any, TypedDict

READ_EVENTS = ("GetSecretValue", "BatchGetSecretValue")
"""Secrets Manager's calls that return secret values."""
PATTERN_LIMIT = 2048
"""EventBridge's default event pattern size, in characters."""
CLOUDTRAIL = "AWS API Call via CloudTrail"

# What silences an alert path, by service: a rule (disabled, deleted, re-patterned, untargeted), a
# topic (deleted, its policy or key changed, a subscription removed or filtered to nothing), a
# dead-letter queue (deleted, purged, its policy or permissions changed), an alarm (deleted, muted,
# redefined, forced to OK), a key (disabled, scheduled for deletion, its policy replaced) and a role
# (who may assume it: the expected readers' and the forwarding role's). CloudTrail's request field
# names follow each API's members (requestParameters in camelCase). A service added here that
# FIELD does not scope is watched on any resource, by the tamper path. And what lets reads go unseen,
# watched on the access path (by the tamper rules): the trail the alerts see reads through (stopped,
# deleted, changed, its selectors replaced), a replica in another region, the secrets' region deny
# replaced or removed.
TAMPER_EVENTS = {
    "events": ("DisableRule", "DeleteRule", "PutRule", "RemoveTargets", "PutTargets"),
    "sns": (
        "DeleteTopic",
        "SetTopicAttributes",
        "RemovePermission",
        "Unsubscribe",
        "SetSubscriptionAttributes",
    ),
    "sqs": ("DeleteQueue", "SetQueueAttributes", "PurgeQueue", "RemovePermission"),
    "monitoring": ("DeleteAlarms", "DisableAlarmActions", "PutMetricAlarm", "SetAlarmState"),
    "kms": ("DisableKey", "ScheduleKeyDeletion", "PutKeyPolicy", "DisableKeyRotation"),
    # A quiet role's trust or permissions changed, or the role deleted and made again under its name
    # (its sessions' issuer ARN, which the read rule excludes, stays the same).
    "iam": (
        "UpdateAssumeRolePolicy",
        "PutRolePolicy",
        "DeleteRolePolicy",
        "AttachRolePolicy",
        "DetachRolePolicy",
        "DeleteRole",
        "CreateRole",
    ),
    "cloudtrail": ("StopLogging", "DeleteTrail", "UpdateTrail", "PutEventSelectors", "PutInsightSelectors"),
    "secretsmanager": (
        "ReplicateSecretToRegions",
        "RemoveRegionsFromReplication",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
    ),
    # The cluster audit's source: its metric filter and the log group EKS writes the audit log to
    # (CloudWatch Logs API reference: DeleteMetricFilter, PutMetricFilter, DeleteLogGroup,
    # PutRetentionPolicy take logGroupName), and the cluster's logging switch (EKS API reference,
    # UpdateClusterConfig: name, logging).
    "logs": ("DeleteMetricFilter", "PutMetricFilter", "DeleteLogGroup", "PutRetentionPolicy"),
    "eks": ("UpdateClusterConfig",),
}
# The request field naming the resource, per service (each API reference's request members), and
# the calls that name it by another: a rule's targets by `rule`, a subscription by its ARN
# (`<topic ARN>:<id>`), one alarm by `alarmName`, where DeleteAlarms takes `alarmNames`.
FIELD = {"events": "name", "sns": "topicArn", "sqs": "queueUrl", "monitoring": "alarmNames", "kms": "keyId",
         "iam": "roleName", "cloudtrail": "name", "secretsmanager": "secretId", "logs": "logGroupName",
         "eks": "name"}  # fmt: skip
BY_OTHER_FIELD = {
    ("events", "RemoveTargets"): "rule",
    ("events", "PutTargets"): "rule",
    ("sns", "Unsubscribe"): "subscriptionArn",
    ("sns", "SetSubscriptionAttributes"): "subscriptionArn",
    ("monitoring", "PutMetricAlarm"): "alarmName",
    ("monitoring", "SetAlarmState"): "alarmName",
    # CloudTrail API reference: StopLogging, DeleteTrail, UpdateTrail take `Name`; PutEventSelectors
    # and PutInsightSelectors `TrailName`; each the trail's name or its ARN.
    ("cloudtrail", "PutEventSelectors"): "trailName",
    ("cloudtrail", "PutInsightSelectors"): "trailName",
}
KEY_ID_LENGTH = 36
"""A KMS key id: a UUID, or `mrk-` and 32 hex digits for a multi-Region key (KMS developer guide,
"Key identifiers"): the same length either way, so a pattern's size is known before the keys exist."""


@dataclass(frozen=True)
class Watched:
    """One alert path's resources as the calls that would silence it name them, all but the keys'
    ids known before anything exists: rules and alarms by name (exactly, or by a prefix no other
    path's names start with), the topic and its subscriptions by the topic's name inside their ARNs,
    the queue by the end of its URL (a caller may write any of SQS's endpoint forms before it)."""

    rules: tuple[str | dict[str, str], ...]
    topic: str
    queue: str
    alarms: tuple[str | dict[str, str], ...]
    key_ids: tuple[str, ...]
    roles: tuple[str, ...] = ()
    """Role names whose trust or policy matters to this path (IAM's calls name a role by name)."""
    trail: str | None = None
    """The trail the access alerts see reads through, by name: a change to it alerts."""
    secret_prefixes: tuple[str, ...] = ()
    """The secrets' name prefix and each region's ARN prefix: a replication or resource-policy
    change to one of them alerts (SecretId names a secret by name or ARN)."""
    cluster: tuple[str, str] | None = None
    """The cluster whose audit log the cluster audit reads, and that log group: turning the log off,
    or changing the group or the filter, alerts."""
    anything_else: bool = False
    """Also every call of a service FIELD does not scope, on anything (the tamper path's duty)."""


TAMPER = "-tamper"
"""What the tamper path's names add to the access path's: no access path name starts with it."""
WATCH = "-watch"
"""What the access path's watchers' names add (rules `<name>-watch`, `<name>-watch-2`...)."""
STAND_IN_KEY_ID = "0" * KEY_ID_LENGTH
"""A key id's stand-in, for sizing a pattern before the keys exist."""


def access_path(
    name: str,
    key_ids: Sequence[str],
    roles: Sequence[str],
    trail: str | None = None,
    secret_prefixes: Sequence[str] = (),
    cluster: tuple[str, str] | None = None,
) -> Watched:
    """The access path of the audit `name`, as the tamper rules watch it: its rules (the read rule
    `name`, the watchers `name-watch`...), topic, queue, alarms and key; with the secrets' key
    (`key_ids`: the audit's, the secrets') and the quiet roles; and what no path owns."""
    alarms = (
        f"{name}-failed",
        f"{name}-undelivered",
        f"{name}-notifications-failed",
        f"{name}-cluster",
        {"prefix": name + WATCH},
    )
    rules = (name, {"prefix": name + WATCH})
    return Watched(
        rules,
        name,
        f"{name}-undelivered",
        alarms,
        tuple(key_ids),
        tuple(roles),
        trail,
        tuple(secret_prefixes),
        cluster,
        anything_else=True,
    )


def tamper_path(name: str, key_ids: Sequence[str], roles: Sequence[str]) -> Watched:
    """The tamper path of the audit `name`, as the access path's watchers watch it: everything named
    `name-tamper*`, its key, and the forwarding role (`roles`)."""
    mine = ({"prefix": name + TAMPER},)
    return Watched(mine, name + TAMPER, f"{name}{TAMPER}-undelivered", mine, tuple(key_ids), tuple(roles))


def _scopes(w: Watched) -> dict[str, dict[str, list[Any]]]:
    """Per service, the request field naming this path's resource, and what it matches."""
    return {
        "events": {"name": list(w.rules), "rule": list(w.rules)},
        # A topic's ARN ends in `:<name>`; a subscription's is `<topic ARN>:<id>` (SNS API
        # reference, Subscribe: SubscriptionArn). Wildcard matching: EventBridge user guide,
        # "Content filtering in event patterns".
        "sns": {"topicArn": [{"suffix": f":{w.topic}"}], "subscriptionArn": [{"wildcard": f"*:{w.topic}:*"}]},
        "sqs": {"queueUrl": [{"suffix": f"/{w.queue}"}]},
        "monitoring": {"alarmNames": list(w.alarms), "alarmName": list(w.alarms)},
        # These calls name the key by id or by ARN (AWS KMS API reference, DisableKey,
        # ScheduleKeyDeletion, PutKeyPolicy, DisableKeyRotation: KeyId), both ending in its id.
        "kms": {"keyId": [{"suffix": key_id} for key_id in w.key_ids]},
        "iam": {"roleName": list(w.roles)},
        # By name or by ARN, which ends in `:trail/<name>` (CloudTrail API reference, Trail: TrailARN).
        "cloudtrail": dict.fromkeys(
            ("name", "trailName"), [w.trail, {"suffix": f":trail/{w.trail}"}] if w.trail else []
        ),
        "secretsmanager": {"secretId": [{"prefix": p} for p in w.secret_prefixes]},
        "logs": {"logGroupName": [w.cluster[1]] if w.cluster else []},
        "eks": {"name": [w.cluster[0]] if w.cluster else []},
    }


def watch_clauses(w: Watched) -> list[dict[str, Any]]:
    """One `$or` branch per service and request field: a call that would silence the path `w`."""
    scopes = _scopes(w)
    clauses: list[dict[str, Any]] = []
    for service, calls in TAMPER_EVENTS.items():
        source: dict[str, Any] = {"eventSource": [f"{service}.amazonaws.com"]}
        if service not in FIELD:
            clauses += [source | {"eventName": list(calls)}] if w.anything_else else []
            continue
        fields: dict[str, list[str]] = {}
        for call in calls:
            fields.setdefault(BY_OTHER_FIELD.get((service, call), FIELD[service]), []).append(call)
        clauses += [
            source | {"eventName": names, "requestParameters": {field: scopes[service][field]}}
            for field, names in fields.items()
            if scopes[service][field]  # no role to watch: nothing to match
        ]
    return clauses


def packed(clauses: Sequence[dict[str, Any]], limit: int = PATTERN_LIMIT) -> list[list[int]]:
    """The clauses' indices, in order, grouped so that each group's pattern fits in `limit`: one
    rule per group. A clause too long alone still gets a group (PutRule then refuses it, loudly)."""
    groups: list[list[int]] = []
    for i in range(len(clauses)):
        if groups and len(compact(watch_pattern([clauses[j] for j in [*groups[-1], i]]))) <= limit:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def watch_pattern(clauses: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The EventBridge pattern of any of these calls, as CloudTrail records it."""
    detail: dict[str, Any] = dict(clauses[0]) if len(clauses) == 1 else {"$or": list(clauses)}
    return {"detail-type": [CLOUDTRAIL], "detail": detail}


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


SECRET_SUFFIX = len("-AbCdEf")
"""What Secrets Manager appends to a secret's name in its ARN: a hyphen and six random characters."""


def secret_ids(arn: str) -> tuple[str, str]:
    """The prefixes that catch every way a caller may name one secret of another owner (RDS's
    master user secret) given its ARN: its name, and its ARN without the random suffix, which
    covers the complete ARN and the partial one (Secrets Manager API reference, GetSecretValue,
    SecretId: "The ARN or name of the secret", a partial ARN being the ARN without its suffix)."""
    partial = arn[:-SECRET_SUFFIX]
    return partial.split(":secret:", 1)[1], partial


def compact(pattern: dict[str, Any]) -> str:
    """A pattern as PutRule takes it, without the spaces that count against its size."""
    return json.dumps(pattern, separators=(",", ":"))


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
    management", compatibility with AWS services: EventBridge and CloudWatch alarms publishing to an
    encrypted topic need kms:GenerateDataKey* and kms:Decrypt in the key policy).

    CloudWatch's grant holds only on this account's behalf (`aws:SourceAccount`), the
    confused-deputy guard. EventBridge's cannot carry it: AWS documents that the KMS request
    EventBridge makes to deliver to an encrypted topic carries no `aws:SourceAccount`,
    `aws:SourceArn` or `aws:SourceOrgID`, so such a condition would drop every alert, silently
    (aws/modern-data-architecture-accelerator, cloudwatch-constructs `grantCloudWatchAlarmsTopicAccess`,
    which conditions the CloudWatch grant and warns against conditioning EventBridge's). What
    EventBridge may publish is held instead by each topic's policy (topic_policy: these rules'
    ARNs only); the key encrypts alerts, no secret."""
    grant = {"Effect": "Allow", "Action": ["kms:GenerateDataKey*", "kms:Decrypt"], "Resource": "*"}
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
            {"Sid": "EventBridgeEncryptsAlerts", "Principal": {"Service": "events.amazonaws.com"}, **grant},
            {
                "Sid": "CloudWatchEncryptsAlarmsOfThisAccount",
                "Principal": {"Service": "cloudwatch.amazonaws.com"},
                **grant,
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


def forwarding_trust() -> dict[str, Any]:
    """EventBridge may assume the role that forwards tamper alerts to the audit bus (EventBridge user
    guide, "Sending and receiving events between AWS accounts": the sending rule's target names a
    role in the sender's account)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgeForwardsTamperAlerts",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def forwarding_policy(bus_arn: str) -> dict[str, Any]:
    """The forwarding role may put events on the audit bus, and nothing else; the bus's own policy
    (in the security account) must let this account put them there."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ForwardToTheAuditBus",
                "Effect": "Allow",
                "Action": "events:PutEvents",
                "Resource": bus_arn,
            }
        ],
    }


class AlarmRule(TypedDict):
    period: int
    evaluation_periods: int
    threshold: float
    comparison_operator: str
    treat_missing_data: str


ON_ANY = AlarmRule(
    period=300,
    evaluation_periods=1,
    threshold=1,
    comparison_operator="GreaterThanOrEqualToThreshold",
    treat_missing_data="notBreaching",
)
"""How every alarm of the audit fires (MetricAlarm's arguments): on one event in five minutes; no
data (nothing happened) is no alarm."""
