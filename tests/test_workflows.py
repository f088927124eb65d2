"""The GitHub Actions workflows as text: GitHub's workflow schema (check-jsonschema's vendored
copy), zizmor's offline audit, the least-privilege rules we set, and what they name outside
themselves: each action's inputs at its pinned commit, the Makefile's targets, the CLI version the
SDK needs, and the AWS roles' trust policies in docs/ci.md. tests/test_ci_jobs.py runs their steps.

The checks are functions of the parsed workflows, so tests/test_ci_jobs.py can show each one
failing on a broken copy."""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
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
PINNED_ACTIONS: dict[str, dict[str, Any]] = json.loads(
    (PROJECT_DIR / "tests" / "data" / "pinned_actions.json").read_text()
)
"""Each pinned action's `action.yml` as read at its commit (tag, commit, `runs.using`, and each
input: required, default), with the search tool's `fetch` of github:<owner>/<repo>; the tag's commit
checked there (`git rev-list -n1 <tag>`). Update it with the pin."""


def parse(text: str) -> dict[str, Any]:
    data = yaml.safe_load(text)
    # YAML 1.1 reads the key `on` as True.
    data["on"] = data.pop(True, data.get("on"))
    return dict(data)


def load(path: Path) -> dict[str, Any]:
    return parse(path.read_text())


def workflow_texts() -> dict[str, str]:
    """Each workflow's text by name (pull-request, comment, deploy, watch)."""
    return {path.stem: path.read_text() for path in WORKFLOWS}


def all_workflows() -> dict[str, dict[str, Any]]:
    return {name: parse(text) for name, text in workflow_texts().items()}


def action_steps(wfs: dict[str, dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`workflow/job`, step) of every step that uses an action."""
    for name, wf in wfs.items():
        for job_name, job in wf["jobs"].items():
            for step in job.get("steps", []):
                if "uses" in step:
                    yield f"{name}/{job_name}", step


def workflow(name: str) -> dict[str, Any]:
    return load(PROJECT_DIR / ".github" / "workflows" / f"{name}.yml")


def steps(wf: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in wf["jobs"].values() for step in job.get("steps", [])]


def check_run_shells(wfs: dict[str, dict[str, Any]]) -> None:
    """Every workflow sets `defaults: run: shell: bash`, and no job or step sets another shell: each
    `run:` is then `bash --noprofile --norc -eo pipefail {0}`; without it, `bash -e {0}`, where a
    failed `gh api` on the left of a pipe goes unnoticed (docs.github.com, workflow syntax,
    jobs.<job_id>.steps[*].shell and jobs.<job_id>.defaults.run; github/docs issue #23853)."""
    for name, wf in wfs.items():
        assert wf.get("defaults", {}).get("run", {}).get("shell") == "bash", (
            f"{name}: no `defaults: run: shell: bash`"
        )
        for job_name, job in wf["jobs"].items():
            shells = [job.get("defaults", {}).get("run", {}).get("shell", "bash")]
            shells += [s.get("shell", "bash") for s in job.get("steps", []) if "run" in s]
            assert set(shells) == {"bash"}, f"{name}/{job_name}: a shell other than bash: {shells}"


def test_every_run_step_fails_on_a_failed_pipe() -> None:
    """Users rely on a failing command anywhere in a step's pipe failing the job (a failed `gh api`
    listing the comments must not post a duplicate comment)."""
    check_run_shells(all_workflows())


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
    (pulumi,) = [s for s in preview["steps"] if "command" in s.get("with", {})]
    assert pulumi["uses"].startswith("pulumi/actions@")
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


@pytest.mark.parametrize(
    "name",
    ["Pulumi.QA.yaml", "Pulumi.my_stack.yaml", "Pulumi.eu.west.yaml", "Pulumi.-x.yaml", "Pulumi.\n::x.yaml"],
)
@pytest.mark.parametrize("workflow_name", ["pull-request", "watch"])
def test_a_stack_file_the_workflows_cannot_take_fails_the_listing(
    tmp_path: Path, workflow_name: str, name: str
) -> None:
    """Users rely on every stack file being previewed, diffed and watched: one whose name the
    workflows cannot take fails the `stacks` job, naming it (escaped: no line of it can be a
    workflow command), instead of being dropped; a leading hyphen never reaches a command line."""
    (step,) = [s for s in workflow(workflow_name)["jobs"]["stacks"]["steps"] if s.get("id") == "list"]
    (tmp_path / ".github").mkdir()
    (tmp_path / ".github" / "stacks.py").write_text((PROJECT_DIR / ".github" / "stacks.py").read_text())
    (tmp_path / "Pulumi.dev.yaml").write_text("config: {}\n")
    (tmp_path / name).write_text("config: {}\n")
    output = tmp_path / "output"
    result = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
        cwd=tmp_path,
        env={**os.environ, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0 and repr(name) in result.stderr, result.stderr
    assert all(line.startswith("::error title=Stack file not taken::") for line in result.stderr.splitlines())
    assert not output.exists() or "list=" not in output.read_text()


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


def test_deploys_queue_per_stack_and_a_running_one_is_never_cancelled() -> None:
    """Production waiting for its reviewer does not block the next dev deploy, and no running
    `pulumi up` is cancelled by a newer push (a waiting one is replaced by the newer push's:
    docs.github.com, "Control the concurrency of workflows and jobs"; the comments say so)."""
    wf = workflow("deploy")
    assert "concurrency" not in wf, "one group for the whole workflow would serialise every stack"
    for stack in STACKS:
        assert wf["jobs"][stack]["concurrency"] == {"group": f"deploy-{stack}", "cancel-in-progress": False}
    text = workflow_texts()["deploy"] + (PROJECT_DIR / "docs" / "ci.md").read_text()
    assert "never cancelled:" not in text and "are never cancelled" not in text


# What the workflows name outside themselves ------------------------------------------------------


def check_with_keys(wfs: dict[str, dict[str, Any]]) -> None:
    """Every action is pinned at the commit its inputs were read at; every `with:` key is one of its
    inputs, and every required input without a default is given."""
    for where, step in action_steps(wfs):
        repo, _, commit = step["uses"].partition("@")
        assert repo in PINNED_ACTIONS, (
            f"{where}: no copy of {repo}'s inputs in tests/data/pinned_actions.json"
        )
        copy = PINNED_ACTIONS[repo]
        assert commit == copy["sha"], f"{where}: {repo}@{commit}, but its inputs were read at {copy['sha']}"
        given = set(step.get("with", {}))
        unknown = given - set(copy["inputs"])
        assert not unknown, f"{where}: {repo} {copy['tag']} has no input {sorted(unknown)}"
        required = {k for k, v in copy["inputs"].items() if v["required"] and "default" not in v}
        assert required <= given, f"{where}: {repo} needs {sorted(required - given)}"


def test_every_with_key_is_an_input_of_the_pinned_action() -> None:
    """A misspelt input (`stack:` for `stack-name:`) is ignored by the runner with a warning at
    most, and the action then runs on its default: here it fails."""
    check_with_keys(all_workflows())


def test_the_inputs_copy_is_for_the_pinned_commits() -> None:
    """Each pin's comment names the tag the copy was read at, every copy is in use, and every pinned
    action runs on Node 24 (the copy's `runs.using`), which runners now use for all of them."""
    pins = set(
        re.findall(
            r"uses: ([\w.-]+/[\w.-]+)@([0-9a-f]{40}) # (v[\d.]+)\n", "".join(workflow_texts().values())
        )
    )
    assert pins == {(repo, copy["sha"], copy["tag"]) for repo, copy in PINNED_ACTIONS.items()}
    assert {copy["runs"] for copy in PINNED_ACTIONS.values()} == {"node24"}


def sdk_version() -> str:
    """The Pulumi SDK's version in requirements.lock."""
    lock = (PROJECT_DIR / "requirements.lock").read_text()
    found = re.search(r"^pulumi==(\S+)$", lock, re.MULTILINE)
    assert found, "requirements.lock pins pulumi"
    return found[1]


def check_pulumi_version(wfs: dict[str, dict[str, Any]]) -> None:
    """Every pulumi/actions step installs the CLI at the SDK's version."""
    steps_ = [(w, s) for w, s in action_steps(wfs) if s["uses"].startswith("pulumi/actions@")]
    assert steps_, "the workflows run pulumi somewhere"
    for where, step in steps_:
        version = step.get("with", {}).get("pulumi-version")
        assert str(version) == sdk_version(), f"{where}: pulumi-version {version}, the SDK is {sdk_version()}"


def test_the_cli_is_the_sdks_version() -> None:
    """Without `pulumi-version` the action takes any CLI on the runner that satisfies `^3`
    (pulumi/actions src/config.ts, makeInstallationConfig; src/libs/pulumi-cli.ts, downloadCli),
    older than the SDK the program runs on; the README asks for the SDK's version."""
    check_pulumi_version(all_workflows())
    assert f"{'.'.join(sdk_version().split('.')[:2])} or newer" in (PROJECT_DIR / "README.md").read_text()


def test_every_pulumi_command_runs_after_the_pinned_install() -> None:
    """A `run:` step that calls pulumi comes after a pulumi/actions step of its job, which installs
    the pinned CLI; before it, the runner image's older one would run."""
    for name, wf in all_workflows().items():
        for job_name, job in wf["jobs"].items():
            installed = False
            for step in job.get("steps", []):
                installed |= step.get("uses", "").startswith("pulumi/actions@")
                if re.search(r"(^|[;&|(]\s*|\n\s*)pulumi ", step.get("run", "")):
                    assert installed, (
                        f"{name}/{job_name}: `{label_of(step)}` runs pulumi before installing it"
                    )


def label_of(step: dict[str, Any]) -> str:
    return str(step.get("name") or step.get("id") or step["run"].splitlines()[0])


@functools.cache
def documented_targets() -> frozenset[str]:
    """The targets `make help` lists: each with its `## ` comment."""
    listed = subprocess.run(
        ["make", "-s", "help"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    )
    return frozenset(line.split()[0] for line in listed.stdout.splitlines() if line.strip())


SEPARATORS = {";", "&&", "||", "|", "(", ")", "then", "else", "do", "!"}


def make_targets(script: str) -> list[list[str]]:
    """The targets of each `make` command in a shell script (options and VAR=value left out), read
    line by line once continuations are joined."""
    found = []
    for line in re.sub(r"\\\n", " ", script).splitlines():
        if not re.search(r"\bmake\b", line):
            continue
        words = list(shlex.shlex(line, posix=True, punctuation_chars=True))
        for i, word in enumerate(words):
            if word != "make" or (i and words[i - 1] not in SEPARATORS):
                continue
            targets, rest = [], iter(words[i + 1 :])
            for arg in rest:
                if arg in SEPARATORS:
                    break
                if arg in ("-C", "-f", "--directory", "--file"):
                    next(rest, None)
                elif not arg.startswith("-") and "=" not in arg:
                    targets.append(arg)
            found.append(targets)
    return found


def check_make_targets(wfs: dict[str, dict[str, Any]]) -> None:
    """Every `make` in a `run:` names targets, each one `make help` lists: `make tests` (no such
    target) exits 0 having run nothing, because a `tests/` folder exists."""
    for name, wf in wfs.items():
        for job_name, job in wf["jobs"].items():
            for step in job.get("steps", []):
                for targets in make_targets(step.get("run", "")):
                    assert targets, f"{name}/{job_name}: a `make` runs the default target"
                    unknown = set(targets) - documented_targets()
                    assert not unknown, f"{name}/{job_name}: no make target {sorted(unknown)}"


def test_every_make_target_a_workflow_names_exists() -> None:
    """A workflow's `make <target>` runs what the Makefile documents, or nothing passes for it."""
    check_make_targets(all_workflows())
    runs = [
        s.get("run", "")
        for wf in all_workflows().values()
        for j in wf["jobs"].values()
        for s in j.get("steps", [])
    ]
    assert any(make_targets(run) for run in runs), "the workflows use the Makefile"


OIDC = "token.actions.githubusercontent.com"


def trust_policies() -> dict[str, str]:
    """Each role's trust policy in docs/ci.md (a JSON block), by the variable holding its ARN: the
    last `AWS_*_ROLE_ARN` named before the block. `<stack>` stands for the stack."""
    parts = re.split(r"```json\n(.*?)\n```", (PROJECT_DIR / "docs" / "ci.md").read_text(), flags=re.DOTALL)
    policies = {}
    for before, block in zip(parts[0::2], parts[1::2], strict=False):
        named = re.findall(r"`(AWS_\w+_ROLE_ARN)`", before)
        assert named, f"docs/ci.md: no role variable named before {block[:60]}"
        policies[named[-1]] = block
    return policies


def subjects(policy_text: str, stack: str) -> set[str]:
    """The OIDC subjects a trust policy admits for `stack`: only exact ones (StringEquals), with the
    audience `sts.amazonaws.com`, for GitHub's OIDC provider."""
    policy = json.loads(policy_text.replace("<stack>", stack))
    found: set[str] = set()
    for statement in policy["Statement"]:
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        assert statement["Principal"]["Federated"].endswith(f":oidc-provider/{OIDC}")
        assert set(statement["Condition"]) == {"StringEquals"}, "no wildcard subject (StringLike)"
        equals = statement["Condition"]["StringEquals"]
        assert equals[f"{OIDC}:aud"] == "sts.amazonaws.com"
        sub = equals[f"{OIDC}:sub"]
        found |= {sub} if isinstance(sub, str) else set(sub)
    return found


def check_trust_policies(wfs: dict[str, dict[str, Any]]) -> None:
    """Each job that assumes a role does so in an environment the role's trust policy names, and
    each policy names no environment but those of the jobs that use its variable."""
    policies = trust_policies()
    expected: dict[tuple[str, str], set[str]] = {(var, stack): set() for var in policies for stack in STACKS}
    for name, wf in wfs.items():
        for job_name, job in wf["jobs"].items():
            for step in job.get("steps", []):
                if not step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                    continue
                found = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", step["with"]["role-to-assume"])
                assert found and found[1] in policies, (
                    f"{name}/{job_name}: no trust policy for {step['with']}"
                )
                role = found[1]
                environment = job.get("environment")
                assert environment, f"{name}/{job_name}: a role only for a job in an environment"
                stacks = STACKS if "matrix.stack" in environment else (environment,)
                for stack in stacks:
                    subject = (
                        f"repo:OWNER/REPO:environment:{environment.replace('${{ matrix.stack }}', stack)}"
                    )
                    assert subject in subjects(policies[role], stack), (
                        f"{name}/{job_name}: the role in {role} does not trust {subject}"
                    )
                    expected[(role, stack)].add(subject)
    for (var, stack), wanted in expected.items():
        assert subjects(policies[var], stack) == wanted, f"{var} trusts more than its jobs' environments"


def test_the_trust_policies_match_the_workflows_environments() -> None:
    """Deploy safety rests on each role trusting only its environments' subjects: the deploy role
    `environment:<stack>` (whose deployment branch is main), the preview role the previews' and the
    watch's. A looser subject lets any branch assume the role."""
    check_trust_policies(all_workflows())


def recipe_environments() -> set[str]:
    """The environments docs/configuration.md's "Adding a stack" tells a user to create: the first
    column of its table."""
    text = (PROJECT_DIR / "docs" / "configuration.md").read_text()
    section = text.split("## Adding a stack", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\s*\| `([^`]+)` \|", section, re.M))


def workflow_environments(wfs: dict[str, dict[str, Any]]) -> set[str]:
    """Each job's environment with its stack written `<stack>` (a matrix's, or a deploy job's own)."""
    found = set()
    for wf in wfs.values():
        for name, job in wf["jobs"].items():
            if "environment" in job:
                env = str(job["environment"]).replace("${{ matrix.stack }}", "<stack>")
                found.add("<stack>" if env == name and env in STACKS else env)
    return found


def test_adding_a_stack_names_every_environment_the_workflows_use() -> None:
    """Users follow "Adding a stack" to the letter: a missing environment is created by GitHub with
    no protection and no variables, so the recipe names exactly those the workflows use."""
    assert (
        recipe_environments()
        == workflow_environments(all_workflows())
        == {
            "<stack>",
            "preview-<stack>",
            "watch-<stack>",
        }
    )
