"""The guardrails: every rule has a violating and a compliant case, on resources as the engine
hands them to a policy (pulumi_policy's own argument classes, through the pack's own policies);
every stack passes `make check` (python -m ai_etl.ops.check); a program with planted violations
fails it, and so does a repository that loses a checklist line."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)

from ai_etl.guardrails.checklist import report
from ai_etl.guardrails.rules import RULES, Subject, evaluate, rotate_regularly
from ai_etl.names import PROJECT
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.ops.check import check, main
from ai_etl.tokens import (
    AUDIT_ANNOTATION,
    CLUSTER_ANNOTATION,
    ESO_EXTERNAL_SECRET,
    EVENT_RULE,
    EVENT_TARGET,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    K8S_CLUSTER_ROLE,
    K8S_CONFIGMAP,
    K8S_DEPLOYMENT,
    K8S_JOB,
    K8S_NAMESPACE,
    K8S_ROLE,
    K8S_SECRET,
    KMS_KEY,
    RANDOM_PASSWORD,
    SM_SECRET,
    SM_VERSION,
    SNS_SUBSCRIPTION,
    SNS_TOPIC,
    VERSION_ANNOTATION,
)
from tests import fakecli
from tests.helpers import PLACEHOLDERS, PRODUCTION_GRADE, STACKS, copy_project, settings_of, unused
from tests.paths import PROJECT_DIR


def _load_pack() -> Any:
    spec = importlib.util.spec_from_file_location("ai_etl_policies", PROJECT_DIR / "policy" / "policies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


PACK = _load_pack()
POLICY = {p.name: p for p in PACK.POLICIES}


def opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])


def urn(type_: str, name: str, stack: str) -> str:
    return f"urn:pulumi:{stack}::ai-etl::{type_}::{name}"


def violations(rule: str, *resources: dict[str, Any], stack: str = "dev") -> list[str]:
    """What the pack's policy `rule` reports on `resources` ({type, props, name?, protect?, deps?})."""
    found: list[str] = []

    def report(message: str, urn: str | None = None) -> None:
        found.append(message)

    policy = POLICY[rule]
    made: dict[str, PolicyResource] = {}
    for i, r in enumerate(resources):
        name = r.get("name", f"r{i}")
        made[name] = PolicyResource(
            r["type"], r["props"], urn(r["type"], name, stack), name, opts(r.get("protect", False)), None, None,
            [made[d] for d in r.get("deps", [])],
            {k: [made[d] for d in v] for k, v in r.get("property_deps", {}).items()},
        )  # fmt: skip
    if isinstance(policy, StackValidationPolicy):
        policy.validate(StackValidationArgs(list(made.values())), report)
    else:
        for p in made.values():
            args = ResourceValidationArgs(p.resource_type, p.props, p.urn, p.name, p.opts, None)
            policy.validate(args, report)
    return found


def deployment(env: list[dict[str, Any]], namespace: str = "ai-etl-dev") -> dict[str, Any]:
    return {
        "type": K8S_DEPLOYMENT,
        "name": "backend",
        "props": {
            "metadata": {"name": "b", "namespace": namespace},
            "spec": {"template": {"spec": {"containers": [{"name": "c", "env": env}]}}},
        },
    }


PROD = {"Grade": "production"}


def pinned(image: str) -> dict[str, Any]:
    """A production-grade Deployment running `image`."""
    workload = deployment([])
    workload["props"]["metadata"]["labels"] = {"ai-etl.io/grade": "production"}
    workload["props"]["spec"]["template"]["spec"]["containers"][0]["image"] = image
    return workload


REF = {"name": "S", "valueFrom": {"secretKeyRef": {"name": "gen-1", "key": "s"}}}
EXTERNAL_SECRET = {
    "type": ESO_EXTERNAL_SECRET,
    "props": {
        "metadata": {"name": "gen-1", "namespace": "ai-etl-dev"},
        "spec": {"data": [{"secretKey": "s"}]},
    },
}
GOOD_SM = {
    "name": "ai-etl/dev/jwt-secret-key",
    "kmsKeyId": "arn:aws:kms:us-east-1:1:key/k",
    "recoveryWindowInDays": 7,
}
TRUST = {
    "Statement": [{
        "Effect": "Allow", "Principal": {"Federated": "arn:aws:iam::1:oidc-provider/o"},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {"o:sub": "system:serviceaccount:ns:sa", "o:aud": "sts.amazonaws.com"}},
    }]
}  # fmt: skip


def role_and_policy(actions: Any, resources: Any, trust: dict[str, Any] = TRUST) -> list[dict[str, Any]]:
    read = {"Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}
    return [
        {"type": IAM_ROLE, "props": {"name": "reader", "assumeRolePolicy": json.dumps(trust)}},
        {"type": IAM_ROLE_POLICY, "props": {"role": "reader", "policy": json.dumps(read)}},
    ]


ARN = "arn:aws:secretsmanager:us-east-1:1:secret:ai-etl/dev/x-abcdef"
LOOSE_TRUST = {
    "Statement": [
        {**TRUST["Statement"][0], "Condition": {"StringLike": {"o:sub": "system:serviceaccount:*"}}}
    ]
}


def namespace(version: str, audit: str) -> dict[str, Any]:
    annotations = {CLUSTER_ANNOTATION: "prod-eu", VERSION_ANNOTATION: version, AUDIT_ANNOTATION: audit}
    return {"type": K8S_NAMESPACE, "props": {"metadata": {
        "name": "ai-etl-prod-eu", "labels": {"ai-etl.io/grade": "production"}, "annotations": annotations}}}  # fmt: skip


def audit(state: str, subscribed: bool = True, batches: bool = True) -> list[dict[str, Any]]:
    """A secret of dev, a rule on its reads in `state`, and its target: an encrypted topic (with a
    subscriber, if `subscribed`) and a dead-letter queue. `batches`: the rule sees batch reads."""
    ids = [{"prefix": "ai-etl/dev/"}]
    forms = [
        {"requestParameters": {"secretId": ids}},
        {"requestParameters": {"secretIdList": ids}},
        {"requestParameters": {"secretIdList": [{"exists": False}]}},
    ]
    pattern = {"detail": {"eventName": ["GetSecretValue", "BatchGetSecretValue"] if batches else ["GetSecretValue"],
                          "$or": forms if batches else forms[:1]}}  # fmt: skip
    return [
        {"type": SM_SECRET, "props": GOOD_SM},
        {"type": SNS_TOPIC, "name": "topic", "props": {"kmsMasterKeyId": "arn:aws:kms:us-east-1:1:key/k"}},
        {"type": EVENT_RULE, "name": "rule", "props": {"state": state, "eventPattern": json.dumps(pattern)}},
        {"type": EVENT_TARGET, "props": {"deadLetterConfig": {"arn": "arn:aws:sqs:us-east-1:1:q"}},
         "deps": ["rule", "topic"], "property_deps": {"rule": ["rule"], "arn": ["topic"]}},
        *([{"type": SNS_SUBSCRIPTION, "props": {"protocol": "email"}, "deps": ["topic"],
            "property_deps": {"topic": ["topic"]}}] if subscribed else []),
    ]  # fmt: skip


ALL = "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS"
DB_SECRET = {**GOOD_SM, "name": "ai-etl/dev/db-password"}


def rotation_step(waits: bool = True) -> list[dict[str, Any]]:
    """db-password's secret, its step (an ExternalSecret of its verifiers, a Job reading them), and
    a Deployment that waits for the Job, or not."""
    verifiers = {"secretKey": "V", "remoteRef": {"key": "ai-etl/dev/db-password-verifiers", "property": "V"}}
    step_secret = {"metadata": {"name": "step-1", "namespace": "ai-etl-dev"}, "spec": {"data": [verifiers]}}
    env = [{"name": "V", "valueFrom": {"secretKeyRef": {"name": "step-1", "key": "V"}}}]
    job = {
        "metadata": {"name": "step-0", "namespace": "ai-etl-dev"},
        "spec": {"template": {"spec": {"containers": [{"name": "step", "env": env}]}}},
    }
    backend = deployment([])
    return [
        {"type": SM_SECRET, "name": "s", "props": DB_SECRET},
        {"type": ESO_EXTERNAL_SECRET, "name": "es", "props": step_secret},
        {"type": K8S_JOB, "name": "job", "props": job, "deps": ["es"]},
        {**backend, "deps": ["job"] if waits else []},
    ]  # fmt: skip


REPLICATED = {**GOOD_SM, "name": "ai-etl/prod-eu/x", "recoveryWindowInDays": 30, "tags": PROD}
CASES: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], str]] = {
    # rule: (violating resources, compliant resources, stack)
    "generated-secrets-strong": (
        [{"type": RANDOM_PASSWORD, "props": {"length": 16}}],
        [{"type": RANDOM_PASSWORD, "props": {"length": 32}}],
        "dev",
    ),
    "values-not-literal": (
        [{"type": SM_SECRET, "name": "s", "props": GOOD_SM},
         {"type": SM_VERSION, "props": {"secretString": "hunter2hunter2"}, "deps": ["s"]}],
        [{"type": RANDOM_PASSWORD, "name": "p", "props": {"length": 48}},
         {"type": SM_SECRET, "name": "s", "props": GOOD_SM},
         {"type": SM_VERSION, "props": {"secretString": "x"},
          "deps": ["s", "p"], "property_deps": {"secretString": ["p"]}}],
        "dev",
    ),
    "no-plain-credentials": (
        [{"type": K8S_CONFIGMAP, "props": {"data": {"DB_PASSWORD": "x"}}},
         {"type": K8S_SECRET, "props": {"stringData": {"k": "v"}}},
         deployment([{"name": "DATABASE_URL", "value": "postgresql://u:pw@db:5432/x"}])],
        [{"type": K8S_CONFIGMAP, "props": {"data": {"LOG_LEVEL": "info"}}},
         deployment([REF, {"name": "QWEN_API_BASE", "value": "https://api.together.xyz/v1"}])],
        "dev",
    ),
    "secrets-manager-cmk": (
        [{"type": SM_SECRET, "props": {**GOOD_SM, "kmsKeyId": "alias/aws/secretsmanager"}}],
        [{"type": SM_SECRET, "props": GOOD_SM}],
        "dev",
    ),
    "secrets-manager-recovery-window": (
        [{"type": SM_SECRET, "props": {**GOOD_SM, "name": "ai-etl/prod-eu/x", "recoveryWindowInDays": 7, "tags": PROD}}],
        [{"type": SM_SECRET, "props": {**GOOD_SM, "name": "ai-etl/prod-eu/x", "recoveryWindowInDays": 30, "tags": PROD}}],
        "prod-eu",
    ),
    "secrets-manager-name": (
        [{"type": SM_SECRET, "props": {**GOOD_SM, "name": "ai-etl/production/jwt-secret-key"}}],
        [{"type": SM_SECRET, "props": GOOD_SM}],
        "dev",
    ),
    "iam-least-privilege": (
        role_and_policy(["secretsmanager:GetSecretValue"], "*") + [],
        role_and_policy(["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"], [ARN]),
        "dev",
    ),
    "rbac-secrets": (
        [{"type": K8S_CLUSTER_ROLE,
          "props": {"rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]}}],
        [{"type": K8S_ROLE,
          "props": {"rules": [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["gen-1"], "verbs": ["get"]}]}}],
        "dev",
    ),
    "external-secrets-v1": (
        [{"type": "kubernetes:external-secrets.io/v1beta1:ExternalSecret", "props": {}}],
        [EXTERNAL_SECRET],
        "dev",
    ),
    "secret-refs-resolve": (
        [EXTERNAL_SECRET, deployment([{**REF, "valueFrom": {"secretKeyRef": {"name": "gen-1", "key": "other"}}}])],
        [EXTERNAL_SECRET, deployment([REF])],
        "dev",
    ),
    "production-protected": (
        [{"type": KMS_KEY, "props": {"tags": PROD}, "protect": False}],
        [{"type": KMS_KEY, "props": {"tags": PROD}, "protect": True}],
        "prod-eu",
    ),
    "production-images-pinned": (
        [pinned("registry.example.com/app:latest")],
        [pinned("registry.example.com/app:1.0@sha256:" + "0" * 64)],
        "prod-eu",
    ),
    "grade-stated": (
        [{"type": KMS_KEY, "props": {"tags": {"Grade": "standard"}}}],
        [{"type": KMS_KEY, "props": {"tags": PROD}}],
        "production",
    ),
    "secrets-replicated": (
        [{"type": SM_SECRET, "props": REPLICATED}],
        [{"type": SM_SECRET,
          "props": {**REPLICATED, "replicas": [{"region": "us-west-2", "kmsKeyId": "arn:aws:kms:us-west-2:1:key/r"}]}}],
        "prod-eu",
    ),
    "cluster-encrypted-and-audited": (
        [namespace("1.27", "disabled")],
        [namespace("1.31", "enabled")],
        "prod-eu",
    ),
    "access-audited": (audit("ENABLED"), audit(ALL), "dev"),
    "server-rotation-automated": (
        [{"type": SM_SECRET, "name": "s", "props": DB_SECRET}, deployment([])],
        rotation_step(),
        "dev",
    ),
    "rotate-regularly": (
        [{"type": RANDOM_PASSWORD, "name": f"ai-etl-passwords-{key}-2020-01-01",
          "props": {"length": 48, "keepers": {"rotation": "2020-01-01"}}} for key in ("secret-key", "jwt-secret-key")],
        [{"type": RANDOM_PASSWORD,
          "props": {"length": 48, "keepers": {"rotation": dt.date.today().isoformat()}}}],
        "dev",
    ),
}  # fmt: skip


def subjects(resources: list[dict[str, Any]], stack: str) -> list[Subject]:
    """`resources` ({type, props, name?, protect?, deps?}) as the check hands them to the rules."""
    names = [r.get("name", f"r{i}") for i, r in enumerate(resources)]
    return [
        Subject(r["type"], name, urn(r["type"], name, stack), r["props"], r.get("protect", False),
                tuple(urn(resources[names.index(d)]["type"], d, stack) for d in r.get("deps", [])))
        for name, r in zip(names, resources, strict=True)
    ]  # fmt: skip


TODAY = "<today>"
"""Stands for the date the fix was printed on (the test reads the clock around the printing: a run
that crosses midnight prints either day)."""
FIXED_BY = {
    # rule: what its fix stores (the fake CLI, tests/fakecli.py, applying each `pulumi config` argv)
    "generated-secrets-strong": {"ai-etl:passwordLength": "48"},
    "secrets-manager-recovery-window": {"ai-etl:recoveryWindowInDays": "30"},
    "rotate-regularly": {"ai-etl:rotation": {"secret-key": TODAY, "jwt-secret-key": TODAY}},
    "secrets-replicated": {"ai-etl:replicaRegion": "us-west-2"},
    "cluster-encrypted-and-audited": {"ai-etl:clusterName": "<cluster>"},
    "access-audited": {"ai-etl:auditEmail": "<address>"},
    "server-rotation-automated": {},
    "production-protected": {"ai-etl:protect": "true"},
    "production-images-pinned": {"ai-etl:backend": {"image": "<registry>/<image>:<tag>@sha256:<digest>"}},
    "grade-stated": {"ai-etl:grade": "production"},
}
UPS = {"access-audited", "server-rotation-automated"}
"""The rules whose fix ends in `pulumi up` (the program declares what they want)."""


def test_every_fix_the_check_prints_is_one_line_of_bash_the_cli_takes() -> None:
    """`make check` prints, under each failing rule, the command that fixes it: pasted into bash,
    each line must parse (no bare commentary such as `(or standard)`, no unquoted `<placeholder>`,
    which bash reads as a redirect), and run the `pulumi` command lines the CLI takes, for the
    stack checked: `config` ones as cobra parses them (tests/fakecli.py, after pkg/cmd/pulumi/
    config/config.go), storing what the rule wants; a stale rotation is fixed for the very key, with
    today's date. Each rule's violating case (CASES) is checked as `make check` reports it."""
    printed: dict[str, list[str]] = {}
    days = {dt.date.today().isoformat()}
    for rule, (violating, _, stack) in CASES.items():
        given = subjects(violating, stack)
        text, _ = report(stack, given, [f for f in evaluate(given) if f.rule == rule], stated=True)
        printed[rule] = re.findall(r"^ +fix: (.*)$", text, re.M)
        assert len(printed[rule]) == text.count("fix: "), "a fix spans lines"
    days.add(dt.date.today().isoformat())
    assert {rule for rule, lines in printed.items() if lines} == set(FIXED_BY)
    assert len(printed["rotate-regularly"]) == 2, "one fix per stale key"
    record = 'pulumi() { printf "%s\\0" "$#" "$@"; }'
    for rule in FIXED_BY:
        lines, stack = printed[rule], CASES[rule][2]
        config: dict[str, Any] = {}
        ups = 0
        for line in lines:
            ran = subprocess.run(
                ["bash", "--noprofile", "--norc", "-c", f"{record}\n{line}"], capture_output=True, check=False
            )
            assert (ran.returncode, ran.stderr) == (0, b""), f"{rule}: {line}\n{ran.stderr.decode()}"
            words = iter(ran.stdout.decode().split("\0")[:-1])
            for count in words:
                argv = [next(words) for _ in range(int(count))]
                if argv[0] == "up":
                    assert argv == ["up", "--stack", stack], line
                    ups += 1
                    continue
                assert fakecli.parse_args(argv)[1]["stack"] == stack, line
                fakecli.apply(argv, config, PROJECT, lambda: None)
        wanted = [json.loads(json.dumps(FIXED_BY[rule]).replace(TODAY, day)) for day in sorted(days)]
        assert config in wanted, f"{rule}: {lines}"
        assert bool(ups) == (rule in UPS), f"{rule}: {lines}"


def test_alerts_that_reach_no_one_or_miss_batches_fail_the_audit() -> None:
    """A rule firing into a topic nobody subscribed to, or blind to BatchGetSecretValue, audits
    nothing a person sees: access-audited fails it, as `make check` and every preview show."""
    assert violations("access-audited", *audit(ALL, subscribed=False)) == [
        "the access alerts in the stack's region reach no one: nothing subscribes to their topic"
    ]
    assert violations("access-audited", *audit(ALL, batches=False))


def test_every_rule_has_cases() -> None:
    assert set(CASES) == {rule.name for rule in RULES} == set(POLICY)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_reports_the_violating_case(rule: str) -> None:
    bad, _, stack = CASES[rule]
    assert violations(rule, *bad, stack=stack)


@pytest.mark.parametrize("rule", sorted(CASES))
def test_rule_accepts_the_compliant_case(rule: str) -> None:
    _, good, stack = CASES[rule]
    assert violations(rule, *good, stack=stack) == []


def test_a_backend_that_does_not_wait_for_the_rotation_step_is_refused() -> None:
    """With the step declared but the Deployment not depending on its Job, the backend could roll
    onto a password the server does not have yet."""
    found = violations("server-rotation-automated", *rotation_step(waits=False))
    assert found == ["backend: may roll before the rotation step of db-password set it on the server"]


def test_trust_for_any_service_account_is_refused() -> None:
    """A StringLike on `:sub` would let every account of the cluster read the secrets."""
    found = violations(
        "iam-least-privilege", *role_and_policy(["secretsmanager:GetSecretValue"], [ARN], LOOSE_TRUST)
    )
    assert any("exactly one service account" in m for m in found)


def test_only_rotation_age_and_the_grade_notice_are_advisory() -> None:
    levels = {p.name: p.enforcement_level for p in PACK.POLICIES}
    assert levels.pop("rotate-regularly") == EnforcementLevel.ADVISORY
    assert levels.pop("grade-stated") == EnforcementLevel.ADVISORY
    assert set(levels.values()) == {EnforcementLevel.MANDATORY}


def test_rotation_age_counts_from_today() -> None:
    s = Subject(
        RANDOM_PASSWORD,
        "p",
        "urn:pulumi:dev::x",
        {"keepers": {"rotation": "2026-01-01"}},
    )
    assert list(rotate_regularly(s, today=dt.date(2026, 3, 1))) == []
    assert list(rotate_regularly(s, today=dt.date(2026, 6, 1)))


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_passes_offline_check(stack: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Every mandatory rule passes on the committed stacks; the checklist has the guide's ten lines."""
    assert main([stack]) == 0
    out = capsys.readouterr().out
    assert out.count("[pass]") >= 12 and "[FAIL]" not in out
    assert sum(1 for line in out.splitlines() if line[:5].strip().rstrip(".").isdigit()) == 10
    outside = [line for line in out.splitlines() if "[outside this program]" in line]
    assert len(outside) == 2 and "config.py" in outside[0] and "Team trained" in outside[1]
    assert "[pass] Secrets are backed up (encrypted)" in out
    # Lines 6 and 7 rest on the cluster the program looked up: offline, an invented one.
    assert "Lookups: the offline stand-in answers" in out
    for line in ("Secrets are encrypted at rest", "Access to secrets is audited"):
        assert f"[not decided offline: rests on the cluster lookup] {line}" in out
    standard = "standard grade: a standard-grade stack keeps the recovery window only"
    assert (standard in out) == (load_stack_config(stack).get("ai-etl:grade") != "production")


def test_lines_resting_on_the_lookup_are_decided_from_given_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the real cluster's answers in a file, the lines resting on the lookup are decided, and
    say from which answers; no line says it was not decided."""
    answers = tmp_path / "answers.yaml"
    answers.write_text("aws:eks/getCluster:getCluster:\n  version: '1.31'\n")
    assert main(["production", "--answers", str(answers)]) == 0
    out = capsys.readouterr().out
    assert f"Lookups: answered from {answers}" in out and "not decided" not in out
    assert f"[pass, from the lookup answers in {answers}] Access to secrets is audited" in out


def test_the_check_meets_another_cluster_through_answers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--answers FILE` replaces what a lookup answers, for the check as for the render: a
    production-grade stack (whatever its name) on a 1.27 cluster is refused before any rule runs,
    as `pulumi preview` would; a file that is not a mapping of function tokens is an error."""
    answers = tmp_path / "answers.yaml"
    answers.write_text("aws:eks/getCluster:getCluster:\n  version: '1.27'\n")
    assert main([PRODUCTION_GRADE[0], "--answers", str(answers)]) == 2
    err = capsys.readouterr().err
    cluster = settings_of(PRODUCTION_GRADE[0]).config.cluster_name
    assert f"error: cluster '{cluster}' refused" in err and "--kubernetes-version 1.28" in err
    answers.write_text("- not a mapping\n")
    assert main(["dev", "--answers", str(answers)]) == 2
    assert "expected a mapping of function tokens" in capsys.readouterr().err


PLANTED = """
import json
import pulumi
import pulumi_aws as aws
import pulumi_kubernetes as k8s
from ai_etl.program import main

main()
k8s.core.v1.ConfigMap("leaky", metadata={"name": "leaky", "namespace": "ai-etl-dev"},
                      data={"DB_PASSWORD": "not-a-real-one"})
k8s.rbac.v1.ClusterRole("lister", metadata={"name": "lister"},
                        rules=[{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}])
aws.iam.RolePolicy("wide", name="wide", role="ai-etl-dev-secret-store", policy=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "secretsmanager:*", "Resource": "*"}]}))
"""


def test_planted_violations_fail_the_check(tmp_path: Path) -> None:
    """A ConfigMap holding a password, a ClusterRole listing secrets and an IAM policy with `*`."""
    program = tmp_path / "planted.py"
    program.write_text(PLANTED)
    run = run_program("dev", load_stack_config("dev"), PLACEHOLDERS, program=program, project=PROJECT)
    text, failed = check(run)
    assert failed
    for rule in ("no-plain-credentials", "rbac-secrets", "iam-least-privilege"):
        assert f"[FAIL] {rule} (mandatory)" in text
    assert "[FAIL] Kubernetes Secrets are created with proper RBAC" in text
    assert "[FAIL] Separate secrets for each environment" in text, "iam-least-privilege decides it"
    summary = re.fullmatch(
        r"3 failed, (\d+) warned, (\d+) passed, (\d+) not decided offline", text.splitlines()[-1]
    )
    assert summary and 3 + sum(map(int, summary.groups())) == len(RULES), "every rule counted once"
    assert sum(line.startswith("  [FAIL] iam-least-privilege") for line in text.splitlines()) == 1


def rename_stack(tmp_path: Path, source: str, target: str, drop: tuple[str, ...] = ()) -> Path:
    """A copy of the project whose stack `target` has `source`'s stack file, less the `drop` keys."""
    folder = copy_project(tmp_path / "project")
    text = (folder / f"Pulumi.{source}.yaml").read_text()
    kept = "\n".join(line for line in text.splitlines() if not any(f"ai-etl:{k}:" in line for k in drop))
    (folder / f"Pulumi.{target}.yaml").write_text(kept + "\n")
    return folder


def test_a_stack_of_any_name_that_states_production_grade_gets_every_production_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`prod-eu` (or a name like it no stack has), stating `grade: production`, is checked as
    production; with protection off, the program refuses it before anything is declared, naming
    the key and the fix."""
    name = unused("prod-eu", STACKS)
    folder = rename_stack(tmp_path, PRODUCTION_GRADE[0], name)
    assert main([name, "-C", str(folder)]) == 0
    out = capsys.readouterr().out
    assert f"Grade: production (stated by ai-etl:grade in Pulumi.{name}.yaml)" in out
    assert "[pass] production-protected (mandatory)" in out and "[warn] grade-stated" not in out
    stack_file = folder / f"Pulumi.{name}.yaml"
    stack_file.write_text(stack_file.read_text().replace("ai-etl:protect: true", "ai-etl:protect: false"))
    assert main([name, "-C", str(folder)]) == 2
    assert "protect: must be true in a production-grade stack" in capsys.readouterr().err


def test_a_repository_that_loses_a_checklist_line_fails_the_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two lines of the guide's checklist concern the repository, not the stack: `.env` in
    .gitignore, and the rotation runbook. Without them the check fails on those lines alone."""
    folder = copy_project(tmp_path / "project")
    gitignore = folder / ".gitignore"
    gitignore.write_text("\n".join(line for line in gitignore.read_text().splitlines() if line != ".env"))
    runbooks = folder / "docs" / "runbooks.md"
    runbooks.write_text(runbooks.read_text().replace("## Rotation runbook", "## Rotation"))
    assert main(["dev", "-C", str(folder)]) == 1
    out = capsys.readouterr().out
    assert "[FAIL] `.env` file is in `.gitignore`" in out
    assert "[FAIL] Secret rotation schedule is documented" in out
    assert "  [FAIL] gitignore-env: add `.env` to .gitignore" in out
    assert "  [FAIL] rotation-documented: document the rotation runbook" in out
    assert out.strip().splitlines()[-1].startswith("2 failed, ")


def test_a_stack_called_production_that_states_no_grade_is_told_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The name alone makes nothing production-grade, and the check and the pack say so rather
    than let it go without the production rules silently."""
    folder = rename_stack(
        tmp_path, PRODUCTION_GRADE[0], "production", drop=("grade", "recoveryWindowInDays", "protect")
    )
    assert main(["production", "-C", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "Grade: standard (ai-etl:grade not stated: the default)" in out
    assert "[warn] grade-stated (advisory)" in out and "the production rules do not apply" in out
    assert "fix: pulumi config set grade production --stack production  # or standard: the grade" in out
    assert (
        out.strip().splitlines()[-1] == f"0 failed, 1 warned, {len(RULES) - 2} passed, 1 not decided offline"
    )
