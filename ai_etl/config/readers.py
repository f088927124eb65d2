"""Expected readers that match the workflows: a stack whose daily watch would raise an access alert for
every secret, every day, is told so at each preview (every grade), with the fix.

The daily watch (.github/workflows/watch.yml) runs `pulumi preview --refresh` as the stack's preview
role, and a refresh reads every Secrets Manager value: the AWS provider's read of a SecretVersion is
a `GetSecretValue` (hashicorp/terraform-provider-aws `internal/service/secretsmanager/
secret_version.go`, resourceSecretVersionRead, findSecretVersionByTwoPartKey). Each read by a role
the access rule does not expect is an alert (ai_etl/components/auditpatterns.py, access_pattern).
The CI roles live in the stack's account (docs/ci.md, "The roles and their trust policies"), so a
list naming no role of that account cannot name the watch's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ai_etl.config.commands import Commands
from ai_etl.config.crosschecks import allowed_accounts
from ai_etl.config.fields import aws_regions
from ai_etl.config.models import StackConfig
from ai_etl.names import ci_role, role_arn

READERS = "auditExpectedReaders"
WATCH_JOB = "preview"
"""The CI role the daily watch assumes (AWS_PREVIEW_ROLE_ARN in the environment `watch-<stack>`)."""


def account_of(arn: str) -> str:
    """The account of an IAM ARN (`arn:<partition>:iam::<account>:role/<name>`)."""
    return arn.split(":")[4]


def watch_warnings(
    config: StackConfig, elsewhere: Mapping[str, Any], stack: str, region: str, values: int
) -> list[str]:
    """The warning for a stack whose expected readers cannot include the daily watch's role: none
    named, or none in the account the stack is pinned to. `values`: how many secret values a
    refresh reads. The fix appends the preview role docs/ci.md names, in the stack's account."""
    readers = config.audit_expected_readers
    accounts = allowed_accounts(elsewhere)
    if any(not accounts or account_of(r) in accounts for r in readers):
        return []
    account = accounts[0] if len(accounts) == 1 else "<account>"
    preview = role_arn(aws_regions().get(region, "aws"), account, ci_role(stack, WATCH_JOB))
    fix = Commands(stack).set((READERS, len(readers)), preview)
    what = "names no role" if not readers else f"names no role of the stack's account ({', '.join(accounts)})"
    return [
        f"{READERS} {what}: the daily watch's `pulumi preview --refresh` (.github/workflows/watch.yml) "
        f"reads all {values} secret values as the preview role, and each read by a role not named "
        f"there raises an access alert: {values} alerts a day, every day, that teach people to "
        f"ignore them. Name the preview role (AWS_PREVIEW_ROLE_ARN of the GitHub environment "
        f"watch-{stack}; docs/ci.md names it {ci_role(stack, WATCH_JOB)}): {fix}"
    ]
