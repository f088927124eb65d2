"""The catalogue is the single list of secrets: every other list derives from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.catalogue import CATALOGUE, SecretSpec, Source, check_catalogue, env_example, readme_table
from offline.engine import PROJECT_DIR, load_stack_config, run_program
from tests.conftest import PLACEHOLDERS
from tests.helpers import manifest

EXTRA = SecretSpec("sentry-dsn", "SENTRY_DSN", Source.PROVIDED, "Error reporting DSN", config_key="sentryDsn")

PROGRAM = """
import pulumi
from components.catalogue import CATALOGUE, SecretSpec, Source
from components.environment import Environment, EnvironmentArgs
from components.settings import load_settings

extra = SecretSpec("sentry-dsn", "SENTRY_DSN", Source.PROVIDED, "Error reporting DSN", config_key="sentryDsn")
settings = load_settings(CATALOGUE + (extra,))
environment = Environment("ai-etl", EnvironmentArgs(settings))
pulumi.export("secretName", environment.secret_name)
pulumi.export("secretArns", environment.secret_arns)
"""


def test_adding_a_secret_is_one_entry(tmp_path: Path) -> None:
    """One more catalogue entry gives its Secrets Manager secret, IAM grant, ExternalSecret key and
    backend env var, with nothing else to edit."""
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    secrets = {**PLACEHOLDERS, "ai-etl:sentryDsn": "placeholder-sentry-dsn"}
    run = run_program("dev", load_stack_config("dev"), secrets, program=program)
    assert "ai-etl/dev/sentry-dsn" in {
        s.inputs["name"] for s in run.of_type("aws:secretsmanager/secret:Secret")
    }
    assert (
        run.exports["secretArns"]["sentry-dsn"] in run.one("aws:iam/rolePolicy:RolePolicy").inputs["policy"]
    )
    data = manifest(run, "ExternalSecret")["spec"]["data"]
    (entry,) = [d for d in data if d["secretKey"] == "sentry-dsn"]
    assert entry["remoteRef"]["key"] == "ai-etl/dev/sentry-dsn"
    (container,) = manifest(run, "Deployment")["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["SENTRY_DSN"]["valueFrom"]["secretKeyRef"] == {
        "name": run.exports["secretName"],
        "key": "sentry-dsn",
        "optional": False,
    }
    assert "SENTRY_DSN=" in env_example(CATALOGUE + (EXTRA,))


def test_env_example_is_derived_from_the_catalogue() -> None:
    """`.env.example` is exactly what the catalogue generates (regenerate it, never hand-edit)."""
    assert (PROJECT_DIR / ".env.example").read_text() == env_example()


def test_env_example_holds_no_value_for_a_secret() -> None:
    """The example names every secret variable and gives none of them a value."""
    for line in env_example().splitlines():
        if line and not line.startswith("#") and not line.startswith("QWEN_API_BASE="):
            assert line.endswith("="), line


def test_readme_table_is_derived_from_the_catalogue() -> None:
    """README's table of secrets is the catalogue's, so the docs cannot fall behind."""
    assert readme_table() in (PROJECT_DIR / "README.md").read_text()


@pytest.mark.parametrize(
    "bad",
    [
        CATALOGUE + (CATALOGUE[0],),
        CATALOGUE + (SecretSpec("Bad_Key", None, Source.GENERATED, "x"),),
        CATALOGUE + (SecretSpec("orphan-url", "ORPHAN_URL", Source.COMPOSED, "x"),),
        CATALOGUE + (SecretSpec("no-config", "NO_CONFIG", Source.PROVIDED, "x"),),
    ],
    ids=["duplicate", "invalid-key", "composed-without-recipe", "provided-without-config-key"],
)
def test_an_inconsistent_catalogue_is_refused(bad: tuple[SecretSpec, ...]) -> None:
    """A catalogue mistake is caught before anything is declared, with the entry named."""
    with pytest.raises(ValueError):
        check_catalogue(bad)
