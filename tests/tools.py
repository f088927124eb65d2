"""The scanners, which live in their own virtual environment (.venv-tools, from requirements-tools.lock)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.paths import PROJECT_DIR


def tool(name: str) -> Path:
    """Path of a scanner from .venv-tools; a missing one fails the test with the fix."""
    folder = Path(os.environ.get("AI_ETL_TOOLS_BIN", PROJECT_DIR / ".venv-tools" / "bin"))
    path = folder / name
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make tools` (or `make test`, which does)")
    return path


def run_tool(name: str, *args: str, cwd: Path = PROJECT_DIR) -> subprocess.CompletedProcess[str]:
    """Run a scanner offline, never asking the network for anything."""
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    return subprocess.run(
        [str(tool(name)), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
