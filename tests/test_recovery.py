"""The recovery runbook's AWS steps, run as printed with the real AWS CLI against an AWS emulator
(moto's server, on loopback): after a destroy within the recovery window, every secret comes back
and is readable, and the stack's KMS key is enabled again."""

from __future__ import annotations

import subprocess

from ai_etl.catalogue import CATALOGUE
from tests.test_docs import DOCS, fenced

STACK = "production"  # the stack the runbook's block names
SAMPLE = "not-a-real-value-"  # stand-ins, of a length per key


def run(env: dict[str, str], script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], env=env, capture_output=True, text=True, check=False
    )


def aws_out(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(["aws", *args], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def destroyed_stack(env: dict[str, str]) -> str:
    """What `pulumi destroy` leaves of a stack within its recovery window: every secret scheduled
    for deletion, and its KMS key pending deletion. Returns the key's id."""
    key = aws_out(
        env,
        "kms",
        "create-key",
        "--description",
        "ai-etl-production",
        "--query",
        "KeyMetadata.KeyId",
        "--output",
        "text",
    )
    for i, spec in enumerate(CATALOGUE):
        name = f"ai-etl/{STACK}/{spec.key}"
        aws_out(env, "secretsmanager", "create-secret", "--name", name, "--kms-key-id", key,
                "--secret-string", SAMPLE + "x" * i)  # fmt: skip
        aws_out(
            env, "secretsmanager", "delete-secret", "--secret-id", name, "--recovery-window-in-days", "30"
        )
    aws_out(env, "kms", "schedule-key-deletion", "--key-id", key, "--pending-window-in-days", "30")
    return key


def test_the_recovery_runbook_brings_every_secret_and_the_key_back(aws: dict[str, str]) -> None:
    """Restore every secret, cancel the key's deletion, re-enable it, read each value back: the
    runbook's block does all of it, in that order, without printing a value."""
    key = destroyed_stack(aws)
    blocked = subprocess.run(
        ["aws", "secretsmanager", "get-secret-value", "--secret-id", f"ai-etl/{STACK}/jwt-secret-key"],
        env=aws, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert blocked.returncode != 0, "a secret scheduled for deletion cannot be read"
    assert (
        aws_out(
            aws, "kms", "describe-key", "--key-id", key, "--query", "KeyMetadata.KeyState", "--output", "text"
        )
        == "PendingDeletion"
    )

    block = fenced((DOCS / "runbooks.md").read_text(), "2. **AWS**")
    assert f"STACK={STACK}" in block
    result = run(aws, block)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "Enabled" in lines
    for i, spec in enumerate(CATALOGUE):
        assert f"ai-etl/{STACK}/{spec.key}: {len(SAMPLE) + i} characters" in lines
    assert SAMPLE not in result.stdout, "no value is ever printed"
    value = aws_out(aws, "secretsmanager", "get-secret-value", "--secret-id", f"ai-etl/{STACK}/secret-key",
                    "--query", "SecretString", "--output", "text")  # fmt: skip
    assert value == SAMPLE + "x"


def test_the_replica_drill_reads_every_replica_back_by_length(aws: dict[str, str]) -> None:
    """Secrets created as the program declares them (a replica in `replicaRegion` under that
    region's key) are readable there; the runbook's drill reads each back without printing it."""
    replica = "us-west-2"
    key = aws_out(
        aws, "kms", "create-key", "--region", replica, "--query", "KeyMetadata.Arn", "--output", "text"
    )
    for i, spec in enumerate(CATALOGUE):
        aws_out(aws, "secretsmanager", "create-secret", "--name", f"ai-etl/{STACK}/{spec.key}",
                "--secret-string", SAMPLE + "x" * i,
                "--add-replica-regions", f"Region={replica},KmsKeyId={key}")  # fmt: skip
    block = fenced((DOCS / "runbooks.md").read_text(), "A drill (read every replica back")
    assert f"STACK={STACK} REPLICA={replica}" in block
    result = run(aws, block)
    assert result.returncode == 0, result.stderr[-2000:]
    lengths = {
        line.split(": ")[0]: int(line.split(": ")[1].split()[0]) for line in result.stdout.splitlines()
    }
    assert lengths == {f"ai-etl/{STACK}/{s.key}": len(SAMPLE) + i for i, s in enumerate(CATALOGUE)}
    assert SAMPLE not in result.stdout
