"""`python -m benchmarks`: render time per stack, and the program's cost against the SDK's floor.

Each measurement is a fresh process (interpreter start and SDK imports included on both sides);
the figure is the median of `--repeat` runs. The program is within budget when its median is at
most 1.25 times the floor's at every size.
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

    print("\n| secrets | resources | program (s) | SDK floor (s) | program / floor |\n|---|---|---|---|---|")
    within = True
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            progress(f"{size} secrets: program and SDK floor, {runs(args.repeat)} each")
            recorded = Path(tmp) / f"{size}.json"
            measure("record", str(size), str(recorded))
            resources = recorded.read_text().count('"urn"')
            program, floor = [], []
            for _ in range(args.repeat):  # interleaved, so drift in the machine hits both alike
                program.append(measure("program", str(size)))
                floor.append(measure("floor", str(recorded)))
            ratio = statistics.median(program) / statistics.median(floor)
            within &= ratio <= BUDGET
            print(
                f"| {size} | {resources} | {statistics.median(program):.2f} | "
                f"{statistics.median(floor):.2f} | {ratio:.2f} |",
                flush=True,
            )
    print(f"\nbudget: program / floor <= {BUDGET} at every size: {'met' if within else 'NOT met'}")
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
