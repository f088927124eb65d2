"""The benchmark compares like with like: its floor registers exactly the program's resources.
(Its timings are measured by `make bench`, never asserted by a test.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ai_etl.names import PROJECT
from ai_etl.offline.runner import run_program
from benchmarks import worker
from benchmarks.program import catalogue_of
from tests.helpers import expected_resources
from tests.paths import PROJECT_DIR


def test_synthetic_catalogue_grows_to_the_requested_size() -> None:
    catalogue = catalogue_of(40)
    assert len(catalogue) == 40 and len({s.key for s in catalogue}) == 40


@pytest.mark.parametrize("kind", ["sdk", "raw"])
def test_floor_registers_the_programs_resources(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same lookups, same URNs, same parents, same providers, same dependencies, same inputs: only
    the program around them differs."""
    recorded = tmp_path / "run.json"
    worker.record(14, recorded)
    program = worker.run_benchmark_program(14)
    monkeypatch.setenv("AI_ETL_BENCH_FLOOR", str(recorded))  # unset again for the tests after this one
    monkeypatch.setenv("AI_ETL_BENCH_FLOOR_KIND", kind)
    floor = run_program("dev", {"aws:region": "us-east-1"}, {}, program=worker.FLOOR, project=PROJECT)

    def shape(run):  # type: ignore[no-untyped-def]
        return {
            r.urn: (r.parent, sorted(set(r.dependencies)), r.custom, r.provider.rpartition("::")[0])
            for r in run.resources
        }

    assert shape(floor) == shape(program)
    assert [(c.token, c.args) for c in floor.calls] == [(c.token, c.args) for c in program.calls]
    assert program.calls, "the program looks its cluster up"
    assert len(program.resources) > expected_resources()


@pytest.mark.slow  # the benchmark itself: four processes, each loading the SDKs
def test_the_benchmark_says_what_it_measures_as_it_goes() -> None:
    """`make bench` prints each step to stderr before it starts (not minutes of silence), and only
    the tables to stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--sizes", "2", "--stacks", "dev", "--repeat", "1"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stderr.splitlines() == [
        "bench: render dev, 1 run",
        "bench: 2 secrets: program, SDK floor and raw floor, 1 run each",
    ]
    assert "bench:" not in result.stdout and "| dev |" in result.stdout
