"""The delivery half of one alert path, for ai_etl/components/accessaudit.py: a key of its own, an SNS
topic under it, a dead-letter queue for what EventBridge cannot hand on, the subscriptions, and the
alarms that report a failure of the path (to the *other* path's topic)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ai_etl.components.auditpatterns import ON_ANY, protocol_of, queue_policy, topic_policy

KEPT_SECONDS = 1_209_600
"""14 days, SQS's longest retention: time to notice and replay a kept alert."""


@dataclass(frozen=True)
class Delivery:
    """What one path's alerts travel through (plain values: accessaudit.py's args give them)."""

    name: str
    """The topic's name, and the prefix of the queue's (`<name>-undelivered`)."""
    key_alias: str
    region: str | None
    endpoints: Sequence[str]
    secret_endpoints: frozenset[str]
    recovery_window_in_days: int
    protect: bool
    tags: Mapping[str, str]


@dataclass(frozen=True)
class Path:
    logical: str
    """The prefix of its resources' logical names."""
    delivery: Delivery
    key: aws.kms.Key
    topic: aws.sns.Topic
    queue: aws.sqs.Queue

    @property
    def name(self) -> str:
        return self.delivery.name


def declare_path(parent: pulumi.Resource, logical: str, d: Delivery, key_policy: str | None) -> Path:
    """Key, alias, topic, queue and subscriptions, named `<logical>-key`, `<logical>-topic`... under
    `parent` (the access path keeps the logical names it always had)."""
    child = pulumi.ResourceOptions(parent=parent)
    key = aws.kms.Key(
        f"{logical}-key",
        region=d.region,
        description=f"Encrypts the alerts of {d.name}",
        enable_key_rotation=True,
        deletion_window_in_days=d.recovery_window_in_days,
        policy=key_policy,
        tags=dict(d.tags),
        opts=pulumi.ResourceOptions(parent=parent, protect=d.protect),
    )
    aws.kms.Alias(
        f"{logical}-key-alias", region=d.region, name=d.key_alias, target_key_id=key.key_id, opts=child
    )
    topic = aws.sns.Topic(
        f"{logical}-topic",
        region=d.region,
        name=d.name,
        kms_master_key_id=key.arn,
        tags=dict(d.tags),
        opts=child,
    )
    # SSE-SQS: EventBridge may write to it with no key grant (a customer key would need one).
    queue = aws.sqs.Queue(
        f"{logical}-dead-letters",
        region=d.region,
        name=f"{d.name}-undelivered",
        sqs_managed_sse_enabled=True,
        message_retention_seconds=KEPT_SECONDS,
        tags=dict(d.tags),
        opts=child,
    )
    for i, endpoint in enumerate(d.endpoints):
        # SNS mails (or posts) a confirmation first; nothing is delivered until it is confirmed,
        # and an unconfirmed subscription lapses after 48 hours. The daily watch reports one still
        # pending (ai_etl/ops/watch.py). The first keeps the name it always had.
        aws.sns.TopicSubscription(
            f"{logical}-email" if i == 0 else f"{logical}-endpoint-{i}",
            region=d.region,
            topic=topic.arn,
            protocol=protocol_of(endpoint),
            endpoint=pulumi.Output.secret(endpoint) if endpoint in d.secret_endpoints else endpoint,
            opts=child,
        )
    return Path(logical, d, key, topic, queue)


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: Mapping[str, pulumi.Input[str]]
    statistic: str


def alarm(
    parent: pulumi.Resource, logical: str, name: str, what: str, metric: Metric, to: Path
) -> aws.cloudwatch.MetricAlarm:
    """An alarm on one path, published to the other path's topic (`to`): any failed invocation or
    delivery, any kept alert."""
    return aws.cloudwatch.MetricAlarm(
        logical,
        region=to.delivery.region,
        name=name,
        alarm_description=f"{what}: see docs/security.md",
        namespace=metric.namespace,
        metric_name=metric.name,
        dimensions=dict(metric.dimensions),
        statistic=metric.statistic,
        **ON_ANY,
        alarm_actions=[to.topic.arn],
        tags=dict(to.delivery.tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def policies(
    parent: pulumi.Resource,
    path: Path,
    rules: Sequence[aws.cloudwatch.EventRule],
    alarms: Sequence[aws.cloudwatch.MetricAlarm],
    more_alarm_arns: Sequence[str] = (),
) -> None:
    """Only the path's own rules may publish to its topic and keep alerts in its queue; only the
    other path's alarms (and `more_alarm_arns`, other components' alarms on this path: the cluster
    audit's) may publish to it through CloudWatch."""
    child = pulumi.ResourceOptions(parent=parent)
    aws.sqs.QueuePolicy(
        f"{path.logical}-dead-letters-policy",
        region=path.delivery.region,
        queue_url=path.queue.url,
        policy=pulumi.Output.all(path.queue.arn, *(r.arn for r in rules)).apply(
            lambda a: json.dumps(queue_policy(a[0], a[1:]))
        ),
        opts=child,
    )
    aws.sns.TopicPolicy(
        f"{path.logical}-topic-policy",
        region=path.delivery.region,
        arn=path.topic.arn,
        policy=pulumi.Output.all(path.topic.arn, *(r.arn for r in rules), *(a.arn for a in alarms)).apply(
            lambda a: json.dumps(
                topic_policy(a[0], a[1 : 1 + len(rules)], [*a[1 + len(rules) :], *more_alarm_arns])
            )
        ),
        opts=child,
    )
