"""Rotation, the main day-2 flow: bump one keeper (or set a new provided secret), `pulumi up`, and
exactly that value changes, a new generation of the Kubernetes Secret is synced for each workload
that reads it, and each such workload rolls onto it only once the operator reports it Ready."""

from __future__ import annotations

import inspect
import re
from typing import Any

import pytest

from ai_etl.catalogue import CONSUMERS, Consumer, admin_secret, server_credentials
from ai_etl.components.passwords import GENERATION_INPUTS
from ai_etl.names import verifiers_key
from ai_etl.offline.records import Run, unwrap
from ai_etl.tokens import (
    ESO_EXTERNAL_SECRET,
    ESO_SECRET_STORE,
    IAM_ROLE_POLICY,
    K8S_DEPLOYMENT,
    K8S_ROLE,
    RANDOM_PASSWORD,
    SM_SECRET,
    SM_VERSION,
    sdk_class,
)
from tests.helpers import (
    PLACEHOLDERS,
    backend_manifest,
    depends_on,
    password_of,
    reads,
    run_stack,
    workload_manifest,
)


def changed(before: Run, after: Run, type_token: str, part: str = "inputs") -> set[str]:
    """Names of the resources of `type_token` whose inputs (or outputs) differ between two runs."""
    old = {r.urn: unwrap(getattr(r, part)) for r in before.of_type(type_token)}
    new = {r.urn: unwrap(getattr(r, part)) for r in after.of_type(type_token)}
    assert old.keys() == new.keys(), "rotation adds or removes no resource of this type"
    return {urn.rsplit("::", 1)[1] for urn in old if old[urn] != new[urn]}


def secret_refs(run: Run, consumer: str = "backend") -> set[str]:
    """The Secrets workload `consumer`'s pods read."""
    deployment = workload_manifest(run, consumer, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}


def rolled(before: Run, after: Run) -> set[str]:
    """The workloads that moved to a new Secret generation (so their pods roll)."""
    old, new = before.exports["secretNames"], after.exports["secretNames"]
    assert set(old) == set(new) == {c.name for c in CONSUMERS}
    return {name for name in old if old[name] != new[name]}


def readers(*keys: str) -> set[str]:
    """The workloads that read any of `keys`."""
    return {c.name for c in CONSUMERS if reads(c) & set(keys)}


@pytest.fixture(scope="module")
def base() -> Run:
    return run_stack("production")


@pytest.fixture(scope="module")
def rotated() -> Run:
    return run_stack("production", overrides={"ai-etl:rotation": {"jwt-secret-key": "2026-12-01"}})


def test_bumping_a_rotation_value_makes_exactly_that_password_anew(base: Run, rotated: Run) -> None:
    """Only jwt-secret-key gets a new RandomPassword (named by its new rotation value, so it takes
    the current length; the old one is deleted), and only its Secrets Manager value changes."""
    old = {p.name for p in base.of_type(RANDOM_PASSWORD)}
    new = {p.name for p in rotated.of_type(RANDOM_PASSWORD)}
    assert new - old == {"ai-etl-passwords-jwt-secret-key-2026-12-01"}
    assert old - new == {"ai-etl-passwords-jwt-secret-key-initial"}
    assert password_of(rotated, "jwt-secret-key").inputs["keepers"] == {"rotation": "2026-12-01"}
    assert changed(base, rotated, SM_VERSION) == {"ai-etl-secrets-jwt-secret-key-value"}
    assert changed(base, rotated, SM_SECRET) == set()
    assert rotated.exports["rotation"]["jwt-secret-key"] == "2026-12-01"


def test_no_setting_but_a_rotation_value_changes_a_password(base: Run) -> None:
    """A new length (or any input that shapes a password) is ignored on existing passwords: the
    provider would otherwise replace every one of them, the database's and Redis's included."""
    for p in base.of_type(RANDOM_PASSWORD):
        assert set(p.ignore_changes) == set(GENERATION_INPUTS)
    params = set(inspect.signature(sdk_class(RANDOM_PASSWORD)._internal_init).parameters)  # type: ignore[attr-defined]
    assert {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower() for name in GENERATION_INPUTS} <= params
    longer = run_stack("production", overrides={"ai-etl:passwordLength": 64})
    assert {p.name for p in longer.of_type(RANDOM_PASSWORD)} == {
        p.name for p in base.of_type(RANDOM_PASSWORD)
    }
    assert changed(base, longer, SM_VERSION) == set()
    assert rolled(base, longer) == set()


def test_rotation_syncs_a_new_generation_and_rolls_each_reader_onto_it(base: Run, rotated: Run) -> None:
    """A new value gives each workload that reads it (the backend reads every one) a new Secret
    name: its ExternalSecret is replaced (its name changes), its Deployment and Role follow the new
    name, so its pods roll with no manual restart. A workload that does not read it keeps its
    Secret, and its pods."""
    assert "backend" in readers("jwt-secret-key") == rolled(base, rotated)
    for consumer in readers("jwt-secret-key"):
        old_name, new_name = base.exports["secretNames"][consumer], rotated.exports["secretNames"][consumer]
        assert old_name != new_name and new_name.startswith(f"ai-etl-{consumer}-secrets-")
        assert secret_refs(base, consumer) == {old_name} and secret_refs(rotated, consumer) == {new_name}
        assert workload_manifest(rotated, consumer, "Role")["rules"][0]["resourceNames"] == [new_name]
        old_data = {
            d["secretKey"]: d["remoteRef"]
            for d in workload_manifest(base, consumer, "ExternalSecret")["spec"]["data"]
        }
        new_data = {
            d["secretKey"]: d["remoteRef"]
            for d in workload_manifest(rotated, consumer, "ExternalSecret")["spec"]["data"]
        }
        assert {k for k in old_data if old_data[k] != new_data[k]} == {"jwt-secret-key"}


@pytest.mark.parametrize("consumer", CONSUMERS, ids=lambda c: c.name)
def test_the_rollout_waits_for_the_operators_sync(rotated: Run, consumer: Consumer) -> None:
    """Order on `pulumi up`, for each workload: new SecretVersions of what it reads (and the
    rotation steps' inputs, which every workload waits for), then its ExternalSecret (awaited
    until Ready), then its Deployment and Role. The old generation is deleted only after (no
    delete-before-replace), so no pod can start against a Secret with old values."""
    external = rotated.one(ESO_EXTERNAL_SECRET, f"-{consumer.name}-secrets")
    deployment = rotated.one(K8S_DEPLOYMENT, f"-{consumer.name}")
    role = rotated.one(K8S_ROLE, f"-{consumer.name}-secret-reader")
    assert external.inputs["metadata"]["annotations"]["pulumi.com/waitFor"] == "condition=Ready"
    assert external.delete_before_replace is False
    assert depends_on(rotated, deployment, external)
    assert depends_on(rotated, role, external)
    steps = {k for s in server_credentials() for k in (admin_secret(s).key, verifiers_key(s.key))}
    stored = {
        v.name.removeprefix("ai-etl-secrets-").removesuffix("-value"): v for v in rotated.of_type(SM_VERSION)
    }
    for key, version in stored.items():
        assert depends_on(rotated, external, version) is (key in reads(consumer) | steps), key
    if consumer.name == "backend":  # it reads every entry with an env var: all but the servers' own
        assert reads(consumer) | steps == set(stored) - {"db-password", "redis-password"}
    store = rotated.one(ESO_SECRET_STORE)
    assert depends_on(rotated, external, store)
    assert depends_on(rotated, store, rotated.one(IAM_ROLE_POLICY)), (
        "the store is used only once its role may read"
    )


def test_rotating_the_database_password_changes_database_url(base: Run) -> None:
    """db-password feeds DATABASE_URL: a bump of its generation changes both values, the roles'
    verifiers, and the backend's generation."""
    after = run_stack("production", overrides={"ai-etl:rotation": {"db-password": 1}})
    assert changed(base, after, SM_VERSION) == {
        "ai-etl-secrets-db-password-value",
        "ai-etl-secrets-database-url-value",
        "ai-etl-secrets-db-password-verifiers-value",
    }
    assert "backend" in readers("database-url") == rolled(base, after)


def test_a_new_provided_secret_reaches_the_pods_the_same_way(base: Run) -> None:
    """`pulumi config set --secret qwenApiKey ...` then `pulumi up`: only that value changes, and
    each workload that reads it (the backend among them) rolls onto a new generation."""
    after = run_stack("production", secrets={**PLACEHOLDERS, "ai-etl:qwenApiKey": "placeholder-qwen-v2"})
    assert changed(base, after, SM_VERSION) == {"ai-etl-secrets-qwen-api-key-value"}
    assert changed(base, after, RANDOM_PASSWORD) == set()
    assert "backend" in readers("qwen-api-key") == rolled(base, after)
    for consumer in readers("qwen-api-key"):
        new = after.exports["secretNames"][consumer]
        assert secret_refs(after, consumer) == {new} != {base.exports["secretNames"][consumer]}


@pytest.mark.parametrize(
    "overrides",
    [{"ai-etl:backend": {"replicas": 5}}, {"ai-etl:rotation": {"jwt-secret-key": "initial"}}],
    ids=["replicas", "same-rotation-value"],
)
def test_changes_that_touch_no_value_keep_the_generation(base: Run, overrides: dict[str, Any]) -> None:
    """A change to no secret value keeps the Secret name: no needless resync or restart."""
    after = run_stack("production", overrides=overrides)
    assert rolled(base, after) == set()
    assert changed(base, after, SM_VERSION) == set()


def test_kubectl_rollout_undo_cannot_start_pods_on_a_deleted_secret(rotated: Run) -> None:
    """After a rotation the previous generation's Secret is gone: the operator owns it (a
    controller reference for creationPolicy Owner, external-secrets
    pkg/controllers/externalsecret/externalsecret_controller.go), so it is garbage-collected with
    its ExternalSecret. A kept ReplicaSet would roll back onto pods that can never start, so the
    Deployment keeps none: `kubectl rollout undo` finds no history, and rollbacks go through config.
    So for every workload."""
    for consumer in CONSUMERS:
        deployment = workload_manifest(rotated, consumer.name, "Deployment")
        assert deployment["spec"]["revisionHistoryLimit"] == 0
        external = workload_manifest(rotated, consumer.name, "ExternalSecret")
        assert external["spec"]["target"]["creationPolicy"] == "Owner"


def test_an_image_rollback_changes_no_credential(base: Run) -> None:
    """Rolling the image back (`config set --path 'backend.image' <previous>`) updates the
    Deployment alone: same Secret generation, same values."""
    image = "registry.example.com/ai-etl-backend:0.9.0@sha256:" + "1" * 64
    after = run_stack("production", overrides={"ai-etl:backend": {"image": image}})
    assert rolled(base, after) == set()
    assert changed(base, after, SM_VERSION) == set()
    (container,) = backend_manifest(after, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == image


def test_deletes_that_wait_on_the_operator_are_bounded(base: Run) -> None:
    """Only a running operator removes its finalizer from an ExternalSecret being deleted; a
    rotation (which deletes the old generation) or a destroy would otherwise wait for it forever.
    Both External Secrets objects give up after five minutes (docs/troubleshooting.md)."""
    for token in (ESO_EXTERNAL_SECRET, ESO_SECRET_STORE):
        for resource in base.of_type(token):
            assert resource.custom_timeouts == {"delete": "5m"}
