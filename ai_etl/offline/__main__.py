"""`python -m ai_etl.offline render|diff`: a stack's desired state, and its changes, without the cloud."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ai_etl.config.settings import ConfigError
from ai_etl.offline import diff as diffing
from ai_etl.offline.answers import load_answers
from ai_etl.offline.check import check
from ai_etl.offline.render import render, summary
from ai_etl.offline.runner import offline_run
from ai_etl.offline.stackconfig import StackConfigError

ANSWERS_HELP = (
    "a YAML file of what provider functions answer: token -> fields (null: not found), "
    "e.g. aws:eks/getCluster:getCluster: {version: '1.27'}"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ai_etl.offline",
        description="Render a stack under the Pulumi SDK's mocks, and diff two renders; no CLI, "
        "state backend or cloud credentials needed.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="run the program for a stack and write what it declares")
    r.add_argument("stack", help="a stack of the project: reads its Pulumi.<stack>.yaml")
    r.add_argument("--out", type=Path, help="output folder (default: build/<stack>)")
    r.add_argument("-C", "--cwd", type=Path, default=Path(), help="the project's folder, as pulumi's --cwd")
    r.add_argument("--answers", type=Path, help=ANSWERS_HELP)
    d = sub.add_parser("diff", help="compare two render folders like `pulumi preview --diff`")
    d.add_argument("base", type=Path, help="render folder before the change")
    d.add_argument("head", type=Path, help="render folder after the change")
    d.add_argument("--format", choices=("text", "markdown"), default="text")
    d.add_argument("--title", default="Offline preview", help="heading of the markdown output")
    d.add_argument("--exit-code", action="store_true", help="exit 1 when there are changes (like git diff)")
    c = sub.add_parser("check", help="run the guardrails on a stack and print the guide's checklist")
    c.add_argument("stack", help="a stack of the project: reads its Pulumi.<stack>.yaml")
    c.add_argument("-C", "--cwd", type=Path, default=Path(), help="the project's folder, as pulumi's --cwd")
    c.add_argument("--answers", type=Path, help=ANSWERS_HELP)
    args = parser.parse_args(argv)

    if args.command == "check":
        try:
            run = offline_run(args.stack, args.cwd, load_answers(args.answers))[0]
            text, failed = check(run, args.cwd)
        except (ConfigError, StackConfigError, FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for warning in run.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(text)
        return 1 if failed else 0

    if args.command == "render":
        try:
            out = args.out or args.cwd / "build" / args.stack
            rendered = render(args.stack, out, args.cwd, load_answers(args.answers))
        except (ConfigError, StackConfigError, FileNotFoundError, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        for warning in rendered.run.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(summary(rendered))
        return 0

    try:
        base, head = diffing.load(args.base), diffing.load(args.head)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    changes, rotated = diffing.diff(base, head), diffing.rotated_credentials(base, head)
    if args.format == "markdown":
        print(diffing.format_markdown(changes, args.title, rotated), end="")
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        stack = diffing.stack_of(args.head)
        unchanged = diffing.unchanged_count(head, changes)
        print(diffing.format_text(changes, rotated, stack, unchanged, colour))
    return 1 if args.exit_code and changes else 0


if __name__ == "__main__":
    sys.exit(main())
