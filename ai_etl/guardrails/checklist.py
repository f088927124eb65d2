"""The guide's Validation Checklist, line by line, decided by the rules (rules.py) on a stack's
resources and by two checks of this repository; and the report `make check` prints.

It sees resources as a policy does (`Subject`), whoever ran the program: `python -m ai_etl.ops.check`
runs it offline and hands them here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ai_etl.config.commands import Commands
from ai_etl.grade import GRADE_KEY, PRODUCTION
from ai_etl.guardrails.rules import RULES, Finding, Subject, evaluate, grade_of


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


@dataclass(frozen=True)
class RepositoryCheck:
    """A checklist line that concerns this repository rather than a stack's resources."""

    name: str
    path: str
    """The file it reads, relative to the repository's root."""
    fix: str
    holds: Callable[[Path], bool]


def _gitignore_has_env(root: Path) -> bool:
    path = root / ".gitignore"
    return path.exists() and ".env" in path.read_text().splitlines()


def _rotation_documented(root: Path) -> bool:
    path = root / "docs" / "runbooks.md"
    return path.exists() and "## Rotation runbook" in path.read_text()


LOOKUP_RULES = frozenset({"cluster-encrypted-and-audited"})
"""Rules decided on what the program looked up (the EKS cluster's version and logs, which the namespace
records): run offline, they see the offline engine's stand-in answers, an invented healthy cluster,
unless `--answers` gives the real ones."""


REPOSITORY_CHECKS = (
    RepositoryCheck("gitignore-env", ".gitignore", "add `.env` to .gitignore", _gitignore_has_env),
    RepositoryCheck(
        "rotation-documented", "docs/runbooks.md", "document the rotation runbook", _rotation_documented
    ),
)

CHECKLIST: tuple[ChecklistItem, ...] = (
    ChecklistItem("All secrets use cryptographically random values (32+ chars)",
                  ("generated-secrets-strong", "values-not-literal")),
    ChecklistItem("`.env` file is in `.gitignore`", ("gitignore-env",)),
    ChecklistItem("No hardcoded credentials in `config.py`", outside=(
        "config.py is the backend's code: scan its repository with a secret scanner, "
        "e.g. `gitleaks detect --source <backend repo>`")),
    ChecklistItem("Kubernetes Secrets are created with proper RBAC",
                  ("rbac-secrets", "no-plain-credentials", "secret-refs-resolve")),
    ChecklistItem(
        "Secret rotation schedule is documented",
        ("rotation-documented", "rotate-regularly", "server-rotation-automated"),
    ),
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


def repository_findings(root: Path) -> list[Finding]:
    """The checklist lines that concern the repository at `root` rather than the stack."""
    return [Finding(c.name, c.path, c.fix, False) for c in REPOSITORY_CHECKS if not c.holds(root)]


def grades_of(subjects: list[Subject]) -> set[str]:
    """The grades the stack's resources carry (their Grade tags and grade labels)."""
    return {g for s in subjects if (g := grade_of(s))}


def grade_line(stack: str, grades: set[str], stated: bool) -> str:
    """Which grade the stack is, and why: whether its stack file states it, as its resources carry it."""
    why = (
        f"stated by {GRADE_KEY} in Pulumi.{stack}.yaml" if stated else f"{GRADE_KEY} not stated: the default"
    )
    return f"Grade: {', '.join(sorted(grades)) or 'none'} ({why})"


def lookups_line(answers: str | None) -> str:
    """Where the lookups' answers came from: a file of real answers, or the offline stand-ins."""
    if answers is None:
        return (
            "Lookups: the offline stand-in answers (an invented healthy cluster); lines resting on "
            "them are not decided here: give the real answers with --answers FILE"
        )
    return f"Lookups: answered from {answers}"


def item_status(item: ChecklistItem, failed: set[str], answers: str | None, looked_up: bool) -> str:
    """A line's status: FAIL if a rule of it fails; else, if it rests on a lookup answered by the
    offline stand-ins, not decided; else pass (saying from which answers, when it rests on them)."""
    if failed & set(item.rules):
        return "FAIL"
    rests = bool(LOOKUP_RULES & set(item.rules))
    if rests and not looked_up:
        return "not decided offline: rests on the cluster lookup"
    if rests and answers is not None:
        return f"pass, from the lookup answers in {answers}"
    return "pass"


def report(
    stack: str,
    subjects: list[Subject],
    findings: list[Finding],
    stated: bool,
    answers: str | None = None,
    looked_up: bool = True,
) -> tuple[str, bool]:
    """The checklist and the findings as text; and whether a mandatory rule failed. `stated`: whether
    the stack file states the grade; `looked_up`: whether the lookups were answered for real (by the
    engine, or from the file `answers`) rather than by the offline stand-ins."""
    failed = {f.rule for f in findings if not f.advisory}
    grades = grades_of(subjects)
    lines = [f"Validation checklist for stack {stack}:", grade_line(stack, grades, stated)]
    lines += [lookups_line(answers)] if not looked_up or answers is not None else []
    production = PRODUCTION in grades
    for i, item in enumerate(CHECKLIST, 1):
        if item.rules and not item.outside:
            status = item_status(item, failed, answers, looked_up)
            lines.append(f"  {i:>2}. [{status}] {item.text}")
            lines += [f"        note: {item.note}"] if item.note else []
            lines += [f"        standard grade: {item.standard}"] if item.standard and not production else []
        elif item.rules:
            status = item_status(item, failed, answers, looked_up)
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
        if not mine and not looked_up and rule.name in LOOKUP_RULES:
            status = "not decided offline"
        statuses.append(status)
        lines.append(f"  [{status}] {rule.name} ({level}): {rule.description}")
        for message, count in Counter(f.message for f in mine).items():
            lines.append(f"         - {message}" + (f" ({count} times)" if count > 1 else ""))
        if mine and rule.fix:
            commands, by_urn = Commands(stack), {s.urn: s for s in subjects}
            fixes = dict.fromkeys(rule.fix(commands, by_urn.get(f.urn)) for f in mine)
            lines += [f"         fix: {fix}" for fix in fixes]
    repository = {c.name for c in REPOSITORY_CHECKS}
    for f in findings:
        if f.rule in repository:
            lines.append(f"  [FAIL] {f.rule}: {f.message}")
            statuses.append("FAIL")
    tally = Counter(statuses)
    undecided = (
        f", {tally['not decided offline']} not decided offline" if tally["not decided offline"] else ""
    )
    lines += ["", f"{tally['FAIL']} failed, {tally['warn']} warned, {tally['pass']} passed{undecided}"]
    return "\n".join(lines), bool(failed)


def check(
    stack: str,
    subjects: list[Subject],
    root: Path,
    stated: bool,
    answers: str | None = None,
    looked_up: bool = True,
) -> tuple[str, bool]:
    """Every rule on the stack's resources, plus the checklist lines of the repository at `root`."""
    findings = evaluate(subjects) + repository_findings(root)
    return report(stack, subjects, findings, stated, answers, looked_up)
