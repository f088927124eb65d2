"""The daily watch: each secret's age read from the stack's state (when its Secrets Manager value
was last made, not what the rotation value says), and the rotation issue's body. The workflow's own
steps that open, update or close the issues run in tests/test_ci_jobs.py."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ai_etl.names import audit_name, key_of_secret_name, secret_name
from ai_etl.offline.records import Run, unwrap
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.ops import health
from ai_etl.ops.watch import MARKER, ages, main, report
from ai_etl.tokens import SM_SECRET, SM_VERSION, SNS_SUBSCRIPTION
from tests.helpers import PRODUCTION_GRADE
from tests.test_ci_jobs import fakes, run_job
from tests.test_workflows import workflow

TODAY = dt.date(2026, 11, 28)


def export(run: Run, created: Mapping[str, str | None]) -> dict[str, Any]:
    """The program's own resources (an offline run of the real program), as `pulumi stack export`
    lays them out, each SecretVersion created at `created[key]` (keys not given: unknown)."""
    names = {r.outputs["arn"]: r.inputs["name"] for r in run.of_type(SM_SECRET)}
    resources: list[dict[str, Any]] = []
    for r in run.resources:
        record = {"urn": r.urn, "type": r.type, "inputs": unwrap(r.inputs), "outputs": unwrap(r.outputs)}
        if r.type == SM_VERSION:
            when = {secret_name(run.stack, k): v for k, v in created.items()}.get(names[r.inputs["secretId"]])
            record |= {"created": when} if when else {}
        resources.append(record)
    return {"version": 3, "deployment": {"resources": resources}}


def test_age_is_when_the_value_was_last_made(stack_runs: dict[str, Run]) -> None:
    """A secret rotated 10 days ago is 10 days old; one never rotated is as old as its first
    deploy; a checkpoint without times gives an unknown age, which the report lists too. The keys
    come from the state the real program leaves, so renaming a resource cannot hide from the watch."""
    run = stack_runs["production"]
    created = {"jwt-secret-key": "2026-11-18T09:00:00.123456789Z", "qwen-api-key": "2026-06-01T00:00:00Z"}
    found = ages("production", export(run, created), TODAY)
    days = {a.key: a.days for a in found}
    assert len(found) == len(run.of_type(SM_VERSION)) == len(days), "one age per stored value"
    assert days.pop("jwt-secret-key") == 10 and days.pop("qwen-api-key") == 180
    assert "secret-key" in days and set(days.values()) == {None}
    body = report(found)
    assert body.startswith(MARKER) and "| production | `qwen-api-key` | 180 |" in body
    assert "| production | `secret-key` | unknown |" in body and "jwt-secret-key" not in body
    fresh = [a for a in found if a.key == "jwt-secret-key"]
    assert report(fresh) == "", "nothing older than 90 days: no body, and the issue closes"


def test_the_cli_measures_per_stack_and_reports_them_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack_runs: dict[str, Run]
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(export(stack_runs["production"], {"qwen-api-key": "2026-01-01T00:00:00Z"})))
    main(["ages", f"production={state}", "--today", TODAY.isoformat()])
    (tmp_path / "production.json").write_text(capsys.readouterr().out)
    main(["report", str(tmp_path / "production.json")])
    assert "| production | `qwen-api-key` | 331 |" in capsys.readouterr().out


# --- replicas and alert subscriptions, asked of AWS (ai_etl/ops/health.py) ----------------------


def emulated_production(aws: dict[str, str], run: Run, leftover: str | None) -> dict[str, Any]:
    """Two of a production-grade stack's secrets made in the emulator as `pulumi up` makes them
    (each with its replica; two keep the AWS CLI's calls few), after a secret named `leftover` was
    left in the replica region; and the state that records them (the emulator's ARNs), as `pulumi
    stack export` writes it."""
    import boto3

    def client(service: str, region: str) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=aws["AWS_ENDPOINT_URL"],
                            aws_access_key_id="testing", aws_secret_access_key="testing")  # fmt: skip

    secrets = run.of_type(SM_SECRET)[:2]
    replica = secrets[0].inputs["replicas"][0]["region"]
    primary = str(load_stack_config(run.stack)["aws:region"])
    if leftover:
        client("secretsmanager", replica).create_secret(Name=leftover, SecretString="left behind")
    resources = []
    for secret in secrets:
        made = client("secretsmanager", primary).create_secret(
            Name=secret.inputs["name"], AddReplicaRegions=[{"Region": replica}]
        )
        outputs = {"arn": made["ARN"], "name": secret.inputs["name"]}
        resources.append({"urn": secret.urn, "type": SM_SECRET, "id": made["ARN"],
                          "inputs": unwrap(secret.inputs), "outputs": outputs})  # fmt: skip
    sns = client("sns", primary)
    topic = sns.create_topic(Name=audit_name(run.stack))["TopicArn"]
    confirmed = sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="secops@example.com",
                              ReturnSubscriptionArn=True)["SubscriptionArn"]  # fmt: skip
    resources.append({"urn": "urn:sub", "type": SNS_SUBSCRIPTION, "id": confirmed,
                      "inputs": {"protocol": "email"}, "outputs": {"arn": confirmed}})  # fmt: skip
    return {"version": 3, "deployment": {"resources": resources}}


@pytest.mark.slow  # the AWS CLI against the emulator's server, a second or so a call
@pytest.mark.parametrize("left", [False, True])
def test_the_watch_opens_an_issue_for_a_replica_out_of_sync(
    aws: dict[str, str], tmp_path: Path, stack_runs: dict[str, Run], left: bool
) -> None:
    """The watch's step, as written, with the real AWS CLI against moto's server: a replica that
    failed (a secret of its name left in the replica region) opens the stack's issue naming it and
    AWS's reason; all in sync (and the subscription confirmed), no issue. The stack: a
    production-grade one, which has a replica region, whatever its name."""
    stack = PRODUCTION_GRADE[0]
    run = stack_runs[stack]
    first = str(run.of_type(SM_SECRET)[0].inputs["name"])
    leftover = key_of_secret_name(stack, first)
    name = first if left else None
    state = tmp_path / "export.json"
    state.write_text(json.dumps(emulated_production(aws, run, name)))
    stub = fakes(
        tmp_path, pulumi_stacks={stack: {"resourceCount": 1, "export": json.loads(state.read_text())}}
    )
    env = {**aws, **stub.env, "PATH": f"{stub.env['PATH'].split(':')[0]}:{aws['PATH']}"}
    env.pop("FAKE_PULUMI_BACKEND")  # logged in by the drift step before this one
    (Path(stub.env["PATH"].split(":")[0]) / "aws").unlink()  # this step asks the real AWS CLI
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    root = Path(__file__).resolve().parent.parent
    (workspace / "ai_etl").symlink_to(root / "ai_etl")
    (workspace / ".venv").symlink_to(root / ".venv")
    watch = workflow("watch")
    job = watch["jobs"]["stack"]
    (step,) = [s for s in job["steps"] if str(s.get("name", "")).startswith("Replicas in sync")]
    values = {"github.token": "t", "github.repository": "acme/ai-etl", "matrix.stack": stack,
              "secrets.PULUMI_CONFIG_PASSPHRASE": "not-used-offline"}  # fmt: skip
    run_job(
        {"steps": [step]},
        workspace,
        values | {"steps.drift.outputs.state": "clean", "steps.drift.outputs.ref": stack},
        env,
        workflow=watch,
    )
    issues = stub.github()["issues"]
    if not left:
        assert issues == []
        return
    (issue,) = issues
    assert issue["title"] == f"Replicas or alerts need attention in stack {stack}"
    body = (workspace / "health.md").read_text()
    replica = load_stack_config(stack)["ai-etl:replicaRegion"]
    assert f"| {stack} | `{leftover}` in {replica} | Failed: " in body and "already exists" in body
    assert not (workspace / "state.json").exists(), "the state is not left on the runner"


def test_a_subscription_pending_confirmation_is_reported(stack_runs: dict[str, Run]) -> None:
    """An alert subscription whose recipient never followed the link delivers nothing: the watch
    reports it (GetSubscriptionAttributes' PendingConfirmation, as the SNS API reference spells it);
    a call that fails is reported too, never taken for health."""
    arn = "arn:aws:sns:us-east-1:222222222222:ai-etl-production-secret-access:0b1c2d3e"
    export = {"deployment": {"resources": [
        {"type": SNS_SUBSCRIPTION, "id": arn, "inputs": {"protocol": "email"}, "outputs": {"arn": arn}},
        {"type": SNS_SUBSCRIPTION, "id": arn + "f", "inputs": {"protocol": "https"},
         "outputs": {"arn": arn + "f"}},
    ]}}  # fmt: skip

    def answer(args: list[str]) -> dict[str, Any]:
        if args[-3].endswith("f"):
            raise subprocess.CalledProcessError(254, args, stderr="An error occurred (AuthorizationError)")
        return {"Attributes": {"PendingConfirmation": "true", "SubscriptionArn": args[-3]}}

    found = health.findings("production", export, answer)
    assert [(f.what, f.detail.split(":")[0]) for f in found] == [
        (
            "email subscription to `us-east-1:222222222222:ai-etl-production-secret-access`",
            "pending confirmation",
        ),
        (
            "https subscription to `us-east-1:222222222222:ai-etl-production-secret-access`",
            "could not be read",
        ),
    ]
    assert health.report(found).startswith(health.MARKER)
    assert health.report([]) == ""
