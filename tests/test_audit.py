"""Access audited (issue 10, point 1): a read of the environment's secrets by anyone but the operator
(and the roles the stack expects) reaches an encrypted SNS topic. The rule's pattern is held to an
EventBridge pattern matcher no one here wrote (moto's), on CloudTrail records of the shape
CloudTrail writes for Secrets Manager; AWS inputs to the API models and IAM's grammar."""

from __future__ import annotations

import json
import re
import subprocess
from typing import Any

import pytest

from ai_etl.config.settings import ConfigError
from ai_etl.offline.records import Run
from ai_etl.tokens import EVENT_RULE, EVENT_TARGET, KMS_KEY, SNS_SUBSCRIPTION, SNS_TOPIC, SNS_TOPIC_POLICY
from tests.helpers import run_stack
from tests.test_access import api_errors, iam_findings
from tests.tools import tool

ACCOUNT = "111111111111"  # dev's allowedAccountIds
OPERATOR = f"arn:aws:iam::{ACCOUNT}:role/ai-etl-dev-secret-store"
CI_ROLE = f"arn:aws:iam::{ACCOUNT}:role/ci-deploy"

MATCH = """
import json, sys
from moto.events.models import EventPattern
given = json.load(sys.stdin)
pattern = EventPattern.load(given["pattern"])
print(json.dumps([pattern.matches_event(event) for event in given["events"]]))
"""


def matches(pattern: str, events: list[dict[str, Any]]) -> list[bool]:
    """Which events the pattern matches, by moto's EventBridge matcher (in the tools' environment)."""
    result = subprocess.run(
        [str(tool("python")), "-c", MATCH],
        input=json.dumps({"pattern": pattern, "events": events}),
        capture_output=True,
        text=True,
        check=True,
    )
    return list(json.loads(result.stdout))


def read_by(
    identity: dict[str, Any], secret_id: str = "ai-etl/dev/jwt-secret-key", name: str = "GetSecretValue"
) -> dict:
    """A CloudTrail record of a Secrets Manager call, as EventBridge delivers it."""
    return {
        "source": "aws.secretsmanager",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventSource": "secretsmanager.amazonaws.com",
            "eventName": name,
            "userIdentity": identity,
            "requestParameters": {"secretId": secret_id},
        },
    }


def role_session(role_arn: str) -> dict[str, Any]:
    name = role_arn.rsplit("/", 1)[1]
    return {
        "type": "AssumedRole",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/session",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": role_arn}},
    }


@pytest.fixture(scope="module")
def audited() -> Run:
    return run_stack("dev", overrides={"ai-etl:auditExpectedReaders": [CI_ROLE]})


def test_a_read_by_anyone_but_the_expected_roles_raises_an_alert(audited: Run) -> None:
    pattern = audited.one(EVENT_RULE).inputs["eventPattern"]
    arn = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ai-etl/dev/jwt-secret-key-AbCdEf"
    cases = {
        "the operator syncing": (read_by(role_session(OPERATOR)), False),
        "the CI deploy role refreshing": (read_by(role_session(CI_ROLE)), False),
        "another role": (read_by(role_session(f"arn:aws:iam::{ACCOUNT}:role/intruder")), True),
        "an IAM user": (read_by({"type": "IAMUser", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice"}), True),
        "the account root": (read_by({"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"}), True),
        "a read by ARN": (read_by(role_session(f"arn:aws:iam::{ACCOUNT}:role/intruder"), arn), True),
        "another stack's secret": (read_by({"type": "IAMUser"}, "ai-etl/production/jwt-secret-key"), False),
        "a describe, not a read": (read_by({"type": "IAMUser"}, name="DescribeSecret"), False),
    }
    got = matches(pattern, [event for event, _ in cases.values()])
    assert dict(zip(cases, got, strict=True)) == {case: alert for case, (_, alert) in cases.items()}


def test_the_rule_receives_read_only_events_and_publishes_to_the_encrypted_topic(audited: Run) -> None:
    """Read-only management events reach only a rule in ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS;
    the topic is encrypted with the environment's own key, and only this rule may publish to it."""
    rule, topic = audited.one(EVENT_RULE), audited.one(SNS_TOPIC)
    assert rule.inputs["state"] == "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
    assert topic.inputs["kmsMasterKeyId"] == audited.one(KMS_KEY, "-secrets-key").outputs["arn"]
    target = audited.one(EVENT_TARGET).inputs
    assert target["rule"] == rule.inputs["name"] and target["arn"] == topic.outputs["arn"]
    policy = json.loads(audited.one(SNS_TOPIC_POLICY).inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Action"] == "sns:Publish" and statement["Resource"] == topic.outputs["arn"]
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": rule.outputs["arn"]}}
    assert iam_findings(policy) == []


def test_the_key_lets_eventbridge_encrypt_alerts_and_locks_no_one_out(audited: Run) -> None:
    """KMS's default statement stays (the account's IAM policies keep deciding, so the deployer and
    the operator keep their access); EventBridge may only make and open data keys."""
    policy = json.loads(audited.one(KMS_KEY, "-secrets-key").inputs["policy"])
    root, events = policy["Statement"]
    assert root["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"} and root["Action"] == "kms:*"
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert events["Action"] == ["kms:GenerateDataKey*", "kms:Decrypt"]
    errors = api_errors(
        "kms", "PutKeyPolicy", {"KeyId": "k", "PolicyName": "default", "Policy": json.dumps(policy)}
    )
    assert errors == []


def test_audit_inputs_meet_the_api_constraints(audited: Run) -> None:
    rule, topic = audited.one(EVENT_RULE).inputs, audited.one(SNS_TOPIC).inputs
    tags = [{"Key": k, "Value": v} for k, v in rule["tags"].items()]
    errors = api_errors(
        "events",
        "PutRule",
        {"Name": rule["name"], "EventPattern": rule["eventPattern"], "State": rule["state"],
         "Description": rule["description"], "Tags": tags},
    )  # fmt: skip
    errors += api_errors(
        "sns",
        "CreateTopic",
        {"Name": topic["name"], "Attributes": {"KmsMasterKeyId": topic["kmsMasterKeyId"]}},
    )
    target = audited.one(EVENT_TARGET).inputs
    targets = [{"Id": target["targetId"], "Arn": target["arn"]}]
    errors += api_errors("events", "PutTargets", {"Rule": target["rule"], "Targets": targets})
    policy = audited.one(SNS_TOPIC_POLICY).inputs
    attribute = {"TopicArn": policy["arn"], "AttributeName": "Policy", "AttributeValue": policy["policy"]}
    errors += api_errors("sns", "SetTopicAttributes", attribute)
    assert errors == []
    # The provider's own check of a (standard) topic name: hashicorp/terraform-provider-aws
    # internal/service/sns/topic.go, resourceTopicCustomizeDiff.
    assert re.fullmatch(r"[0-9A-Za-z_-]{1,256}", topic["name"])


def test_many_expected_readers_still_fit_the_rule() -> None:
    """PutRule takes a pattern of 4096 characters at most: twenty expected roles still fit."""
    readers = [f"arn:aws:iam::{ACCOUNT}:role/reader-with-a-long-descriptive-name-{i:02d}" for i in range(20)]
    run = run_stack("dev", overrides={"ai-etl:auditExpectedReaders": readers})
    assert (
        api_errors(
            "events", "PutRule", {"Name": "n", "EventPattern": run.one(EVENT_RULE).inputs["eventPattern"]}
        )
        == []
    )


def test_alerts_are_mailed_only_where_the_stack_says() -> None:
    assert not run_stack("dev").of_type(SNS_SUBSCRIPTION)
    run = run_stack("dev", overrides={"ai-etl:auditEmail": "secops@example.com"})
    subscription = run.one(SNS_SUBSCRIPTION).inputs
    assert subscription["protocol"] == "email" and subscription["endpoint"] == "secops@example.com"
    assert subscription["topic"] == run.one(SNS_TOPIC).outputs["arn"]
    assert api_errors("sns", "Subscribe", {"TopicArn": subscription["topic"], "Protocol": "email",
                                           "Endpoint": subscription["endpoint"]}) == []  # fmt: skip


@pytest.mark.parametrize(
    ("key", "value", "expect"),
    [
        ("ai-etl:auditEmail", "not-an-address", "auditEmail: must be an email address"),
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
