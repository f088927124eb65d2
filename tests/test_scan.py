"""checkov on the rendered Kubernetes objects of every stack: no failed check, and every
deliberate exception stated, with its reason, on the object it concerns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from ai_etl import names
from ai_etl.catalogue import CONSUMERS
from ai_etl.offline.render import render
from ai_etl.offline.stackconfig import load_stack_config
from tests.helpers import STACKS, stepped
from tests.tools import run_tool

pytestmark = pytest.mark.slow  # checkov takes seconds per file


def checkov(manifest: Path) -> dict:
    result = run_tool(
        "checkov", "-f", str(manifest), "--framework", "kubernetes", "--skip-download", "-o", "json"
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("scan")
    return {stack: render(stack, out / stack).kubernetes_path for stack in STACKS}


@pytest.mark.parametrize("stack", STACKS)
def test_checkov_passes_on_every_stack(rendered: dict[str, Path], stack: str) -> None:
    """No failed check; the only skip is the one the design takes (credentials as env vars, by
    secretKeyRef), stated on each workload's Deployment and on each rotation step's Job (the
    committed stacks are at generation 0)."""
    report = checkov(rendered[stack])
    assert report["summary"]["failed"] == 0, [c["check_id"] for c in report["results"]["failed_checks"]]
    assert report["summary"]["passed"] > 50
    skipped = {(c["check_id"], c["resource"]) for c in report["results"]["skipped_checks"]}
    namespace = names.namespace(stack, load_stack_config(stack).get("ai-etl:namespace"))
    jobs = {f"Job.{namespace}.{names.step_job(spec.key, 0)}" for spec in stepped(stack)}
    deployments = {f"Deployment.{namespace}.{names.workload(c.name)}" for c in CONSUMERS}
    assert skipped == {("CKV_K8S_35", r) for r in deployments | jobs}


def test_every_skip_carries_its_reason_on_the_object(rendered: dict[str, Path]) -> None:
    """Each `checkov.io/skipN` annotation names a check and says why."""
    for doc in yaml.safe_load_all(rendered["production"].read_text()):
        for key, value in (doc["metadata"].get("annotations") or {}).items():
            if key.startswith("checkov.io/skip"):
                check, _, reason = value.partition("=")
                assert check.startswith("CKV") and len(reason) > 20, value


def test_the_scan_is_live_without_the_exception(rendered: dict[str, Path], tmp_path: Path) -> None:
    """Without its annotation, the Deployment fails CKV_K8S_35: the skip is what passes it."""
    docs = list(yaml.safe_load_all(rendered["dev"].read_text()))
    for doc in docs:
        if doc["kind"] == "Deployment":
            doc["metadata"].pop("annotations", None)
    stripped = tmp_path / "stripped.yaml"
    stripped.write_text(yaml.safe_dump_all(docs))
    failed = {c["check_id"] for c in checkov(stripped)["results"]["failed_checks"]}
    assert failed == {"CKV_K8S_35"}
