"""README is the front door: what it tells an operator to run must match the program."""

from __future__ import annotations

import re

import yaml

from offline.engine import PROJECT_DIR, Run

README = (PROJECT_DIR / "README.md").read_text()


def test_runbook_target_urns_exist(stack_runs: dict[str, Run]) -> None:
    """The `--target` URNs of the database-password runbook name real resources of production."""
    urns = re.findall(r"--target '([^']+)'", README)
    assert len(urns) == 2
    declared = {r.urn for r in stack_runs["production"].resources}
    for urn in urns:
        assert urn in declared


def test_every_declared_config_key_is_documented() -> None:
    """Each key of Pulumi.yaml's config schema appears in README's configuration reference."""
    for key in yaml.safe_load((PROJECT_DIR / "Pulumi.yaml").read_text())["config"]:
        assert f"`ai-etl:{key}`" in README, key


def test_ci_runs_the_readme_test_command() -> None:
    """CI runs exactly the test command README gives."""
    assert "make test" in README
    assert (PROJECT_DIR / ".ci" / "run").read_text().strip().endswith("make test")
