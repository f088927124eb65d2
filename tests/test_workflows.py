"""The GitHub Actions workflows cannot run here, so they are held to GitHub's workflow schema
(check-jsonschema's vendored copy), zizmor's offline audit, and the least-privilege rules we set."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from ai_etl.offline.stackconfig import load_stack_config
from tests.helpers import STACKS
from tests.paths import PROJECT_DIR
from tests.tools import run_tool

WORKFLOWS = sorted((PROJECT_DIR / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return data


def workflow(name: str) -> dict[str, Any]:
    return load(PROJECT_DIR / ".github" / "workflows" / f"{name}.yml")


def steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in wf["jobs"].values() for step in job.get("steps", [])]


def test_workflows_match_githubs_schema() -> None:
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_offline_audit_finds_nothing() -> None:
    """Even the auditor persona finds nothing; the one ignore (comment.yml) states its reason."""
    result = run_tool(
        "zizmor",
        "--offline",
        "--persona",
        "auditor",
        "--no-progress",
        str(PROJECT_DIR / ".github" / "workflows"),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_audit_is_live(tmp_path: Path) -> None:
    """zizmor flags an unpinned action and a pull_request_target checkout."""
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: pull_request_target\npermissions: {}\njobs:\n  x:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v4\n        with:\n"
        "          ref: ${{ github.event.pull_request.head.sha }}\n"
    )
    result = run_tool("zizmor", "--offline", "--no-progress", str(bad))
    assert result.returncode != 0 and "dangerous-triggers" in result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_workflow_starts_with_no_permission(path: Path) -> None:
    """Top-level `permissions: {}`; each job asks for what it needs."""
    wf = load(path)
    assert wf["permissions"] == {}
    for job in wf["jobs"].values():
        assert "permissions" in job


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit(path: Path) -> None:
    for step in steps(load(path)):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]


def test_no_workflow_runs_pull_request_target() -> None:
    assert all("pull_request_target" not in (load(p)["on"] or {}) for p in WORKFLOWS)


def test_pull_requests_get_tests_offline_diff_and_same_repo_preview() -> None:
    """Tests and the offline diff for every pull request; the real preview only where secrets exist."""
    wf = workflow("pull-request")
    assert set(wf["on"]) == {"pull_request"}
    jobs = wf["jobs"]
    assert any("make test" in s.get("run", "") for s in jobs["test"]["steps"])
    diff_runs = " ".join(s.get("run", "") for s in jobs["offline-diff"]["steps"])
    assert "make -C base render" in diff_runs and "python -m ai_etl.ops.diff" in diff_runs
    assert jobs["offline-diff"]["permissions"] == {"contents": "read"}
    preview = jobs["preview"]
    assert preview["if"] == "github.event.pull_request.head.repo.full_name == github.repository"
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.list) }}"
    assert jobs["offline-diff"]["strategy"]["matrix"]["stack"] == preview["strategy"]["matrix"]["stack"]
    (pulumi,) = [s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
    assert pulumi["with"]["command"] == "preview" and pulumi["with"]["comment-on-pr"] is True
    assert "policyPacks" in pulumi["with"]
    (aws,) = [s for s in preview["steps"] if s.get("uses", "").startswith("aws-actions/")]
    assert "role-to-assume" in aws["with"] and preview["permissions"]["id-token"] == "write"


def test_comment_workflow_runs_no_pull_request_code() -> None:
    """The privileged comment job checks out nothing and runs only gh on artifact data."""
    wf = workflow("comment")
    (job,) = wf["jobs"].values()
    assert not [s for s in job["steps"] if "uses" in s], "no action, no checkout"
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}


@pytest.mark.parametrize("name", ["pull-request", "watch"])
def test_the_matrices_list_every_stack_file(tmp_path: Path, name: str) -> None:
    """The `stacks` job's step, run on this checkout, lists exactly the stack files: a new
    Pulumi.<stack>.yaml is previewed, diffed and watched with no workflow edit."""
    (step,) = [s for s in workflow(name)["jobs"]["stacks"]["steps"] if s.get("id") == "list"]
    output = tmp_path / "output"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", step["run"]],
        cwd=PROJECT_DIR,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(output.read_text().removeprefix("list=")) == list(STACKS)


def promotion_order(jobs: dict[str, Any]) -> list[str]:
    """The deploy jobs in the order the workflow runs them: the one that needs no other first, then
    each one that needs the one before (the workflow is where the promotion order is defined)."""
    order = [name for name, job in jobs.items() if "needs" not in job]
    assert len(order) == 1, f"one job starts the promotion, not {order}"
    while len(order) < len(jobs):
        (after,) = [name for name, job in jobs.items() if job.get("needs") in (order[-1], [order[-1]])]
        order.append(after)
    return order


def test_deploy_promotes_every_stack_in_order_behind_its_environment() -> None:
    """Push to main: one job per stack file, each after the one before, in a single chain where
    every production-grade stack comes after every other (production, behind its reviewer, last),
    each in its own environment. A stack may go anywhere in the chain."""
    wf = workflow("deploy")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    assert set(wf["jobs"]) == set(STACKS)
    order = promotion_order(wf["jobs"])
    grades = [load_stack_config(stack, PROJECT_DIR).get("ai-etl:grade", "standard") for stack in order]
    assert grades == sorted(grades, key=lambda grade: grade == "production"), dict(
        zip(order, grades, strict=True)
    )
    for stack in STACKS:
        job = wf["jobs"][stack]
        assert job["environment"] == stack
        (pulumi,) = [s for s in job["steps"] if s.get("uses", "").startswith("pulumi/actions@")]
        assert pulumi["with"]["command"] == "up" and pulumi["with"]["stack-name"] == stack


def test_the_gate_gets_its_crds_the_way_a_clone_does() -> None:
    """The gate job fetches the External Secrets CRDs with the project's own verified target, not
    a download of its own that could drift from the pinned release."""
    gate = [s.get("run", "") for s in workflow("pull-request")["jobs"]["test"]["steps"]]
    assert any(run.strip() == "make schemas" for run in gate)
    assert not any("curl" in run or "../shared" in run for run in gate)


@pytest.mark.parametrize("name", ["pull-request", "deploy"])
def test_every_job_that_runs_the_policy_pack_makes_its_environment_first(name: str) -> None:
    """The CLI does not create policy/venv for a local pack (tests/test_policy_pack.py), so a job
    whose pulumi step names the pack runs `make policy-venv` before it."""
    jobs = [job for job in workflow(name)["jobs"].values() if "steps" in job]
    running = [job for job in jobs if any("policyPacks" in s.get("with", {}) for s in job["steps"])]
    assert running, "the pack runs somewhere"
    for job in running:
        pulumi = next(i for i, s in enumerate(job["steps"]) if "policyPacks" in s.get("with", {}))
        before = " ".join(s.get("run", "") for s in job["steps"][:pulumi])
        assert re.search(r"\bmake\b[^\n]*\bpolicy-venv\b", before), job.get("name")


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.stem)
def test_every_job_has_a_timeout(path: Path) -> None:
    """A hung job otherwise runs for GitHub's six hours, holding the stack's lock if it is in
    `pulumi up`."""
    for name, job in load(path)["jobs"].items():
        assert isinstance(job.get("timeout-minutes"), int) and job["timeout-minutes"] <= 60, name


def test_deploys_queue_per_stack_and_are_never_cancelled() -> None:
    """Production waiting for its reviewer does not block the next dev deploy, and no running
    `pulumi up` is cancelled by a newer push."""
    wf = workflow("deploy")
    assert "concurrency" not in wf, "one group for the whole workflow would serialise every stack"
    for stack in STACKS:
        assert wf["jobs"][stack]["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
