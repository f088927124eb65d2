"""Fixtures: the real stack files, run under the Pulumi SDK's mocks (offline/engine.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from offline.engine import PROJECT_DIR, Run
from tests.helpers import STACKS, run_stack

SCHEMAS_DIR = PROJECT_DIR.parent / "shared" / "schemas" / "external-secrets"


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
    if not SCHEMAS_DIR.is_dir():
        pytest.fail(f"the External Secrets CRDs are missing: expected {SCHEMAS_DIR}")
    return SCHEMAS_DIR
