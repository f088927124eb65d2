"""The role EventBridge assumes to forward the tamper alerts to an event bus in a security account
(`auditBus`): one per stack, for every region's watchers. The bus's own policy, in that account, must
let this account put events on it (EventBridge user guide, "Sending and receiving events between
AWS accounts"); this program cannot set it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from ai_etl.components.auditpatterns import forwarding_policy, forwarding_trust
from ai_etl.tokens import AUDIT_BUS_COMPONENT


@dataclass(frozen=True)
class AuditBusArgs:
    role_name: str
    bus_arn: str
    tags: Mapping[str, str]


class AuditBus(pulumi.ComponentResource):
    """An IAM role that may put events on the audit bus, and nothing else."""

    role_arn: pulumi.Output[str]
    """The role the watchers' bus targets name."""

    def __init__(self, name: str, args: AuditBusArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(AUDIT_BUS_COMPONENT, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        role = aws.iam.Role(
            f"{name}-role",
            name=args.role_name,
            description="EventBridge forwards the secret-access tamper alerts to the audit bus",
            assume_role_policy=json.dumps(forwarding_trust()),
            tags=dict(args.tags),
            opts=child,
        )
        aws.iam.RolePolicy(
            f"{name}-policy", role=role.id, policy=json.dumps(forwarding_policy(args.bus_arn)), opts=child
        )
        self.role_arn = role.arn
        self.register_outputs({"role_arn": self.role_arn})
