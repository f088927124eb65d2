"""Access audit, in one region: an alert on every read of the environment's secrets by anyone but the
expected roles, and on any change that would silence that alert, by a second path.

CloudTrail records each `GetSecretValue` as a read-only management event; EventBridge hands such
events to a rule only in state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS` (EventBridge user
guide, "Receiving read-only management events from AWS services"), only in the region of the call,
and only while a trail with logging on exists in the account ("Events from AWS services"). So each
region holding the secrets (the primary, the replica region) has its own audit.

Two paths, each with its own key, topic, dead-letter queue and alarms (ai_etl/components/alertpath.py):
the access path carries the read alerts; the tamper path carries the alerts about changes to the
access path (and to the secrets' key and the expected roles). Each path's rules, targets, topic,
subscriptions, queue, alarms and key are watched by a rule on the other path, and each path's alarms
publish to the other's topic: no single call silences a path and the alert about it. Optionally the
watchers' alerts are also forwarded to an event bus in a security account (`auditBus`). What would
let reads go unseen (the trail, a replica in another region, a secret's resource policy) is watched
as part of the access path, by the tamper rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from functools import partial

import pulumi
import pulumi_aws as aws

from ai_etl.components.alertpath import Delivery, Metric, Path, alarm, declare_path, policies
from ai_etl.components.auditpatterns import (
    STAND_IN_KEY_ID,
    TAMPER,
    WATCH,
    Watched,
    access_path,
    access_pattern,
    compact,
    packed,
    tamper_path,
    watch_clauses,
    watch_pattern,
)
from ai_etl.tokens import ALL_MANAGEMENT_EVENTS, AUDIT_COMPONENT

RULE_STATE = ALL_MANAGEMENT_EVENTS
RETRY_SECONDS = 86_400
"""How long EventBridge retries an alert before keeping it in the dead-letter queue (its maximum;
terraform-provider-aws internal/service/events/target.go, retry_policy)."""
RETRY_ATTEMPTS = 185
"""EventBridge's maximum retry attempts (same source)."""


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
    more_alarm_arns: Sequence[str] = ()
    """Alarms of other components that publish to the access topic (the cluster audit's)."""
    trail_name: str | None = None
    """The trail the alerts see reads through: stopping or changing it alerts (on the tamper path)."""
    cluster: tuple[str, str] | None = None
    """The EKS cluster whose audit log the cluster audit reads, and that log group: turning the log
    off, or changing the group or the cluster audit's filter, alerts (on the tamper path)."""
    secret_endpoints: frozenset[str] = frozenset()
    """Those of `endpoints` that are secrets (an https URL carrying credentials): SNS gets them as
    secret Outputs, so the engine encrypts them in the state and no preview shows them."""
    watched_roles: Sequence[str] = ()
    """Names of the roles whose reads raise nothing (the operator's, the expected readers'): a change
    to who may assume them, or what they may do, alerts on the tamper path."""
    bus_arn: str | None = None
    """An event bus (in a security account) the watchers' alerts are forwarded to, too."""
    bus_role_arn: pulumi.Input[str] | None = None
    """The role EventBridge assumes to put them there (ai_etl/components/auditbus.py)."""
    bus_role_name: str | None = None
    """Its name: a change to it alerts on the access path."""


@dataclass(frozen=True)
class _Rule:
    tail: str
    """What its name adds to the audit's (`""`, `-tamper`, `-tamper-2`, `-watch`): its target's,
    alarm's and logical names follow it, so the first rules keep the names they always had."""
    rule: aws.cloudwatch.EventRule
    path: Path
    """The path its alerts travel (its target's topic, its dead-letter queue)."""


class AccessAudit(pulumi.ComponentResource):
    """The access path (read rule and watch rules -> its topic) and the tamper path (tamper rules ->
    its topic), each under its own key with a dead-letter queue and alarms to the other's topic."""

    topic_arn: pulumi.Output[str]
    """The topic the read alerts go to: subscribe more endpoints to it."""
    tamper_topic_arn: pulumi.Output[str]
    """The topic the alerts about the access path go to: the same endpoints are subscribed to it."""

    def __init__(self, name: str, args: AccessAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(AUDIT_COMPONENT, name, None, opts)
        n = args.name
        delivery = Delivery(n, args.key_alias, args.region, args.endpoints, args.secret_endpoints,
                            args.recovery_window_in_days, args.protect, args.tags)  # fmt: skip
        tampered = replace(delivery, name=n + TAMPER, key_alias=args.key_alias + TAMPER)
        access = declare_path(self, name, delivery, args.key_policy)
        tamper = declare_path(self, name + TAMPER, tampered, args.key_policy)
        readers = pulumi.Output.all(args.operator_role_arn, *args.expected_readers)
        read = aws.cloudwatch.EventRule(
            f"{name}-rule",
            region=args.region,
            name=n,
            description=f"A read of {args.secret_name_prefix}* by anyone but the expected roles",
            state=RULE_STATE,
            event_pattern=readers.apply(
                lambda arns: compact(access_pattern(args.secret_name_prefix, args.secret_arn_prefixes, arns))
            ),
            tags=dict(args.tags),
            opts=pulumi.ResourceOptions(parent=self),
        )

        # The tamper path watches the access path, the secrets' key and the quiet roles; the access
        # path's watchers watch the tamper path and the forwarding role.
        bus_role = (args.bus_role_name,) if args.bus_role_name else ()
        watching_access = partial(
            access_path,
            n,
            roles=args.watched_roles,
            trail=args.trail_name,
            secret_prefixes=(args.secret_name_prefix, *args.secret_arn_prefixes),
            cluster=args.cluster,
        )
        watching_tamper = partial(tamper_path, n, roles=bus_role)
        rules = [
            _Rule("", read, access),
            *self._watchers(
                name, TAMPER, tamper, args, watching_access, [access.key.arn, args.secrets_key_arn]
            ),
            *self._watchers(name, WATCH, access, args, watching_tamper, [tamper.key.arn]),
        ]

        def other(path: Path) -> Path:
            return tamper if path is access else access

        published: dict[str, list[aws.cloudwatch.MetricAlarm]] = {access.name: [], tamper.name: []}

        def report(path: Path, alarm_name: str, what: str, metric: Metric) -> None:
            """An alarm on `path`, to the other path's topic; its logical name follows its name."""
            to = other(path)
            published[to.name].append(alarm(self, name + alarm_name[len(n) :], alarm_name, what, metric, to))

        for r in rules:
            self._targets(name, args, r)
            failed = Metric("AWS/Events", "FailedInvocations", {"RuleName": r.rule.name}, "Sum")
            report(r.path, f"{n}{r.tail}-failed", f"An alert of {n} was not delivered", failed)
        for path in (access, tamper):
            queue, topic = {"QueueName": path.queue.name}, {"TopicName": path.topic.name}
            kept = Metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum")
            report(path, f"{path.name}-undelivered", f"An alert of {n} was not delivered", kept)
            # SNS counts each message it gave up delivering to a subscriber (SNS developer guide,
            # "Monitoring Amazon SNS topics using CloudWatch": NumberOfNotificationsFailed, by TopicName).
            lost = Metric("AWS/SNS", "NumberOfNotificationsFailed", topic, "Sum")
            report(path, f"{path.name}-notifications-failed", f"An alert of {path.name} reached no one", lost)
        for path in (access, tamper):
            policies(
                self,
                path,
                [r.rule for r in rules if r.path is path],
                published[path.name],
                args.more_alarm_arns if path is access else (),
            )
        self.topic_arn = access.topic.arn
        self.tamper_topic_arn = tamper.topic.arn
        self.register_outputs({"topic_arn": self.topic_arn, "tamper_topic_arn": self.tamper_topic_arn})

    def _watchers(
        self,
        name: str,
        tail: str,
        path: Path,
        args: AccessAuditArgs,
        watched: Callable[[Sequence[str]], Watched],
        key_arns: Sequence[pulumi.Input[str]],
    ) -> list[_Rule]:
        """The rules reporting a change to what `watched` names, as many as EventBridge's pattern size
        needs (auditpatterns.packed), each publishing to `path`. How many is known before the keys
        exist: a key's id has one length (auditpatterns.KEY_ID_LENGTH)."""
        groups = packed(watch_clauses(watched([STAND_IN_KEY_ID] * len(key_arns))))

        def pattern(arns: list[str], group: list[int]) -> str:
            clauses = watch_clauses(watched([arn.rsplit("/", 1)[1] for arn in arns]))
            return compact(watch_pattern([clauses[i] for i in group]))

        watched_path = args.name if tail == TAMPER else args.name + TAMPER
        made = []
        for i, group in enumerate(groups):
            numbered = tail if i == 0 else f"{tail}-{i + 1}"
            rule = aws.cloudwatch.EventRule(
                f"{name}{numbered}-rule",
                region=args.region,
                name=args.name + numbered,
                description=f"A change that would silence the alerts of {watched_path}",
                state="ENABLED",
                event_pattern=pulumi.Output.all(*key_arns).apply(partial(pattern, group=group)),
                tags=dict(args.tags),
                opts=pulumi.ResourceOptions(parent=self),
            )
            made.append(_Rule(numbered, rule, path))
        return made

    def _targets(self, name: str, args: AccessAuditArgs, r: _Rule) -> None:
        """The rule's path's topic, and the audit bus if the stack names one; each retrying for a day,
        then kept in the path's dead-letter queue. Target ids of our own, rather than the provider's
        random ones, name the targets in `aws events list-targets-by-rule` and never change."""
        to: list[tuple[str, str, pulumi.Input[str], pulumi.Input[str] | None]] = [
            ("target", "alert-topic", r.path.topic.arn, None)
        ]
        if args.bus_arn and r.tail:  # the watchers' alerts only: reads stay in the account
            to.append(("bus-target", "audit-bus", args.bus_arn, args.bus_role_arn))
        for suffix, target_id, arn, role in to:
            aws.cloudwatch.EventTarget(
                f"{name}{r.tail}-{suffix}",
                region=args.region,
                rule=r.rule.name,
                target_id=target_id,
                arn=arn,
                role_arn=role,
                dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=r.path.queue.arn),
                retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                    maximum_event_age_in_seconds=RETRY_SECONDS, maximum_retry_attempts=RETRY_ATTEMPTS
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
