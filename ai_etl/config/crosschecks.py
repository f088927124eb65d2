"""The checks that span several keys, or the config and the world (the stack's name, the region's
partition, the provided secrets' encryption, the production grade, a takeover's adopted values).
Each adds its problems, with the key and the fix, to `Problems`; `parse_settings` calls them all
before anything is declared."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import pulumi

from ai_etl.catalogue import SecretSpec
from ai_etl.config.fields import LABEL, OIDC_PROVIDER_ARN, aws_regions
from ai_etl.config.models import StackConfig
from ai_etl.config.problems import Problems
from ai_etl.config.reading import ADOPT, NOT_AN_OBJECT, RawConfig
from ai_etl.grade import PRODUCTION, RECOVERY_WINDOW_FOR

SUPPORTED_PARTITIONS = ("aws", "aws-cn", "aws-us-gov")
"""Partitions whose IAM OIDC providers (IRSA) the program's ARN check accepts."""


def stack_name(problems: Problems, stack: str) -> None:
    """The stack's name goes into the namespace, Secrets Manager paths and IAM role names."""
    if not re.fullmatch(LABEL, stack) or len(stack) > 40:
        problems.add(
            "stack name",
            f"{stack!r} must be lower-case letters, digits and '-' (at most 40): it names the "
            "namespace, Secrets Manager paths and IAM roles",
            "pulumi stack rename <name> (e.g. dev, production)",
        )


def region_and_partition(problems: Problems, raw: RawConfig) -> None:
    """A real region, in a partition the program supports, and the OIDC provider in the same one."""
    if raw.region not in aws_regions():
        close = difflib.get_close_matches(str(raw.region), list(aws_regions()), n=1)
        problem = f"{raw.region!r} is not an AWS region" + (f"; did you mean {close[0]}?" if close else "")
        problems.add(
            "aws:region",
            "is required: the AWS region of Secrets Manager" if raw.region is None else problem,
            f"pulumi config set aws:region {close[0] if close else 'us-east-1'} --stack {raw.stack}",
        )
    partition = aws_regions().get(str(raw.region))
    oidc = OIDC_PROVIDER_ARN.fullmatch(str(raw.values.get("oidcProviderArn")))
    if partition and oidc and oidc["partition"] != partition:
        problems.add(
            "oidcProviderArn",
            f"is in partition {oidc['partition']!r}, but aws:region {raw.region!r} is in {partition!r}: "
            "the cluster's OIDC provider must be in the partition the secrets are in",
            problems.set_cmd("oidcProviderArn", f"arn:{partition}:iam::<account>:oidc-provider/<issuer>"),
        )
    elif partition and partition not in SUPPORTED_PARTITIONS:
        problems.add(
            "aws:region",
            f"{raw.region!r} is in partition {partition!r}, which this program does not support "
            f"({', '.join(SUPPORTED_PARTITIONS)})",
            f"pulumi config set aws:region us-east-1 --stack {raw.stack}",
        )


def provided_secrets(problems: Problems, raw: RawConfig, provided: tuple[SecretSpec, ...]) -> None:
    """Each provided secret set, non-empty and encrypted (its value is never read here)."""
    for spec in provided:
        key = str(spec.config_key)
        state, fix = raw.provided_state.get(key, "missing"), problems.set_secret_cmd(key)
        if state == "missing":
            problems.add(key, f"is required: {spec.description}", fix)
        elif state == "empty":
            problems.add(key, "is empty", fix)
        elif state == "plaintext":
            problem = "is stored in plain text in the stack file; it must be encrypted"
            problems.add(key, problem, fix + " (and rotate the value: it has been exposed)")


def replica_region_for(region: str) -> str:
    """A sensible second region: another of the same partition, of the same geography if any."""
    partition = aws_regions().get(region, "aws")
    others = sorted(r for r, p in aws_regions().items() if p == partition and r != region)
    near = [r for r in others if r.split("-")[0] == region.split("-")[0]]
    return (near or others or ["us-west-2"])[0]


def replica_region(problems: Problems, raw: RawConfig, config: StackConfig) -> None:
    """A replica region AWS lists, in the secrets' partition, other than their own region."""
    replica, region = config.replica_region, str(raw.region)
    if replica is None or region not in aws_regions():
        return
    fix = problems.set_cmd("replicaRegion", replica_region_for(region))
    if replica not in aws_regions():
        close = difflib.get_close_matches(replica, [r for r in aws_regions() if r != region], n=1)
        if close:
            fix = problems.set_cmd("replicaRegion", close[0])
        hint = f"; did you mean {close[0]}?" if close else ""
        problems.add("replicaRegion", f"{replica!r} is not an AWS region{hint}", fix)
    elif replica == region:
        problems.add(
            "replicaRegion", f"is aws:region ({region}): a replica must survive the loss of that region", fix
        )
    elif aws_regions()[replica] != aws_regions()[region]:
        problems.add(
            "replicaRegion",
            f"{replica!r} is in partition {aws_regions()[replica]!r}, but aws:region {region!r} is in "
            f"{aws_regions()[region]!r}: Secrets Manager replicates within a partition",
            fix,
        )


def production_grade(
    problems: Problems, config: StackConfig, workloads: Mapping[str, Any], region: str
) -> None:
    """What `grade: production` requires, stated in the stack file rather than implied by a name."""
    why = "in a production-grade stack (ai-etl:grade)"
    if not config.protect:
        problems.add(
            "protect", f"must be true {why}: the KMS key and the secrets", problems.set_cmd("protect", "true")
        )
    needed = RECOVERY_WINDOW_FOR[PRODUCTION]
    if config.recovery_window_in_days != needed:
        problems.add(
            "recoveryWindowInDays",
            f"must be {needed} {why}, got {config.recovery_window_in_days}",
            problems.set_cmd("recoveryWindowInDays", needed),
        )
    if config.replica_region is None:
        problems.add(
            "replicaRegion",
            f"is required {why}: the recovery window does not survive the loss of the region, so "
            "every secret keeps a replica, encrypted, in a second one",
            problems.set_cmd("replicaRegion", replica_region_for(region)),
        )
    for name, workload in workloads.items():
        if workload is not None and "@sha256:" not in workload.image:
            problems.add(
                f"{name}.image",
                f"must be pinned by digest {why}, so what was previewed is what runs; got {workload.image!r}",
                problems.set_cmd(f"{name}.image", "<registry>/<image>:<tag>@sha256:<digest>"),
            )


def adopted(problems: Problems, raw: RawConfig, generated: list[str]) -> None:
    """`ai-etl:adopt` (docs/takeover.md): an encrypted object of generated keys only."""
    for key in raw.adopted:
        if key == NOT_AN_OBJECT:
            fix = f"pulumi config rm {ADOPT} --stack {raw.stack}, then docs/takeover.md step 1"
            problems.add(ADOPT, "must be an object: generated key -> live value", fix)
        elif key not in generated:
            problems.unknown(f"{ADOPT}.{key}", dict.fromkeys(generated))
    if raw.adopted and not raw.adopt_encrypted:
        problems.add(ADOPT, "holds live credentials in plain text; it must be encrypted",
                     f"pulumi config rm {ADOPT} --stack {raw.stack}, then set each value with --secret "
                     "(docs/takeover.md), and rotate them: they have been exposed")  # fmt: skip


def adopted_in_use(raw: RawConfig, never_rotated: set[str]) -> list[str]:
    """The adopted keys still in use: those not rotated since the takeover. The others are warned
    about, with the command that removes them."""
    kept = [k for k in raw.adopted if k in never_rotated]
    for key in sorted(set(raw.adopted) - set(kept)):
        pulumi.log.warn(f"{ADOPT}.{key} is ignored: {key} was rotated. Remove it: "
                        f"pulumi config rm --path '{ADOPT}.{key}' --stack {raw.stack}")  # fmt: skip
    return kept
