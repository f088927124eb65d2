"""`python -m ai_etl.ops.check <stack>` (`make check STACK=<stack>`): the guardrails and the guide's
checklist (ai_etl/guardrails) on the stack's program, run offline (ai_etl/offline).

The same rules as the policy pack, on the resources the program declares, as a policy sees them.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ai_etl.grade import GRADE_KEY
from ai_etl.guardrails import checklist
from ai_etl.guardrails.rules import Subject
from ai_etl.offline.answers import load_answers
from ai_etl.offline.cli import ERRORS, add_stack_arguments
from ai_etl.offline.records import Run, unwrap
from ai_etl.offline.runner import offline_run
from ai_etl.offline.stackconfig import load_stack_config


def subjects_of(run: Run) -> list[Subject]:
    """The run's resources as a policy sees them (secret values in plain text, as policies get them)."""
    return [
        Subject(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=unwrap(r.inputs),
            protect=r.protect,
            dependencies=tuple(r.dependencies),
            property_dependencies={k: tuple(v) for k, v in r.property_dependencies.items()},
        )
        for r in run.resources
    ]


def check(run: Run, project_dir: Path = Path(), answers: Path | None = None) -> tuple[str, bool]:
    """Every rule on `run`, with the guide's checklist and the lines of the repository at
    `project_dir`; and whether a mandatory rule failed. Offline, the lookups are answered by the
    file `answers` or, without one, by the engine's stand-ins: the lines resting on them say so."""
    stack_file = project_dir / f"Pulumi.{run.stack}.yaml"
    stated = stack_file.exists() and GRADE_KEY in load_stack_config(run.stack, project_dir)
    shown = None if answers is None else str(answers)
    return checklist.check(
        run.stack, subjects_of(run), project_dir, stated, shown, looked_up=answers is not None
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ai_etl.ops.check",
        description="Run the guardrails on a stack offline and print the guide's checklist; "
        "exit 1 when a mandatory rule fails.",
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run = offline_run(args.stack, args.cwd, load_answers(args.answers))[0]
        text, failed = check(run, args.cwd, args.answers)
    except ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
