"""What an environment costs a month, counted from what a render declares: each resource type the
program declares is priced by one line here (or named as billed by no one), so the cost tables of
docs/security.md and the README (`make docs`) follow the program, grade by grade, and a resource
type added without a line stops `make docs` and the tests.

Prices: AWS list prices, us-east-1. Secrets Manager $0.40 per secret and per replica a month, $0.05
per 10,000 API calls (aws.amazon.com/secrets-manager/pricing). KMS $1 per customer-managed key a
month, plus $1 for each of its first two rotations (aws.amazon.com/kms/pricing; AWS Security Blog,
"The curious case of faster AWS KMS symmetric key rotation"), so a yearly-rotated key costs $1, $2,
then $3; $0.03 per 10,000 requests. CloudWatch $0.10 per standard alarm (aws.amazon.com/cloudwatch/
pricing). EventBridge: AWS service events on the default bus are free (aws.amazon.com/eventbridge/
pricing). SNS and SQS within their free tiers at this volume (aws.amazon.com/sns/pricing,
aws.amazon.com/sqs/pricing). IAM and a cluster's own objects: no charge of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from ai_etl.offline.records import Run
from ai_etl.tokens import (
    EVENT_RULE,
    EVENT_TARGET,
    IAM_POLICY,
    IAM_ROLE,
    IAM_ROLE_POLICY,
    KMS_ALIAS,
    KMS_KEY,
    LOG_METRIC_FILTER,
    METRIC_ALARM,
    SM_SECRET,
    SM_SECRET_POLICY,
    SM_VERSION,
    SNS_SUBSCRIPTION,
    SNS_TOPIC,
    SNS_TOPIC_POLICY,
    SQS_QUEUE,
    SQS_QUEUE_POLICY,
    TRAIL,
)

YEARS = ("year 1", "year 2", "year 3 on")
KUBERNETES = "kubernetes:"
NOT_BILLED = ("pulumi:", "ai-etl:", "random:")
"""Type prefixes no one bills: the engine's stack and providers, this program's components, and the
passwords the `random` provider makes in the engine."""


def flat(price: str) -> tuple[Decimal, Decimal, Decimal]:
    """A monthly price that stays the same every year."""
    return (Decimal(price),) * 3


def secret_replicas(run: Run) -> int:
    """The replicas the secrets declare (each secret's `replicas`, one per replica region)."""
    return sum(len(r.inputs.get("replicas") or []) for r in run.of_type(SM_SECRET))


@dataclass(frozen=True)
class Line:
    """One row of the cost table: what it prices, its price, and how many a render declares."""

    item: str
    price: str
    """The price as the table states it."""
    monthly: tuple[Decimal, Decimal, Decimal]
    """Per unit, a month, in year 1, year 2 and from year 3 on."""
    counted: tuple[str, ...]
    """The resource types counted (or, ending in `:`, a prefix of them)."""
    covers: tuple[str, ...] = ()
    """Types it accounts for without counting them (a key's alias, a secret's value)."""
    count_of: Callable[[Run], int] | None = None
    """How many a render declares, when that is not the number of `counted` resources."""

    def holds(self, type_token: str) -> bool:
        """Whether the line prices resources of `type_token`."""
        return any(matches(type_token, t) for t in (*self.counted, *self.covers))

    def count(self, run: Run) -> int:
        """How many units of the line `run` declares."""
        if self.count_of is not None:
            return self.count_of(run)
        return sum(1 for r in run.resources if any(matches(r.type, t) for t in self.counted))


def matches(type_token: str, pattern: str) -> bool:
    """A type is the pattern, or starts with it when the pattern is a prefix (ending in `:`, or in `/`
    for a whole module: `aws:s3/`)."""
    return type_token == pattern or (pattern.endswith((":", "/")) and type_token.startswith(pattern))


LINES = (
    Line("Secrets Manager secrets (the catalogue's, the administrators' passwords, the verifier sets)",
         "$0.40 per secret", flat("0.40"), (SM_SECRET,), (SM_VERSION, SM_SECRET_POLICY)),
    Line("replica secrets (`replicaRegion`)", "$0.40 per replica", flat("0.40"), (), (),
         secret_replicas),
    Line("KMS keys: the secrets', the replicas', the two alert paths' per region",
         "$1, $2, $3 a key (above)", (Decimal(1), Decimal(2), Decimal(3)), (KMS_KEY,), (KMS_ALIAS,)),
    Line("CloudWatch alarms: per region, failed invocations (one per rule), kept alerts and failed "
         "deliveries (two per path); the cluster audit's", "$0.10 per alarm (10 free per account)",
         flat("0.10"), (METRIC_ALARM,)),
    Line("CloudWatch Logs metric filter on the cluster's audit log, and its metric", "free; the metric "
         "is billed by the hour only in hours with a matching read", flat("0"), (LOG_METRIC_FILTER,)),
    Line("EventBridge rules on CloudTrail events, and their targets", "AWS service events on the "
         "default bus: no charge", flat("0"), (EVENT_RULE,), (EVENT_TARGET,)),
    Line("SNS topics and subscriptions, alert publishes and mails", "within the free tiers (1 million "
         "publishes, 1,000 mails)", flat("0"), (SNS_TOPIC,), (SNS_TOPIC_POLICY, SNS_SUBSCRIPTION)),
    Line("SQS dead-letter queues (SSE-SQS), empty when all is well", "within the free tier (1 million "
         "requests)", flat("0"), (SQS_QUEUE,), (SQS_QUEUE_POLICY,)),
    Line("CloudTrail trail the stack declares (`auditTrail: declare`), and its S3 bucket of log files",
         "the first copy of management events is free; S3 storage a few cents at this volume", flat("0"),
         (TRAIL,), ("aws:s3/",)),
    Line("ElastiCache users and user group of the backend (`redis.kind: elasticache`; the cache itself is "
         "yours)", "no charge of their own", flat("0"), ("aws:elasticache/",)),
    Line("IAM roles and policies", "free", flat("0"), (IAM_ROLE, IAM_ROLE_POLICY, IAM_POLICY)),
    Line("Kubernetes objects, on the cluster you run", "free", flat("0"), (KUBERNETES,)),
)  # fmt: skip
"""Every resource type a render declares is counted or covered by one of these."""


@dataclass(frozen=True)
class Usage:
    """A row priced by use, not by what is declared: an estimate, the same for every grade."""

    item: str
    amount: str
    price: str
    monthly: Decimal


USAGE = (
    Usage("Secrets Manager API calls (the operator's hourly refreshes, deploys)", "about 6,000",
          "$0.05 per 10,000", Decimal("0.03")),
    Usage("KMS requests (decrypts via Secrets Manager, the alert topics)", "about 6,000",
          "$0.03 per 10,000", Decimal("0.02")),
    Usage("CloudTrail: the account's existing trail, which the program does not declare", "one trail",
          "the first copy of management events is free", Decimal(0)),
)  # fmt: skip


class UnpricedError(ValueError):
    """A render declares a resource type no line of the cost table prices."""


def unpriced(run: Run) -> list[str]:
    """The resource types `run` declares that no line prices and no one bills otherwise."""
    types = {r.type for r in run.resources}
    return sorted(
        t for t in types if not t.startswith(NOT_BILLED) and not any(line.holds(t) for line in LINES)
    )


def counts(run: Run) -> dict[str, int]:
    """How many of each line's units `run` declares, by the line's item."""
    missing = unpriced(run)
    if missing:
        raise UnpricedError(
            f"stack {run.stack} declares {', '.join(missing)}, which no line of the cost table prices: "
            "add a Line to LINES in ai_etl/ops/cost.py (its price, from AWS's pricing page), then make docs"
        )
    return {line.item: line.count(run) for line in LINES}


def money(amount: Decimal) -> str:
    return "$0" if amount == 0 else f"${amount:,.2f}"


def both(standard: str, production: str) -> str:
    """One cell for both grades: the value once when they agree."""
    return standard if standard == production else f"{standard} / {production}"


def amount(line: Line, found: Mapping[str, int], year: int) -> Decimal:
    """What a line's units (`found`, by item) cost a month in `year` (0: year 1)."""
    return line.monthly[year] * found[line.item]


def totals(run: Run) -> tuple[Decimal, Decimal, Decimal]:
    """The month's total in year 1, year 2 and from year 3 on."""
    found = counts(run)
    usage = sum((u.monthly for u in USAGE), Decimal(0))

    def year(y: int) -> Decimal:
        return sum((amount(line, found, y) for line in LINES), Decimal(0)) + usage

    return year(0), year(1), year(2)


def table(standard: Run, production: Run) -> str:
    """docs/security.md's cost table: every line, counted in each grade's render, priced per year."""
    low, high = counts(standard), counts(production)
    rows = [
        "| item | count (standard / production) | price | " + " | ".join(YEARS) + " |",
        "|---|---|---|---|---|---|",
    ]
    for line in LINES:
        cells = [both(money(amount(line, low, y)), money(amount(line, high, y))) for y in range(3)]
        rows.append(
            f"| {line.item} | {both(str(low[line.item]), str(high[line.item]))} | {line.price} | "
            + " | ".join(cells)
            + " |"
        )
    for use in USAGE:
        rows.append(
            f"| {use.item} | {use.amount} | {use.price} | " + " | ".join([money(use.monthly)] * 3) + " |"
        )
    for grade, run in (("standard", standard), ("production", production)):
        rows.append(
            f"| **total, {grade} grade** | | | "
            + " | ".join(f"**about {money(t)}**" for t in totals(run))
            + " |"
        )
    return "\n".join(rows) + "\n"


def summary(standard: Run, production: Run) -> str:
    """The README's cost table: each line that costs something in either grade, and the totals."""
    low, high = counts(standard), counts(production)

    def cell(line: Line, found: Mapping[str, int]) -> str:
        if not found[line.item]:
            return "none"
        amounts = [money(amount(line, found, y)) for y in range(3)]
        return amounts[0] if len(set(amounts)) == 1 else f"{', '.join(amounts[:-1])}, then {amounts[-1]}"

    rows = ["| what | standard grade | production grade |", "|---|---|---|"]
    for line in LINES:
        if any(line.monthly) and (low[line.item] or high[line.item]):
            what = f"{line.item}: {both(str(low[line.item]), str(high[line.item]))} at {line.price}"
            rows.append(f"| {what} | {cell(line, low)} | {cell(line, high)} |")
    usage = money(sum((u.monthly for u in USAGE), Decimal(0)))
    rows.append(f"| API calls and KMS requests (estimates) | {usage} | {usage} |")
    yearly = [", ".join(money(t) for t in totals(run)) for run in (standard, production)]
    rows.append(
        f"| **total: year one, year two, from year three** | **about {yearly[0]}** | **about {yearly[1]}** |"
    )
    return "\n".join(rows) + "\n"
