"""Fixtures: the real stack files, run under the Pulumi SDK's mocks (ai_etl/offline/runner.py)."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ai_etl.config import problems
from ai_etl.offline.records import Run
from tests.crds import CrdError, crd_dir
from tests.helpers import STACKS, run_stack
from tests.tools import tool


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The `heavy` tests first: pytest-xdist hands each worker its share in this order, so a long
    test drawn last would keep one core busy while the other waits (`--dist worksteal` evens out
    only what is left)."""
    items.sort(key=lambda item: item.get_closest_marker("heavy") is None)


@pytest.fixture
def every_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Messages list every problem, not the first `problems.SHOWN`: for a test that puts a problem
    in each of many keys at once, to render once what users would meet a screenful at a time."""
    monkeypatch.setattr(problems, "SHOWN", 10**6)
    monkeypatch.setattr(problems, "SHOWN_CHARS", 10**9)


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
        problem = str(error)
    pytest.fail(problem, pytrace=False)  # its one line says what to run (once: not inside `except`)


def _dies_with_parent() -> None:
    """In the child, before exec: the kernel sends it SIGTERM when the process that started it dies
    (Linux's PR_SET_PDEATHSIG, prctl(2))."""
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """One AWS emulator (moto's server) per test process, on a free loopback port: starting one
    costs seconds, resetting it (the `aws` fixture) a few milliseconds."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [str(tool("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=_dies_with_parent,  # a SIGKILLed worker runs no `finally`
    )
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"moto_server exited with {server.returncode} before it listened")
                time.sleep(0.1)
        else:
            pytest.fail(f"moto_server did not listen on 127.0.0.1:{port} within 30 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def aws(moto_endpoint: str, tmp_path: Path) -> dict[str, str]:
    """The environment in which `aws` talks to an emptied emulator, and nothing else: moto's own
    reset (`POST /moto-api/reset`, getmoto/moto `moto/moto_api/_internal/responses.py`) drops
    what earlier tests made, so each test starts from no resources at all."""
    with urllib.request.urlopen(
        urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST"), timeout=30
    ) as answer:
        assert answer.status == 200, "moto's reset answered"
    return {
        "PATH": f"{tool('aws').parent}:{os.environ['PATH']}",
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "HOME": str(tmp_path),
    }
