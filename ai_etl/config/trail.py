"""The CloudTrail trail the access alerts see reads through, looked up at deploy time.

EventBridge gets a call's CloudTrail event only while a trail with logging on exists, and a read
(`GetSecretValue`, read-only) only if that trail logs read management events (EventBridge user
guide, "Events from AWS services"); a read in a region the trail does not cover is seen by nothing.
So a production-grade stack names a trail that is multi-region, logging and logs reads, or asks the
program to declare one (`auditTrail: declare`, ai_etl/components/audittrail.py).

pulumi-aws has no data source for a trail (its `aws.cloudtrail` module holds the Trail resource,
EventDataStore, OrganizationDelegatedAdminAccount and get_service_account only:
pulumi_aws/cloudtrail/__init__.py, 7.51.1), so the lookup reads the trail through Cloud Control:
`aws.cloudcontrol.get_resource` (hashicorp/terraform-provider-aws
internal/service/cloudcontrol/resource_data_source.go) of type `AWS::CloudTrail::Trail`, whose
identifier is the trail's name and whose read handler calls GetTrail, GetTrailStatus and
GetEventSelectors (pulumi/pulumi-aws-native aws-cloudformation-schema/aws-cloudtrail-trail.json:
primaryIdentifier TrailName; properties IsLogging, IsMultiRegionTrail, EventSelectors,
AdvancedEventSelectors, Arn). `check_trail()` is the pure part.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from ai_etl.config.commands import Commands, word
from ai_etl.config.fields import TRAIL
from ai_etl.config.models import DECLARE_TRAIL
from ai_etl.config.problems import Problems
from ai_etl.config.settings import Settings
from ai_etl.grade import PRODUCTION

TRAIL_TYPE = "AWS::CloudTrail::Trail"
KEY = "auditTrail"
READ_SOURCE = "secretsmanager.amazonaws.com"
"""The event source whose read-only management events the access alerts need."""


@dataclass(frozen=True)
class Trail:
    """What the audit needs to know of a trail."""

    name: str
    arn: str
    multi_region: bool
    logging: bool
    logs_reads: bool
    """It logs read-only management events of Secrets Manager."""

    @property
    def home_region(self) -> str:
        """The region it was made in: where StopLogging, UpdateTrail and the others are called."""
        return self.arn.split(":")[3]


def wanted(value: str) -> tuple[str, str | None]:
    """A config value's trail name and, for an ARN, its home region (None: the stack's region)."""
    found = TRAIL.fullmatch(value)
    if found is None or found["name"]:
        return value, None
    return str(found["arn_name"]), str(found["region"])


def _selects_reads(fields: Sequence[Mapping[str, Any]]) -> bool:
    """An advanced event selector that keeps management events, read-only ones among them, of
    Secrets Manager (CloudTrail API reference, AdvancedFieldSelector: fields eventCategory,
    readOnly, eventSource; operators Equals, NotEquals, StartsWith...)."""

    def field(name: str) -> Mapping[str, Any]:
        return next((f for f in fields if f.get("Field") == name), {})

    category, read_only, source = field("eventCategory"), field("readOnly"), field("eventSource")
    if "Management" not in (category.get("Equals") or ()):
        return False
    if read_only.get("Equals") == ["false"] or "true" in (read_only.get("NotEquals") or ()):
        return False
    if source.get("Equals") and READ_SOURCE not in source["Equals"]:
        return False
    return READ_SOURCE not in (source.get("NotEquals") or ())


def logs_reads(properties: Mapping[str, Any]) -> bool:
    """Whether the trail logs Secrets Manager's read-only management events. A trail made without
    selectors logs every management event (the schema's EventSelectors: "By default, trails created
    without specific event selectors will be configured to log all read and write management
    events"); a basic selector keeps them with IncludeManagementEvents and ReadWriteType All or
    ReadOnly; an advanced one as `_selects_reads` says."""
    advanced = properties.get("AdvancedEventSelectors") or []
    if advanced:
        return any(_selects_reads(s.get("FieldSelectors") or []) for s in advanced)
    basic = properties.get("EventSelectors")
    if not basic:
        return True
    return any(
        s.get("IncludeManagementEvents", True) and s.get("ReadWriteType", "All") in ("All", "ReadOnly")
        for s in basic
    )


def trail_from(properties: str | Mapping[str, Any]) -> Trail:
    """A Trail from Cloud Control's `properties` (JSON text, as get_resource returns it)."""
    found = json.loads(properties) if isinstance(properties, str) else properties
    if not isinstance(found, Mapping):  # `null`, a list: a trail of no properties, refused as such
        found = {}
    return Trail(
        name=str(found.get("TrailName", "")),
        arn=str(found.get("Arn", "")),
        multi_region=bool(found.get("IsMultiRegionTrail")),
        logging=bool(found.get("IsLogging")),
        logs_reads=logs_reads(found),
    )


def check_trail(settings: Settings, trail: Trail) -> list[str]:
    """The trail's problems, each with why it matters: the access alerts would miss reads."""
    config, found = settings.config, []
    audited = [settings.region, *([config.replica_region] if config.replica_region else [])]
    if not trail.logging:
        found.append("has logging off: EventBridge gets no CloudTrail event, so no read alerts")
    if not trail.multi_region:
        found.append("is not multi-region: a read in another region (a replica's) is recorded nowhere")
    if not trail.logs_reads:
        found.append(
            "does not log read management events of Secrets Manager: GetSecretValue is a read, so "
            "no read would alert"
        )
    if trail.arn and trail.home_region not in audited:
        found.append(
            f"has its home region in {trail.home_region}, where no rule of this stack sees a change to "
            f"it (StopLogging is called there): name a trail made in {' or '.join(audited)}"
        )
    return found


def refuse_or_warn(settings: Settings, problem: str, fix: str | None) -> None:
    """A trail problem: an error at production grade (nothing declared), a warning below it."""
    if settings.config.grade == PRODUCTION:
        problems = Problems(settings.stack)
        problems.add(KEY, problem + " (required of a production-grade stack)", fix)
        problems.raise_if_any(f"audit trail refused for stack '{settings.stack}' (nothing was declared):")
    pulumi.log.warn(f"{KEY}: {problem}; fix: {fix}")


def lookup_trail(settings: Settings) -> Trail | None:
    """Look the stack's trail up and check it, unless the program declares it (or none is named:
    the config checks refuse that at production grade, and warn below it); ConfigError at
    production grade for a trail that is missing or would miss reads, a warning below it."""
    value, stack = settings.config.audit_trail, settings.stack
    if value is None or value == DECLARE_TRAIL:
        return None
    name, region = wanted(value)
    declare = Commands(stack).set((KEY,), DECLARE_TRAIL)
    try:
        result = aws.cloudcontrol.get_resource(type_name=TRAIL_TYPE, identifier=name, region=region)
    except Exception as error:  # the provider's own words follow ours
        where = region or settings.region
        refuse_or_warn(
            settings,
            f"no CloudTrail trail {name!r} in {where} for these credentials ({error}): name one that "
            f"`aws cloudtrail describe-trails --region {word(where)}` lists (a trail made in another "
            "region by its ARN), or let the program declare one",
            declare,
        )
        return None
    trail = trail_from(result.properties)
    found = check_trail(settings, trail)
    if found:
        refuse_or_warn(settings, f"trail {trail.arn or name!r} " + "; it ".join(found), declare)
    return trail
