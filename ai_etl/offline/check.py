"""`python -m ai_etl.offline check <stack>`: the guardrails on an offline render, and the guide's checklist.

The same rules as the policy pack (ai_etl/guardrails/rules.py), on the resources the program declares.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ai_etl.grade import PRODUCTION
from ai_etl.guardrails.rules import RULES, Finding, Subject, evaluate, grade_of
from ai_etl.offline.records import Run, unwrap
from ai_etl.offline.stackconfig import load_stack_config


@dataclass(frozen=True)
class ChecklistItem:
    """One line of the guide's Validation Checklist."""

    text: str
    rules: tuple[str, ...] = ()
    """The rules that decide it; none when it lies outside this program."""
    outside: str = ""
    """How to check it, when it lies outside this program."""
    note: str = ""
    """What the rules rest on that a stack's resources cannot show (printed under the line)."""
    standard: str = ""
    """What the line means for a stack that is not production-grade (printed for those)."""


def _gitignore_has_env(root: Path = Path()) -> bool:
    path = root / ".gitignore"
    return path.exists() and ".env" in path.read_text().splitlines()


def _rotation_documented(root: Path = Path()) -> bool:
    path = root / "docs" / "runbooks.md"
    return path.exists() and "## Rotation runbook" in path.read_text()


CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("All secrets use cryptographically random values (32+ chars)",
                  ("generated-secrets-strong", "values-not-literal")),
    ChecklistItem("`.env` file is in `.gitignore`", ("gitignore-env",)),
    ChecklistItem("No hardcoded credentials in `config.py`", outside=(
        "config.py is the backend's code: scan its repository with a secret scanner, "
        "e.g. `gitleaks detect --source <backend repo>`")),
    ChecklistItem("Kubernetes Secrets are created with proper RBAC",
                  ("rbac-secrets", "no-plain-credentials", "secret-refs-resolve")),
    ChecklistItem("Secret rotation schedule is documented", ("rotation-documented", "rotate-regularly")),
    ChecklistItem(
        "Secrets are encrypted at rest (K8s encryption enabled)",
        ("secrets-manager-cmk", "cluster-encrypted-and-audited"),
        note="Secrets Manager under the stack's own key; etcd by EKS's default envelope encryption "
             "(Kubernetes 1.28+, checked on the cluster the program looked up)",
        standard="a standard-grade stack may run on an older cluster: the preview warns"),
    ChecklistItem(
        "Access to secrets is audited", ("access-audited", "cluster-encrypted-and-audited"),
        note="EventBridge sees GetSecretValue only while a CloudTrail trail logs in the account: "
             "`aws cloudtrail get-trail-status --name <trail> --query IsLogging` (docs/security.md)",
        standard="a standard-grade stack may run with the cluster's audit log off: the preview warns"),
    ChecklistItem("Separate secrets for each environment",
                  ("secrets-manager-name", "iam-least-privilege", "external-secrets-v1")),
    ChecklistItem("Secrets are backed up (encrypted)",
                  ("secrets-manager-recovery-window", "production-protected", "secrets-replicated"),
                  standard="a standard-grade stack keeps the recovery window only: no replica region "
                           "(set replicaRegion to have one)"),
    ChecklistItem("Team trained on secret handling", outside=(
        "people, not code: walk new members through docs/runbooks.md and the guide")),
)  # fmt: skip


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


def repository_findings(root: Path = Path()) -> list[Finding]:
    """The two checklist lines that concern this repository rather than the stack."""
    findings = []
    if not _gitignore_has_env(root):
        findings.append(Finding("gitignore-env", ".gitignore", "add `.env` to .gitignore", False))
    if not _rotation_documented(root):
        findings.append(
            Finding("rotation-documented", "docs/runbooks.md", "document the rotation runbook", False)
        )
    return findings


def grades_of(run: Run) -> set[str]:
    """The grades the stack's resources carry (its Grade tags and grade labels)."""
    return {g for s in subjects_of(run) if (g := grade_of(s))}


def grade_line(run: Run, grades: set[str], root: Path = Path()) -> str:
    """Which grade the stack is, and why: what its stack file states, as its resources carry it."""
    stated = (root / f"Pulumi.{run.stack}.yaml").exists() and "ai-etl:grade" in load_stack_config(
        run.stack, root
    )
    why = (
        f"stated by ai-etl:grade in Pulumi.{run.stack}.yaml"
        if stated
        else "ai-etl:grade not stated: the default"
    )
    return f"Grade: {', '.join(sorted(grades)) or 'none'} ({why})"


def report(run: Run, findings: list[Finding], root: Path = Path()) -> tuple[str, bool]:
    """The checklist and the findings as text; and whether a mandatory rule failed."""
    failed = {f.rule for f in findings if not f.advisory}
    grades = grades_of(run)
    lines = [f"Validation checklist for stack {run.stack}:", grade_line(run, grades, root)]
    production = PRODUCTION in grades
    for i, item in enumerate(CHECKLIST, 1):
        if item.rules and not item.outside:
            status = "FAIL" if failed & set(item.rules) else "pass"
            lines.append(f"  {i:>2}. [{status}] {item.text}")
            lines += [f"        note: {item.note}"] if item.note else []
            lines += [f"        standard grade: {item.standard}"] if item.standard and not production else []
        elif item.rules:
            status = "FAIL" if failed & set(item.rules) else "pass"
            lines.append(f"  {i:>2}. [{status}, partly outside this program] {item.text}")
            lines.append(f"        then: {item.outside}")
        else:
            lines.append(f"  {i:>2}. [outside this program] {item.text}")
            lines.append(f"        check: {item.outside}")
    lines.append("")
    lines.append(f"Rules ({len(RULES)}):")
    statuses = []
    for rule in RULES:
        mine = [f for f in findings if f.rule == rule.name]
        level = "advisory" if rule.advisory else "mandatory"
        status = ("warn" if rule.advisory else "FAIL") if mine else "pass"
        statuses.append(status)
        lines.append(f"  [{status}] {rule.name} ({level}): {rule.description}")
        for message, count in Counter(f.message for f in mine).items():
            lines.append(f"         - {message}" + (f" ({count} times)" if count > 1 else ""))
        if mine and rule.fix:
            lines.append(f"         fix: {rule.fix.format(stack=run.stack)}")
    for f in findings:
        if f.rule in ("gitignore-env", "rotation-documented"):
            lines.append(f"  [FAIL] {f.rule}: {f.message}")
            statuses.append("FAIL")
    tally = Counter(statuses)
    lines += ["", f"{tally['FAIL']} failed, {tally['warn']} warned, {tally['pass']} passed"]
    return "\n".join(lines), bool(failed)


def check(run: Run, root: Path = Path()) -> tuple[str, bool]:
    """Run every rule on `run`, plus the repository's checklist lines."""
    return report(run, evaluate(subjects_of(run)) + repository_findings(root), root)
