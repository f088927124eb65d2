"""Access audit: an alert on every read of the environment's secrets by anyone but the operator.

CloudTrail records each `GetSecretValue` as a read-only management event; EventBridge hands such
events to a rule only in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` (EventBridge user
guide, "Receiving read-only management events from AWS services"), and only while a trail with
logging on exists in the account ("Events from AWS services": events of detail-type "AWS API Call
via CloudTrail" need one). The rule publishes to an SNS topic encrypted with the environment's key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ai_etl.tokens import ALL_MANAGEMENT_EVENTS, AUDIT_COMPONENT

RULE_STATE = ALL_MANAGEMENT_EVENTS
READ_EVENTS = ("GetSecretValue",)


def access_pattern(name_prefix: str, arn_prefix: str, expected_readers: Sequence[str]) -> dict[str, Any]:
    """The EventBridge pattern of a read of one of the environment's secrets by anyone else.

    The caller names a secret by name or by ARN (`requestParameters.secretId`), hence both prefixes.
    A role's session is matched on its issuer (the role's ARN); anything but a role (an IAM user,
    the account root) always matches, as a rule only matches fields an event has."""
    issuer = {"sessionContext": {"sessionIssuer": {"arn": [{"anything-but": list(expected_readers)}]}}}
    return {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS API Call via CloudTrail"],
        "detail": {
            "eventSource": ["secretsmanager.amazonaws.com"],
            "eventName": list(READ_EVENTS),
            "requestParameters": {"secretId": [{"prefix": name_prefix}, {"prefix": arn_prefix}]},
            "$or": [
                {"userIdentity": {"type": [{"anything-but": "AssumedRole"}]}},
                {"userIdentity": issuer},
            ],
        },
    }  # fmt: skip


def topic_policy(topic_arn: str, rule_arn: str) -> dict[str, Any]:
    """Only this rule, through EventBridge, may publish to the topic."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EventBridgePublishesAccessAlerts",
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sns:Publish",
                "Resource": topic_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }


@dataclass(frozen=True)
class AccessAuditArgs:
    name: str
    """Name of the rule and the topic (`ai-etl-<stack>-secret-access`)."""
    secret_name_prefix: str
    """`ai-etl/<stack>/`: every secret of the environment."""
    secret_arn_prefix: str
    """`arn:<partition>:secretsmanager:<region>:<account>:secret:ai-etl/<stack>/`."""
    operator_role_arn: pulumi.Input[str]
    """The External Secrets Operator's role: its reads are the expected ones."""
    expected_readers: Sequence[str]
    """More roles whose reads are expected (a CI deploy role, whose refresh reads every value)."""
    kms_key_arn: pulumi.Input[str]
    """The environment's key, which encrypts the topic (its policy lets EventBridge use it)."""
    email: str | None
    """Where the alerts go, if anywhere yet (an email subscription, confirmed by its recipient)."""
    tags: Mapping[str, str]


class AccessAudit(pulumi.ComponentResource):
    """EventBridge rule -> encrypted SNS topic (-> an email address, if set)."""

    topic_arn: pulumi.Output[str]
    """The topic the alerts go to: subscribe more endpoints to it."""

    def __init__(self, name: str, args: AccessAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(AUDIT_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=args.name,
            kms_master_key_id=args.kms_key_arn,
            tags=dict(args.tags),
            opts=child,
        )
        readers = pulumi.Output.all(args.operator_role_arn, *args.expected_readers)
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            name=args.name,
            description=f"A read of {args.secret_name_prefix}* by anyone but the expected roles",
            state=RULE_STATE,
            event_pattern=readers.apply(
                lambda arns: json.dumps(access_pattern(args.secret_name_prefix, args.secret_arn_prefix, arns))
            ),
            tags=dict(args.tags),
            opts=child,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, rule.arn).apply(
                lambda a: json.dumps(topic_policy(a[0], a[1]))
            ),
            opts=child,
        )
        # A target id of our own, rather than the provider's random one, names the target in
        # `aws events list-targets-by-rule` and never changes.
        aws.cloudwatch.EventTarget(
            f"{name}-target", rule=rule.name, target_id="alert-topic", arn=topic.arn, opts=child
        )
        if args.email:
            # SNS mails a confirmation link; nothing is delivered until it is followed, and an
            # unconfirmed subscription lapses after 48 hours (SNS developer guide, "Deleting a
            # subscription and topic"), after which `pulumi up` subscribes again.
            aws.sns.TopicSubscription(
                f"{name}-email", topic=topic.arn, protocol="email", endpoint=args.email, opts=child
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})
