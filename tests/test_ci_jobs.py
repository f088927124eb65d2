"""The workflows' own `run:` steps, executed as written in a workspace laid out as GitHub's runner
lays it out (the checkout in $GITHUB_WORKSPACE, or where its `path:` puts it), with $GITHUB_OUTPUT,
$GITHUB_STEP_SUMMARY, the steps' `if:` on earlier steps' outputs, and stand-ins for what cannot
run here: `pulumi` and `gh` (tests/fakes/, each checking its arguments as the real one parses them;
gh's `--jq` run by the real jq) and an `aws` that no step may call. The installs are spared (each
clone's `.venv` and `policy/venv` are this project's, already made, as a cache would give them);
every command of the steps runs as written.

Each check is a function of the workflows' text, so the breaks at the end apply a mistake to a copy
and show that the same check fails."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fakes import bin_dir
from tests.helpers import STACKS, absent_stack, start_policy_pack
from tests.paths import PROJECT_DIR
from tests.test_workflows import (
    check_make_targets,
    check_pulumi_version,
    check_run_shells,
    check_trust_policies,
    check_with_keys,
    parse,
    workflow_texts,
)

Workflows = dict[str, dict[str, Any]]
"""Each workflow by name (pull-request, comment, deploy, watch), parsed."""

INSTALL_INPUTS = ("pyproject.toml", "requirements.lock", "requirements.txt", "requirements-dev.txt")
"""What `make setup` depends on: older than the environment, so make finds it up to date."""
POLICY_INPUTS = ("policy/requirements.txt",)
"""What `make policy-venv` depends on besides the lock."""
REPO = "acme/ai-etl"
BACKEND = "s3://ai-etl-state-placeholder"
VALUES = {
    "github.token": "token-placeholder",
    "github.repository": REPO,
    "github.server_url": "https://github.com",
    "github.run_id": "9",
    "vars.PULUMI_BACKEND_URL": BACKEND,
    "secrets.PULUMI_CONFIG_PASSPHRASE": "passphrase-placeholder",
}
"""The expressions every job's env reads, as GitHub would give them (placeholders)."""


def workflows() -> Workflows:
    return {name: parse(text) for name, text in workflow_texts().items()}


def checkout(path: Path) -> Path:
    """A fresh clone of the committed project at `path`, as actions/checkout makes it, with its
    environments ready."""
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(path)], check=True)
    (path / ".venv").symlink_to(PROJECT_DIR / ".venv")
    (path / "policy" / "venv").symlink_to(PROJECT_DIR / "policy" / "venv")
    for name in INSTALL_INPUTS + POLICY_INPUTS:
        os.utime(path / name, (0, 0))
    return path


def expand(text: str, values: dict[str, str]) -> str:
    """`text` with each `${{ expression }}` replaced by its value in `values`; an earlier step's
    output that was not set is empty, as on GitHub; any other unknown one fails."""

    def value(match: re.Match[str]) -> str:
        if match[1].startswith("steps.") and match[1] not in values:
            return ""
        assert match[1] in values, f"no value for ${{{{ {match[1]} }}}}"
        return values[match[1]]

    return re.sub(r"\$\{\{\s*(.*?)\s*\}\}", value, text)


def condition(expression: str, outputs: dict[str, dict[str, str]]) -> bool:
    """A step's `if:` on an earlier step's output, the only kind the steps use."""
    m = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+) == '([^']*)'", expression.strip())
    assert m, f"the harness evaluates `steps.<id>.outputs.<name> == '<value>'` only, not {expression!r}"
    return outputs.get(m[1], {}).get(m[2], "") == m[3]


def label(step: dict[str, Any]) -> str:
    return str(step.get("name") or step.get("id") or step.get("uses") or step["run"].splitlines()[0])


@dataclass
class JobRun:
    """What a job's steps did."""

    ran: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    log: str = ""


SHELLS = {
    None: ["bash", "-e", "{0}"],
    "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"],
    "sh": ["sh", "-e", "{0}"],
    "python": ["python3", "{0}"],
}
"""The command each `shell:` keyword runs on a Linux runner, `{0}` the script's file; None is no
`shell:` anywhere, which is `bash -e {0}`, without pipefail (docs.github.com, workflow syntax,
jobs.<job_id>.steps[*].shell; github/docs issue #23853, which confirms it on ubuntu runners)."""


def step_shell(step: dict[str, Any], job: dict[str, Any], workflow: dict[str, Any]) -> list[str]:
    """The command a `run:` step runs under: its own `shell:`, else its job's `defaults.run.shell`,
    else its workflow's, else the runner's default (docs.github.com, jobs.<job_id>.defaults.run:
    the job's defaults override the workflow's, a step's `shell:` both)."""
    for scope in (step, job.get("defaults", {}).get("run", {}), workflow.get("defaults", {}).get("run", {})):
        if "shell" in scope:
            shell = str(scope["shell"])
            return SHELLS[shell] if shell in SHELLS else shell.split()
    return SHELLS[None]


def run_job(
    job: dict[str, Any],
    workspace: Path,
    values: dict[str, str],
    env: dict[str, str] | None = None,
    *,
    workflow: dict[str, Any],
) -> JobRun:
    """Each step of `job` in order, as the runner runs it: a `run:` written to a file and run by the
    shell the step, its job or `workflow` declares (step_shell; the runner's `bash -e` if none does)
    with its env, in `workspace`; an action is recorded, not run; a step whose `if:` is false is
    skipped. AssertionError names the step that failed."""
    done = JobRun()
    for step in job["steps"]:
        known = {
            **values,
            **{f"steps.{i}.outputs.{k}": v for i, o in done.outputs.items() for k, v in o.items()},
        }
        if "if" in step and not condition(step["if"], done.outputs):
            done.skipped.append(label(step))
            continue
        if "run" not in step:
            done.ran.append(label(step))
            continue
        assert "${{" not in step["run"], "expressions go through env, never into the script"
        output = workspace.parent / f"github-output-{len(done.ran)}"
        output.write_text("")
        script = workspace.parent / f"step-{len(done.ran)}.sh"
        script.write_text(step["run"])
        result = subprocess.run(
            [str(script) if arg == "{0}" else arg for arg in step_shell(step, job, workflow)],
            cwd=workspace,
            env={
                **os.environ,
                "GITHUB_STEP_SUMMARY": str(workspace.parent / "summary.md"),
                "GITHUB_OUTPUT": str(output),
                **(env or {}),
                **{k: expand(str(v), known) for k, v in step.get("env", {}).items()},
            },
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        done.log += result.stdout + result.stderr
        assert result.returncode == 0, (
            f"{label(step)}: exit {result.returncode}: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
        done.ran.append(label(step))
        if "id" in step:
            pairs = [line.partition("=") for line in output.read_text().splitlines()]
            done.outputs[step["id"]] = {k: v for k, eq, v in pairs if eq}
    return done


@dataclass
class Fakes:
    """The stand-ins' env, and what they were told and hold."""

    env: dict[str, str]
    folder: Path

    def pulumi_calls(self) -> list[list[str]]:
        log = self.folder / "pulumi.log"
        return [json.loads(line)["argv"] for line in log.read_text().splitlines()] if log.exists() else []

    def gh_calls(self) -> list[list[str]]:
        log = self.folder / "gh.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def github(self) -> dict[str, Any]:
        return dict(json.loads((self.folder / "github.json").read_text()))


def fakes(
    tmp_path: Path, pulumi_stacks: dict[str, Any] | None = None, github: dict[str, Any] | None = None
) -> Fakes:
    """`pulumi` with `pulumi_stacks` in the backend BACKEND, `gh` with `github` as GitHub's side,
    and an `aws` no step may call, first on PATH."""
    folder = tmp_path / "fakes"
    bins = bin_dir(folder / "bin", "pulumi", "gh")
    (bins / "aws").write_text('#!/bin/sh\necho "no workflow step calls aws: $*" >&2\nexit 1\n')
    (bins / "aws").chmod(0o755)
    (folder / "pulumi-state.json").write_text(json.dumps({"stacks": pulumi_stacks or {}}))
    state = {"repo": REPO, "pulls": {}, "runs": {}, "comments": {}, "issues": []} | (github or {})
    (folder / "github.json").write_text(json.dumps(state))
    env = {
        "PATH": f"{bins}:{os.environ['PATH']}",
        "FAKE_PULUMI_STATE": str(folder / "pulumi-state.json"),
        "FAKE_PULUMI_LOG": str(folder / "pulumi.log"),
        "FAKE_PULUMI_BACKEND": BACKEND,
        "FAKE_GH_STATE": str(folder / "github.json"),
        "FAKE_GH_LOG": str(folder / "gh.log"),
    }
    return Fakes(env, folder)


def new_stack_name() -> str:
    """The stack a pull request adds: `qa`, unless the project already has one of that name."""
    return "qa" if "qa" not in STACKS else absent_stack()


# The pull request's offline diff ---------------------------------------------------------------


def offline_diff(tmp_path: Path, wfs: Workflows, stack: str, change: Callable[[Path], None]) -> Path:
    """The offline-diff job of `stack` on base and head clones side by side, `change` applied to the
    head; returns the folder the upload step sends."""
    job = wfs["pull-request"]["jobs"]["offline-diff"]
    checkouts = [s["with"].get("path") for s in job["steps"] if "actions/checkout" in s.get("uses", "")]
    workspace = tmp_path / "workspace"
    for side in checkouts:
        checkout(workspace / side)
    change(workspace / "head")
    run_job(
        job,
        workspace,
        VALUES | {"matrix.stack": stack, "github.event.pull_request.number": "42"},
        workflow=wfs["pull-request"],
    )
    (upload,) = [s for s in job["steps"] if "upload-artifact" in s.get("uses", "")]
    return workspace / upload["with"]["path"]


@pytest.mark.slow  # two clones, each rendered by its own process
def test_the_offline_diff_job_runs_on_fresh_clones(tmp_path: Path) -> None:
    """Base and head checked out side by side; head raises the dev backend's replicas. The job's
    steps, as written, leave the markdown diff and the pull request's number in out/, which the
    upload step sends and comment.yml posts, and the diff shows the change."""

    def more_replicas(head: Path) -> None:
        stack_file = yaml.safe_load((head / "Pulumi.dev.yaml").read_text())
        stack_file["config"]["ai-etl:backend"]["replicas"] = 3
        (head / "Pulumi.dev.yaml").write_text(yaml.safe_dump(stack_file))

    out = offline_diff(tmp_path, workflows(), "dev", more_replicas)
    markdown = (out / "dev.md").read_text()
    assert "Offline preview: dev" in markdown and "replicas" in markdown
    assert (out / "pr-number").read_text().strip() == "42"
    assert markdown in (tmp_path / "summary.md").read_text()


def check_new_stack_diff(tmp_path: Path, wfs: Workflows) -> None:
    """The offline-diff job on a pull request that adds a stack file (a copy of dev's): its steps
    exit 0 and the diff lists every resource the head renders as created, and nothing else."""
    stack = new_stack_name()

    def add_stack(head: Path) -> None:
        (head / f"Pulumi.{stack}.yaml").write_text((head / "Pulumi.dev.yaml").read_text())

    out = offline_diff(tmp_path, wfs, stack, add_stack)
    markdown = (out / f"{stack}.md").read_text()
    rendered = json.loads((tmp_path / "workspace" / "head" / "build" / stack / "resources.json").read_text())
    rows = [line for line in markdown.splitlines() if line.startswith("| ") and "`" in line]
    assert rendered["resources"] and len(rows) == len(rendered["resources"]), markdown
    assert all(row.startswith("| + | create |") for row in rows), markdown
    assert {r["name"] for r in rendered["resources"]} <= {row.split("`")[3] for row in rows}
    assert f"New stack: {stack}" in markdown


@pytest.mark.slow  # two clones, one render
def test_a_pull_request_that_adds_a_stack_diffs_it_as_all_new(tmp_path: Path) -> None:
    """The base branch has no stack file for a stack the pull request adds: its offline diff is not
    an error (which cost every stack its comment) but the whole stack, every resource a create."""
    check_new_stack_diff(tmp_path, workflows())


# The pull request's preview and tests -----------------------------------------------------------


@pytest.mark.slow  # makes a virtual environment in a fresh clone
def test_the_preview_job_makes_the_policy_packs_environment(tmp_path: Path) -> None:
    """The preview job's steps before its AWS credentials, run as written on a fresh clone (policy/venv
    not linked), leave a policy/venv from which the pack starts as the CLI starts it (tests/helpers.py,
    start_policy_pack), printing the port it serves on: the rules come from the clone itself."""
    wf = workflows()["pull-request"]
    job = wf["jobs"]["preview"]
    first_aws = next(i for i, s in enumerate(job["steps"]) if "aws-actions" in s.get("uses", ""))
    workspace = tmp_path / "workspace"
    subprocess.run(["git", "clone", "-q", str(PROJECT_DIR), str(workspace)], check=True)
    (workspace / ".venv").symlink_to(PROJECT_DIR / ".venv")
    for name in INSTALL_INPUTS:
        os.utime(workspace / name, (0, 0))
    run_job({"steps": job["steps"][:first_aws]}, workspace, VALUES, workflow=wf)
    pack = start_policy_pack(workspace / "policy")
    try:
        assert pack.stdout is not None
        port = pack.stdout.readline().strip()
        assert port.isdigit(), pack.stderr.read() if pack.stderr else port
    finally:
        pack.kill()
        pack.wait(timeout=10)


def preview(tmp_path: Path, wfs: Workflows, stack: str, backend: dict[str, Any]) -> tuple[JobRun, Fakes]:
    job = wfs["pull-request"]["jobs"]["preview"]
    fake = fakes(tmp_path, backend)
    done = run_job(
        job,
        checkout(tmp_path / "workspace"),
        VALUES | {"matrix.stack": stack},
        fake.env,
        workflow=wfs["pull-request"],
    )
    return done, fake


def check_preview_of_a_new_stack(tmp_path: Path, wfs: Workflows) -> None:
    """A stack whose file is committed but which is not initialised in the backend: the preview
    job passes, skips the preview, and says what to run, in a warning and in the job's summary."""
    stack = new_stack_name()
    done, fake = preview(tmp_path, wfs, stack, {"dev": {"config": {}, "outputs": {}, "resourceCount": 9}})
    (step,) = [s for s in wfs["pull-request"]["jobs"]["preview"]["steps"] if "command" in s.get("with", {})]
    assert label(step) in done.skipped and label(step) not in done.ran
    init = f"pulumi stack init {stack} --secrets-provider"
    assert f"::warning title=No preview for {stack}::" in done.log and init in done.log
    assert init in (tmp_path / "summary.md").read_text()
    assert ["stack", "ls", "--json"] in fake.pulumi_calls()


def test_a_stack_not_initialised_gets_a_notice_not_a_red_preview(tmp_path: Path) -> None:
    """A pull request that adds a stack: its preview cannot run before `pulumi stack init`; the job
    says so and what to run, and stays green so the other jobs and the comment are unaffected."""
    check_preview_of_a_new_stack(tmp_path, workflows())


def test_an_initialised_stack_is_previewed(tmp_path: Path) -> None:
    """The same job for a stack the backend has: the preview step runs, with the pinned CLI."""
    wfs = workflows()
    done, _ = preview(tmp_path, wfs, "dev", {"dev": {"config": {}, "outputs": {}, "resourceCount": 9}})
    (step,) = [s for s in wfs["pull-request"]["jobs"]["preview"]["steps"] if "command" in s.get("with", {})]
    assert label(step) in done.ran and done.outputs["stack"] == {"initialised": "true", "ref": "dev"}


def test_a_backend_that_cannot_be_listed_fails_the_preview(tmp_path: Path) -> None:
    """Wrong credentials or backend are a failure, never mistaken for "not initialised"."""
    values = VALUES | {"vars.PULUMI_BACKEND_URL": "s3://another-bucket"}
    wf = workflows()["pull-request"]
    fake = fakes(tmp_path, {"dev": {"config": {}, "outputs": {}}})
    with pytest.raises(AssertionError, match="Is the stack initialised"):
        run_job(
            wf["jobs"]["preview"],
            checkout(tmp_path / "workspace"),
            values | {"matrix.stack": "dev"},
            fake.env,
            workflow=wf,
        )


@pytest.mark.parametrize("printed", ["not json", '{"name": "dev"}', '[{"nom": "dev"}]'])
def test_a_stack_list_that_cannot_be_read_fails_the_preview(tmp_path: Path, printed: str) -> None:
    """`pulumi stack ls --json` printing something the step cannot read: users rely on the step
    failing, never on it being read as "not initialised" (a green job with no preview)."""
    wf = workflows()["pull-request"]
    fake = fakes(tmp_path, {"dev": {"config": {}, "outputs": {}, "resourceCount": 9}})
    state = json.loads(Path(fake.env["FAKE_PULUMI_STATE"]).read_text())
    Path(fake.env["FAKE_PULUMI_STATE"]).write_text(json.dumps(state | {"ls_output": printed}))
    with pytest.raises(AssertionError, match="Is the stack initialised") as failed:
        run_job(
            wf["jobs"]["preview"],
            checkout(tmp_path / "workspace"),
            VALUES | {"matrix.stack": "dev"},
            fake.env,
            workflow=wf,
        )
    assert "No preview for" not in str(failed.value)


def test_an_org_qualified_stack_is_previewed_by_its_listed_name(tmp_path: Path) -> None:
    """Pulumi Cloud lists a stack outside the default org as `<org>/<stack>`: users rely on it
    being previewed, by that name, not reported as not initialised."""
    wfs = workflows()
    done, _ = preview(tmp_path, wfs, "dev", {"acme/dev": {"config": {}, "outputs": {}, "resourceCount": 9}})
    assert done.outputs["stack"] == {"initialised": "true", "ref": "acme/dev"}
    (step,) = [s for s in wfs["pull-request"]["jobs"]["preview"]["steps"] if "command" in s.get("with", {})]
    assert step["with"]["stack-name"] == "${{ steps.stack.outputs.ref }}" and label(step) in done.ran


def test_the_gate_runs_the_projects_own_targets(tmp_path: Path) -> None:
    """The tests job's steps, as written, under `make -n` (the gate itself is this suite): each make
    resolves its target in the clone's Makefile, the CRDs first, then the whole gate."""
    wf = workflows()["pull-request"]
    job = wf["jobs"]["test"]
    done = run_job(job, checkout(tmp_path / "workspace"), VALUES, {"MAKEFLAGS": "-n"}, workflow=wf)
    runs = [s["run"].strip() for s in job["steps"] if "run" in s]
    assert runs == ["make schemas", "make test"] and len(done.ran) == len(job["steps"])
    assert "-m pytest" in done.log, "the gate's pytest is among what `make test` runs"


# The deploy ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_each_deploy_jobs_steps_run(tmp_path: Path, stack: str) -> None:
    """Each stack's deploy job, its `run:` steps as written on a fresh clone (the install of the
    program and of the policy pack's environment), and then its `pulumi up` on its own stack."""
    wf = workflows()["deploy"]
    job = wf["jobs"][stack]
    done = run_job(job, checkout(tmp_path / "workspace"), VALUES, workflow=wf)
    assert [s for s in job["steps"] if "run" in s] and done.skipped == []
    (up,) = [s for s in job["steps"] if s.get("with", {}).get("command") == "up"]
    assert up["with"]["stack-name"] == stack and done.ran[-1] == label(up)


# The comment ---------------------------------------------------------------------------------

MARKER = "<!-- ai-etl offline diff -->"
RUN = "1001"
HEAD = "a" * 40


def diff_artifact(stack: str, pr: str = "42", text: str | None = None) -> dict[str, Any]:
    markdown = f"### Offline preview: {stack}\n" if text is None else text
    return {
        "name": f"offline-diff-{stack}",
        "expired": False,
        "files": {"pr-number": f"{pr}\n", f"{stack}.md": markdown},
    }


def comment_job(
    tmp_path: Path,
    wfs: Workflows,
    comments: list[dict[str, Any]] | None = None,
    head: str = HEAD,
    artifacts: list[dict[str, Any]] | None = None,
    jobs: list[dict[str, Any]] | None = None,
    failing: list[str] | None = None,
) -> tuple[JobRun, Fakes]:
    """comment.yml's job on a run of pull request 42 whose offline diffs are `artifacts` (dev's by
    default), the API paths matching `failing` answering HTTP 502; returns what its steps did, and
    GitHub's side after them."""
    github = {
        "failing": failing or [],
        "pulls": {"42": {"number": 42, "state": "open", "head": {"sha": head, "label": "acme:feature"}}},
        "runs": {
            RUN: {
                "artifacts": [diff_artifact("dev")] if artifacts is None else artifacts,
                "jobs": jobs or [{"name": "offline diff dev", "conclusion": "success"}],
            }
        },
        "comments": {"42": comments or []},
    }
    fake = fakes(tmp_path, github=github)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    values = VALUES | {
        "github.event.workflow_run.id": RUN,
        "github.event.workflow_run.head_sha": HEAD,
        "github.event.workflow_run.head_repository.owner.login": "acme",
        "github.event.workflow_run.head_branch": "feature",
    }
    done = run_job(wfs["comment"]["jobs"]["comment"], workspace, values, fake.env, workflow=wfs["comment"])
    return done, fake


def bot(comment_id: int, body: str, author: str = "github-actions[bot]") -> dict[str, Any]:
    return {"id": comment_id, "user": {"login": author}, "body": body}


def check_comment_updates_its_own(tmp_path: Path, wfs: Workflows) -> None:
    """With pulumi/actions' preview comment (same bot, no marker) and someone's copy of the marker
    on the pull request, the job edits its own earlier comment and nothing else."""
    comments = [
        bot(5, f"{MARKER} a copy", "someone"),
        bot(6, "#### `preview` on dev"),
        bot(7, f"{MARKER}\nold"),
    ]
    done, fake = comment_job(tmp_path, wfs, comments)
    after = {c["id"]: c["body"] for c in fake.github()["comments"]["42"]}
    assert after[7].startswith(MARKER) and "### Offline preview: dev" in after[7], f"not updated: {done.log}"
    assert after[5] == f"{MARKER} a copy" and after[6] == "#### `preview` on dev" and len(after) == 3


def test_the_comment_updates_its_own_comment_only(tmp_path: Path) -> None:
    """One comment per pull request, kept up to date, never anyone else's."""
    check_comment_updates_its_own(tmp_path, workflows())


def test_the_first_comment_is_created(tmp_path: Path) -> None:
    """No earlier comment of ours: one is made, with the marker and the diff."""
    _, fake = comment_job(tmp_path, workflows(), [bot(6, "preview")])
    (new,) = [c for c in fake.github()["comments"]["42"] if c["id"] != 6]
    assert new["body"].startswith(MARKER) and "### Offline preview: dev" in new["body"]


def test_a_pull_request_that_moved_on_gets_no_comment_and_no_red_run(tmp_path: Path) -> None:
    """The artifact's number is the pull request's own code's word: when that pull request's head
    is not the commit the run ran on, nothing is posted, and the job says why and passes (the newer
    commit's run posts its own diff)."""
    done, fake = comment_job(tmp_path, workflows(), head="b" * 40)
    assert fake.github()["comments"]["42"] == []
    assert "::notice::pull request 42 moved on" in done.log


def test_a_failed_sibling_job_does_not_cost_the_other_stacks_their_diff(tmp_path: Path) -> None:
    """A run where one stack's offline diff failed (and the tests, say): the comment still posts
    every diff that was made, and names the stack that has none."""
    jobs = [
        {"name": "offline diff dev", "conclusion": "success"},
        {"name": "offline diff staging", "conclusion": "failure"},
        {"name": "tests", "conclusion": "failure"},
    ]
    _, fake = comment_job(tmp_path, workflows(), jobs=jobs)
    (body,) = [c["body"] for c in fake.github()["comments"]["42"]]
    assert "### Offline preview: dev" in body and "- `staging`: failure" in body and "tests" not in body


def check_a_failed_comment_listing_fails_the_step(tmp_path: Path, wfs: Workflows) -> None:
    """`gh api` listing the pull request's comments fails (HTTP 502) on the left of the pipe into
    python: the step fails, and our existing comment is not joined by a duplicate."""
    try:
        comment_job(tmp_path, wfs, [bot(7, f"{MARKER}\nold")], failing=[r"issues/\d+/comments"])
    except AssertionError as error:
        assert "Comment on the pull request: exit" in str(error), error
    else:
        raise AssertionError("the step passed although `gh api` failed")
    after = json.loads((tmp_path / "fakes" / "github.json").read_text())["comments"]["42"]
    assert after == [bot(7, f"{MARKER}\nold")], after


def test_a_failed_comment_listing_posts_no_duplicate(tmp_path: Path) -> None:
    """Users rely on one comment per pull request: a GitHub error while finding it fails the job
    (pipefail, from comment.yml's `shell: bash`) instead of posting a second one."""
    check_a_failed_comment_listing_fails_the_step(tmp_path, workflows())


def test_a_run_without_any_offline_diff_is_a_notice(tmp_path: Path) -> None:
    """Every offline diff failed and no comment of ours yet: nothing to post, and no
    `gh run download`, which would fail."""
    done, fake = comment_job(tmp_path, workflows(), artifacts=[])
    assert fake.github()["comments"]["42"] == [] and "uploaded no offline diff" in done.log
    assert not [c for c in fake.gh_calls() if c[:2] == ["run", "download"]]


def test_a_commit_without_any_offline_diff_marks_the_old_comment(tmp_path: Path) -> None:
    """Every offline diff of a newer commit failed: users rely on the comment no longer showing the
    older commit's diff as current; it says this commit has none, and which stacks failed."""
    jobs = [{"name": "offline diff dev", "conclusion": "failure"}]
    old = bot(7, f"{MARKER}\n### Offline preview: dev\nold diff")
    _, fake = comment_job(tmp_path, workflows(), [old], artifacts=[], jobs=jobs)
    (after,) = fake.github()["comments"]["42"]
    assert after["body"].startswith(MARKER) and f"No offline diff for commit `{HEAD}`" in after["body"]
    assert "old diff" not in after["body"] and "- `dev`: failure" in after["body"]


def test_a_huge_diff_is_cut_to_fit_one_comment(tmp_path: Path) -> None:
    """GitHub refuses a comment over 65,536 characters, and then nothing is posted: users rely on
    the comment staying under it, every stack named, a short diff kept whole, and each cut diff
    saying so and where the whole diff is."""
    stacks = [f"stack-{i:02d}" for i in range(12)]
    big = "### Offline preview: {}\n\n```diff\n" + "".join(f"+ line {n} é\n" for n in range(4000)) + "```\n"
    artifacts = [diff_artifact(s, text=big.format(s)) for s in stacks] + [diff_artifact("small")]
    jobs = [{"name": f"offline diff {s}", "conclusion": "success"} for s in [*stacks, "small"]]
    _, fake = comment_job(tmp_path, workflows(), artifacts=artifacts, jobs=jobs)
    (comment,) = fake.github()["comments"]["42"]
    body = comment["body"]
    assert len(body) < 65536 and len(body.encode()) < 65536, len(body.encode())
    assert "### Offline preview: small\n" in body
    for stack in stacks:
        assert f"### Offline preview: {stack}" in body
        assert f"The diff of `{stack}` is cut here" in body and f"artifact `offline-diff-{stack}`" in body
    assert sum(line.startswith("```") for line in body.splitlines()) % 2 == 0, "a fence left open"


def test_a_forged_pull_request_number_is_not_echoed(tmp_path: Path) -> None:
    """The artifact's pr-number comes from the pull request's code: users rely on a line of it that
    looks like a workflow command (`::...`) never reaching the log."""
    forged = diff_artifact("dev") | {"files": {"pr-number": "::error title=forged::owned\n", "dev.md": "x\n"}}
    with pytest.raises(AssertionError) as failed:
        comment_job(tmp_path, workflows(), artifacts=[forged])
    # The step's own temporary path holds the test's name, forged included: only the rest counts.
    printed = str(failed.value).replace(str(tmp_path), "<tmp>")
    assert "forged" not in printed and "not one pull request number" in printed


def test_the_comment_runs_whatever_happened_to_the_other_jobs() -> None:
    """Only a cancelled run (a newer push, whose own run posts) is skipped."""
    condition_text = workflows()["comment"]["jobs"]["comment"]["if"]
    assert "conclusion != 'cancelled'" in condition_text and "== 'success'" not in condition_text


# The watch -----------------------------------------------------------------------------------

AGED = "2026-01-01T00:00:00Z"


def export(stack: str) -> dict[str, Any]:
    """A stack's state as `pulumi stack export` writes it: one secret and its value, made on AGED."""
    from ai_etl.names import secret_name
    from ai_etl.tokens import SM_SECRET, SM_VERSION

    arn = f"arn:aws:secretsmanager:us-east-1:111111111111:secret:{secret_name(stack, 'jwt-secret-key')}"
    resources = [
        {
            "type": SM_SECRET,
            "inputs": {"name": secret_name(stack, "jwt-secret-key")},
            "outputs": {"arn": arn},
        },
        {"type": SM_VERSION, "inputs": {"secretId": arn}, "outputs": {}, "created": AGED},
    ]
    return {"version": 3, "deployment": {"resources": resources}}


def deployed(stack: str, preview_exit: int = 0) -> dict[str, Any]:
    return {
        "config": {},
        "outputs": {},
        "resourceCount": 2,
        "preview_exit": preview_exit,
        "export": export(stack),
    }


def watch_stack(
    tmp_path: Path, wfs: Workflows, backend: dict[str, Any], issues: list[dict[str, Any]] | None = None
) -> tuple[JobRun, Fakes, Path]:
    """watch.yml's job for stack dev, with `backend` in the state backend and `issues` open."""
    fake = fakes(tmp_path, backend, {"issues": issues or []})
    workspace = checkout(tmp_path / "workspace")
    done = run_job(
        wfs["watch"]["jobs"]["stack"],
        workspace,
        VALUES | {"matrix.stack": "dev"},
        fake.env,
        workflow=wfs["watch"],
    )
    return done, fake, workspace


def check_watch_of_a_deployed_stack(tmp_path: Path, wfs: Workflows) -> None:
    """A deployed stack with no drift: the preview runs as the real CLI would take it, no issue is
    opened, and the ages of its secrets (names and days) are left for the upload, the export gone."""
    done, fake, workspace = watch_stack(tmp_path, wfs, {"dev": deployed("dev")})
    preview_call = ["preview", "--stack", "dev", "--refresh", "--expect-no-changes", "--diff"]
    assert preview_call in fake.pulumi_calls() and done.outputs["drift"]["state"] == "clean"
    assert fake.github()["issues"] == []
    (age,) = json.loads((workspace / "ages" / "dev.json").read_text())
    assert age["stack"] == "dev" and age["key"] == "jwt-secret-key" and age["days"] > 90
    assert not (workspace / "state.json").exists()


def test_the_watch_of_a_clean_stack_opens_nothing_and_measures_ages(tmp_path: Path) -> None:
    """The daily watch's ordinary day."""
    check_watch_of_a_deployed_stack(tmp_path, workflows())


def check_drift_issue(tmp_path: Path, wfs: Workflows) -> None:
    """Drift (the CLI's exit 7) with the stack's issue already open: a comment on it, with the
    run's link, and no second issue."""
    issue = {"number": 4, "title": "Drift in stack dev", "state": "open", "body": "", "comments": []}
    done, fake, _ = watch_stack(tmp_path, wfs, {"dev": deployed("dev", preview_exit=7)}, [issue])
    (after,) = fake.github()["issues"]
    assert done.outputs["drift"]["state"] == "drift"
    (comment,) = after["comments"]
    assert "https://github.com/acme/ai-etl/actions/runs/9" in comment


def test_drift_comments_on_the_stacks_open_issue(tmp_path: Path) -> None:
    """A later drift of the same stack adds to its one issue."""
    check_drift_issue(tmp_path, workflows())


def test_a_first_drift_opens_the_stacks_issue(tmp_path: Path) -> None:
    """No issue open for the stack: one is opened, titled with the stack."""
    _, fake, _ = watch_stack(tmp_path, workflows(), {"dev": deployed("dev", preview_exit=7)})
    (issue,) = fake.github()["issues"]
    assert issue["title"] == "Drift in stack dev" and "found changes" in issue["body"]


@pytest.mark.parametrize("code", [1, 3, 6, 255])
def test_a_failing_preview_is_not_drift(tmp_path: Path, code: int) -> None:
    """Wrong credentials (3), a missing stack (6), a lock or anything else: the job fails, naming
    the code, and opens no drift issue; no ages are measured, so the rotation job keeps its verdict."""
    backend = {"dev": deployed("dev", preview_exit=code) | {"preview_error": "the stack is locked"}}
    fake = fakes(tmp_path, backend)
    workspace = checkout(tmp_path / "workspace")
    with pytest.raises(AssertionError, match=f"Drift, told from failure.*exit {code}"):
        wf = workflows()["watch"]
        run_job(wf["jobs"]["stack"], workspace, VALUES | {"matrix.stack": "dev"}, fake.env, workflow=wf)
    assert fake.github()["issues"] == [] and not (workspace / "ages").exists()


@pytest.mark.parametrize(
    "backend",
    [{"dev": {"config": {}, "outputs": {}}}, {"dev": {"config": {}, "outputs": {}, "resourceCount": 0}}],
    ids=["count-null", "count-0"],
)
def test_a_stack_never_deployed_is_no_drift_and_has_no_secret(
    tmp_path: Path, backend: dict[str, Any]
) -> None:
    """A stack listed by the backend with no resource (resourceCount 0, or left out): no preview
    (which would show every resource as a change), no export (which fails), a notice, and an empty
    list of ages: users rely on a stack that is initialised ahead of its first deploy not failing
    the watch."""
    done, fake, workspace = watch_stack(tmp_path, workflows(), backend)
    assert not [c for c in fake.pulumi_calls() if c[0] in ("preview", "stack") and c[1:2] != ["ls"]]
    assert json.loads((workspace / "ages" / "dev.json").read_text()) == []
    assert "::notice title=Not deployed::" in done.log and fake.github()["issues"] == []


@pytest.mark.parametrize(
    "backend",
    [{}, {"staging": deployed("staging")}, {"acme/dev-old": deployed("dev")}],
    ids=["empty-backend", "other-stacks-only", "similar-name"],
)
def test_a_stack_the_backend_does_not_list_fails_the_watch(tmp_path: Path, backend: dict[str, Any]) -> None:
    """A stack missing from `pulumi stack ls` (a wrong PULUMI_BACKEND_URL, or an org the token does
    not see) is not "undeployed": users rely on the watch failing, naming the variable, so that no
    empty list of ages lets the rotation job close its issue."""
    fake = fakes(tmp_path, backend)
    workspace = checkout(tmp_path / "workspace")
    wf = workflows()["watch"]
    with pytest.raises(AssertionError, match=r"Drift, told from failure.*exit 1") as failed:
        run_job(wf["jobs"]["stack"], workspace, VALUES | {"matrix.stack": "dev"}, fake.env, workflow=wf)
    assert "::error title=Stack not listed::" in str(failed.value)
    assert "vars.PULUMI_BACKEND_URL" in str(failed.value)
    assert not (workspace / "ages").exists() and fake.github()["issues"] == []
    assert not [c for c in fake.pulumi_calls() if c[0] == "preview"]


def test_an_org_qualified_stack_is_watched_by_its_listed_name(tmp_path: Path) -> None:
    """Pulumi Cloud lists a stack outside the default org as `<org>/<stack>` (pulumi/pulumi
    pkg/backend/httpstate/stack.go, cloudBackendReference.String): users rely on it being watched
    and aged under that name, not taken for undeployed."""
    done, fake, workspace = watch_stack(tmp_path, workflows(), {"acme/dev": deployed("dev")})
    assert [
        "preview",
        "--stack",
        "acme/dev",
        "--refresh",
        "--expect-no-changes",
        "--diff",
    ] in fake.pulumi_calls()
    assert ["stack", "export", "--stack", "acme/dev", "--file", "state.json"] in fake.pulumi_calls()
    (age,) = json.loads((workspace / "ages" / "dev.json").read_text())
    assert age["stack"] == "dev" and done.outputs["drift"]["state"] == "clean"


def test_the_watch_has_its_own_environment() -> None:
    """A required reviewer on preview-<stack> (docs/ci.md) would otherwise hold up the daily watch."""
    job = workflows()["watch"]["jobs"]["stack"]
    assert job["environment"] == "watch-${{ matrix.stack }}"


def rotation(
    tmp_path: Path, wfs: Workflows, ages: dict[str, int] | None, issues: list[dict[str, Any]]
) -> tuple[JobRun, Fakes]:
    """watch.yml's rotation job, each stack's ages artifact holding one secret `ages[stack]` days
    old (a stack missing from `ages` uploaded none)."""
    artifacts = [
        {
            "name": f"ages-{stack}",
            "expired": False,
            "files": {f"{stack}.json": json.dumps([{"stack": stack, "key": "jwt-secret-key", "days": days}])},
        }
        for stack, days in (ages or {}).items()
    ]
    fake = fakes(tmp_path, github={"runs": {"9": {"artifacts": artifacts, "jobs": []}}, "issues": issues})
    values = VALUES | {"needs.stacks.outputs.list": json.dumps(list(STACKS))}
    done = run_job(
        wfs["watch"]["jobs"]["rotation"],
        checkout(tmp_path / "workspace"),
        values,
        fake.env,
        workflow=wfs["watch"],
    )
    return done, fake


ROTATION = "Secrets not rotated for 90 days"


def open_rotation_issue() -> dict[str, Any]:
    return {"number": 12, "title": ROTATION, "state": "open", "body": "old", "comments": []}


def check_rotation_closes_when_none_is_left(tmp_path: Path, wfs: Workflows) -> None:
    """Every stack's ages in, none over 90 days: the open rotation issue is closed, saying why."""
    _, fake = rotation(tmp_path, wfs, dict.fromkeys(STACKS, 30), [open_rotation_issue()])
    (issue,) = fake.github()["issues"]
    assert issue["state"] == "closed" and issue["comments"] == ["Every secret is 90 days old or younger."]


def test_the_rotation_issue_closes_when_none_is_left(tmp_path: Path) -> None:
    check_rotation_closes_when_none_is_left(tmp_path, workflows())


@pytest.mark.parametrize("open_issue", [False, True], ids=["opened", "updated"])
def test_the_rotation_issue_lists_the_stale_secrets(tmp_path: Path, open_issue: bool) -> None:
    """A secret over 90 days old: the one rotation issue is opened, or its body updated."""
    ages = dict.fromkeys(STACKS, 30) | {STACKS[0]: 120}
    _, fake = rotation(tmp_path, workflows(), ages, [open_rotation_issue()] if open_issue else [])
    (issue,) = fake.github()["issues"]
    assert issue["title"] == ROTATION and issue["state"] == "open"
    assert f"| {STACKS[0]} | `jwt-secret-key` | 120 |" in issue["body"]


@pytest.mark.parametrize("ages", [None, {STACKS[0]: 30}], ids=["no-artifact", "one-stack"])
def test_the_rotation_issue_is_never_closed_on_partial_data(
    tmp_path: Path, ages: dict[str, int] | None
) -> None:
    """A stack's ages missing (or none at all): the job fails, saying which, and the open issue stays
    open; with no artifact at all, `gh run download` (which would fail) is not called."""
    with pytest.raises(AssertionError, match="Open, update or close"):
        rotation(tmp_path, workflows(), ages, [open_rotation_issue()])
    github = json.loads((tmp_path / "fakes" / "github.json").read_text())
    assert github["issues"][0]["state"] == "open"


def test_the_rotation_job_runs_only_when_every_stack_was_measured() -> None:
    """A failed stack job leaves its ages out: the rotation job does not run on what is left."""
    assert workflows()["watch"]["jobs"]["rotation"]["if"] == "needs.stack.result == 'success'"


# Breaks: each mistake applied to a copy of a workflow fails the check named beside it ---------------


@dataclass(frozen=True)
class Break:
    workflow: str
    old: str
    new: str
    check: Callable[[Path, Workflows], None]


def watch_job_runs(tmp_path: Path, wfs: Workflows) -> None:
    check_watch_of_a_deployed_stack(tmp_path, wfs)


def deploy_jobs_run(tmp_path: Path, wfs: Workflows) -> None:
    for stack in STACKS:
        run_job(wfs["deploy"]["jobs"][stack], checkout(tmp_path / stack), VALUES, workflow=wfs["deploy"])


def static(check: Callable[[Workflows], None]) -> Callable[[Path, Workflows], None]:
    return lambda _tmp, wfs: check(wfs)


NO_SHELL = "defaults:\n  run:\n    shell: bash\n"


BREAKS = {
    "comment.yml without `shell: bash` (no pipefail)": Break(
        "comment", NO_SHELL, "", check_a_failed_comment_listing_fails_the_step
    ),
    "watch.yml without `shell: bash`": Break("watch", NO_SHELL, "", static(check_run_shells)),
    "misspelt module in the watch": Break(
        "watch", "-m ai_etl.ops.watch ages", "-m ai_etl.ops.wacth ages", watch_job_runs
    ),
    "make stup in deploy": Break(
        "deploy", "run: make setup policy-venv", "run: make stup policy-venv", deploy_jobs_run
    ),
    "make tests in the gate": Break(
        "pull-request", "run: make test\n", "run: make tests\n", static(check_make_targets)
    ),
    "stack: for stack-name:": Break(
        "deploy", "          stack-name: dev\n", "          stack: dev\n", static(check_with_keys)
    ),
    "expect-no-change": Break(
        "watch", "--expect-no-changes --diff", "--expect-no-change --diff", watch_job_runs
    ),
    "a wrong --jq field": Break(
        "comment", "--jq .head.sha)", "--jq .head.sah)", check_comment_updates_its_own
    ),
    "pulumi stack exprot": Break(
        "watch", "pulumi stack export --stack", "pulumi stack exprot --stack", watch_job_runs
    ),
    "the deploy job given the preview role": Break(
        "deploy",
        "role-to-assume: ${{ vars.AWS_DEPLOY_ROLE_ARN }}",
        "role-to-assume: ${{ vars.AWS_PREVIEW_ROLE_ARN }}",
        static(check_trust_policies),
    ),
    "the CLI the runner image has": Break(
        "deploy", "pulumi-version: 3.272.0", "pulumi-version: ^3", static(check_pulumi_version)
    ),
}


@pytest.mark.parametrize("name", BREAKS)
def test_a_broken_workflow_fails_its_check(tmp_path: Path, name: str) -> None:
    """Each mistake the issue tried on a copy (and the CLI version left to the runner image) makes
    the check named in BREAKS fail; the same check passes on the committed workflows (its own test)."""
    broken = BREAKS[name]
    texts = workflow_texts()
    assert broken.old in texts[broken.workflow], f"{name}: the break no longer applies"
    texts[broken.workflow] = texts[broken.workflow].replace(broken.old, broken.new, 1)
    with pytest.raises(AssertionError):
        broken.check(tmp_path, {n: parse(t) for n, t in texts.items()})
