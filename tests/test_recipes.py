"""The configuration page's recipes, followed as written on a copy of the project: after each, the
tests it concerns pass there with no test edited. A recipe's example may already have been followed
for real (SENTRY_DSN added, a `qa` stack made): the copy then takes the same recipe under a name the
project does not use yet, so both hold."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ai_etl.catalogue import CATALOGUE
from tests.helpers import STACKS, copy_project
from tests.paths import PROJECT_DIR
from tests.test_docs import DOCS

pytestmark = pytest.mark.slow  # each follows a recipe on a copy and runs tests there

CONFIGURATION = (DOCS / "configuration.md").read_text()


def section(title: str) -> str:
    """The text of the configuration page's section `## <title>`."""
    return CONFIGURATION.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def pytest_in(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in the copy, on its own code; the copy borrows this checkout's tools environment."""
    tools = os.environ.get("AI_ETL_TOOLS_BIN", str(PROJECT_DIR / ".venv-tools" / "bin"))
    env = {**os.environ, "PYTHONPATH": str(project), "AI_ETL_TOOLS_BIN": tools}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def green(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout.splitlines()[-1] and " failed" not in result.stdout.splitlines()[-1]


def unused(name: str, taken: set[str]) -> str:
    """`name`, or `name` with the first suffix that makes it one `taken` does not hold."""
    return next(f"{name}{i or ''}" for i in range(100) if f"{name}{i or ''}" not in taken)


RECIPE_CHECKS = (
    # 1 and 2: every stack runs with the new entry through the CLI's checks of Pulumi.yaml, and
    # passes every rule and the checklist.
    "tests/test_guardrails.py::test_every_stack_passes_offline_check",
    # 2: Pulumi.yaml declares every provided secret, as a secret.
    "tests/test_settings.py::test_pulumi_yaml_declares_the_same_defaults_and_every_provided_secret",
    # 3: `make docs` leaves .env.example, every generated page and the change-impact table current.
    "tests/test_catalogue.py::test_env_example_is_derived_from_the_catalogue",
    "tests/test_catalogue.py::test_docs_table_is_derived_from_the_catalogue",
    "tests/test_docs.py::test_every_config_key_is_documented",
    "tests/test_docs.py::test_every_generated_section_is_current",
    "tests/test_docs.py::test_the_change_impact_table_is_current_and_complete",
)


def test_the_new_secret_recipe_leaves_the_suite_green(tmp_path: Path) -> None:
    """ "Adding a secret", step by step: the catalogue entry the page shows, its declaration in
    Pulumi.yaml, `make docs`; then the whole suite passes with no test edited. Where the page's
    example is in the catalogue already, the same entry is added under a key no entry has."""
    recipe = section("Adding a secret")
    entry = re.search(r"`(SecretSpec\((\"[^\"]+\"), (\"[^\"]+\"), .*config_key=(\"[^\"]+\")\))`", recipe)
    declared = re.search(r"`(\w+): \{type: string, secret: true\}`", recipe)
    assert entry and declared and declared[1] == entry[4].strip('"'), (
        "the page shows an entry and its declaration"
    )
    key, env_var, config_key = (entry[i].strip('"') for i in (2, 3, 4))
    new_key = unused(key, {s.key for s in CATALOGUE})
    suffix = new_key[len(key) :]
    code = entry[1].replace(f'"{key}"', f'"{new_key}"')
    code = code.replace(f'"{env_var}"', f'"{env_var}{suffix}"').replace(
        f'"{config_key}"', f'"{config_key}{suffix}"'
    )
    project = copy_project(tmp_path / "project")
    catalogue = project / "ai_etl" / "catalogue" / "__init__.py"
    text = catalogue.read_text()
    end = text.index("\n)\n", text.index("CATALOGUE: tuple"))
    catalogue.write_text(f"{text[: end + 1]}    {code},\n{text[end + 1 :]}")
    pulumi_yaml = project / "Pulumi.yaml"
    project_file = yaml.safe_load(pulumi_yaml.read_text())
    assert list(project_file)[-1] == "config", "declarations go at the end of Pulumi.yaml's config"
    pulumi_yaml.write_text(
        f"{pulumi_yaml.read_text()}  {config_key}{suffix}: {{type: string, secret: true}}\n"
    )
    make_docs = subprocess.run(
        [sys.executable, "-m", "ai_etl.ops.docs", "write"],
        cwd=project,
        env={**os.environ, "PYTHONPATH": str(project)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert make_docs.returncode == 0, make_docs.stderr
    assert f"{env_var}{suffix}=" in (project / ".env.example").read_text()
    # The tests that hold every place a new secret must reach to the catalogue, by the recipe's
    # step; each fails on a copy where that step is left out. The rest of the suite derives what it
    # expects from the catalogue the same way, so running it all here would only cost minutes.
    green(pytest_in(project, *RECIPE_CHECKS))


# What a stack touches: every test module that runs each stack file, and the workflows.
STACK_TESTS = [
    "tests/test_workflows.py",
    "tests/test_offline.py",
    "tests/test_settings.py",
    "tests/test_schemas.py",
    "tests/test_secrecy.py",
    "tests/test_guardrails.py",
    "tests/test_access.py",
    "tests/test_plan.py",
    "tests/test_wiring.py",
    "tests/test_cluster.py",
    "tests/test_watch.py",
]


def deploy_job(workflow: str, template: str, stack: str, needs: str) -> str:
    """The deploy workflow's job for `stack`, placed after `needs`: the text of the job `template`
    (its comments kept) with the stack's name in place of the template's."""
    found = re.search(rf"^  {template}:\n(?:(?:    .*|\s*)\n)+", workflow, re.M)
    assert found, template
    job = re.sub(rf"\b{template}\b", stack, found[0].rstrip() + "\n")
    job = re.sub(r"^    needs: .*\n", "", job, flags=re.M)
    return job.replace(f"  {stack}:\n", f"  {stack}:\n    needs: {needs}\n", 1) + "\n"


@pytest.mark.parametrize("after", ["dev", "staging"])
def test_the_new_stack_recipe_leaves_the_suite_green(tmp_path: Path, after: str) -> None:
    """ "Adding a stack", as written, for a new standard-grade stack (`qa`, or the first name like it
    no stack has), its deploy job placed in the promotion order after `after` (so between two
    stacks, or last before production): its stack file with the keys step 1 names and, as step 2
    leaves it, its secrets provider and encrypted provided secrets; its deploy job (step 3). Every
    test that runs the stack files or the workflows then passes."""
    recipe = section("Adding a stack")
    keys = ("`aws:region`", "`aws:allowedAccountIds`", "`ai-etl:clusterName`", "`ai-etl:backend.image`")
    for key in (*keys, "`ai-etl:auditEmail`", "`ai-etl:stepImage`"):
        assert key in recipe, key
    assert "secretsprovider" in recipe and "encryptedkey" in recipe and "`secure:`" in recipe
    assert "`needs:`" in recipe, "step 3 says how a job takes its place in the promotion order"
    stack = unused("qa", set(STACKS))
    project = copy_project(tmp_path / "project")
    provided = [s.config_key for s in CATALOGUE if s.config_key]
    # Steps 1 and 2: the keys step 1 names; then what `stack init` and `config set --secret` add.
    stack_file = {
        "secretsprovider": "awskms://alias/ai-etl-pulumi?region=eu-central-1",
        "encryptedkey": "AQICAHhbm90LWEtcmVhbC1rZXktanVzdC1ieXRlcw==",
        "config": {
            "aws:region": "eu-central-1",
            "aws:allowedAccountIds": ["444444444444"],
            "ai-etl:clusterName": f"ai-etl-{stack}",
            "ai-etl:backend": {"image": f"registry.example.com/ai-etl-backend:{stack}@sha256:{'1' * 64}"},
            "ai-etl:auditEmail": "secops@example.com",
            "ai-etl:stepImage": f"registry.example.com/ai-etl-step:{stack}@sha256:{'1' * 64}",
            **{
                f"ai-etl:{key}": {"secure": f"v1:bm90LWEtcmVhbC1jaXBoZXJ0ZXh0LXtrZXl9:{key}"}
                for key in provided
            },
        },
    }
    (project / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(stack_file, sort_keys=False))
    # Step 3: its job after `after`; the job that followed `after` now follows it.
    deploy = project / ".github" / "workflows" / "deploy.yml"
    text = deploy.read_text()
    jobs = yaml.safe_load(text)["jobs"]
    (follower,) = [name for name, job in jobs.items() if job.get("needs") == after]
    job = deploy_job(text, after, stack, after)
    text = text.replace(f"\n    needs: {after}\n", f"\n    needs: {stack}\n", 1)
    deploy.write_text(text.replace(f"\n  {follower}:\n", f"\n{job}  {follower}:\n", 1))
    assert yaml.safe_load(deploy.read_text())["jobs"][follower]["needs"] == stack
    green(pytest_in(project, "-x", *STACK_TESTS))
