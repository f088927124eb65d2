"""`python -m ai_etl.ops.kept <stack>`: the secrets a stack keeps in Secrets Manager whose values
a restore carries over, one `<key> <config key>` line each, read off the stack's own program run
offline (ai_etl/offline), so the replica-region restore (docs/runbooks.md) follows what the stack
declares: on RDS with its master user secret there is no `db-admin-password`, on ElastiCache no
`redis-admin-password`.

A provided secret goes back to its config key; a generated one to `adopt.<key>`; a composed one
(the URLs) and a server credential's verifiers are made again from those, so neither is listed.
"""

from __future__ import annotations

import argparse
import sys

from ai_etl.catalogue import Source, by_key
from ai_etl.names import key_of_secret_name
from ai_etl.offline.answers import load_answers
from ai_etl.offline.cli import ERRORS, add_stack_arguments
from ai_etl.offline.records import Run
from ai_etl.offline.runner import offline_run
from ai_etl.tokens import SM_SECRET


def kept(run: Run) -> list[tuple[str, str]]:
    """(catalogue key, where its value goes in a new stack's config) of each secret `run` declares
    that a restore keeps, in the order declared."""
    specs = by_key()
    found = []
    for secret in run.of_type(SM_SECRET):
        key = key_of_secret_name(run.stack, str(secret.inputs.get("name")))
        spec = specs.get(str(key))
        if spec is None or spec.source is Source.COMPOSED:
            continue
        found.append(
            (spec.key, str(spec.config_key) if spec.source is Source.PROVIDED else f"adopt.{spec.key}")
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ai_etl.ops.kept",
        description="Print `<key> <config key>` for each secret the stack keeps whose value a restore "
        "carries over (docs/runbooks.md, Restore from the replica region).",
    )
    add_stack_arguments(parser)
    args = parser.parse_args(argv)
    try:
        run = offline_run(args.stack, args.cwd, load_answers(args.answers))[0]
    except ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if not any(secret.inputs.get("replicas") for secret in run.of_type(SM_SECRET)):
        print(
            f"note: stack {args.stack} has no ai-etl:replicaRegion, so its secrets have no replica to "
            "restore from (docs/runbooks.md, Restore from the replica region)",
            file=sys.stderr,
        )
    for key, target in kept(run):
        print(key, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
