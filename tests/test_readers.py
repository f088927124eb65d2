"""Expected readers that match the workflows (issue 25, item 5): each CI role whose job reads secret
values is named in every committed stack's `auditExpectedReaders`, as docs/ci.md names it; and a
stack whose daily watch would raise an alert per secret every day is warned, at every grade, with a
fix that works when pasted."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ai_etl.config import readers
from ai_etl.config.fields import aws_regions
from ai_etl.names import ci_role, role_arn
from ai_etl.offline.records import Run
from ai_etl.offline.stackconfig import load_stack_config
from ai_etl.tokens import SM_VERSION
from tests.helpers import PRODUCTION_GRADE, STACKS, STANDARD_GRADE, settings_of
from tests.pasting import Project, project
from tests.paths import PROJECT_DIR
from tests.test_workflows import all_workflows

__all__ = ["project"]  # the fixture

READERS = "ai-etl:auditExpectedReaders"
CI = (PROJECT_DIR / "docs" / "ci.md").read_text()


def reads_values(job: dict[str, Any]) -> bool:
    """Whether a job's `pulumi` reads secret values through the AWS provider: a refresh (`preview
    --refresh`, `refresh`) or an `up`, which reads back each value it writes (terraform-provider-aws
    internal/service/secretsmanager/secret_version.go, resourceSecretVersionCreate). pulumi/actions
    refreshes only when `refresh` is true (its action.yml: the default is false)."""
    for step in job.get("steps", []):
        run = step.get("run", "")
        if re.search(r"\bpulumi (up|refresh)\b", run) or re.search(r"\bpulumi preview\b[^\n]*--refresh", run):
            return True
        if step.get("uses", "").startswith("pulumi/actions@"):
            given = step.get("with", {})
            if given.get("command") in ("up", "refresh") or str(given.get("refresh", "")).lower() == "true":
                return True
    return False


def reading_role_variables() -> set[str]:
    """The role variables (`AWS_*_ROLE_ARN`) assumed by the jobs whose pulumi reads values."""
    found = set()
    for wf in all_workflows().values():
        for job in (j for j in wf["jobs"].values() if reads_values(j)):
            for step in job.get("steps", []):
                if step.get("uses", "").startswith("aws-actions/configure-aws-credentials@"):
                    role = re.fullmatch(r"\$\{\{ vars\.(\w+) \}\}", step["with"]["role-to-assume"])
                    assert role, step["with"]
                    found.add(role[1])
    return found


def documented_roles() -> dict[str, str]:
    """Each role's name in docs/ci.md (`<stack>` standing for the stack), by the variable holding it."""
    return {
        var: name for name, var in re.findall(r"role, `([\w<>-]+)`, whose ARN is `(AWS_\w+_ROLE_ARN)`", CI)
    }


def test_each_stack_names_every_ci_role_whose_job_reads_values() -> None:
    """The watch (`preview --refresh`, preview role) and the deploy (`up`, deploy role) read values
    on purpose; a stack file without them raises alerts no one should act on. Each committed stack
    names both, in its own account and partition, as docs/ci.md names them, and the program's own
    name for them (the warning's fix) is docs/ci.md's."""
    variables = reading_role_variables()
    assert variables == {"AWS_PREVIEW_ROLE_ARN", "AWS_DEPLOY_ROLE_ARN"}
    roles = documented_roles()
    assert set(roles) >= variables
    assert {roles[v] for v in variables} == {ci_role("<stack>", job) for job in ("preview", "deploy")}
    for stack in STACKS:
        config = load_stack_config(stack)
        account, partition = str(config["aws:allowedAccountIds"][0]), aws_regions()[str(config["aws:region"])]
        named = config.get(READERS) or []
        for var in variables:
            assert role_arn(partition, account, roles[var].replace("<stack>", stack)) in named, (stack, var)
        quiet = readers.watch_warnings(
            settings_of(stack).config, config, stack, str(config["aws:region"]), 14
        )
        assert quiet == [], stack


@pytest.mark.heavy  # two renders of its own: the file as it breaks, and as the pasted fix leaves it
def test_a_stack_without_the_watchs_role_is_warned_and_the_fix_pasted_ends_it(project: Project) -> None:
    """Fourteen alerts a day teach people to ignore alerts. A production-grade stack (refused for
    much, only warned for this) without readers says so at preview, with the number of values the
    refresh reads; the fix, pasted as printed, names the preview role in the stack's account, and
    the next preview is quiet."""
    stack = PRODUCTION_GRADE[0]
    project.write(stack, {}, remove=(READERS,))
    run = project.run(stack)
    assert isinstance(run, Run), run
    (warning,) = [w for w in run.warnings if w.startswith("auditExpectedReaders")]
    assert f"all {len(run.of_type(SM_VERSION))} secret values" in warning
    assert f"watch-{stack}" in warning
    line = warning.split(f"names it {ci_role(stack, 'preview')}): ", 1)[1]
    assert line.startswith("pulumi config set --path 'auditExpectedReaders[0]' ")
    assert project.paste(line).returncode == 0
    account = str(load_stack_config(stack)["aws:allowedAccountIds"][0])
    preview = role_arn("aws", account, ci_role(stack, "preview"))
    assert project.stored(stack)[READERS] == [preview]
    again = project.run(stack)
    assert isinstance(again, Run), again
    assert not [w for w in again.warnings if w.startswith("auditExpectedReaders")]


def test_readers_of_another_account_only_are_warned_at_every_grade() -> None:
    """The CI roles live in the stack's account: a list naming only another account's roles (a
    stack file copied from another environment) silences nothing, and says so at standard grade
    too; the fix appends the preview role. A stack pinned to no account cannot be judged by
    account, so any reader there is taken as the watch's; with none at all, the fix asks for the
    account."""
    stack = STANDARD_GRADE[0]
    config = load_stack_config(stack)
    region = str(config["aws:region"])
    other = f"arn:aws:iam::{'9' * 12}:role/{ci_role(stack, 'preview')}"
    settings = settings_of(stack, auditExpectedReaders=[other])
    (warning,) = readers.watch_warnings(settings.config, config, stack, region, 14)
    account = str(config["aws:allowedAccountIds"][0])
    assert f"names no role of the stack's account ({account})" in warning
    assert warning.endswith(
        f"pulumi config set --path 'auditExpectedReaders[1]' "
        f"arn:aws:iam::{account}:role/{ci_role(stack, 'preview')} --stack {stack}"
    )
    unpinned = {k: v for k, v in config.items() if k != "aws:allowedAccountIds"}
    assert readers.watch_warnings(settings.config, unpinned, stack, region, 14) == []
    empty = settings_of(stack, auditExpectedReaders=[])
    (warning,) = readers.watch_warnings(empty.config, unpinned, stack, region, 14)
    assert f"'arn:aws:iam::<account>:role/{ci_role(stack, 'preview')}'" in warning
