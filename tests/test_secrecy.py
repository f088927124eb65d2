"""Secret values are marked secret wherever they flow, and appear nowhere in plain text: not in a
Kubernetes object, a plain input, a provider's plain output, a resource name or a stack output."""

from __future__ import annotations

from ai_etl.components import trust
from ai_etl.offline.records import Run, Sensitive, secrets_in, unwrap
from ai_etl.tokens import K8S_NAMESPACE, RANDOM_PASSWORD, SM_VERSION
from tests.helpers import PLACEHOLDERS, manifests, plain_text
from tests.paths import PROJECT_DIR


def secret_values(run: Run) -> set[str]:
    """Every secret value of the run: the passwords, the composed URLs and the provided secrets."""
    values = set(PLACEHOLDERS.values())
    for resource in run.resources:
        values.update(str(v) for v in secrets_in(resource.inputs))
        values.update(str(v) for v in secrets_in(resource.outputs))
    return values


def leaks(run: Run) -> list[str]:
    """Where a secret value stands in plain text."""
    values = secret_values(run)
    found = []
    for r in run.resources:
        for where, text in (
            ("name", r.name),
            ("urn", r.urn),
            ("inputs", plain_text(r.inputs)),
            ("outputs", plain_text(r.outputs)),
        ):
            found += [f"{r.type} {r.name} {where}" for v in values if v in text]
    found += [f"export {k}" for k, v in run.exports.items() for s in values if s in plain_text(v)]
    return found


def test_no_secret_value_appears_in_plain_text(stack_run: Run) -> None:
    """Nothing a reader of the plan, the state or the cluster's objects sees holds a secret value."""
    assert len(secret_values(stack_run)) >= 13  # passwords and their hashes, URLs, provided
    assert leaks(stack_run) == []


def test_the_leak_check_finds_a_planted_leak(stack_run: Run) -> None:
    """The leak check is live: a password copied into a plain label is found."""
    namespace = next(r for r in stack_run.resources if r.type == K8S_NAMESPACE)
    password = unwrap(stack_run.of_type(RANDOM_PASSWORD)[0].outputs["result"])
    original = namespace.inputs["metadata"]["labels"].copy()
    namespace.inputs["metadata"]["labels"]["leak"] = password
    try:
        assert leaks(stack_run) == ["kubernetes:core/v1:Namespace ai-etl-namespace inputs"]
    finally:
        namespace.inputs["metadata"]["labels"] = original


def test_kubernetes_objects_hold_no_secret_at_all(stack_run: Run) -> None:
    """The program declares no Secret data: the operator alone writes the Kubernetes Secret."""
    for obj in manifests(stack_run):
        assert list(secrets_in(obj)) == [], obj["kind"]
        assert obj["kind"] != "Secret"
        if obj["kind"] == "ConfigMap":  # the RDS CA bundle alone: public certificates (trust.py)
            assert obj["data"] == {trust.BUNDLE_KEY: trust.rds_ca_bundle()}


def test_generated_and_provided_values_travel_as_secrets(stack_run: Run) -> None:
    """The provider marks passwords secret, and every value sent to Secrets Manager is secret."""
    for p in stack_run.of_type(RANDOM_PASSWORD):
        assert isinstance(p.outputs["result"], Sensitive)
        assert "result" in p.additional_secret_outputs
        assert list(secrets_in(p.inputs["keepers"])) == [], "keepers are plain: never a secret"
    for v in stack_run.of_type(SM_VERSION):
        assert isinstance(v.inputs["secretString"], Sensitive)
        assert not isinstance(v.outputs["versionId"], Sensitive), "a version id names a value, unsecret"


def test_stack_outputs_are_never_secret_values(stack_run: Run) -> None:
    """No output is a secret (secret outputs would still put values one command away)."""
    for name, value in stack_run.exports.items():
        assert not isinstance(value, Sensitive), name


def test_local_env_files_are_ignored() -> None:
    """The guide's first rule: `.env` is never committed, `.env.example` is."""
    lines = (PROJECT_DIR / ".gitignore").read_text().splitlines()
    assert ".env" in lines and "!.env.example" in lines
