"""The catalogue is the single list of secrets and of the workloads that read them: every other list
derives from it, and each workload gets only the secrets it needs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ai_etl.catalogue import (
    CATALOGUE,
    CONSUMERS,
    Consumer,
    SecretSpec,
    Source,
    check_catalogue,
    server_credentials,
)
from ai_etl.names import PROJECT
from ai_etl.offline.records import Run
from ai_etl.offline.runner import run_program
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.ops.docs import env_example, secrets_table
from ai_etl.tokens import ESO_EXTERNAL_SECRET, IAM_ROLE_POLICY, SM_SECRET
from tests.helpers import (
    PLACEHOLDERS,
    expected_resources,
    manifest,
    manifests,
    placeholders,
    reads,
    unused,
    workload_manifest,
)
from tests.paths import PROJECT_DIR

# A secret and a workload the catalogue does not hold yet: the docs' examples (SENTRY_DSN, the
# worker) may well have been added for real, so each takes a name no entry or consumer has.
_DSN = unused("example-dsn", {s.key for s in CATALOGUE})
_SUFFIX = _DSN.removeprefix("example-dsn")
EXTRA = SecretSpec(
    _DSN, f"EXAMPLE_DSN{_SUFFIX}", Source.PROVIDED, "An example DSN", config_key=f"exampleDsn{_SUFFIX}"
)
WORKER = Consumer(
    unused("worker", {c.name for c in CONSUMERS}),
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
    assert f"ai-etl/dev/{EXTRA.key}" in {s.inputs["name"] for s in run.of_type(SM_SECRET)}
    assert run.exports["secretArns"][EXTRA.key] in run.one(IAM_ROLE_POLICY).inputs["policy"]
    data = manifest(run, "ExternalSecret", run.exports["secretNames"]["backend"])["spec"]["data"]
    (entry,) = [d for d in data if d["secretKey"] == EXTRA.key]
    assert entry["remoteRef"]["key"] == f"ai-etl/dev/{EXTRA.key}"
    assert container_env(run, "ai-etl-backend")[str(EXTRA.env_var)]["valueFrom"]["secretKeyRef"] == {
        "name": run.exports["secretNames"]["backend"],
        "key": EXTRA.key,
        "optional": False,
    }
    assert f"{EXTRA.env_var}=" in env_example(CATALOGUE + (EXTRA,))


def test_a_second_workload_gets_only_its_secrets(tmp_path: Path) -> None:
    """One more consumer gets its own ExternalSecret generation, ServiceAccount, Role on its own
    Secret and Deployment; its Secret holds only its keys, and the other workloads' are untouched."""
    name = WORKER.name
    config = {f"ai-etl:{name}": {"image": f"registry.example.com/ai-etl-{name}:1.0.0", "replicas": 1}}
    run = run_with(tmp_path, (), (WORKER,), config)
    assert len(run.resources) == expected_resources(consumers=CONSUMERS + (WORKER,))
    names = run.exports["secretNames"]
    assert names[name].startswith(f"ai-etl-{name}-secrets-")
    assert names[name] not in {names[c.name] for c in CONSUMERS}
    external = {m["metadata"]["name"]: m for m in manifests(run) if m["kind"] == "ExternalSecret"}
    assert {d["secretKey"] for d in external[names[name]]["spec"]["data"]} == set(WORKER.keys or ())
    for consumer in CONSUMERS:
        data = workload_manifest(run, consumer.name, "ExternalSecret")["spec"]["data"]
        assert {d["secretKey"] for d in data} == reads(consumer)
    env = container_env(run, f"ai-etl-{name}")
    assert set(env) == {
        "DATABASE_URL",
        "REDIS_URL",
        "QWEN_API_KEY",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
        "QWEN_API_BASE",
    }
    assert {e["valueFrom"]["secretKeyRef"]["name"] for e in env.values() if "valueFrom" in e} == {names[name]}
    role = manifest(run, "Role", f"ai-etl-{name}-secret-reader")
    assert role["rules"][0]["resourceNames"] == [names[name]]
    binding = manifest(run, "RoleBinding", f"ai-etl-{name}-secret-reader")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": f"ai-etl-{name}", "namespace": "ai-etl-dev"}
    ]
    deployment = manifest(run, "Deployment", f"ai-etl-{name}")
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == f"ai-etl-{name}"
    # One per workload, and one per server credential's rotation step.
    assert len(run.of_type(ESO_EXTERNAL_SECRET)) == len(CONSUMERS) + 1 + len(server_credentials(CATALOGUE))


def test_a_workload_without_its_config_is_an_error(tmp_path: Path) -> None:
    """A consumer needs its own `ai-etl:<name>` object (at least an image); the error says so."""
    from ai_etl.config.settings import ConfigError

    with pytest.raises(ConfigError, match=rf"{WORKER.name}\.image: is required"):
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


# A consumer name the catalogue does not use, so each bad consumer is refused for its own fault.
_NEW = unused("worker", {c.name for c in CONSUMERS})
# Each bad entry has only the fault it is named for: `no-config`, say, would also end like an ARN
# suffix (a hyphen and six characters) and be refused for that instead.
_BAD_KEY = SecretSpec("Bad_Key", None, Source.GENERATED, "x")
_NO_RECIPE = SecretSpec("orphan-url", "ORPHAN_URL", Source.COMPOSED, "x")
_NO_CONFIG_KEY = SecretSpec("unconfigured", "UNCONFIGURED", Source.PROVIDED, "x")
_ARN_LIKE = SecretSpec("github-secret", "GH", Source.GENERATED, "x")
_READS_NO_ENV = Consumer(_NEW, "x", keys=("db-password",))


@pytest.mark.parametrize(
    ("bad", "consumers", "problem"),
    [
        (CATALOGUE + (CATALOGUE[0],), CONSUMERS, "duplicate keys"),
        (CATALOGUE + (_BAD_KEY,), CONSUMERS, "not a valid Kubernetes Secret key"),
        (CATALOGUE + (_NO_RECIPE,), CONSUMERS, "composed secrets, and only they"),
        (CATALOGUE + (_NO_CONFIG_KEY,), CONSUMERS, "exactly the provided secrets name a config key"),
        (
            CATALOGUE,
            CONSUMERS + (Consumer(_NEW, "x", keys=("db-password",)),),
            "no catalogue key with an env",
        ),
        (CATALOGUE, CONSUMERS + (Consumer(_NEW.capitalize(), "x"),), "not a valid Kubernetes name part"),
        (CATALOGUE + (_ARN_LIKE,), CONSUMERS, "ends in a hyphen and six characters"),
        (CATALOGUE, CONSUMERS + (CONSUMERS[0],), "duplicate consumers"),
    ],
    ids=[
        "duplicate",
        "invalid-key",
        "composed-without-recipe",
        "provided-without-config-key",
        "consumer-reads-a-key-without-env-var",
        "consumer-name-not-a-label",
        "name-ending-like-an-arn-suffix",
        "duplicate-consumer",
    ],
)
def test_an_inconsistent_catalogue_is_refused(
    bad: tuple[SecretSpec, ...], consumers: tuple[Consumer, ...], problem: str
) -> None:
    """A catalogue mistake is caught before anything is declared, with the entry named, each for
    its own fault (not another the same list happens to hold)."""
    with pytest.raises(ValueError, match=re.escape(problem)):
        check_catalogue(bad, consumers)


def test_placeholders_cover_every_provided_secret() -> None:
    """The tests' stand-ins follow the catalogue, so a new provided secret needs no test edit."""
    assert set(PLACEHOLDERS) == {f"ai-etl:{s.config_key}" for s in CATALOGUE if s.source is Source.PROVIDED}
