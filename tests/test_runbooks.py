"""Every shell block of docs/runbooks.md and docs/troubleshooting.md runs as printed under
`bash -euo pipefail`: taken from the page, with AWS answered by moto's server (the real AWS CLI),
and pulumi, kubectl, psql and redis-cli by fakes that check their arguments (tests/fakes). kubectl
must be pinned to the stack's own cluster (the kubeconfig `aws eks update-kubeconfig` writes for
the stack's `clusterName` in its region) and namespace, and the servers are reached through its
port-forwards only. The recovery and restore blocks run in tests/test_recovery.py."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ai_etl.offline.records import Run
from tests.fakes import bin_dir, path_with, read_log
from tests.helpers import backend_manifest, run_stack, stack_config
from tests.test_docs import DOCS, fenced
from tests.test_recovery import client, run

RUNBOOKS = (DOCS / "runbooks.md").read_text()
TROUBLESHOOTING = (DOCS / "troubleshooting.md").read_text()
SAMPLE = {"db-password": "db-pw-not-real-#?/@", "redis-password": "redis-pw-not-real-!$&"}
"""Stand-ins for the two server passwords, with characters the generators emit."""


def blocks(text: str) -> list[str]:
    return [str(b) for b in re.findall(r"^```bash\n(.*?)^```$", text, re.S | re.M)]


@pytest.fixture
def listeners() -> Iterator[dict[str, int]]:
    """Two TCP servers on loopback standing for the cluster's Postgres and Redis: they only accept
    (the fakes of psql and redis-cli check the connection, not the protocol)."""
    servers = {name: socket.create_server(("127.0.0.1", 0)) for name in ("postgres-svc", "redis-svc")}

    def accept(server: socket.socket) -> None:
        while True:
            try:
                server.accept()[0].close()
            except OSError:
                return

    for server in servers.values():
        threading.Thread(target=accept, args=(server,), daemon=True).start()
    yield {name: server.getsockname()[1] for name, server in servers.items()}
    for server in servers.values():
        server.close()


@dataclass
class Scene:
    """A stack as deployed, in the emulator and behind the fakes."""

    env: dict[str, str]
    tmp: Path
    run: Run

    def log(self, name: str) -> list[Any]:
        return read_log(self.tmp / f"{name}.log")


def scene(
    aws: dict[str, str], tmp_path: Path, listeners: dict[str, int], stack: str, **overrides: Any
) -> Scene:
    """`stack` deployed: its two server passwords in Secrets Manager, its EKS cluster (moto's, by
    the stack's clusterName in its region), and the fakes knowing its config, outputs, URNs,
    namespace, Services (at their configured ports) and Deployment."""
    config = stack_config(stack, overrides.get("overrides"))
    region, cluster = config["aws:region"], config["ai-etl:clusterName"]
    deployed = run_stack(stack, overrides=overrides.get("overrides"))
    secrets = client(aws, "secretsmanager", region)
    for key, value in SAMPLE.items():
        secrets.create_secret(Name=f"ai-etl/{stack}/{key}", SecretString=value)
    endpoint = client(aws, "eks", region).create_cluster(
        name=cluster,
        roleArn="arn:aws:iam::123456789012:role/eks",
        resourcesVpcConfig={"subnetIds": ["subnet-1"]},
    )["cluster"]["endpoint"]
    ports = {
        "postgres-svc": int(config.get("ai-etl:database", {}).get("port", 5432)),
        "redis-svc": int(config.get("ai-etl:redis", {}).get("port", 6379)),
    }
    state = {
        stack: {"config": config, "outputs": deployed.exports, "urns": [r.urn for r in deployed.resources]}
    }
    (tmp_path / "pulumi-state.json").write_text(json.dumps({"stacks": state}))
    folder = bin_dir(tmp_path / "bin", "pulumi", "kubectl", "psql", "redis-cli")
    env = {
        **aws,
        "AWS_DEFAULT_REGION": region,
        "PATH": path_with(aws, folder),
        "FAKE_PULUMI_STATE": str(tmp_path / "pulumi-state.json"),
        "FAKE_PULUMI_LOG": str(tmp_path / "pulumi.log"),
        "FAKE_KUBE_LOG": str(tmp_path / "kubectl.log"),
        "FAKE_KUBE_SERVER": endpoint,
        "FAKE_KUBE_NAMESPACE": deployed.exports["namespace"],
        "FAKE_KUBE_DEPLOYMENT": backend_manifest(deployed, "Deployment")["metadata"]["name"],
        "FAKE_KUBE_SERVICES": json.dumps(
            {name: {"port": ports[name], "to": f"127.0.0.1:{port}"} for name, port in listeners.items()}
        ),
        "FAKE_KUBE_SECRETS": json.dumps(overrides.get("kube_secrets", {})),
        "FAKE_PSQL_LOG": str(tmp_path / "psql.log"),
        "FAKE_REDIS_PASSWORD": str(tmp_path / "redis-password"),
        "ADMIN_URL": "postgresql://postgres@127.0.0.1:15432/postgres",
    }
    return Scene(env, tmp_path, deployed)


@pytest.mark.parametrize(
    ("anchor", "stack"),
    [
        ("## Rotation runbook", "production"),
        ("### The database and Redis passwords", "production"),
        ("**A release (the image).**", "production"),
        ("## Destroy and uninstall", "dev"),
        ("## Changing the replica region", "production"),
    ],
)
def test_the_pulumi_only_blocks_run_as_printed(
    aws: dict[str, str], tmp_path: Path, listeners: dict[str, int], anchor: str, stack: str
) -> None:
    """Blocks made of pulumi commands alone: every command a real one with real flags, on the stack
    they name, every URN one the stack declares; none fails."""
    world = scene(aws, tmp_path, listeners, stack)
    result = run(world.env, fenced(RUNBOOKS, anchor), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert world.log("pulumi"), "the block ran its commands"


@pytest.mark.parametrize("differ", [False, True])
def test_troubleshooting_compares_a_synced_value_by_its_digest(
    aws: dict[str, str], tmp_path: Path, listeners: dict[str, int], differ: bool
) -> None:
    """The comparison of a synced value with Secrets Manager, as printed: it reads the stack's
    backend Secret on the stack's cluster and says whether the two are the same, printing
    neither, nor a plain hash of either (its digests are keyed by a key of the run only)."""
    block = fenced(TROUBLESHOOTING, "## Comparing a synced value")
    key = re.search(r"KEY=(\S+)", block)
    assert key
    deployed = run_stack("production")
    stored = "jwt-not-real-value-#1"
    synced = stored + ("x" if differ else "")
    kube = {deployed.exports["secretNames"]["backend"]: {key[1]: base64.b64encode(synced.encode()).decode()}}
    world = scene(aws, tmp_path, listeners, "production", kube_secrets=kube)
    client(aws, "secretsmanager", stack_config("production")["aws:region"]).create_secret(
        Name=f"ai-etl/production/{key[1]}", SecretString=stored
    )
    result = run(world.env, block, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("DIFFERENT" in result.stdout) is differ and ("the same" in result.stdout) is not differ
    assert hashlib.sha256(stored.encode()).hexdigest()[:16] not in result.stdout
    assert hashlib.sha256(synced.encode()).hexdigest()[:16] not in result.stdout
    assert stored not in result.stdout + result.stderr


RUN_HERE = [
    "### The database and Redis passwords",
    "## Rotation runbook",
    "**A release (the image).**",
    "## Destroy and uninstall",
    "## Changing the replica region",
]
RUN_IN_RECOVERY = [
    "1. **The state**",
    "2. **AWS**",
    "3. **Pulumi.**",
    "A drill (read every replica back",
    "script from the project's folder (after `make setup`)",
]


def test_every_block_is_run_by_a_test_and_stops_at_its_first_failure() -> None:
    """Each shell block of the runbooks and of troubleshooting is one a test here or in
    tests/test_recovery.py runs (a new block needs its test), and starts with
    `set -euo pipefail`, so that a pasted script stops where it fails."""
    covered = [fenced(RUNBOOKS, anchor) for anchor in RUN_HERE + RUN_IN_RECOVERY]
    covered.append(fenced(TROUBLESHOOTING, "## Comparing a synced value"))
    found = blocks(RUNBOOKS) + blocks(TROUBLESHOOTING)
    assert sorted(found) == sorted(covered)
    for block in found:
        assert block.startswith("set -euo pipefail\n"), block.splitlines()[0]
        assert "psql " not in block or "psql -v ON_ERROR_STOP=1 " in block
        syntax = subprocess.run(["bash", "-n", "-c", block], capture_output=True, text=True, check=False)
        assert syntax.returncode == 0, syntax.stderr


UNCHECKED_SUBSTITUTION = re.compile(r"(?<![=(])\$\(|(?<=[^=]\")\$\(")
"""A `$(...)` that is not the whole right side of an assignment: in a `for` list, an argument or an
`echo`, bash ignores its failure even under `set -e` (only an assignment's status is the
substitution's), so a failed `aws` or `pulumi` there carries on with an empty value."""


def test_no_block_carries_on_after_a_failed_substitution() -> None:
    """Every `$(...)` of a runbook or troubleshooting block is assigned first (`x=$(...)` or
    `x="$(...)"`), so a failed command inside it stops the script: `for name in $(aws ...)` would
    run zero times and go on, and `kubectl -n "$(pulumi ...)"` would act on the context's
    default namespace. (`trap` strings, run at exit, are left out.)"""
    bad = [
        line
        for block in blocks(RUNBOOKS) + blocks(TROUBLESHOOTING)
        for line in block.splitlines()
        if not line.lstrip().startswith(("#", "trap "))
        and UNCHECKED_SUBSTITUTION.search(re.sub(r"^\s*(\w+=\S+\s+)*\w+=\"?\$\(", "", line))
    ]
    assert not bad, "\n".join(bad)
