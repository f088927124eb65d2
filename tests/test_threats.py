"""docs/security.md's threat table is held to the program: a row that says an AWS call is seen names
one the access audit's patterns watch, every call they watch has a row, and a row that names the
Kubernetes deploy group as able to do something names what docs/ci.md's Role grants it."""

from __future__ import annotations

import re

from ai_etl.components.auditpatterns import READ_EVENTS, TAMPER_EVENTS
from tests.paths import PROJECT_DIR
from tests.test_docs import documented_rbac

SECURITY = (PROJECT_DIR / "docs" / "security.md").read_text()
COLUMNS = ["way to read or silence", "calls", "who can", "how it is seen", "by"]
EVENT_SOURCE = {"cloudwatch": "monitoring"}
"""IAM's prefix of CloudWatch's actions against CloudTrail's event source for them
(`monitoring.amazonaws.com`, as auditpatterns.tamper_pattern matches them)."""


def threat_rows() -> list[dict[str, str]]:
    """The threat table of docs/security.md, a dict per row by column."""
    section = SECURITY.split("## Threats: ", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == COLUMNS
    return [
        dict(zip(COLUMNS, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]
    ]


def watched() -> set[str]:
    """Every call the access and tamper patterns match, as `<service>:<Call>` (CloudTrail's source)."""
    calls = {f"secretsmanager:{name}" for name in READ_EVENTS}
    return calls | {f"{service}:{name}" for service, names in TAMPER_EVENTS.items() for name in names}


def aws_calls(cell: str) -> set[str]:
    """The AWS calls a cell names (`service:Call`), with the service as CloudTrail's event source."""
    found = re.findall(r"`([a-z0-9-]+):([A-Z]\w+)`", cell)
    return {f"{EVENT_SOURCE.get(service, service)}:{name}" for service, name in found}


def test_each_row_that_is_covered_names_only_watched_calls_and_every_watched_call_has_a_row() -> None:
    """Readers trust the table to say what is seen today: a row claimed as covered whose call no
    pattern matches would promise an alert that never comes, and a watched call without a row is a
    path the table forgot. Each by-part that is a module exists."""
    rows = threat_rows()
    assert len(rows) >= 15
    covered: set[str] = set()
    for row in rows:
        calls = aws_calls(row["calls"])
        assert re.fullmatch(r"`(\w+\.py)`|docs/ci\.md", row["by"]), row["by"]
        module = re.fullmatch(r"`(\w+\.py)`", row["by"])
        if module:
            assert (PROJECT_DIR / "ai_etl" / "components" / module[1]).is_file(), row["by"]
        assert calls <= watched(), f"{row['way to read or silence']}: {sorted(calls - watched())} not watched"
        covered |= calls
        assert row["how it is seen"], row
    assert watched() <= covered, f"watched calls without a row: {sorted(watched() - covered)}"


def test_what_the_table_says_the_deploy_group_can_do_is_what_its_role_grants() -> None:
    """A row names the deploy group (`ai-etl-deploy-<stack>`) as able exactly when docs/ci.md's
    Role grants it one of the row's Kubernetes verbs on its resource: the table cannot understate
    who may read in the cluster, nor blame the group for what it cannot do."""
    rules = documented_rbac()["ai-etl-deploy"]
    kubernetes = [row for row in threat_rows() if row["calls"].startswith("Kubernetes")]
    assert len(kubernetes) >= 4
    for row in kubernetes:
        pairs = re.findall(r"`(\w+) ([\w/]+)`", row["calls"])
        assert pairs, row["calls"]
        granted = any(
            verb in rule["verbs"] and resource in rule["resources"]  # type: ignore[operator]
            for verb, resource in pairs
            for rule in rules
        )
        assert ("deploy group" in row["who can"]) is granted, row["way to read or silence"]
