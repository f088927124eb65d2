"""Fixtures: the real stack files, run under the Pulumi SDK's mocks (offline/engine.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.engine import Run
from tests.crds import CrdError, crd_dir
from tests.helpers import STACKS, run_stack


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
