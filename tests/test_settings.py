"""Bad config stops the program with one message naming the key and its fix, before any resource."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml

from ai_etl.catalogue import CATALOGUE, Source, of_source
from ai_etl.config.settings import DEFAULTS, ConfigError
from ai_etl.names import PROJECT
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import StackConfigError
from tests.helpers import PLACEHOLDERS, backend_manifest, run_config, run_stack, stack_config
from tests.pasting import PROMPTED, Project, filled, fixes, project
from tests.paths import PROGRAM, PROJECT_DIR

__all__ = ["project"]  # the fixture


def without(config_key: str) -> dict[str, str]:
    """The provided secrets, less one."""
    return {k: v for k, v in PLACEHOLDERS.items() if k != f"ai-etl:{config_key}"}


@dataclass(frozen=True)
class Case:
    """One mistake a user can make, and what the message must say about it."""

    name: str
    expect: tuple[str, ...]
    """Fragments the message must hold."""
    overrides: dict[str, Any] = field(default_factory=dict)
    removed: tuple[str, ...] = ()
    secrets: dict[str, str] | None = None
    """The provided secrets, if not the placeholders."""
    cli: bool = False
    """The Pulumi CLI stops it before the program runs (Pulumi.yaml declares the key)."""


CASES = [
    Case("missing provided secret", secrets=without("qwenApiKey"), cli=True,
         expect=("Stack 'production' is missing configuration value 'qwenApiKey'",)),
    Case("empty provided secret", secrets={**PLACEHOLDERS, "ai-etl:s3SecretKey": "  "},
         expect=("s3SecretKey: is empty", "pulumi config set --secret s3SecretKey")),
    Case("provided secret in plain text", overrides={"ai-etl:s3AccessKey": "plain-text-value"},
         secrets=without("s3AccessKey"), cli=True,
         expect=("Stack 'production' with configuration key 's3AccessKey' must be encrypted as it's secret",)),
    Case("invalid namespace", overrides={"ai-etl:namespace": "AI_ETL"},
         expect=("namespace", "RFC 1123", "pulumi config set namespace ai-etl-production --stack production")),
    Case("unknown rotation key", overrides={"ai-etl:rotation": {"jwt-secret": "2026-12-01"}},
         expect=("rotation.jwt-secret: is not a setting", "did you mean jwt-secret-key?",
                 "pulumi config rm --path 'rotation.jwt-secret' --stack production")),
    Case("rotation of a provided secret", overrides={"ai-etl:rotation": {"qwen-api-key": "2026-12-01"}},
         expect=("rotation.qwen-api-key: is not a setting of this program",)),
    Case("empty rotation value", overrides={"ai-etl:rotation": {"jwt-secret-key": ""}},
         expect=("rotation.jwt-secret-key: must be a non-empty string", "--path 'rotation.jwt-secret-key'")),
    Case("zero replicas", overrides={"ai-etl:backend": {"replicas": 0}},
         expect=("backend.replicas: must be a whole number of 1 or more", "--path 'backend.replicas' 2")),
    Case("replicas as text", overrides={"ai-etl:backend": {"replicas": "three"}},
         expect=("backend.replicas: must be a whole number of 1 or more, got 'three'",)),
    Case("missing image", overrides={"ai-etl:backend": {"image": None}},
         expect=("backend.image: must be a container image reference", "--path 'backend.image'")),
    Case("no backend at all", removed=("ai-etl:backend",),
         expect=("backend.image: is required: the container image",
                 "pulumi config set --path 'backend.image' 'registry.example.com/ai-etl-backend:1.4.2@sha256:<digest>'")),
    Case("typo in backend keeps the value", overrides={"ai-etl:backend": {"memoryRequst": "1Gi"}},
         expect=("backend.memoryRequst: is not a setting of this program; did you mean memoryRequest?",
                 "pulumi config rm --path 'backend.memoryRequst' --stack production && pulumi config set --path 'backend.memoryRequest' 1Gi --stack production")),
    Case("malformed OIDC provider ARN", overrides={"ai-etl:oidcProviderArn": "arn:aws:iam::1234:role/not-a-provider"},
         expect=("oidcProviderArn", "oidc-provider", "leave it out", "pulumi config rm oidcProviderArn")),
    Case("missing cluster name (a stack file from before the cluster lookup)", removed=("ai-etl:clusterName",),
         expect=("clusterName: is required: the name of the stack's EKS cluster",
                 "pulumi config set clusterName '<cluster>' --stack production")),
    Case("an expected reader that is not a role", overrides={"ai-etl:auditExpectedReaders": ["arn:aws:iam::1:user/x"]},
         expect=("auditExpectedReaders[0]: must be an IAM role ARN",
                 "pulumi config set --path 'auditExpectedReaders[0]' 'arn:aws:iam::<account>:role/<ci-deploy-role>'")),
    Case("malformed cluster name", overrides={"ai-etl:clusterName": "-bad name"},
         expect=("clusterName: must be an EKS cluster name",)),
    Case("missing region", removed=("aws:region",),
         expect=("aws:region: is required", "pulumi config set aws:region '<region>' --stack production")),
    Case("a region that does not exist", overrides={"aws:region": "us-east-9"},
         expect=("aws:region: 'us-east-9' is not an AWS region",)),
    Case("recovery window below AWS's minimum", overrides={"ai-etl:recoveryWindowInDays": 3},
         expect=("recoveryWindowInDays: must be a whole number from 7 to 30, got 3",)),
    Case("short passwords", overrides={"ai-etl:passwordLength": 16},
         expect=("passwordLength: must be a whole number from 32 to 256",)),
    Case("protect not a boolean", overrides={"ai-etl:protect": "yes"}, cli=True,
         expect=("Stack 'production' with configuration key 'protect' must be of type 'boolean'",)),
    Case("password length not a number", overrides={"ai-etl:passwordLength": "long"}, cli=True,
         expect=("Stack 'production' with configuration key 'passwordLength' must be of type 'integer'",)),
    Case("credentials in the API base URL", overrides={"ai-etl:qwenApiBase": "https://user:pw@api.example.com/v1"},
         expect=("qwenApiBase: must be an https URL without credentials (user:password@)",
                 "got 'https://***@api.example.com/v1'",
                 "pulumi config set qwenApiBase https://api.example.com/v1 --stack production")),
    Case("a quantity that is not one", overrides={"ai-etl:backend": {"cpuLimit": "two"}},
         expect=("backend.cpuLimit: must be a Kubernetes quantity", "--path 'backend.cpuLimit' 1 --stack production")),
    Case("database port out of range", overrides={"ai-etl:database": {"port": 70000}},
         expect=("database.port: must be a whole number from 1 to 65535",
                 "pulumi config set --path 'database.port' 5432 --stack production")),
    Case("backend as a scalar", overrides={"ai-etl:backend": "registry.example.com/x:1"},
         expect=("backend: must be an object of settings",
                 "pulumi config rm backend --stack production && pulumi config set --path 'backend.image' ")),
    Case("ElastiCache without its ids or endpoint", overrides={"ai-etl:redis": {"kind": "elasticache"}},
         expect=("redis.replicationGroupId: is required with redis.kind elasticache",
                 "pulumi config set --path 'redis.replicationGroupId' '<replication group id>' --stack production",
                 "redis.userGroupId: is required", "redis.host: is the in-cluster Service's name",
                 "pulumi config set --path 'redis.host' '<primary endpoint>' --stack production")),
    Case("ElastiCache without TLS", overrides={"ai-etl:redis": {
             "kind": "elasticache", "tls": False, "replicationGroupId": "rg", "userGroupId": "ug",
             "host": "master.rg.example.use1.cache.amazonaws.com"}},
         expect=("redis.tls: ElastiCache allows AUTH and its users only with in-transit encryption",
                 "pulumi config rm --path 'redis.tls' --stack production")),
    Case("ElastiCache with passwords longer than it takes", overrides={"ai-etl:passwordLength": 129, "ai-etl:redis": {
             "kind": "elasticache", "replicationGroupId": "rg", "userGroupId": "ug",
             "host": "master.rg.example.use1.cache.amazonaws.com"}},
         expect=("passwordLength: ElastiCache takes passwords of at most 128 characters",
                 "pulumi config set --plaintext passwordLength 128 --stack production")),
    Case("TLS on the in-cluster Redis", overrides={"ai-etl:redis": {"tls": True}},
         expect=("redis.tls: kind cluster speaks plain Redis", "pulumi config rm --path 'redis.tls' --stack production")),
    Case("an unknown Redis kind", overrides={"ai-etl:redis": {"kind": "memorydb"}},
         # no guess across meaning: both choices, each said, and a placeholder only the user fills in
         expect=("redis.kind: must be 'cluster' (the guide's in-cluster Redis", "or 'elasticache' (AWS-managed",
                 "got 'memorydb'", "pulumi config set --path 'redis.kind' '<cluster|elasticache>' --stack production")),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_config_is_reported_and_nothing_declared(case: Case) -> None:
    """Each mistake a user can make stops before anything is declared, with the message of the
    layer that speaks for the key: the CLI's own for what Pulumi.yaml declares, else the program's,
    which names the key and the command that fixes it."""
    declared: list = []
    error = StackConfigError if case.cli else ConfigError
    with pytest.raises(error) as raised:
        run_config(
            "production", stack_config("production", case.overrides, case.removed), case.secrets, declared
        )
    message = str(raised.value)
    for fragment in case.expect:
        assert fragment in message
    if not case.cli:
        assert "nothing was declared" in message
    assert declared == []


PROGRAM_CASES = [case for case in CASES if not case.cli]


@pytest.mark.parametrize("case", PROGRAM_CASES, ids=[case.name for case in PROGRAM_CASES])
def test_every_printed_fix_works_as_printed(project: Project, case: Case) -> None:
    """Each `fix:` line, pasted into bash as printed (placeholders filled in, prompts answered) with
    a `pulumi` that stores config as the CLI does, removes the problems it was printed for; what it
    uncovers (an image the fix kept, now held to the grade) is fixed in a second round, no more."""
    project.write("production", case.overrides, case.removed, case.secrets)
    seen: set[str] = set()
    for _ in range(2):
        message = project.run("production")
        if not isinstance(message, str):
            break
        problems = set(re.findall(r"^  - (.+?): ", message, re.M))
        assert problems and not problems & seen, f"a pasted fix left its problem: {problems & seen}"
        seen |= problems
        for line in fixes(message):
            project.pasted("production", filled(line, "production"), typed=f"{PROMPTED}\n" * 8)
    assert not isinstance(project.run("production"), str)


def test_every_problem_is_reported_at_once() -> None:
    """Two mistakes give one message with both, so the user fixes them in one round."""
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", overrides={"ai-etl:backend": {"replicas": -1}, "ai-etl:namespace": "Bad"})
    assert "backend.replicas" in str(raised.value) and "namespace" in str(raised.value)


def test_a_secret_value_never_appears_in_an_error() -> None:
    """A provided secret committed in plain text is reported without repeating the value: by the
    CLI, and by the program itself where no CLI checked first (the Automation API, say)."""
    value = "value-that-must-not-be-echoed"
    config = stack_config("dev", {"ai-etl:qwenApiKey": value})
    with pytest.raises(StackConfigError) as by_cli:
        run_config("dev", config, without("qwenApiKey"))
    with pytest.raises(ConfigError) as by_program:
        run_program("dev", config, without("qwenApiKey"), program=PROGRAM, project=PROJECT)
    assert "qwenApiKey: is stored in plain text" in str(by_program.value)
    assert value not in str(by_cli.value) + str(by_program.value)


def test_a_misspelt_secret_key_is_reported_without_its_value() -> None:
    """A provided secret set under a misspelt key is an unknown key; its value is never echoed."""
    value = "misspelt-secret-value"
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", secrets={**PLACEHOLDERS, "ai-etl:qwenApiKy": value})
    assert "qwenApiKy: is not a setting of this program; did you mean qwenApiKey?" in str(raised.value)
    assert value not in str(raised.value)


def test_numeric_rotation_value_is_accepted() -> None:
    """`config set --path rotation.x 2` stores a number; it rotates like the string '2'."""
    run = run_stack("dev", overrides={"ai-etl:rotation": {"secret-key": 2}})
    assert run.exports["rotation"]["secret-key"] == "2"


def test_a_quantity_stored_as_a_number_is_accepted() -> None:
    """`config set --path 'backend.cpuLimit' 2` stores the integer 2: a valid quantity."""
    run = run_stack("dev", overrides={"ai-etl:backend": {"cpuLimit": 2}})
    (container,) = backend_manifest(run, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"]["cpu"] == "2"


def test_namespace_defaults_to_project_and_stack(stack_runs) -> None:
    """Without `ai-etl:namespace`, each environment lives in `ai-etl-<stack>`."""
    for stack, run in stack_runs.items():
        assert run.exports["namespace"] == f"ai-etl-{stack}"


def test_pulumi_yaml_declares_the_same_defaults_and_every_provided_secret() -> None:
    """Pulumi.yaml's config schema and the settings defaults cannot drift apart, and the CLI knows
    every provided secret is `secret: true` (it refuses a plain-text value for it)."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    declared = project["config"]
    assert project["name"] == "ai-etl"
    assert DEFAULTS, "the settings declare defaults"
    for key, default in DEFAULTS.items():
        assert declared[key]["default"] == default, key
    for spec in of_source(Source.PROVIDED, CATALOGUE):
        entry = declared[str(spec.config_key)]
        assert entry["secret"] is True and "default" not in entry


def test_the_declared_check_sees_declarations() -> None:
    """The 'nothing declared' assertion above is live: a good config does record resources."""
    declared: list = []
    run_stack("production", registrations=declared)
    assert len(declared) > 20


def test_a_misspelt_key_is_reported_with_a_suggestion() -> None:
    """`ai-etl:recoveryWindowDays` would otherwise be ignored silently; it is an error naming the
    key the user meant. The stack sets that key too, and the program reads it: the fix removes the
    misspelt one and leaves the recovery window as it is, saying so."""
    with pytest.raises(ConfigError) as raised:
        run_stack("production", overrides={"ai-etl:recoveryWindowDays": 7})
    message = str(raised.value)
    assert "recoveryWindowDays: is not a setting of this program" in message
    assert "did you mean recoveryWindowInDays? recoveryWindowInDays is set too" in message
    assert "fix: pulumi config rm recoveryWindowDays --stack production\n" in message + "\n"
