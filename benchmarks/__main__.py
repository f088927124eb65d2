"""`python -m benchmarks`: render time per stack, and the program's cost against two floors.

Each measurement is a fresh process's CPU time (interpreter start and the engine harness included
on every side); the figure is the median of `--repeat` runs. The SDK floor registers the program's
resources through the providers' SDK classes, the raw floor by type token (benchmarks/floor.py).
The program is within budget when its median is at most 1.25 times the SDK floor's at every size;
the raw floor shows what the SDK's typed classes themselves cost.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

BUDGET = 1.25
ROOT = Path(__file__).resolve().parent.parent


def measure(*args: str) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def progress(message: str) -> None:
    """What is being measured now, on stderr, so minutes of runs are not minutes of silence and
    the tables on stdout stay clean."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def runs(n: int) -> str:
    return f"{n} run" if n == 1 else f"{n} runs"


def median_of(repeat: int, *args: str) -> float:
    return statistics.median(measure(*args) for _ in range(repeat))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--stacks", nargs="+", default=["dev", "production"])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    print("| stack | render (s) |\n|---|---|")
    for stack in args.stacks:
        progress(f"render {stack}, {runs(args.repeat)}")
        print(f"| {stack} | {median_of(args.repeat, 'render', stack):.2f} |", flush=True)

    print(
        "\n| secrets | resources | program (s) | SDK floor (s) | raw floor (s) | program / SDK floor "
        "| program / raw floor |\n|---|---|---|---|---|---|---|"
    )
    within = True
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            progress(f"{size} secrets: program, SDK floor and raw floor, {runs(args.repeat)} each")
            recorded = Path(tmp) / f"{size}.json"
            measure("record", str(size), str(recorded))
            resources = recorded.read_text().count('"urn"')
            times: dict[str, list[float]] = {"program": [], "sdk": [], "raw": []}
            for _ in range(args.repeat):  # interleaved, so drift in the machine hits all alike
                times["program"].append(measure("program", str(size)))
                for kind in ("sdk", "raw"):
                    times[kind].append(measure("floor", str(recorded), kind))
            program, sdk, raw = (statistics.median(times[k]) for k in ("program", "sdk", "raw"))
            within &= program / sdk <= BUDGET
            print(
                f"| {size} | {resources} | {program:.2f} | {sdk:.2f} | {raw:.2f} | {program / sdk:.2f} "
                f"| {program / raw:.2f} |",
                flush=True,
            )
    print(f"\nbudget: program / SDK floor <= {BUDGET} at every size: {'met' if within else 'NOT met'}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
