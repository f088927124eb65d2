"""The cluster's side of the access audit: an alarm on every read of the environment's Kubernetes
Secrets, and every token request for the operator's ServiceAccount, by anyone but the operator and
the workloads, seen in the cluster's audit log.

EKS writes the audit log (`audit.k8s.io/v1` Event records, one JSON object per log event) to the
cluster's log group (ai_etl/eks.py, audit_log_group). A CloudWatch Logs metric filter counts the
matching records; an alarm on the count publishes to the access audit's topic, the path every other
alert of the environment takes. The filter pattern's grammar is CloudWatch Logs' JSON one (CloudWatch
Logs user guide, "Filter pattern syntax", "Using filter patterns to match terms in JSON log events":
`$.field = "value"`, `!=`, `&&`, `||`, parentheses, `NOT EXISTS`, `*` as a wildcard in a value), at most
1,024 characters (CloudWatch Logs API reference, PutMetricFilter: filterPattern). It uses no regex
(two per pattern at most, same guide).

The record's fields are those of kubernetes/kubernetes
staging/src/k8s.io/apiserver/pkg/apis/audit/v1/types.go (Event, ObjectReference): `verb`,
`user.username`, `objectRef.{resource,namespace,name,subresource}`; `objectRef.namespace` is left out
(omitempty) of a request across every namespace (`kubectl get secrets -A`), which reads this
namespace's Secrets as much as one in it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ai_etl.components.auditpatterns import ON_ANY
from ai_etl.tokens import CLUSTER_AUDIT_COMPONENT

PATTERN_LIMIT = 1024
"""CloudWatch Logs' longest filter pattern, in characters (PutMetricFilter)."""
READ_VERBS = ("get", "list", "watch")
NODES = "system:node:*"
"""Every kubelet (`system:node:<node>`): it reads the Secrets of the pods on its node, no other
(the Node authorizer), to hand them to their containers."""
CONTROL_PLANE = ("system:kube-controller-manager", "system:serviceaccount:kube-system:*")
"""The controllers (the garbage collector and namespace controller list every resource of every
namespace, Secrets included), as themselves or with their own ServiceAccounts in kube-system."""


def _value(text: str) -> str:
    """A quoted value of the grammar (names here hold no quote or backslash)."""
    return f'"{text}"'


def audit_log_filter(namespace: str, store_user: str, operator_user: str, workloads_user: str) -> str:
    """The filter pattern: a read of a Secret in `namespace` (or in every namespace) by anyone but
    the operator, the kubelets, the control plane and the workloads, or a token request for the
    SecretStore's ServiceAccount (`store_user`) by anyone but the operator.

    The workloads are `workloads_user`, a wildcard over the program's ServiceAccounts in the
    namespace (`system:serviceaccount:<namespace>:ai-etl-*`), less the SecretStore's: its token is
    the operator role's, and nothing of the program reads a Secret with it. One wildcard, not a name
    per workload, keeps the pattern's length the same however many workloads the catalogue has."""
    ns = _value(namespace)
    store_name = store_user.rsplit(":", 1)[1]
    verbs = " || ".join(f"$.verb = {_value(v)}" for v in READ_VERBS)
    expected = " && ".join(f"$.user.username != {_value(u)}" for u in (operator_user, NODES, *CONTROL_PLANE))
    workloads = f"($.user.username != {_value(workloads_user)} || $.user.username = {_value(store_user)})"
    read = (
        f'$.objectRef.resource = "secrets" && ({verbs}) && '
        f"($.objectRef.namespace = {ns} || $.objectRef.namespace NOT EXISTS) && {expected} && {workloads}"
    )
    # `create` is the token subresource's one verb (kubernetes/kubernetes
    # pkg/registry/core/serviceaccount/storage/token.go, TokenREST: Create only): no verb test needed.
    token = (
        f'$.objectRef.resource = "serviceaccounts" && $.objectRef.subresource = "token" && '
        f"$.objectRef.namespace = {ns} && $.objectRef.name = {_value(store_name)} && "
        f"$.user.username != {_value(operator_user)}"
    )
    return f"{{ ({read}) || ({token}) }}"


@dataclass(frozen=True)
class ClusterAuditArgs:
    name: str
    """Name of the metric filter, its metric and the alarm (`ai-etl-<stack>-secret-access-cluster`)."""
    log_group: str
    """The cluster's log group, which EKS writes (`/aws/eks/<cluster>/cluster`)."""
    pattern: str
    metric_namespace: str
    topic_arn: pulumi.Input[str]
    """Where the alarm goes: the access audit's topic."""
    tags: Mapping[str, str]


class ClusterAudit(pulumi.ComponentResource):
    """A metric filter on the cluster's audit log and an alarm on its count, to the alert topic."""

    alarm_arn: pulumi.Output[str]
    """The alarm's ARN (the topic's policy lets it publish)."""

    def __init__(self, name: str, args: ClusterAuditArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(CLUSTER_AUDIT_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        aws.cloudwatch.LogMetricFilter(
            f"{name}-filter",
            name=args.name,
            log_group_name=args.log_group,
            pattern=args.pattern,
            metric_transformation=aws.cloudwatch.LogMetricFilterMetricTransformationArgs(
                name=args.name, namespace=args.metric_namespace, value="1"
            ),
            opts=child,
        )
        # No data between reads: missing data is no read. One matching record in five minutes alarms.
        alarm = aws.cloudwatch.MetricAlarm(
            f"{name}-alarm",
            name=args.name,
            alarm_description=f"A read of the environment's Secrets in the cluster ({args.log_group}): "
            "see docs/security.md",
            namespace=args.metric_namespace,
            metric_name=args.name,
            statistic="Sum",
            **ON_ANY,
            alarm_actions=[args.topic_arn],
            tags=dict(args.tags),
            opts=child,
        )
        self.alarm_arn = alarm.arn
        self.register_outputs({"alarm_arn": self.alarm_arn})
