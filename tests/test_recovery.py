"""The recovery and restore runbooks, each block taken from docs/runbooks.md as printed and run with
`bash -euo pipefail`, its AWS calls made by the real AWS CLI against an AWS emulator (moto's server,
on loopback) and its pulumi calls by a fake that checks them (tests/fakes). The AWS side starts as
the program declares production, a production-grade stack: its secrets and their values, its key
and the replica region's, both aliases, a replica of every secret under the replica key."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError

from ai_etl.catalogue import CATALOGUE, by_key
from ai_etl.catalogue.urls import read_url
from ai_etl.offline.records import Run
from ai_etl.offline.stackconfig import load_project
from ai_etl.ops import kept as kept_module
from ai_etl.ops.kept import kept
from ai_etl.tokens import KMS_ALIAS, KMS_KEY, SM_SECRET
from tests.fakes import bin_dir, path_with, read_log
from tests.helpers import (
    STACKS,
    run_cli,
    run_config,
    run_stack,
    secrets_manager_values,
    stack_config,
)
from tests.paths import PROJECT_DIR
from tests.test_docs import DOCS, fenced

# Each runbook block runs the AWS CLI against moto, a second or so a call: tens of seconds a test,
# so they start first (`heavy`).
pytestmark = [pytest.mark.slow, pytest.mark.heavy]

STACK = "production"  # the production-grade stack the blocks name
RUNBOOKS = (DOCS / "runbooks.md").read_text()


def client(env: dict[str, str], service: str, region: str) -> Any:
    """A boto3 client of the emulator, for what the tests set up and check (the blocks use the CLI)."""
    return boto3.client(
        service,
        region_name=region,
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )


def value_of(env: dict[str, str], region: str, name: str) -> str:
    return str(client(env, "secretsmanager", region).get_secret_value(SecretId=name)["SecretString"])


def key_state(env: dict[str, str], region: str, arn: str) -> str:
    return str(client(env, "kms", region).describe_key(KeyId=arn)["KeyMetadata"]["KeyState"])


@dataclass
class World:
    """Production in the emulator, as the program declares it."""

    run: Run
    region: str
    replica: str
    keys: dict[str, tuple[str, str]]
    """Each KMS key by logical name: its region and ARN."""
    values: dict[str, str]
    """What each secret holds, by its Secrets Manager name."""

    def export(self, path: Path) -> Path:
        """The stack's state as `pulumi stack export` writes it (pulumi/pulumi sdk/go/common/apitype/
        core.go: UntypedDeployment, DeploymentV3, ResourceV3), with the emulator's ids."""
        key_arn = {
            made: self.keys[r.name][1]
            for r in self.run.of_type(KMS_KEY)
            for made in (r.outputs["arn"], r.outputs["keyId"])
        }
        resources: list[dict[str, Any]] = []
        for r in self.run.of_type(KMS_KEY):
            arn = self.keys[r.name][1]
            outputs: dict[str, Any] = {"arn": arn, "keyId": arn.rsplit("/", 1)[1]}
            resources.append(
                {"urn": r.urn, "custom": True, "type": r.type, "id": outputs["keyId"], "outputs": outputs}
            )
        for r in self.run.of_type(SM_SECRET):
            replicas = [
                {**x, "kmsKeyId": key_arn[x["kmsKeyId"]], "status": "InSync"} for x in r.inputs["replicas"]
            ]
            outputs = {"name": r.inputs["name"], "replicas": replicas}
            resources.append(
                {"urn": r.urn, "custom": True, "type": r.type, "id": r.inputs["name"], "outputs": outputs}
            )
        path.write_text(json.dumps({"version": 3, "deployment": {"manifest": {}, "resources": resources}}))
        return path


def declare(
    env: dict[str, str], run: Run, region: str, values: dict[str, str] | None = None
) -> dict[str, str]:
    """What `pulumi up` of `run` creates by name in AWS, made in the emulator: each key and alias in
    its region, each secret (with `values`, if given) and its replicas. Fails as AWS does on a name
    already taken. Returns the emulator's key ARN for each of the run's key ids and ARNs."""
    by_mock: dict[str, str] = {}
    for key in run.of_type(KMS_KEY):
        kms = client(env, "kms", key.inputs.get("region") or region)
        arn = kms.create_key(Description=key.inputs["description"])["KeyMetadata"]["Arn"]
        by_mock[key.outputs["arn"]] = by_mock[key.outputs["keyId"]] = arn
    for alias in run.of_type(KMS_ALIAS):
        kms = client(env, "kms", alias.inputs.get("region") or region)
        kms.create_alias(AliasName=alias.inputs["name"], TargetKeyId=by_mock[alias.inputs["targetKeyId"]])
    for secret in run.of_type(SM_SECRET):
        name = secret.inputs["name"]
        replicas = [
            {"Region": x["region"], "KmsKeyId": by_mock[x["kmsKeyId"]]} for x in secret.inputs["replicas"]
        ]
        value = {"SecretString": values[name]} if values else {}
        client(env, "secretsmanager", region).create_secret(
            Name=name, KmsKeyId=by_mock[secret.inputs["kmsKeyId"]], AddReplicaRegions=replicas, **value
        )
    return by_mock


def production(env: dict[str, str], overrides: dict[str, Any] | None = None, stack: str = STACK) -> World:
    """Production (or `stack`) as its `pulumi up` makes it, with the values the program writes."""
    run = run_stack(stack, overrides=overrides)
    config = stack_config(stack, overrides)
    region, replica = config["aws:region"], config["ai-etl:replicaRegion"]
    values = {f"ai-etl/{stack}/{key}": value for key, value in secrets_manager_values(run).items()}
    by_mock = declare(env, run, region, values)
    keys = {
        k.name: (k.inputs.get("region") or region, by_mock[k.outputs["arn"]]) for k in run.of_type(KMS_KEY)
    }
    assert all(s.inputs["replicas"] for s in run.of_type(SM_SECRET)), (
        "production grade replicates every secret"
    )
    return World(run, region, replica, keys, values)


def destroy(env: dict[str, str], world: World) -> None:
    """What `pulumi destroy` leaves within the recovery window: each secret's replica removed at
    once, then the secret scheduled for deletion (hashicorp/terraform-provider-aws internal/service/
    secretsmanager/secret.go, resourceSecretDelete); both keys pending deletion, their aliases gone."""
    window = int(world.run.of_type(SM_SECRET)[0].inputs["recoveryWindowInDays"])
    secrets = client(env, "secretsmanager", world.region)
    for name in world.values:
        secrets.remove_regions_from_replication(SecretId=name, RemoveReplicaRegions=[world.replica])
        secrets.delete_secret(SecretId=name, RecoveryWindowInDays=window)
    for alias in world.run.of_type(KMS_ALIAS):
        client(env, "kms", alias.inputs.get("region") or world.region).delete_alias(
            AliasName=alias.inputs["name"]
        )
    for where, arn in world.keys.values():
        client(env, "kms", where).schedule_key_deletion(
            KeyId=arn.rsplit("/", 1)[1], PendingWindowInDays=window
        )


def fake_pulumi(tmp_path: Path, env: dict[str, str], stacks: dict[str, Any]) -> tuple[dict[str, str], Path]:
    """`env` with the fake pulumi first on PATH, knowing `stacks`; returns it and the fake's log."""
    state, log = tmp_path / "pulumi-state.json", tmp_path / "pulumi.log"
    state.write_text(json.dumps({"stacks": stacks}))
    folder = bin_dir(tmp_path / "bin", "pulumi")
    return {
        **env,
        "PATH": path_with(env, folder),
        "FAKE_PULUMI_STATE": str(state),
        "FAKE_PULUMI_LOG": str(log),
    }, log


def aws_wrapped(env: dict[str, str], tmp_path: Path, lost: str | None = None) -> tuple[dict[str, str], Path]:
    """`env` with the real aws behind tests/fakes/aws.py: every call logged, `lost` out."""
    real = subprocess.run(
        ["bash", "-c", "command -v aws"], env=env, capture_output=True, text=True, check=True
    )
    calls = tmp_path / "aws.log"
    wrapped = {
        **env,
        "PATH": path_with(env, bin_dir(tmp_path / "aws-bin", "aws")),
        "FAKE_AWS_LOG": str(calls),
    }
    wrapped |= {
        "FAKE_AWS_REAL": real.stdout.strip(),
        "FAKE_AWS_LOST_REGION": lost or "",
        "FAKE_AWS_PRIMARY_REGION": lost or "",
    }
    return wrapped, calls


def run(env: dict[str, str], script: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_recovery_runbook_brings_back_every_secret_replica_and_key(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """After a destroy of production-grade production: the state comes back from the export (step
    1), then every secret, both keys (the replica region's too) and every replica under the replica
    key (step 2), read back by length only; then refresh, preview, up (step 3). Every value is the
    one before the destroy, and none is printed."""
    world = production(aws)
    world.export(tmp_path / f"ai-etl-{STACK}.state.json")
    destroy(aws, world)
    with pytest.raises(ClientError):
        value_of(aws, world.region, f"ai-etl/{STACK}/db-password")  # scheduled for deletion
    assert {key_state(aws, *key) for key in world.keys.values()} == {"PendingDeletion"}
    assert not client(aws, "secretsmanager", world.replica).list_secrets()["SecretList"]

    env, calls = aws_wrapped(aws, tmp_path)
    env, log = fake_pulumi(tmp_path, env, {})  # `pulumi stack rm` removed it
    section = RUNBOOKS.split("## Recovering a destroyed stack")[1]
    steps = [
        fenced(section, "1. **The state**"),
        fenced(section, "2. **AWS**"),
        fenced(section, "3. **Pulumi.**"),
    ]
    assert all(block.startswith("set -euo pipefail\n") for block in steps)
    results = [run(env, block, tmp_path) for block in steps]
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    commands = [entry["argv"][:2] for entry in read_log(log)]
    assert commands == [["stack", "select"], ["stack", "import"], ["refresh", "--stack"],
                        ["preview", "--stack"], ["up", "--stack"]]  # fmt: skip
    lines = results[1].stdout.splitlines()
    for where, arn in world.keys.values():
        assert f"{arn}: Enabled" in lines and key_state(aws, where, arn) == "Enabled"
    for name, value in world.values.items():
        assert f"{name}: {len(value)} characters" in lines
        assert f"{name} in {world.replica}: {len(value)} characters" in lines
        assert value_of(aws, world.region, name) == value == value_of(aws, world.replica, name)
    # moto reports every replica's key as the default one, whatever it was given: what the block
    # asked for is read from its calls instead.
    replicated = [c for c in read_log(calls) if c[:2] == ["secretsmanager", "replicate-secret-to-regions"]]
    assert sorted(c[c.index("--secret-id") + 1] for c in replicated) == sorted(world.values)
    replica_key = world.keys["ai-etl-secrets-replica-key"][1]
    assert {c[c.index("--add-replica-regions") + 1] for c in replicated} == {
        f"Region={world.replica},KmsKeyId={replica_key}"
    }
    printed = "".join(r.stdout + r.stderr for r in results)
    assert not any(value in printed for value in world.values.values()), "no value is ever printed"


def test_the_replica_drill_reads_every_replica_back_by_length(aws: dict[str, str], tmp_path: Path) -> None:
    """Secrets as the program declares them (a replica in `replicaRegion` under that region's key)
    are readable there; the runbook's drill reads each back without printing it."""
    world = production(aws)
    block = fenced(RUNBOOKS, "A drill (read every replica back")
    assert f"STACK={STACK} REPLICA={world.replica}" in block
    result = run(aws, block, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lengths = {
        line.split(": ")[0]: int(line.split(": ")[1].split()[0]) for line in result.stdout.splitlines()
    }
    assert lengths == {name: len(value) for name, value in world.values.items()}
    assert not any(value in result.stdout for value in world.values.values())


NEXT = "us-east-2"
"""The new stack's own replica region: any other of the partition."""


REDIS_URL = next(s for s in CATALOGUE if s.password_of == "redis-password")
MANAGED = "staging"
"""The committed stack whose servers are AWS-managed (RDS with its master user secret, ElastiCache):
the restore runs on it, where no administrator's password is kept."""
MANAGED_REPLICA = "eu-central-1"
MANAGED_NEXT = "eu-west-2"


def restore(
    aws: dict[str, str], tmp_path: Path, world: World
) -> tuple[subprocess.CompletedProcess[str], str, dict, dict]:
    """The restore block, run with the lost stack's region out, after writing the new stack's file
    as the runbook says; returns the run, the new stack's name, and its config and secrets as the
    CLI stores what the block set. The block names production; a user restoring another stack
    edits its first lines, as here."""
    block = fenced(RUNBOOKS, "script from the project's folder (after `make setup`)")
    first = f"STACK={STACK} REPLICA=us-west-2"
    assert block.startswith("set -euo pipefail\n") and first in block
    lost = world.run.stack
    block = block.replace(first, f"STACK={lost} REPLICA={world.replica}", 1)
    block = block.replace(f"NEW={STACK}-us-west-2", f"NEW={lost}-{world.replica}", 1)
    new = block.split("NEW=", 1)[1].split()[0]
    assert new == f"{lost}-{world.replica}" and new not in STACKS
    # The new stack's file: the lost stack's settings in the replica region, without rotation, adopt
    # and encrypted values (the runbook's paragraph before the block); a database on RDS names the
    # master user secret of the database restored in that region.
    config = {k: v for k, v in stack_config(lost).items() if k not in ("ai-etl:rotation", "ai-etl:adopt")}
    config = {k: v for k, v in config.items() if not (isinstance(v, dict) and "secure" in v)}
    config |= {
        "aws:region": world.replica,
        "ai-etl:replicaRegion": MANAGED_NEXT if lost == MANAGED else NEXT,
        "ai-etl:clusterName": f"ai-etl-{new}",
    }
    database = dict(config.get("ai-etl:database") or {})
    if "masterSecretArn" in database:
        account, name = database["masterSecretArn"].split(":")[4], database["masterSecretArn"].split(":")[6]
        database["masterSecretArn"] = f"arn:aws:secretsmanager:{world.replica}:{account}:secret:{name}"
        config["ai-etl:database"] = database
    # The project's folder, as the block runs in it: its program, Pulumi.yaml and the lost stack's file.
    project = tmp_path / "project"
    project.mkdir()
    (project / ".venv").symlink_to(PROJECT_DIR / ".venv")
    for name in ("Pulumi.yaml", "__main__.py", f"Pulumi.{lost}.yaml"):
        shutil.copy(PROJECT_DIR / name, project)
    (project / f"Pulumi.{new}.yaml").write_text(yaml.safe_dump({"config": config}))
    env, _ = aws_wrapped(aws, tmp_path, lost=world.region)
    env, log = fake_pulumi(tmp_path, env, {lost: {"config": {}, "outputs": {}}})
    result = run(env, block, project)
    secrets: dict[str, str] = {}
    for entry in read_log(log):
        if entry["argv"][:2] == ["config", "set"]:
            run_cli(f"pulumi {shlex.join(entry['argv'])}", config, secrets, stdin=entry["stdin"])
    return result, new, config, secrets


def test_the_restore_keeps_every_credential_in_a_new_stack_of_the_replica_region(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """A managed stack's region out (staging: RDS with its master user secret, ElastiCache; every
    call to its region fails), the stack having rotated a key since its first deploy: the block
    promotes every replica, and the new stack's encrypted config then makes the program write every
    value the stack had (the URLs included) without touching the lost region; the list of values
    is the stack's own (`python -m ai_etl.ops.kept`), so no administrator's password that does not
    exist is asked for. The new stack's keys, aliases, secrets and replicas take no name that
    exists. And why the restore makes a new stack: the stack itself moved to the replica region,
    after the promotion, would fail creating its alias and its secrets, whose names the replica
    key's alias and the promoted secrets hold (AlreadyExistsException, ResourceExistsException).
    One restore shows all of it: each costs half a minute of AWS CLI calls."""
    overrides = {
        "ai-etl:replicaRegion": MANAGED_REPLICA,
        "ai-etl:rotation": {"jwt-secret-key": "2026-06-01"},
    }
    world = production(aws, overrides=overrides, stack=MANAGED)
    result, new, config, secrets = restore(aws, tmp_path, world)
    assert result.returncode == 0, result.stderr[-3000:]
    restored_keys = kept(world.run)
    assert not {k for k, _ in restored_keys} & {"db-admin-password", "redis-admin-password"}
    given = {f"ai-etl:{t.split('.')[0]}" for _, t in restored_keys}
    assert set(secrets) == given, "every value went to encrypted config"
    # What Pulumi.yaml still declares and the managed stack does not read, set as its file says.
    declared = {f"ai-etl:{k}" for k, v in load_project(PROJECT_DIR)["config"].items() if v.get("secret")}
    restored = run_config(new, config, secrets | dict.fromkeys(declared - set(secrets), "not-used"))
    # Every credential; a server credential's verifiers are made anew from its kept password (a
    # new salt; the idle role a new password), which the new stack's rotation step sets.
    lost = world.run.stack
    credentials = {f"ai-etl/{lost}/{spec.key}" for spec in CATALOGUE}
    made = {f"ai-etl/{lost}/{k}": v for k, v in secrets_manager_values(restored).items() if k in by_key()}
    had = {name: v for name, v in world.values.items() if name in credentials}
    # On ElastiCache a kept password is taken as a takeover's AUTH token: the same password and
    # server, logged in as `default`, no user named (docs/runbooks.md says so, and how to leave it).
    cache_url = f"ai-etl/{lost}/{REDIS_URL.key}"
    before, after = read_url(REDIS_URL, had.pop(cache_url)), read_url(REDIS_URL, made.pop(cache_url))
    assert (after.password, after.host, after.username) == (before.password, before.host, None)
    assert made == had
    assert not any(value in result.stdout + result.stderr for value in world.values.values())
    promoted = client(aws, "secretsmanager", world.replica).list_secrets()["SecretList"]
    assert {s["Name"] for s in promoted} == set(world.values) and not any(
        "PrimaryRegion" in s for s in promoted
    )
    moved = run_stack(
        lost,
        overrides={**overrides, "aws:region": world.replica, "ai-etl:replicaRegion": MANAGED_NEXT,
                   "ai-etl:database": config["ai-etl:database"]},
    )  # fmt: skip
    with pytest.raises(ClientError, match="AlreadyExistsException"):
        declare(aws, moved, world.replica)
    (secret, *_) = moved.of_type(SM_SECRET)
    with pytest.raises(ClientError, match="ResourceExistsException"):
        client(aws, "secretsmanager", world.replica).create_secret(Name=secret.inputs["name"])
    declare(aws, restored, world.replica)
    for secret in restored.of_type(SM_SECRET):
        described = client(aws, "secretsmanager", world.replica).describe_secret(
            SecretId=secret.inputs["name"]
        )
        assert [s["Region"] for s in described["ReplicationStatus"]] == [MANAGED_NEXT]


def test_the_lost_region_is_out_for_the_restore(aws: dict[str, str], tmp_path: Path) -> None:
    """The stand-in for a lost region is live: a call to it fails, so a restore that reached for
    the primary would fail too."""
    env, _ = aws_wrapped(aws, tmp_path, lost="us-east-1")
    result = run(env, "aws secretsmanager list-secrets --region us-east-1", tmp_path)
    assert result.returncode == 255 and "Could not connect to the endpoint URL" in result.stderr


@pytest.mark.parametrize("stack", ["staging", "production"])
def test_kept_says_when_there_is_no_replica_to_restore_from(
    stack: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m ai_etl.ops.kept <stack>` on a stack without ai-etl:replicaRegion (staging) still
    lists its secrets, but says on stderr that there is no replica to restore them from: a silent
    list reads as a restore that can run. A stack with replicas (production) gets no note. The
    stack's render is the suite's shared one."""
    run = run_config(stack, stack_config(stack))
    monkeypatch.setattr(kept_module, "offline_run", lambda *_args, **_kwargs: (run,))
    assert kept_module.main([stack]) == 0
    out, err = capsys.readouterr()
    assert out == "".join(f"{key} {target}\n" for key, target in kept(run))
    has_replicas = stack_config(stack).get("ai-etl:replicaRegion") is not None
    assert ("has no ai-etl:replicaRegion" in err) is not has_replicas, err
