"""Bad config stops the program with one message naming the key and its fix, before any resource."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.settings import DEFAULTS, ConfigError
from offline.engine import PROJECT_DIR
from tests.conftest import PLACEHOLDERS, run_stack

CASES: list[tuple[str, dict[str, Any], tuple[str, ...], dict[str, str] | None, tuple[str, ...]]] = [
    # (case, overrides, removed keys, secrets, fragments the message must hold)
    (
        "missing provided secret",
        {},
        (),
        {k: v for k, v in PLACEHOLDERS.items() if k != "ai-etl:qwenApiKey"},
        ("qwenApiKey", "pulumi config set --secret qwenApiKey <value> --stack production"),
    ),
    (
        "empty provided secret",
        {},
        (),
        {**PLACEHOLDERS, "ai-etl:s3SecretKey": "  "},
        ("s3SecretKey: is empty", "pulumi config set --secret s3SecretKey"),
    ),
    (
        "provided secret in plain text",
        {"ai-etl:s3AccessKey": "plain-text-value"},
        (),
        {k: v for k, v in PLACEHOLDERS.items() if k != "ai-etl:s3AccessKey"},
        ("s3AccessKey: is stored in plain text", "--secret s3AccessKey"),
    ),
    (
        "invalid namespace",
        {"ai-etl:namespace": "AI_ETL"},
        (),
        None,
        ("namespace", "RFC 1123", "pulumi config set namespace ai-etl-production --stack production"),
    ),
    (
        "unknown rotation key",
        {"ai-etl:rotation": {"jwt-secret": "2026-12-01"}},
        (),
        None,
        ("rotation.jwt-secret: is not a known setting", "jwt-secret-key", "pulumi config rm --path"),
    ),
    (
        "rotation of a provided secret",
        {"ai-etl:rotation": {"qwen-api-key": "2026-12-01"}},
        (),
        None,
        ("rotation.qwen-api-key: is not a known setting",),
    ),
    (
        "empty rotation value",
        {"ai-etl:rotation": {"jwt-secret-key": ""}},
        (),
        None,
        ("rotation.jwt-secret-key: must be a non-empty string", "--path 'rotation.jwt-secret-key'"),
    ),
    (
        "zero replicas",
        {"ai-etl:backend": {"replicas": 0}},
        (),
        None,
        ("backend.replicas: must be a positive whole number", "--path 'backend.replicas' 2"),
    ),
    (
        "replicas as text",
        {"ai-etl:backend": {"replicas": "three"}},
        (),
        None,
        ("backend.replicas: must be a positive whole number, got 'three'",),
    ),
    (
        "missing image",
        {"ai-etl:backend": {"image": None}},
        (),
        None,
        ("backend.image: is required", "--path 'backend.image'"),
    ),
    (
        "typo in backend",
        {"ai-etl:backend": {"replica": 3}},
        (),
        None,
        ("backend.replica: is not a known setting",),
    ),
    (
        "malformed OIDC provider ARN",
        {"ai-etl:oidcProviderArn": "arn:aws:iam::1234:role/not-a-provider"},
        (),
        None,
        ("oidcProviderArn", "oidc-provider", "pulumi config set oidcProviderArn"),
    ),
    (
        "missing OIDC provider ARN",
        {},
        ("ai-etl:oidcProviderArn",),
        None,
        ("oidcProviderArn: is required",),
    ),
    (
        "missing region",
        {},
        ("aws:region",),
        None,
        ("aws:region: is required", "pulumi config set aws:region us-east-1 --stack production"),
    ),
    (
        "recovery window below AWS's minimum",
        {"ai-etl:recoveryWindowInDays": 3},
        (),
        None,
        ("recoveryWindowInDays: must be a whole number from 7 to 30, got 3",),
    ),
    (
        "short passwords",
        {"ai-etl:passwordLength": 16},
        (),
        None,
        ("passwordLength: must be a whole number from 32 to 256",),
    ),
    (
        "protect not a boolean",
        {"ai-etl:protect": "yes"},
        (),
        None,
        ("protect: must be true or false",),
    ),
    (
        "credentials in the API base URL",
        {"ai-etl:qwenApiBase": "https://user:pw@api.example.com/v1"},
        (),
        None,
        ("qwenApiBase: must not carry credentials",),
    ),
    (
        "database port out of range",
        {"ai-etl:database": {"port": 70000}},
        (),
        None,
        ("database.port: must be a whole number from 1 to 65535",),
    ),
]


@pytest.mark.parametrize(
    ("overrides", "removed", "secrets", "fragments"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_config_is_reported_with_its_fix_and_nothing_declared(
    overrides: dict[str, Any],
    removed: tuple[str, ...],
    secrets: dict[str, str] | None,
    fragments: tuple[str, ...],
) -> None:
    """Each mistake a user can make names the key and the command that fixes it; nothing is declared."""
    declared: list = []
    with pytest.raises(ConfigError) as raised:
        run_stack("production", overrides=overrides, remove=removed, secrets=secrets, registrations=declared)
    message = str(raised.value)
    for fragment in fragments:
        assert fragment in message
    assert "nothing was declared" in message
    assert declared == []


def test_every_problem_is_reported_at_once() -> None:
    """Two mistakes give one message with both, so the user fixes them in one round."""
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", overrides={"ai-etl:backend": {"replicas": -1}, "ai-etl:namespace": "Bad"})
    assert "backend.replicas" in str(raised.value) and "namespace" in str(raised.value)


def test_a_secret_value_never_appears_in_an_error() -> None:
    """A provided secret committed in plain text is reported without repeating the value."""
    value = "value-that-must-not-be-echoed"
    with pytest.raises(ConfigError) as raised:
        run_stack(
            "dev",
            overrides={"ai-etl:qwenApiKey": value},
            secrets={k: v for k, v in PLACEHOLDERS.items() if k != "ai-etl:qwenApiKey"},
        )
    assert value not in str(raised.value)


def test_numeric_rotation_value_is_accepted() -> None:
    """`config set --path rotation.x 2` stores a number; it rotates like the string '2'."""
    run = run_stack("dev", overrides={"ai-etl:rotation": {"secret-key": 2}})
    assert run.exports["rotation"]["secret-key"] == "2"


def test_namespace_defaults_to_project_and_stack(stack_runs) -> None:
    """Without `ai-etl:namespace`, each environment lives in `ai-etl-<stack>`."""
    assert stack_runs["dev"].exports["namespace"] == "ai-etl-dev"
    assert stack_runs["production"].exports["namespace"] == "ai-etl-production"


def test_pulumi_yaml_declares_the_same_defaults_as_the_code() -> None:
    """Pulumi.yaml's config schema and the settings defaults cannot drift apart."""
    project = yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())
    declared = project["config"]
    assert project["name"] == "ai-etl"
    for key, default in DEFAULTS.items():
        assert declared[key]["default"] == default, key
    for key in ("qwenApiKey", "s3AccessKey", "s3SecretKey"):
        assert declared[key]["secret"] is True and "default" not in declared[key]


def test_the_declared_check_sees_declarations() -> None:
    """The 'nothing declared' assertion above is live: a good config does record resources."""
    declared: list = []
    run_stack("production", registrations=declared)
    assert len(declared) > 20


def test_a_misspelt_key_is_reported_with_a_suggestion() -> None:
    """`ai-etl:recoveryWindowDays` would otherwise be ignored silently; it is an error naming the
    key the user meant."""
    with pytest.raises(ConfigError) as raised:
        run_stack("production", overrides={"ai-etl:recoveryWindowDays": 30})
    message = str(raised.value)
    assert "recoveryWindowDays: is not a setting of this program" in message
    assert "did you mean recoveryWindowInDays?" in message
    assert "pulumi config rm recoveryWindowDays --stack production" in message
