"""The daily watch: each secret's age read from the stack's state (when its Secrets Manager value
was last made, not what the rotation value says), and the rotation issue's body. The workflow's own
steps that open, update or close the issues run in tests/test_ci_jobs.py."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ai_etl.names import secret_name
from ai_etl.offline.records import Run, unwrap
from ai_etl.ops.watch import MARKER, ages, main, report
from ai_etl.tokens import SM_SECRET, SM_VERSION

TODAY = dt.date(2026, 11, 28)


def export(run: Run, created: Mapping[str, str | None]) -> dict[str, Any]:
    """The program's own resources (an offline run of the real program), as `pulumi stack export`
    lays them out, each SecretVersion created at `created[key]` (keys not given: unknown)."""
    names = {r.outputs["arn"]: r.inputs["name"] for r in run.of_type(SM_SECRET)}
    resources: list[dict[str, Any]] = []
    for r in run.resources:
        record = {"urn": r.urn, "type": r.type, "inputs": unwrap(r.inputs), "outputs": unwrap(r.outputs)}
        if r.type == SM_VERSION:
            when = {secret_name(run.stack, k): v for k, v in created.items()}.get(names[r.inputs["secretId"]])
            record |= {"created": when} if when else {}
        resources.append(record)
    return {"version": 3, "deployment": {"resources": resources}}


def test_age_is_when_the_value_was_last_made(stack_runs: dict[str, Run]) -> None:
    """A secret rotated 10 days ago is 10 days old; one never rotated is as old as its first
    deploy; a checkpoint without times gives an unknown age, which the report lists too. The keys
    come from the state the real program leaves, so renaming a resource cannot hide from the watch."""
    run = stack_runs["production"]
    created = {"jwt-secret-key": "2026-11-18T09:00:00.123456789Z", "qwen-api-key": "2026-06-01T00:00:00Z"}
    found = ages("production", export(run, created), TODAY)
    days = {a.key: a.days for a in found}
    assert len(found) == len(run.of_type(SM_VERSION)) == len(days), "one age per stored value"
    assert days.pop("jwt-secret-key") == 10 and days.pop("qwen-api-key") == 180
    assert "secret-key" in days and set(days.values()) == {None}
    body = report(found)
    assert body.startswith(MARKER) and "| production | `qwen-api-key` | 180 |" in body
    assert "| production | `secret-key` | unknown |" in body and "jwt-secret-key" not in body
    fresh = [a for a in found if a.key == "jwt-secret-key"]
    assert report(fresh) == "", "nothing older than 90 days: no body, and the issue closes"


def test_the_cli_measures_per_stack_and_reports_them_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack_runs: dict[str, Run]
) -> None:
    state = tmp_path / "state.json"
    state.write_text(json.dumps(export(stack_runs["production"], {"qwen-api-key": "2026-01-01T00:00:00Z"})))
    main(["ages", f"production={state}", "--today", TODAY.isoformat()])
    (tmp_path / "production.json").write_text(capsys.readouterr().out)
    main(["report", str(tmp_path / "production.json")])
    assert "| production | `qwen-api-key` | 331 |" in capsys.readouterr().out
