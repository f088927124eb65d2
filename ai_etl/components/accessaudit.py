"""Access audit, in one region: an alert on every read of the environment's secrets by anyone but the
expected roles, and on any change that would silence that alert.

CloudTrail records each `GetSecretValue` as a read-only management event; EventBridge hands such
events to a rule only in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` (EventBridge user
guide, "Receiving read-only management events from AWS services"), only in the region of the call,
and only while a trail with logging on exists in the account ("Events from AWS services"). So each
region holding the secrets (the primary, the replica region) has its own audit.

The path cannot fail silently: the topic has a key of its own (disabling the secrets' key does not
silence it, and the alert about that reaches someone); an alert EventBridge cannot deliver is
retried for a day and then kept in an encrypted dead-letter queue; an alarm fires on a failed
invocation and on a kept alert; a second rule reports any change to the rules, targets, topic,
subscriptions, queue, alarms and keys; and a third any change that would let reads go unseen (the
trail, a replica in another region, a secret's resource policy).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ai_etl.components.auditpatterns import (
    access_pattern,
    compact,
    perimeter_pattern,
    protocol_of,
    queue_policy,
    tamper_pattern,
    topic_policy,
)
from ai_etl.tokens import ALL_MANAGEMENT_EVENTS, AUDIT_COMPONENT

RULE_STATE = ALL_MANAGEMENT_EVENTS
RETRY_SECONDS = 86_400
"""How long EventBridge retries an alert before keeping it in the dead-letter queue (its maximum;
terraform-provider-aws internal/service/events/target.go, retry_policy)."""
RETRY_ATTEMPTS = 185
"""EventBridge's maximum retry attempts (same source)."""
KEPT_SECONDS = 1_209_600
"""14 days, SQS's longest retention: time to notice and replay a kept alert."""


@dataclass(frozen=True)
class AccessAuditArgs:
    name: str
    """Name of the rules, topic, queue and alarms (`ai-etl-<stack>-secret-access`)."""
    region: str | None
    """The region audited (None: the provider's)."""
    secret_name_prefix: str
    """`ai-etl/<stack>/`: every secret of the environment."""
    secret_arn_prefixes: Sequence[str]
    """`arn:<partition>:secretsmanager:<region>:<account>:secret:ai-etl/<stack>/`, one per region
    holding the secrets (primary and replica)."""
    operator_role_arn: pulumi.Input[str]
    """The External Secrets Operator's role: its reads are the expected ones."""
    expected_readers: Sequence[str]
    """More roles whose reads are expected (a CI deploy role, whose refresh reads every value)."""
    key_policy: str | None
    """The audit key's policy (JSON): EventBridge and CloudWatch may encrypt what they publish
    (auditpatterns.audit_key_policy); None for KMS's default, which lets them not."""
    key_alias: str
    secrets_key_arn: pulumi.Input[str]
    """The key of the secrets in this region: disabling it, or changing its policy, alerts."""
    endpoints: Sequence[str]
    """Where the alerts go: email addresses, https URLs, SQS queue or Lambda function ARNs."""
    recovery_window_in_days: int
    protect: bool
    """Protect the key from deletion, as the secrets' keys are."""
    tags: Mapping[str, str]
    trail_name: str | None = None
    """The trail the alerts see reads through: stopping or changing it alerts (the perimeter rule)."""
    secret_endpoints: frozenset[str] = frozenset()
    """Those of `endpoints` that are secrets (an https URL carrying credentials): SNS gets them as
    secret Outputs, so the engine encrypts them in the state and no preview shows them."""


class AccessAudit(pulumi.ComponentResource):
    """Two EventBridge rules -> an SNS topic under its own key -> the alert destinations; a
    dead-letter queue and two alarms behind them."""

    topic_arn: pulumi.Output[str]
    """The topic the alerts go to: subscribe more endpoints to it."""

    def __init__(self, name: str, args: AccessAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(AUDIT_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        region, tags = args.region, dict(args.tags)
        key = aws.kms.Key(
            f"{name}-key",
            region=region,
            description=f"Encrypts the alerts of {args.name}",
            enable_key_rotation=True,
            deletion_window_in_days=args.recovery_window_in_days,
            policy=args.key_policy,
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )
        aws.kms.Alias(
            f"{name}-key-alias", region=region, name=args.key_alias, target_key_id=key.key_id, opts=child
        )
        topic = aws.sns.Topic(
            f"{name}-topic", region=region, name=args.name, kms_master_key_id=key.arn, tags=tags, opts=child
        )
        # SSE-SQS: EventBridge may write to it with no key grant (a customer key would need one).
        queue = aws.sqs.Queue(
            f"{name}-dead-letters",
            region=region,
            name=f"{args.name}-undelivered",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=KEPT_SECONDS,
            tags=tags,
            opts=child,
        )
        readers = pulumi.Output.all(args.operator_role_arn, *args.expected_readers)
        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            region=region,
            name=args.name,
            description=f"A read of {args.secret_name_prefix}* by anyone but the expected roles",
            state=RULE_STATE,
            event_pattern=readers.apply(
                lambda arns: compact(access_pattern(args.secret_name_prefix, args.secret_arn_prefixes, arns))
            ),
            tags=tags,
            opts=child,
        )
        rules = [rule]
        alarm_names = [f"{args.name}-failed", f"{args.name}-tamper-failed", f"{args.name}-undelivered"]

        def watch(role: str, description: str, pattern: pulumi.Input[str]) -> aws.cloudwatch.EventRule:
            """A rule of changes (ENABLED: write events reach it), `<name>-<role>`, kept in `rules`."""
            watching = aws.cloudwatch.EventRule(
                f"{name}-{role}-rule",
                region=region,
                name=f"{args.name}-{role}",
                description=description,
                state="ENABLED",
                event_pattern=pattern,
                tags=tags,
                opts=child,
            )
            rules.append(watching)
            return watching

        tamper = watch(
            "tamper",
            f"A change that would silence the alerts of {args.name}",
            pulumi.Output.all(topic.arn, queue.url, args.secrets_key_arn, key.arn).apply(
                lambda a: compact(tamper_pattern(args.name, a[0], a[1], [k.rsplit("/", 1)[1] for k in a[2:]]))
            ),
        )
        # Its own rule: with the tamper rule's calls the pattern would pass EventBridge's size.
        perimeter = watch(
            "perimeter",
            f"A change that would let reads of {args.secret_name_prefix}* go unseen",
            compact(perimeter_pattern((args.secret_name_prefix, *args.secret_arn_prefixes), args.trail_name)),
        )
        alarm_names.append(f"{args.name}-perimeter-failed")
        aws.sqs.QueuePolicy(
            f"{name}-dead-letters-policy",
            region=region,
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, *(r.arn for r in rules)).apply(
                lambda a: json.dumps(queue_policy(a[0], a[1:]))
            ),
            opts=child,
        )
        # Target ids of our own, rather than the provider's random ones, name the targets in
        # `aws events list-targets-by-rule` and never change.
        for suffix, source in (("target", rule), ("tamper-target", tamper), ("perimeter-target", perimeter)):
            aws.cloudwatch.EventTarget(
                f"{name}-{suffix}",
                region=region,
                rule=source.name,
                target_id="alert-topic",
                arn=topic.arn,
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=queue.arn),
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=RETRY_SECONDS, maximum_retry_attempts=RETRY_ATTEMPTS
                ),
                opts=child,
            )
        alarms = [
            self._alarm(f"{name}-failed", alarm_names[0], args, topic, "AWS/Events", "FailedInvocations",
                        {"RuleName": rule.name}, "Sum"),
            self._alarm(f"{name}-tamper-failed", alarm_names[1], args, topic, "AWS/Events",
                        "FailedInvocations", {"RuleName": tamper.name}, "Sum"),
            self._alarm(f"{name}-undelivered", alarm_names[2], args, topic, "AWS/SQS",
                        "ApproximateNumberOfMessagesVisible", {"QueueName": queue.name}, "Maximum"),
            self._alarm(f"{name}-perimeter-failed", alarm_names[3], args, topic, "AWS/Events",
                        "FailedInvocations", {"RuleName": perimeter.name}, "Sum"),
        ]  # fmt: skip
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            region=region,
            arn=topic.arn,
            policy=pulumi.Output.all(topic.arn, *(r.arn for r in rules), *(a.arn for a in alarms)).apply(
                lambda a: json.dumps(topic_policy(a[0], a[1 : 1 + len(rules)], a[1 + len(rules) :]))
            ),
            opts=child,
        )
        for i, endpoint in enumerate(args.endpoints):
            # SNS mails (or posts) a confirmation first; nothing is delivered until it is confirmed,
            # and an unconfirmed subscription lapses after 48 hours. The daily watch reports one still
            # pending (ai_etl/ops/watch.py). The first keeps the name it always had.
            aws.sns.TopicSubscription(
                f"{name}-email" if i == 0 else f"{name}-endpoint-{i}",
                region=region,
                topic=topic.arn,
                protocol=protocol_of(endpoint),
                endpoint=pulumi.Output.secret(endpoint) if endpoint in args.secret_endpoints else endpoint,
                opts=child,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})

    def _alarm(
        self,
        name: str,
        alarm_name: str,
        args: AccessAuditArgs,
        topic: aws.sns.Topic,
        namespace: str,
        metric: str,
        dimensions: Mapping[str, pulumi.Input[str]],
        statistic: str,
    ) -> aws.cloudwatch.MetricAlarm:
        """An alarm on the alert path, to the topic: any failed invocation, any kept alert."""
        return aws.cloudwatch.MetricAlarm(
            name,
            region=args.region,
            name=alarm_name,
            alarm_description=f"An alert of {args.name} was not delivered: see docs/security.md",
            namespace=namespace,
            metric_name=metric,
            dimensions=dict(dimensions),
            statistic=statistic,
            period=300,
            evaluation_periods=1,
            threshold=1,
            comparison_operator="GreaterThanOrEqualToThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic.arn],
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
