"""The workflows' own `run:` steps, executed as written in a workspace laid out as GitHub's runner
lays it out, so a step that cannot run on a real runner fails here first. The installs are
spared (each clone's `.venv` is this project's, already made, as a cache would give it); every
command of the steps runs as written."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import yaml

from offline.engine import PROJECT_DIR
from tests.test_workflows import workflow

INSTALL_INPUTS = ("pyproject.toml", "requirements.lock", "requirements.txt", "requirements-dev.txt")
"""What `make setup` depends on: older than the environment, so make finds it up to date."""


def checkout(path: Path) -> Path:
    """A fresh clone of the committed project at `path`, as actions/checkout makes it, with its
    environment ready."""
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(path)], check=True)
    (path / ".venv").symlink_to(PROJECT_DIR / ".venv")
    for name in INSTALL_INPUTS:
        os.utime(path / name, (0, 0))
    return path


def expand(text: str, values: dict[str, str]) -> str:
    """`text` with each `${{ expression }}` replaced by its value in `values`; an unknown one fails."""

    def value(match: re.Match[str]) -> str:
        assert match[1] in values, f"no value for ${{{{ {match[1]} }}}}"
        return values[match[1]]

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", value, text)


def run_steps(job: dict[str, Any], workspace: Path, values: dict[str, str]) -> None:
    """Each `run:` step of `job`, with its env, in `workspace`, by the runner's default shell."""
    for step in job["steps"]:
        if "run" not in step:
            continue
        assert "${{" not in step["run"], "expressions go through env, never into the script"
        env = {k: expand(str(v), values) for k, v in step.get("env", {}).items()}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace,
            env={**os.environ, "GITHUB_STEP_SUMMARY": str(workspace / "summary.md"), **env},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{step.get('name')}: {result.stderr[-2000:]}"


def test_the_offline_diff_job_runs_on_fresh_clones(tmp_path: Path) -> None:
    """Base and head checked out side by side; head raises the dev backend's replicas. The job's
    steps, as written, leave the markdown diff and the pull request's number in out/, which the
    upload step sends and comment.yml posts, and the diff shows the change."""
    job = workflow("pull-request")["jobs"]["offline-diff"]
    checkouts = [s["with"].get("path") for s in job["steps"] if "actions/checkout" in s.get("uses", "")]
    workspace = tmp_path / "workspace"
    for side in checkouts:
        checkout(workspace / side)
    head = workspace / "head" / "Pulumi.dev.yaml"
    stack_file = yaml.safe_load(head.read_text())
    stack_file["config"]["ai-etl:backend"]["replicas"] = 3
    head.write_text(yaml.safe_dump(stack_file))
    run_steps(job, workspace, {"matrix.stack": "dev", "github.event.pull_request.number": "42"})
    (upload,) = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    out = workspace / upload["with"]["path"]
    markdown = (out / "dev.md").read_text()
    assert "Offline preview: dev" in markdown and "replicas" in markdown
    assert (out / "pr-number").read_text().strip() == "42"
    assert markdown in (workspace / "summary.md").read_text()


def test_the_preview_job_makes_the_policy_packs_environment(tmp_path: Path) -> None:
    """The preview job's steps before its AWS credentials, run as written on a fresh clone, leave a
    policy/venv from which the pack starts as the CLI starts it (`python __main__.py` in policy/,
    printing the port it serves on)."""
    job = workflow("pull-request")["jobs"]["preview"]
    first_aws = next(i for i, s in enumerate(job["steps"]) if "aws-actions" in s.get("uses", ""))
    workspace = checkout(tmp_path / "workspace")
    run_steps({"steps": job["steps"][:first_aws]}, workspace, {})
    pack = subprocess.Popen(
        [str(workspace / "policy" / "venv" / "bin" / "python"), "__main__.py"],
        cwd=workspace / "policy",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert pack.stdout is not None
        port = pack.stdout.readline().strip()
        assert port.isdigit(), pack.stderr.read() if pack.stderr else port
    finally:
        pack.kill()
        pack.wait(timeout=10)
