"""Shared fixtures: the real stack files, run under the Pulumi SDK's mocks (offline/engine.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from offline.engine import PROJECT_DIR, Run, load_stack_config, run_program

STACKS = ("dev", "production")
SCHEMAS_DIR = PROJECT_DIR.parent / "shared" / "schemas" / "external-secrets"

# Obviously fake stand-ins for the provided secrets, which no committed file holds.
PLACEHOLDERS = {
    "ai-etl:qwenApiKey": "placeholder-qwen-api-key",
    "ai-etl:s3AccessKey": "placeholder-s3-access-key",
    "ai-etl:s3SecretKey": "placeholder-s3-secret-key",
}

RunStack = Callable[..., Run]


def run_stack(
    stack: str,
    *,
    overrides: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    secrets: dict[str, str] | None = None,
    registrations: list | None = None,
) -> Run:
    """Run the program for `stack` from its real Pulumi.<stack>.yaml, with optional changes.

    `overrides` set full config keys (objects are merged one level deep, as `config set --path`
    would), `remove` drops keys, `secrets` replaces the provided secrets (marked secret), and
    `registrations`, if given, receives what is declared even when the program fails.
    """
    config = load_stack_config(stack)
    for key, value in (overrides or {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    for key in remove:
        config.pop(key, None)
    return run_program(
        stack, config, PLACEHOLDERS if secrets is None else secrets, registrations=registrations
    )


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
