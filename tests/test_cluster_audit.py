"""The alarm on reads in the cluster (ai_etl/components/clusteraudit.py): its metric filter against
Kubernetes audit records, its log group against the one EKS writes, its alarm into the access
audit's topic.

The records are `audit.k8s.io/v1` Events as the API server writes them, field for field after
kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/apis/audit/v1/types.go (Event,
ObjectReference, with their JSON names; omitempty fields left out when empty, as the encoder does),
and the filter is evaluated by tests/logfilter.py: moto has no TestMetricFilter and matches any
message against a JSON pattern (getmoto/moto moto/logs/utils.py), so it cannot be the receiver here;
the PutMetricFilter call is held to the API's model instead (botocore's, as tests/test_access.py does).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from ai_etl import names
from ai_etl.components.clusteraudit import PATTERN_LIMIT, audit_log_filter
from ai_etl.eks import audit_log_group
from ai_etl.offline.records import Run
from ai_etl.tokens import GET_EKS_CLUSTER, LOG_METRIC_FILTER, METRIC_ALARM, SNS_TOPIC, SNS_TOPIC_POLICY
from tests.helpers import PRODUCTION_GRADE, manifest, manifests
from tests.logfilter import PatternError, compile_pattern
from tests.test_access import api_errors

STACK = PRODUCTION_GRADE[0]
_ids = itertools.count()


def audit_event(
    verb: str,
    username: str,
    resource: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
    code: int = 200,
) -> dict[str, Any]:
    """One audit record at the Metadata level (EKS's for Secrets and token requests), stage
    ResponseComplete, for a core-group resource."""
    path = f"/api/v1{f'/namespaces/{namespace}' if namespace else ''}/{resource}"
    path += f"/{name}" if name else ""
    path += f"/{subresource}" if subresource else ""
    ref = {
        "resource": resource,
        "namespace": namespace,
        "name": name,
        "apiVersion": "v1",
        "subresource": subresource,
    }
    return {
        "kind": "Event",
        "apiVersion": "audit.k8s.io/v1",
        "level": "Metadata",
        "auditID": f"00000000-0000-0000-0000-{next(_ids):012d}",
        "stage": "ResponseComplete",
        "requestURI": path,
        "verb": verb,
        "user": {"username": username, "groups": ["system:authenticated"]},
        "sourceIPs": ["192.0.2.10"],
        "userAgent": "kubectl/v1.33.0 (linux/amd64) kubernetes/0000000",
        "objectRef": {k: v for k, v in ref.items() if v},
        "responseStatus": {"metadata": {}, "code": code},
        "requestReceivedTimestamp": "2026-01-01T00:00:00.000000Z",
        "stageTimestamp": "2026-01-01T00:00:00.010000Z",
    }


@pytest.fixture(scope="module")
def run(stack_runs: dict[str, Run]) -> Run:
    return stack_runs[STACK]


def test_the_filter_alerts_on_secret_reads_and_token_requests_by_anyone_else(run: Run) -> None:
    """Every read of the namespace's Secrets (get, list, watch; in the namespace or across every
    namespace; allowed or refused) by anyone but the operator, the kubelets, the control plane and
    the program's workloads and rotation steps counts, and so does a token request for the
    SecretStore's ServiceAccount by anyone but the operator (refused by the admission policy, still
    seen). Writes, other namespaces, other resources and other ServiceAccounts' tokens do not."""
    (metric_filter,) = run.of_type(LOG_METRIC_FILTER)
    match = compile_pattern(metric_filter.inputs["pattern"])
    ns = manifest(run, "Namespace")["metadata"]["name"]
    sa = names.OPERATOR_SERVICE_ACCOUNT

    def user(account: str, namespace: str = ns) -> str:
        return names.service_account_user(namespace, account)

    secret = "ai-etl-backend-secrets-0123456789"
    pods = [m for m in manifests(run) if m["kind"] in ("Deployment", "Job")]
    workloads = [m["spec"]["template"]["spec"]["serviceAccountName"] for m in pods]
    assert len(workloads) >= 3
    expected_readers = [
        names.OPERATOR_USER,
        "system:node:ip-10-0-1-23.ec2.internal",
        "system:kube-controller-manager",
        "system:serviceaccount:kube-system:generic-garbage-collector",
        *(user(w) for w in workloads),
    ]
    anyone_else = ["alice", user("default"), user(sa), user("ai-etl-backend", "elsewhere")]
    for verb in ("get", "list", "watch"):
        one = secret if verb == "get" else None  # a list or watch names no object
        for who in expected_readers:
            assert not match(audit_event(verb, who, "secrets", ns, one)), (verb, who)
        for who in anyone_else:
            assert match(audit_event(verb, who, "secrets", ns, one)), (verb, who)
            assert match(audit_event(verb, who, "secrets", ns, one, code=403)), (verb, who)
        assert match(audit_event(verb, "alice", "secrets")), verb  # kubectl get secrets -A
        assert not match(audit_event(verb, "alice", "secrets", "elsewhere", one)), verb
        assert not match(audit_event(verb, "alice", "configmaps", ns, one)), verb
    for verb in ("create", "update", "patch", "delete"):
        assert not match(audit_event(verb, "alice", "secrets", ns, secret)), verb

    def token(who: str, account: str = sa, namespace: str = ns) -> dict[str, Any]:
        return audit_event("create", who, "serviceaccounts", namespace, account, "token", code=403)

    assert not match(token(names.OPERATOR_USER))
    for who in ("alice", user("ai-etl-backend"), "system:node:ip-10-0-1-23.ec2.internal"):
        assert match(token(who)), who
    assert not match(token("alice", "ai-etl-backend"))
    assert not match(token("alice", sa, "elsewhere"))
    assert not match(audit_event("get", "alice", "serviceaccounts", ns, sa))


def test_the_filter_reads_the_log_group_eks_writes_and_alarms_into_the_alert_topic(run: Run) -> None:
    """The filter is on `/aws/eks/<the looked-up cluster>/cluster`; its metric's alarm goes to the
    access audit's topic (the primary region's, where the cluster is), and the topic's policy lets
    that alarm publish, as it does the audit's own alarms."""
    (metric_filter,) = run.of_type(LOG_METRIC_FILTER)
    cluster = run.answer(GET_EKS_CLUSTER)["name"]
    assert metric_filter.inputs["logGroupName"] == audit_log_group(cluster) == f"/aws/eks/{cluster}/cluster"
    transformation = metric_filter.inputs["metricTransformation"]
    assert transformation["value"] == "1"
    (alarm,) = [a for a in run.of_type(METRIC_ALARM) if a.inputs["metricName"] == transformation["name"]]
    assert alarm.inputs["namespace"] == transformation["namespace"]
    assert (alarm.inputs["statistic"], alarm.inputs["threshold"]) == ("Sum", 1)
    assert alarm.inputs["comparisonOperator"] == "GreaterThanOrEqualToThreshold"
    primary = [t for t in run.of_type(SNS_TOPIC) if not t.inputs.get("region")]
    (topic,) = [t for t in primary if t.inputs["name"] == names.audit_name(STACK)]
    assert alarm.inputs["alarmActions"] == [topic.outputs["arn"]]
    (policy,) = [
        json.loads(p.inputs["policy"])
        for p in run.of_type(SNS_TOPIC_POLICY)
        if p.inputs["arn"] == topic.outputs["arn"]
    ]
    allowed = next(
        s for s in policy["Statement"] if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    )
    assert alarm.outputs["arn"] in allowed["Condition"]["ArnEquals"]["aws:SourceArn"]
    # The tamper rule watches alarms by name prefix: this one is under it.
    assert alarm.inputs["name"].startswith(names.audit_name(STACK))
    # The call the provider makes holds to CloudWatch Logs' API model (lengths, the name patterns).
    assert api_errors("logs", "PutMetricFilter", {
        "logGroupName": metric_filter.inputs["logGroupName"], "filterName": metric_filter.inputs["name"],
        "filterPattern": metric_filter.inputs["pattern"],
        "metricTransformations": [{"metricName": transformation["name"],
                                   "metricNamespace": transformation["namespace"],
                                   "metricValue": transformation["value"]}]}) == []  # fmt: skip


def test_the_filter_fits_cloudwatch_logs_for_the_longest_namespace() -> None:
    """The pattern's length depends on the namespace only (the workloads are one wildcard): at the
    longest namespace Kubernetes allows (63 characters), it still fits PutMetricFilter's 1,024. And
    the evaluator is strict: a pattern that leaned on an unstated precedence would be refused."""
    ns = "n" * 63
    pattern = audit_log_filter(
        ns,
        names.service_account_user(ns, names.OPERATOR_SERVICE_ACCOUNT),
        names.OPERATOR_USER,
        names.service_account_user(ns, names.workload("*")),
    )
    assert len(pattern) <= PATTERN_LIMIT == 1024
    compile_pattern(pattern)
    with pytest.raises(PatternError):
        compile_pattern('{ $.a = "x" && $.b = "y" || $.c = "z" }')
