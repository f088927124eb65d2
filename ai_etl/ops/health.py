"""What the state cannot tell: whether each replica is in sync and each alert subscription confirmed,
asked of AWS itself. `python -m ai_etl.ops.health <stack>=<export.json> ...` prints the issue body
for what needs attention, or nothing; the daily watch (`.github/workflows/watch.yml`) opens or
comments on one issue per stack with it.

The provider does not wait for replication: a replica that fails (a secret of the same name left in
the replica region, with `forceOverwriteReplicaSecret` false) reports only in `DescribeSecret`'s
`ReplicationStatus` (Secrets Manager API reference: Status `InSync | Failed | InProgress`), and the
state keeps what the last refresh read. An email or https subscription delivers nothing until its
recipient confirms it (terraform-provider-aws internal/service/sns/topic_subscription.go creates it
without waiting for email and unconfirmed http; `GetSubscriptionAttributes` says
`PendingConfirmation`). The calls are the AWS CLI's, with the shell's credentials (the watch's
read-only role: secretsmanager:DescribeSecret, sns:GetSubscriptionAttributes).
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ai_etl.names import key_of_secret_name
from ai_etl.tokens import SM_SECRET, SNS_SUBSCRIPTION

MARKER = "<!-- ai-etl health watch -->"
IN_SYNC = "InSync"

Call = Callable[[list[str]], dict[str, Any]]
"""An AWS CLI call: its arguments after `aws`, its JSON answer (CalledProcessError if it fails)."""


@dataclass(frozen=True)
class Finding:
    stack: str
    what: str
    detail: str


def aws_cli(args: list[str]) -> dict[str, Any]:
    """`aws <args> --output json`, its answer parsed."""
    done = subprocess.run(["aws", *args, "--output", "json"], capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout or "{}"))


def region_of(arn: str) -> str:
    return arn.split(":")[3]


def findings(stack: str, export: dict[str, Any], call: Call = aws_cli) -> list[Finding]:
    """The replicas not in sync and the subscriptions not confirmed of one stack's state."""
    live = [r for r in export.get("deployment", {}).get("resources") or [] if not r.get("delete")]
    found: list[Finding] = []

    def ask(what: str, args: list[str]) -> dict[str, Any] | None:
        try:
            return call(args)
        except (subprocess.CalledProcessError, ValueError) as error:
            reason = (getattr(error, "stderr", "") or str(error)).strip().splitlines() or ["no answer"]
            found.append(Finding(stack, what, f"could not be read: {reason[-1][:200]}"))
            return None

    for secret in (r for r in live if r.get("type") == SM_SECRET):
        inputs, outputs = secret.get("inputs") or {}, secret.get("outputs") or {}
        wanted = {str(r.get("region")) for r in inputs.get("replicas") or []}
        arn = str(outputs.get("arn") or secret.get("id") or "")
        if not wanted or not arn.startswith("arn:"):
            continue
        name = str(inputs.get("name") or arn)
        key = key_of_secret_name(stack, name) or name
        answer = ask(
            f"`{key}`", ["secretsmanager", "describe-secret", "--secret-id", arn, "--region", region_of(arn)]
        )
        if answer is None:
            continue
        status = {str(r.get("Region")): r for r in answer.get("ReplicationStatus") or []}
        for region in sorted(wanted):
            replica = status.get(region)
            if replica is None:
                found.append(Finding(stack, f"`{key}` in {region}", "no replica there"))
            elif replica.get("Status") != IN_SYNC:
                message = str(replica.get("StatusMessage") or "").replace("|", "/")
                found.append(Finding(stack, f"`{key}` in {region}", f"{replica.get('Status')}: {message}"))
    for subscription in (r for r in live if r.get("type") == SNS_SUBSCRIPTION):
        arn = str((subscription.get("outputs") or {}).get("arn") or subscription.get("id") or "")
        protocol = (subscription.get("inputs") or {}).get("protocol")
        what = f"{protocol} subscription to `{':'.join(arn.split(':')[3:6])}`"
        if not arn.startswith("arn:"):
            found.append(Finding(stack, what, "not confirmed: the state holds no subscription ARN"))
            continue
        answer = ask(
            what,
            ["sns", "get-subscription-attributes", "--subscription-arn", arn, "--region", region_of(arn)],
        )
        if answer is not None and (answer.get("Attributes") or {}).get("PendingConfirmation") == "true":
            found.append(
                Finding(stack, what, "pending confirmation: its recipient must follow the link SNS sent")
            )
    return found


def report(found: list[Finding]) -> str:
    """The issue body listing what needs attention, or ""."""
    if not found:
        return ""
    lines = [
        MARKER,
        "Replicas or access alerts need attention:",
        "",
        "| stack | what | state |",
        "|---|---|---|",
    ]
    lines += [f"| {f.stack} | {f.what} | {f.detail} |" for f in found]
    lines += ["", "See docs/security.md (Replicas, and Access alerts) for what to do."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m ai_etl.ops.health", description=__doc__.split("\n\n")[0])
    parser.add_argument("exports", nargs="+", metavar="STACK=EXPORT")
    args = parser.parse_args(argv)
    found: list[Finding] = []
    for pair in args.exports:
        stack, sep, path = pair.partition("=")
        if not sep:
            parser.error(f"{pair!r}: expected STACK=EXPORT, e.g. production=production.json")
        found += findings(stack, json.loads(Path(path).read_text()))
    print(report(found), end="")


if __name__ == "__main__":
    main()
