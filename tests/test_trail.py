"""The trail is part of the audit, and reads stay in the stack's regions (issue 25, items 1 and 2).

A production-grade stack names a trail that records every read (multi-region, logging, read
management events), or has the program declare one; the lookup goes through Cloud Control, which
the offline render answers with a healthy trail that a test can change (ai_etl/offline/answers.py).
Every secret carries a resource policy refusing reads sent to any region but the stack's two."""

from __future__ import annotations

import fnmatch
import json
from typing import Any

import pytest

from ai_etl import names
from ai_etl.config.settings import ConfigError
from ai_etl.config.trail import logs_reads
from ai_etl.offline.records import Run
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_project
from ai_etl.tokens import (
    EVENT_RULE,
    GET_CLOUDCONTROL_RESOURCE,
    S3_BUCKET,
    S3_BUCKET_POLICY,
    SM_SECRET,
    SM_SECRET_POLICY,
    TRAIL,
)
from tests.helpers import (
    PLACEHOLDERS,
    PRODUCTION_GRADE,
    STANDARD_GRADE,
    aws_client,
    run_cli,
    run_config,
    stack_config,
)
from tests.pasting import fixes
from tests.paths import PROGRAM
from tests.test_access import api_errors, iam_findings

STACK = PRODUCTION_GRADE[0]
CONFIG = stack_config(STACK)
ACCOUNT = str(CONFIG["aws:allowedAccountIds"][0])
PRIMARY, REPLICA = str(CONFIG["aws:region"]), str(CONFIG["ai-etl:replicaRegion"])
TRAIL_KEY = "ai-etl:auditTrail"


def refusal(stack: str, config: dict[str, Any], answers: dict[str, Any] | None = None) -> str:
    """The program's error for `config`, as printed (nothing declared before it)."""
    registrations: list[Any] = []
    with pytest.raises(ConfigError) as raised:
        run_program(stack, config, PLACEHOLDERS, program=PROGRAM, project=load_project(),
                    answers=answers, registrations=registrations)  # fmt: skip
    assert not [r for r in registrations if r.custom], "something was declared before the error"
    return str(raised.value)


@pytest.fixture(scope="module")
def declared() -> tuple[str, Run]:
    """The production-grade stack without a trail: its error, and the run after its fix is applied
    as the CLI stores it."""
    config, secrets = stack_config(STACK, remove=(TRAIL_KEY,)), dict(PLACEHOLDERS)
    message = refusal(STACK, config)
    for line in fixes(message):
        run_cli(line, config, secrets)
    return message, run_config(STACK, config, secrets)


def test_a_production_stack_without_a_trail_is_refused_and_its_fix_declares_one(
    declared: tuple[str, Run],
) -> None:
    """Without `auditTrail` nothing records the reads the alerts watch for: refused, naming the key
    and one fix, which pasted declares a multi-region trail that logs every management event with
    log-file validation, protected, into a bucket of its own that is encrypted, versioned, never
    public and written only by CloudTrail for this trail, over TLS. Its changes alert."""
    message, run = declared
    assert "auditTrail: is required in a production-grade stack" in message
    assert fixes(message) == [f"pulumi config set auditTrail declare --stack {STACK}"]
    (trail,) = run.of_type(TRAIL)
    arn = names.trail_arn("aws", PRIMARY, ACCOUNT, names.trail(STACK))
    assert trail.inputs["name"] == names.trail(STACK) and trail.protect
    assert {k: trail.inputs[k] for k in ("isMultiRegionTrail", "enableLogFileValidation", "enableLogging",
                                         "includeGlobalServiceEvents")} == dict.fromkeys(
        ("isMultiRegionTrail", "enableLogFileValidation", "enableLogging", "includeGlobalServiceEvents"), True
    )  # fmt: skip
    assert trail.inputs["eventSelectors"] == [{"includeManagementEvents": True, "readWriteType": "All"}]
    (bucket,) = run.of_type(S3_BUCKET)
    assert bucket.protect and trail.inputs["s3BucketName"] == bucket.outputs["bucket"]
    by_type = {r.type.rsplit(":", 1)[1]: r.inputs for r in run.resources if r.inputs.get("bucket")}
    assert by_type["BucketPublicAccessBlock"] | {"bucket": None} == {
        "bucket": None, "blockPublicAcls": True, "blockPublicPolicy": True,
        "ignorePublicAcls": True, "restrictPublicBuckets": True,
    }  # fmt: skip
    (rule,) = by_type["BucketServerSideEncryptionConfiguration"]["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}
    assert by_type["BucketVersioning"]["versioningConfiguration"] == {"status": "Enabled"}
    (policy_resource,) = run.of_type(S3_BUCKET_POLICY)
    assert policy_resource.urn in trail.dependencies  # CreateTrail checks the bucket policy
    policy = json.loads(policy_resource.inputs["policy"])
    grants = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert {g["Principal"]["Service"] for g in grants} == {"cloudtrail.amazonaws.com"}
    assert all(g["Condition"]["StringEquals"]["aws:SourceArn"] == arn for g in grants)
    assert iam_findings(policy) == []
    request = {"Name": trail.inputs["name"], "S3BucketName": bucket.outputs["bucket"],
               "IsMultiRegionTrail": True, "EnableLogFileValidation": True,
               "IncludeGlobalServiceEvents": True}  # fmt: skip
    assert api_errors("cloudtrail", "CreateTrail", request) == []
    # The tamper rules watch the trail, by name or ARN, in each region (one rule holds it per region).
    tampers = [
        r.inputs["eventPattern"]
        for r in run.of_type(EVENT_RULE)
        if "-secret-access-tamper" in r.inputs["name"]
    ]
    assert sum(f'"{names.trail(STACK)}"' in t for t in tampers) == 2


BAD_TRAILS = {
    "not multi-region": {"IsMultiRegionTrail": False},
    "has logging off": {"IsLogging": False},
    "does not log read management events": {
        "EventSelectors": [{"IncludeManagementEvents": True, "ReadWriteType": "WriteOnly"}]
    },
    "has its home region in eu-central-1": {"Arn": f"arn:aws:cloudtrail:eu-central-1:{ACCOUNT}:trail/t"},
}


def test_a_named_trail_that_would_miss_reads_is_refused_with_the_fix() -> None:
    """A production-grade stack's trail that is missing, single-region, not logging, blind to reads
    or made in a region no tamper rule watches: refused before anything is declared, naming the key
    and what the trail lacks, with the fix that declares one instead."""
    for said, properties in BAD_TRAILS.items():
        message = refusal(STACK, CONFIG, {GET_CLOUDCONTROL_RESOURCE: {"properties": properties}})
        assert "auditTrail: trail '" in message and said in message, message
        assert fixes(message) == [f"pulumi config set auditTrail declare --stack {STACK}"], message
    message = refusal(STACK, CONFIG, {GET_CLOUDCONTROL_RESOURCE: None})
    assert f"auditTrail: no CloudTrail trail {CONFIG[TRAIL_KEY]!r} in {PRIMARY}" in message
    assert f"aws cloudtrail describe-trails --region {PRIMARY}" in message


def test_a_trail_named_by_arn_is_looked_up_in_its_home_region() -> None:
    """A trail made in the replica region is named by its ARN and read there (GetTrail by name finds
    a trail in its home region only): the lookup asks Cloud Control in that region for that name,
    as the offline answer's ARN (made of the region and identifier asked) shows in the refusal."""
    arn = f"arn:aws:cloudtrail:{REPLICA}:{ACCOUNT}:trail/org-trail"
    answers = {GET_CLOUDCONTROL_RESOURCE: {"properties": {"IsMultiRegionTrail": False}}}
    message = refusal(STACK, stack_config(STACK, {TRAIL_KEY: arn}), answers)
    assert f"auditTrail: trail {arn!r} is not multi-region" in message


def test_a_trail_of_another_account_is_refused_and_a_bad_answer_is_no_traceback() -> None:
    """An organization trail (another account's) is changed by calls in that account, which this
    stack's rules cannot see: refused at production grade, with the fix that declares the stack's
    own. A lookup answering `null` properties is a trail that logs nothing, refused as such."""
    arn = f"arn:aws:cloudtrail:{PRIMARY}:999999999999:trail/org-trail"
    message = refusal(STACK, stack_config(STACK, {TRAIL_KEY: arn}))
    assert f"auditTrail: must be a trail of the stack's account ({ACCOUNT})" in message, message
    assert fixes(message) == [f"pulumi config set auditTrail declare --stack {STACK}"], message
    message = refusal(STACK, CONFIG, {GET_CLOUDCONTROL_RESOURCE: {"properties": "null"}})
    assert "auditTrail: trail '" in message, message


def test_below_production_grade_a_missing_or_blind_trail_is_warned(stack_runs: dict[str, Run]) -> None:
    """A standard stack runs without a trail named, or with one that would miss reads, and says so
    with the fix."""
    standard = STANDARD_GRADE[0]
    assert any(w.startswith("auditTrail is not set") and "auditTrail declare" in w
               for w in stack_runs[standard].warnings)  # fmt: skip
    config = stack_config(standard, {TRAIL_KEY: "account-trail"})
    answers = {GET_CLOUDCONTROL_RESOURCE: {"properties": {"IsMultiRegionTrail": False}}}
    run = run_program(standard, config, PLACEHOLDERS, program=PROGRAM, project=load_project(),
                      answers=answers, registrations=[])  # fmt: skip
    fix = f"fix: pulumi config set auditTrail declare --stack {standard}"
    assert any("is not multi-region" in w and fix in w for w in run.warnings)


def advanced(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"AdvancedEventSelectors": [{"FieldSelectors": list(fields)}]}


MANAGEMENT = {"Field": "eventCategory", "Equals": ["Management"]}


@pytest.mark.parametrize(
    ("properties", "logs"),
    [
        ({}, True),  # no selectors: every management event
        ({"EventSelectors": [{"IncludeManagementEvents": True, "ReadWriteType": "ReadOnly"}]}, True),
        ({"EventSelectors": [{"IncludeManagementEvents": False, "ReadWriteType": "All"}]}, False),
        ({"EventSelectors": [{"IncludeManagementEvents": True, "ReadWriteType": "WriteOnly"}]}, False),
        (advanced(MANAGEMENT), True),
        (advanced(MANAGEMENT, {"Field": "readOnly", "Equals": ["false"]}), False),
        (
            advanced(MANAGEMENT, {"Field": "eventSource", "NotEquals": ["secretsmanager.amazonaws.com"]}),
            False,
        ),
        (advanced(MANAGEMENT, {"Field": "eventSource", "Equals": ["kms.amazonaws.com"]}), False),
        (advanced({"Field": "eventCategory", "Equals": ["Data"]}), False),
    ],
)
def test_which_trails_log_the_reads(properties: dict[str, Any], logs: bool) -> None:
    """Basic and advanced event selectors as the CloudTrail API reference defines them: a trail
    logs GetSecretValue only if some selector keeps read-only management events of Secrets Manager."""
    assert logs_reads(properties) is logs


# The region deny, evaluated as IAM's policy evaluation logic documents it (IAM user guide, "Policy
# evaluation logic" and "IAM JSON policy elements: Condition operators"): moto stores a secret's
# resource policy but evaluates none (getmoto/moto moto/secretsmanager/models.py, put_resource_policy).
def _condition_holds(operator: str, wanted: dict[str, Any], request: dict[str, Any]) -> bool:
    """One condition operator over its keys (all must hold): a negated string operator holds when the
    request's value equals none of the listed, or the key is absent; `...IfExists` holds when absent."""
    holds = []
    for key, values in wanted.items():
        listed = values if isinstance(values, list) else [values]
        given = request.get(key)
        if operator == "StringNotEquals":
            holds.append(given is None or given not in listed)
        elif operator == "BoolIfExists":
            holds.append(given is None or str(given).lower() in listed)
        else:
            raise AssertionError(f"an operator this check does not know: {operator}")
    return all(holds)


def denied(policy: dict[str, Any], action: str, request: dict[str, Any]) -> bool:
    """Whether a Deny statement of `policy` applies to `action` with this request context."""
    for statement in policy["Statement"]:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Deny" or not any(fnmatch.fnmatchcase(action, a) for a in actions):
            continue
        if all(_condition_holds(op, keys, request) for op, keys in statement.get("Condition", {}).items()):
            return True
    return False


@pytest.mark.slow  # the emulator's server
def test_every_secret_refuses_reads_sent_to_any_other_region(
    stack_runs: dict[str, Run], aws: dict[str, str]
) -> None:
    """Each secret of the production-grade stack has one resource policy, BlockPublicPolicy on, that
    Secrets Manager takes (put on a secret in the emulator, read back as it was); by IAM's documented
    evaluation it refuses GetSecretValue (so every batch: it needs GetSecretValue per secret) sent to
    a third region by anyone, a person, the operator or the deploy role, and refuses nothing in the
    stack's two regions nor to AWS services; DescribeSecret stays allowed everywhere."""
    run = stack_runs[STACK]
    secrets = {s.urn: s for s in run.of_type(SM_SECRET)}
    policies = run.of_type(SM_SECRET_POLICY)
    assert sorted(secrets) == sorted(next(d for d in p.dependencies if d in secrets) for p in policies)
    client = aws_client(aws, "secretsmanager", PRIMARY)
    operator = names.role_arn("aws", ACCOUNT, names.operator_role(STACK))
    for resource in policies:
        assert resource.inputs["blockPublicPolicy"] is True
        policy = json.loads(resource.inputs["policy"])
        assert iam_findings(policy) == []
        request = {"SecretId": "s", "ResourcePolicy": resource.inputs["policy"], "BlockPublicPolicy": True}
        assert api_errors("secretsmanager", "PutResourcePolicy", request) == []
        for region, who, service, refused in [
            (PRIMARY, operator, "false", False),
            (REPLICA, f"arn:aws:iam::{ACCOUNT}:role/ci-deploy", "false", False),
            ("eu-central-1", operator, "false", True),
            ("eu-central-1", f"arn:aws:iam::{ACCOUNT}:user/alice", None, True),
            ("eu-central-1", "secretsmanager.amazonaws.com", "true", False),
        ]:
            context: dict[str, str | None] = {"aws:RequestedRegion": region, "aws:PrincipalArn": who}
            context["aws:PrincipalIsAWSService"] = service
            assert denied(policy, "secretsmanager:GetSecretValue", context) is refused, (region, who)
            assert denied(policy, "secretsmanager:DescribeSecret", context) is False
    secret = client.create_secret(Name=names.secret_name(STACK, "jwt-secret-key"), SecretString="fake-value")
    given = policies[0].inputs["policy"]
    client.put_resource_policy(SecretId=secret["ARN"], ResourcePolicy=given, BlockPublicPolicy=True)
    stored = client.get_resource_policy(SecretId=secret["ARN"])["ResourcePolicy"]
    assert json.loads(stored) == json.loads(given)
