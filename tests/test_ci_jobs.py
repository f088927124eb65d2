"""The workflows' own `run:` steps, executed as written in a workspace laid out as GitHub's runner
lays it out, so a step that cannot run on a real runner fails here first. The installs are
spared (each clone's `.venv` is this project's, already made, as a cache would give it); every
command of the steps runs as written."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import start_policy_pack
from tests.paths import PROJECT_DIR
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


def run_steps(
    job: dict[str, Any], workspace: Path, values: dict[str, str], extra_env: dict[str, str] | None = None
) -> None:
    """Each `run:` step of `job`, with its env, in `workspace`, by the runner's default shell;
    AssertionError names the step that failed."""
    for step in job["steps"]:
        if "run" not in step:
            continue
        assert "${{" not in step["run"], "expressions go through env, never into the script"
        env = {k: expand(str(v), values) for k, v in step.get("env", {}).items()}
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=workspace,
            env={
                **os.environ,
                "GITHUB_STEP_SUMMARY": str(workspace / "summary.md"),
                **(extra_env or {}),
                **env,
            },
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{step.get('name')}: {result.stderr[-2000:]}"


@pytest.mark.slow  # two clones, each rendered by its own process
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


@pytest.mark.slow  # makes a virtual environment in a fresh clone
def test_the_preview_job_makes_the_policy_packs_environment(tmp_path: Path) -> None:
    """The preview job's steps before its AWS credentials, run as written on a fresh clone, leave a
    policy/venv from which the pack starts as the CLI starts it (tests/helpers.py, start_policy_pack),
    printing the port it serves on: the rules come from the clone itself, installed nowhere."""
    job = workflow("pull-request")["jobs"]["preview"]
    first_aws = next(i for i, s in enumerate(job["steps"]) if "aws-actions" in s.get("uses", ""))
    workspace = checkout(tmp_path / "workspace")
    run_steps({"steps": job["steps"][:first_aws]}, workspace, {})
    pack = start_policy_pack(workspace / "policy")
    try:
        assert pack.stdout is not None
        port = pack.stdout.readline().strip()
        assert port.isdigit(), pack.stderr.read() if pack.stderr else port
    finally:
        pack.kill()
        pack.wait(timeout=10)


def fake_gh(tmp_path: Path, script: str) -> tuple[dict[str, str], Path]:
    """The env that puts a `gh` running `script` first on PATH, and the file its calls go to
    (`$GH_LOG`, one line of arguments per call)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gh").write_text(script)
    (bin_dir / "gh").chmod(0o755)
    log = tmp_path / "gh.log"
    return {"PATH": f"{bin_dir}:{os.environ['PATH']}", "GH_LOG": str(log)}, log


FAKE_GH = r"""#!/bin/bash
# gh as the comment job calls it: GitHub's answers come from the FAKE_* variables.
printf '%s\n' "$*" >> "$GH_LOG"
case "$*" in
  "run download "*)
    dir="${@: -1}"; mkdir -p "$dir/offline-diff-dev"
    printf '%s\n' "$FAKE_PR" > "$dir/offline-diff-dev/pr-number"
    printf '### Offline preview: dev\n' > "$dir/offline-diff-dev/dev.md" ;;
  "api repos/"*"/pulls/"*) printf '%s\n' "$FAKE_HEAD_SHA" ;;
  "api --paginate repos/"*"/comments "*) printf '%s\n' "$FAKE_COMMENTS" ;;
  "api --method PATCH "*|"pr comment "*) ;;
  *) echo "unexpected: gh $*" >&2; exit 1 ;;
esac
"""
MARKER = "<!-- ai-etl offline diff -->"
VALUES = {
    "github.token": "token",
    "github.event.workflow_run.id": "1001",
    "github.repository": "acme/ai-etl",
    "github.event.workflow_run.head_sha": "a" * 40,
}


def run_comment_job(tmp_path: Path, comments: list[dict[str, Any]], head_sha: str = "a" * 40) -> list[str]:
    """comment.yml's steps with a fake gh; returns the gh calls, or raises on a failed step."""
    env, log = fake_gh(tmp_path, FAKE_GH)
    env |= {
        "FAKE_PR": "42",
        "FAKE_HEAD_SHA": head_sha,
        "FAKE_COMMENTS": "\n".join(json.dumps(c) for c in comments),
    }
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    try:
        run_steps(workflow("comment")["jobs"]["comment"], workspace, VALUES, env)
    finally:
        calls = log.read_text().splitlines() if log.exists() else []
    return calls


def test_the_comment_updates_its_own_comment_only(tmp_path: Path) -> None:
    """With pulumi/actions' preview comment (same bot, no marker) and someone's copy of the marker
    on the pull request, the job edits its own earlier comment and nothing else."""
    comments = [
        {"id": 5, "author": "someone", "body": f"{MARKER} a copy"},
        {"id": 6, "author": "github-actions[bot]", "body": "#### :tropical_drink: `preview` on dev"},
        {"id": 7, "author": "github-actions[bot]", "body": f"{MARKER}\n### Offline preview: dev"},
    ]
    calls = run_comment_job(tmp_path, comments)
    writes = [c for c in calls if c.startswith(("api --method", "pr comment"))]
    assert writes == ["api --method PATCH repos/acme/ai-etl/issues/comments/7 -F body=@comment.md"]
    assert (tmp_path / "workspace" / "comment.md").read_text().startswith(MARKER)


def test_the_first_comment_is_created(tmp_path: Path) -> None:
    calls = run_comment_job(tmp_path, [{"id": 6, "author": "github-actions[bot]", "body": "preview"}])
    assert [c for c in calls if c.startswith(("api --method", "pr comment"))] == [
        "pr comment 42 --repo acme/ai-etl --body-file comment.md"
    ]


def test_a_number_that_is_not_the_runs_pull_request_gets_no_comment(tmp_path: Path) -> None:
    """The artifact's number is the pull request's own code's word: when that pull request's head
    is not the commit the run ran on, nothing is posted."""
    with pytest.raises(AssertionError, match="Comment on the pull request"):
        run_comment_job(tmp_path, [], head_sha="b" * 40)
    calls = (tmp_path / "gh.log").read_text().splitlines()
    assert not [c for c in calls if c.startswith(("api --method", "pr comment"))]


def test_cancelled_or_failed_runs_are_skipped() -> None:
    condition = workflow("comment")["jobs"]["comment"]["if"]
    assert "github.event.workflow_run.conclusion == 'success'" in condition
