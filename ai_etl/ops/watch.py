"""How long each secret has held its value, from the stacks' state: `python -m ai_etl.ops.watch
<stack>=<export.json> ...` prints the issue body for the secrets older than `--max-days` (the guide's
90), or nothing when there are none. The scheduled workflow (`.github/workflows/watch.yml`) opens,
updates or closes one issue with it.

Age comes from what happened, not from the rotation value: each Secrets Manager value is a
`SecretVersion`, which the provider replaces whenever the value changes (`secretString` forces
replacement: terraform-provider-aws `internal/service/secretsmanager/secret_version.go`), and the
state records when each resource was created (`created`, pulumi/pulumi
`sdk/go/common/apitype/core.go`, ResourceV3). A secret never rotated is as old as its first deploy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_etl.grade import ROTATE_EVERY_DAYS
from ai_etl.names import key_of_secret_name
from ai_etl.tokens import SM_SECRET, SM_VERSION

MAX_DAYS = ROTATE_EVERY_DAYS
MARKER = "<!-- ai-etl rotation watch -->"


@dataclass(frozen=True)
class Age:
    stack: str
    key: str
    days: int | None
    """None when the state does not say (checkpoints older than early 2023)."""


def ages(stack: str, export: dict[str, Any], today: dt.date) -> list[Age]:
    """The age in days of each Secrets Manager value in a `pulumi stack export`.

    A value (SecretVersion) names its secret by ARN (input `secretId`); the secret's own `name`
    input gives the catalogue key, read back through the names module (ai_etl/names.py). A value
    whose secret is not in the export, or not named as this stack's, is listed by what it names."""
    live = [r for r in export.get("deployment", {}).get("resources") or [] if not r.get("delete")]
    secret_names = {
        (r.get("outputs") or {}).get("arn"): str((r.get("inputs") or {}).get("name"))
        for r in live
        if r.get("type") == SM_SECRET
    }
    found = []
    for resource in (r for r in live if r.get("type") == SM_VERSION):
        secret_id = str((resource.get("inputs") or {}).get("secretId"))
        name = secret_names.get(secret_id, secret_id)
        key = key_of_secret_name(stack, name) or name
        created = resource.get("created")
        days = (today - dt.datetime.fromisoformat(created).date()).days if created else None
        found.append(Age(stack, key, days))
    return sorted(found, key=lambda a: (a.stack, a.key))


def report(found: list[Age], max_days: int = MAX_DAYS) -> str:
    """The issue body listing the secrets older than `max_days` (and those of unknown age), or ""."""
    stale = [a for a in found if a.days is None or a.days > max_days]
    if not stale:
        return ""
    lines = [MARKER, f"These secrets have held their value for more than {max_days} days:", ""]
    lines += ["| stack | secret | days |", "|---|---|---|"]
    lines += [f"| {a.stack} | `{a.key}` | {'unknown' if a.days is None else a.days} |" for a in stale]
    lines += [
        "",
        "Rotate them as in docs/runbooks.md (rotation runbook); this issue closes itself when none is left.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """`ages STACK=EXPORT ...` prints the ages as JSON (one file per stack job); `report AGES.json
    ...` prints the issue body from them."""
    parser = argparse.ArgumentParser(prog="python -m ai_etl.ops.watch", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    measure = sub.add_parser("ages", help="the age of each secret in `pulumi stack export` files, as JSON")
    measure.add_argument("exports", nargs="+", metavar="STACK=EXPORT")
    measure.add_argument("--today", type=dt.date.fromisoformat, default=dt.date.today())
    tell = sub.add_parser("report", help="the issue body for the secrets older than --max-days")
    tell.add_argument("ages", nargs="*", type=Path, metavar="AGES.json")
    tell.add_argument("--max-days", type=int, default=MAX_DAYS)
    args = parser.parse_args(argv)
    if args.command == "ages":
        found: list[Age] = []
        for pair in args.exports:
            stack, sep, path = pair.partition("=")
            if not sep:
                measure.error(f"{pair!r}: expected STACK=EXPORT, e.g. production=production.json")
            found += ages(stack, json.loads(Path(path).read_text()), args.today)
        print(json.dumps([a.__dict__ for a in found]))
    else:
        loaded = [Age(**a) for path in args.ages for a in json.loads(path.read_text())]
        print(report(sorted(loaded, key=lambda a: (a.stack, a.key)), args.max_days), end="")


if __name__ == "__main__":
    main()
