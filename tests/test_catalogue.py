"""The catalogue is the single list of secrets and of the workloads that read them: every other list
derives from it, and each workload gets only the secrets it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_etl.catalogue import (
    CATALOGUE,
    CONSUMERS,
    Consumer,
    SecretSpec,
    Source,
    check_catalogue,
    read_by,
    server_credentials,
)
from ai_etl.names import PROJECT
from ai_etl.offline.records import Run
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.ops.docs import env_example, secrets_table
from ai_etl.tokens import ESO_EXTERNAL_SECRET, IAM_ROLE_POLICY, SM_SECRET
from tests.helpers import PLACEHOLDERS, expected_resources, manifest, manifests, placeholders
from tests.paths import PROJECT_DIR

# A secret no catalogue holds yet (not the docs' example, SENTRY_DSN, which may well be added for real).
EXTRA = SecretSpec("example-dsn", "EXAMPLE_DSN", Source.PROVIDED, "An example DSN", config_key="exampleDsn")
WORKER = Consumer(
    "worker",
    "An ETL worker: the databases, the LLM and S3; no JWT or webhook key",
    keys=("database-url", "redis-url", "qwen-api-key", "s3-access-key", "s3-secret-key"),
    plain_env=("QWEN_API_BASE",),
)
PROGRAM = """
from ai_etl.catalogue import CATALOGUE, CONSUMERS
from ai_etl.program import main
from tests.test_catalogue import EXTRA, WORKER

main(CATALOGUE + {extra}, CONSUMERS + {consumers})
"""


def run_with(
    tmp_path: Path, extra: tuple[SecretSpec, ...], consumers: tuple[Consumer, ...], config: dict
) -> Run:
    """The program with more catalogue entries (EXTRA) or consumers (WORKER), as a project would
    declare them."""
    program = tmp_path / "program.py"
    names = {EXTRA: "EXTRA", WORKER: "WORKER"}
    as_code = lambda items: "(" + "".join(f"{names[i]}," for i in items) + ")"  # noqa: E731
    program.write_text(PROGRAM.format(extra=as_code(extra), consumers=as_code(consumers)))
    return run_program(
        "dev",
        {**load_stack_config("dev"), **config},
        placeholders(CATALOGUE + extra),
        program=program,
        project=PROJECT,
    )


def container_env(run: Run, deployment: str) -> dict[str, dict]:
    (container,) = manifest(run, "Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e for e in container["env"]}


def test_adding_a_secret_is_one_entry(tmp_path: Path) -> None:
    """One more catalogue entry gives its Secrets Manager secret, IAM grant, ExternalSecret key and
    backend env var, with nothing else to edit."""
    run = run_with(tmp_path, (EXTRA,), (), {})
    assert len(run.resources) == expected_resources(CATALOGUE + (EXTRA,))
    assert "ai-etl/dev/example-dsn" in {s.inputs["name"] for s in run.of_type(SM_SECRET)}
    assert run.exports["secretArns"]["example-dsn"] in run.one(IAM_ROLE_POLICY).inputs["policy"]
    data = manifest(run, "ExternalSecret", run.exports["secretNames"]["backend"])["spec"]["data"]
    (entry,) = [d for d in data if d["secretKey"] == "example-dsn"]
    assert entry["remoteRef"]["key"] == "ai-etl/dev/example-dsn"
    assert container_env(run, "ai-etl-backend")["EXAMPLE_DSN"]["valueFrom"]["secretKeyRef"] == {
        "name": run.exports["secretNames"]["backend"],
        "key": "example-dsn",
        "optional": False,
    }
    assert "EXAMPLE_DSN=" in env_example(CATALOGUE + (EXTRA,))


def test_a_second_workload_gets_only_its_secrets(tmp_path: Path) -> None:
    """One more consumer gets its own ExternalSecret generation, ServiceAccount, Role on its own
    Secret and Deployment; its Secret holds only its keys, and the backend's is untouched."""
    config = {"ai-etl:worker": {"image": "registry.example.com/ai-etl-worker:1.0.0", "replicas": 1}}
    run = run_with(tmp_path, (), (WORKER,), config)
    assert len(run.resources) == expected_resources(consumers=CONSUMERS + (WORKER,))
    names = run.exports["secretNames"]
    assert names["worker"].startswith("ai-etl-worker-secrets-") and names["worker"] != names["backend"]
    external = {m["metadata"]["name"]: m for m in manifests(run) if m["kind"] == "ExternalSecret"}
    assert {d["secretKey"] for d in external[names["worker"]]["spec"]["data"]} == set(WORKER.keys or ())
    assert {d["secretKey"] for d in external[names["backend"]]["spec"]["data"]} == {
        s.key for s in read_by(CONSUMERS[0])
    }
    env = container_env(run, "ai-etl-worker")
    assert set(env) == {
        "DATABASE_URL",
        "REDIS_URL",
        "QWEN_API_KEY",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
        "QWEN_API_BASE",
    }
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in env.values() if "valueFrom" in e} == {
        names["worker"]
    }
    role = manifest(run, "Role", "ai-etl-worker-secret-reader")
    assert role["rules"][0]["resourceNames"] == [names["worker"]]
    binding = manifest(run, "RoleBinding", "ai-etl-worker-secret-reader")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "ai-etl-worker", "namespace": "ai-etl-dev"}
    ]
    deployment = manifest(run, "Deployment", "ai-etl-worker")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == "ai-etl-worker"
    # One per workload, and one per server credential's rotation step.
    assert len(run.of_type(ESO_EXTERNAL_SECRET)) == 2 + len(server_credentials(CATALOGUE))


def test_a_workload_without_its_config_is_an_error(tmp_path: Path) -> None:
    """A consumer needs its own `ai-etl:<name>` object (at least an image); the error says so."""
    from ai_etl.config.settings import ConfigError

    with pytest.raises(ConfigError, match=r"worker\.image: is required"):
        run_with(tmp_path, (), (WORKER,), {})


def test_env_example_is_derived_from_the_catalogue() -> None:
    """`.env.example` is exactly what the catalogue generates (regenerate it, never hand-edit)."""
    assert (PROJECT_DIR / ".env.example").read_text() == env_example()


def test_env_example_holds_no_value_for_a_secret() -> None:
    """The example names every secret variable and gives none of them a value."""
    secret_vars = {s.env_var for s in CATALOGUE if s.env_var}
    lines = [line for line in env_example().splitlines() if line and not line.startswith("#")]
    assert {line.split("=")[0] for line in lines} >= secret_vars
    for line in lines:
        if line.split("=")[0] in secret_vars:
            assert line.endswith("="), line


def test_docs_table_is_derived_from_the_catalogue() -> None:
    """The docs' table of secrets is the catalogue's, so the docs cannot fall behind."""
    assert secrets_table() in (PROJECT_DIR / "docs" / "configuration.md").read_text()


@pytest.mark.parametrize(
    ("bad", "consumers"),
    [
        (CATALOGUE + (CATALOGUE[0],), CONSUMERS),
        (CATALOGUE + (SecretSpec("Bad_Key", None, Source.GENERATED, "x"),), CONSUMERS),
        (CATALOGUE + (SecretSpec("orphan-url", "ORPHAN_URL", Source.COMPOSED, "x"),), CONSUMERS),
        (CATALOGUE + (SecretSpec("no-config", "NO_CONFIG", Source.PROVIDED, "x"),), CONSUMERS),
        (CATALOGUE, CONSUMERS + (Consumer("worker", "x", keys=("db-password",)),)),
        (CATALOGUE, CONSUMERS + (Consumer("Worker", "x"),)),
        (CATALOGUE + (SecretSpec("github-secret", "GH", Source.GENERATED, "x"),), CONSUMERS),
    ],
    ids=[
        "duplicate",
        "invalid-key",
        "composed-without-recipe",
        "provided-without-config-key",
        "consumer-reads-a-key-without-env-var",
        "consumer-name-not-a-label",
        "name-ending-like-an-arn-suffix",
    ],
)
def test_an_inconsistent_catalogue_is_refused(
    bad: tuple[SecretSpec, ...], consumers: tuple[Consumer, ...]
) -> None:
    """A catalogue mistake is caught before anything is declared, with the entry named."""
    with pytest.raises(ValueError):
        check_catalogue(bad, consumers)


def test_placeholders_cover_every_provided_secret() -> None:
    """The tests' stand-ins follow the catalogue, so a new provided secret needs no test edit."""
    assert set(PLACEHOLDERS) == {f"ai-etl:{s.config_key}" for s in CATALOGUE if s.source is Source.PROVIDED}
