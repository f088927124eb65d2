"""The command line of `python -m ai_etl.offline render|diff`: a stack's desired state, and its
changes, for any Pulumi Python project, without the Pulumi CLI, a state backend or the cloud.

A project's own commands build on its parts (the arguments, the errors reported as `error: ...`,
the diff opened by the project's preface), so they read and fail alike.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi

from ai_etl.offline import diff as diffing
from ai_etl.offline.answers import load_answers
from ai_etl.offline.formats import NO_PREFACE, ConfigChanges, Preface, format_markdown, format_text
from ai_etl.offline.render import render, summary
from ai_etl.offline.stackconfig import StackConfigError

ANSWERS_HELP = (
    "a YAML file of what provider functions answer: token -> fields (null: not found), "
    "e.g. aws:eks/getCluster:getCluster: {version: '1.27'}"
)
ERRORS = (pulumi.RunError, StackConfigError, FileNotFoundError, ValueError)
"""What a command prints as `error: <message>` (exit 2). A program's `pulumi.RunError` is its own
clean error, which the language host prints as its message alone (pulumi/pulumi
sdk/python/cmd/pulumi-language-python-exec: `except pulumi.RunError as e: pulumi.log.error(str(e))`);
any other exception of a program keeps its traceback, as the host prints it."""

PrefaceOf = Callable[[list[dict[str, Any]], list[dict[str, Any]], str], Preface]
"""A project's reading of a change: (base resources, head resources, stack) -> what it says first."""
NoteOf = Callable[[str], str | None]
"""A project's reading of a provider setting: config key (`aws:endpoints`) -> a line about it, if any."""


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    """The stack to run, the project's folder and the lookups' answers."""
    parser.add_argument("stack", help="a stack of the project: reads its Pulumi.<stack>.yaml")
    parser.add_argument(
        "-C", "--cwd", type=Path, default=Path(), help="the project's folder, as pulumi's --cwd"
    )
    parser.add_argument("--answers", type=Path, help=ANSWERS_HELP)


def add_diff_arguments(parser: argparse.ArgumentParser) -> None:
    """Two render folders and how to show their difference."""
    parser.add_argument("base", type=Path, help="render folder before the change")
    parser.add_argument("head", type=Path, help="render folder after the change")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--title", default="Offline preview", help="heading of the markdown output")
    parser.add_argument(
        "--exit-code", action="store_true", help="exit 1 when there are changes (like git diff)"
    )
    parser.add_argument(
        "--new-stack",
        action="store_true",
        help="the stack has no stack file at base (the change adds it): BASE holds no render and is "
        "not read; every resource of HEAD is a create",
    )


def diff_command(
    args: argparse.Namespace, preface_of: PrefaceOf | None = None, note_of: NoteOf | None = None
) -> int:
    """Print the diff of two render folders: first the provider settings that change (each with the
    project's note, if it has one), then the project's preface if it has one, then the resources.
    With `--new-stack`, the base is the empty stack a `pulumi preview` of a new stack starts from."""
    try:
        if args.new_stack and diffing.holds_render(args.base):
            raise FileExistsError(
                f"{args.base} holds a render, so the stack exists at base: drop --new-stack"
            )
        base = [] if args.new_stack else diffing.load(args.base)
        base_config = {} if args.new_stack else diffing.provider_config_of(args.base)
        head = diffing.load(args.head)
        head_config = diffing.provider_config_of(args.head)
    except (FileNotFoundError, FileExistsError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    changes, stack = diffing.diff(base, head), diffing.stack_of(args.head)
    fields = diffing.config_changes(base_config, head_config)
    keys = {diffing.config_key(path) for path, _, _ in fields}
    notes = {key: note for key in keys if note_of and (note := note_of(key))}
    config = ConfigChanges(tuple(fields), notes)
    preface = preface_of(base, head, stack) if preface_of else NO_PREFACE
    if args.new_stack:
        note = f"New stack: {stack} has no stack file at base, so every resource is created."
        preface = Preface(text=(note, "", *preface.text), markdown=(f"**{note}**", "", *preface.markdown))
    if args.format == "markdown":
        print(format_markdown(changes, args.title, preface=preface, config=config), end="")
    else:
        colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
        unchanged = diffing.unchanged_count(head, changes)
        print(format_text(changes, stack, unchanged, colour, preface=preface, config=config))
    return 1 if args.exit_code and (changes or fields) else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ai_etl.offline",
        description="Render a stack of any Pulumi Python project under the Pulumi SDK's mocks, and "
        "diff two renders; no CLI, state backend or cloud credentials needed.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("render", help="run the program for a stack and write what it declares")
    add_stack_arguments(r)
    r.add_argument("--out", type=Path, help="output folder (default: build/<stack> in the project)")
    d = sub.add_parser("diff", help="compare two render folders like `pulumi preview --diff`")
    add_diff_arguments(d)
    args = parser.parse_args(argv)
    if args.command == "diff":
        return diff_command(args)

    def starting() -> None:
        # On stderr: stdout is the summary. A first render also compiles the SDKs' imports.
        print(f"render {args.stack}: running the program under the Pulumi SDK's mocks...", file=sys.stderr)

    try:
        out = args.out or args.cwd / "build" / args.stack
        rendered = render(args.stack, out, args.cwd, load_answers(args.answers), starting)
    except ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for warning in rendered.run.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(summary(rendered))
    return 0
