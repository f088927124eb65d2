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
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from ai_etl.components.auditpatterns import (
    CLOUDTRAIL,
    PATTERN_LIMIT,
    TAMPER_EVENTS,
    Watched,
    compact,
    packed,
    watch_clauses,
    watch_pattern,
)
from ai_etl.config.settings import ConfigError
from ai_etl.names import audit_bus_role, audit_name, operator_role, role_arn, secret_name, secret_prefix
from ai_etl.offline.records import Registration, Run
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.tokens import (
    AUDIT_BUS_COMPONENT,
    EVENT_RULE,
    EVENT_TARGET,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    KMS_KEY,
    METRIC_ALARM,
    SM_SECRET,
    SNS_SUBSCRIPTION,
    SNS_TOPIC,
    SNS_TOPIC_POLICY,
    SQS_QUEUE,
    SQS_QUEUE_POLICY,
)
from tests.helpers import PRODUCTION_GRADE, STACKS, STANDARD_GRADE, run_stack, stack_config, watched_trail
from tests.test_access import api_errors, iam_findings

# A production-grade stack, whatever its name: it has a replica region, and alerts must reach someone.
STACK = PRODUCTION_GRADE[0]
ACCOUNT = str(load_stack_config(STACK)["aws:allowedAccountIds"][0])
OPERATOR = role_arn("aws", ACCOUNT, operator_role(STACK))
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-deploy"
INTRUDER = f"arn:aws:iam::{ACCOUNT}:role/intruder"
SECRET = secret_name(STACK, "jwt-secret-key")
STANDARD = STANDARD_GRADE[0]
SECURITY = "123456789012"
"""The security account holding the audit bus: the emulator's own account, where its bus can be made."""
BUS = f"arn:aws:events:{load_stack_config(STACK)['aws:region']}:{SECURITY}:event-bus/security-audit"


MASTER_NAME = "rds!db-00000000-0000-0000-0000-000000000000"
"""RDS's master user secret (obviously fake), which the operator syncs to the rotation step."""
MASTER = {
    "kind": "rds",
    "host": f"ai-etl.c0example0.{load_stack_config(STACK)['aws:region']}.rds.amazonaws.com",
    "masterSecretArn": (
        f"arn:aws:secretsmanager:{load_stack_config(STACK)['aws:region']}:{ACCOUNT}:secret:{MASTER_NAME}-AbCdEf"
    ),
}


@pytest.fixture(scope="module")
def audited() -> Run:
    """The production stack with its database on RDS, the step's administrator RDS's master secret."""
    return run_stack(
        STACK,
        overrides={
            "ai-etl:auditExpectedReaders": [CI_ROLE],
            "ai-etl:auditBus": BUS,
            "ai-etl:database": MASTER,
        },
    )


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
        # RDS's master user secret: the operator syncs it to the step; anyone else's read alerts.
        "operator reading RDS's master secret": (role_session(OPERATOR), get,
                                                 {"secretId": MASTER["masterSecretArn"]}, False),
        "another role reading RDS's master secret": (role_session(INTRUDER), get,
                                                     {"secretId": MASTER["masterSecretArn"]}, True),
        "RDS's master secret by name": (USER, batch, {"secretIdList": [MASTER_NAME]}, True),
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
    raise an alert, in the primary region and in the replica region alike; so does anyone's but the
    operator's read of RDS's master user secret, which the step's administrator comes from."""
    for region in regions():
        cases = read_cases(region)
        events = {
            case: record(region, who, call, request, case) for case, (who, call, request, _) in cases.items()
        }
        alerted = deliveries(bus, audited, region, events, "aws.secretsmanager")
        assert {case: case in alerted for case in cases} == {case: c[3] for case, c in cases.items()}, region


@dataclass
class Emulated:
    """One region's rendered alert paths laid out in the emulator: both topics under their keys, each
    with a queue subscribed to it (what reaches the topic's subscribers), the dead-letter queues, the
    rules and their rendered targets, and the security account's bus with a queue behind it."""

    client: Any
    region: str
    topics: dict[str, str] = field(default_factory=dict)
    """Topic name -> the emulator's topic ARN."""
    seen: dict[str, str] = field(default_factory=dict)
    """Topic name -> the URL of the queue subscribed to it."""
    subscriptions: dict[str, str] = field(default_factory=dict)
    """Topic name -> that subscription's ARN."""
    keys: dict[str, str] = field(default_factory=dict)
    """Rendered key ARN -> the emulator's key id."""
    relays: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Queue URL -> the rule and topic it stands between: the emulator's EventBridge fills it."""
    security: str = ""

    def sqs_arn(self, url: str, region: str | None = None) -> str:
        attributes = self.client("sqs", region or self.region).get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )
        return str(attributes["Attributes"]["QueueArn"])

    def drain(self, url: str, region: str | None = None) -> list[dict[str, Any]]:
        sqs, got = self.client("sqs", region or self.region), []
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in batch:
                got.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return got


def emulate(client: Any, run: Run, region: str) -> Emulated:
    """Lay out `run`'s alert paths of `region` in the emulator (emptied first). EventBridge hands a
    matching event to every target of an enabled rule; moto's server delivers to SQS and event-bus
    targets only (an SNS target raises NotImplementedError), and to disabled rules as well
    (moto/events/models.py, put_events and Rule.send_to_targets). So each rendered SNS target is put
    under its own id with a relay queue in the topic's place, and `deliver` publishes what a relay
    got to that topic, as EventBridge would: not for a disabled rule."""
    e = Emulated(client, region)
    events, sns, sqs, kms = (client(s, region) for s in ("events", "sns", "sqs", "kms"))
    bus_region, bus_name = BUS.split(":")[3], BUS.rsplit("/", 1)[1]
    bus_events = client("events", bus_region)
    bus_events.create_event_bus(Name=bus_name)
    e.security = client("sqs", bus_region).create_queue(QueueName="security-account")["QueueUrl"]
    kept = {"Id": "kept", "Arn": e.sqs_arn(e.security, bus_region)}
    bus_events.put_rule(
        Name="kept", EventBusName=bus_name, EventPattern=json.dumps({"detail-type": [CLOUDTRAIL]})
    )
    bus_events.put_targets(Rule="kept", EventBusName=bus_name, Targets=[kept])
    for topic in in_region(run, SNS_TOPIC, region):
        key = e.keys[topic.inputs["kmsMasterKeyId"]] = kms.create_key()["KeyMetadata"]["KeyId"]
        name = topic.inputs["name"]
        e.topics[name] = sns.create_topic(Name=name, Attributes={"KmsMasterKeyId": key})["TopicArn"]
        e.seen[name] = sqs.create_queue(QueueName=f"seen-{name}")["QueueUrl"]
        e.subscriptions[name] = sns.subscribe(
            TopicArn=e.topics[name],
            Protocol="sqs",
            Endpoint=e.sqs_arn(e.seen[name]),
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
    queues = {
        q.outputs["arn"]: e.sqs_arn(sqs.create_queue(QueueName=q.inputs["name"])["QueueUrl"])
        for q in in_region(run, SQS_QUEUE, region)
    }
    for rule in in_region(run, EVENT_RULE, region):
        events.put_rule(
            Name=rule.inputs["name"], EventPattern=rule.inputs["eventPattern"], State=rule.inputs["state"]
        )
    for i, target in enumerate(t.inputs for t in in_region(run, EVENT_TARGET, region)):
        given = {"Id": target["targetId"], "Arn": target["arn"],
                 "DeadLetterConfig": {"Arn": queues[target["deadLetterConfig"]["arn"]]}}  # fmt: skip
        if target.get("roleArn"):
            given["RoleArn"] = target["roleArn"]
        topic = target["arn"].rsplit(":", 1)[1]
        if topic in e.topics:
            relay = sqs.create_queue(QueueName=f"relay-{i}")["QueueUrl"]
            e.relays[relay] = (target["rule"], topic)
            given["Arn"] = e.sqs_arn(relay)
        assert events.put_targets(Rule=target["rule"], Targets=[given])["FailedEntryCount"] == 0
    return e


def deliver(e: Emulated, details: dict[str, dict[str, Any]]) -> dict[str, set[str]]:
    """Where the CloudTrail record of each case ends up: the names of the topics whose subscriber got
    it, and `bus` if the security account's bus did. A rule hands nothing on while disabled; SNS
    delivers nothing from a deleted topic or while its key is not enabled (SNS API reference,
    Publish: KMSDisabledException, KMSInvalidStateException)."""
    events, sns, kms = (e.client(s, e.region) for s in ("events", "sns", "kms"))
    entries = [
        {"Source": "aws." + d["eventSource"].split(".")[0], "DetailType": CLOUDTRAIL,
         "Detail": json.dumps(d | {"eventID": case})}
        for case, d in details.items()
    ]  # fmt: skip
    for i in range(0, len(entries), 10):  # PutEvents takes 10 entries at most
        assert events.put_events(Entries=entries[i : i + 10])["FailedEntryCount"] == 0
    for relay, (rule, topic) in e.relays.items():
        for event in e.drain(relay):
            if events.describe_rule(Name=rule)["State"] == "DISABLED":
                continue
            try:
                key = sns.get_topic_attributes(TopicArn=e.topics[topic])["Attributes"].get("KmsMasterKeyId")
            except sns.exceptions.NotFoundException:
                continue
            if key and kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] != "Enabled":
                continue
            sns.publish(TopicArn=e.topics[topic], Message=json.dumps(event))
    got: dict[str, set[str]] = {case: set() for case in details}
    for name, url in e.seen.items():
        for message in e.drain(url):
            got[json.loads(message["Message"])["detail"]["eventID"]].add(name)
    for event in e.drain(e.security, BUS.split(":")[3]):
        got[event["detail"]["eventID"]].add("bus")
    return got


Break = Callable[[Emulated], object] | None


def tamper_cases(run: Run, region: str) -> dict[str, tuple[dict[str, Any], Break, str | None]]:
    """Calls that would silence a path, each with what it does to the emulator first (None: a call
    whose effect the emulator does not model, sent as its record only), and the path expected to
    report it: the access path's changes reach the tamper topic, the tamper path's the access
    topic, and both go to the security account's bus; someone else's resources raise nothing."""
    n = audit_name(STACK)
    t = n + "-tamper"
    keys = {k.name: k.outputs["arn"] for k in in_region(run, KMS_KEY, region)}
    secrets_key = next(a for name, a in keys.items() if "secrets" in name)
    access_key = next(a for name, a in keys.items() if name.endswith("access-audit-key"))
    tamper_key = next(a for name, a in keys.items() if name.endswith("access-audit-tamper-key"))
    queue = {q.inputs["name"]: q.outputs["url"] for q in in_region(run, SQS_QUEUE, region)}
    topic = {x.inputs["name"]: x.outputs["arn"] for x in in_region(run, SNS_TOPIC, region)}
    tampers = sorted(
        r.inputs["name"] for r in in_region(run, EVENT_RULE, region) if r.inputs["name"].startswith(t)
    )
    elsewhere: dict[str, str] = {}
    primary, replica = regions()
    cluster = str(stack_config(STACK)["ai-etl:clusterName"])
    log_group = f"/aws/eks/{cluster}/cluster"
    trail = watched_trail(STACK)
    trail_arn = f"arn:aws:cloudtrail:{primary}:{ACCOUNT}:trail/{trail}"
    third = next(r for r in ("eu-central-1", "eu-west-1", "ap-south-1") if r not in regions())
    other = secret_name(next(s for s in STACKS if s != STACK), "jwt-secret-key")
    reads_dropped = {
        "trailName": trail_arn,
        "eventSelectors": [{"readWriteType": "WriteOnly", "includeManagementEvents": True}],
    }

    def call(service: str, name: str, request: dict[str, Any]) -> dict[str, Any]:
        return {"eventSource": f"{service}.amazonaws.com", "eventName": name, "awsRegion": region,
                "userIdentity": USER, "requestParameters": request, "readOnly": False}  # fmt: skip

    def redirect(rule: str) -> Break:
        def act(e: Emulated) -> None:
            elsewhere[rule] = e.sqs_arn(
                e.client("sqs", region).create_queue(QueueName="elsewhere")["QueueUrl"]
            )
            e.client("events", region).put_targets(
                Rule=rule, Targets=[{"Id": "alert-topic", "Arn": elsewhere[rule]}]
            )

        return act

    def events(e: Emulated) -> Any:
        return e.client("events", region)

    def sns(e: Emulated) -> Any:
        return e.client("sns", region)

    def filtered(path: str) -> Break:
        return lambda e: sns(e).set_subscription_attributes(
            SubscriptionArn=e.subscriptions[path],
            AttributeName="FilterPolicy",
            AttributeValue='{"never": ["sent"]}',
        )

    def subscription_cases(
        label: str, path: str, reporter: str
    ) -> dict[str, tuple[dict[str, Any], Break, str]]:
        """The path's subscription removed, or filtered so that it drops everything."""
        return {
            f"{label} subscription removed": (
                call("sns", "Unsubscribe", {"subscriptionArn": sub(path)}),
                lambda e: sns(e).unsubscribe(SubscriptionArn=e.subscriptions[path]),
                reporter,
            ),
            f"{label} subscription filtered to nothing": (
                call(
                    "sns",
                    "SetSubscriptionAttributes",
                    {"subscriptionArn": sub(path), "attributeName": "FilterPolicy"},
                ),
                filtered(path),
                reporter,
            ),
        }

    def sub(path: str) -> str:
        return f"{topic[path]}:0b1c2d3e-0000-4000-8000-000000000000"

    def deleted(rule: str) -> Break:
        def act(e: Emulated) -> None:
            events(e).remove_targets(
                Rule=rule, Ids=[t["Id"] for t in events(e).list_targets_by_rule(Rule=rule)["Targets"]]
            )
            events(e).delete_rule(Name=rule)

        return act

    def key_off(arn: str, how: str) -> Break:
        kms = lambda e: e.client("kms", region)  # noqa: E731
        if how == "disable":
            return lambda e: kms(e).disable_key(KeyId=e.keys[arn])
        return lambda e: kms(e).schedule_key_deletion(KeyId=e.keys[arn], PendingWindowInDays=7)

    cases: dict[str, tuple[dict[str, Any], Break, str | None]] = {
        # The access path, reported on the tamper path.
        "read rule disabled": (
            call("events", "DisableRule", {"name": n}),
            lambda e: events(e).disable_rule(Name=n),
            t,
        ),
        "read rule re-patterned": (
            call("events", "PutRule", {"name": n, "eventPattern": "{}"}),
            lambda e: events(e).put_rule(Name=n, EventPattern=json.dumps({"source": ["nothing"]})),
            t,
        ),
        "read rule's target removed": (
            call("events", "RemoveTargets", {"rule": n, "ids": ["alert-topic"]}),
            lambda e: events(e).remove_targets(Rule=n, Ids=["alert-topic"]),
            t,
        ),
        "read rule's target redirected": (call("events", "PutTargets", {"rule": n}), redirect(n), t),
        "watch rule deleted": (
            call("events", "DeleteRule", {"name": f"{n}-watch"}),
            deleted(f"{n}-watch"),
            t,
        ),
        "access topic deleted": (
            call("sns", "DeleteTopic", {"topicArn": topic[n]}),
            lambda e: sns(e).delete_topic(TopicArn=e.topics[n]),
            t,
        ),
        "access topic's policy replaced": (
            call("sns", "SetTopicAttributes", {"topicArn": topic[n], "attributeName": "Policy"}),
            None,
            t,
        ),
        **subscription_cases("access", n, t),
        "access queue's permission removed": (
            call("sqs", "RemovePermission", {"queueUrl": queue[f"{n}-undelivered"], "label": "keep"}),
            None,
            t,
        ),
        "access queue purged": (call("sqs", "PurgeQueue", {"queueUrl": queue[f"{n}-undelivered"]}), None, t),
        "access alarm forced to OK": (
            call("monitoring", "SetAlarmState", {"alarmName": f"{n}-failed", "stateValue": "OK"}),
            None,
            t,
        ),
        "access alarm deleted": (
            call("monitoring", "DeleteAlarms", {"alarmNames": [f"{n}-notifications-failed"]}),
            None,
            t,
        ),
        "access key disabled": (
            call("kms", "DisableKey", {"keyId": access_key}),
            key_off(access_key, "disable"),
            t,
        ),
        "secrets key disabled, by ARN": (call("kms", "DisableKey", {"keyId": secrets_key}), None, t),
        "secrets key policy replaced, by id": (
            call("kms", "PutKeyPolicy", {"keyId": secrets_key.rsplit("/", 1)[1], "policyName": "default"}),
            None,
            t,
        ),
        "operator role's trust changed": (
            call("iam", "UpdateAssumeRolePolicy", {"roleName": operator_role(STACK)}),
            None,
            t,
        ),
        "expected reader's trust changed": (
            call("iam", "UpdateAssumeRolePolicy", {"roleName": "ci-deploy"}),
            None,
            t,
        ),
        # What would let reads go unseen, part of the access path: reported on the tamper path.
        "trail stopped": (call("cloudtrail", "StopLogging", {"name": trail}), None, t),
        "trail deleted, by ARN": (call("cloudtrail", "DeleteTrail", {"name": trail_arn}), None, t),
        "trail made single-region": (
            call("cloudtrail", "UpdateTrail", {"name": trail, "isMultiRegionTrail": False}),
            None,
            t,
        ),
        "trail's reads dropped, by ARN": (call("cloudtrail", "PutEventSelectors", reads_dropped), None, t),
        "trail's insights changed": (
            call("cloudtrail", "PutInsightSelectors", {"trailName": trail, "insightSelectors": []}),
            None,
            t,
        ),
        "replicated to a third region": (
            call(
                "secretsmanager",
                "ReplicateSecretToRegions",
                {"secretId": SECRET, "addReplicaRegions": [{"region": third}]},
            ),
            None,
            t,
        ),
        "third-region replica removed, by ARN": (
            call(
                "secretsmanager",
                "RemoveRegionsFromReplication",
                {"secretId": arn(primary), "removeReplicaRegions": [third]},
            ),
            None,
            t,
        ),
        "region deny replaced": (
            call("secretsmanager", "PutResourcePolicy", {"secretId": SECRET, "blockPublicPolicy": True}),
            None,
            t,
        ),
        "region deny deleted, by the replica's ARN": (
            call("secretsmanager", "DeleteResourcePolicy", {"secretId": arn(replica)}),
            None,
            t,
        ),
        # The cluster audit's source, in the cluster's region (the primary).
        **(
            {
                "cluster's audit log turned off": (
                    call("eks", "UpdateClusterConfig", {"name": cluster, "logging": {}}),
                    None,
                    t,
                ),
                "cluster audit's filter deleted": (
                    call(
                        "logs",
                        "DeleteMetricFilter",
                        {"logGroupName": log_group, "filterName": f"{n}-cluster"},
                    ),
                    None,
                    t,
                ),
                "cluster's log group deleted": (
                    call("logs", "DeleteLogGroup", {"logGroupName": log_group}),
                    None,
                    t,
                ),
                "cluster audit's alarm muted": (
                    call("monitoring", "DisableAlarmActions", {"alarmNames": [f"{n}-cluster"]}),
                    None,
                    t,
                ),
            }
            if region == primary
            else {}
        ),
        # The tamper path, reported on the access path.
        "tamper rule disabled": (
            call("events", "DisableRule", {"name": t}),
            lambda e: events(e).disable_rule(Name=t),
            n,
        ),
        "tamper rule's target removed": (
            call("events", "RemoveTargets", {"rule": t, "ids": ["alert-topic"]}),
            lambda e: events(e).remove_targets(Rule=t, Ids=["alert-topic"]),
            n,
        ),
        "tamper rule's target redirected": (call("events", "PutTargets", {"rule": t}), redirect(t), n),
        "last tamper rule deleted": (
            call("events", "DeleteRule", {"name": tampers[-1]}),
            deleted(tampers[-1]),
            n,
        ),
        "tamper topic deleted": (
            call("sns", "DeleteTopic", {"topicArn": topic[t]}),
            lambda e: sns(e).delete_topic(TopicArn=e.topics[t]),
            n,
        ),
        **subscription_cases("tamper", t, n),
        "tamper key deletion": (
            call("kms", "ScheduleKeyDeletion", {"keyId": tamper_key}),
            key_off(tamper_key, "delete"),
            n,
        ),
        "tamper queue deleted": (
            call("sqs", "DeleteQueue", {"queueUrl": queue[f"{t}-undelivered"]}),
            None,
            n,
        ),
        "tamper alarm forced to OK": (
            call("monitoring", "SetAlarmState", {"alarmName": f"{t}-failed", "stateValue": "OK"}),
            None,
            n,
        ),
        "forwarding role's policy replaced": (
            call("iam", "PutRolePolicy", {"roleName": audit_bus_role(STACK)}),
            None,
            n,
        ),
        # Someone else's.
        "another cluster's log group": (
            call("logs", "DeleteLogGroup", {"logGroupName": "/aws/eks/someone-elses/cluster"}),
            None,
            None,
        ),
        "another trail stopped": (
            call("cloudtrail", "StopLogging", {"name": "someone-elses-trail"}),
            None,
            None,
        ),
        "another stack's secret replicated": (
            call(
                "secretsmanager",
                "ReplicateSecretToRegions",
                {"secretId": other, "addReplicaRegions": [{"region": third}]},
            ),
            None,
            None,
        ),
        "another rule disabled": (call("events", "DisableRule", {"name": "someone-elses-rule"}), None, None),
        "another key disabled": (
            call("kms", "DisableKey", {"keyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
            None,
            None,
        ),
        "another topic's subscription": (
            call("sns", "Unsubscribe", {"subscriptionArn": f"arn:aws:sns:{region}:{ACCOUNT}:{n}-other:0b1c"}),
            None,
            None,
        ),
        "another role's trust": (
            call("iam", "UpdateAssumeRolePolicy", {"roleName": "someone-else"}),
            None,
            None,
        ),
    }
    return cases


@pytest.mark.slow  # the emulator's server, a few seconds
def test_a_change_that_would_silence_one_path_is_reported_by_the_other(
    audited: Run, bus: Any, aws: dict[str, str]
) -> None:
    """Every call that would silence the access path (its rules, targets, topic, subscription, queue,
    alarms, key; the secrets' key; the quiet roles' trust) is reported on the tamper topic and the
    security account's bus, and every call on the tamper path on the access topic and the bus;
    calls on someone else's resources raise nothing. In each region, three times: with nothing
    broken; with every call on the access path first made in the emulator (its rules disabled,
    re-patterned, untargeted, its topic's subscription filtered and removed, the topic deleted, its
    key disabled...), then their records sent; likewise with the tamper path broken. So each
    alert arrives by a path that the call it reports did not break."""
    name = audit_name(STACK)
    for region in regions():
        cases = tamper_cases(audited, region)
        for broken in (None, name + "-tamper", name):  # nothing; the access path; the tamper path
            chosen = {c: v for c, v in cases.items() if broken is None or v[2] == broken}
            reset(aws)
            emulated = emulate(bus, audited, region)
            # In the table's reverse order: a subscription is filtered, then removed, then its topic deleted.
            for act in reversed([v[1] for v in chosen.values() if broken and v[1]]):
                act(emulated)
            got = deliver(emulated, {case: v[0] for case, v in chosen.items()})
            assert got == {c: {v[2], "bus"} if v[2] else set() for c, v in chosen.items()}, (region, broken)


def reset(aws: dict[str, str]) -> None:
    """The emulator emptied (moto's own reset: moto/moto_api/_internal/responses.py)."""
    request = urllib.request.Request(f"{aws['AWS_ENDPOINT_URL']}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def test_the_rendered_patterns_fit_eventbridges_limit(stack_runs: dict[str, Run], audited: Run) -> None:
    """EventBridge takes a pattern of 2048 characters by default (EventBridge quotas, Event pattern
    size; terraform-provider-aws refuses more at plan time, internal/service/events/rule.go): every
    rule of every committed stack fits, the read rule with room for one more region's ARN; the
    watchers, whose size is known before anything exists, are split into as many rules as need be."""
    for run in (*stack_runs.values(), audited):
        for rule in run.of_type(EVENT_RULE):
            room = 100 if rule.inputs["state"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS" else 0
            assert len(rule.inputs["eventPattern"]) <= PATTERN_LIMIT - room, (run.stack, rule.name)


def test_a_watched_call_is_one_entry_and_the_watchers_split_to_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """A service added to TAMPER_EVENTS is watched with no other edit: on any resource, by the tamper
    path only (AWS Config's recorder, say: the account's). However many watched names there are,
    every clause is in exactly one rule, in order, and each rule's pattern fits."""
    monkeypatch.setitem(TAMPER_EVENTS, "config", ("StopConfigurationRecorder", "DeleteConfigurationRecorder"))
    roles = tuple(f"reader-with-a-long-descriptive-name-{i:02d}" for i in range(12))
    name = audit_name(STACK)
    tamper = Watched(
        (name,), name, f"{name}-undelivered", (f"{name}-failed",), ("0" * 36,), roles, anything_else=True
    )
    clauses = watch_clauses(tamper)
    assert {
        "eventSource": ["config.amazonaws.com"],
        "eventName": ["StopConfigurationRecorder", "DeleteConfigurationRecorder"],
    } in clauses
    watch = Watched(({"prefix": f"{name}-tamper"},), f"{name}-tamper", "q", (), ("0" * 36,))
    assert all(c["eventSource"] != ["config.amazonaws.com"] for c in watch_clauses(watch))
    groups = packed(clauses)
    assert len(groups) > 1 and [i for g in groups for i in g] == list(range(len(clauses)))
    assert all(len(compact(watch_pattern([clauses[i] for i in g]))) <= PATTERN_LIMIT for g in groups)


def test_too_many_expected_readers_are_refused_before_anything_is_declared() -> None:
    """The access pattern lists every expected role: past EventBridge's limit the stack is refused,
    naming the key and how many fit (tests/test_fixes.py pastes its fix); five roles still fit."""
    readers = [f"arn:aws:iam::{ACCOUNT}:role/reader-with-a-long-descriptive-name-{i:02d}" for i in range(20)]
    with pytest.raises(ConfigError, match=r"auditExpectedReaders: .* over EventBridge's 2048: \d+ of the 20"):
        run_stack(STACK, overrides={"ai-etl:auditExpectedReaders": readers})
    run = run_stack(STACK, overrides={"ai-etl:auditExpectedReaders": readers[:5]})
    assert all(len(r.inputs["eventPattern"]) <= PATTERN_LIMIT for r in run.of_type(EVENT_RULE))


def test_each_region_has_two_alert_paths_each_under_its_own_key(
    audited: Run, stack_runs: dict[str, Run]
) -> None:
    """Per region: the read rule (in ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, the only state
    read-only events reach) and the access path's watchers publish to the access topic; the tamper
    rules to the tamper topic; each topic under a key of its own (neither the other's nor the
    secrets'), each rule's targets retrying for a day into its path's encrypted dead-letter queue;
    each path's alarms (failed invocations, kept alerts, failed deliveries to a subscriber) publish
    to the other path's topic; each topic has the stack's subscription; the watchers also forward to
    the audit bus, with the forwarding role; without auditBus, nothing is forwarded."""
    n = audit_name(STACK)
    role = audited.one(IAM_ROLE, "-audit-bus-role")
    for region in regions():
        rules = {r.inputs["name"]: r for r in in_region(audited, EVENT_RULE, region)}
        assert rules[n].inputs["state"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
        assert {f"{n}-tamper", f"{n}-watch"} <= set(rules) and all(
            r.inputs["state"] == "ENABLED" for name, r in rules.items() if name != n
        )
        topics = {t.inputs["name"]: t for t in in_region(audited, SNS_TOPIC, region)}
        queues = {q.inputs["name"]: q for q in in_region(audited, SQS_QUEUE, region)}
        assert set(topics) == {n, f"{n}-tamper"} and set(queues) == {
            f"{n}-undelivered",
            f"{n}-tamper-undelivered",
        }
        keys = {k.outputs["arn"]: k for k in in_region(audited, KMS_KEY, region)}
        used = [topics[p].inputs["kmsMasterKeyId"] for p in (n, f"{n}-tamper")]
        assert len(set(used)) == 2 and all("secrets" not in keys[k].name and keys[k].protect for k in used)
        assert all(keys[k].inputs["enableKeyRotation"] for k in used)
        assert all(q.inputs["sqsManagedSseEnabled"] is True for q in queues.values())

        def path(rule: str) -> str:
            return f"{n}-tamper" if rule.startswith(f"{n}-tamper") else n

        for target in (t.inputs for t in in_region(audited, EVENT_TARGET, region)):
            mine = path(target["rule"])
            assert target["deadLetterConfig"] == {"arn": queues[f"{mine}-undelivered"].outputs["arn"]}
            assert target["retryPolicy"] == {"maximumEventAgeInSeconds": 86400, "maximumRetryAttempts": 185}
            if target["targetId"] == "audit-bus":
                assert (
                    target["rule"] != n and target["arn"] == BUS and target["roleArn"] == role.outputs["arn"]
                )
            else:
                assert target["arn"] == topics[mine].outputs["arn"]
        # The access audit's own alarms (the cluster audit's, on a metric of its own, is tested apart).
        alarms = {
            a.inputs["name"]: a.inputs
            for a in in_region(audited, METRIC_ALARM, region)
            if a.inputs["namespace"].startswith("AWS/")
        }
        for name, alarm in alarms.items():
            other = n if path(name) != n else f"{n}-tamper"
            assert alarm["alarmActions"] == [topics[other].outputs["arn"]], name
        assert {(a["namespace"], a["metricName"]) for a in alarms.values()} == {
            ("AWS/Events", "FailedInvocations"),
            ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
            ("AWS/SNS", "NumberOfNotificationsFailed"),
        }
        failed = {
            a["dimensions"]["RuleName"] for a in alarms.values() if a["metricName"] == "FailedInvocations"
        }
        assert failed == set(rules)
        assert {a["dimensions"].get("TopicName") for a in alarms.values()} - {None} == set(topics)
        subscriptions = in_region(audited, SNS_SUBSCRIPTION, region)
        assert sorted(s.inputs["topic"] for s in subscriptions) == sorted(
            t.outputs["arn"] for t in topics.values()
        )
    for run in stack_runs.values():
        assert not [t for t in run.of_type(EVENT_TARGET) if t.inputs["targetId"] == "audit-bus"]
        assert not [r for r in run.resources if r.type == AUDIT_BUS_COMPONENT]


def test_only_the_alert_path_may_publish_and_keep_alerts(audited: Run) -> None:
    """Each topic takes messages from its own path's rules (EventBridge) and the other path's alarms
    (CloudWatch) only; each queue takes undelivered alerts from its own rules only; the audit keys
    let both services encrypt and keep KMS's default statement (nothing locked out); the forwarding
    role may be assumed by EventBridge and may only put events on the audit bus. Each policy passes
    IAM's grammar."""
    n = audit_name(STACK)
    for region in regions():
        rules = {r.inputs["name"]: r.outputs["arn"] for r in in_region(audited, EVENT_RULE, region)}
        every_alarm = in_region(audited, METRIC_ALARM, region)
        alarms = {
            a.inputs["name"]: a.outputs["arn"]
            for a in every_alarm
            if a.inputs["namespace"].startswith("AWS/")
        }
        # The cluster audit's alarm (a metric of its own) reports reads: it publishes to the access topic.
        cluster = [a.outputs["arn"] for a in every_alarm if not a.inputs["namespace"].startswith("AWS/")]
        topics = {t.outputs["arn"]: t.inputs["name"] for t in in_region(audited, SNS_TOPIC, region)}
        queues = {q.outputs["url"]: q.inputs["name"] for q in in_region(audited, SQS_QUEUE, region)}

        def of(path: str, names: dict[str, str]) -> list[str]:
            tamper = path.startswith(f"{n}-tamper")
            return sorted(arn for name, arn in names.items() if name.startswith(f"{n}-tamper") == tamper)

        documents = []
        for topic_policy in in_region(audited, SNS_TOPIC_POLICY, region):
            path = topics[topic_policy.inputs["arn"]]
            policy = json.loads(topic_policy.inputs["policy"])
            events, cloudwatch = policy["Statement"]
            assert (
                events["Principal"] == {"Service": "events.amazonaws.com"}
                and events["Action"] == "sns:Publish"
            )
            assert sorted(events["Condition"]["ArnEquals"]["aws:SourceArn"]) == of(path, rules)
            assert cloudwatch["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            other = f"{n}-tamper" if path == n else n
            assert sorted(cloudwatch["Condition"]["ArnEquals"]["aws:SourceArn"]) == sorted(
                of(other, alarms) + (cluster if path == n else [])
            )
            documents.append(policy)
        for queue_policy in in_region(audited, SQS_QUEUE_POLICY, region):
            path = queues[queue_policy.inputs["queueUrl"]].removesuffix("-undelivered")
            policy = json.loads(queue_policy.inputs["policy"])
            (keep,) = policy["Statement"]
            assert keep["Action"] == "sqs:SendMessage"
            assert sorted(keep["Condition"]["ArnEquals"]["aws:SourceArn"]) == of(path, rules)
            documents.append(policy)
        assert len(documents) == 4
        for key in (k for k in in_region(audited, KMS_KEY, region) if "access-audit" in k.name):
            root, events, alarms = json.loads(key.inputs["policy"])["Statement"]
            assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"} and root["Action"] == "kms:*"
            assert events["Principal"] == {"Service": "events.amazonaws.com"} and "Condition" not in events
            assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
            assert alarms["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
            assert events["Action"] == alarms["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
        for document in documents:
            assert iam_findings(document) == []
    role = audited.one(IAM_ROLE, "-audit-bus-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "events.amazonaws.com"}]
    (forward,) = json.loads(audited.one(IAM_ROLE_POLICY, "-audit-bus-policy").inputs["policy"])["Statement"]
    assert (forward["Action"], forward["Resource"]) == ("events:PutEvents", BUS)
    assert (
        iam_findings(trust, trust=True) == []
        and iam_findings({"Version": "2012-10-17", "Statement": [forward]}) == []
    )
    assert role.inputs["name"] == audit_bus_role(STACK) and len(role.inputs["name"]) <= 64


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
            "Dimensions": [{"Name": k, "Value": v} for k, v in (alarm.get("dimensions") or {}).items()],
            "Statistic": alarm["statistic"], "Period": alarm["period"],
            "EvaluationPeriods": alarm["evaluationPeriods"],
            "Threshold": alarm["threshold"], "ComparisonOperator": alarm["comparisonOperator"],
            "TreatMissingData": alarm["treatMissingData"],
            "AlarmActions": alarm["alarmActions"]})  # fmt: skip
    for target in (t.inputs for t in audited.of_type(EVENT_TARGET)):
        given = {"Id": target["targetId"], "Arn": target["arn"],
                 "DeadLetterConfig": {"Arn": target["deadLetterConfig"]["arn"]}}  # fmt: skip
        given |= {"RoleArn": target["roleArn"]} if target.get("roleArn") else {}
        errors += api_errors("events", "PutTargets", {"Rule": target["rule"], "Targets": [given]})
    for policy in (p.inputs for p in audited.of_type(SNS_TOPIC_POLICY)):
        attribute = {"TopicArn": policy["arn"], "AttributeName": "Policy", "AttributeValue": policy["policy"]}
        errors += api_errors("sns", "SetTopicAttributes", attribute)
    for key in (k.inputs for k in audited.of_type(KMS_KEY)):
        if key.get("policy"):
            errors += api_errors(
                "kms", "PutKeyPolicy", {"KeyId": "k", "PolicyName": "default", "Policy": key["policy"]}
            )
    for role in (r.inputs for r in audited.of_type(IAM_ROLE)):
        errors += api_errors("iam", "CreateRole", {"RoleName": role["name"], "AssumeRolePolicyDocument":
                                                   role["assumeRolePolicy"]})  # fmt: skip
    assert errors == []


def test_alerts_go_to_every_destination_the_stack_names_in_every_region() -> None:
    """An email address and another endpoint (https, SQS, Lambda) each get a subscription of the
    right protocol on each of each region's two topics; each is a valid Subscribe request."""
    queue = f"arn:aws:sqs:{regions()[0]}:{ACCOUNT}:secops-alerts"
    run = run_stack(STACK, overrides={"ai-etl:auditEndpoint": queue})
    subscriptions = run.of_type(SNS_SUBSCRIPTION)
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == sorted(
        [("email", "secops@example.com"), ("sqs", queue)] * 4
    )
    topics = {t.outputs["arn"] for t in run.of_type(SNS_TOPIC)}
    assert {s.inputs["topic"] for s in subscriptions} == topics and len(topics) == 4
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
            "ai-etl:auditBus",
            "arn:aws:sns:us-east-1:123456789012:security",
            "auditBus: must be an event bus ARN",
        ),
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
