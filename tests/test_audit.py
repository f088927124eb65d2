"""Access audited (issues 10 and 18): a read of the environment's secrets by anyone but the operator
(and the roles the stack expects), by name, by ARN, one at a time or in a batch, in the primary
region or against a replica, reaches someone; so does any change that would silence that alert.

The rendered rules and targets are put on each region's bus of an AWS emulator (moto's server) and
sent CloudTrail records shaped as the AWS documentation shows them (Secrets Manager user guide,
"AWS CloudTrail entries for Secrets Manager": `userIdentity`, `eventSource`, `eventName`,
`awsRegion`, `requestParameters`, `resources`, `readOnly`, `eventType`). AWS inputs are held to
the API models and IAM's grammar."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from ai_etl.components.auditpatterns import PATTERN_LIMIT, TAMPER_EVENTS
from ai_etl.config.settings import ConfigError
from ai_etl.names import operator_role, role_arn, secret_name, secret_prefix
from ai_etl.offline.records import Registration, Run
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.tokens import (
    EVENT_RULE,
    EVENT_TARGET,
    KMS_KEY,
    METRIC_ALARM,
    SM_SECRET,
    SNS_SUBSCRIPTION,
    SNS_TOPIC,
    SNS_TOPIC_POLICY,
    SQS_QUEUE,
    SQS_QUEUE_POLICY,
)
from tests.helpers import PRODUCTION_GRADE, STACKS, STANDARD_GRADE, run_stack, stack_config
from tests.test_access import api_errors, iam_findings

# A production-grade stack, whatever its name: it has a replica region, and alerts must reach someone.
STACK = PRODUCTION_GRADE[0]
ACCOUNT = str(load_stack_config(STACK)["aws:allowedAccountIds"][0])
OPERATOR = role_arn("aws", ACCOUNT, operator_role(STACK))
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-deploy"
INTRUDER = f"arn:aws:iam::{ACCOUNT}:role/intruder"
SECRET = secret_name(STACK, "jwt-secret-key")
STANDARD = STANDARD_GRADE[0]


@pytest.fixture(scope="module")
def audited() -> Run:
    return run_stack(STACK, overrides={"ai-etl:auditExpectedReaders": [CI_ROLE]})


def regions() -> tuple[str, str]:
    config = stack_config(STACK)
    return str(config["aws:region"]), str(config["ai-etl:replicaRegion"])


def in_region(run: Run, token: str, region: str) -> list[Registration]:
    primary = regions()[0]
    return [r for r in run.of_type(token) if (r.inputs.get("region") or primary) == region]


def arn(region: str, name: str = SECRET) -> str:
    return f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{name}-AbCdEf"


def role_session(role_arn: str) -> dict[str, Any]:
    name = role_arn.rsplit("/", 1)[1]
    return {
        "type": "AssumedRole",
        "principalId": f"AROAEXAMPLE:{name}-session",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session",
        "accountId": ACCOUNT,
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role_arn,
                              "accountId": ACCOUNT, "userName": name},
            "attributes": {"creationDate": "2026-11-30T09:00:00Z", "mfaAuthenticated": "false"},
        },
    }  # fmt: skip


USER = {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
        "accountId": ACCOUNT, "userName": "alice"}  # fmt: skip
ROOT = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}


def record(
    region: str, identity: dict[str, Any], name: str, request: dict[str, Any], case: str
) -> dict[str, Any]:
    """A CloudTrail record of a Secrets Manager call, laid out as the user guide's examples."""
    return {
        "eventVersion": "1.09",
        "userIdentity": identity,
        "eventTime": "2026-11-30T09:00:00Z",
        "eventSource": "secretsmanager.amazonaws.com",
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "aws-cli/2.22.0",
        "requestParameters": request,
        "responseElements": None,
        "requestID": "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111",
        "eventID": case,
        "readOnly": True,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management",
    }


def read_cases(region: str) -> dict[str, tuple[dict[str, Any], str, dict[str, Any], bool]]:
    """Each read of the matrix in `region`: (identity, call, request, alerts?)."""
    primary, replica = regions()
    get, batch = "GetSecretValue", "BatchGetSecretValue"
    other = secret_name(next(s for s in STACKS if s != STACK), "jwt-secret-key")
    return {
        "operator by name": (role_session(OPERATOR), get, {"secretId": SECRET}, False),
        "operator by ARN": (role_session(OPERATOR), get, {"secretId": arn(region)}, False),
        "operator batched": (role_session(OPERATOR), batch, {"secretIdList": [SECRET]}, False),
        "CI role refreshing": (role_session(CI_ROLE), get, {"secretId": SECRET}, False),
        "IAM user by name": (USER, get, {"secretId": SECRET}, True),
        "root by name": (ROOT, get, {"secretId": SECRET}, True),
        "another role by name": (role_session(INTRUDER), get, {"secretId": SECRET}, True),
        "another role by ARN": (role_session(INTRUDER), get, {"secretId": arn(primary)}, True),
        "another role by the replica's ARN": (role_session(INTRUDER), get, {"secretId": arn(replica)}, True),
        "batched by id list": (role_session(INTRUDER), batch, {"secretIdList": [other, SECRET]}, True),
        "batched by ARN list": (USER, batch, {"secretIdList": [arn(region)]}, True),
        "batched by filter": (role_session(INTRUDER), batch,
                              {"filters": [{"key": "name", "values": [secret_prefix(STACK)]}]}, True),
        "batched by tag filter": (USER, batch,
                                  {"filters": [{"key": "tag-key", "values": ["Project"]}]}, True),
        "another stack's secret": (USER, get, {"secretId": other}, False),
        "a describe, not a read": (USER, "DescribeSecret", {"secretId": SECRET}, False),
    }  # fmt: skip


@pytest.fixture()
def bus(aws: dict[str, str]) -> Iterator[Any]:
    """A client factory of the emulator's services, by service and region."""

    def client(service: str, region: str) -> Any:
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=aws["AWS_ENDPOINT_URL"],
            aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        )

    yield client


def deliveries(bus: Any, run: Run, region: str, events: dict[str, dict[str, Any]], source: str) -> set[str]:
    """The cases whose event reaches an alert target in `region`: every rendered rule of the region
    put on its bus, with its rendered targets (PutTargets takes them, DLQ and retry policy too); then,
    as moto delivers to SQS targets only (moto/events/models.py, Rule.send_to_targets), an SQS queue
    takes each target's place under the same id, to see what the rule hands on."""
    events_client, sqs = bus("events", region), bus("sqs", region)
    seen = sqs.create_queue(QueueName="seen")["QueueUrl"]
    seen_arn = sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rules = {r.outputs["arn"]: r for r in in_region(run, EVENT_RULE, region)}
    for rule in rules.values():
        events_client.put_rule(Name=rule.inputs["name"], EventPattern=rule.inputs["eventPattern"],
                               State=rule.inputs["state"])  # fmt: skip
    for target in in_region(run, EVENT_TARGET, region):
        given = target.inputs
        rendered = {
            "Id": given["targetId"],
            "Arn": given["arn"],
            "DeadLetterConfig": {"Arn": given["deadLetterConfig"]["arn"]},
            "RetryPolicy": {"MaximumEventAgeInSeconds": given["retryPolicy"]["maximumEventAgeInSeconds"],
                            "MaximumRetryAttempts": given["retryPolicy"]["maximumRetryAttempts"]},
        }  # fmt: skip
        assert events_client.put_targets(Rule=given["rule"], Targets=[rendered])["FailedEntryCount"] == 0
        events_client.remove_targets(Rule=given["rule"], Ids=[given["targetId"]])
        events_client.put_targets(Rule=given["rule"], Targets=[{"Id": given["targetId"], "Arn": seen_arn}])
    for detail in events.values():
        entry = {"Source": source, "DetailType": "AWS API Call via CloudTrail", "Detail": json.dumps(detail)}
        assert events_client.put_events(Entries=[entry])["FailedEntryCount"] == 0
    got: set[str] = set()
    while batch := sqs.receive_message(QueueUrl=seen, MaxNumberOfMessages=10).get("Messages"):
        for message in batch:
            got.add(json.loads(message["Body"])["detail"]["eventID"])
            sqs.delete_message(QueueUrl=seen, ReceiptHandle=message["ReceiptHandle"])
    return got


@pytest.mark.slow  # the emulator's server, a few seconds
def test_every_read_by_anyone_but_the_expected_roles_alerts_in_both_regions(audited: Run, bus: Any) -> None:
    """The matrix: reads by the operator and the CI role raise nothing; reads by a user, the root,
    another role, by name, by ARN (the primary's or the replica's), batched by ids or by a filter,
    raise an alert, in the primary region and in the replica region alike."""
    for region in regions():
        cases = read_cases(region)
        events = {
            case: record(region, who, call, request, case) for case, (who, call, request, _) in cases.items()
        }
        alerted = deliveries(bus, audited, region, events, "aws.secretsmanager")
        assert {case: case in alerted for case in cases} == {case: c[3] for case, c in cases.items()}, region


def tamper_cases(run: Run, region: str) -> dict[str, tuple[dict[str, Any], bool]]:
    """Changes to the region's alert path (and one to something else): CloudTrail records."""
    rule = next(
        r for r in in_region(run, EVENT_RULE, region) if r.name.endswith("-rule") and "tamper" not in r.name
    )
    topic = in_region(run, SNS_TOPIC, region)[0].outputs["arn"]
    queue = in_region(run, SQS_QUEUE, region)[0].outputs["url"]
    alarm = in_region(run, METRIC_ALARM, region)[0].inputs["name"]
    keys = {k.name: k.outputs["arn"] for k in in_region(run, KMS_KEY, region)}
    secrets_key = next(a for n, a in keys.items() if "secrets" in n)
    audit_key = next(a for n, a in keys.items() if "access-audit" in n)

    def call(service: str, name: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"eventSource": f"{service}.amazonaws.com", "eventName": name, "awsRegion": region,
                "userIdentity": USER, "requestParameters": request, "readOnly": False}  # fmt: skip

    name = rule.inputs["name"]
    primary, replica = regions()
    trail = str(stack_config(STACK)["ai-etl:auditTrail"])
    trail_arn = f"arn:aws:cloudtrail:{primary}:{ACCOUNT}:trail/{trail}"
    third = next(r for r in ("eu-central-1", "eu-west-1", "ap-south-1") if r not in regions())
    other = secret_name(next(s for s in STACKS if s != STACK), "jwt-secret-key")
    reads_dropped = {
        "trailName": trail_arn,
        "eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": True}],
    }
    return {
        "trail stopped": (call("cloudtrail", "StopLogging", {"name": trail}), True),
        "trail deleted, by ARN": (call("cloudtrail", "DeleteTrail", {"name": trail_arn}), True),
        "trail made single-region": (
            call("cloudtrail", "UpdateTrail", {"name": trail, "isMultiRegionTrail": False}), True),
        "trail's reads dropped, by ARN": (call("cloudtrail", "PutEventSelectors", reads_dropped), True),
        "trail's insights changed": (
            call("cloudtrail", "PutInsightSelectors", {"trailName": trail, "insightSelectors": []}), True),
        "another trail stopped": (call("cloudtrail", "StopLogging", {"name": "someone-elses-trail"}), False),
        "replicated to a third region": (
            call("secretsmanager", "ReplicateSecretToRegions",
                 {"secretId": SECRET, "addReplicaRegions": [{"region": third}]}), True),
        "third-region replica removed, by ARN": (
            call("secretsmanager", "RemoveRegionsFromReplication",
                 {"secretId": arn(primary), "removeReplicaRegions": [third]}), True),
        "region deny replaced": (
            call("secretsmanager", "PutResourcePolicy", {"secretId": SECRET, "blockPublicPolicy": True}),
            True),
        "region deny deleted, by the replica's ARN": (
            call("secretsmanager", "DeleteResourcePolicy", {"secretId": arn(replica)}), True),
        "another stack's secret replicated": (
            call("secretsmanager", "ReplicateSecretToRegions",
                 {"secretId": other, "addReplicaRegions": [{"region": third}]}), False),
        "rule disabled": (call("events", "DisableRule", {"name": name}), True),
        "rule deleted": (call("events", "DeleteRule", {"name": name, "force": False}), True),
        "targets removed": (call("events", "RemoveTargets", {"rule": name, "ids": ["alert-topic"]}), True),
        "topic deleted": (call("sns", "DeleteTopic", {"topicArn": topic}), True),
        "unsubscribed": (call("sns", "Unsubscribe", {"subscriptionArn": f"{topic}:0b1c"}), True),
        "queue deleted": (call("sqs", "DeleteQueue", {"queueUrl": queue}), True),
        "alarm deleted": (call("monitoring", "DeleteAlarms", {"alarmNames": [alarm]}), True),
        "secrets key disabled, by ARN": (call("kms", "DisableKey", {"keyId": secrets_key}), True),
        "secrets key policy replaced, by id": (
            call("kms", "PutKeyPolicy", {"keyId": secrets_key.rsplit("/", 1)[1], "policyName": "default"}),
            True,
        ),
        "audit key deletion": (call("kms", "ScheduleKeyDeletion", {"keyId": audit_key}), True),
        "another rule disabled": (call("events", "DisableRule", {"name": "someone-elses-rule"}), False),
        "another key disabled": (
            call("kms", "DisableKey", {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
            False,
        ),
    }  # fmt: skip


@pytest.mark.slow  # the emulator's server, a few seconds
def test_a_change_that_would_silence_the_alerts_alerts(audited: Run, bus: Any) -> None:
    """Disabling or deleting the rule, removing its targets, deleting the topic or the queue,
    unsubscribing, deleting an alarm, disabling a key or replacing its policy; stopping, deleting or
    changing the stack's trail (by name or ARN); replicating a secret elsewhere, removing a replica,
    replacing or deleting a secret's resource policy: each raises an alert in its region; the same
    calls on someone else's resources do not."""
    for region in regions():
        cases = tamper_cases(audited, region)
        events = {case: detail | {"eventID": case} for case, (detail, _) in cases.items()}
        alerted = set()
        for service in TAMPER_EVENTS:
            mine = {c: e for c, e in events.items() if e["eventSource"].startswith(f"{service}.")}
            alerted |= deliveries(bus, audited, region, mine, f"aws.{service}") if mine else set()
            bus("sqs", region).delete_queue(
                QueueUrl=bus("sqs", region).get_queue_url(QueueName="seen")["QueueUrl"]
            )
        assert {case: case in alerted for case in cases} == {c: alert for c, (_, alert) in cases.items()}, (
            region
        )


def test_the_rendered_patterns_fit_eventbridges_limit(stack_runs: dict[str, Run]) -> None:
    """EventBridge takes a pattern of 2048 characters by default (EventBridge quotas, Event pattern
    size; terraform-provider-aws refuses more at plan time, internal/service/events/rule.go): every
    rule of every committed stack fits, with room for one more region's ARN."""
    for run in stack_runs.values():
        for rule in run.of_type(EVENT_RULE):
            assert len(rule.inputs["eventPattern"]) <= PATTERN_LIMIT - 100, (run.stack, rule.name)


def test_too_many_expected_readers_are_refused_before_anything_is_declared() -> None:
    """The access pattern lists every expected role: past EventBridge's limit the stack is refused,
    naming the key and how many fit (tests/test_fixes.py pastes its fix); five roles still fit."""
    readers = [f"arn:aws:iam::{ACCOUNT}:role/reader-with-a-long-descriptive-name-{i:02d}" for i in range(20)]
    with pytest.raises(ConfigError, match=r"auditExpectedReaders: .* over EventBridge's 2048: \d+ of the 20"):
        run_stack(STACK, overrides={"ai-etl:auditExpectedReaders": readers})
    run = run_stack(STACK, overrides={"ai-etl:auditExpectedReaders": readers[:5]})
    assert all(len(r.inputs["eventPattern"]) <= PATTERN_LIMIT for r in run.of_type(EVENT_RULE))


def test_each_region_has_its_own_alert_path_under_its_own_key(audited: Run) -> None:
    """Per region: the rules (read alerts in ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, the only
    state read-only events reach), a topic under the audit's own key (not the secrets' key, so
    disabling that key does not silence the alert about it), targets retrying for a day into an
    encrypted dead-letter queue, alarms on failed invocations and kept alerts, and a subscription."""
    for region in regions():
        rules = in_region(audited, EVENT_RULE, region)
        assert sorted(r.inputs["state"] for r in rules) == [
            "ENABLED",
            "ENABLED",
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        ]
        (topic,) = in_region(audited, SNS_TOPIC, region)
        keys = {k.name: k for k in in_region(audited, KMS_KEY, region)}
        (audit_key,) = [k for n, k in keys.items() if "access-audit" in n]
        assert topic.inputs["kmsMasterKeyId"] == audit_key.outputs["arn"]
        assert audit_key.inputs["enableKeyRotation"] and audit_key.protect
        (queue,) = in_region(audited, SQS_QUEUE, region)
        assert queue.inputs["sqsManagedSseEnabled"] is True
        for target in in_region(audited, EVENT_TARGET, region):
            assert target.inputs["arn"] == topic.outputs["arn"]
            assert target.inputs["deadLetterConfig"] == {"arn": queue.outputs["arn"]}
            assert target.inputs["retryPolicy"] == {
                "maximumEventAgeInSeconds": 86400,
                "maximumRetryAttempts": 185,
            }
        alarms = in_region(audited, METRIC_ALARM, region)
        assert {a.inputs["metricName"] for a in alarms} == {
            "FailedInvocations",
            "ApproximateNumberOfMessagesVisible",
        }
        assert all(a.inputs["alarmActions"] == [topic.outputs["arn"]] for a in alarms)
        (subscription,) = in_region(audited, SNS_SUBSCRIPTION, region)
        assert subscription.inputs["topic"] == topic.outputs["arn"]


def test_only_the_alert_path_may_publish_and_keep_alerts(audited: Run) -> None:
    """The topic takes messages from its region's rules (EventBridge) and alarms (CloudWatch) only;
    the queue takes undelivered alerts from those rules only; the audit key lets both services
    encrypt for this account only and keeps KMS's default statement (nothing locked out). Each policy
    passes IAM's grammar."""
    for region in regions():
        rules = sorted(r.outputs["arn"] for r in in_region(audited, EVENT_RULE, region))
        alarms = sorted(a.outputs["arn"] for a in in_region(audited, METRIC_ALARM, region))
        (policy,) = [json.loads(p.inputs["policy"]) for p in in_region(audited, SNS_TOPIC_POLICY, region)]
        events, cloudwatch = policy["Statement"]
        assert (
            events["Principal"] == {"Service": "events.amazonaws.com"} and events["Action"] == "sns:Publish"
        )
        assert sorted(events["Condition"]["ArnEquals"]["aws:SourceArn"]) == rules
        assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
        assert sorted(cloudwatch["Condition"]["ArnEquals"]["aws:SourceArn"]) == alarms
        (queue_policy,) = [
            json.loads(p.inputs["policy"]) for p in in_region(audited, SQS_QUEUE_POLICY, region)
        ]
        (keep,) = queue_policy["Statement"]
        assert (
            keep["Action"] == "sqs:SendMessage"
            and sorted(keep["Condition"]["ArnEquals"]["aws:SourceArn"]) == rules
        )
        (key,) = [k for k in in_region(audited, KMS_KEY, region) if "access-audit" in k.name]
        root, publishers = json.loads(key.inputs["policy"])["Statement"]
        assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"} and root["Action"] == "kms:*"
        assert publishers["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
        # On this account's behalf only (EventBridge user guide, "Authorizing EventBridge to use a
        # customer managed key": the confused-deputy guard).
        assert publishers["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
        for document in (policy, queue_policy):
            assert iam_findings(document) == []


def test_audit_inputs_meet_the_api_constraints(audited: Run) -> None:
    """Each rule, topic, queue, alarm, target and policy is a valid request of its API."""
    errors: list[str] = []
    for rule in (r.inputs for r in audited.of_type(EVENT_RULE)):
        tags = [{"Key": k, "Value": v} for k, v in rule["tags"].items()]
        request = {"Name": rule["name"], "EventPattern": rule["eventPattern"], "State": rule["state"],
                   "Description": rule["description"], "Tags": tags}  # fmt: skip
        errors += api_errors("events", "PutRule", request)
    for topic in (t.inputs for t in audited.of_type(SNS_TOPIC)):
        attributes = {"KmsMasterKeyId": topic["kmsMasterKeyId"]}
        errors += api_errors("sns", "CreateTopic", {"Name": topic["name"], "Attributes": attributes})
        # The provider's own check of a (standard) topic name: internal/service/sns/topic.go.
        assert re.fullmatch(r"[0-9A-Za-z_-]{1,256}", topic["name"])
    for queue in (q.inputs for q in audited.of_type(SQS_QUEUE)):
        attributes = {
            "SqsManagedSseEnabled": "true",
            "MessageRetentionPeriod": str(queue["messageRetentionSeconds"]),
        }
        errors += api_errors("sqs", "CreateQueue", {"QueueName": queue["name"], "Attributes": attributes})
        assert re.fullmatch(r"[0-9A-Za-z_-]{1,80}", queue["name"])  # internal/service/sqs/queue.go
    for alarm in (a.inputs for a in audited.of_type(METRIC_ALARM)):
        errors += api_errors("cloudwatch", "PutMetricAlarm", {
            "AlarmName": alarm["name"], "AlarmDescription": alarm["alarmDescription"],
            "Namespace": alarm["namespace"], "MetricName": alarm["metricName"],
            "Dimensions": [{"Name": k, "Value": v} for k, v in alarm["dimensions"].items()],
            "Statistic": alarm["statistic"], "Period": alarm["period"],
            "EvaluationPeriods": alarm["evaluationPeriods"],
            "Threshold": alarm["threshold"], "ComparisonOperator": alarm["comparisonOperator"],
            "TreatMissingData": alarm["treatMissingData"],
            "AlarmActions": alarm["alarmActions"]})  # fmt: skip
    for target in (t.inputs for t in audited.of_type(EVENT_TARGET)):
        targets = [{"Id": target["targetId"], "Arn": target["arn"],
                    "DeadLetterConfig": {"Arn": target["deadLetterConfig"]["arn"]}}]  # fmt: skip
        errors += api_errors("events", "PutTargets", {"Rule": target["rule"], "Targets": targets})
    for policy in (p.inputs for p in audited.of_type(SNS_TOPIC_POLICY)):
        attribute = {"TopicArn": policy["arn"], "AttributeName": "Policy", "AttributeValue": policy["policy"]}
        errors += api_errors("sns", "SetTopicAttributes", attribute)
    for key in (k.inputs for k in audited.of_type(KMS_KEY)):
        if key.get("policy"):
            errors += api_errors(
                "kms", "PutKeyPolicy", {"KeyId": "k", "PolicyName": "default", "Policy": key["policy"]}
            )
    assert errors == []


def test_alerts_go_to_every_destination_the_stack_names_in_every_region() -> None:
    """An email address and another endpoint (https, SQS, Lambda) each get a subscription of the
    right protocol on each region's topic; each is a valid Subscribe request."""
    queue = f"arn:aws:sqs:{regions()[0]}:{ACCOUNT}:secops-alerts"
    run = run_stack(STACK, overrides={"ai-etl:auditEndpoint": queue})
    subscriptions = run.of_type(SNS_SUBSCRIPTION)
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == sorted(
        [("email", "secops@example.com"), ("sqs", queue)] * 2
    )
    topics = {t.outputs["arn"] for t in run.of_type(SNS_TOPIC)}
    assert {s.inputs["topic"] for s in subscriptions} == topics and len(topics) == 2
    for s in (s.inputs for s in subscriptions):
        assert (
            api_errors(
                "sns",
                "Subscribe",
                {"TopicArn": s["topic"], "Protocol": s["protocol"], "Endpoint": s["endpoint"]},
            )
            == []
        )


def test_a_production_stack_whose_alerts_reach_no_one_is_refused() -> None:
    """Without auditEmail or auditEndpoint a production-grade stack is refused before anything is
    declared, with the command that sets one."""
    with pytest.raises(
        ConfigError, match=r"(?s)auditEmail: is required in a production-grade stack.*config set auditEmail"
    ):
        run_stack(STACK, remove=("ai-etl:auditEmail",))


def test_a_standard_stack_whose_alerts_reach_no_one_is_warned() -> None:
    """Below production grade the stack runs, and says the alerts reach no one (and how to fix it)."""
    run = run_stack(STANDARD, remove=("ai-etl:auditEmail",))
    assert not run.of_type(SNS_SUBSCRIPTION)
    assert any("auditEmail is not set: the access alerts reach no one" in w for w in run.warnings)


def test_every_stack_pins_its_account() -> None:
    """A production-grade stack without aws:allowedAccountIds is refused (it would deploy into
    whatever account the credentials reach); a standard one is warned, with the fix."""
    with pytest.raises(ConfigError, match=r"aws:allowedAccountIds: is required in a production-grade stack"):
        run_stack(STACK, remove=("aws:allowedAccountIds",))
    run = run_stack(STANDARD, remove=("aws:allowedAccountIds",))
    assert any("aws:allowedAccountIds is not set" in w for w in run.warnings)


def test_the_replica_names_its_key_by_id(audited: Run) -> None:
    """The replica's kmsKeyId is the replica key's id, the form the provider's own replica test
    declares and reads back unchanged (terraform-provider-aws internal/service/secretsmanager/
    secret_test.go, testAccSecretConfig_overwriteReplica); the provider matches replicas by the hash
    of kmsKeyId and region (secret.go), so another form would remove and re-add the replica."""
    replica_key = audited.one(KMS_KEY, "-replica-key")
    for secret in audited.of_type(SM_SECRET):
        assert secret.inputs["replicas"] == [
            {"region": regions()[1], "kmsKeyId": replica_key.outputs["keyId"]}
        ]


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("ai-etl:auditEmail", "not-an-address", "auditEmail: must be an email address"),
        ("ai-etl:auditEndpoint", "http://alerts.example.com/hook", "auditEndpoint: must be an https URL"),
        (
            "ai-etl:auditExpectedReaders",
            ["arn:aws:iam::1:user/x"],
            r"auditExpectedReaders\[0\]: must be an IAM role ARN",
        ),
    ],
)
def test_bad_audit_settings_are_refused(key: str, value: Any, expect: str) -> None:
    with pytest.raises(ConfigError, match=expect):
        run_stack("dev", overrides={key: value})
