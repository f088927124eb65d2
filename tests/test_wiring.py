"""The wiring, end to end: a workload's env var -> secretKeyRef -> ExternalSecret data -> Secrets Manager
name -> SecretVersion value -> its RandomPassword, composed URL or provided config."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import pytest

from ai_etl import names
from ai_etl.catalogue import (
    CATALOGUE,
    CONSUMERS,
    PLAIN_ENV,
    Consumer,
    Source,
    by_key,
    server_credentials,
    synced,
)
from ai_etl.offline.records import Run, Sensitive, unwrap
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.tokens import IAM_ROLE, KMS_KEY, RANDOM_PASSWORD
from ai_etl.tokens import SM_SECRET as SECRET
from ai_etl.tokens import SM_VERSION as VERSION
from tests.helpers import (
    PLACEHOLDERS,
    backend_manifest,
    database_config,
    entries_of,
    manifest,
    password_of,
    reads,
    settings_of,
    stepped,
    workload_manifest,
)

each_workload = pytest.mark.parametrize("consumer", CONSUMERS, ids=lambda c: c.name)
"""Every workload of the catalogue in turn."""


def secret_value(run: Run, remote_name: str, version_ref: str) -> Sensitive:
    """The value Secrets Manager holds under `remote_name` at the pinned version."""
    (secret,) = [r for r in run.of_type(SECRET) if r.inputs["name"] == remote_name]
    (version,) = [r for r in run.of_type(VERSION) if r.inputs["secretId"] == secret.outputs["arn"]]
    assert version_ref == f"uuid/{version.outputs['versionId']}", (
        "the ExternalSecret pins the current version"
    )
    value = version.inputs["secretString"]
    assert isinstance(value, Sensitive), f"{remote_name} is sent to AWS as a secret"
    return value


@each_workload
def test_every_variable_of_each_workload_resolves_to_its_source(stack_run: Run, consumer: Consumer) -> None:
    """Each env var a workload reads ends at the value the catalogue says it comes from, and it
    reads exactly its keys (the backend: every entry with an env var)."""
    deployment = workload_manifest(stack_run, consumer.name, "Deployment")
    external = workload_manifest(stack_run, consumer.name, "ExternalSecret")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    data = {d["secretKey"]: d["remoteRef"] for d in external["spec"]["data"]}
    catalogue = by_key()
    seen = set()
    for env in container["env"]:
        if "valueFrom" not in env:
            continue
        ref = env["valueFrom"]["secretKeyRef"]
        spec = catalogue[ref["key"]]
        assert spec.env_var == env["name"]
        assert ref["name"] == external["metadata"]["name"] == external["spec"]["target"]["name"]
        remote = data[ref["key"]]
        assert remote["key"] == f"ai-etl/{stack_run.stack}/{spec.key}"
        value = unwrap(secret_value(stack_run, remote["key"], remote["version"]))
        if spec.source is Source.GENERATED:
            assert value == unwrap(password_of(stack_run, spec.key).outputs["result"])
        elif spec.source is Source.PROVIDED:
            assert value == PLACEHOLDERS[f"ai-etl:{spec.config_key}"]
        else:
            url = urlsplit(value)
            assert spec.password_of is not None
            assert unquote(url.password or "") == unwrap(
                password_of(stack_run, spec.password_of).outputs["result"]
            )
        seen.add(spec.key)
    assert seen == reads(consumer)


def test_composed_urls_carry_the_guides_defaults_and_survive_special_characters(stack_run: Run) -> None:
    """DATABASE_URL and REDIS_URL parse back into host, port, database, the login role of the
    current generation (`<user>_blue` at 0) and the exact password, although the password holds
    '@', ':', '/' and '#'."""
    urls = {}
    for remote in backend_manifest(stack_run, "ExternalSecret")["spec"]["data"]:
        if remote["secretKey"] in ("database-url", "redis-url"):
            urls[remote["secretKey"]] = urlsplit(
                unwrap(secret_value(stack_run, remote["remoteRef"]["key"], remote["remoteRef"]["version"]))
            )
    db, redis = urls["database-url"], urls["redis-url"]
    db_password = unwrap(password_of(stack_run, "db-password").outputs["result"])
    assert set("@:/#") <= set(db_password), "the mock's password exercises the encoding"
    assert (db.scheme, db.hostname, db.port, db.path, db.username) == (
        "postgresql+asyncpg",
        database_config(stack_run.stack).get("host", "postgres-svc"),
        5432,
        "/ai_etl",
        "ai_etl_blue",
    )
    assert unquote(db.password or "") == db_password
    cache = settings_of(stack_run.stack).config.redis  # the guide's redis-svc, or the stack's ElastiCache
    assert (redis.scheme, redis.hostname, redis.port, redis.path, redis.username) == (
        "rediss" if cache.uses_tls() else "redis",
        cache.host,
        6379,
        "/0",
        "ai_etl_blue",
    )
    assert unquote(redis.password or "") == unwrap(password_of(stack_run, "redis-password").outputs["result"])


def test_every_catalogue_entry_is_one_encrypted_secrets_manager_entry(stack_run: Run) -> None:
    """Each catalogue key, and each server credential's verifiers, has exactly one Secrets Manager
    secret, under ai-etl/<stack>/, with the environment's own KMS key, and exactly one value."""
    key = stack_run.one(KMS_KEY, "-secrets-key")
    secrets = stack_run.of_type(SECRET)
    catalogue = settings_of(stack_run.stack).catalogue  # the stack's: no admin's password unused
    keys = entries_of(stack_run.stack, catalogue) + [
        names.verifiers_key(s.key) for s in stepped(stack_run.stack)
    ]
    assert sorted(s.inputs["name"] for s in secrets) == sorted(f"ai-etl/{stack_run.stack}/{k}" for k in keys)
    for secret in secrets:
        assert secret.inputs["kmsKeyId"] == key.outputs["arn"]
    assert len(stack_run.of_type(VERSION)) == len(keys)


def test_database_and_redis_passwords_stay_out_of_kubernetes(stack_run: Run) -> None:
    """Entries without an env var live in Secrets Manager only: the operator syncs to the
    workloads what they read, and nothing else."""
    keys = {
        d["secretKey"]
        for c in CONSUMERS
        for d in workload_manifest(stack_run, c.name, "ExternalSecret")["spec"]["data"]
    }
    assert keys == {spec.key for spec in synced()} == set().union(*(reads(c) for c in CONSUMERS))
    assert not keys & {"db-password", "redis-password"}


@each_workload
def test_api_base_is_plain_configuration(stack_run: Run, consumer: Consumer) -> None:
    """QWEN_API_BASE is configuration, not a secret: a plain value (the documented default unless
    the stack file sets `qwenApiBase`) in the env of each workload that reads it, and of no other."""
    deployment = workload_manifest(stack_run, consumer.name, "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    config = load_stack_config(stack_run.stack)
    base = config.get(f"ai-etl:{PLAIN_ENV['QWEN_API_BASE']}", "https://api.together.xyz/v1")
    if "QWEN_API_BASE" in consumer.plain_env:
        assert env["QWEN_API_BASE"] == {"name": "QWEN_API_BASE", "value": base}
    else:
        assert "QWEN_API_BASE" not in env


def test_generated_secrets_are_long_random_passwords(stack_run: Run) -> None:
    """Every generated secret is a RandomPassword of 32 characters or more, with mixed classes; a
    server credential has two, one per login role."""
    generated = [spec.key for spec in CATALOGUE if spec.source is Source.GENERATED]
    passwords = stack_run.of_type(RANDOM_PASSWORD)
    assert {password_of(stack_run, key).urn for key in generated} <= {p.urn for p in passwords}
    by_api = len(server_credentials()) - len(stepped(stack_run.stack))  # + the disabled default user's
    assert len(passwords) == len(generated) + len(server_credentials()) + by_api
    for p in passwords:
        assert p.inputs["length"] >= 32
        assert p.inputs["special"] is True
        assert p.inputs["minUpper"] >= 1 and p.inputs["minLower"] >= 1 and p.inputs["minNumeric"] >= 1


def test_stack_outputs_help_an_operator(stack_run: Run) -> None:
    """The outputs name what an operator looks for, and match what was declared."""
    exports = stack_run.exports
    assert set(exports["secretNames"]) == {c.name for c in CONSUMERS}
    for c in CONSUMERS:
        name = workload_manifest(stack_run, c.name, "ExternalSecret")["metadata"]["name"]
        assert exports["secretNames"][c.name] == name
    assert exports["namespace"] == manifest(stack_run, "Namespace")["metadata"]["name"]
    assert exports["operatorRoleArn"] == stack_run.one(IAM_ROLE).outputs["arn"]
    assert exports["kmsKeyArn"] == stack_run.one(KMS_KEY, "-secrets-key").outputs["arn"]
    servers = {spec.key for spec in server_credentials()}
    assert set(exports["secretArns"]) == set(
        entries_of(stack_run.stack, settings_of(stack_run.stack).catalogue)
    ) | {names.verifiers_key(s.key) for s in stepped(stack_run.stack)}
    generated = {spec.key for spec in CATALOGUE if spec.source is Source.GENERATED}
    assert set(exports["rotation"]) == generated - servers
    assert exports["generations"] == dict.fromkeys(sorted(servers), 0)
