"""Every fix the program prints works when pasted into bash exactly as printed, keeps the value the
user gave, and runs nothing else; and the values that would harm are refused (or warned about),
their secrets never echoed.

Each case writes a stack file into a copy of the project, runs the program on it, pastes every
printed `fix:` line into `bash -c` with a `pulumi` on the PATH that changes the stack file as the
CLI would (tests/fakecli.py), and runs the program again on the result.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from ai_etl.config.problems import SHOWN
from ai_etl.masking import SECRET_SHOWN
from ai_etl.offline.records import Run
from ai_etl.offline.stackconfig import StackFileError, load_stack_config
from tests import fakecli
from tests.helpers import PLACEHOLDERS
from tests.pasting import CANARY, PROMPTED, SAMPLES, Project, filled, fixes, hostile, own, project
from tests.paths import PROJECT_DIR

__all__ = ["project"]  # the fixture


@dataclass(frozen=True)
class Case:
    """A stack file with a mistake, what the error must say, and what the fixed file must hold."""

    name: str
    changes: dict[str, Any]
    says: tuple[str, ...]
    then: dict[str, Any] = field(default_factory=dict)
    """Keys the stack file holds once the fixes ran (None: the key is gone)."""
    stack: str = "dev"
    remove: tuple[str, ...] = ()
    hidden: tuple[str, ...] = ()
    """Text that must not appear in the error (a secret value)."""
    typed: str = PROMPTED
    """What the user types at each prompt a fix opens (one whose value it must not print)."""


HOSTILE_NAMES = (
    f"$(touch {CANARY})",
    f"`touch {CANARY}`",
    f"x; touch {CANARY}",
    f"x' ; touch {CANARY}; echo '",
    f"x\ntouch {CANARY}",
    f"x && touch {CANARY}",
    f"x > {CANARY}",
    f"x | tee {CANARY}",
    "-rf",
    "--stack=production",
    "a.b",
    "x[0]",
    'x"y',
    "*",
    "x\ty",
    "x\x1b[31mred",
    "été",
    "x\\",
)
"""Key names that run, redirect, glob, split or hide something when pasted unquoted."""
HOSTILE_VALUES = (
    f"$(touch {CANARY})",
    f"'; touch {CANARY}; '",
    f"a\ntouch {CANARY}",
    "-1",
    "true",
    "007",
)
"""Rotation values that must reach the stack file unchanged, or (a newline) not at all."""

CASES = [
    *(
        Case(f"unknown top-level key {name!r}", {f"ai-etl:{name}": 1}, ("is not a setting",), {f"ai-etl:{name}": None})
        for name in HOSTILE_NAMES
    ),
    *(
        Case(f"unknown backend key {name!r}", {"ai-etl:backend": {name: 1}}, ("is not a setting",))
        for name in HOSTILE_NAMES
        if not name.endswith("\\")
    ),
    *(
        Case(f"unknown rotation key {name!r}", {"ai-etl:rotation": {name: "x"}}, ("is not a setting",),
             {"ai-etl:rotation": {}})
        for name in HOSTILE_NAMES
        if not name.endswith("\\")
    ),
    *(
        Case(f"misspelt rotation key with value {value!r}", {"ai-etl:rotation": {"jwt-secret": value}},
             ("did you mean jwt-secret-key?",),
             # a rotation value is one line of text: a value the right key refuses is not moved
             {"ai-etl:rotation": {"jwt-secret-key": value} if "\n" not in value else {}})
        for value in HOSTILE_VALUES
    ),
    Case("misspelt nested key keeps its value", {"ai-etl:backend": {"portt": 8080}},
         ("backend.portt: is not a setting", "did you mean port?"),
         {"ai-etl:backend": {**load_stack_config("dev", PROJECT_DIR)["ai-etl:backend"], "port": 8080}}),
    # dev sets replicas: 1, which the program reads; the misspelt one goes, and says so
    Case("misspelt nested key beside the key it misspells", {"ai-etl:backend": {"replica": 4}},
         ("backend.replica: is not a setting", "did you mean replicas? replicas is set too"),
         {"ai-etl:backend": load_stack_config("dev", PROJECT_DIR)["ai-etl:backend"]}),
    Case("misspelt top-level key keeps its value", {"ai-etl:replicaRegon": "us-west-2"},
         ("did you mean replicaRegion?",), {"ai-etl:replicaRegon": None, "ai-etl:replicaRegion": "us-west-2"}),
    Case("misspelt number keeps its value", {"ai-etl:passwordLenght": 64},
         ("did you mean passwordLength?",), {"ai-etl:passwordLength": "64"}),
    Case("misspelt object keeps every value", {"ai-etl:databse": {"port": 5433, "name": "007"}},
         ("did you mean database?",), {"ai-etl:database": {"port": 5433, "name": "007"}}),
    Case("misspelt list keeps every item", {"ai-etl:auditExpectedReader": ["arn:aws:iam::111111111111:role/ci"]},
         ("did you mean auditExpectedReaders?",),
         {"ai-etl:auditExpectedReaders": ["arn:aws:iam::111111111111:role/ci"]},
         remove=("ai-etl:auditExpectedReaders",)),  # the stack file's own list would be kept instead
    Case("misspelt key with a value the right key refuses", {"ai-etl:replicaRegon": "mars-1"},
         ("did you mean replicaRegion?",), {"ai-etl:replicaRegon": None, "ai-etl:replicaRegion": None}),
    *(
        Case(f"a server credential's generation {value!r}", {"ai-etl:rotation": {key: value}},
             (f"rotation.{key}: must be a whole number of 0 or more",), {"ai-etl:rotation": {key: 1}})
        for key in ("db-password", "redis-password")
        for value in ("2026-12-01", -1, "1.5", " ", f"$(touch {CANARY})")
    ),
    Case("a required step image missing", {}, ("stepImage: is required",),
         {"ai-etl:stepImage": "registry.example.com/ai-etl-step:1.0.0@sha256:" + "0" * 64},
         remove=("ai-etl:stepImage",)),
    Case("rotation given as a list", {"ai-etl:rotation": ["jwt-secret-key"]},
         ("rotation: must be an object",), {"ai-etl:rotation": None}),
    Case("reader list given as one reader", {"ai-etl:auditExpectedReaders": "arn:aws:iam::111111111111:role/ci"},
         ("auditExpectedReaders: must be a list",),
         {"ai-etl:auditExpectedReaders": ["arn:aws:iam::111111111111:role/ci"]}),
    Case("reader list given as something else", {"ai-etl:auditExpectedReaders": "everyone"},
         ("auditExpectedReaders: must be a list",), {"ai-etl:auditExpectedReaders": None}),
    Case("backend given as its image", {"ai-etl:backend": "registry.example.com/x:1.0"},
         ("backend: must be an object of settings",),
         {"ai-etl:backend": {"image": "registry.example.com/x:1.0"}}),
    Case("database given as a host", {"ai-etl:database": "postgres-svc"},
         ("database: must be an object of settings",), {"ai-etl:database": None}),
    Case("a required key missing", {}, ("clusterName: is required",), {"ai-etl:clusterName": "ai-etl-dev"},
         remove=("ai-etl:clusterName",)),
    Case("a quantity that is not one", {"ai-etl:backend": {"cpuLimit": "two"}},
         ("backend.cpuLimit: must be a Kubernetes quantity",)),
    Case("project name with '_'", {"ai_etl:replicaRegion": "us-west-2"},
         ("ai_etl:replicaRegion: is under 'ai_etl'", "did you mean ai-etl:replicaRegion?"),
         {"ai_etl:replicaRegion": None, "ai-etl:replicaRegion": "us-west-2"}),
    Case("project name misspelt", {"aws-etl:passwordLength": 64},
         ("aws-etl:passwordLength: is under 'aws-etl'",), {"aws-etl:passwordLength": None, "ai-etl:passwordLength": "64"}),
    # dev sets ai-etl:protect, which the program reads: it is never overwritten unmentioned
    Case("project name misspelt, the key meant set too", {"aws-etl:protect": True},
         ("aws-etl:protect: is under 'aws-etl'", "protect is set too"),
         {"aws-etl:protect": None, "ai-etl:protect": False}),
    Case("project name in capitals, key misspelt too", {"Ai-Etl:replicaRegon": "us-west-2"},
         ("did you mean ai-etl:replicaRegion?",), {"ai-etl:replicaRegion": "us-west-2"}),
    Case("project name misspelt, an object under it", {"ai_etl:rotation": {"secret-key": "2026-12-01"}},
         ("ai_etl:rotation",), {"ai-etl:rotation": {"secret-key": "2026-12-01"}}),
    Case("project name misspelt, a secret under it", {"ai_etl:qwenApiKey": fakecli.encrypted("sk-live-123")},
         ("ai_etl:qwenApiKey", "qwenApiKey is set too"),
         {"ai_etl:qwenApiKey": None, "ai-etl:qwenApiKey": fakecli.encrypted(PLACEHOLDERS["ai-etl:qwenApiKey"])},
         hidden=("sk-live-123",)),
    Case("project name misspelt, a key no one knows", {"ai_etl:frobnicate": 1},
         ("ai_etl:frobnicate",), {"ai_etl:frobnicate": None}),
    Case("qwenApiBase over http", {"ai-etl:qwenApiBase": "http://llm.example.com/v1"},
         ("qwenApiBase: must be an https URL",), {"ai-etl:qwenApiBase": "https://llm.example.com/v1"}),
    Case("qwenApiBase with user and password", {"ai-etl:qwenApiBase": "https://bob:hunter22@llm.example.com/v1"},
         ("without credentials (user:password@)", "'https://***@llm.example.com/v1'"),
         {"ai-etl:qwenApiBase": "https://llm.example.com/v1"}, hidden=("hunter22", "bob")),
    *(
        # The fix prints no query value (`model=q` is no credential, `code=` may well be one): it
        # prompts, and the user types the URL without the credential.
        Case(f"qwenApiBase with ?{name}=", {"ai-etl:qwenApiBase": f"https://llm.example.com/v1?model=q&{name}=zz-Secret-42"},
             (f"query {name}", "model=***"), {"ai-etl:qwenApiBase": "https://llm.example.com/v1?model=q"},
             hidden=("zz-Secret-42", "model=q"), typed="https://llm.example.com/v1?model=q")
        for name in ("api_key", "key", "token", "apiKey", "access_token", "X-Amz-Signature", "client_secret", "password")
    ),
    Case("qwenApiBase with a key after ';'", {"ai-etl:qwenApiBase": "https://llm.example.com/v1?m=1;key=zz-Secret-42"},
         ("query key",), {"ai-etl:qwenApiBase": "https://llm.example.com/v1?m=1"}, hidden=("zz-Secret-42", "m=1"),
         typed="https://llm.example.com/v1?m=1"),
    Case("qwenApiBase with a key in the fragment", {"ai-etl:qwenApiBase": "https://llm.example.com/v1#api_key=zz-Secret-42"},
         ("without a fragment", "'https://llm.example.com/v1#***'"), {"ai-etl:qwenApiBase": "https://llm.example.com/v1"},
         hidden=("zz-Secret-42",)),
    Case("qwenApiBase with a key in a path parameter", {"ai-etl:qwenApiBase": "https://llm.example.com/v1;api_key=zz-Secret-42"},
         ("query api_key", "'https://llm.example.com/v1;***'"), {"ai-etl:qwenApiBase": "https://llm.example.com/v1"},
         hidden=("zz-Secret-42",)),
    Case("qwenApiBase with a space before it", {"ai-etl:qwenApiBase": " https://llm.example.com/v1"},
         ("an unparseable value (not shown)",), {"ai-etl:qwenApiBase": "https://llm.example.com/v1"}),
    Case("qwenApiBase beyond mending", {"ai-etl:qwenApiBase": "https://llm.example.com/v1 zz-Secret-42"},
         ("'<https URL of the API, without credentials>'",), {"ai-etl:qwenApiBase": "https://llm.example.com/v1"},
         hidden=("zz-Secret-42", "together")),
    Case("account id that lost its leading zero", {"aws:allowedAccountIds": [12345678901]},
         ("must be a list of 12-digit account ids", "got 12345678901"), {"aws:allowedAccountIds": ["111111111111"]}),
    Case("account id with shell characters", {"aws:allowedAccountIds": [f"1; touch {CANARY}"]},
         ("must be a list of 12-digit account ids",), {"aws:allowedAccountIds": ["111111111111"]}),
    Case("alert address that is none", {"ai-etl:auditEmail": "not-an-email"},
         ("auditEmail: must be an email address",), {"ai-etl:auditEmail": "secops@example.com"}, stack="production"),
    Case("production stack naming no trail", {}, ("auditTrail: is required in a production-grade stack",),
         {"ai-etl:auditTrail": "declare"}, stack="production", remove=("ai-etl:auditTrail",)),
    Case("trail name that is none", {"ai-etl:auditTrail": "a b"}, ("auditTrail: must be a CloudTrail trail's name",),
         {"ai-etl:auditTrail": "declare"}, stack="production"),
    Case("grade in capitals", {"ai-etl:grade": "PRODUCTION"},
         ("got 'PRODUCTION'", "grade production --stack"), {"ai-etl:grade": "production"}, stack="production"),
    Case("grade that names none", {"ai-etl:grade": "prod"},
         ("'<standard|production>'",), {"ai-etl:grade": "production"}, stack="production"),
    Case("namespace kube-system", {"ai-etl:namespace": "kube-system"}, ("a Kubernetes system namespace",),
         {"ai-etl:namespace": None}),
    *(
        Case(f"namespace {name}", {"ai-etl:namespace": name}, (f"'{name}' is",), {"ai-etl:namespace": None})
        for name in ("default", "kube-public", "kube-node-lease", "kube-anything", "external-secrets")
    ),
    Case("namespace of another stack, by default",
         {"ai-etl:namespace": "ai-etl-production", "ai-etl:clusterName": "ai-etl-production"},
         ("also the namespace of stack 'production'",), {"ai-etl:namespace": None}),
    Case("namespace of another stack, on the same cluster",
         {"ai-etl:namespace": "ai-etl-dev", "ai-etl:clusterName": "ai-etl-dev", "aws:region": "us-east-1"},
         ("also the namespace of stack 'dev'",), {"ai-etl:namespace": None}, stack="staging"),
    # Postgres on RDS or Aurora (docs/configuration.md): the endpoint, and RDS's secret where it fits
    Case("managed database without its endpoint", {"ai-etl:database": {"kind": "rds"}},
         ("database.host: is required with database.kind rds",),
         {"ai-etl:database": {"kind": "rds", "host": SAMPLES["<endpoint>"]}}),
    Case("managed database at a name inside the cluster", {"ai-etl:database": {"kind": "aurora", "host": "postgres-svc"}},
         ("database.host: must be the Aurora endpoint", "names the endpoint only"),
         {"ai-etl:database": {"kind": "aurora", "host": SAMPLES["<endpoint>"]}}),
    Case("master user secret of a database in the cluster",
         {"ai-etl:database": {"masterSecretArn": f"arn:aws:secretsmanager:us-east-1:111111111111:secret:{SAMPLES['<name>']}"}},
         ("database.masterSecretArn: is RDS's own secret", "a Postgres in the cluster takes dbAdminPassword")),
    Case("master secret's key without the secret",
         {"ai-etl:database": {"masterSecretKmsKeyArn": "arn:aws:kms:us-east-1:111111111111:key/0000"}},
         ("database.masterSecretKmsKeyArn: is the key of database.masterSecretArn, which is not set",)),
    Case("master user secret of another region", {"ai-etl:database": {
            "masterSecretArn": f"arn:aws:secretsmanager:us-west-2:333333333333:secret:{SAMPLES['<name>']}"}},
         ("database.masterSecretArn: is a secret of region us-west-2", "aws:region (eu-west-1)"),
         {"ai-etl:database": {**load_stack_config("staging", PROJECT_DIR)["ai-etl:database"],
                              "masterSecretArn": f"arn:aws:secretsmanager:eu-west-1:333333333333:secret:{SAMPLES['<name>']}"}},
         stack="staging"),
    Case("master user secret that is not RDS's: another stack's value", {"ai-etl:database": {
            "masterSecretArn": "arn:aws:secretsmanager:eu-west-1:333333333333:secret:ai-etl/dev/jwt-secret-key-AbCdEf"}},
         ("database.masterSecretArn: must be the master user secret RDS manages", "synced to the step"),
         {"ai-etl:database": load_stack_config("staging", PROJECT_DIR)["ai-etl:database"]}, stack="staging"),
    Case("master user secret of another account", {"ai-etl:database": {
            "masterSecretArn": f"arn:aws:secretsmanager:eu-west-1:444444444444:secret:{SAMPLES['<name>']}"}},
         ("database.masterSecretArn: is a secret of account 444444444444", "deploys into 333333333333"),
         {"ai-etl:database": load_stack_config("staging", PROJECT_DIR)["ai-etl:database"]}, stack="staging"),
    # A managed endpoint decides its kind (models.managed_kind_of); a bad kind is never guessed across
    # meaning: only the endpoint may decide it, else the choices are listed with a placeholder.
    Case("RDS endpoint given with credentials", {"ai-etl:database": {
            "kind": "rds", "host": f"admin:zz-Secret-42@{SAMPLES['<endpoint>']}"}},
         ("database.host: must be a DNS name",),
         {"ai-etl:database": {"kind": "rds", "host": SAMPLES["<endpoint>"]}}, hidden=("zz-Secret-42",)),
    Case("Aurora cluster endpoint given as a URL, kind left cluster", {"ai-etl:database": {
            "host": "postgres://admin:zz-Secret-42@db1.cluster-c0example0.us-east-1.rds.amazonaws.com:5432/x"}},
         ("database.host: must be a DNS name",),
         {"ai-etl:database": {"host": "db1.cluster-c0example0.us-east-1.rds.amazonaws.com", "kind": "aurora"}},
         hidden=("zz-Secret-42",)),
    Case("database.kind misspelt beside an RDS endpoint", {"ai-etl:database": {
            "kind": "RDS", "host": SAMPLES["<endpoint>"]}},
         ("database.kind: must be 'cluster' (a Postgres in the cluster",),
         {"ai-etl:database": {"kind": "rds", "host": SAMPLES["<endpoint>"]}}),
    Case("database.kind that names none, host in the cluster", {"ai-etl:database": {"kind": "managed"}},
         ("'rds' or 'aurora' (AWS-managed", "--path 'database.kind' '<cluster|rds|aurora>'"),
         {"ai-etl:database": {"kind": "cluster"}}),
    Case("redis.kind misspelt beside an ElastiCache endpoint", {"ai-etl:redis": {
            **load_stack_config("staging", PROJECT_DIR)["ai-etl:redis"], "kind": "Elasticache"}},
         ("redis.kind: must be 'cluster' (the guide's in-cluster Redis",),
         {"ai-etl:redis": load_stack_config("staging", PROJECT_DIR)["ai-etl:redis"]}, stack="staging"),
    Case("redis.kind that names none, host in the cluster", {"ai-etl:redis": {"kind": "managed"}},
         ("'elasticache' (AWS-managed: TLS", "--path 'redis.kind' '<cluster|elasticache>'"),
         {"ai-etl:redis": {"kind": "cluster"}}),
    # Clear text to a managed server: refused at production grade, the fix the kind the endpoint names
    Case("database.kind cluster with an RDS endpoint, production", {"ai-etl:database": {
            "host": "ai-etl.c0example0.us-east-1.rds.amazonaws.com"}},
         ("database.kind: is cluster, but database.host is an RDS endpoint", "production-grade"),
         {"ai-etl:database": {"host": "ai-etl.c0example0.us-east-1.rds.amazonaws.com", "kind": "rds"}},
         stack="production"),
    Case("redis.kind cluster with an ElastiCache endpoint, production", {"ai-etl:redis": {
            **{k: v for k, v in load_stack_config("staging", PROJECT_DIR)["ai-etl:redis"].items() if k != "kind"}}},
         ("redis.kind: is cluster, but redis.host is an ElastiCache endpoint", "AUTH in clear"),
         {"ai-etl:redis": load_stack_config("staging", PROJECT_DIR)["ai-etl:redis"]},
         stack="production", remove=("redisAdminPassword",)),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_fix_pasted_as_printed_fixes_the_stack_file(project: Project, case: Case) -> None:
    """The user's first contact with a mistake: the error names it (never a secret in it), each
    fix pasted into bash as printed (placeholders filled in, prompts answered) changes the stack
    file as meant, runs nothing else, and the program then accepts the file."""
    project.write(case.stack, case.changes, case.remove)
    message = project.run(case.stack)
    assert isinstance(message, str), "the mistake was accepted"
    for fragment in case.says:
        assert hostile(fragment, project.canary) in message
    for secret in case.hidden:
        assert secret not in message
    for line in fixes(message):
        project.pasted(case.stack, filled(line, case.stack), typed=f"{case.typed}\n" * 8)
    assert not project.canary.exists(), "a pasted fix ran a command hidden in a key"
    stored = project.stored(case.stack)
    for key, value in hostile(case.then, project.canary).items():
        assert stored.get(key) == value, key
    again = project.run(case.stack)
    assert isinstance(again, Run), again


def test_a_key_no_property_path_can_name_is_removed_by_hand(project: Project) -> None:
    """A name with a '.' that ends in a backslash cannot be written as a --path (the parser reads
    `\\"` as a quote): the fix says to edit the file instead of printing a command that fails."""
    project.write("dev", {"ai-etl:backend": {"a.b\\": 1}})
    message = project.run("dev")
    assert isinstance(message, str)
    (line,) = fixes(message)
    assert line.startswith("remove backend") and "by hand" in line


def test_a_placeholder_pasted_unfilled_fails_harmlessly(project: Project) -> None:
    """A fix that needs what only the user knows quotes its placeholder: pasted unfilled it
    redirects nothing (no file appears) and the program refuses the value it set."""
    project.write("dev", {}, remove=("ai-etl:clusterName",))
    message = project.run("dev")
    assert isinstance(message, str)
    (line,) = fixes(message)
    assert "'<cluster>'" in line
    before = set(project.root.iterdir())
    assert project.paste(line).returncode == 0
    assert set(project.root.iterdir()) == before
    again = project.run("dev")
    assert isinstance(again, str) and "clusterName: must be an EKS cluster name" in again


def test_a_production_image_fix_keeps_the_users_image(project: Project) -> None:
    """A production-grade stack needs a digest: the fix keeps the user's repository and tag and
    asks only for the digest."""
    project.write("production", {"ai-etl:backend": {"image": "registry.example.com/ai-etl-backend:1.0.0"}})
    message = project.run("production")
    assert isinstance(message, str)
    (line,) = fixes(message)
    assert "'registry.example.com/ai-etl-backend:1.0.0@sha256:<digest>'" in line
    assert project.paste(filled(line)).returncode == 0
    assert isinstance(project.run("production"), Run)


def test_a_production_step_image_fix_keeps_the_users_image(project: Project) -> None:
    """The rotation steps' image is held to the backend's rule: by digest in a production-grade
    stack, the fix keeping the user's repository and tag."""
    project.write("production", {"ai-etl:stepImage": "registry.example.com/ai-etl-step:1.0.0"})
    message = project.run("production")
    assert isinstance(message, str) and "stepImage: must be pinned by digest" in message
    (line,) = fixes(message)
    assert line == (
        "pulumi config set stepImage 'registry.example.com/ai-etl-step:1.0.0@sha256:<digest>' --stack production"
    )
    assert project.paste(filled(line)).returncode == 0
    assert isinstance(project.run("production"), Run)


def test_a_standard_stack_warns_of_a_step_image_that_names_no_build(project: Project) -> None:
    """Below production grade, a step image by `:latest` runs with the backend's warning and fix."""
    project.write("dev", {"ai-etl:stepImage": "registry.example.com/ai-etl-step:latest"})
    (warning,) = [w for w in _warnings(project.run("dev")) if "stepImage" in w]
    assert "has the tag :latest" in warning
    assert project.paste(filled(warning.split("pin it by tag and digest: ", 1)[1])).returncode == 0
    assert [w for w in _warnings(project.run("dev")) if "stepImage" in w] == []


def test_a_namespace_on_another_cluster_may_be_shared(project: Project) -> None:
    """Namespaces are per cluster: two stacks on different clusters may use the same name."""
    project.write("dev", {"ai-etl:namespace": "ai-etl-production", "ai-etl:clusterName": "dev-cluster"})
    assert isinstance(project.run("dev"), Run)


def test_the_stack_whose_namespace_is_taken_is_not_the_one_told_to_move(project: Project) -> None:
    """When dev claims production's default namespace, production's run refuses too, and its fix
    moves dev, the stack that chose the name by hand."""
    project.write("dev", {"ai-etl:namespace": "ai-etl-production", "ai-etl:clusterName": "ai-etl-production"})
    message = project.run("production")
    assert isinstance(message, str) and "also the namespace of stack 'dev'" in message
    (line,) = fixes(message)
    assert line == "pulumi config rm namespace --stack dev"
    assert project.paste(line).returncode == 0
    assert isinstance(project.run("production"), Run) and isinstance(project.run("dev"), Run)


def test_mixed_plain_and_secure_adopt_values_are_refused(project: Project) -> None:
    """`is_config_secret('ai-etl:adopt')` is true when any leaf is `secure:` (the CLI marks the
    whole key), so the stack file says which live credential sits in plain text; its fix sets that
    one again with --secret (by prompt), and the value never shows in the error."""
    adopt = {"secret-key": fakecli.encrypted("kept-secret-key"), "db-password": "plain-db-password"}
    project.write("production", {"ai-etl:adopt": adopt})
    message = project.run("production")
    assert isinstance(message, str)
    assert "adopt: holds live credentials in plain text (adopt.db-password) beside encrypted ones" in message
    assert "plain-db-password" not in message and "kept-secret-key" not in message
    (line,) = fixes(message)
    assert line == "pulumi config set --secret --path 'adopt.db-password' --stack production"
    assert project.paste(line, typed="plain-db-password\n").returncode == 0
    stored = project.stored("production")["ai-etl:adopt"]
    assert stored["db-password"] == fakecli.encrypted("plain-db-password")
    assert isinstance(project.run("production"), Run)


@pytest.mark.parametrize(
    ("image", "warned"),
    [
        ("registry.example.com/ai-etl-backend:latest", "has the tag :latest"),
        ("registry.example.com/ai-etl-backend", "has no tag, which means :latest"),
        ("registry.example.com:5000/ai-etl-backend", "has no tag, which means :latest"),
        ("registry.example.com:5000/ai-etl-backend:1.4.2", None),
        ("registry.example.com/ai-etl-backend:latest@sha256:" + "1" * 64, None),
    ],
)
def test_a_standard_stack_warns_of_an_image_that_names_no_build(
    project: Project, image: str, warned: str | None
) -> None:
    """Below production grade an image by tag runs, but `:latest` or no tag (latest: distribution/
    reference normalize.go, TagNameOnly) gets a warning with a fix; a tag or a digest none."""
    project.write("dev", {"ai-etl:backend": {"image": image}})
    run = project.run("dev")
    assert isinstance(run, Run)
    said = [w for w in run.warnings if "backend.image" in w]
    if warned is None:
        assert said == []
        return
    (warning,) = said
    assert warned in warning
    line = warning.split("pin it by tag and digest: ", 1)[1]
    assert re.search(r" '[^' ]+:<tag>@sha256:<digest>' ", line), line
    assert project.paste(filled(line)).returncode == 0
    assert [w for w in _warnings(project.run("dev")) if "backend.image" in w] == []


def test_a_standard_stack_warns_of_clear_text_to_managed_servers_and_the_fix_works(project: Project) -> None:
    """Below production grade, kind cluster with an RDS endpoint or an ElastiCache endpoint still
    runs (the production refusal is a case above), but each is warned of with the fix, the kind the
    endpoint names; pasted together, both warnings go."""
    cache = {
        k: v for k, v in load_stack_config("staging", PROJECT_DIR)["ai-etl:redis"].items() if k != "kind"
    }
    project.write(
        "dev",
        {"ai-etl:database": {"host": SAMPLES["<endpoint>"]}, "ai-etl:redis": cache},
        remove=("redisAdminPassword",),
    )
    said = [w for w in _warnings(project.run("dev")) if " is cluster, but " in w]
    assert [w.split(" ", 1)[0] for w in said] == ["database.kind", "redis.kind"], said
    lines = [w.rsplit(": ", 1)[1] for w in said]
    assert lines == [
        "pulumi config set --path 'database.kind' rds --stack dev",
        "pulumi config set --path 'redis.kind' elasticache --stack dev",
    ]
    for line in lines:
        assert project.paste(line).returncode == 0
    assert [w for w in _warnings(project.run("dev")) if " is cluster, but " in w] == []


def _warnings(run: Run | str) -> list[str]:
    assert isinstance(run, Run), run
    return run.warnings


PROVIDERS = (PROJECT_DIR / "tests" / "pulumi_packages.txt").read_text().split()
"""The namespace of every `pulumi-*` package on PyPI (a snapshot): every Pulumi provider's config."""


def test_every_provider_namespace_stays_allowed(project: Project) -> None:
    """A key under any provider's namespace (aws:, kubernetes:, aws-native:, ... all 300) is not
    taken for a misspelling of the project's name."""
    project.write("dev", {f"{name}:someSetting": "x" for name in PROVIDERS})
    assert isinstance(project.run("dev"), Run)
    assert len(PROVIDERS) > 300


def test_the_paste_harness_catches_an_unquoted_fix(project: Project) -> None:
    """The harness is live: an unquoted key name, pasted, does run what it hides."""
    result = project.paste(f"echo $(touch {project.canary})")
    assert result.returncode == 0 and project.canary.exists()


@pytest.mark.heavy
def test_no_traceback_on_hostile_values(project: Project) -> None:
    """Whatever a stack file holds, the program ends in its own error (or runs): no traceback,
    no hang, and no fix that spans lines. A file the offline loader refuses by its own bounds (too
    deep, too big) ends in the loader's one-line error instead, as `offline render` prints it."""
    failed = []
    for key, value in hostile_config():
        project.write("dev", {key: value})
        try:
            result = project.run("dev")
            if isinstance(result, str):
                fixes(result)
        except StackFileError as error:
            assert "\n" not in str(error), "the loader's refusal is one line"
        except Exception as error:
            failed.append(f"{key}={_short(value)}: {type(error).__name__}: {error}"[:300])
    assert failed == []


@pytest.mark.slow  # some 300 stack files, each run and its fixes pasted: half a minute
def test_the_fixes_for_hostile_values_keep_region_replica_protection_and_grade(project: Project) -> None:
    """No fix guesses: on the stack that sets all four (production), each hostile value's fixes,
    pasted with their placeholders filled with the stack's own values, let the program run within
    three rounds and leave its region, replica region, protection and grade as committed."""
    committed, failed = load_stack_config("production", PROJECT_DIR), []
    for key, value in hostile_config():
        project.write("production", {key: value})
        try:
            result = project.run("production")
            rounds = 0
            while isinstance(result, str) and fixes(result) and rounds < 3:  # not the CLI's own refusal
                for line in fixes(result):
                    project.pasted("production", filled(line, "production"), typed=f"{PROMPTED}\n" * 8)
                result, rounds = project.run("production"), rounds + 1
        except StackFileError:
            continue  # the loader's own bounds: test_no_traceback_on_hostile_values
        except Exception as error:
            failed.append(f"{key}={_short(value)}: {type(error).__name__}: {error}"[:300])
            continue
        stored = project.stored("production")
        changed = [k for k in KEPT if _plain(stored.get(k)) != _plain(committed.get(k))]
        if rounds and (changed or isinstance(result, str)):  # a fix was pasted: it fixed, and kept
            failed.append(f"{key}={_short(value)}: changed {changed}; {str(result)[:200]}")
    assert failed == []


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


def hostile_config() -> Iterator[tuple[str, Any]]:
    """Each key of the program with values of every shape, deep and large ones included."""
    deep: Any = "x"
    for _ in range(200):
        deep = [deep]
    values: list[Any] = [None, [], {}, [None], {"a": None}, "", " ", "\x00", "x" * 100_000, deep,
                         {"secure": 1}, 1.5, -1, 2**70, True, "\n", "$(touch CANARY)", ["a", 1, None]]  # fmt: skip
    keys = [
        *(f"ai-etl:{k}" for k in ("namespace", "clusterName", "qwenApiBase", "replicaRegion", "auditEmail",
                                  "auditExpectedReaders", "passwordLength", "rotation", "database", "redis",
                                  "backend", "adopt", "grade", "protect", "oidcProviderArn")),
        "ai_etl:x", "aws:region",
    ]  # fmt: skip
    for key in keys:
        for value in values:
            yield key, value
    yield "ai-etl:backend", {"image": {"nested": deep}}
    yield "ai-etl:rotation", {"jwt-secret-key": deep}


def test_a_hostile_key_is_shown_on_one_line() -> None:
    """A key with a newline or an escape in it is shown escaped: it cannot forge a line of the
    error, or colour the terminal."""
    from ai_etl.config.commands import shown, word

    assert shown(("x\ntouch y",)) == "x\\ntouch y"
    assert "\x1b" not in word("\x1b[31m") and "\n" not in word("a\nb")
    printed = "printf %s " + word("a\nb")
    out = subprocess.run(["bash", "-c", printed], capture_output=True, text=True, check=True)
    assert out.stdout == "a\nb"


# Fixes never guess across meaning: where only the user knows the value, a placeholder; never the
# removal of a replica or of protection; never a value moved to a key of another meaning, or over
# a key already set; one fix per key.

KEPT = ("aws:region", "ai-etl:replicaRegion", "ai-etl:protect", "ai-etl:grade")
"""What a pasted fix must leave as the user meant it: where the stack lives, its replica, its
protection and its grade (pasting `aws:region us-east-1` into a stack in eu-west-1 replaces every
resource; `config rm replicaRegion` drops the replica without a word)."""


@dataclass(frozen=True)
class Meant:
    """A stack file with a mistake whose fix could guess; what the user meant of the KEPT keys
    (the stack's committed values unless given)."""

    name: str
    stack: str
    changes: dict[str, Any]
    says: tuple[str, ...]
    meant: dict[str, Any] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    """Text no fix may hold (a guessed region, a removal, a move to a key of another meaning)."""


UNICODE_HYPHEN = "\u2010"
MEANT = [
    Meant("a region in capitals", "staging", {"aws:region": "EU-WEST-1"},
          ("'EU-WEST-1' is not an AWS region; eu-west-1 is",), never=("us-east-1",)),
    Meant("a region that names none", "staging", {"aws:region": "eu-west-9"},
          ("'eu-west-9' is not an AWS region", "aws:region '<region>' --stack staging"), never=("us-east-1",)),
    Meant("no region", "staging", {}, ("aws:region: is required", "'<region>'"), remove=("aws:region",),
          never=("us-east-1",)),
    Meant("a replica region in capitals", "production", {"ai-etl:replicaRegion": "US-WEST-2"},
          ("replicaRegion: must be an AWS region", "set replicaRegion us-west-2 --stack production"),
          never=("config rm",)),
    Meant("a replica region no pattern reads", "production", {"ai-etl:replicaRegion": "mars"},
          ("replicaRegion '<replica region>'",), never=("config rm",)),
    Meant("a replica region that names none", "production", {"ai-etl:replicaRegion": "us-west-9"},
          ("'us-west-9' is not an AWS region", "replicaRegion '<replica region>'"), never=("config rm",)),
    Meant("a replica region in the region", "production", {"ai-etl:replicaRegion": "us-east-1"},
          ("is aws:region (us-east-1)", "replicaRegion '<replica region>'"), never=("config rm",)),
    Meant("no replica region at production grade", "production", {},
          ("replicaRegion: is required", "replicaRegion '<replica region>'"), remove=("ai-etl:replicaRegion",)),
    Meant("a misspelt namespace holds the missing replica region", "production",
          {"ai_etl:replicaRegion": "eu-central-1"}, ("did you mean ai-etl:replicaRegion?",),
          {"ai-etl:replicaRegion": "eu-central-1"}, remove=("ai-etl:replicaRegion",),
          never=("replicaRegion: is required", "<replica region>")),
    Meant("a misspelt key beside the replica region", "production", {"ai-etl:replicaRegon": "eu-central-1"},
          ("did you mean replicaRegion? replicaRegion is set too",), never=("eu-central-1 --stack",)),
    Meant("a key under a Unicode hyphen beside protect: true", "production",
          {f"ai{UNICODE_HYPHEN}etl:protect": False}, ("protect is set too",), never=("protect false",)),
    Meant("an adopted admin password", "production",
          {"ai-etl:adopt": {"db-admin-password": fakecli.encrypted("fake-admin-password")}},
          ("adopt.db-admin-password: is not a setting", "db-password is another setting: nothing is moved there"),
          never=("adopt.db-password",)),
    Meant("a grade in capitals", "production", {"ai-etl:grade": "Production"}, ("grade production --stack",)),
]  # fmt: skip


@pytest.mark.parametrize("case", MEANT, ids=[c.name for c in MEANT])
def test_a_fix_pasted_keeps_where_the_stack_lives_its_replica_protection_and_grade(
    project: Project, case: Meant
) -> None:
    """Every fix printed, pasted with its placeholders filled with the stack's own values, fixes
    the stack file (the program then runs) and leaves its region, replica region, protection and
    grade as the user meant them; no fix guesses (`never`), and no key gets two fixes."""
    project.write(case.stack, case.changes, case.remove)
    message = project.run(case.stack)
    assert isinstance(message, str), "the mistake was accepted"
    for fragment in case.says:
        assert fragment in message
    lines = fixes(message)
    for fragment in case.never:
        assert not [line for line in lines if fragment in line] and fragment not in message, fragment
    keys = [key for line in lines for key in touched(line)]
    assert len(keys) == len(set(keys)), f"two fixes change one key: {keys}"
    for line in lines:
        result = project.paste(filled(line, case.stack), typed=f"{PROMPTED}\n" * 8)
        assert result.returncode == 0, f"{line}\n{result.stderr}"
    again = project.run(case.stack)
    assert isinstance(again, Run), again
    committed, stored = load_stack_config(case.stack, PROJECT_DIR), project.stored(case.stack)
    for key in KEPT:
        assert _plain(stored.get(key)) == _plain(case.meant.get(key, committed.get(key))), key


def _plain(value: Any) -> Any:
    """A value as the program reads it: plain `config set protect true` stores the text 'true'."""
    return str(value).lower() if isinstance(value, bool) else value


def touched(line: str) -> set[str]:
    """The top-level keys a fix's `pulumi config` commands set or remove."""
    keys, words = set(), iter(shlex.split(line))
    for word in words:
        if word != "config":
            continue
        next(words)  # the verb
        for arg in words:
            if arg == "&&":
                break
            if arg in ("--stack", "--type"):
                next(words)
            elif arg == "--plaintext" or not arg.startswith("-"):
                key = next(words).partition("=")[0] if arg == "--plaintext" else arg
                keys.add(re.split(r"[.\[]", key)[0])
                if arg != "--plaintext":
                    break
    return keys


def test_a_list_past_its_limit_is_cut_to_what_fits_in_one_paste(project: Project) -> None:
    """3000 expected readers cannot fit the access alert's pattern: one fix, pasted once, keeps the
    first readers that fit (not one removal per paste, thousands of times), and the program runs."""
    account = own("production")["<account>"]
    readers = [f"arn:aws:iam::{account}:role/ci-deploy-{i:04d}" for i in range(3000)]
    project.write("production", {"ai-etl:auditExpectedReaders": readers})
    message = project.run("production")
    assert isinstance(message, str)
    (line,) = fixes(message)
    kept = int(re.search(r": (\d+) of the 3000 roles fit", message)[1])  # type: ignore[index]
    assert 0 < kept < 3000
    assert project.paste(line).returncode == 0
    assert project.stored("production")["ai-etl:auditExpectedReaders"] == readers[:kept]
    assert isinstance(project.run("production"), Run)
    project.write("production", {"ai-etl:auditExpectedReaders": readers[: kept + 1]})
    assert f"{kept} of the {kept + 1} roles fit" in str(project.run("production")), (
        "the most that fit are kept"
    )


def test_numbers_past_what_python_reads_and_secure_values_get_clean_errors(project: Project) -> None:
    """A generation of 5000 digits (past the 4300 Python reads without a ValueError), anywhere a
    number is read, and an account id or a region set with --secret, each get a problem and a fix,
    never a traceback or an object's repr; the secure values never show."""
    huge = "9" * 5000
    project.write(
        "production",
        {
            "ai-etl:rotation": {"db-password": huge},
            "ai-etl:database": {"port": huge},
            "aws:allowedAccountIds": fakecli.encrypted("222222222222"),
            "aws:region": fakecli.encrypted("FAKE-REGION-9"),
        },
    )
    message = project.run("production")
    assert isinstance(message, str)
    assert "rotation.db-password: must be a whole number of 0 or more (at most 18 digits)" in message
    assert "database.port: must be a whole number from 1 to 65535" in message
    assert "aws:allowedAccountIds: must be a list of 12-digit account ids" in message
    assert (
        f"aws:allowedAccountIds: must be a list of 12-digit account ids, each as text (quote one that starts with 0), got {SECRET_SHOWN}"
        in message
    )
    assert f"aws:region: {SECRET_SHOWN} is not an AWS region" in message
    assert "object at 0x" not in message and "222222222222" not in message and "FAKE" not in message
    assert len(message) < 3000
    for line in fixes(message):
        project.pasted("production", filled(line, "production"))
    assert isinstance(project.run("production"), Run)
    stored = project.stored("production")
    assert stored["aws:allowedAccountIds"] == ["222222222222"] and stored["aws:region"] == "us-east-1"


def test_a_flood_of_bad_keys_prints_a_screenful(project: Project) -> None:
    """A stack file of thousands of unknown keys lists the first problems, then how many more:
    kilobytes, not megabytes, of errors."""
    project.write("dev", {f"ai-etl:unknownSetting{i:04d}": i for i in range(2000)})
    message = project.run("dev")
    assert isinstance(message, str)
    assert len(fixes(message)) == SHOWN and f"and {2000 - SHOWN} more" in message
    assert len(message) < 20_000
