"""One measured process: `program N`, `floor N FILE` or `render STACK`; prints the CPU time it spent.

CPU time (user and system, every thread), not wall time: the figure is the work the process did,
whatever else the 2-core machine is running at the time (a test suite beside it doubled wall times).

The clock starts before any import, so both sides pay the same interpreter start and the same
engine harness (the SDK's mocks, ai_etl.offline): what differs is the program's own work, including
the modules it imports (the providers' SDK modules, pydantic) that the raw floor does without.
"""

from __future__ import annotations

import time

START = time.process_time()

import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from ai_etl.names import PROJECT  # noqa: E402
from ai_etl.offline.records import unwrap  # noqa: E402
from ai_etl.offline.runner import run_program  # noqa: E402
from ai_etl.offline.stackconfig import load_stack_config  # noqa: E402

BENCH_STACK = "dev"
PROGRAM = Path(__file__).with_name("program.py")


def provided_secrets(size: int) -> dict[str, str]:
    from benchmarks.program import catalogue_of

    return {
        f"ai-etl:{spec.config_key}": f"placeholder-{spec.key}"
        for spec in catalogue_of(size)
        if spec.config_key is not None
    }


def run_benchmark_program(size: int) -> Any:
    """The real components over a catalogue of `size` secrets."""
    os.environ["AI_ETL_BENCH_SIZE"] = str(size)
    return run_program(
        BENCH_STACK, load_stack_config(BENCH_STACK), provided_secrets(size), program=PROGRAM, project=PROJECT
    )


def record(size: int, path: Path) -> None:
    """Save what the program registers, for the floor to register raw."""
    run = run_benchmark_program(size)
    resources = [
        {
            "type": r.type,
            "name": r.name,
            "custom": r.custom,
            "parent": r.parent,
            "urn": r.urn,
            "dependencies": r.dependencies,
            "provider": r.provider,
            "inputs": unwrap(r.inputs),
        }
        for r in run.resources
    ]
    calls = [{"token": c.token, "args": c.args} for c in run.calls]
    path.write_text(json.dumps({"calls": calls, "resources": resources}))


FLOOR = Path(__file__).with_name("floor.py")


def floor(path: Path, kind: str) -> None:
    """Make the same lookups and register the same resources (floor.py; `kind` raw or sdk), with
    plain values: no settings, no components' logic, no Outputs between resources; the same parents
    (so the same URNs) and the same dependencies (which the engine needs for ordering, so any
    program pays for them). It runs under the same engine harness as the program (run_program),
    so only the programs differ."""
    os.environ["AI_ETL_BENCH_FLOOR"] = str(path)
    os.environ["AI_ETL_BENCH_FLOOR_KIND"] = kind
    run_program(BENCH_STACK, {"aws:region": "us-east-1"}, {}, program=FLOOR, project=PROJECT)


def main(argv: list[str]) -> None:
    command = argv[0]
    if command == "program":
        run_benchmark_program(int(argv[1]))
    elif command == "record":
        record(int(argv[1]), Path(argv[2]))
    elif command == "floor":
        floor(Path(argv[1]), argv[2])
    elif command == "render":
        import tempfile

        from ai_etl.offline.render import render

        with tempfile.TemporaryDirectory() as out:
            render(argv[1], Path(out))
    else:
        raise SystemExit(f"unknown command {command}")
    print(f"{time.process_time() - START:.6f}", flush=True)
    # The SDK's event loop is still open; skip interpreter teardown, which would only report that.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
