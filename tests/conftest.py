"""Fixtures: the real stack files, run under the Pulumi SDK's mocks (ai_etl/offline/runner.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_etl.offline.records import Run
from tests.crds import CrdError, crd_dir
from tests.helpers import STACKS, run_stack
from tests.tools import tool


@pytest.fixture(scope="session")
def stack_runs() -> dict[str, Run]:
    """One run per committed stack, shared by the tests that only read it."""
    return {stack: run_stack(stack) for stack in STACKS}


@pytest.fixture(params=STACKS)
def stack_run(request: pytest.FixtureRequest, stack_runs: dict[str, Run]) -> Run:
    """Each committed stack in turn."""
    return stack_runs[request.param]


@pytest.fixture(scope="session")
def schemas_dir() -> Path:
    """The operator's CRDs: ../shared's copy, or the pinned release's, downloaded and verified."""
    try:
        return crd_dir()
    except CrdError as error:
        pytest.fail(str(error))


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[dict[str, str]]:
    """The environment in which `aws` talks to a fresh moto server, and nothing else."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(tool("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield {
            "PATH": f"{tool('aws').parent}:{os.environ['PATH']}",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
            "HOME": str(tmp_path),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
