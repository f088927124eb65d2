"""The recovery runbook's AWS steps, run as printed with the real AWS CLI against an AWS emulator
(moto's server, on loopback): after a destroy within the recovery window, every secret comes back
and is readable, and the stack's KMS key is enabled again. The scene each step starts from is laid
out through botocore, in this process: only the runbook's own commands need the CLI."""

from __future__ import annotations

import subprocess

import pytest

from ai_etl.catalogue import CATALOGUE
from tests.helpers import aws_client
from tests.test_docs import DOCS, fenced

pytestmark = pytest.mark.slow  # each runbook command starts the AWS CLI (a second or so apiece)

STACK = "production"  # the stack the runbook's block names
SAMPLE = "not-a-real-value-"  # stand-ins, of a length per key


def run(env: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, check=False
    )


def destroyed_stack(env: dict[str, str]) -> str:
    """What `pulumi destroy` leaves of a stack within its recovery window: every secret scheduled
    for deletion, and its KMS key pending deletion. Returns the key's id."""
    kms, secrets = aws_client(env, "kms"), aws_client(env, "secretsmanager")
    key = kms.create_key(Description="ai-etl-production")["KeyMetadata"]["KeyId"]
    for i, spec in enumerate(CATALOGUE):
        name = f"ai-etl/{STACK}/{spec.key}"
        secrets.create_secret(Name=name, KmsKeyId=key, SecretString=SAMPLE + "x" * i)
        secrets.delete_secret(SecretId=name, RecoveryWindowInDays=30)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=30)
    return str(key)


def test_the_recovery_runbook_brings_every_secret_and_the_key_back(aws: dict[str, str]) -> None:
    """Restore every secret, cancel the key's deletion, re-enable it, read each value back: the
    runbook's block does all of it, in that order, without printing a value."""
    key = destroyed_stack(aws)
    secrets = aws_client(aws, "secretsmanager")
    with pytest.raises(secrets.exceptions.InvalidRequestException):  # scheduled for deletion
        secrets.get_secret_value(SecretId=f"ai-etl/{STACK}/jwt-secret-key")
    assert aws_client(aws, "kms").describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"

    block = fenced((DOCS / "runbooks.md").read_text(), "2. **AWS**")
    assert f"STACK={STACK}" in block
    result = run(aws, block)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "Enabled" in lines
    for i, spec in enumerate(CATALOGUE):
        assert f"ai-etl/{STACK}/{spec.key}: {len(SAMPLE) + i} characters" in lines
    assert SAMPLE not in result.stdout, "no value is ever printed"
    assert secrets.get_secret_value(SecretId=f"ai-etl/{STACK}/secret-key")["SecretString"] == SAMPLE + "x"


def test_the_replica_drill_reads_every_replica_back_by_length(aws: dict[str, str]) -> None:
    """Secrets created as the program declares them (a replica in `replicaRegion` under that
    region's key) are readable there; the runbook's drill reads each back without printing it."""
    replica = "us-west-2"
    key = aws_client(aws, "kms", replica).create_key()["KeyMetadata"]["Arn"]
    secrets = aws_client(aws, "secretsmanager")
    for i, spec in enumerate(CATALOGUE):
        secrets.create_secret(
            Name=f"ai-etl/{STACK}/{spec.key}",
            SecretString=SAMPLE + "x" * i,
            AddReplicaRegions=[{"Region": replica, "KmsKeyId": key}],
        )
    block = fenced((DOCS / "runbooks.md").read_text(), "A drill (read every replica back")
    assert f"STACK={STACK} REPLICA={replica}" in block
    result = run(aws, block)
    assert result.returncode == 0, result.stderr[-2000:]
    lengths = {
        line.split(": ")[0]: int(line.split(": ")[1].split()[0]) for line in result.stdout.splitlines()
    }
    assert lengths == {f"ai-etl/{STACK}/{s.key}": len(SAMPLE) + i for i, s in enumerate(CATALOGUE)}
    assert SAMPLE not in result.stdout
