"""The configuration page's four recipes, followed as printed on one copy of the project: a provided
secret, a second workload, a standard-grade stack and a production-grade stack under a name that is
not `production`. Then one run of the tests they concern passes there, with no test edited; each
recipe's test below reads its share of that run.

One copy and one run for all four: the tests they concern take some three minutes there on two
busy cores (much of the suite: a workload or a secret changes every stack), four copies would take
nearly four times that, and the recipes meet in real life too (a stack added after a workload needs
its image). A recipe's example may already have been
followed for real (SENTRY_DSN added, a `worker` or a `qa` stack made): the copy then takes the same
recipe under a name the project does not use yet, so both hold. The security scan (checkov, half a
minute) is left to the gate's own run on the committed stacks: a recipe's stack or workload is the
same program with other values, whose hardening test_access checks for each workload."""

from __future__ import annotations

import fcntl
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ai_etl.catalogue import CATALOGUE, CONSUMERS
from tests.fakes import shim
from tests.helpers import PRODUCTION_GRADE, STACKS, STANDARD_GRADE, copy_project, unused
from tests.paths import PROJECT_DIR
from tests.test_docs import DOCS
from tests.test_workflows import promotion_order

# The recipes followed on a copy, and its tests run there: the gate's longest test (some 90 s), so it
# starts first (`heavy`: tests/conftest.py), not at the end of a worker's share.
pytestmark = [pytest.mark.slow, pytest.mark.heavy]

CONFIGURATION = (DOCS / "configuration.md").read_text()
# What the user puts in place of each placeholder the recipes print.
FILLED = {"<registry>": "registry.example.com", "<tag>": "1.0.0", "<digest>": "0" * 64}


def section(title: str) -> str:
    """The text of the configuration page's section `## <title>`."""
    return CONFIGURATION.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in the copy, on its own code; the copy borrows this checkout's tools environment.
    Every test's outcome is listed (`-rA`), for each recipe's test to read its own. On both cores
    (`-n 2`, as `make test` runs): this one test is most of the slow tier's time, and would
    otherwise keep one core busy alone at the end of the gate."""
    tools = os.environ.get("AI_ETL_TOOLS_BIN", str(PROJECT_DIR / ".venv-tools" / "bin"))
    # Its own base temp folder: pytest empties the one it is given, and a PYTEST_ADDOPTS naming
    # this run's (`--basetemp`) would have it empty the folder that holds the copy itself.
    env = {k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"}
    env |= {"PYTHONPATH": str(project), "AI_ETL_TOOLS_BIN": tools}
    basetemp = f"--basetemp={project.parent / 'pytest'}"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "-n", "2", basetemp, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def in_copy(project: Path, line: str) -> subprocess.CompletedProcess[str]:
    """`line` run by bash in the copy, with a `pulumi` on the PATH that changes stack files as the
    CLI does (tests/fakecli.py)."""
    bin_dir = project.parent / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim(bin_dir / "pulumi", sys.executable, "-m", "tests.fakecli")
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(project)}
    return subprocess.run(
        ["bash", "--noprofile", "--norc", "-euo", "pipefail", "-c", line],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def insert_entry(module: Path, tuple_start: str, code: str) -> None:
    """`code` as the last item of the tuple that starts at `tuple_start` in `module`."""
    text = module.read_text()
    end = text.index("\n)\n", text.index(tuple_start))
    item = "".join(f"    {line}\n" if line else "\n" for line in code.splitlines())
    module.write_text(f"{text[: end + 1]}{item.rstrip()},\n{text[end + 1 :]}")


# Recipe 1: "Adding a secret" -------------------------------------------------------------------


def add_secret(project: Path) -> tuple[str, str, str]:
    """Steps 1 and 2 of "Adding a secret": the page's catalogue entry and its declaration in
    Pulumi.yaml (under a key no entry has, if the page's is taken). The committed stack files hold
    no provided secret (the tests' placeholders stand in), so step 2's `config set --secret` is left
    to the new stacks' files. Its key, env var and config key."""
    recipe = section("Adding a secret")
    entry = re.search(r"`(SecretSpec\((\"[^\"]+\"), (\"[^\"]+\"), .*config_key=(\"[^\"]+\")\))`", recipe)
    declared = re.search(r"`(\w+): \{type: string, secret: true\}`", recipe)
    assert entry and declared and declared[1] == entry[4].strip('"'), (
        "the page shows an entry and its declaration"
    )
    assert "`make docs`, then `make test`" in recipe
    key, env_var, config_key = (entry[i].strip('"') for i in (2, 3, 4))
    new_key = unused(key, {s.key for s in CATALOGUE})
    suffix = new_key[len(key) :]
    code = entry[1].replace(f'"{key}"', f'"{new_key}"')
    code = code.replace(f'"{env_var}"', f'"{env_var}{suffix}"').replace(
        f'"{config_key}"', f'"{config_key}{suffix}"'
    )
    insert_entry(project / "ai_etl" / "catalogue" / "__init__.py", "CATALOGUE: tuple", code)
    pulumi_yaml = project / "Pulumi.yaml"
    assert list(yaml.safe_load(pulumi_yaml.read_text()))[-1] == "config", "declarations go at the end"
    with pulumi_yaml.open("a") as f:
        f.write(f"  {config_key}{suffix}: {{type: string, secret: true}}\n")
    return new_key, f"{env_var}{suffix}", f"{config_key}{suffix}"


# Recipe 2: "Adding a workload" -----------------------------------------------------------------


def add_workload(project: Path) -> str:
    """ "Adding a workload": the page's `Consumer` in CONSUMERS (named as no consumer is, if the
    page's name is taken), then its image set in each stack by the page's command, placeholders
    filled in, through a `pulumi` that stores it as the CLI does. The workload's name."""
    recipe = section("Adding a workload")
    code = re.search(r"```python\n(Consumer\(\n.*?\n\))\n```", recipe, re.S)
    command = re.search(r"`(pulumi config set --path '(\w+)\.image' '([^']+)' --stack <stack>)`", recipe)
    assert code and command, "the page shows the consumer and the command that sets its image"
    assert re.search(r"`make docs`.*then `make test`", recipe, re.S), "the tables are made anew"
    (name,) = re.findall(r'^\s+"([a-z0-9-]+)",$', code[1], re.M)[:1]
    assert command[2] == name
    new = unused(name, {c.name for c in CONSUMERS})
    insert_entry(
        project / "ai_etl" / "catalogue" / "__init__.py",
        "CONSUMERS: tuple",
        code[1].replace(f'"{name}"', f'"{new}"', 1),
    )
    line = command[1].replace(f"'{name}.image'", f"'{new}.image'").replace(f"-{name}:", f"-{new}:")
    for placeholder, value in FILLED.items():
        line = line.replace(placeholder, value)
    for stack in STACKS:
        done = in_copy(project, line.replace("<stack>", stack))
        assert done.returncode == 0, done.stderr
    return new


# Recipes 3 and 4: "Adding a stack", standard grade and production grade ------------------------


def add_stack(project: Path, name: str, production: bool, consumers: list[str], provided: list[str]) -> None:
    """Steps 1 to 3 of "Adding a stack" for stack `name`: its stack file with the keys step 1
    names (a production-grade one: also what step 1 says production grade needs), and as step 2
    leaves it, with its secrets provider and encrypted provided secrets; its deploy job (step 3), a
    copy of the job of a stack of the same grade, in its place in the promotion order: a standard
    stack after the first, a production-grade one after the last standard one."""
    recipe = section("Adding a stack")
    keys = ("`aws:region`", "`aws:allowedAccountIds`", "`ai-etl:clusterName`", "`ai-etl:backend`")
    for key in (*keys, "`ai-etl:<workload>`", "`ai-etl:auditEmail`", "`ai-etl:stepImage`"):
        assert key in recipe, key
    # A nested key in the form the CLI writes it (`ai-etl:backend.image` is a key of its own, which
    # the program reads as unknown): pkg/cmd/pulumi/config/config.go, `config set --path`.
    assert "`pulumi config set --path 'backend.image' '<image>' --stack staging`" in recipe
    assert "secretsprovider" in recipe and "encryptedkey" in recipe and "`secure:`" in recipe
    assert "`needs:`" in recipe, "step 3 says how a job takes its place in the promotion order"
    grade = re.search(
        r"`ai-etl:grade:\s+production` with\s+`protect: true`, a 30-day `recoveryWindowInDays` and a"
        r" `replicaRegion` if it is to be\s+production-grade, whatever its name \(`prod-eu` as well as"
        r" `production`\), and an `auditTrail`",
        recipe,
    )
    assert grade, "step 1 says what a production-grade stack needs, under any name"
    assert "Production-grade stacks come last" in " ".join(recipe.split())
    digest = "@sha256:" + "1" * 64
    config: dict[str, Any] = {
        "aws:region": "eu-central-1",
        "aws:allowedAccountIds": ["555555555555" if production else "444444444444"],
        "ai-etl:clusterName": f"ai-etl-{name}",
        **{f"ai-etl:{c}": {"image": f"registry.example.com/ai-etl-{c}:{name}{digest}"} for c in consumers},
        "ai-etl:auditEmail": "secops@example.com",
        "ai-etl:stepImage": f"registry.example.com/ai-etl-step:{name}{digest}",
    }
    if production:
        config |= {
            "ai-etl:grade": "production",
            "ai-etl:protect": True,
            "ai-etl:recoveryWindowInDays": 30,
            "ai-etl:replicaRegion": "eu-west-1",
            "ai-etl:auditTrail": "declare",
        }
    stack_file = {
        "secretsprovider": "awskms://alias/ai-etl-pulumi?region=eu-central-1",
        "encryptedkey": "AQICAHhbm90LWEtcmVhbC1rZXktanVzdC1ieXRlcw==",
        "config": config
        | {f"ai-etl:{key}": {"secure": f"v1:bm90LWEtcmVhbC1jaXBoZXJ0ZXh0:{key}"} for key in provided},
    }
    (project / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump(stack_file, sort_keys=False))
    deploy = project / ".github" / "workflows" / "deploy.yml"
    text = deploy.read_text()
    jobs = yaml.safe_load(text)["jobs"]
    order = promotion_order(jobs)
    standard = [s for s in order if s in STANDARD_GRADE]
    after = standard[-1] if production else standard[0]
    (follower,) = [job for job, spec in jobs.items() if spec.get("needs") == after]
    template = PRODUCTION_GRADE[0] if production else STANDARD_GRADE[0]
    job = deploy_job(text, template, name, after)
    text = text.replace(f"\n    needs: {after}\n", f"\n    needs: {name}\n", 1)
    deploy.write_text(text.replace(f"\n  {follower}:\n", f"\n{job}  {follower}:\n", 1))
    assert yaml.safe_load(deploy.read_text())["jobs"][follower]["needs"] == name


def deploy_job(workflow: str, template: str, stack: str, needs: str) -> str:
    """The deploy workflow's job for `stack`, placed after `needs`: the text of the job `template`
    (its comments kept) with the stack's name in place of the template's."""
    found = re.search(rf"^  {template}:\n(?:(?:    .*|\s*)\n)+", workflow, re.M)
    assert found, template
    job = re.sub(rf"\b{template}\b", stack, found[0].rstrip() + "\n")
    job = re.sub(r"^    needs: .*\n", "", job, flags=re.M)
    return job.replace(f"  {stack}:\n", f"  {stack}:\n    needs: {needs}\n", 1) + "\n"


# The tests each recipe concerns, as the copy runs them ---------------------------------------

SECRET_TESTS = (
    # Steps 1 and 2: every stack runs with the new entry through the CLI's checks of Pulumi.yaml,
    # and passes every rule and the checklist; the entry reaches Secrets Manager, the grant and
    # every workload that reads it, wired to its source.
    "tests/test_guardrails.py::test_every_stack_passes_offline_check",
    "tests/test_wiring.py",
    # Step 2: Pulumi.yaml declares every provided secret, as a secret.
    "tests/test_settings.py::test_pulumi_yaml_declares_the_same_defaults_and_every_provided_secret",
    # Step 3: `make docs` leaves .env.example and the secrets table derived from the catalogue.
    # (That it leaves every generated part current is test_docs' make-docs test, which would only
    # run the program once per setting again, right after the `make docs` the fixture ran.)
    "tests/test_catalogue.py",
    "tests/test_docs.py::test_every_config_key_is_documented",
)
# Each workload's objects, wiring, rotation and schemas, the catalogue's own checks, and the
# operator tools that find the backend among the workloads (the takeover's script, run once).
WORKLOAD_TESTS = (
    "tests/test_access.py",
    "tests/test_wiring.py",
    "tests/test_rotation.py",
    "tests/test_rotation_step.py",
    "tests/test_schemas.py",
    "tests/test_catalogue.py",
    "tests/test_plan.py",
    "tests/test_offline.py",
    "tests/test_settings.py::test_a_quantity_stored_as_a_number_is_accepted",
    "tests/test_takeover.py::test_the_commands_name_the_programs_own_objects",
    "tests/test_takeover.py::test_kubectl_talks_only_to_the_stacks_own_cluster",
    "tests/test_takeover.py::test_a_preview_comes_before_anything_destructive",
    "tests/test_takeover.py::test_the_script_retires_only_what_was_made_by_hand",
    "tests/test_takeover.py::test_the_taken_over_stack_passes_the_guardrails",
    "tests/test_takeover.py::test_a_kept_value_gives_way_at_the_first_rotation",
    "tests/test_runbooks.py::test_the_pulumi_only_blocks_run_as_printed",
    *SECRET_TESTS[3:],
)
# Every test that runs each stack file, and the workflows; of CI's jobs, run on a clone of the copy
# as CI runs them, those that take every stack file (the deploy, the rotation issue) or a new one.
STACK_TESTS = (
    "tests/test_workflows.py",
    "tests/test_ci_jobs.py::test_each_deploy_jobs_steps_run",
    "tests/test_ci_jobs.py::test_a_pull_request_that_adds_a_stack_diffs_it_as_all_new",
    "tests/test_ci_jobs.py::test_the_rotation_issue_closes_when_none_is_left",
    "tests/test_ci_jobs.py::test_the_rotation_issue_lists_the_stale_secrets",
    "tests/test_ci_jobs.py::test_the_rotation_issue_is_never_closed_on_partial_data",
    "tests/test_ci_jobs.py::test_the_rotation_job_runs_only_when_every_stack_was_measured",
    "tests/test_offline.py",
    "tests/test_settings.py::test_namespace_defaults_to_project_and_stack",
    "tests/test_schemas.py",
    "tests/test_secrecy.py",
    "tests/test_guardrails.py",
    "tests/test_access.py",
    "tests/test_plan.py",
    "tests/test_wiring.py",
    "tests/test_rotation_step.py",
    "tests/test_cluster.py",
    "tests/test_watch.py",
    "tests/test_docs.py::test_the_documented_kubernetes_roles_cover_every_rendered_kind",
)
# And what reads a stack's grade or replica region: the access audit runs on a production-grade one.
PRODUCTION_GRADE_TESTS = (*STACK_TESTS, "tests/test_audit.py")


@dataclass(frozen=True)
class Followed:
    """The copy with the four recipes followed, and the outcome of each of its tests."""

    project: Path
    secret: tuple[str, str, str]
    workload: str
    standard: str
    production: str
    outcomes: dict[str, str]
    """Test id -> PASSED, FAILED, ERROR..., as the copy's run reported it."""
    output: str

    def of(self, selection: tuple[str, ...]) -> dict[str, str]:
        """The outcomes of the tests `selection` names (files or test ids, parameters aside)."""
        return {
            test: outcome
            for test, outcome in self.outcomes.items()
            if any(test == s or test.startswith((f"{s}::", f"{s}[")) for s in selection)
        }

    def green(self, selection: tuple[str, ...], *, naming: str = "") -> None:
        """Every test of `selection` ran and passed; some of them ran for `naming` (a test id
        holding it as a parameter)."""
        outcomes = self.of(selection)
        for name in selection:
            assert self.of((name,)), f"{name} did not run:\n{self.output[-3000:]}"
        failed = {test: outcome for test, outcome in outcomes.items() if outcome != "PASSED"}
        assert not failed, f"{failed}\n{self.output[-6000:]}"
        if naming:
            ids = re.compile(rf"\[(.*-)?{re.escape(naming)}(-.*)?\]$")
            assert [test for test in outcomes if ids.search(test)], f"no test ran for {naming}"


@pytest.fixture(scope="module")
def followed(tmp_path_factory: pytest.TempPathFactory) -> Followed:
    """`follow`, once for the whole run: the pytest-xdist workers share it through a file in the
    run's common temp folder; the first to ask makes it while the others wait on its lock (its
    inner test run uses both cores anyway). Made once per worker, it cost the gate a minute."""
    root = tmp_path_factory.getbasetemp()
    root = root.parent if os.environ.get("PYTEST_XDIST_WORKER") else root
    saved = root / "recipes-followed.json"
    with (root / "recipes-followed.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if saved.exists():
            data = json.loads(saved.read_text())
            return Followed(**{**data, "project": Path(data["project"]), "secret": tuple(data["secret"])})
        made = follow(tmp_path_factory)
        saved.write_text(json.dumps({**vars(made), "project": str(made.project)}))
        return made


def follow(tmp_path_factory: pytest.TempPathFactory) -> Followed:
    """The four recipes followed on one copy, in the order a project would meet them (a secret, a
    workload, then two stacks that need every workload's image); `make docs` as the Makefile runs
    it; then one run of the union of the tests the recipes concern."""
    project = copy_project(tmp_path_factory.mktemp("recipes") / "project")
    secret = add_secret(project)
    workload = add_workload(project)
    consumers = [c.name for c in CONSUMERS] + [workload]
    provided = [str(s.config_key) for s in CATALOGUE if s.config_key] + [secret[2]]
    standard, production = unused("qa", STACKS), unused("prod-eu", STACKS)
    add_stack(project, standard, False, consumers, provided)
    add_stack(project, production, True, consumers, provided)
    docs = re.search(r"^docs: setup\n\t\$\(PY\) (.+)$", (project / "Makefile").read_text(), re.M)
    assert docs, "the Makefile's docs target"
    made = subprocess.run(
        [sys.executable, *shlex.split(docs[1])],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    # CI's jobs run on a clone of the committed project (tests/test_ci_jobs.py, checkout), and the
    # policy pack in its own environment, as `make policy-venv` leaves it here.
    (project / "policy" / "venv").symlink_to(PROJECT_DIR / "policy" / "venv")
    git = ["git", "-c", "user.name=recipes", "-c", "user.email=recipes@example.com", "-C", str(project)]
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "the four recipes"]):
        subprocess.run([*git, *command], check=True, capture_output=True)
    selection = sorted({*SECRET_TESTS, *WORKLOAD_TESTS, *PRODUCTION_GRADE_TESTS})
    files = {s for s in selection if "::" not in s}
    ran = pytest_in(project, *files, *(s for s in selection if s.partition("::")[0] not in files))
    assert ran.returncode in (0, 1), ran.stdout[-4000:] + ran.stderr[-2000:]  # no collection error
    # `-rA` lines: `PASSED <id>`, `FAILED <id> - <why>`; an id may hold spaces (a parameter's).
    found = re.findall(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (.+?)(?: - .*)?$", ran.stdout, re.M)
    outcomes = {test: outcome for outcome, test in found}
    assert len(outcomes) == len(found), "one outcome per test"
    return Followed(project, secret, workload, standard, production, outcomes, ran.stdout)


def test_the_new_secret_recipe_leaves_the_suite_green(followed: Followed) -> None:
    """ "Adding a secret", step by step: the catalogue entry the page shows, its declaration in
    Pulumi.yaml, `make docs`; then the tests that hold every place a new secret must reach to the
    catalogue pass with no test edited (each fails on a copy where its step is left out)."""
    key, env_var, _ = followed.secret
    assert f"{env_var}=" in (followed.project / ".env.example").read_text()
    assert f"| `{key}` | `{env_var}` |" in (followed.project / "docs" / "configuration.md").read_text()
    followed.green(SECRET_TESTS)


def test_the_new_workload_recipe_leaves_the_suite_green(followed: Followed) -> None:
    """ "Adding a workload", as printed: the page's consumer in the catalogue, its image set in
    every stack by the page's command, `make docs`; then every test of the workloads passes, each
    per-workload test for the new one too, with no test edited."""
    table = (followed.project / "docs" / "configuration.md").read_text()
    readers = re.findall(r"^\| `[^`]+` \| `[A-Z0-9_]+` \| ([^|]+) \|", table, re.M)
    assert [r for r in readers if followed.workload in r.split(", ")], "the secrets table names it"
    assert f"| `{followed.workload}.image` |" in table, "the change-impact table has its settings"
    followed.green(WORKLOAD_TESTS, naming=followed.workload)


def test_the_new_stack_recipe_leaves_the_suite_green(followed: Followed) -> None:
    """ "Adding a stack", as written, for a new standard-grade stack (`qa`, or the first name like
    it no stack has), its deploy job placed between the first stack and the one after it: every
    test that runs the stack files or the workflows passes, each per-stack test for it too."""
    jobs = yaml.safe_load((followed.project / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]
    order = promotion_order(jobs)
    assert order.index(followed.standard) == 1
    followed.green(STACK_TESTS, naming=followed.standard)


def test_a_production_grade_stack_under_another_name_leaves_the_suite_green(followed: Followed) -> None:
    """ "Adding a stack" for a production-grade stack that is not called `production` (`prod-eu`):
    what step 1 says production grade needs, its deploy job before the other production-grade
    stacks' (after the last standard one); every test that runs the stack files, the workflows or
    the access audit passes, each per-stack test for it too: no test takes a grade from a name."""
    jobs = yaml.safe_load((followed.project / ".github" / "workflows" / "deploy.yml").read_text())["jobs"]
    order = promotion_order(jobs)
    assert order[order.index(followed.production) + 1 :] == [s for s in order if s in PRODUCTION_GRADE]
    followed.green(PRODUCTION_GRADE_TESTS, naming=followed.production)
